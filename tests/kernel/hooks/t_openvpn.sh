#!/usr/bin/env bash
# OpenVPN (Debian's openvpn, a static key made at test time) with
# ifwall-openvpn-endpoints as its up/down script, end to end. The rule file
# (killswitch.rules) never changes. Phases, with the far-side capture and
# the client's leak probes running throughout:
#   blocked     rules loaded, no VPN: nothing leaves
#   connect     'ifwall-openvpn-endpoints connect A.conf' (connecting: the
#               config's remotes A and B), openvpn to A; its ipchange
#               script (the remote authenticated) narrows the table to A: the tunnel answers
#               "srvA"; then only UDP to A:1194
#   move        openvpn stopped (down script: table empty), connect B.conf,
#               openvpn to B: "srvB"; A unreachable; only B:1194
#   down        openvpn stopped: nothing leaves, the table is empty
#   reconnect   openvpn to B again: "srvB", only B:1194
. "$(dirname "$0")/lib.sh"
need_root_tools openvpn openvpn
$PY -c 'import scapy' 2>/dev/null || { skip openvpn "scapy missing for $PY"; exit 0; }
net_setup || { fail openvpn-setup "could not build the network"; exit 0; }
TUN=ifwo$RUN_ID
openvpn --genkey secret "$WORK/static.key" 2>/dev/null ||
	{ fail openvpn-setup "openvpn --genkey"; exit 0; }
# options both sides share, one "name value..." a line (config file form)
COMMON="proto udp
cipher AES-256-CBC
auth SHA256
secret $WORK/static.key
ping 1
verb 3"
# OpenVPN 2.6 warns about static keys; later versions need this to allow them
openvpn --help 2>/dev/null | grep -q allow-deprecated-insecure-static-crypto &&
	COMMON="$COMMON
allow-deprecated-insecure-static-crypto"
for s in a b; do
	ns=$NS_A; [ $s = b ] && ns=$NS_B
	{
		echo "dev ifs$s$RUN_ID"; echo "dev-type tun"; echo "port 1194"
		echo "ifconfig 10.64.0.1 10.64.0.2"
		echo "$COMMON"
	} >"$WORK/srv-$s.conf"
	bg_in "$ns" "$WORK/ovpn-srv-$s.log" openvpn --config "$WORK/srv-$s.conf"
done
# client configurations (what a user writes; the up/down lines as documented)
for s in a b; do
	addr=$SRV_A other=$SRV_B; [ $s = b ] && addr=$SRV_B other=$SRV_A
	{
		echo "dev $TUN"; echo "dev-type tun"; echo "nobind"
		echo "remote $addr 1194"
		echo "remote $other 1194"     # tried second: both are 'connecting' endpoints
		echo "ifconfig 10.64.0.2 10.64.0.1"
		echo "redirect-gateway def1"
		echo "script-security 2"
		echo "up $TOP/tools/hooks/ifwall-openvpn-endpoints"
		echo "ipchange $TOP/tools/hooks/ifwall-openvpn-endpoints"
		echo "down $TOP/tools/hooks/ifwall-openvpn-endpoints"
		echo "setenv IFWALL $IFWALL"   # OpenVPN gives scripts its own environment only
		echo "$COMMON"
	} >"$WORK/$s.conf"
done
CLIENT_PID=
vpn_start() {   # vpn_start a|b
	nsx $NS_CLI ifwall-openvpn-endpoints connect "$WORK/$1.conf" ||
		{ fail openvpn-connecting "ifwall-openvpn-endpoints connect"; return 1; }
	bg_in $NS_CLI "$WORK/ovpn-cli-$1.log" env IFWALL="$IFWALL" openvpn --config "$WORK/$1.conf"
	CLIENT_PID=$LAST_PID
}
vpn_stop() {
	kill "$CLIENT_PID" 2>/dev/null
	wait "$CLIENT_PID" 2>/dev/null
	wait_for 100 eval "! ip -n $NS_CLI link show $TUN >/dev/null 2>&1"
}
connected_to() {   # connected_to srvA|srvB: the tunnel answers so, the up script ran
	wait_for 200 eval "tunnel_says | grep -q $1" && [ "$(tunnel_says)" = "$1" ]
}

start_probes 1194
t0=$(now); sleep 0.6; t1=$(now)
n=$(leaks_between "$t0" "$t1")
[ "${n:-0}" -gt 0 ] && pass openvpn-detector "$n packets seen leaving without a kill switch" ||
	fail openvpn-detector "the capture saw no probe without a firewall"

nsx $NS_CLI "$IFWALL" load "$HOOKS_DIR/killswitch.rules" || { fail openvpn-load "ifwall load"; exit 0; }
blocked openvpn "$(now)"
T_CONNECT0=$(now)

vpn_start a || exit 0
if connected_to srvA; then
	wait_for 100 eval 'grep -q "Initialization Sequence Completed" "$WORK/ovpn-cli-a.log"'
	pass openvpn-connect "the tunnel answers srvA; table = $(table_now)"
else
	fail openvpn-connect "no answer through the tunnel: $(grep -i -E 'error|fail' "$WORK/ovpn-cli-a.log" | tail -2)"
fi
T_CONNECT1=$(now)
table_is "$SRV_A " && pass openvpn-connected-narrowed "connecting allowed A and B (the config's remotes); the ipchange script narrowed the table to $SRV_A" ||
	fail openvpn-connected-narrowed "table is '$(table_now)'"
sleep 1; T_MOVE0=$(now)
phase openvpn connect "$T_CONNECT0" "$T_CONNECT1" "$T_MOVE0" "$SRV_A:1194 $SRV_B:1194" "$SRV_A:1194"

vpn_stop
table_is "" && pass openvpn-down-script "the down script emptied the table" ||
	fail openvpn-down-script "table after stop: '$(table_now)'"
vpn_start b || exit 0
connected_to srvB && pass openvpn-move "the tunnel answers srvB; table = $(table_now)" ||
	fail openvpn-move "no answer from B: $(tail -2 "$WORK/ovpn-cli-b.log")"
T_MOVE1=$(now); sleep 1.5; T_DOWN0=$(now)
phase openvpn move "$T_MOVE0" "$T_MOVE1" "$T_DOWN0" "$SRV_A:1194" "$SRV_B:1194"
a_pkts=$(packets_to "$T_MOVE1" "$T_DOWN0" $SRV_A)
[ "$a_pkts" = 0 ] && pass openvpn-move-first-unreachable "0 packets reached A after the move, though the probes kept sending to it" ||
	fail openvpn-move-first-unreachable "$a_pkts packets to A after the move"

vpn_stop
T_DOWN1=$(now)
table_is "" && pass openvpn-down-table "the table is empty with the tunnel down" ||
	fail openvpn-down-table "table: '$(table_now)'"
sleep 1.5; T_RE0=$(now)
phase openvpn down "$T_DOWN0" "$T_DOWN1" "$T_RE0" "$SRV_B:1194" ""

vpn_start b || exit 0
connected_to srvB && pass openvpn-reconnect "the tunnel answers srvB again" ||
	fail openvpn-reconnect "no answer after reconnecting"
T_RE1=$(now); sleep 1; T_END=$(now)
phase openvpn reconnect "$T_RE0" "$T_RE1" "$T_END" "$SRV_A:1194" "$SRV_B:1194"
vpn_stop
