#!/usr/bin/env bash
# 'ifwall table' against the rule set 'ifwall load' put in the kernel:
# every command and exit code of cli.md, the kernel set really changed (nft
# lists it), one transaction without a rule reload (the rules' handles and
# counters survive), a later load restoring the table from the rule file,
# an empty endpoint table blocking in the kernel (a UDP datagram to the
# endpoint is rejected, then passes once the table holds it) and in query.
. "$(dirname "$0")/lib.sh"
need_root nft-table
NS=$RUN-tbl PEER=$RUN-tblp
add_ns "$NS" && add_ns "$PEER" || { fail nft-table-setup "namespaces"; exit 0; }
ip link add eth0 netns "$NS" type veth peer name p0 netns "$PEER"
ip -n "$NS" addr add 192.168.7.2/24 dev eth0; ip -n "$PEER" addr add 192.168.7.1/24 dev p0
ip -n "$NS" link set eth0 up; ip -n "$PEER" link set p0 up
ip -n "$NS" route add default via 192.168.7.1
cat >"$WORK/ks.rules" <<'R'
table <vpn_servers> { }
table <other> { 10.9.0.0/16 }
killswitch {
    tunnel wg0
    endpoint <vpn_servers> port 51820 proto udp
}
block out quick to <other>
R
T() { nsx "$NS" "$IFWALL" table "$@"; }
expect() {   # expect NAME CODE COMMAND...: exit code
	local name=$1 want=$2; shift 2
	"$@" >"$WORK/out" 2>"$WORK/err"; local rc=$?
	[ "$rc" = "$want" ] && pass "$name" "exit $rc${3:+}" ||
		fail "$name" "exit $rc, want $want: $(head -2 "$WORK/err")"
}

expect nft-table-no-ruleset 3 T vpn_servers show
grep -q 'no active rule set' "$WORK/err" && pass nft-table-no-ruleset-message "$(cat "$WORK/err")" ||
	fail nft-table-no-ruleset-message "$(cat "$WORK/err")"
expect nft-table-usage-none 2 nsx "$NS" "$IFWALL" table
expect nft-table-usage-command 2 T vpn_servers frobnicate
expect nft-table-usage-add-nothing 2 T vpn_servers add
expect nft-table-usage-bad-addr 2 T vpn_servers add 300.1.1.1
expect nft-table-usage-slash0 2 T vpn_servers add 0.0.0.0/0
expect nft-table-help 0 T -h
nsx "$NS" "$IFWALL" load "$WORK/ks.rules" || { fail nft-table-load "load"; exit 0; }
expect nft-table-unknown 2 T nope show
grep -q '<vpn_servers>' "$WORK/err" && pass nft-table-unknown-lists "$(cat "$WORK/err")" ||
	fail nft-table-unknown-lists "$(cat "$WORK/err")"
expect nft-table-show-empty 0 T vpn_servers show
[ ! -s "$WORK/out" ] && pass nft-table-empty-prints-nothing || fail nft-table-empty-prints-nothing "$(cat "$WORK/out")"

# an empty endpoint table blocks, in query and in the kernel
v=$("$IFWALL" query "$WORK/ks.rules" 'out on eth0 udp 192.168.7.2:40000 > 192.168.7.1:51820' | awk '{print $1}')
[ "$v" = reject ] && pass nft-table-query-empty-blocks "query: $v" || fail nft-table-query-empty-blocks "query: $v"
send_udp() { nsx "$NS" $PY -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try: s.sendto(b"x", ("192.168.7.1", 51820)); print("sent")
except OSError as e: print("refused", e.errno)'; }
nsx "$PEER" tcpdump -i p0 -n -U -w "$WORK/p0.pcap" 'udp port 51820' 2>"$WORK/dump.log" &
DUMP=$!
for _ in $(seq 50); do grep -q listening "$WORK/dump.log" && break; sleep 0.1; done
r1=$(send_udp)
T vpn_servers add 192.168.7.1
r2=$(send_udp)
sleep 1; kill $DUMP; wait $DUMP 2>/dev/null
n=$(tcpdump -r "$WORK/p0.pcap" -n 2>/dev/null | wc -l)
[ "${r1%% *}" = refused ] && [ "$r2" = sent ] && [ "$n" = 1 ] &&
	pass nft-table-kernel-empty-blocks "empty: $r1; after add: $r2; the peer saw $n datagram" ||
	fail nft-table-kernel-empty-blocks "empty: $r1; after add: $r2; the peer saw $n datagrams"

# commands
handles() { nsx "$NS" nft -a list chain inet ifwall output | grep -o 'handle [0-9]*' | tr '\n' ' '; }
h0=$(handles)
expect nft-table-add 0 T vpn_servers add 198.51.100.7 2001:db8::7 10.1.0.0/24 10.1.1.0/24
expect nft-table-show 0 T vpn_servers show
[ "$(tr '\n' ' ' <"$WORK/out")" = "10.1.0.0/23 192.168.7.1 198.51.100.7 2001:db8::7 " ] &&
	pass nft-table-show-content "$(tr '\n' ' ' <"$WORK/out")" || fail nft-table-show-content "$(tr '\n' ' ' <"$WORK/out")"
nsx "$NS" nft list set inet ifwall vpn_servers_v4 | grep -q '198.51.100.7' &&
	pass nft-table-kernel-set "nft lists 198.51.100.7 in vpn_servers_v4" || fail nft-table-kernel-set "not in the kernel set"
expect nft-table-json 0 T vpn_servers show --json
$PY -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["table"]=="vpn_servers" and "2001:db8::7" in d["addresses"]' "$WORK/out" &&
	pass nft-table-json-valid || fail nft-table-json-valid "$(cat "$WORK/out")"
expect nft-table-test-present 0 T vpn_servers test 198.51.100.7 10.1.1.9
expect nft-table-test-absent 1 T vpn_servers test 198.51.100.7 198.51.100.8
expect nft-table-delete 0 T vpn_servers delete 10.1.0.0/23 192.168.7.1
printf '# servers\n203.0.113.7  # B\n\n2001:db8::9\n' >"$WORK/servers.txt"
expect nft-table-replace-file 0 T vpn_servers replace -f "$WORK/servers.txt"
T vpn_servers show >"$WORK/out"
[ "$(tr '\n' ' ' <"$WORK/out")" = "203.0.113.7 2001:db8::9 " ] && pass nft-table-replace-content "$(tr '\n' ' ' <"$WORK/out")" ||
	fail nft-table-replace-content "$(tr '\n' ' ' <"$WORK/out")"
printf '1.2.3.4\nnot-an-address\n' >"$WORK/bad.txt"
expect nft-table-file-invalid 2 T vpn_servers replace -f "$WORK/bad.txt"
grep -q "bad.txt:2" "$WORK/err" && pass nft-table-file-invalid-located "$(head -1 "$WORK/err")" || fail nft-table-file-invalid-located "$(cat "$WORK/err")"
expect nft-table-file-missing 2 T vpn_servers replace -f "$WORK/none.txt"
T vpn_servers show >"$WORK/out"
[ "$(tr '\n' ' ' <"$WORK/out")" = "203.0.113.7 2001:db8::9 " ] && pass nft-table-invalid-changes-nothing ||
	fail nft-table-invalid-changes-nothing "$(tr '\n' ' ' <"$WORK/out")"
h1=$(handles)
[ "$h0" = "$h1" ] && pass nft-table-no-rule-reload "the output chain's rule handles are unchanged" ||
	fail nft-table-no-rule-reload "rules were replaced: $h0 -> $h1"
expect nft-table-flush 0 T vpn_servers flush
T vpn_servers show >"$WORK/out"
[ ! -s "$WORK/out" ] && pass nft-table-flushed || fail nft-table-flushed "$(cat "$WORK/out")"
expect nft-table-brackets 0 T '<other>' test 10.9.3.4

# a later load restores the tables from the rule file
T vpn_servers add 198.51.100.7; T other flush
nsx "$NS" "$IFWALL" load "$WORK/ks.rules"
a=$(T vpn_servers show | tr '\n' ' '); b=$(T other show | tr '\n' ' ')
[ -z "$a" ] && [ "$b" = "10.9.0.0/16 " ] && pass nft-table-load-restores "vpn_servers '' and other '$b' again" ||
	fail nft-table-load-restores "vpn_servers '$a', other '$b'"
nsx "$NS" nft list tables >/dev/null; m=$(nsx "$NS" nft list table inet ifwall | grep -c 'edited')
[ "$m" = 0 ] && pass nft-table-markers-gone "the load removed the .edited markers" || fail nft-table-markers-gone "$m left"
# no permission
expect nft-table-nobody 3 nsx "$NS" setpriv --reuid=65534 --regid=65534 --clear-groups "$IFWALL" table vpn_servers show
