#!/usr/bin/env bash
# make demo: the kill switch deciding real captured traffic (offline, no
# root), then, when run as root, enforcing it in a throwaway network
# namespace with real packets.
set -u
cd "$(dirname "$0")/.."
O=${O:-build}
IFWALL=$PWD/$O/ifwall
RULES=rules/examples/wireguard.rules
CAP=tests/data/killswitch-demo.pcap
IFMAP=$(cat tests/data/killswitch-demo.ifmap 2>/dev/null || echo "")
bold() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

bold "The rule file ($RULES)"
cat "$RULES"
bold "ifwall check --expand: the kill switch as plain rules"
"$IFWALL" check --expand "$RULES" || exit 1

if [ -f "$CAP" ]; then
	# A capture carries no socket marks, and a rule with an unknown owner
	# criterion never matches offline, so the endpoint exception (restricted
	# to wg-quick's fwmark in the example) is replayed without the mark.
	tmp=$(mktemp -d /tmp/ifwall-demo.XXXXXX)
	sed 's/ mark 0xca6c//' "$RULES" >"$tmp/wireguard-nomark.rules"
	bold "ifwall replay: real captured traffic ($CAP) through the same engine"
	echo "(recorded by tests/data/record-demo.sh: WireGuard tunnel wg0, physical link eth0;"
	echo " rules: $RULES without 'mark 0xca6c', since captures carry no marks)"
	"$IFWALL" replay ${IFMAP:+--ifmap "$IFMAP"} "$tmp/wireguard-nomark.rules" "$CAP"
	bold "ifwall replay --leaks '!wg0': what passed outside the tunnel?"
	"$IFWALL" replay ${IFMAP:+--ifmap "$IFMAP"} --leaks '!wg0' "$tmp/wireguard-nomark.rules" "$CAP" >"$tmp/leaks" 2>&1
	rc=$?
	grep -v '^pass\|^block\|^reject' "$tmp/leaks"
	echo "exit code $rc: only link-scoped IPv6 (neighbour discovery, multicast listener reports) and the WireGuard"
	echo "transport itself left on eth0; DNS to 9.9.9.9, IPv6 to the internet and the"
	echo "TCP flow moved off the tunnel were stopped."
	rm -rf "$tmp"
fi

bold "ifwall query: single packets"
for p in 'out on wg0 tcp 10.64.0.2:40000 > 93.184.216.34:443' \
	 'out on eth0 tcp 192.168.1.10:40000 > 93.184.216.34:443' \
	 'out on eth0 udp 192.168.1.10:5353 > 8.8.8.8:53' \
	 'out on eth0 udp 192.168.1.10:41000 > 198.51.100.7:51820' \
	 'out on eth0 tcp [2001:db8::10]:40000 > [2001:db8:1::1]:443'; do
	printf '%-60s -> ' "$p"
	"$IFWALL" query "$RULES" "$p"
done

if [ "$(id -u)" -ne 0 ]; then
	bold "Not root: skipping the kernel part (run 'sudo make demo' to see it enforced)"
	exit 0
fi
bold "Enforcing it in a throwaway network namespace"
ns=ifwdemo-$$
cleanup() {
	ip netns del "$ns-c" 2>/dev/null; ip netns del "$ns-i" 2>/dev/null; ip netns del "$ns-v" 2>/dev/null
}
trap cleanup EXIT
ip netns add "$ns-c" && ip netns add "$ns-i" && ip netns add "$ns-v" || exit 1
# client eth0 <-> ISP router; client wg0 <-> VPN side (a veth named wg0
# stands in for the tunnel: the kill switch matches interfaces by name).
ip link add eth0 netns "$ns-c" type veth peer name isp0 netns "$ns-i"
ip link add wg0 netns "$ns-c" type veth peer name vpn0 netns "$ns-v"
ip -n "$ns-c" addr add 192.168.1.10/24 dev eth0
ip -n "$ns-i" addr add 192.168.1.1/24 dev isp0
ip -n "$ns-i" addr add 8.8.8.8/32 dev isp0
ip -n "$ns-c" addr add 10.64.0.2/24 dev wg0
ip -n "$ns-v" addr add 10.64.0.1/24 dev vpn0
for n in c i v; do ip -n "$ns-$n" link set lo up; done
ip -n "$ns-c" link set eth0 up; ip -n "$ns-c" link set wg0 up
ip -n "$ns-i" link set isp0 up; ip -n "$ns-v" link set vpn0 up
ip -n "$ns-c" route add default via 192.168.1.1
ping_try() { ip netns exec "$ns-c" ping -c1 -W1 "$1" >/dev/null 2>&1 && echo "reachable" || echo "blocked"; }
ip -n "$ns-v" route add default dev vpn0
echo "before ifwall load: ISP gateway 192.168.1.1 is $(ping_try 192.168.1.1), 8.8.8.8 via eth0 is $(ping_try 8.8.8.8)"
ip netns exec "$ns-c" "$IFWALL" load "$RULES" || { echo "load failed"; exit 1; }
echo "ifwall load: done (table inet ifwall)"
echo "after: VPN peer 10.64.0.1 via wg0 is $(ping_try 10.64.0.1)"
echo "after: 8.8.8.8 via eth0 (the physical link) is $(ping_try 8.8.8.8)"
echo "after: LAN gateway 192.168.1.1 (allow lan) is $(ping_try 192.168.1.1)"
bold "ifwall show: the rules in the kernel, with counters"
ip netns exec "$ns-c" "$IFWALL" show
ip netns exec "$ns-c" "$IFWALL" flush
echo "ifwall flush: done; namespaces removed on exit"
