#!/usr/bin/env bash
# nft backend benchmark: 'ifwall load' of a rule set with a 100,000-prefix
# table against 'nft -f' of the 'ifwall compile' output of the same file,
# same kernel, same run, in a scratch network namespace. Target: ifwall at
# most 0.5x nft's time. Also the time to apply a one-line change (the
# unchanged 100,000-prefix set is kept in the kernel), as a ratio to the
# full load. Median of RUNS runs each.
set -u
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
IFWALL=${IFWALL:-$TOP/build/ifwall}
PY=/usr/bin/python3
RUNS=${RUNS:-5}
PREFIXES=${PREFIXES:-100000}
if [ "$(id -u)" -ne 0 ]; then echo "SKIP bench-nft: needs root (netns, nftables)"; exit 0; fi
command -v nft >/dev/null || { echo "SKIP bench-nft: nft not installed"; exit 0; }
NS=ifwnft-bench-$$
WORK=$(mktemp -d /tmp/ifwnft-bench.XXXXXX)
trap 'ip netns del $NS 2>/dev/null; rm -rf "$WORK"' EXIT
ip netns add $NS || exit 1
cd "$WORK" || exit 1

# 100,000 prefixes that do not merge: 90% IPv4 /24 and /32, 10% IPv6 /48.
$PY - "$PREFIXES" >big.txt <<'PY'
import random, sys
n = int(sys.argv[1]); rnd = random.Random(7); seen = set()
while len(seen) < n:
    if rnd.random() < 0.9:
        a = rnd.randrange(1, 223) << 24 | rnd.randrange(1 << 24)
        if rnd.random() < 0.5:
            p = "%d.%d.%d.0/24" % (a >> 24, a >> 16 & 255, a >> 8 & 255)
        else:
            p = "%d.%d.%d.%d" % (a >> 24, a >> 16 & 255, a >> 8 & 255, a & 255)
    else:
        p = "2001:%x:%x::/48" % (rnd.randrange(1 << 16), rnd.randrange(1 << 16))
    seen.add(p)
print("\n".join(sorted(seen)))
PY
cat >bench.rules <<'RULES'
table <big> file "big.txt"
block out log to <big>
block in from <big>
killswitch {
    tunnel wg0
    endpoint 198.51.100.7 port 51820 proto udp mark 0xca6c
    dns 10.64.0.1
    allow lan
    allow dhcp
}
pass in on wg0 proto tcp to port 22
RULES
sed 's/to port 22/to port 2222/' bench.rules >changed.rules
"$IFWALL" compile bench.rules >bench.nft || { echo "FAIL bench-nft: compile failed"; exit 0; }
"$IFWALL" compile changed.rules >changed.nft

# The timing loop runs inside the namespace, so 'ip netns exec' costs
# neither side anything. Prints: ifwall nft change nft_change (ns) per run.
ip netns exec $NS bash -s "$IFWALL" "$RUNS" >times.txt <<'LOOP'
IFWALL=$1 RUNS=$2
now() { date +%s%N; }
for i in $(seq "$RUNS"); do
	nft flush ruleset
	s=$(now); "$IFWALL" load bench.rules 2>/dev/null || exit 1; a=$(( $(now) - s ))
	# one line changed, the table already loaded
	s=$(now); "$IFWALL" load changed.rules 2>/dev/null || exit 1; c=$(( $(now) - s ))
	nft flush ruleset
	s=$(now); nft -f bench.nft || exit 1; b=$(( $(now) - s ))
	s=$(now); nft -f changed.nft || exit 1; d=$(( $(now) - s ))
	echo "$a $b $c $d"
done
nft flush ruleset
LOOP
[ $? -eq 0 ] || { echo "FAIL bench-nft: a load failed"; exit 0; }
# median of a column (nanoseconds)
median() { awk -v c="$1" '{print $c}' times.txt | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ms() { awk -v n="$1" 'BEGIN {printf "%.1f", n / 1e6}'; }
load=$(median 1) nftt=$(median 2) change=$(median 3) nftchange=$(median 4)
ratio=$(awk -v a="$load" -v b="$nftt" 'BEGIN {printf "%.3f", a / b}')
cratio=$(awk -v a="$change" -v b="$load" 'BEGIN {printf "%.3f", a / b}')
echo "# $PREFIXES-prefix table, median of $RUNS runs, kernel $(uname -r)"
echo "# ifwall load (fresh)          $(ms "$load") ms"
echo "# nft -f (compile output)      $(ms "$nftt") ms"
echo "# ifwall load, one line changed $(ms "$change") ms  ($cratio x the full load)"
echo "# nft -f, one line changed     $(ms "$nftchange") ms"
echo "# ratio ifwall / nft           $ratio (target <= 0.5)"
if awk -v r="$ratio" 'BEGIN {exit !(r <= 0.5)}'; then
	echo "PASS bench-nft-load: ifwall load is ${ratio}x nft -f's time ($(ms "$load") ms vs $(ms "$nftt") ms)"
else
	echo "FAIL bench-nft-load: ifwall load is ${ratio}x nft -f's time ($(ms "$load") ms vs $(ms "$nftt") ms), target <= 0.5"
fi
echo "PASS bench-nft-change: a one-line change applies in $(ms "$change") ms, ${cratio}x the full load"
