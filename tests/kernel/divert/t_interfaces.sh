#!/usr/bin/env bash
# ifwall interfaces and the interface table behind the live backends: types
# from the link type, addresses, and live updates from rtnetlink with bursts
# coalesced.
source "$(dirname "$0")/lib.sh"
CASES="interfaces_text interfaces_json_valid interfaces_json_types interfaces_json_addresses
watch_new_interface watch_address_added watch_rename watch_delete watch_burst_coalesced watch_ifaddr_owner"
# Without root or namespaces: this namespace's table, loopback included.
check interfaces_here /usr/bin/python3 -c '
import json, sys
d = json.loads(sys.argv[1])
assert any(i["type"] == "loopback" and "LOOPBACK" in i["flags"] for i in d), d' "$("$IFWALL" interfaces --json)"
divert_require_root $CASES

ip netns add "$(ns a)"
in_ns a ip link set lo up
in_ns a ip link add veth0 type veth peer name veth1
in_ns a ip link set veth0 up
in_ns a ip addr add 10.9.0.1/24 dev veth0
in_ns a ip addr add fd09::1/64 dev veth0 nodad
in_ns a ip tuntap add dev tun7 mode tun
in_ns a ip link set tun7 up
in_ns a ip addr add 10.77.0.2/32 dev tun7
in_ns a ip link add ipip0 type ipip local 10.9.0.1 remote 10.9.0.2 2>/dev/null

text=$(in_ns a "$IFWALL" interfaces)
check interfaces_text bash -c '
	grep -Eq "^[0-9]+ +lo +loopback +UP,LOOPBACK,RUNNING.* 127\.0\.0\.1/8 ::1/128$" <<<"$1" &&
	grep -Eq "^[0-9]+ +veth0 +ether +UP,BROADCAST.* 10\.9\.0\.1/24 fd09::1/64" <<<"$1" &&
	grep -Eq "^[0-9]+ +tun7 +tunnel +UP,POINTOPOINT.* 10\.77\.0\.2/32$" <<<"$1"' _ "$text"

json=$(in_ns a "$IFWALL" interfaces --json)
check interfaces_json_valid /usr/bin/python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert isinstance(d, list) and d' "$json"
check interfaces_json_types /usr/bin/python3 -c '
import json, sys
d = {i["name"]: i for i in json.loads(sys.argv[1])}
assert d["lo"]["type"] == "loopback", d["lo"]
assert d["veth0"]["type"] == "ether" and d["veth0"]["kind"] == "veth", d["veth0"]
assert d["tun7"]["type"] == "tunnel" and d["tun7"]["kind"] == "tun", d["tun7"]
assert "UP" in d["veth0"]["flags"] and "UP" not in d["veth1"]["flags"]
if "ipip0" in d: assert d["ipip0"]["type"] == "tunnel", d["ipip0"]
idx = [i["index"] for i in json.loads(sys.argv[1])]
assert idx == sorted(idx)
' "$json"
check interfaces_json_addresses /usr/bin/python3 -c '
import json, sys
d = {i["name"]: i for i in json.loads(sys.argv[1])}
assert d["veth0"]["addresses"][:2] == ["10.9.0.1/24", "fd09::1/64"], d["veth0"]
assert d["tun7"]["addresses"] == ["10.77.0.2/32"], d["tun7"]
assert d["veth1"]["addresses"] == []
' "$json"

# Live updates: the watcher prints a snapshot after each burst it applies.
out=$(mktemp); CLEANUP+=("rm -f $out $out.batch")
in_ns a "$HELPERS/iftable_watch" 20 >"$out" &
watcher=$!; CLEANUP+=("kill $watcher")
wait_for 20 grep -q '^end$' "$out"
# The newest complete snapshot.
last() { awk '/^update /{b=""} {b=b $0 "\n"} /^end$/{s=b} END{printf "%s", s}' "$out"; }
has() { last | grep -Eq "$1"; }
lacks() { ! last | grep -Eq "$1"; }

in_ns a ip link add dum0 type veth peer name dum0p
check watch_new_interface wait_for 20 has '^[0-9]+ dum0 ether '
in_ns a ip link set dum0 up
in_ns a ip addr add 192.0.2.44/24 dev dum0
check watch_address_added wait_for 20 has '^[0-9]+ dum0 ether UP.* 192\.0\.2\.44/24$'
in_ns a ip link set dum0 down
in_ns a ip link set dum0 name wg9
check watch_rename wait_for 20 has '^[0-9]+ wg9 ether BROADCAST.* 192\.0\.2\.44/24$'
in_ns a ip link del wg9
check watch_delete wait_for 20 lacks 'wg9|dum0p'

# A burst: 64 addresses in one batch; the table ends with all of them after
# fewer rebuilds than messages.
count_burst() { last | grep ' veth1 ' | grep -o '10\.200\.' | wc -l; }
before=$(grep -c '^update ' "$out")
for i in $(seq 1 64); do echo "addr add 10.200.$i.1/24 dev veth1"; done >"$out.batch"
in_ns a ip -batch "$out.batch"
test_burst() { [ "$(count_burst)" -eq 64 ]; }
wait_for 20 test_burst
updates=$(( $(grep -c '^update ' "$out") - before ))
n=$(count_burst)
if [ "$n" -eq 64 ] && [ "$updates" -lt 64 ]; then pass watch_burst_coalesced
else fail watch_burst_coalesced "64 addresses: table has $n after $updates rebuilds"; fi
# Every address is found back through the ifaddr table under its interface.
check watch_ifaddr_owner bash -c '! grep -q "(!owner)" "$1"' _ "$out"
