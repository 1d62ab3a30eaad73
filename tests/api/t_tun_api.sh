#!/usr/bin/env bash
# ifw_tun_run from an outside program (tests/api/tun_api_test.c, public
# header, shared library): a client namespace whose only way out is the
# library's TUN path through a host namespace to a far end. UDP the rules
# pass is echoed back, blocked UDP gets nothing, rejected UDP gets an ICMP
# error; SIGHUP reloads; SIGTERM returns the counters and removes the
# devices.
set -u
cd "${TOP:?}"
source tests/common.sh   # wait_for
O=${O:-build}
CC=${CC:-cc}
if [ "$(id -u)" -ne 0 ]; then echo "SKIP tun-api: needs root"; exit 0; fi
if [ ! -c /dev/net/tun ]; then echo "SKIP tun-api: no /dev/net/tun"; exit 0; fi
san=; case $O in *san*) san="-fsanitize=address,undefined" ;; esac
c=ifwlib-tc$$ h=ifwlib-th$$ f=ifwlib-tf$$
dir=$(mktemp -d /tmp/ifwlib-tunapi.XXXXXX)
pid= echo_pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	[ -n "$echo_pid" ] && kill "$echo_pid" 2>/dev/null
	for ns in $c $h $f; do ip netns del "$ns" 2>/dev/null; done
	rm -rf "$dir"
}
trap cleanup EXIT
bin=$dir/tun_api_test
if ! $CC -std=gnu11 -Wall -Wextra -Werror $san -Itools/lib -o "$bin" tests/api/tun_api_test.c \
	-L"$O" -lifwall -Wl,-rpath,"$TOP/$O" 2>"$dir/cc.log"; then
	echo "FAIL tun-api-build: $(head -5 "$dir/cc.log" | tr '\n' ' ')"; exit 1
fi
for ns in $c $h $f; do
	ip netns add "$ns" || { echo "FAIL tun-api-netns: $ns"; exit 1; }
	ip netns exec "$ns" ip link set lo up
done
ip link add eth0 netns "$h" type veth peer name eth0 netns "$f"
ip netns exec "$h" ip addr add 10.3.0.1/24 dev eth0
ip netns exec "$h" ip link set eth0 up
ip netns exec "$h" ip route add default via 10.3.0.2
ip netns exec "$f" ip addr add 10.3.0.2/24 dev eth0
ip netns exec "$f" ip link set eth0 up
ip netns exec "$f" ip route add default via 10.3.0.1
# The far end echoes UDP on ports 7, 9 and 10.
ip netns exec "$f" /usr/bin/python3 -c '
import select, socket
socks = []
for port in (7, 9, 10):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", port)); socks.append(s)
while True:
    for s in select.select(socks, [], [])[0]:
        data, peer = s.recvfrom(2048); s.sendto(data, peer)' &
echo_pid=$!
echoing() { [ "$(ip netns exec "$f" ss -Hlun '( sport = :7 or sport = :9 or sport = :10 )' | wc -l)" -eq 3 ]; }
wait_for 20 echoing

cat >"$dir/tun.rules" <<'RULES'
pass out on eth0 proto udp to 10.3.0.2 port 7
reject out on eth0 proto udp to 10.3.0.2 port 10
RULES

ip netns exec "$h" "$bin" "/var/run/netns/$c" "$dir/tun.rules" >"$dir/out" 2>"$dir/err" &
pid=$!
has_default() { ip netns exec "$c" ip route show default 2>/dev/null | grep -q .; }
wait_for 20 has_default
if ip netns exec "$c" ip -br addr show 2>/dev/null | grep -q '100.64.0.2'; then
	echo "PASS tun-api-setup"
else
	echo "FAIL tun-api-setup: $(cat "$dir/out" "$dir/err" | head -3 | tr '\n' ' ')"; exit 1
fi

udp() { # port [timeout] -> "echo", "none" or the error
	ip netns exec "$c" /usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(float(sys.argv[2]))
s.connect(("10.3.0.2", int(sys.argv[1])))
try:
    s.send(b"hello"); print("echo" if s.recv(100) == b"hello" else "garbage")
except socket.timeout:
    print("none")
except OSError as e:
    print("error", e.errno)' "$1" "${2:-1}"
}
got=$(udp 7 10); if [ "$got" = echo ]; then echo "PASS tun-api-pass"; else echo "FAIL tun-api-pass: $got"; fi
got=$(udp 9); if [ "$got" = none ]; then echo "PASS tun-api-block"; else echo "FAIL tun-api-block: $got"; fi
got=$(udp 10 10); if [[ $got == error* ]]; then echo "PASS tun-api-reject ($got)"; else echo "FAIL tun-api-reject: $got"; fi

echo 'pass out on eth0 proto udp to 10.3.0.2 port 9' >"$dir/tun.rules"
kill -HUP "$pid"
wait_for 20 grep -q 'rules reloaded' "$dir/err"
got=$(udp 9 10); if [ "$got" = echo ]; then echo "PASS tun-api-reload"; else echo "FAIL tun-api-reload: $got"; fi

kill -TERM "$pid"; wait "$pid"; rc=$?; pid=
last=$(tail -1 "$dir/out")
if [ $rc -eq 0 ] && [[ $last =~ ^client\ [0-9]+\ host\ [0-9]+\ passed\ ([0-9]+)\ blocked\ ([0-9]+)\ rejected\ ([0-9]+)\ reloads\ 1$ ]] &&
   [ "${BASH_REMATCH[1]}" -ge 2 ] && [ "${BASH_REMATCH[2]}" -ge 1 ] && [ "${BASH_REMATCH[3]}" -ge 1 ]; then
	echo "PASS tun-api-stats ($last)"
else
	echo "FAIL tun-api-stats: exit $rc, '$last' $(tail -2 "$dir/err" | tr '\n' ' ')"
fi
if ! ip netns exec "$c" ip link show ifw0 >/dev/null 2>&1 && ! ip netns exec "$h" ip link show ifw1 >/dev/null 2>&1; then
	echo "PASS tun-api-teardown"
else
	echo "FAIL tun-api-teardown: devices left"
fi
