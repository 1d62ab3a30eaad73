#!/usr/bin/env bash
# ifwall status [--json]: mode (none, unprotected load, owned run, watching,
# orphaned after kill -9), owning pid, rule file and apply time, defaults,
# tunnel interfaces present/up with addresses, endpoints, and other tables
# whose base chains on ifwall's hooks can block what ifwall passes. Exit 1
# when nothing of ifwall's is enforced.
. "$(dirname "$0")/lib.sh"
need_root nftrun-status
net_setup || { fail nftrun-status-setup "could not build the test network"; exit 0; }
cat >"$WORK/ksp.rules" <<'RULES'
killswitch {
    tunnel tun0
    endpoint 198.51.100.7 port 51820 proto udp
}
RULES
st() { nsx $CLI "$IFWALL" status "$@"; }
jq_() { $PY -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }

out=$(st); rc=$?
check_detail status-none "rc $rc: $(echo "$out" | sed -n 3p)" eval '[ $rc -eq 1 ] && echo "$out" | grep -q "^mode: *none"'
out=$(st --json); rc=$?
check_detail status-none-json "rc $rc, enforced $(echo "$out" | jq_ 'd["enforced"]')" \
	eval '[ $rc -eq 1 ] && [ "$(echo "$out" | jq_ "d[\"enforced\"]")" = False ]'

nsx $CLI "$IFWALL" load "$WORK/ksp.rules"
out=$(st --json); rc=$?
m=$(echo "$out" | jq_ 'd["mode"], d["rules"], d["defaults"]["in"], d["defaults"]["out"], [t["name"] for t in d["tunnels"]], d["tunnels"][0]["addresses"][:1], d["tunnels"][0]["up"], d["endpoints"]')
check_detail status-load "rc $rc: $m" eval '[ $rc -eq 0 ] && [ "$m" = "('"'"'unprotected'"'"', '"'"'$WORK/ksp.rules'"'"', '"'"'block'"'"', '"'"'reject'"'"', ['"'"'tun0'"'"'], ['"'"'10.64.7.2/24'"'"'], True, ['"'"'198.51.100.7 port 51820 proto udp'"'"'])" ]'
applied=$(echo "$out" | jq_ 'd["applied"]')
check_detail status-applied "applied $applied, now $(date +%s)" eval '[ $(( $(date +%s) - applied )) -lt 60 ]'
ip -n $CLI link set tun0 down
out=$(st)
check_detail status-tunnel-down "$(echo "$out" | grep -A1 '^tunnel:' | tail -1)" eval 'echo "$out" | grep -q "^  tun0 *down"'
ip -n $CLI link set tun0 up

KS_RULES=$WORK/ksp.rules
run_start "$WORK/run.log" || fail status-run "$(cat "$WORK/run.log")"
out=$(st --json)
m=$(echo "$out" | jq_ 'd["mode"], d["pid"], d["table"]["flags"]')
check_detail status-owned "$m (run pid $RUN_PID)" eval '[ "$m" = "('"'"'owned'"'"', $RUN_PID, ['"'"'owner'"'"', '"'"'persist'"'"'])" ]'

nsx $CLI nft -f - <<'NFT'
table inet filter {
	chain input { type filter hook input priority 0; policy drop; ct state established accept; }
	chain output { type filter hook output priority 0; policy accept; }
}
table ip nat {
	chain postrouting { type nat hook postrouting priority 100; masquerade; }
}
NFT
out=$(st --json)
m=$(echo "$out" | jq_ '[(t["table"], t["chain"], t["policy"], t["can_block"]) for t in d["other_tables"]]')
check_detail status-other-tables "$m" eval '[ "$m" = "[('"'"'filter'"'"', '"'"'input'"'"', '"'"'drop'"'"', True), ('"'"'filter'"'"', '"'"'output'"'"', '"'"'accept'"'"', False)]" ]'
out=$(st)
check_detail status-other-tables-text "$(echo "$out" | grep 'chain input')" eval 'echo "$out" | grep -q "inet filter: chain input (hook input, type filter, priority 0, policy drop): can block what ifwall passes"'

kill -9 $RUN_PID; wait $RUN_PID 2>/dev/null
out=$(st --json); rc=$?
m=$(echo "$out" | jq_ 'd["mode"], d["pid"], d["table"]["flags"]')
check_detail status-orphaned "rc $rc: $m" eval '[ $rc -eq 0 ] && [ "$m" = "('"'"'orphaned'"'"', None, ['"'"'persist'"'"'])" ]'

nsx $CLI "$IFWALL" load "$WORK/ksp.rules"
m=$(st --json | jq_ 'd["mode"]')
check_detail status-load-over-orphan "a one-shot load over the orphan: $m" [ "$m" = unprotected ]

run_start "$WORK/run2.log" --watch || fail status-watch "$(cat "$WORK/run2.log")"
nsx $CLI nft delete table inet ifwall 2>/dev/null
wait_for 100 has_table
sleep 0.1
out=$(st --json)
m=$(echo "$out" | jq_ 'd["mode"], d["pid"], d["restores"]')
check_detail status-watching "$m" eval '[ "$m" = "('"'"'watching'"'"', $RUN_PID, 1)" ]'
nsx $CLI "$IFWALL" flush >/dev/null 2>&1; wait $RUN_PID
out=$(st); rc=$?
check_detail status-flushed "rc $rc after flush" eval '[ $rc -eq 1 ]'
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$IFWALL" status 2>&1); rc=$?
check_detail status-nonroot "rc $rc: $(echo "$out" | head -1)" eval '[ $rc -eq 3 ]'
