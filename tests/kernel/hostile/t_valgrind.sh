#!/usr/bin/env bash
# The offline commands under valgrind memcheck: no memory errors, no leaks.
set -u
: "${IFWALL:?}" "${TOP:?}"
if [[ ${O:-build} == *san* ]]; then echo "SKIP valgrind: sanitizer build"; exit 0; fi
command -v valgrind >/dev/null || { echo "SKIP valgrind: not installed"; exit 0; }
d=$(mktemp -d /tmp/ifw-vg.XXXXXX)
trap 'rm -rf "$d"' EXIT
vg() { # NAME ARGS...
	local name=$1; shift
	valgrind -q --leak-check=full --show-leak-kinds=definite,indirect \
		--errors-for-leak-kinds=definite,indirect --error-exitcode=99 \
		"$IFWALL" "$@" >"$d/out" 2>"$d/err"
	local rc=$?
	if [ $rc -eq 99 ] || grep -q '==[0-9]*==' "$d/err"; then
		echo "FAIL valgrind $name: memcheck errors"; grep '==[0-9]*==' "$d/err" | head -15
	elif [ $rc -ge 3 ]; then
		echo "FAIL valgrind $name: exit $rc"; head -5 "$d/err"
	else
		echo "PASS valgrind $name (exit $rc)"
	fi
}
cd "$TOP"
for f in rules/examples/*.rules; do
	[ -f "$f" ] || continue
	vg "check $(basename "$f")" check "$f"
	vg "check --expand --json $(basename "$f")" check --expand --json "$f"
done
printf 'pass out to 10.0.0.1/8\nblock in on { eth0 \npass out proto icmp port 5\n' >"$d/bad.rules"
vg "check invalid file" check "$d/bad.rules"
ks=rules/examples/wireguard.rules
if [ -f "$ks" ]; then
	vg "query" query "$ks" 'out on eth0 udp 192.168.1.10:5353 > 8.8.8.8:53' \
		'in on wg0 tcp [fd00::2]:443 > [fd00::1]:51000' 'out on eth0 icmp 10.0.0.2 > 1.1.1.1 type echo-request'
	vg "query --json bad description" query --json "$ks" 'out on eth0 bogus'
	vg "query --ifaddr" query --ifaddr wg0=10.64.0.2,wg0=fd00::2 "$ks" \
		'in on eth0 tcp 192.168.1.1:4444 > 10.64.0.2:80'
	vg "query --ifaddr malformed" query --ifaddr wg0=10.64.0.300 "$ks" 'out on eth0 udp 1.1.1.1:1 > 2.2.2.2:2'
fi
for cap in tests/data/*.pcap tests/data/*.pcapng; do
	[ -f "$cap" ] && [ -f "$ks" ] || continue
	vg "replay $(basename "$cap")" replay --json "$ks" "$cap"
	vg "replay --ifaddr $(basename "$cap")" replay --ifaddr wg0=10.64.0.2 "$ks" "$cap"
done
exit 0
