#!/usr/bin/env bash
# Leak suite: the kill switch against the known ways traffic escapes a VPN,
# with a real WireGuard tunnel (wireguard-go) in network namespaces.
#
# The client namespace loads tests/kernel/leak/killswitch.rules with `ifwall load`.
# Each scenario creates its attack (a route, an address, a dead tunnel...),
# sends traffic, and asserts BOTH
#   - that tunnelled traffic still works ("tunnel probes"), and
#   - that zero packets left the client in the clear on its physical link,
#     other than the tunnel's own UDP (192.168.1.2:51821 <-> 198.51.100.7:51820)
#     and link-local ICMPv6 control: counted on a capture at the FAR side of
#     the link (the ISP router's interface), so it is what really left.
# It also replays the client-side capture (tcpdump -i any, SLL2) through
# `ifwall replay` with the same rules: the flows replay passes out on eth0
# must be exactly those the far side saw.
#
# Scenarios (sc_* below; net.sh draws the network):
#   connected        TCP, UDP, DNS to the tunnel resolver
#   tunnelvision     a more specific route via the LAN gateway (DHCP option 121)
#   moved-flow       the same, on connections already open through the tunnel
#   localnet         TunnelCrack LocalNet: the link gets a public prefix
#   dns              public / LAN resolvers, through the tunnel or not
#   ipv6             global IPv6 on the link, IPv4-only tunnel
#   cve-2019-14899   the router probes the tunnel address on the link (scapy)
#   tunnel-down      wireguard-go killed, routes fall back to the ISP
#   tunnel-back      the tunnel re-created under the same name, no reload
#   forward          a container routed through the client
#   endpoint-scope   other ports/protocols to the endpoint address
#   *-lan            localnet, dns, cve again under 'allow lan' (killswitch-lan.rules)
#   owner-user/mark  the endpoint exception with 'user 0' / 'mark 0xca6c'
#                    (owner-user.rules, owner-mark.rules): other uids, unmarked
#                    sockets and forwarded packets may not use it
#
# Modes:
#   default            detector self-test first (no firewall: the key
#                      scenarios must SHOW leaks, so the counting is proven),
#                      then every scenario with the kill switch loaded.
#   IFWALL_LEAK_NOFW=1 every scenario with no firewall at all: they FAIL,
#                      reporting the leaks (shows that the suite can fail).
#   IFWALL_LEAK_ORACLE=1 load oracle.nft (a hand-written nftables kill
#                      switch) with nft instead of `ifwall load`: checks the
#                      suite's own expectations against a known-good kill
#                      switch. Not a test of ifwall.
#   IFWALL_LEAK_BACKEND=divert  enforce with `ifwall run --backend divert`
#                      instead of `ifwall load` (nft).
#   IFWALL_LEAK_KEEP=1 keep the captures and logs (the path is printed).
#
# Output: one PASS/FAIL/SKIP line per case, with what was observed.
set -u
cd "$(dirname "$0")"
. ./net.sh
TOP=${TOP:-$(cd ../../.. && pwd)}
IFWALL=${IFWALL:-$TOP/build/ifwall}

skip_all() { echo "SKIP leak: $*"; exit 0; }
[ "$(id -u)" -eq 0 ] || skip_all "needs root (network namespaces, WireGuard)"
for tool in ip wireguard-go wg tcpdump setpriv; do
	command -v $tool >/dev/null || skip_all "$tool not installed (tests/deps.sh)"
done
[ -c /dev/net/tun ] || skip_all "no /dev/net/tun"
$PY -c 'import scapy' 2>/dev/null && HAVE_SCAPY=1 || HAVE_SCAPY=

WORK=$(mktemp -d /tmp/ifwleak.XXXXXX)
cleanup() {
	net_teardown
	if [ -n "${IFWALL_LEAK_KEEP:-}" ]; then echo "# kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM
# Probes also run as nobody: from a copy in $WORK (the checkout may be a
# directory only its owner can enter).
chmod 755 "$WORK"
install -m 644 "$NETPY" "$WORK/leaknet.py"

# The rule files name the tunnel ifwleak0; this run's tunnel has its own name.
for f in killswitch killswitch-lan owner-user owner-mark; do
	sed "s/ifwleak0/$TUN/g" "$LEAK_DIR/$f.rules" >"$WORK/$f.rules"
done
RULES_MAIN=$WORK/killswitch.rules
RULES_LAN=$WORK/killswitch-lan.rules
RULES_USER=$WORK/owner-user.rules
RULES_MARK=$WORK/owner-mark.rules

# ---------------------------------------------------------------- probes
#
# A tunnel probe must succeed; an attack probe is traffic the attack would
# leak, which the kill switch must stop (it fails, and nothing is on the wire).

TUN_OK=0 TUN_TOTAL=0 TUN_FAILED= ATT_ANSWERED=0 ATT_TOTAL=0 ATT_LIST= EXTRA_BAD= EXTRA_LEAKS=0

probe_in() {   # probe_in NS [setpriv args] -- [probe options] SPEC...
	local ns=$1; shift
	local as=()
	while [ "$1" != -- ]; do as+=("$1"); shift; done
	shift
	if [ ${#as[@]} -gt 0 ]; then
		nsx "$ns" setpriv "${as[@]}" $PY "$WORK/leaknet.py" probe "$@"
	else
		nsx "$ns" $PY "$NETPY" probe "$@"
	fi
}

tunnel_probe() {   # tunnel_probe NS SPEC...
	local ns=$1 line; shift
	while read -r line; do
		TUN_TOTAL=$((TUN_TOTAL + 1))
		case $line in
		ok\ *) TUN_OK=$((TUN_OK + 1)) ;;
		*) TUN_FAILED+="${TUN_FAILED:+, }${line#fail }" ;;
		esac
	done < <(probe_in "$ns" -- --timeout 10 "$@")   # due answers: 10 s only bound a hang
}

attack_probe() {   # attack_probe NS [setpriv args] -- [probe options] SPEC...
	local line
	while read -r line; do
		ATT_TOTAL=$((ATT_TOTAL + 1))
		case $line in
		ok\ *) ATT_ANSWERED=$((ATT_ANSWERED + 1)); ATT_LIST+="${ATT_LIST:+, }${line#ok }" ;;
		esac
	done < <(probe_in "$@")
}

AS_NOBODY=(--reuid=65534 --regid=65534 --clear-groups)

# ---------------------------------------------------------------- scenarios
#
# Each sc_NAME sets up its attack, probes, and undoes the attack. The
# tunnel-down scenario leaves the tunnel down; tunnel_back brings it back.

sc_connected() {
	tunnel_probe $NS_CLI ping,$TUN_PEER tcp,$WEB,8080 udp,$WEB,7777 dns,$TUN_PEER dns,$TUN_PEER,tcp
}

sc_tunnelvision() {   # DHCP option 121 style: a more specific route via the LAN gateway
	ip -n $NS_CLI route add 203.0.113.0/24 via $GW dev eth0
	attack_probe $NS_CLI -- --timeout 1 ping,$WEB tcp,$WEB,8080 udp,$WEB,7777
	tunnel_probe $NS_CLI tcp,$WEB2,8080 udp,$WEB2,7777 ping,$TUN_PEER
	ip -n $NS_CLI route del 203.0.113.0/24 via $GW dev eth0
}

sc_moved_flow() {   # TunnelVision on flows already open through the tunnel
	local hold=$WORK/hold-$RANDOM pids=() spec line
	for spec in tcp,$WEB,8080 udp,$WEB,7777; do
		nsx $NS_CLI $PY "$NETPY" probe --timeout 1 --hold "$hold" $spec >"$WORK/moved-${spec%%,*}" &
		pids+=($!)
	done
	wait_for 20 eval "[ \$(cat $WORK/moved-tcp $WORK/moved-udp | grep -c '^held') -eq 2 ]"
	ip -n $NS_CLI route add 203.0.113.0/24 via $GW dev eth0
	touch "$hold"
	wait "${pids[@]}"
	while read -r line; do
		case $line in
		held\ *) TUN_TOTAL=$((TUN_TOTAL + 1)); TUN_OK=$((TUN_OK + 1)) ;;
		ok\ *) ATT_TOTAL=$((ATT_TOTAL + 1)); ATT_ANSWERED=$((ATT_ANSWERED + 1)); ATT_LIST+="${ATT_LIST:+, }${line#ok } after the route change" ;;
		fail\ *) ATT_TOTAL=$((ATT_TOTAL + 1)) ;;
		esac
	done < <(cat "$WORK/moved-tcp" "$WORK/moved-udp")
	[ "$TUN_TOTAL" -eq 2 ] || { TUN_TOTAL=2; TUN_FAILED="the flows did not open through the tunnel"; }
	ip -n $NS_CLI route del 203.0.113.0/24 via $GW dev eth0
}

sc_localnet() {   # TunnelCrack LocalNet: the network hands out a public prefix
	ip -n $NS_ISP addr add 203.0.113.1/24 dev isp0
	ip -n $NS_ISP route add $WEB/32 via $ENDPOINT
	nsx $NS_ISP sysctl -qw net.ipv4.conf.isp0.proxy_arp=1
	ip -n $NS_CLI addr add 203.0.113.2/24 dev eth0
	attack_probe $NS_CLI -- --timeout 1 ping,$WEB tcp,$WEB,8080 udp,$WEB,7777
	tunnel_probe $NS_CLI tcp,$WEB2,8080 udp,$WEB2,7777 ping,$TUN_PEER
	ip -n $NS_CLI addr del 203.0.113.2/24 dev eth0
	nsx $NS_ISP sysctl -qw net.ipv4.conf.isp0.proxy_arp=0
	ip -n $NS_ISP route del $WEB/32 via $ENDPOINT
	ip -n $NS_ISP addr del 203.0.113.1/24 dev isp0
}

sc_dns() {   # only the configured resolver, through the tunnel
	: >"$WORK/dns.log"
	tunnel_probe $NS_CLI dns,$TUN_PEER dns,$TUN_PEER,tcp
	# through the tunnel (default route): a public and a LAN-style resolver
	attack_probe $NS_CLI -- --timeout 1 dns,$PUB_DNS dns,$PUB_DNS,tcp dns,$TUN_LAN_DNS dns,$TUN_LAN_DNS,tcp
	# on the link: the LAN's resolver, and a public one routed via the gateway
	ip -n $NS_CLI route add $PUB_DNS/32 via $GW dev eth0
	attack_probe $NS_CLI -- --timeout 1 dns,$LAN_DNS dns,$LAN_DNS,tcp dns,$PUB_DNS dns,$PUB_DNS,tcp
	ip -n $NS_CLI route del $PUB_DNS/32 via $GW dev eth0
	sleep 0.2   # a window for late log lines of queries that must not arrive (no event to wait for)
	# queries that reached another resolver through the tunnel are leaks the
	# far-side capture cannot see (they are encrypted there)
	local through
	through=$(grep -c "from $TUN_ADDR" "$WORK/dns.log" | tr -d ' ')
	through=$((through - $(grep -c "^dns $TUN_PEER " "$WORK/dns.log")))
	if [ "$through" -gt 0 ]; then
		EXTRA_BAD="$through queries reached other resolvers through the tunnel"
		EXTRA_LEAKS=$through
	else
		EXTRA_BAD=
	fi
	DNS_SEEN=$(grep -v "^dns $TUN_PEER " "$WORK/dns.log" | awk '{print $2"/"$3}' | sort | uniq -c | awk '{printf "%s%s x%s", sep, $2, $1; sep=", "}')
}

sc_ipv6() {   # the ISP gives global IPv6; the tunnel is IPv4 only
	attack_probe $NS_CLI -- --timeout 1 ping,$WEB6 tcp,$WEB6,8080 udp,$WEB6,7777 ping,$GW6 tcp,$GW6,8080
	tunnel_probe $NS_CLI tcp,$WEB,8080 ping,$TUN_PEER
}

sc_cve_2019_14899() {   # the router probes the client's tunnel address on the link
	if [ -z "$HAVE_SCAPY" ]; then
		EXTRA_BAD="scapy missing (python3-scapy): nothing injected"
		return
	fi
	nsx $NS_ISP $PY "$LEAK_DIR/inject.py" isp0 "$CLI_MAC" $TUN_ADDR $GW 8080 >/dev/null
	ATT_TOTAL=3     # SYN to an open port, SYN to a closed one, echo request
	AFTER_CAPTURE=cve_count_replies
	tunnel_probe $NS_CLI ping,$TUN_PEER tcp,$WEB,8080
}

cve_count_replies() {
	ATT_ANSWERED=$(cap_flows_from $TUN_ADDR)
	ATT_LIST="packets from $TUN_ADDR on eth0"
}

# packets on the far side sent by the client with source address $1
cap_flows_from() {
	cap_leaks | awk -v a="$1" '$2 == a {n += $6} END {print n + 0}'
}

sc_tunnel_down() {   # the VPN process dies; the ISP default route takes over
	wg_client_kill
	local via
	via=$(ip -n $NS_CLI route get $WEB | grep -o 'dev [^ ]*')
	[ "$via" = "dev eth0" ] || EXTRA_BAD="route to $WEB is '$via', want the fallback 'dev eth0'"
	attack_probe $NS_CLI -- --timeout 1 ping,$WEB2 tcp,$WEB,8080 udp,$WEB,7777 dns,$TUN_PEER ping,$TUN_PEER
	attack_probe $NS_CTR -- --timeout 1 tcp,$WEB2,8080 udp,$WEB2,7777
}

sc_tunnel_back() {   # same name again, no reload: traffic flows
	wg_client_up || EXTRA_BAD="could not re-create $TUN"
	ifmap_update
	# first handshake of the new device
	wait_for 20 eval "probe_in $NS_CLI -- --timeout 0.5 ping,$TUN_PEER >/dev/null"
	tunnel_probe $NS_CLI ping,$TUN_PEER tcp,$WEB,8080 udp,$WEB,7777 dns,$TUN_PEER
	tunnel_probe $NS_CTR tcp,$WEB2,8080
	NOTE="new $TUN (ifindex $(ip -n $NS_CLI -o link show $TUN | cut -d: -f1)), rules not reloaded"
}

sc_forward() {   # a container routed through the client, TunnelVision on the client
	ip -n $NS_CLI route add 203.0.113.0/24 via $GW dev eth0
	attack_probe $NS_CTR -- --timeout 1 ping,$WEB tcp,$WEB,8080 udp,$WEB,7777 tcp,$ENDPOINT,8080
	tunnel_probe $NS_CTR tcp,$WEB2,8080 udp,$WEB2,7777 ping,$WEB2
	ip -n $NS_CLI route del 203.0.113.0/24 via $GW dev eth0
}

sc_endpoint_scope() {   # the endpoint exception is its address AND port AND proto
	attack_probe $NS_CLI -- --timeout 1 ping,$ENDPOINT tcp,$ENDPOINT,8080 udp,$ENDPOINT,7777 \
		tcp,$ENDPOINT,$EP_PORT dns,$ENDPOINT
	tunnel_probe $NS_CLI ping,$TUN_PEER tcp,$WEB,8080
}

# The endpoint's own port and protocol, from a socket that is not the VPN.
# No reply is expected in any case (wireguard-go ignores garbage): the far
# side says whether it left.
sc_owner_user() {   # endpoint ... user 0: another uid may not use it
	attack_probe $NS_CLI "${AS_NOBODY[@]}" -- --timeout 0.5 --sport 40000 udp,$ENDPOINT,$EP_PORT
	# forwarded packets have no local owner: the container cannot use it either
	attack_probe $NS_CTR -- --timeout 0.5 --sport 40010 udp,$ENDPOINT,$EP_PORT
	tunnel_probe $NS_CLI ping,$TUN_PEER tcp,$WEB,8080
}

sc_owner_mark() {   # endpoint ... mark 0xca6c: unmarked sockets, root's too, may not
	attack_probe $NS_CLI -- --timeout 0.5 --sport 40001 udp,$ENDPOINT,$EP_PORT
	attack_probe $NS_CLI "${AS_NOBODY[@]}" -- --timeout 0.5 --sport 40002 udp,$ENDPOINT,$EP_PORT
	attack_probe $NS_CTR -- --timeout 0.5 --sport 40011 udp,$ENDPOINT,$EP_PORT
	tunnel_probe $NS_CLI ping,$TUN_PEER tcp,$WEB,8080
}

# The same attacks under killswitch-lan.rules ('allow lan'), where the LAN
# exception is what they would slip through.
sc_localnet_lan() { sc_localnet; }
sc_dns_lan() { sc_dns; }
sc_cve_2019_14899_lan() { sc_cve_2019_14899; }
LAN_SCENARIOS=(localnet-lan dns-lan cve-2019-14899-lan)

# ---------------------------------------------------------------- running

# run_scenario MODE NAME RULES
#   MODE fw:       the kill switch is loaded; PASS = no leak, tunnel works
#   MODE nofw:     no firewall, same expectations (they FAIL: the leaks)
#   MODE detector: no firewall; PASS = the leak IS detected
run_scenario() {
	local mode=$1 name=$2 rules=$3
	local fn=sc_${name//-/_}
	TUN_OK=0 TUN_TOTAL=0 TUN_FAILED= ATT_ANSWERED=0 ATT_TOTAL=0 ATT_LIST= EXTRA_BAD= EXTRA_LEAKS=0 DNS_SEEN=
	AFTER_CAPTURE=: NOTE=
	if ! cap_start "$mode-$name"; then
		echo "FAIL leak-$name: tcpdump did not start: $(cat "$CAP-far.err" "$CAP-cli.err" | tr '\n' ' ')"
		return
	fi
	$fn
	cap_stop
	$AFTER_CAPTURE
	local leaks n desc
	leaks=$(cap_leaks)
	n=$(awk '{n += $6} END {print n + 0}' <<<"$leaks")
	desc="$n leaked packets"
	[ "$n" -gt 0 ] && desc+=" ($(awk '{printf "%s%s %s:%s > %s:%s x%s", sep, $1, $2, $3, $4, $5, $6; sep="; "}' <<<"$leaks" | cut -c1-300))"
	[ "$TUN_TOTAL" -gt 0 ] && desc+=", $TUN_OK/$TUN_TOTAL tunnel probes ok"
	[ -n "$TUN_FAILED" ] && desc+=" (failed: $TUN_FAILED)"
	[ "$ATT_TOTAL" -gt 0 ] && desc+=", $((ATT_TOTAL - ATT_ANSWERED))/$ATT_TOTAL leak probes unanswered"
	[ "$ATT_ANSWERED" -gt 0 ] && desc+=" (answered: $ATT_LIST)"
	[ -n "$DNS_SEEN" ] && desc+=", other resolvers got: $DNS_SEEN"
	[ -n "$EXTRA_BAD" ] && desc+=", $EXTRA_BAD"
	[ -n "$NOTE" ] && desc+=", $NOTE"

	case $mode in
	detector)
		if [ "$n" -gt 0 ] || [ "$EXTRA_LEAKS" -gt 0 ]; then
			echo "PASS detector-$name: without a firewall the leak is seen: $desc"
		else
			echo "FAIL detector-$name: no leak seen without a firewall (the detector is blind here): $desc"
		fi
		;;
	*)
		if [ "$n" -eq 0 ] && [ "$TUN_OK" -eq "$TUN_TOTAL" ] && [ "$ATT_ANSWERED" -eq 0 ] && [ -z "$EXTRA_BAD" ]; then
			echo "PASS leak-$name: $desc"
		else
			echo "FAIL leak-$name: $desc"
		fi
		;;
	esac
	replay_check "$mode" "$name" "$rules"
}

# Flows `ifwall replay` passes out on eth0 must be the flows the far side
# saw. Owner criteria (user, mark) never match in replay, so under an owner
# rule file replay blocks the tunnel's own UDP, which the kernel passes.
replay_check() {
	local mode=$1 name=$2 rules=$3 rc
	ifmap_update
	# The tunnel's address, as the live backends know it from rtnetlink:
	# the capture need not show the tunnel sending before a probe to it.
	"$IFWALL" replay --json --ifmap "$IFMAP" --ifaddr "$TUN=$TUN_ADDR" --leaks "!$TUN" "$rules" "$CAP-cli.pcap" \
		>"$CAP-replay.json" 2>"$CAP-replay.err"
	rc=$?
	if [ $rc -gt 1 ]; then
		echo "FAIL replay-$name: ifwall replay exited $rc: $(head -c 300 "$CAP-replay.err")"
		return
	fi
	local replayed far
	replayed=$($PY "$NETPY" replayflows "$CAP-replay.json" --iface eth0 | cut -d' ' -f1-5 | sort)
	far=$(cap_far_flows | cut -d' ' -f1-5 | sort)
	local tunnel_udp="udp $CLI_ADDR $WG_SPORT $ENDPOINT $EP_PORT" note=
	if [ "$rules" = "$RULES_USER" ] || [ "$rules" = "$RULES_MARK" ]; then
		far=$(grep -vxF "$tunnel_udp" <<<"$far")
		note=" besides the tunnel's UDP, which replay cannot tie to its owner"
	fi
	local kernel_only replay_only
	kernel_only=$(comm -23 <(echo "$far" | sed '/^$/d') <(echo "$replayed" | sed '/^$/d') | paste -sd ';')
	replay_only=$(comm -13 <(echo "$far" | sed '/^$/d') <(echo "$replayed" | sed '/^$/d') | paste -sd ';')
	local count
	count=$(echo "$far" | sed '/^$/d' | wc -l)
	if [ "$mode" = detector ]; then
		if [ -n "$kernel_only" ]; then
			echo "PASS replay-detector-$name: replay blocks what the unprotected kernel let out: $kernel_only"
		else
			echo "FAIL replay-detector-$name: replay passes everything the unprotected kernel sent"
		fi
	elif [ -z "$kernel_only" ] && [ -z "$replay_only" ]; then
		echo "PASS replay-$name: replay agrees with the kernel, $count flow(s) out on eth0$note (replay --leaks exit $rc)"
	else
		echo "FAIL replay-$name: replay disagrees with the kernel: left on eth0 but replay blocks: [${kernel_only:-none}]; replay passes but not on the wire: [${replay_only:-none}]"
	fi
	[[ $name == cve-2019-14899* ]] && [ "$mode" = fw ] && replay_check_inbound "$name"
}

# The kernel dropped the probes of the tunnel address (no reply left).
# Replay, told the tunnel's address (--ifaddr), must block every one of them
# with the kill switch's 'block in on !TUN to (TUN)' (with 'allow lan' the
# LAN rule would pass them otherwise).
replay_check_inbound() {
	local name=$1 probes passed rules
	probes=$(grep '"dir":"in"' "$CAP-replay.json" | grep '"iface":"eth0"' |
		grep "\"dst\":\"$TUN_ADDR\"")
	passed=$(grep -c '"verdict":"pass"' <<<"$probes")
	rules=$(grep -o '"rule":"[^"]*"' <<<"$probes" | sort | uniq -c | awk '{printf "%s%s x%s", sep, $2, $1; sep=", "}')
	if [ -z "$probes" ]; then
		echo "FAIL replay-inbound-$name: the capture holds no probe of $TUN_ADDR on eth0"
	elif [ "$passed" -eq 0 ]; then
		echo "PASS replay-inbound-$name: replay --ifaddr $TUN=$TUN_ADDR blocks the $(wc -l <<<"$probes") probe flow(s) of the tunnel address, as the kernel did ($rules)"
	else
		echo "FAIL replay-inbound-$name: replay passes $passed of the probes of $TUN_ADDR the kernel dropped ($rules)"
	fi
}

load_rules() {   # load_rules FILE: the kill switch, inside the client
	local out
	if [ -n "${IFWALL_LEAK_ORACLE:-}" ]; then
		local owner=
		if [ "$1" = "$RULES_LAN" ]; then
			echo "SKIP load-oracle-lan: oracle.nft has no 'allow lan' variant"
			return 1
		fi
		[ "$1" = "$RULES_USER" ] && owner="meta skuid 0"
		[ "$1" = "$RULES_MARK" ] && owner="meta mark $WG_MARK"
		sed -e "s/@OWNER@/$owner/" -e "s/ifwleak0/$TUN/g" "$LEAK_DIR/oracle.nft" | nsx $NS_CLI nft -f - && return 0
		echo "FAIL load-oracle: nft refused oracle.nft"
		return 1
	fi
	if [ "${IFWALL_LEAK_BACKEND:-nft}" = divert ]; then
		load_rules_divert "$1"
		return
	fi
	if ! out=$(nsx $NS_CLI "$IFWALL" load "$1" 2>&1); then
		echo "FAIL load-$(basename "$1" .rules): ifwall load failed: $(head -c 300 <<<"$out")"
		return 1
	fi
}

# IFWALL_LEAK_BACKEND=divert: the same rules through `ifwall run --backend
# divert` (userspace verdicts over NFQUEUE); a new file is swapped in with
# SIGHUP, as a VPN client would.
DIVERT_PID=
load_rules_divert() {
	cp "$1" "$WORK/active.rules"
	if [ -z "$DIVERT_PID" ]; then
		bg_in $NS_CLI "$WORK/divert.log" "$IFWALL" run --backend divert "$WORK/active.rules"
		DIVERT_PID=$LAST_PID
		wait_for 20 eval "nsx $NS_CLI nft list table inet ifwall_divert >/dev/null 2>&1"
	else
		local before
		before=$(grep -c 'run: reload' "$WORK/divert.log")
		kill -HUP "$DIVERT_PID"
		wait_for 20 eval "[ \$(grep -c 'run: reload' \"$WORK/divert.log\") -gt $before ]"
	fi
	if ! kill -0 "$DIVERT_PID" 2>/dev/null; then
		echo "FAIL load-divert: ifwall run --backend divert exited: $(head -c 300 "$WORK/divert.log")"
		return 1
	fi
}

SCENARIOS=(connected tunnelvision moved-flow localnet dns ipv6 cve-2019-14899 tunnel-down tunnel-back
	forward endpoint-scope)
# the scenarios with an attack, for the detector self-test (tunnel-back only
# restores the tunnel there)
DETECTOR_SCENARIOS=(tunnelvision moved-flow localnet dns ipv6 cve-2019-14899 tunnel-down tunnel-back
	forward endpoint-scope owner-user owner-mark)

start=$(date +%s)
if ! net_setup >"$WORK/setup.log" 2>&1; then
	echo "FAIL leak-setup: test network did not come up: $(tail -c 400 "$WORK/setup.log" | tr '\n' ' ')"
	exit 1
fi
ifmap_update

# The rule files are the kill switch we think they are.
for f in "$RULES_MAIN" "$RULES_LAN" "$RULES_USER" "$RULES_MARK"; do
	out=$("$IFWALL" check --expand "$f" 2>&1)
	if [ $? -ne 0 ]; then
		echo "FAIL check-$(basename "$f" .rules): $(head -c 300 <<<"$out")"
	elif grep -q "block drop in on !$TUN to ($TUN)" <<<"$out" &&
	     grep -q "pass out on $TUN all" <<<"$out" &&
	     grep -q "reject out proto { tcp udp } to any port 53" <<<"$out"; then
		echo "PASS check-$(basename "$f" .rules): expands to the kill switch rules"
	else
		echo "FAIL check-$(basename "$f" .rules): expansion lacks the kill switch rules: $(head -c 300 <<<"$out")"
	fi
done

if [ -n "${IFWALL_LEAK_NOFW:-}" ]; then
	# Everything without a firewall: every scenario must report its leak.
	for s in "${SCENARIOS[@]}"; do run_scenario nofw "$s" "$RULES_MAIN"; done
	for s in "${LAN_SCENARIOS[@]}"; do run_scenario nofw "$s" "$RULES_LAN"; done
	run_scenario nofw owner-user "$RULES_USER"
	run_scenario nofw owner-mark "$RULES_MARK"
	echo "# IFWALL_LEAK_NOFW: no firewall was loaded; the FAIL lines above are the leaks ($(( $(date +%s) - start ))s)" >&2
	exit 0
fi

# Detector self-test: no firewall yet, so each attack must be seen leaking.
for s in "${DETECTOR_SCENARIOS[@]}"; do
	case $s in
	tunnel-back) sc_tunnel_back >/dev/null ;;   # restore only
	owner-user) run_scenario detector "$s" "$RULES_USER" ;;
	owner-mark) run_scenario detector "$s" "$RULES_MARK" ;;
	*) run_scenario detector "$s" "$RULES_MAIN" ;;
	esac
done

# not_loaded SCENARIO...: the scenarios of a rule file that did not load
# (load_rules said why) are failures; only the oracle (IFWALL_LEAK_ORACLE)
# may lack a variant of a file.
not_loaded() {
	local s
	for s; do
		if [ -n "${IFWALL_LEAK_ORACLE:-}" ]; then echo "SKIP leak-$s: no oracle for this rule file"
		else echo "FAIL leak-$s: the kill switch did not load"; fi
	done
}

if load_rules "$RULES_MAIN"; then
	for s in "${SCENARIOS[@]}"; do run_scenario fw "$s" "$RULES_MAIN"; done
else
	not_loaded "${SCENARIOS[@]}"
fi
if load_rules "$RULES_LAN"; then
	for s in "${LAN_SCENARIOS[@]}"; do run_scenario fw "$s" "$RULES_LAN"; done
else
	not_loaded "${LAN_SCENARIOS[@]}"
fi
if load_rules "$RULES_USER"; then run_scenario fw owner-user "$RULES_USER"; else not_loaded owner-user; fi
if load_rules "$RULES_MARK"; then run_scenario fw owner-mark "$RULES_MARK"; else not_loaded owner-mark; fi
echo "# leak suite: $(( $(date +%s) - start ))s" >&2
