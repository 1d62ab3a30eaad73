#!/usr/bin/env bash
# ifwall log [--json] [-f]: rules and defaults with 'log' reach NFLOG group
# 27 with their FILE:LINE; 'ifwall log' prints verdict, dir, iface, proto,
# endpoints and rule, as text or JSON lines with the divert/tun --log
# fields; the kernel rate-limits what a rule logs (a flood is decided in
# full but logged at most ~burst + rate*seconds); one reader at a time; root
# only.
. "$(dirname "$0")/lib.sh"
need_root nftrun-log
net_setup || { fail nftrun-log-setup "could not build the test network"; exit 0; }
cat >"$WORK/log.rules" <<RULES
set default out block log
pass on lo all
pass out on tun0 proto udp to $TUN_ADDR port $PORT
block out log on eth0 proto udp to $LEAK_ADDR port $PORT
pass out log on tun0 proto udp to $TUN_ADDR port 9998
RULES
nsx $CLI "$IFWALL" load "$WORK/log.rules" || { fail nftrun-log-load "load failed"; exit 0; }
send() { nsx $CLI $PY -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(int(sys.argv[3])):
    try: s.sendto(b"x", (sys.argv[1], int(sys.argv[2])))
    except OSError: pass' "$@"; }

bg "$WORK/log.json" ip netns exec $CLI "$IFWALL" log --json -f
LOG=$LAST_PID
wait_for 100 grep -qs 'reading NFLOG' "$WORK/log.json"
send $LEAK_ADDR $PORT 1
send $TUN_ADDR 9998 1
send 192.168.7.9 5555 1
wait_for 100 eval '[ $(grep -c "^{" "$WORK/log.json") -ge 3 ]'
kill $LOG; wait $LOG 2>/dev/null
check_json() { $PY - "$WORK/log.json" "$@" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
want = sys.argv[2:]
keys = {"time", "backend", "verdict", "dir", "iface", "proto", "src", "sport", "dst", "dport", "rule", "text"}
for w in want:
    verdict, iface, dst, dport, rule = w.split(",")
    m = [o for o in lines if (o["verdict"], o["iface"], o["dst"], str(o["dport"])) == (verdict, iface, dst, dport)
         and (o["rule"] == rule or o["rule"].endswith(rule))]
    if not m:
        print("missing", w, "in", lines); sys.exit(1)
    if not keys <= set(m[0]):
        print("fields", sorted(set(m[0])), "lack", sorted(keys - set(m[0]))); sys.exit(1)
    if m[0]["backend"] != "nft" or m[0]["dir"] != "out" or m[0]["proto"] != "udp":
        print("wrong", m[0]); sys.exit(1)
print(len(lines), "lines")
PY
}
out=$(check_json "block,eth0,$LEAK_ADDR,$PORT,log.rules:4" "pass,tun0,$TUN_ADDR,9998,log.rules:5" \
	"block,eth0,192.168.7.9,5555,default" 2>&1)
check_detail log-json "rule block, rule pass, default block: $out" eval '[ $? -eq 0 ] && ! echo "$out" | grep -q missing'

bg "$WORK/log.txt" ip netns exec $CLI "$IFWALL" log
LOG=$LAST_PID
sleep 0.3
send $LEAK_ADDR $PORT 1
wait $LOG; rc=$?
line=$(grep '192\.168\.7\.1:9999' "$WORK/log.txt" | head -1)
check_detail log-text "rc $rc: $line" eval '[ $rc -eq 0 ] && echo "$line" | grep -qE "block +out +eth0 +udp +192\.168\.7\.2:[0-9]+ > 192\.168\.7\.1:9999 +.*log\.rules:4  block out log on eth0"'

# rate limit: 3000 packets in about a second to the logged block rule
bg "$WORK/flood.json" ip netns exec $CLI "$IFWALL" log --json -f
LOG=$LAST_PID
wait_for 100 grep -qs 'reading NFLOG' "$WORK/flood.json"
before=$(nsx $CLI "$IFWALL" show --json | $PY -c 'import json,sys; d=json.load(sys.stdin); print(sum(e["packets"] for e in d["rules"] if (e["rule"] or "").endswith("log.rules:4")))' 2>/dev/null)
t0=$(date +%s%N)
send $LEAK_ADDR $PORT 3000
secs=$(( ($(date +%s%N) - t0) / 1000000 ))
sleep 0.5; kill $LOG; wait $LOG 2>/dev/null
after=$(nsx $CLI "$IFWALL" show --json | $PY -c 'import json,sys; d=json.load(sys.stdin); print(sum(e["packets"] for e in d["rules"] if (e["rule"] or "").endswith("log.rules:4")))' 2>/dev/null)
logged=$(grep -c '^{' "$WORK/flood.json")
limit=$(( 100 + 20 * (secs / 1000 + 2) ))
check_detail log-rate-limit "3000 packets in ${secs} ms: all decided by the rule ($((after - before)) counted), $logged logged (at most $limit)" \
	eval '[ $((after - before)) -eq 3000 ] && [ "$logged" -le "$limit" ] && [ "$logged" -ge 50 ]'

bg "$WORK/one.out" ip netns exec $CLI "$IFWALL" log -f
wait_for 100 grep -qs 'reading NFLOG' "$WORK/one.out"
out=$(nsx $CLI "$IFWALL" log 2>&1); rc=$?
kill $LAST_PID; wait $LAST_PID 2>/dev/null
check_detail log-one-reader "second reader: rc $rc: $out" eval '[ $rc -eq 3 ] && echo "$out" | grep -q "another process"'
out=$(nsx $CLI setpriv --reuid=65534 --regid=65534 --clear-groups "$IFWALL" log 2>&1); rc=$?
check_detail log-nonroot "rc $rc" [ $rc -eq 3 ]
