#!/usr/bin/env bash
# ifwall table on the table 'run --backend nft' owns (issue 15): only the
# owner's socket may change an owned table, so the change goes to the
# running process through its control socket. The endpoint-style table
# opens the link to one address: replace it in and out under traffic, and
# nothing else changes (the rules stay, the process keeps the ownership).
. "$(dirname "$0")/lib.sh"
need_root nftrun-table
net_setup || { fail nftrun-table-setup "could not build the test network"; exit 0; }
cat >"$KS_RULES" <<RULES
table <servers> { }
set default block
set block-policy drop
pass on lo all
pass out on eth0 proto udp to <servers> port $PORT
pass out on tun0 all
RULES
run_start "$WORK/run.log" || { fail nftrun-table-start "$(cat "$WORK/run.log")"; exit 0; }
n=$(probe_burst $LEAK_ADDR 0.1)
check_detail nftrun-table-empty "empty table: $n probes arrived" [ "$n" -eq 0 ]

handles() { nsx $CLI nft -a list chain inet ifwall output 2>/dev/null | grep -o 'handle [0-9]*' | tr '\n' ' '; }
h0=$(handles)
out=$(nsx $CLI "$IFWALL" table servers replace $LEAK_ADDR 2>&1); rc=$?
n=$(probe_burst $LEAK_ADDR 0.1)
check_detail nftrun-table-replace "replace through the owner: rc $rc ($out), $n probes arrived, owner $(table_flags)" \
	eval '[ $rc -eq 0 ] && [ "$n" -gt 20 ] && [ "$(table_flags)" = owner ] && kill -0 $RUN_PID'
out=$(nsx $CLI "$IFWALL" table servers show 2>&1)
check_detail nftrun-table-show "show: $out" [ "$out" = "$LEAK_ADDR" ]
nsx $CLI "$IFWALL" table servers test $LEAK_ADDR; rc=$?
check_detail nftrun-table-test "test present: rc $rc" [ $rc -eq 0 ]
out=$(nsx $CLI "$IFWALL" table servers flush 2>&1); rc=$?
n=$(probe_burst $LEAK_ADDR 0.1)
check_detail nftrun-table-flush "flush through the owner: rc $rc, $n probes arrived" eval '[ $rc -eq 0 ] && [ "$n" -eq 0 ]'
nsx $CLI "$IFWALL" table servers test $LEAK_ADDR; rc=$?
check_detail nftrun-table-test-absent "test absent: rc $rc" [ $rc -eq 1 ]
check_detail nftrun-table-no-reload "the rules were not reloaded (handles '$h0' -> '$(handles)')" [ "$h0" = "$(handles)" ]
out=$(nsx $CLI "$IFWALL" table nosuch add 10.0.0.1 2>&1); rc=$?
check_detail nftrun-table-unknown "unknown table: rc $rc: $(echo "$out" | head -1)" [ $rc -eq 2 ]
# a foreign process cannot change the owned set directly
out=$(nsx $CLI nft add element inet ifwall servers_v4 { $LEAK_ADDR } 2>&1); rc=$?
check_detail nftrun-table-foreign "nft add element refused: rc $rc" [ $rc -ne 0 ]
kill -TERM $RUN_PID; wait $RUN_PID 2>/dev/null
nsx $CLI "$IFWALL" flush >/dev/null 2>&1
