#!/usr/bin/env bash
# The package's maintainer scripts do what they say to the rules in the
# kernel (issue 14 item 6): 'prerm upgrade' leaves the kill switch in force
# (an upgrade never opens it), 'prerm remove' removes ifwall's tables and
# says so, 'postrm purge' removes /run/ifwall. Run in a network namespace
# with the built binary in place of /usr/sbin/ifwall.
set -u
source "$(dirname "${BASH_SOURCE[0]}")/../../common.sh"   # pass, fail, skip
[ "$(id -u)" -eq 0 ] || { echo "SKIP maintainer: needs root"; exit 0; }
NS=ifwpkg-$$
T=$(mktemp -d /tmp/ifw-pkg.XXXXXX); chmod 0755 "$T"
trap 'ip netns del $NS 2>/dev/null; rm -rf "$T"' EXIT
TEST_PREFIX="maintainer: "
ip netns add $NS || exit 1
printf 'killswitch {\n    tunnel wg0\n}\n' >"$T/ks.rules"; chmod 0644 "$T/ks.rules"
ip netns exec $NS "$IFWALL" load "$T/ks.rules" || { fail "load"; exit 1; }
has_table() { ip netns exec $NS nft list table inet ifwall >/dev/null 2>&1; }

for action in upgrade failed-upgrade deconfigure; do
	IFWALL_PRERM_BIN=$IFWALL ip netns exec $NS sh "$TOP/debian/ifwall.prerm" $action >"$T/out" 2>&1
	if has_table; then pass "prerm $action leaves the kill switch in force"
	else fail "prerm $action removed the rules"; fi
done
IFWALL_PRERM_BIN=$IFWALL ip netns exec $NS sh "$TOP/debian/ifwall.prerm" remove >"$T/out" 2>&1
if ! has_table && grep -q "kill switch is off" "$T/out"; then pass "prerm remove removes the rules and says so"
else fail "prerm remove: table still there or no message: $(cat "$T/out")"; fi
# remove with nothing loaded: still succeeds
if IFWALL_PRERM_BIN=$IFWALL ip netns exec $NS sh "$TOP/debian/ifwall.prerm" remove >"$T/out" 2>&1; then
	pass "prerm remove with no rules loaded succeeds"
else fail "prerm remove with no rules loaded failed: $(cat "$T/out")"; fi
# postrm purge, with /run/ifwall bind-mounted over a scratch directory so
# the host's is not touched
mkdir -p "$T/run/ifwall"; touch "$T/run/ifwall/state"
if unshare -m sh -c "mkdir -p /run/ifwall && mount --bind '$T/run/ifwall' /run/ifwall && sh '$TOP/debian/ifwall.postrm' purge && [ -z \"\$(ls -A /run/ifwall 2>/dev/null)\" ]" >"$T/out" 2>&1; then
	pass "postrm purge empties /run/ifwall and says so"
else fail "postrm purge: $(cat "$T/out")"; fi
exit $((FAILED > 0))
