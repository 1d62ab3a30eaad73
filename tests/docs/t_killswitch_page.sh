#!/usr/bin/env bash
# ifwall-killswitch(7) renders without warnings, and its expansion listing
# (between the EXPANSION-BEGIN/END markers) is exactly what
# 'ifwall check --expand' prints for the example block above it.
set -u
cd "${TOP:?}"
source tests/common.sh   # pass, fail, skip
IFWALL=${IFWALL:?}
page=tools/man/ifwall-killswitch.7
work=$(mktemp -d /tmp/ifw-kspage.XXXXXX)
trap 'rm -rf "$work"' EXIT

if command -v groff >/dev/null; then
	out=$(groff -man -ww -z "$page" 2>&1)
	if [ -z "$out" ]; then pass man-renders; else fail man-renders "$(head -c 300 <<<"$out")"; fi
else
	skip man-renders "no groff (tests/deps.sh)"
fi

cat >"$work/example.rules" <<'RULES'
killswitch {
    tunnel wg0
    endpoint 198.51.100.7 port 51820 proto udp mark 0xca6c
    dns 10.64.0.1
    allow lan
    allow dhcp
}
RULES
# the listing, roff escapes undone
sed -n '/EXPANSION-BEGIN/,/EXPANSION-END/p' "$page" | sed '1d;$d' | sed 's/\\-/-/g' >"$work/page"
example_in_page=$(grep -F '    endpoint 198.51.100.7 port 51820 proto udp mark 0xca6c' "$page")
if [ ! -s "$work/page" ] || [ -z "$example_in_page" ]; then
	fail man-expansion "no example or no EXPANSION-BEGIN/END listing in $page"
else
	"$IFWALL" check --expand "$work/example.rules" >"$work/check.out" 2>"$work/check.err"
	rc=$?
	sed -e 's/  #@ .*$//' "$work/check.out" | grep -v '^set ' | grep -v '^$' >"$work/check"
	if [ $rc -eq 0 ] && diff -u "$work/page" "$work/check" >"$work/diff"; then
		pass man-expansion "the page lists exactly the $(wc -l <"$work/page") rules ifwall check --expand prints"
	else
		fail man-expansion "check exited $rc; page vs check: $(head -c 600 "$work/diff" "$work/check.err" | tr '\n' '|')"
	fi
fi
