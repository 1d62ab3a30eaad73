#!/usr/bin/env bash
# While 'ifwall run --backend divert' runs, its table is its own: flush and
# load refuse, naming its pid (cli.md), and show names it; a change another
# process makes to inet ifwall_divert (deleted, a chain flushed, a rule
# inserted) is undone at once and reported, and filtering goes on.
source "$(dirname "$0")/lib.sh"
divert_require_root owner-flush-refused owner-load-refused owner-show-names-divert \
	owner-restores-deleted-table owner-restores-flushed-chain owner-restores-inserted-rule \
	owner-no-spurious-restores

cat >"$TMP/r.rules" <<'R'
pass out proto tcp to 10.1.0.2 port 80
R
printf 'pass out all\n' >"$TMP/open.rules"
divert_topology
start_peer b tcp:80,83
start_divert a "$TMP/r.rules" || { fail owner-flush-refused "ifwall run did not start: $(cat "$DIVERT_ERR")"; exit 0; }
# Some traffic first: the kernel's own additions to the set are no change.
probe a 1 tcp:10.1.0.2:80 tcp:10.1.0.2:80 >/dev/null

err=$(in_ns a "$IFWALL" flush 2>&1); rc=$?
v=$(probe a 1 tcp:10.1.0.2:83 | awk '{print $2}')
if [ $rc -eq 3 ] && grep -q "pid $DIVERT_PID" <<<"$err" && table_exists a && [ "$v" = block ]; then
	pass owner-flush-refused
else
	fail owner-flush-refused "flush: exit $rc ($err); table $(table_exists a && echo stays || echo gone); port 83: $v (want exit 3 naming pid $DIVERT_PID, table stays, block)"
fi

err=$(in_ns a "$IFWALL" load "$TMP/open.rules" 2>&1); rc=$?
if [ $rc -eq 3 ] && grep -q "pid $DIVERT_PID" <<<"$err" &&
   ! in_ns a nft list table inet ifwall >/dev/null 2>&1; then
	pass owner-load-refused
else
	fail owner-load-refused "load: exit $rc ($err); table inet ifwall $(in_ns a nft list table inet ifwall >/dev/null 2>&1 && echo loaded || echo absent)"
fi

out=$(in_ns a "$IFWALL" show 2>&1); json=$(in_ns a "$IFWALL" show --json 2>&1)
if grep -q "ifwall_divert.*pid $DIVERT_PID" <<<"$out" &&
   /usr/bin/python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["divert"]["pid"] == int(sys.argv[2])' "$json" "$DIVERT_PID"; then
	pass owner-show-names-divert
else
	fail owner-show-names-divert "show: $out / $json"
fi

restored() { [ "$(grep -c 'restored it' "$DIVERT_ERR")" -ge "$1" ]; }
queue_rules() { in_ns a nft list chain inet ifwall_divert output 2>/dev/null | grep -c 'queue\|NFQUEUE'; }
want_queue=$(queue_rules)

in_ns a nft delete table inet ifwall_divert
if wait_for 2 restored 1 && wait_for 2 table_exists a &&
   [ "$(probe a 1 tcp:10.1.0.2:83 tcp:10.1.0.2:80 | awk '{printf "%s ", $2}')" = "block pass " ]; then
	pass "owner-restores-deleted-table: $(grep -m1 'restored it' "$DIVERT_ERR")"
else
	fail owner-restores-deleted-table "table $(table_exists a && echo back || echo gone); messages: $(tr '\n' ' ' <"$DIVERT_ERR")"
fi

in_ns a nft flush chain inet ifwall_divert output
same_queue() { [ "$(queue_rules)" = "$want_queue" ]; }
if wait_for 2 restored 2 && wait_for 2 same_queue &&
   [ "$(probe a 1 tcp:10.1.0.2:83 | awk '{print $2}')" = block ]; then
	pass owner-restores-flushed-chain
else
	fail owner-restores-flushed-chain "queue rules in output: $(queue_rules) (want $want_queue); $(tail -2 "$DIVERT_ERR" | tr '\n' ' ')"
fi

in_ns a nft insert rule inet ifwall_divert output accept
no_bare_accept() { ! in_ns a nft list chain inet ifwall_divert output | grep -qE '^[[:space:]]+accept$'; }
if wait_for 2 restored 3 && wait_for 2 no_bare_accept &&
   [ "$(probe a 1 tcp:10.1.0.2:83 | awk '{print $2}')" = block ]; then
	pass owner-restores-inserted-rule
else
	fail owner-restores-inserted-rule "$(in_ns a nft list chain inet ifwall_divert output | head -5 | tr '\n' ' ')"
fi

# Nothing else is taken for a change: traffic, a reload (SIGHUP checks the
# table too) and 6 s (a periodic check) later, still 3 restores.
probe a 1 tcp:10.1.0.2:80 tcp:10.1.0.2:83 >/dev/null
kill -HUP "$DIVERT_PID"
sleep 6
n=$(grep -c 'restored it' "$DIVERT_ERR")
if [ "$n" -eq 3 ] && kill -0 "$DIVERT_PID"; then pass owner-no-spurious-restores
else fail owner-no-spurious-restores "$n restores for 3 changes: $(grep 'restored it' "$DIVERT_ERR" | tr '\n' ' ')"; fi
