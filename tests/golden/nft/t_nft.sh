#!/usr/bin/env bash
# Golden tests of the nft backend's plan, in the spirit of nftables'
# tests/py .t/.payload pairs: 'ifwall compile' (no root, no kernel) of
#   NAME.rules          exit 0, stdout == NAME.nft, stderr == NAME.err
#                       (warnings) or empty;
#   refused/NAME.rules  exit 2, nothing on stdout, stderr == refused/NAME.err.
# Interface addresses are fixed with --ifaddr (below), so the (IFSPEC)
# sets do not depend on the machine; cgroup paths name cgroups no machine
# has. Run from this directory: FILE in comments and messages is relative.
# REGEN=1 rewrites the expected files from the current output (review the
# diff before committing).
set -u
cd "$(dirname "$0")"
source ../../common.sh   # pass, fail
IFWALL=${IFWALL:-../../../build/ifwall}
IFADDR=eth0=192.168.1.10,eth1=192.168.2.10,wg0=10.64.0.2,wg0=fd00:64::2
tmp=$(mktemp -d /tmp/ifwall-golden-nft.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# as root, a rule file others could write gets a warning (ownership of the
# checkout); that is not what these files test
untrusted='an unprivileged user could change the rules'

# same NAME EXPECTED GOT: PASS when equal; REGEN=1 writes EXPECTED first
# (an empty GOT removes it: no file means "nothing expected").
same() {
	if [ -n "${REGEN:-}" ]; then
		if [ -s "$3" ]; then cp "$3" "$2"; else rm -f "$2"; fi
	fi
	local want=$2
	[ -f "$want" ] || want=/dev/null
	if cmp -s "$want" "$3"; then pass "$1"
	else fail "$1" "$(diff -u "$want" "$3" | head -20 | tr '\n' '|')"; fi
}

# compile RULES: stdout to $tmp/out, stderr (trust warning removed) to
# $tmp/err; sets rc
compile() {
	"$IFWALL" compile --ifaddr "$IFADDR" "$1" >"$tmp/out" 2>"$tmp/err.raw"
	rc=$?
	grep -v -- "$untrusted" "$tmp/err.raw" >"$tmp/err"
}

n=0
for rules in *.rules; do
	name=nft/${rules%.rules}
	compile "$rules"
	if [ "$rc" -eq 0 ]; then pass "$name-exit"; else fail "$name-exit" "exit $rc: $(head -3 "$tmp/err" | tr '\n' '|')"; fi
	same "$name" "${rules%.rules}.nft" "$tmp/out"
	same "$name-stderr" "${rules%.rules}.err" "$tmp/err"
	n=$((n + 1))
done
for rules in refused/*.rules; do
	name=nft/${rules%.rules}
	compile "$rules"
	if [ "$rc" -eq 2 ] && [ ! -s "$tmp/out" ]; then pass "$name-exit"
	else fail "$name-exit" "exit $rc, $(wc -l <"$tmp/out") lines on stdout; want exit 2, none"; fi
	same "$name-stderr" "${rules%.rules}.err" "$tmp/err"
	n=$((n + 1))
done
# The pairs are the test: an empty folder would pass silently.
if [ "$n" -ge 15 ]; then pass "nft/pairs" "$n rule files"; else fail "nft/pairs" "only $n rule files"; fi
