#!/usr/bin/env bash
# The NetworkManager dispatcher script, run as NetworkManager-dispatcher(8)
# runs it (90-ifwall-vpn-endpoints INTERFACE ACTION, with only the
# environment NM documents: CONNECTION_UUID, CONNECTION_ID, VPN_IP_IFACE,
# VPN_IP4_*, CONNECTION_USER_*), against a rule set loaded in a namespace:
# vpn-up sets the endpoint table to the VPN's server (from the connection's
# user setting ifwall.endpoints, from VPN_GATEWAY, or from the connection's
# vpn.data read with nmcli, here a stand-in printing what nmcli -g prints),
# vpn-down empties it (or refills it from IFWALL_SERVERS_FILE), other
# actions leave it alone, and a VPN whose server cannot be found is an
# error that changes nothing.
. "$(dirname "$0")/lib.sh"
need_root_tools nm-dispatcher
SCRIPT=$TOP/tools/hooks/90-ifwall-vpn-endpoints
ip netns add $NS_CLI || { fail nm-setup "namespace"; exit 0; }
nsx $NS_CLI "$IFWALL" load "$HOOKS_DIR/killswitch.rules" || { fail nm-setup "load"; exit 0; }
cat >"$WORK/nmcli" <<'NMCLI'
#!/bin/sh
# nmcli -g vpn.data connection show uuid UUID, as NetworkManager-openvpn fills it
[ "$2" = vpn.data ] && [ "$6" = 1d4a7c9e-0000-4000-8000-00000000beef ] || exit 10
echo 'connection-type = tls, remote = vpn.example.test:1194, dev = tun, ca = /etc/ca.pem'
NMCLI
chmod 755 "$WORK/nmcli"
# run ACTION VAR=VALUE...: the script with NM's environment only
run() {
	local action=$1; shift
	nsx $NS_CLI env -i IFWALL="$IFWALL" NMCLI="$WORK/nmcli" CONNECTION_ID=office \
		CONNECTION_UUID=1d4a7c9e-0000-4000-8000-00000000beef VPN_IP_IFACE=tun0 \
		DEVICE_IFACE=eth0 DEVICE_IP_IFACE=eth0 VPN_IP4_NUM_ADDRESSES=1 \
		VPN_IP4_ADDRESS_0="10.8.0.6/24 10.8.0.1" VPN_IP4_GATEWAY=10.8.0.1 "$@" \
		/bin/sh "$SCRIPT" tun0 "$action" >"$WORK/nm.out" 2>&1
}
check() {   # check NAME WANT_RC WANT_TABLE RC
	local got; got=$(table_now)
	[ "$4" = "$2" ] && [ "$got" = "$3" ] && pass "$1" "exit $4, table '$got'" ||
		fail "$1" "exit $4 (want $2), table '$got' (want '$3'): $(cat "$WORK/nm.out")"
}

run vpn-up CONNECTION_USER_IFWALL__ENDPOINTS="198.51.100.7 2001:db8:5::7"; check nm-vpn-up-user-setting 0 "198.51.100.7 2001:db8:5::7 " $?
run vpn-down; check nm-vpn-down-blocks 0 "" $?
run vpn-up VPN_GATEWAY=203.0.113.7; check nm-vpn-up-vpn-gateway 0 "203.0.113.7 " $?
run vpn-up VPN_GATEWAY="[2001:db8:6::1]:1194"; check nm-vpn-up-vpn-gateway-v6-port 0 "2001:db8:6::1 " $?
# vpn.data via nmcli: the host name resolves through the namespace's view of /etc/hosts
{
	sed -i 's/remote = vpn.example.test:1194/remote = 192.0.2.44:1194/' "$WORK/nmcli"
	run vpn-up; check nm-vpn-up-vpn-data 0 "192.0.2.44 " $?
}
run up; check nm-other-actions-ignored 0 "192.0.2.44 " $?
run vpn-up CONNECTION_UUID=unknown; check nm-vpn-up-no-server-fails 1 "192.0.2.44 " $?
grep -q 'ifwall.endpoints' "$WORK/nm.out" && pass nm-vpn-up-no-server-says "$(cat "$WORK/nm.out")" ||
	fail nm-vpn-up-no-server-says "$(cat "$WORK/nm.out")"
printf '198.51.100.7\n203.0.113.7 # backup\n' >"$WORK/servers.txt"
run vpn-down IFWALL_SERVERS_FILE="$WORK/servers.txt"; check nm-vpn-down-connecting 0 "198.51.100.7 203.0.113.7 " $?
