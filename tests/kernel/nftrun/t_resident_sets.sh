#!/usr/bin/env bash
# What only a resident 'run --backend nft' can do (rules.md, cgroup: "a
# cgroup created after the rules were applied matches from its first
# connection where a resident process keeps the rules (run)"): the ids of a
# 'cgroup' pattern and the addresses of '(IFSPEC)' follow the host while the
# process runs. A scope created after the load reaches the far side from
# its first datagram; a tunnel address added after the load is in the
# table's (IFSPEC) set at once. (A one-shot 'load' resolves both at load
# time: tests/kernel/cgroup and tests/kernel/nft/t_ifaddr.sh.)
. "$(dirname "$0")/lib.sh"
need_root nftrun-resident
MNT=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
[ -n "$MNT" ] || { skip nftrun-resident "no cgroup v2 hierarchy mounted"; exit 0; }
CG=ifwall-resident-$$
mkdir "$MNT/$CG" || { fail nftrun-resident "cannot create a cgroup under $MNT"; exit 0; }
trap 'run_cleanup; rmdir "$MNT/$CG"/app-* "$MNT/$CG" 2>/dev/null' EXIT
net_setup || { fail nftrun-resident-setup "could not build the test network"; exit 0; }
cat >"$KS_RULES" <<RULES
set default block
set block-policy drop
pass on lo all
pass out on eth0 proto udp to $LEAK_ADDR port $PORT cgroup "$CG/app-*.scope"
pass out on tun0 all
block drop in on !tun0 to (tun0)
RULES
# nsenter, not ip netns exec: that remounts /sys and hides the cgroup mount
bg "$WORK/run.log" nsenter --net=/run/netns/$CLI "$IFWALL" run --backend nft "$KS_RULES"
RUN_PID=$LAST_PID
wait_for 250 grep -qs 'ready$' "$WORK/run.log" || { fail nftrun-resident-start "$(cat "$WORK/run.log")"; exit 0; }

# send_in CGROUP N: N datagrams, one a ms, from a process in CGROUP ('' the
# test's own cgroup); prints how many arrived
send_in() {
	local before after
	before=$(received $LEAK_ADDR)
	sh -c "[ -z '$1' ] || echo \$\$ >'$MNT/$1/cgroup.procs'; exec ip netns exec $CLI $PY '$PROBE' send $LEAK_ADDR $PORT $2 1" >/dev/null 2>&1
	sleep 0.2
	after=$(received $LEAK_ADDR)
	echo $((after - before))
}
n=$(send_in "" 0.1)
check_detail nftrun-resident-other "a process outside the pattern: $n arrived" [ "$n" -eq 0 ]

# a scope created after the load: its first datagram arrives
t0=$(date +%s%N)
mkdir "$MNT/$CG/app-1.scope"
before=$(received $LEAK_ADDR)
sh -c "echo \$\$ >'$MNT/$CG/app-1.scope/cgroup.procs'; exec ip netns exec $CLI $PY '$PROBE' send $LEAK_ADDR $PORT 0.001 1" >/dev/null 2>&1
sleep 0.2
first=$(( $(received $LEAK_ADDR) - before ))
t1=$(date +%s%N)
check_detail nftrun-resident-cgroup-first "a scope made after the load: its first datagram arrived ($first of 1; mkdir to send done in $(( (t1 - t0) / 1000000 )) ms incl. the 200 ms wait)" [ "$first" -eq 1 ]
n=$(send_in "$CG/app-1.scope" 0.1)
check_detail nftrun-resident-cgroup "the new scope's datagrams: $n arrived" [ "$n" -gt 20 ]
# and the load alone would not have had it: the set held no id before
grep -q "ifwall-resident" "$WORK/run.log" && fail nftrun-resident-cgroup-log "unexpected: $(cat "$WORK/run.log")"

# (IFSPEC): a tunnel address added while running is in the set
ip -n $CLI addr add 10.99.3.7/32 dev tun0
wait_for 250 eval "nsx $CLI nft list table inet ifwall 2>/dev/null | grep -q 10.99.3.7"
check_detail nftrun-resident-ifaddr "a tunnel address added after the load is in the (IFSPEC) set" \
	eval "nsx $CLI nft list table inet ifwall | grep -q 10.99.3.7"
ip -n $CLI addr del 10.99.3.7/32 dev tun0
wait_for 250 eval "! nsx $CLI nft list table inet ifwall 2>/dev/null | grep -q 10.99.3.7"
check_detail nftrun-resident-ifaddr-gone "and gone from it when removed" \
	eval "! nsx $CLI nft list table inet ifwall | grep -q 10.99.3.7"
kill -TERM $RUN_PID; wait $RUN_PID 2>/dev/null
nsx $CLI "$IFWALL" flush >/dev/null 2>&1
