#!/usr/bin/env bash
# Rule files (and includes and table files) that an unprivileged user could
# change are refused by load and run, with a message naming the file;
# check only warns.
set -u
: "${IFWALL:?}"
if [ "$(id -u)" -ne 0 ]; then echo "SKIP trust: needs root (file owners)"; exit 0; fi
d=$(mktemp -d /tmp/ifw-trust.XXXXXX)
chmod 755 "$d"
ns=ifwtrust-$$
trap 'ip netns del "$ns" 2>/dev/null; rm -rf "$d"' EXIT
ip netns add "$ns" || { echo "FAIL trust: cannot create netns"; exit 0; }

printf 'pass out all\n' >"$d/good.rules"; chmod 644 "$d/good.rules"
cp "$d/good.rules" "$d/world.rules"; chmod 666 "$d/world.rules"
cp "$d/good.rules" "$d/group.rules"; chmod 664 "$d/group.rules"
cp "$d/good.rules" "$d/nobody.rules"; chown nobody "$d/nobody.rules"
printf 'include "world.rules"\n' >"$d/incl.rules"; chmod 644 "$d/incl.rules"
printf '203.0.113.0/24\n' >"$d/table.txt"; chmod 646 "$d/table.txt"
printf 'table <t> file "table.txt"\nblock out to <t>\n' >"$d/table.rules"; chmod 644 "$d/table.rules"

ip netns exec "$ns" "$IFWALL" load "$d/good.rules" >/dev/null 2>&1 \
	&& echo "PASS trust: a root-owned 0644 file loads" || echo "FAIL trust: good file refused"
before=$(ip netns exec "$ns" nft list table inet ifwall 2>&1)
for f in world group nobody incl table; do
	ip netns exec "$ns" "$IFWALL" load "$d/$f.rules" >/dev/null 2>"$d/err"; rc=$?
	after=$(ip netns exec "$ns" nft list table inet ifwall 2>&1)
	if [ $rc -eq 2 ] && grep -q 'unprivileged user could change' "$d/err" && [ "$before" = "$after" ]; then
		echo "PASS trust: load refuses $f.rules, rules unchanged"
	else
		echo "FAIL trust: load $f.rules: exit $rc"; head -3 "$d/err"
	fi
	"$IFWALL" check "$d/$f.rules" >/dev/null 2>"$d/err"; rc=$?
	if [ $rc -eq 0 ] && grep -q 'warning: .*unprivileged user could change' "$d/err"; then
		echo "PASS trust: check warns about $f.rules (exit 0)"
	else
		echo "FAIL trust: check $f.rules: exit $rc"; head -3 "$d/err"
	fi
done
grep -q 'table.txt' "$d/err" && echo "PASS trust: the table file is named" || echo "FAIL trust: table file not named"
# Directories and links count too (every path component, as ssh's
# StrictModes), and what is checked is what was opened.
# The attack: in a 0777 directory another user replaced the table file
# with a symlink to an empty root-owned file; load must not empty the table.
mkdir -m 0777 "$d/open"; mkdir -m 0755 "$d/safe" "$d/nobodys"; chown nobody "$d/nobodys"
mkdir -m 1777 "$d/sticky"
: >"$d/safe/empty"; chmod 644 "$d/safe/empty"
printf '203.0.113.0/24\n' >"$d/open/table.txt"; chmod 644 "$d/open/table.txt"
printf 'table <t> file "open/table.txt"\nblock out to <t>\n' >"$d/opendir.rules"; chmod 644 "$d/opendir.rules"
printf '203.0.113.0/24\n' >"$d/safe/table.txt"; chmod 644 "$d/safe/table.txt"
printf 'table <t> file "safe/table.txt"\nblock out to <t>\n' >"$d/safe.rules"; chmod 644 "$d/safe.rules"
cp "$d/good.rules" "$d/nobodys/good.rules"
cp "$d/good.rules" "$d/sticky/rootfile.rules"
ln -s "$d/good.rules" "$d/sticky/nobodylink.rules"; chown -h nobody "$d/sticky/nobodylink.rules"
ln -s "$d/good.rules" "$d/safe/rootlink.rules"
ip netns exec "$ns" "$IFWALL" load "$d/safe.rules" >/dev/null 2>&1 \
	&& echo "PASS trust: a table file in a root-owned 0755 directory loads" || echo "FAIL trust: safe.rules refused"
before=$(ip netns exec "$ns" nft list table inet ifwall 2>&1)
# The symlink swap, as another user would do it (nobody may write 'open').
setpriv --reuid=nobody --regid=nogroup --clear-groups sh -c "rm -f '$d/open/table.txt' && ln -s '$d/safe/empty' '$d/open/table.txt'"
for f in opendir nobodys/good sticky/nobodylink; do
	ip netns exec "$ns" "$IFWALL" load "$d/$f.rules" >/dev/null 2>"$d/err"; rc=$?
	after=$(ip netns exec "$ns" nft list table inet ifwall 2>&1)
	if [ $rc -eq 2 ] && grep -q 'unprivileged user could change' "$d/err" && [ "$before" = "$after" ]; then
		echo "PASS trust: load refuses $f.rules, rules unchanged: $(grep -o "$d/[^ ]* [^(]*" "$d/err" | head -1)"
	else
		echo "FAIL trust: load $f.rules: exit $rc: $(head -2 "$d/err")"
	fi
done
for f in sticky/rootfile safe/rootlink; do
	ip netns exec "$ns" "$IFWALL" load "$d/$f.rules" >/dev/null 2>"$d/err" \
		&& echo "PASS trust: $f.rules loads (root's entry in a sticky directory; root's link)" \
		|| echo "FAIL trust: $f.rules refused: $(head -2 "$d/err")"
done
timeout 10 ip netns exec "$ns" "$IFWALL" run --backend divert "$d/world.rules" >/dev/null 2>"$d/err"; rc=$?
if [ $rc -eq 2 ] && grep -q 'unprivileged user could change' "$d/err"; then
	echo "PASS trust: run refuses world.rules"
else
	echo "FAIL trust: run world.rules: exit $rc"; head -3 "$d/err"
fi
exit 0
