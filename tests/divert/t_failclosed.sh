#!/usr/bin/env bash
# Fail closed: after kill -9 of 'ifwall run --backend divert' new flows are
# dropped (the table stays and nobody listens on the queue) while flows it
# had passed go on in the kernel; with --fail-open they pass. SIGTERM
# removes the table and exits 0.
source "$(dirname "$0")/lib.sh"
divert_require_root kill9-new-flow-dropped kill9-table-stays kill9-passed-flow-continues \
	fail-open-passes sigterm-exit-0 sigterm-removes-table

cat >"$TMP/r.rules" <<'R'
pass out proto tcp to 10.1.0.2 port 80
R
divert_topology
start_peer b tcp:80,83

start_divert a "$TMP/r.rules" || { fail kill9-new-flow-dropped "ifwall run did not start: $(cat "$DIVERT_ERR")"; exit 0; }
ip netns exec "$(ns a)" /usr/bin/python3 "$TOP/tests/divert/session.py" 10.1.0.2 80 0.2 15 >"$TMP/session.out" 2>&1 &
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

start_divert a "$TMP/r.rules" || { fail sigterm-exit-0 "ifwall run did not start: $(cat "$DIVERT_ERR")"; exit 0; }
kill -TERM "$DIVERT_PID"; wait "$DIVERT_PID"; rc=$?
if [ "$rc" -eq 0 ]; then pass sigterm-exit-0; else fail sigterm-exit-0 "exit code $rc: $(cat "$DIVERT_ERR")"; fi
if ! table_exists a &&
   [ "$(probe a 1 tcp:10.1.0.2:83 | awk '{print $2}')" = pass ]; then pass sigterm-removes-table
else fail sigterm-removes-table "table still there or traffic still filtered"; fi
