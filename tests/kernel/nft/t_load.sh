#!/usr/bin/env bash
# ifwall load / flush / compile / show against the kernel, in a namespace:
# refused files change nothing, the table is complete or absent, it outlives
# the process, flush touches nothing else, compile output is what load does.
. "$(dirname "$0")/lib.sh"
need_root nft-load

NS=$RUN-host
add_ns "$NS" || { fail nft-load-setup "cannot create a namespace"; exit 0; }
EX=$TOP/rules/examples
cd "$WORK" || exit 1   # rule files by relative name: comments say r.rules:N
R=r.rules
cat >"$R" <<'RULES'
table <blocked> { 192.0.2.0/24 2001:db8:bad::/48 203.0.113.66 }
set skip on lo
block out log to <blocked>
pass out on { eth0 wg* } proto { tcp udp } to any port { 53 80 443 8000:8100 }
pass in on eth0 proto tcp to port 22
reject in on !eth0 inet proto icmp icmp-type echo-request
pass out inet6 proto icmp6 all
RULES

# --- load, and loading again is byte-identical -------------------------------
if out=$(nsx "$NS" "$IFWALL" load "$R" 2>&1); then
	listing "$NS" >"$WORK/first"
	if grep -q 'chain input' "$WORK/first" && grep -q 'comment "r.rules:5"' "$WORK/first" \
	   && grep -q 'set blocked_v4' "$WORK/first"; then
		pass nft-load "table inet ifwall with chains, sets and FILE:LINE comments"
	else
		fail nft-load "unexpected table: $(head -c 300 "$WORK/first")"
	fi
else
	fail nft-load "exit $?: $out"
fi
nsx "$NS" "$IFWALL" load "$R" 2>/dev/null
listing "$NS" | normalize >"$WORK/second"
normalize <"$WORK/first" | cmp -s - "$WORK/second" && pass nft-reload-same "a second load gives the same table" \
	|| fail nft-reload-same "$(diff <(normalize <"$WORK/first") "$WORK/second" | head -5)"

grep -q 'flags owner' "$WORK/first" && fail nft-no-owner "table has the owner flag" \
	|| pass nft-no-owner "the table has no owner flag: it outlives the process"
# the process has exited; the table is still there
[ -n "$(listing "$NS")" ] && pass nft-survives-exit "table present after ifwall exited" \
	|| fail nft-survives-exit "table gone after ifwall exited"

# --- a bad file: exit 2, nothing changed --------------------------------------
listing "$NS" >"$WORK/before"
printf 'pass out on wg0 all\nblock bogus 1.2.3.4\n' >"$WORK/bad.rules"
nsx "$NS" "$IFWALL" load "$WORK/bad.rules" >"$WORK/bad.out" 2>&1; rc=$?
listing "$NS" >"$WORK/after"
if [ $rc -eq 2 ] && grep -q 'bad.rules:2:' "$WORK/bad.out" && cmp -s "$WORK/before" "$WORK/after"; then
	pass nft-bad-file "exit 2 with FILE:LINE diagnostics, table byte-identical"
else
	fail nft-bad-file "exit $rc, identical=$(cmp -s "$WORK/before" "$WORK/after" && echo yes || echo no): $(head -c 200 "$WORK/bad.out")"
fi

# --- (IFSPEC) anywhere: a set of the interfaces' addresses ---------------------
ip -n "$NS" tuntap add dev wg0 mode tun && ip -n "$NS" addr add 10.64.0.2/32 dev wg0 &&
	ip -n "$NS" link set wg0 up
printf 'pass in to (wg0)\n' >"$WORK/ifspec.rules"
nsx "$NS" "$IFWALL" load "$WORK/ifspec.rules" >"$WORK/ifspec.out" 2>&1; rc=$?
if [ $rc -eq 0 ] && listing "$NS" | normalize | grep -q 'ip daddr @ifaddr_0_v4 counter goto pass_in' &&
   listing "$NS" | tr -d '\n\t' | grep -q 'set ifaddr_0_v4 {[^}]*elements = { 10.64.0.2 }'; then
	pass nft-ifspec-set "'pass in to (wg0)' loads as a set holding wg0's address"
else
	fail nft-ifspec-set "exit $rc: $(head -c 200 "$WORK/ifspec.out") $(listing "$NS" | grep -A4 'set ifaddr' | tr '\n' ' ')"
fi
ip -n "$NS" link del wg0
nsx "$NS" "$IFWALL" load "$R" 2>/dev/null
listing "$NS" >"$WORK/before"

# --- a kernel refusal: exit 3, the rule's FILE:LINE, nothing changed --------
# The kernel itself refuses the batch: a preloaded shim (tests/kernel/nft/
# refuse_shim.c) adds a jump to a missing chain to the rule of k.rules:8.
cp "$R" k.rules
echo 'pass in on wg0 proto udp to port 51820' >>k.rules
shim=$WORK/refuse_shim.so
rc=-1
if ${CC:-cc} -shared -fPIC -Wall -Wextra -Werror -o "$shim" "$TOP/tests/kernel/nft/refuse_shim.c" -ldl 2>"$WORK/k.out"; then
	# A sanitizer build wants its runtime first; the shim comes before it.
	IFWALL_REFUSE_ORIGIN=k.rules:8 LD_PRELOAD=$shim \
		ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 \
		nsx "$NS" "$IFWALL" load k.rules >"$WORK/k.out" 2>&1; rc=$?
fi
listing "$NS" >"$WORK/after"
if [ $rc -eq 3 ] && grep -q 'k.rules:8: the kernel refused' "$WORK/k.out" \
   && grep -q 'pass in on wg0 proto udp' "$WORK/k.out" && cmp -s "$WORK/before" "$WORK/after"; then
	pass nft-kernel-refusal "exit 3, reported at k.rules:8, table byte-identical"
else
	fail nft-kernel-refusal "exit $rc: $(head -c 300 "$WORK/k.out")"
fi

# --- killed while loading: the old table or the new one, never a mix --------
# A big file makes the load last long enough to be killed at some point.
$PY - "$WORK/big.txt" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(60000):      # every other /24: nothing merges
        j = 2 * i
        f.write("%d.%d.%d.0/24\n" % (11 + j // 65536, (j // 256) % 256, j % 256))
PY
printf 'table <big> file "big.txt"\nblock out to <big>\npass out all\n' >"$WORK/big.rules"
good=0 bad=
for delay in 0.01 0.05 0.1 0.2 0.4; do
	nsx "$NS" "$IFWALL" load "$R" 2>/dev/null
	listing "$NS" | normalize >"$WORK/old"
	nsx "$NS" "$IFWALL" load "$WORK/big.rules" 2>/dev/null & pid=$!
	sleep $delay; kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
	listing "$NS" | normalize >"$WORK/now"
	if cmp -s "$WORK/old" "$WORK/now"; then good=$((good + 1))
	elif grep -q 'big.rules:2' "$WORK/now" && grep -q 'big.rules:3' "$WORK/now" \
	     && grep -q '12.212.190.0/24' "$WORK/now"; then good=$((good + 1))
	else bad+=" $delay"; fi
done
[ -z "$bad" ] && pass nft-killed-load "5 loads killed at 10-400 ms: each left the old or the complete new table" \
	|| fail nft-killed-load "partial table after a kill at:$bad"
[ -n "$(listing "$NS")" ] && pass nft-survives-kill "table present after ifwall was killed" \
	|| fail nft-survives-kill "no table after kill"

# --- two loads at once: one wins whole, they never mix ----------------------
printf 'pass out on eth0 all\nblock in all\n' >A.rules
printf 'pass out on wg0 all\npass in on wg0 all\nblock out all\n' >B.rules
mixed=0 failed=0
for i in $(seq 20); do
	nsx "$NS" "$IFWALL" flush
	nsx "$NS" "$IFWALL" load A.rules 2>/dev/null & p1=$!
	nsx "$NS" "$IFWALL" load B.rules 2>/dev/null & p2=$!
	wait $p1 || failed=$((failed + 1)); wait $p2 || failed=$((failed + 1))
	out=$(listing "$NS")
	a=$(grep -c 'comment "A.rules' <<<"$out"); b=$(grep -c 'comment "B.rules' <<<"$out")
	{ [ "$a" -gt 0 ] && [ "$b" -gt 0 ]; } || { [ "$a" -eq 0 ] && [ "$b" -eq 0 ]; } && mixed=$((mixed + 1))
done
if [ $mixed -eq 0 ] && [ $failed -eq 0 ]; then
	pass nft-concurrent-loads "20 pairs of simultaneous loads: each left exactly one rule set, both exited 0"
else
	fail nft-concurrent-loads "$mixed tables mixed or empty, $failed loads failed"
fi

# --- show: rules with FILE:LINE, text and counters ---------------------------
nsx "$NS" "$IFWALL" load "$R" 2>/dev/null
nsx "$NS" ip link add eth0 type veth peer name eth0p
nsx "$NS" ip link set eth0 up; nsx "$NS" ip link set eth0p up
nsx "$NS" ip addr add 198.51.100.2/24 dev eth0
nsx "$NS" ip route add default via 198.51.100.1 dev eth0
# three packets out on eth0 to udp 53 (rule 4), one to the blocked net (rule 3)
for i in 1 2 3; do nsx "$NS" $PY -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b"x", ("198.51.100.9", 53))'; done
nsx "$NS" $PY -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try: s.sendto(b"x", ("192.0.2.9", 53))
except OSError: pass' 2>/dev/null
nsx "$NS" "$IFWALL" show >"$WORK/show.txt" 2>&1
nsx "$NS" "$IFWALL" show --json >"$WORK/show.json" 2>&1
if $PY - "$WORK/show.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
rules = {r["rule"]: r for r in d["rules"]}
assert d["loaded"] is True, d
assert rules["r.rules:4"]["packets"] == 3, rules["r.rules:4"]
assert rules["r.rules:4"]["verdict"] == "pass", rules["r.rules:4"]
assert rules["r.rules:4"]["text"].startswith("pass out on { eth0 wg* }"), rules["r.rules:4"]
assert rules["r.rules:3"]["packets"] == 1, rules["r.rules:3"]
assert rules["r.rules:3"]["verdict"] == "block"
assert rules["r.rules:5"]["packets"] == 0
assert sorted(rules["r.rules:5"]["chains"]) == ["forward_in", "input"], rules["r.rules:5"]
assert d["default_out"]["verdict"] == "block" and d["policy"]["output"] == "drop", d
PY
then pass nft-show-json "counters per rule (3 passed, 1 blocked), FILE:LINE, text, chains"
else fail nft-show-json "$(head -c 400 "$WORK/show.json")"; fi
if grep -qE '^ +3 +[0-9]+ +pass +r.rules:4  pass out on' "$WORK/show.txt"; then
	pass nft-show-text "one line per rule with counters"
else
	fail nft-show-text "$(head -c 400 "$WORK/show.txt")"
fi

# --- flush: ifwall's tables go, nothing else is touched ----------------------
nsx "$NS" nft -f - <<'NFT'
table inet keepme {
	set s {
		type ipv4_addr
		elements = { 1.2.3.4 }
	}
	chain c {
		type filter hook output priority 10; policy accept;
		ip daddr @s counter
	}
}
table ip ifwallet {
	chain c {
		counter
	}
}
table inet ifwall_divert {
	chain c {
		counter
	}
}
NFT
nsx "$NS" nft list table inet keepme >"$WORK/keep.before"
nsx "$NS" nft list table ip ifwallet >"$WORK/ifwallet.before"
nsx "$NS" "$IFWALL" flush; rc=$?
tables=$(nsx "$NS" nft list tables)
if [ $rc -eq 0 ] && ! grep -q 'inet ifwall$' <<<"$tables" && ! grep -q 'ifwall_divert' <<<"$tables" \
   && cmp -s "$WORK/keep.before" <(nsx "$NS" nft list table inet keepme) \
   && cmp -s "$WORK/ifwallet.before" <(nsx "$NS" nft list table ip ifwallet); then
	pass nft-flush "inet ifwall and inet ifwall_divert deleted; keepme and ifwallet byte-identical"
else
	fail nft-flush "exit $rc, tables now: $(tr '\n' ' ' <<<"$tables")"
fi
nsx "$NS" "$IFWALL" flush; rc=$?
[ $rc -eq 0 ] && pass nft-flush-absent "exit 0 with nothing to flush" || fail nft-flush-absent "exit $rc"
nsx "$NS" "$IFWALL" show >"$WORK/show.none"; rc=$?
[ $rc -eq 0 ] && grep -q 'no ifwall rule set' "$WORK/show.none" && pass nft-show-absent "says nothing is loaded" \
	|| fail nft-show-absent "exit $rc: $(cat "$WORK/show.none")"

# --- compile: loads with nft -f and lists the same as load -------------------
SCRATCH=$RUN-scratch
add_ns "$SCRATCH"
for f in "$R" "$EX"/*.rules; do
	name=compile-$(basename "$f" .rules)
	# in the namespace that loads it: '(IFSPEC)' sets hold its addresses
	if ! nsx "$SCRATCH" "$IFWALL" compile "$f" >"$WORK/$name.nft" 2>"$WORK/$name.err"; then
		fail "nft-$name" "compile failed: $(head -c 200 "$WORK/$name.err")"; continue
	fi
	nsx "$SCRATCH" nft flush ruleset
	if ! nsx "$SCRATCH" nft -f "$WORK/$name.nft" 2>"$WORK/$name.nfterr"; then
		fail "nft-$name" "nft -f refused it: $(head -c 300 "$WORK/$name.nfterr")"; continue
	fi
	listing "$SCRATCH" | normalize >"$WORK/$name.by-nft"
	nsx "$SCRATCH" nft flush ruleset
	nsx "$SCRATCH" "$IFWALL" load "$f" 2>/dev/null
	listing "$SCRATCH" | normalize >"$WORK/$name.by-ifwall"
	if [ -s "$WORK/$name.by-nft" ] && cmp -s "$WORK/$name.by-nft" "$WORK/$name.by-ifwall"; then
		pass "nft-$name" "nft -f of the script lists the same table as ifwall load ($(grep -c . "$WORK/$name.by-nft") lines)"
	else
		fail "nft-$name" "$(diff "$WORK/$name.by-nft" "$WORK/$name.by-ifwall" | head -6 | tr '\n' ' ')"
	fi
done
"$IFWALL" compile "$WORK/bad.rules" >/dev/null 2>&1; rc=$?
[ $rc -eq 2 ] && pass nft-compile-bad "exit 2 on an invalid file" || fail nft-compile-bad "exit $rc"
exit 0
