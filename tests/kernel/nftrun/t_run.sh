#!/usr/bin/env bash
# ifwall run --backend nft: the table is owned by the process (owner and
# persist flags), so other processes cannot flush, delete or change it;
# kill -9 and SIGTERM leave it (fail closed); a new run adopts it; SIGHUP and
# 'ifwall load' through the control socket reload it; the control socket is
# root's; 'ifwall flush' through it removes the table and ends the process;
# --watch (the mode of kernels without the flags) restores a deleted table
# within milliseconds; readiness reaches $NOTIFY_SOCKET; a stop/start of the
# process (a service restart) never lets a probe through.
# Traffic: the client sends UDP probes 1/ms to the far side on its physical
# link (each one that arrives is a leak) and through the tunnel (must arrive).
. "$(dirname "$0")/lib.sh"
need_root nftrun
net_setup || { fail nftrun-setup "could not build the test network"; exit 0; }

# The detector works: with no firewall, probes on the link arrive.
n=$(probe_burst $LEAK_ADDR 0.2)
check_detail nftrun-detector "$n of ~200 link probes arrived with no firewall" [ "$n" -gt 50 ]

# --- owned ---------------------------------------------------------------------
run_start "$WORK/run1.log" || { fail nftrun-start "$(cat "$WORK/run1.log")"; exit 0; }
grep -q 'owned by this process' "$WORK/run1.log" &&
	check_detail nftrun-owned "flags: $(table_flags)" [ "$(table_flags)" = owner ] ||
	fail nftrun-owned "$(head -3 "$WORK/run1.log")"
leak=$(probe_burst $LEAK_ADDR 0.2) tun=$(probe_burst $TUN_ADDR 0.2)
check_detail nftrun-enforced "leaked $leak, tunnel $tun" [ "$leak" -eq 0 -a "$tun" -gt 50 ]

nsx $CLI nft flush ruleset 2>/dev/null
leak=$(probe_burst $LEAK_ADDR 0.2)
check_detail nftrun-foreign-flush "nft flush ruleset: table kept, leaked $leak" eval 'has_table && [ "$leak" -eq 0 ]'
out=$(nsx $CLI nft delete table inet ifwall 2>&1); rc=$?
check_detail nftrun-foreign-delete "nft delete table: rc $rc, table kept" eval '[ $rc -ne 0 ] && has_table'
out=$(nsx $CLI nft add rule inet ifwall output accept 2>&1); rc=$?
check_detail nftrun-foreign-change "nft add rule: rc $rc ($(echo "$out" | head -1))" eval '[ $rc -ne 0 ] && echo "$out" | grep -q "not permitted"'

# --- reload: SIGHUP and load through the control socket -----------------------
cp "$KS_RULES" "$WORK/ks.orig"
echo "pass out on eth0 proto udp to $LEAK_ADDR port $PORT" >>"$KS_RULES"
kill -HUP $RUN_PID
wait_for 100 grep -qs 'loaded .*(3 rules)' "$WORK/run1.log"
n=$(probe_burst $LEAK_ADDR 0.1)
check_detail nftrun-sighup "after SIGHUP with a pass rule: $n probes arrived" [ "$n" -gt 20 ]
cp "$WORK/ks.orig" "$KS_RULES"
out=$(nsx $CLI "$IFWALL" load "$KS_RULES" 2>&1); rc=$?
n=$(probe_burst $LEAK_ADDR 0.1)
check_detail nftrun-load-forwarded "ifwall load via control socket: rc $rc, $n probes arrived, owner still $(table_flags)" \
	eval '[ $rc -eq 0 ] && [ "$n" -eq 0 ] && [ "$(table_flags)" = owner ] && kill -0 $RUN_PID'
printf 'pass out on eth0 all\nblock in bogus\n' >"$WORK/bad.rules"
out=$(nsx $CLI "$IFWALL" load "$WORK/bad.rules" 2>&1); rc=$?
check_detail nftrun-load-forwarded-error "a bad file through the socket: rc $rc, diagnostics relayed" \
	eval '[ $rc -eq 2 ] && echo "$out" | grep -q "bad.rules:2"'
n=$(probe_burst $LEAK_ADDR 0.1)
check_detail nftrun-load-error-kept "previous rules kept: $n leaked" [ "$n" -eq 0 ]

# --- the control socket is root's ----------------------------------------------
ino=$(nsx $CLI stat -L -c %i /proc/self/ns/net)
sock=/run/ifwall/netns-$ino/nft.sock
check_detail nftrun-socket-mode "$sock $(stat -c '%a %U' "$sock" 2>&1)" [ "$(stat -c '%a %U' "$sock" 2>/dev/null)" = "600 root" ]
out=$(nsx $CLI setpriv --reuid=65534 --regid=65534 --clear-groups "$IFWALL" load "$KS_RULES" 2>&1); rc=$?
check_detail nftrun-nonroot-load "as nobody: rc $rc: $(echo "$out" | head -1)" eval '[ $rc -eq 3 ]'
out=$(nsx $CLI "$IFWALL" run --backend nft "$KS_RULES" 2>&1); rc=$?
check_detail nftrun-second-run "a second run refused: rc $rc: $out" eval '[ $rc -eq 3 ] && echo "$out" | grep -q "pid $RUN_PID"'

# --- kill -9, adoption, SIGTERM --------------------------------------------------
kill -9 $RUN_PID; wait $RUN_PID 2>/dev/null
leak=$(probe_burst $LEAK_ADDR 0.2)
check_detail nftrun-kill9 "table after kill -9: $(has_table && echo present), flags '$(table_flags)', leaked $leak" \
	eval 'has_table && [ -z "$(table_flags)" ] && [ "$leak" -eq 0 ]'
run_start "$WORK/run2.log" || fail nftrun-adopt "$(cat "$WORK/run2.log")"
nsx $CLI nft flush ruleset 2>/dev/null
check_detail nftrun-adopt "a new run owns the orphan: flags $(table_flags), survives flush ruleset" \
	eval '[ "$(table_flags)" = owner ] && has_table'
kill -TERM $RUN_PID; wait $RUN_PID; rc=$?
leak=$(probe_burst $LEAK_ADDR 0.2)
check_detail nftrun-sigterm "exit $rc, table kept, leaked $leak" eval '[ $rc -eq 0 ] && has_table && [ "$leak" -eq 0 ]'

# --- restart without a window: probes through 5 stop/start cycles ------------------
run_start "$WORK/run3.log"
before=$(received $LEAK_ADDR) tbefore=$(received $TUN_ADDR)
bg "$WORK/send-leak.out" nsx $CLI $PY "$PROBE" send $LEAK_ADDR $PORT 4 0.5
SEND1=$LAST_PID
bg "$WORK/send-tun.out" nsx $CLI $PY "$PROBE" send $TUN_ADDR $PORT 4 0.5
SEND2=$LAST_PID
for i in 1 2 3 4 5; do
	kill -TERM $RUN_PID; wait $RUN_PID 2>/dev/null
	run_start "$WORK/run3-$i.log" || fail nftrun-restart "start $i: $(cat "$WORK/run3-$i.log")"
done
wait $SEND1 $SEND2; sleep 0.2
sent=$(cat "$WORK/send-leak.out") leak=$(( $(received $LEAK_ADDR) - before ))
tun=$(( $(received $TUN_ADDR) - tbefore ))
check_detail nftrun-restart-no-window "5 stop/start cycles: $sent link probes, $leak leaked; $tun tunnel probes arrived" \
	eval '[ "$leak" -eq 0 ] && [ "$tun" -gt 1000 ]'

# --- flush through the control socket ----------------------------------------------
out=$(nsx $CLI "$IFWALL" flush 2>&1); rc=$?
wait $RUN_PID; prc=$?
check_detail nftrun-flush-forwarded "rc $rc, run exited $prc, table $(has_table && echo present || echo gone): $out" \
	eval '[ $rc -eq 0 ] && [ $prc -eq 0 ] && ! has_table'

# --- readiness to systemd ------------------------------------------------------------
bg "$WORK/notify.out" $PY "$PROBE" notify "$WORK/notify.sock" "$WORK/notify.log"
wait_for 100 grep -qs ready "$WORK/notify.out"
NOTIFY_SOCKET=$WORK/notify.sock run_start "$WORK/run4.log"
wait_for 50 grep -qs 'READY=1' "$WORK/notify.log"
kill -HUP $RUN_PID
wait_for 100 grep -qs 'RELOADING=1' "$WORK/notify.log"
wait_for 50 eval '[ $(grep -c READY=1 "$WORK/notify.log") -ge 2 ]'
kill -TERM $RUN_PID; wait $RUN_PID
check_detail nftrun-sd-notify "$(cut -c1-40 "$WORK/notify.log" | tr '\n' ' ')" \
	eval 'grep -q "^READY=1" "$WORK/notify.log" && grep -q "^RELOADING=1" "$WORK/notify.log" && grep -q "^STOPPING=1" "$WORK/notify.log"'

# --- watching (kernels without owner/persist) ------------------------------------------
run_start "$WORK/run5.log" --watch || fail nftrun-watch "$(cat "$WORK/run5.log")"
check_detail nftrun-watch-mode "not owned: flags '$(table_flags)'" eval 'grep -q "watching nf_tables" "$WORK/run5.log" && [ -z "$(table_flags)" ]'
lat=()
for i in 1 2 3 4 5; do
	t0=$(date +%s%N)
	nsx $CLI nft delete table inet ifwall
	wait_for 500 has_table
	lat+=($(( ($(date +%s%N) - t0) / 1000000 )))
done
nsx $CLI nft flush ruleset
wait_for 500 has_table
restored=$(grep -c 'restored in' "$WORK/run5.log")
internal=$(grep -o 'restored in [0-9.]* ms' "$WORK/run5.log" | awk '{print $3}' | tr '\n' ' ')
check_detail nftrun-watch-restore "6 foreign deletes restored ($restored restores: a transaction read in two parts may be restored twice); seen by nft after ${lat[*]} ms; restore took $internal ms" \
	eval '[ "$restored" -ge 6 ] && has_table && [ "${lat[4]}" -lt 1000 ]'
before=$(received $LEAK_ADDR)
bg "$WORK/send-w.out" nsx $CLI $PY "$PROBE" send $LEAK_ADDR $PORT 1 0.2
for i in 1 2 3; do nsx $CLI nft flush ruleset; sleep 0.2; done
wait $LAST_PID; sleep 0.2
leak=$(( $(received $LEAK_ADDR) - before ))
echo "# watch mode: 3 'nft flush ruleset' during ~5000 probes: $leak leaked (the window before the restore)"
pass nftrun-watch-window "$leak probes leaked in 3 flush/restore windows (watching narrows the window, cannot close it)"
kill -TERM $RUN_PID; wait $RUN_PID
check_detail nftrun-watch-exit "table kept after SIGTERM" has_table

# --- as the units do it: the boot guard (a one-shot load), then the owned table ----
nsx $CLI "$IFWALL" flush
nsx $CLI "$IFWALL" load "$TOP/tools/systemd/boot.rules"
before=$(received $LEAK_ADDR)
bg "$WORK/send-b.out" nsx $CLI $PY "$PROBE" send $LEAK_ADDR $PORT 1.5 0.3
SEND=$LAST_PID
sleep 0.3
run_start "$WORK/run7.log" || fail nftrun-boot-handover "$(cat "$WORK/run7.log")"
wait $SEND; sleep 0.2
leak=$(( $(received $LEAK_ADDR) - before ))
check_detail nftrun-boot-handover "boot guard replaced by the owned table in one transaction: $(cat "$WORK/send-b.out") probes, $leak leaked, flags $(table_flags)" \
	eval '[ "$leak" -eq 0 ] && [ "$(table_flags)" = owner ]'
kill -TERM $RUN_PID; wait $RUN_PID

# --- past the file modes, the server itself refuses a peer that is not root --------
# (a run in the far namespace with its own run directory, open to all)
mkdir -m 755 "$WORK/rundir"
bg "$WORK/run6.log" env IFWALL_RUNDIR="$WORK/rundir" ip netns exec $FAR "$IFWALL" run --backend nft "$KS_RULES"
R6=$LAST_PID
wait_for 250 grep -qs 'ready$' "$WORK/run6.log"
chmod 666 "$WORK/rundir/nft.sock"
out=$(nsx $FAR setpriv --reuid=65534 --regid=65534 --clear-groups $PY -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b"flush\n")
print(s.makefile().read())' "$WORK/rundir/nft.sock" 2>&1)
check_detail nftrun-peercred "non-root peer: $(echo "$out" | tr '\n' '|')" \
	eval 'echo "$out" | grep -q "^err permission denied" && echo "$out" | grep -q "^exit 3" && kill -0 $R6'
kill -TERM $R6; wait $R6
nsx $FAR "$IFWALL" flush >/dev/null
