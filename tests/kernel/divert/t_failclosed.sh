#!/usr/bin/env bash
# Fail closed: after kill -9 of 'ifwall run --backend divert' new flows are
# dropped (the table stays and nobody listens on the queue) while flows it
# had passed go on in the kernel; with --fail-open they pass. SIGTERM and
# SIGINT exit 0 and fail closed the same way; only flush (or --fail-open)
# opens.
source "$(dirname "$0")/lib.sh"
divert_require_root kill9-new-flow-dropped kill9-table-stays kill9-passed-flow-continues \
	fail-open-passes sigterm-exit-0 sigterm-fails-closed sigint-exit-0 sigint-fails-closed \
	kill9-count restart-adopts flush-opens fail-open-stop-removes

cat >"$TMP/r.rules" <<'R'
pass out proto tcp to 10.1.0.2 port 80
pass out proto udp to 10.1.0.2 port 53
R
divert_topology
start_peer b tcp:80,83

start_divert a "$TMP/r.rules" || { fail kill9-new-flow-dropped "ifwall run did not start: $(cat "$DIVERT_ERR")"; exit 0; }
ip netns exec "$(ns a)" /usr/bin/python3 "$TOP/tests/kernel/divert/session.py" 10.1.0.2 80 0.2 15 >"$TMP/session.out" 2>&1 &
session=$!
wait_for 20 grep -q ' ok$' "$TMP/session.out"
before=$(probe a 1 tcp:10.1.0.2:80 | awk '{print $2}')
kill -9 "$DIVERT_PID"; wait "$DIVERT_PID" 2>/dev/null
after=$(probe a 1 tcp:10.1.0.2:80 | awk '{print $2}')
if [ "$before $after" = "pass block" ]; then pass kill9-new-flow-dropped
else fail kill9-new-flow-dropped "new connection before kill: $before, after: $after (want pass block)"; fi
check kill9-table-stays table_exists a
wait "$session"
# The session runs 3 s; its second half is after the kill.
lost=$(grep -c ' lost$' "$TMP/session.out"); oks=$(grep -c ' ok$' "$TMP/session.out")
if [ "$lost" -eq 0 ] && [ "$oks" -eq 15 ]; then pass kill9-passed-flow-continues
else fail kill9-passed-flow-continues "$oks ok, $lost lost: $(tr '\n' ' ' <"$TMP/session.out")"; fi

start_divert a --fail-open "$TMP/r.rules" || { fail fail-open-passes "ifwall run did not start: $(cat "$DIVERT_ERR")"; exit 0; }
running=$(probe a 1 tcp:10.1.0.2:80 tcp:10.1.0.2:83 | awk '{printf "%s ", $2}')
kill -9 "$DIVERT_PID"; wait "$DIVERT_PID" 2>/dev/null
dead=$(probe a 1 tcp:10.1.0.2:80 tcp:10.1.0.2:83 | awk '{printf "%s ", $2}')
if [ "$running" = "pass block " ] && [ "$dead" = "pass pass " ]; then pass fail-open-passes
else fail fail-open-passes "while running: $running; after kill -9: $dead (want pass block, pass pass)"; fi

# A clean stop fails closed too (cli.md: rules stay when the process
# exits): SIGTERM (systemctl stop) and SIGINT (Ctrl-C) leave the table, and
# no new flow passes, allowed or not, TCP or UDP, until 'ifwall flush'.
# PROBES: the new connections tried after each stop.
PROBES="tcp:10.1.0.2:80 tcp:10.1.0.2:83 udp:10.1.0.2:53 tcp:10.1.0.2:80 udp:10.1.0.2:53 tcp:10.1.0.2:83"
nprobes=$(wc -w <<<"$PROBES")
through() { probe a 1 $PROBES | awk '$2 == "pass"' | wc -l; }
start_peer b udp:53
for sig in TERM INT; do
	c=$(tr A-Z a-z <<<"$sig")
	start_divert a "$TMP/r.rules" || { fail sig$c-exit-0 "ifwall run did not start: $(cat "$DIVERT_ERR")"; continue; }
	running=$(probe a 1 tcp:10.1.0.2:80 | awk '{print $2}')
	kill -$sig "$DIVERT_PID"; wait "$DIVERT_PID"; rc=$?
	if [ "$rc" -eq 0 ]; then pass sig$c-exit-0; else fail sig$c-exit-0 "exit code $rc: $(cat "$DIVERT_ERR")"; fi
	n=$(through)
	if [ "$running" = pass ] && table_exists a && [ "$n" -eq 0 ] && grep -q 'stays' "$DIVERT_ERR"; then
		pass "sig$c-fails-closed: $n of $nprobes new connections got through after SIG$sig (table stays)"
	else
		fail sig$c-fails-closed "while running: $running (want pass); table: $(table_exists a && echo stays || echo gone); $n of $nprobes new connections got through after SIG$sig (want 0)"
	fi
done
# The same count after kill -9.
start_divert a "$TMP/r.rules" || { fail kill9-count "ifwall run did not start: $(cat "$DIVERT_ERR")"; exit 0; }
kill -9 "$DIVERT_PID"; wait "$DIVERT_PID" 2>/dev/null
n=$(through)
if [ "$n" -eq 0 ]; then pass "kill9-count: $n of $nprobes new connections got through after kill -9"
else fail kill9-count "$n of $nprobes new connections got through after kill -9 (want 0)"; fi

# A new run takes the stopped one's table over and decides again.
start_divert a "$TMP/r.rules" || { fail restart-adopts "ifwall run did not start over the stopped table: $(cat "$DIVERT_ERR")"; exit 0; }
v=$(probe a 1 tcp:10.1.0.2:80 tcp:10.1.0.2:83 | awk '{printf "%s ", $2}')
if [ "$v" = "pass block " ]; then pass restart-adopts
else fail restart-adopts "after a restart over the stopped table: $v (want pass block)"; fi
stop_quietly "$DIVERT_PID"

# Only flush opens: it removes the table of a divert that no longer runs.
in_ns a "$IFWALL" flush; rc=$?
v=$(probe a 1 tcp:10.1.0.2:83 | awk '{print $2}')
if [ $rc -eq 0 ] && ! table_exists a && [ "$v" = pass ]; then pass flush-opens
else fail flush-opens "flush exit $rc; table $(table_exists a && echo stays || echo gone); port 83: $v (want pass)"; fi

# --fail-open: a clean stop removes the table.
start_divert a --fail-open "$TMP/r.rules" || { fail fail-open-stop-removes "ifwall run did not start: $(cat "$DIVERT_ERR")"; exit 0; }
kill -TERM "$DIVERT_PID"; wait "$DIVERT_PID"
if ! table_exists a; then pass fail-open-stop-removes
else fail fail-open-stop-removes "table inet ifwall_divert still there after SIGTERM with --fail-open"; fi
