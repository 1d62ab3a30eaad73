#!/usr/bin/env bash
# ifwall table on a running tun backend: the rule set lives in the process,
# so show, test and changes reach it through its control socket; a change
# is in force for the client's next connection, without a reload.
set -u
. "$TOP/tests/kernel/tun/lib.sh"
require_root tun-table
trap cleanup EXIT
topology || { fail tun-table/topology "could not build the namespaces"; exit 0; }

rules=$TUNLOG/table.rules
cat >"$rules" <<'RULES'
table <servers> { }
pass out proto tcp to <servers> port 8080
RULES
start_ifwall "$rules" || { fail tun-table/start "$(cat "$TUNLOG/err")"; exit 0; }
in_ns $NS_W $PY "$PEER" serve W 192.0.2.1 >/dev/null 2>&1 &
wait_serving $NS_W 1
tcp_to() { client tcp 192.0.2.1 8080 "$1" 2>/dev/null | awk '{print $1; exit}'; }

got=$(tcp_to 1.5)
[ "$got" != ok ] && pass tun-table/empty-blocks || fail tun-table/empty-blocks "empty table: $got"
out=$(in_ns $NS_H "$IFWALL" table servers replace 192.0.2.1 2>&1); rc=$?
got=$(tcp_to 10)
if [ $rc -eq 0 ] && [ "$got" = ok ]; then pass tun-table/replace; else fail tun-table/replace "rc $rc ($out), then $got"; fi
out=$(in_ns $NS_H "$IFWALL" table servers show 2>&1)
[ "$out" = 192.0.2.1 ] && pass tun-table/show || fail tun-table/show "'$out'"
out=$(in_ns $NS_H "$IFWALL" table servers flush 2>&1); rc=$?
got=$(tcp_to 1.5)
if [ $rc -eq 0 ] && [ "$got" != ok ]; then pass tun-table/flush; else fail tun-table/flush "rc $rc ($out), then $got"; fi
grep -q 'reloaded' "$TUNLOG/err" && fail tun-table/no-reload "the rules were reloaded" || pass tun-table/no-reload
