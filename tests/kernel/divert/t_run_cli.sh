#!/usr/bin/env bash
# ifwall run's command line: usage errors exit 2 before anything is touched,
# a rule file with errors exits 2 with its diagnostics; as root, --queue
# picks the queue, a queue another process holds exits 3 and leaves the
# running one alone, and --log - writes the JSON lines to stdout.
source "$(dirname "$0")/lib.sh"

expect_exit() { # NAME CODE PATTERN ARGS...: exit code and a stderr pattern
	local name=$1 code=$2 pattern=$3; shift 3
	local err rc
	err=$("$IFWALL" run "$@" 2>&1 >/dev/null); rc=$?
	if [ $rc -eq "$code" ] && grep -qE -- "$pattern" <<<"$err"; then pass "$name"
	else fail "$name" "exit $rc (want $code), stderr: $err"; fi
}
echo 'pass all' >"$TMP/ok.rules"
printf 'pass all\npass out proto tcp to any port 70000\n' >"$TMP/bad.rules"
expect_exit run-help 0 '' -h
expect_exit run-no-backend 2 'backend' "$TMP/ok.rules"
expect_exit run-unknown-backend 2 "unknown backend 'bogus'" --backend bogus "$TMP/ok.rules"
expect_exit run-no-rules 2 'RULES' --backend divert
expect_exit run-bad-queue 2 'queue' --backend divert --queue 70000 "$TMP/ok.rules"
expect_exit run-bad-option 2 "unknown option '--nope'" --backend divert --nope "$TMP/ok.rules"
expect_exit run-backend-equals 2 "unknown backend 'bogus'" --backend=bogus "$TMP/ok.rules"
expect_exit run-queue-equals 2 "'70000' is not a queue" --backend=divert --queue=70000 "$TMP/ok.rules"
expect_exit run-empty-value 2 '--backend needs a value' --backend= "$TMP/ok.rules"
expect_exit run-flag-with-value 2 '--fail-open takes no value' --backend=divert --fail-open=yes "$TMP/ok.rules"
expect_exit run-bad-rules 2 'bad\.rules:2:[0-9]+: error:' --backend divert "$TMP/bad.rules"
expect_exit run-missing-rules 2 'nosuch' --backend divert "$TMP/nosuch.rules"
# Without CAP_NET_ADMIN: a system error that says what is missing. As root,
# nobody runs copies of the binary and rules (the checkout may be 0700).
chmod 644 "$TMP/ok.rules"   # whatever the umask: root's runs below trust it
if [ "$(id -u)" -ne 0 ]; then as_user= user_dir=$TMP user_ifwall=$IFWALL
elif command -v setpriv >/dev/null; then
	as_user="setpriv --reuid=65534 --regid=65534 --clear-groups"
	user_dir=$(other_user_dir); CLEANUP+=("rm -rf $user_dir")
	give_other_user "$user_dir" "$IFWALL" "$TMP/ok.rules"; user_ifwall=$user_dir/ifwall
else as_user=skip; fi
if [ "$as_user" = skip ]; then skip run-needs-cap-net-admin "needs setpriv"
else
	err=$($as_user "$user_ifwall" run --backend divert "$user_dir/ok.rules" 2>&1); rc=$?
	if [ $rc -eq 3 ] && grep -q CAP_NET_ADMIN <<<"$err"; then pass run-needs-cap-net-admin
	else fail run-needs-cap-net-admin "exit $rc: $err"; fi
fi

divert_require_root run-queue-number run-queue-busy run-second-instance-refused run-log-stdout
divert_topology
start_peer b tcp:80
ip netns exec "$(ns a)" "$IFWALL" run --backend divert --queue 7 --log - "$TMP/ok.rules" \
	>"$TMP/stdout.json" 2>"$TMP/first.err" &
first=$!
CLEANUP+=("stop_quietly $first")
wait_for 20 grep -q 'ready$' "$TMP/first.err"
v=$(probe a 1 tcp:10.1.0.2:80 | awk '{print $2}')
if [ "$v" = pass ] && grep -q 'NFQUEUE 7 ' "$TMP/first.err"; then pass run-queue-number
else fail run-queue-number "connection through queue 7: $v; $(cat "$TMP/first.err")"; fi
err=$(in_ns a "$IFWALL" run --backend divert --queue 7 "$TMP/ok.rules" 2>&1); rc=$?
v=$(probe a 1 tcp:10.1.0.2:80 | awk '{print $2}')
if [ $rc -eq 3 ] && grep -q 'another process' <<<"$err" && [ "$v" = pass ] && table_exists a; then
	pass run-queue-busy
else fail run-queue-busy "exit $rc: $err; afterwards: $v"; fi
# Another queue, but the table is the running one's: refused, untouched.
err=$(in_ns a "$IFWALL" run --backend divert --queue 8 "$TMP/ok.rules" 2>&1); rc=$?
v=$(probe a 1 tcp:10.1.0.2:80 | awk '{print $2}')
if [ $rc -eq 3 ] && grep -q "pid $first" <<<"$err" && [ "$v" = pass ]; then
	pass run-second-instance-refused
else fail run-second-instance-refused "exit $rc: $err; afterwards: $v"; fi
stop_quietly "$first"
check run-log-stdout /usr/bin/python3 -c '
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
# The connections, among what else went through the engine (IPv6
# neighbour discovery and MLD, untracked, are decided too).
tcp = [o for o in lines if o["proto"] == "tcp"]
assert len(tcp) >= 2 and all(o["verdict"] == "pass" and o["dport"] == 80 for o in tcp), lines' "$TMP/stdout.json"
