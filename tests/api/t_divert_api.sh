#!/usr/bin/env bash
# ifw_divert_run from an outside program (tests/api/divert_api_test.c,
# public header, shared library) in a network namespace: new UDP flows on
# the loopback are decided in userspace before their first packet is
# delivered: the passed port receives, the blocked one does not; SIGHUP
# reloads; SIGTERM returns with the counters and leaves the table (fail
# closed) until 'ifwall flush'.
set -u
cd "${TOP:?}"
source tests/common.sh   # wait_for, signal_handled
O=${O:-build}
CC=${CC:-cc}
if [ "$(id -u)" -ne 0 ]; then echo "SKIP divert-api: needs root"; exit 0; fi
san=; case $O in *san*) san="-fsanitize=address,undefined" ;; esac
ns=ifwlib-div$$
dir=$(mktemp -d /tmp/ifwlib-div.XXXXXX)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	ip netns del "$ns" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
bin=$dir/divert_api_test
if ! $CC -std=gnu11 -Wall -Wextra -Werror $san -Itools/lib -o "$bin" tests/api/divert_api_test.c \
	-L"$O" -lifwall -Wl,-rpath,"$TOP/$O" 2>"$dir/cc.log"; then
	echo "FAIL divert-api-build: $(head -5 "$dir/cc.log" | tr '\n' ' ')"; exit 1
fi
ip netns add "$ns" || { echo "FAIL divert-api-netns"; exit 1; }
ip netns exec "$ns" ip link set lo up

cat >"$dir/lo.rules" <<'RULES'
pass on lo proto udp to 127.0.0.1 port 9999
block on lo proto udp to 127.0.0.1 port 9998
RULES

ip netns exec "$ns" "$bin" 7 "$dir/lo.rules" >"$dir/out" 2>"$dir/err" &
pid=$!
wait_for 20 grep -qs ready "$dir/out"
if grep -q '^ready$' "$dir/out" && ip netns exec "$ns" nft list table inet ifwall_divert >/dev/null 2>&1; then
	echo "PASS divert-ready"
else
	echo "FAIL divert-ready: $(cat "$dir/out" "$dir/err" | head -3 | tr '\n' ' ')"; exit 1
fi

# One datagram to each port, from two sockets: prints what arrived.
udp() {
	ip netns exec "$ns" /usr/bin/python3 -c '
import socket
rx = {}
for port in (9999, 9998):
    r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    r.bind(("127.0.0.1", port)); r.settimeout(2.0); rx[port] = r
tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for port in (9999, 9998):
    try:
        tx.sendto(b"x", ("127.0.0.1", port))
    except OSError:
        pass
got = []
for port in (9999, 9998):
    try:
        rx[port].recv(100); got.append(str(port))
    except socket.timeout:
        pass
print(" ".join(got) or "none")'
}
got=$(udp)
if [ "$got" = 9999 ]; then echo "PASS divert-verdicts"; else echo "FAIL divert-verdicts: received on '$got', want 9999"; fi

# Reload with the ports swapped.
sed -i 's/9999/PORT/; s/9998/9999/; s/PORT/9998/' "$dir/lo.rules"
kill -HUP "$pid"
wait_for 20 signal_handled "$pid" 1
got=$(udp)
if [ "$got" = 9998 ]; then echo "PASS divert-reload"; else echo "FAIL divert-reload: received on '$got', want 9998"; fi

kill -TERM "$pid"; wait "$pid"; rc=$?; pid=
last=$(tail -1 "$dir/out")
if [ $rc -eq 0 ] && [[ $last =~ ^packets\ ([0-9]+)\ passed\ ([0-9]+)\ blocked\ ([0-9]+)\ rejected\ 0\ reloads\ 1$ ]] &&
   [ "${BASH_REMATCH[2]}" -ge 2 ] && [ "${BASH_REMATCH[3]}" -ge 2 ]; then
	echo "PASS divert-stats ($last)"
else
	echo "FAIL divert-stats: exit $rc, '$last'"
fi
# Fail closed: the table stays after the return, until flush.
if ip netns exec "$ns" nft list table inet ifwall_divert >/dev/null 2>&1 &&
   ip netns exec "$ns" "${IFWALL:-$TOP/$O/ifwall}" flush &&
   ! ip netns exec "$ns" nft list table inet ifwall_divert >/dev/null 2>&1; then
	echo "PASS divert-table-stays-until-flush"
else
	echo "FAIL divert-table-stays-until-flush"
fi
