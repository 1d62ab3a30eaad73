#!/usr/bin/env bash
# ifwall table on a running divert backend (cli.md: "for a running divert or
# tun process, through the control socket of the owning process"): the rule
# set lives in the process, so show, test and changes reach it through its
# control socket; a change is in force for the next new flow, the rules are
# not reloaded, and an existing flow to a removed address stops.
source "$(dirname "$0")/lib.sh"
divert_require_root table-empty-blocks table-replace table-show table-test table-flush table-unknown \
	table-existing-flow-stops table-libifwall

RULES=$TMP/t.rules
printf 'table <servers> { }\npass out proto tcp to <servers> port 80\n' >"$RULES"
divert_topology
start_peer b tcp:80
start_divert a "$RULES" || { fail table-empty-blocks "ifwall run did not start: $(cat "$DIVERT_ERR")"; exit 0; }

v=$(probe a 1 tcp:10.1.0.2:80 | awk '{print $2}')
[ "$v" != pass ] && pass table-empty-blocks || fail table-empty-blocks "empty table: $v"

out=$(in_ns a "$IFWALL" table servers replace 10.1.0.2 2>&1); rc=$?
v=$(probe a 2 tcp:10.1.0.2:80 | awk '{print $2}')
if [ $rc -eq 0 ] && [ "$v" = pass ]; then pass table-replace
else fail table-replace "rc $rc ($out), then $v"; fi
out=$(in_ns a "$IFWALL" table servers show 2>&1)
[ "$out" = 10.1.0.2 ] && pass table-show || fail table-show "show: '$out'"
in_ns a "$IFWALL" table servers test 10.1.0.2; a=$?
in_ns a "$IFWALL" table servers test 10.1.0.9; b=$?
[ $a -eq 0 ] && [ $b -eq 1 ] && pass table-test || fail table-test "present $a, absent $b"

# an open connection to the server, then the server removed: its next
# exchange gets no answer
ip netns exec "$(ns a)" /usr/bin/python3 "$TOP/tests/kernel/divert/session.py" 10.1.0.2 80 0.2 40 >"$TMP/session.out" 2>&1 &
session=$!
wait_for 20 grep -q ' ok$' "$TMP/session.out"
out=$(in_ns a "$IFWALL" table servers flush 2>&1); rc=$?
v=$(probe a 1 tcp:10.1.0.2:80 | awk '{print $2}')
if [ $rc -eq 0 ] && [ "$v" != pass ]; then pass table-flush; else fail table-flush "rc $rc ($out), then $v"; fi
wait "$session"
if grep -q 'fail\|timeout\|closed' "$TMP/session.out" || [ "$(grep -c ' ok$' "$TMP/session.out")" -lt 40 ]; then
	pass table-existing-flow-stops "$(grep -c ' ok$' "$TMP/session.out") exchanges before it stopped"
else fail table-existing-flow-stops "the session went on: $(tail -2 "$TMP/session.out")"; fi

out=$(in_ns a "$IFWALL" table nosuch show 2>&1); rc=$?
[ $rc -eq 2 ] && pass table-unknown || fail table-unknown "rc $rc: $out"

# libifwall: ifw_running_table_change reaches the same process
cat >"$TMP/lib.c" <<'C'
#include <ifwall.h>
#include <stdio.h>
int main(void)
{
	const char *addrs[] = { "10.1.0.2" };
	struct ifw_error err = { 0 };
	int rc = ifw_running_table_change("divert", "servers", IFW_TABLE_REPLACE, addrs, 1, &err);
	if (rc) fprintf(stderr, "%d %s\n", rc, err.message);
	return rc ? 1 : 0;
}
C
O=${O:-build}
san=; case $O in *san*) san="-fsanitize=address,undefined -fno-omit-frame-pointer" ;; esac
if ${CC:-cc} -std=gnu11 -Wall -Werror $san -I"$TOP/tools/lib" -o "$TMP/lib" "$TMP/lib.c" -L"$TOP/$O" -lifwall \
	-Wl,-rpath,"$TOP/$O" 2>"$TMP/lib.err"; then
	out=$(in_ns a "$TMP/lib" 2>&1); rc=$?
	v=$(probe a 2 tcp:10.1.0.2:80 | awk '{print $2}')
	if [ $rc -eq 0 ] && [ "$v" = pass ]; then pass table-libifwall
	else fail table-libifwall "rc $rc ($out), then $v"; fi
else fail table-libifwall "build: $(head -3 "$TMP/lib.err")"; fi
