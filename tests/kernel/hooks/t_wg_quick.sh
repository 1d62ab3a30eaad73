#!/usr/bin/env bash
# wg-quick with wireguard-go and the ifwall-wg-endpoints hooks, end to end:
# the rule file (killswitch.rules, an empty endpoint table) never changes;
# wg-quick's PreUp/PostUp/PreDown lines, exactly as ifwall-killswitch(7)
# documents them, move the endpoint table. Phases, with the far-side
# capture running throughout and the client's leak probes (probes.py)
# sending all along:
#   blocked     rules loaded, no tunnel: nothing leaves
#   connect     wg-quick up A: the tunnel answers "srvA"; only UDP to A:51820
#   move        wg-quick down, wg-quick up B: "srvB"; A is unreachable (the
#               probes to A:51820 must not leave), only B:51820 leaves
#   down        wg-quick down: nothing leaves, the table is empty
#   reconnect   wg-quick up B again: "srvB", only B:51820
# Each phase: 0 leaked packets (leaks.py on the capture of isp0).
. "$(dirname "$0")/lib.sh"
need_root_tools wg-quick wg-quick wg wireguard-go
$PY -c 'import scapy' 2>/dev/null || { skip wg-quick "scapy missing for $PY"; exit 0; }
export WG_QUICK_USERSPACE_IMPLEMENTATION=wireguard-go
net_setup || { fail wg-quick-setup "could not build the network"; exit 0; }
wg_server a 51820 && wg_server b 51820 || { fail wg-quick-setup "wireguard-go servers"; exit 0; }
TUN=ifwh$RUN_ID

# conf NAME SERVER: the client's wg-quick configuration for one server
conf() {
	cat >"$WORK/$TUN.conf" <<CONF
[Interface]
PrivateKey = $(cat "$WORK/cli.key")
Address = 10.64.0.2/32, fd00:64::2/128
PreUp = ifwall-wg-endpoints preup %i "\$CONFIG_FILE"
PostUp = ifwall-wg-endpoints up %i
PreDown = ifwall-wg-endpoints down %i

[Peer]
PublicKey = $(cat "$WORK/$1.pub")
Endpoint = $2:51820
AllowedIPs = 0.0.0.0/0, ::/0
PersistentKeepalive = 1
CONF
	chmod 600 "$WORK/$TUN.conf"
}
up() { nsx $NS_CLI wg-quick up "$WORK/$TUN.conf" >>"$WORK/wg-quick.log" 2>&1; }
down() { nsx $NS_CLI wg-quick down "$WORK/$TUN.conf" >>"$WORK/wg-quick.log" 2>&1; }

# detector self-test: no firewall, the probes leak and the capture sees it
start_probes 51820
t0=$(now); sleep 0.6; t1=$(now)
n=$(leaks_between "$t0" "$t1")
if [ "${n:-0}" -gt 0 ]; then pass wg-quick-detector "$n packets seen leaving without a kill switch"
else fail wg-quick-detector "the capture saw no probe without a firewall (cannot count leaks)"; fi

nsx $NS_CLI "$IFWALL" load "$HOOKS_DIR/killswitch.rules" || { fail wg-quick-load "ifwall load"; exit 0; }
blocked wg-quick "$(now)"
T_CONNECT0=$(now)

# connect to A
conf a $SRV_A
up || { fail wg-quick-connect "wg-quick up failed: $(tail -3 "$WORK/wg-quick.log")"; exit 0; }
T_CONNECT1=$(now)
start=$(date +%s%N)
wait_for 60 eval 'tunnel_says | grep -q srvA'
said=$(tunnel_says)
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$said" = srvA ] && table_is "$SRV_A " && pass wg-quick-connect "the tunnel answers srvA ${ms} ms after wg-quick up; table = $SRV_A" ||
	fail wg-quick-connect "tunnel said '$said', table '$(nsx $NS_CLI "$IFWALL" table vpn_servers show | tr '\n' ' ')'"
sleep 1
T_MOVE0=$(now)
phase wg-quick connect "$T_CONNECT0" "$T_CONNECT1" "$T_MOVE0" "" "$SRV_A:51820"

# move to B
down
conf b $SRV_B
up || { fail wg-quick-move "wg-quick up B failed"; exit 0; }
T_MOVE1=$(now)
wait_for 60 eval 'tunnel_says | grep -q srvB'
said=$(tunnel_says)
[ "$said" = srvB ] && table_is "$SRV_B " && pass wg-quick-move "the tunnel answers srvB; table = $SRV_B" ||
	fail wg-quick-move "tunnel said '$said' after moving to B"
sleep 1.5
T_DOWN0=$(now)
phase wg-quick move "$T_MOVE0" "$T_MOVE1" "$T_DOWN0" "$SRV_A:51820" "$SRV_B:51820"
a_pkts=$(packets_to "$T_MOVE1" "$T_DOWN0" $SRV_A)
[ "$a_pkts" = 0 ] && pass wg-quick-move-first-unreachable "0 packets reached A ($SRV_A) after the move, though the probes kept sending to it" ||
	fail wg-quick-move-first-unreachable "$a_pkts packets to A after the move"

# tunnel down, switch on
down
T_DOWN1=$(now)
table_is "" && pass wg-quick-down-table "the table is empty after wg-quick down" ||
	fail wg-quick-down-table "table after down: '$(nsx $NS_CLI "$IFWALL" table vpn_servers show | tr '\n' ' ')'"
sleep 1.5
T_RE0=$(now)
phase wg-quick down "$T_DOWN0" "$T_DOWN1" "$T_RE0" "$SRV_B:51820" ""

# reconnect
up || { fail wg-quick-reconnect "wg-quick up failed"; exit 0; }
T_RE1=$(now)
wait_for 60 eval 'tunnel_says | grep -q srvB'
said=$(tunnel_says)
[ "$said" = srvB ] && pass wg-quick-reconnect "the tunnel answers srvB again" ||
	fail wg-quick-reconnect "tunnel said '$said'"
sleep 1
T_END=$(now)
phase wg-quick reconnect "$T_RE0" "$T_RE1" "$T_END" "" "$SRV_B:51820"
down
