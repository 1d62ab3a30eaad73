#!/usr/bin/env bash
# Per-application rules on the live paths (issue 17): processes moved into
# cgroups made here, under the cgroup v2 mount /proc/self/mountinfo names.
#  - split tunnel: a kill switch, and 'pass out on eth0 ... cgroup APP':
#    the app reaches the far side directly, everything else stays in the
#    tunnel, and the far side's capture sees nothing but the app;
#  - the inverse: only the app may use the tunnel;
#  - a scope created after the rules: divert (it asks the kernel for each
#    new flow's socket) matches it from its first connection; a one-shot
#    nft load does not until the next load (and says so); the cgroup watch
#    a resident process drives sees it within milliseconds (latency
#    printed).
# Namespaces are entered with nsenter --net: 'ip netns exec' remounts
# /sys and would hide the cgroup2 mount.
set -u
source "$(dirname "${BASH_SOURCE[0]}")/../../common.sh"   # pass, fail, skip
: "${O:=build}" "${TOP:=$(cd "$(dirname "$0")/../../.." && pwd)}"
: "${IFWALL:=$TOP/$O/ifwall}"
TEST_PREFIX="cgroup: "
CASES="split-nft split-divert inverse-nft inverse-divert later-divert later-nft-load watch-latency"
skip_all() { for c in $CASES; do skip "$c" "$1"; done; exit 0; }
[ "$(id -u)" -eq 0 ] || skip_all "needs root"
for c in ip nsenter tcpdump python3; do command -v $c >/dev/null || skip_all "needs $c"; done
CG=$(awk '{ for (i = 1; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") print $5; break } }' /proc/self/mountinfo | head -1)
[ -n "$CG" ] || skip_all "no cgroup v2 hierarchy mounted"
P=ifwcg-$$
TEST=ifwall-test-$$
TMP=$(mktemp -d /tmp/ifwcg.XXXXXX)
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	for n in h f t; do
		ip netns pids "$P-$n" 2>/dev/null | xargs -r kill -9 2>/dev/null
		ip netns del "$P-$n" 2>/dev/null
	done
	# leaf cgroups first; processes are gone by now
	find "$CG/$TEST" -depth -type d -exec rmdir {} + 2>/dev/null
	[ -n "${CG_KEEP:-}" ] && cp -r "$TMP" /tmp/cg/last
	rm -rf "$TMP"
}
trap cleanup EXIT
mkdir -p "$CG/$TEST/app" "$CG/$TEST/other" || skip_all "cannot create cgroups under $CG"

# -F: exec, no fork, so $! is the program itself (kill reaches it)
nse() { local n=$1; shift; nsenter -F --net=/run/netns/"$P-$n" "$@"; }
# in_cgroup CGROUP NS CMD...: CMD in network namespace NS as a member of CGROUP
in_cgroup() {
	local cg=$1 n=$2; shift 2
	sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' _ "$CG/$cg" \
		nsenter -F --net=/run/netns/"$P-$n" "$@"
}
probe() { local cg=$1; shift; in_cgroup "$cg" h python3 "$TOP/tests/kernel/divert/probe.py" 1.5 "$@"; }

# Host h: eth0 to the far side f (10.1.0.0/24), wg0 to the tunnel's far end
# t (10.9.0.0/24), default route through the tunnel; 10.3.0.2 is "the
# internet" behind t. A veth named wg0 is the tunnel by name, as in rules.
for n in h f t; do ip netns add "$P-$n"; nse $n ip link set lo up; done
ip -n "$P-h" link add eth0 type veth peer name eth0 netns "$P-f"
ip -n "$P-h" link add wg0 type veth peer name wg0 netns "$P-t"
nse h ip addr add 10.1.0.1/24 dev eth0; nse f ip addr add 10.1.0.2/24 dev eth0
nse h ip addr add 10.9.0.1/24 dev wg0; nse t ip addr add 10.9.0.2/24 dev wg0
nse t ip addr add 10.3.0.2/32 dev lo
nse h ip link set eth0 up; nse h ip link set wg0 up
nse f ip link set eth0 up; nse t ip link set wg0 up
nse h ip route add default via 10.9.0.2
nse t ip route add default via 10.9.0.1
nse f ip route add default via 10.1.0.1
for n in f t; do
	nsenter -F --net=/run/netns/"$P-$n" python3 "$TOP/tests/kernel/divert/peer.py" tcp:80 >"$TMP/peer-$n" 2>&1 &
	PIDS+=($!)
done
for i in $(seq 50); do grep -q ready "$TMP/peer-f" && grep -q ready "$TMP/peer-t" && break; sleep 0.1; done

cat >"$TMP/split.rules" <<R
killswitch {
    tunnel wg0
    endpoint 10.1.0.2 port 51820 proto udp
}
pass out on eth0 proto tcp to 10.1.0.2 port 80 cgroup "$TEST/app"
pass out on eth0 proto tcp to 10.1.0.2 port 81 cgroup "$TEST/app-*.scope"
R
cat >"$TMP/inverse.rules" <<R
pass out on wg0 cgroup "$TEST/app"
block drop out on wg0
killswitch {
    tunnel wg0
    endpoint 10.1.0.2 port 51820 proto udp
}
R

# capture NS: starts tcpdump of TCP/UDP on NS's only veth; stop_capture
# prints "src-port dst-port" per packet.
capture() {
	local dev=eth0; [ "$1" = t ] && dev=wg0
	rm -f "$TMP/tcpdump-$1" "$TMP/cap-$1"
	nsenter -F --net=/run/netns/"$P-$1" tcpdump --immediate-mode -n -U -i $dev -w "$TMP/cap-$1" 'tcp or udp' 2>"$TMP/tcpdump-$1" &
	CAP_PID=$!
	for i in $(seq 50); do grep -q listening "$TMP/tcpdump-$1" && break; sleep 0.1; done
}
stop_capture() {
	sleep 0.3; kill "$CAP_PID"; wait "$CAP_PID" 2>/dev/null
	tcpdump -n -r "$TMP/cap-$1" 2>/dev/null | sed -n 's/.* [0-9.]*\.\([0-9]*\) > [0-9.]*\.\([0-9]*\):.*/\1 \2/p'
}
# stop_capture_times NS: "TIME SPORT DPORT" per packet (epoch seconds)
stop_capture_times() {
	sleep 0.3; kill "$CAP_PID"; wait "$CAP_PID" 2>/dev/null
	tcpdump -tt -n -r "$TMP/cap-$1" 2>/dev/null | sed -n 's/^\([0-9.]*\) .* [0-9.]*\.\([0-9]*\) > [0-9.]*\.\([0-9]*\):.*/\1 \2 \3/p'
}
# only_port SPORT: every packet the client sent is of the app's connection
# (packets from the far side's port 80 are its own: a late FIN of an earlier
# case's connection is not a leak; a leaked SYN shows as client -> 80)
only_port() { awk -v p="$1" '$1 != p && $2 != p && $1 != 80 { bad++ } END { exit bad > 0 }'; }

verdict() { awk '{ printf "%s%s", sep, $2; sep = " " }'; }

QUEUE=$(( $$ % 30000 + 100 ))
start_backend() { # nft|divert RULES
	if [ "$1" = nft ]; then
		nse h "$IFWALL" load "$2" 2>"$TMP/load.err" || { cat "$TMP/load.err"; return 1; }
	else
		QUEUE=$((QUEUE + 1))
		nsenter -F --net=/run/netns/"$P-h" "$IFWALL" run --backend divert --queue $QUEUE "$2" 2>"$TMP/divert.err" &
		DIVERT=$!; PIDS+=($DIVERT)
		for i in $(seq 50); do grep -q 'ready$' "$TMP/divert.err" && return 0; sleep 0.1; done
		cat "$TMP/divert.err"; return 1
	fi
}
stop_backend() {
	if [ "$1" = nft ]; then nse h "$IFWALL" flush >/dev/null 2>&1
	else kill "$DIVERT"; wait "$DIVERT" 2>/dev/null; fi
}

for backend in nft divert; do
	# --- split tunnel -----------------------------------------------------
	start_backend $backend "$TMP/split.rules" || { fail split-$backend "backend did not start"; continue; }
	capture f
	app=$(probe "$TEST/app" tcp:10.1.0.2:80)
	other=$(probe "$TEST/other" tcp:10.1.0.2:80 tcp:10.3.0.2:80 | verdict)
	root=$(probe "" tcp:10.1.0.2:80 | verdict)
	app_tunnel=$(probe "$TEST/app" tcp:10.3.0.2:80 | verdict)
	far=$(stop_capture f)
	sport=$(echo "$app" | awk '{print $4}')
	if [ "$(echo "$app" | verdict) $other $root $app_tunnel" = "pass reject pass reject pass" ] &&
	   [ -n "$far" ] && echo "$far" | only_port "$sport"; then
		pass "split-$backend: the app reaches 10.1.0.2 on eth0, others only through wg0; far side saw $(echo "$far" | wc -l) packets, all the app's"
	else
		fail split-$backend "app: $app; other (eth0, tunnel): $other; root cgroup: $root; app via tunnel: $app_tunnel (want pass / reject pass / reject / pass); far side saw: $(echo "$far" | sort | uniq -c | tr '\n' ';') (app sport $sport)"
	fi

	# --- a scope created after the rules ----------------------------------
	# peer f listens on 80 only: a passed SYN to 81 comes back as a RST from
	# the far side, a refused one never leaves (the kill switch's reject), so
	# the far side's capture tells them apart.
	capture f
	t0=$(date +%s.%N)
	mkdir "$CG/$TEST/app-$backend.scope"
	later=$(probe "$TEST/app-$backend.scope" tcp:10.1.0.2:81)
	syns=$(stop_capture_times f | awk '$3 == 81 { print $1 }')
	first=$(echo "$syns" | head -1)
	if [ $backend = divert ]; then
		if [ -n "$first" ]; then
			ms=$(echo "$t0 $first" | awk '{ printf "%.1f", ($2 - $1) * 1000 }')
			pass "later-divert: a scope made after the rules matched from its first connection: $ms ms from mkdir to its first SYN on the far side (process start included; connect answered in $(echo "$later" | awk '{print $3}') ms)"
		else
			fail later-divert "first connection from the new scope: $later; no SYN to port 81 on the far side"
		fi
	else
		nse h "$IFWALL" load "$TMP/split.rules" 2>/dev/null
		capture f
		probe "$TEST/app-$backend.scope" tcp:10.1.0.2:81 >/dev/null
		after=$(stop_capture_times f | awk '$3 == 81' | wc -l)
		if [ -z "$first" ] && [ "$after" -ge 1 ] &&
		   grep -q "notice: .*cgroup \"$TEST/app-\*.scope\" resolved at load time: 0 cgroups now" "$TMP/load.err"; then
			pass "later-nft-load: a one-shot load resolves at load time (says so); the new scope matched after the next load"
		else
			fail later-nft-load "SYNs on the far side before the reload: $(echo "$syns" | grep -c .) (want 0), after: $after (want >= 1); load said: $(grep notice "$TMP/load.err" | tr '\n' ' ')"
		fi
	fi
	stop_backend $backend

	# --- inverse: only the app may use the tunnel --------------------------
	start_backend $backend "$TMP/inverse.rules" || { fail inverse-$backend "backend did not start"; continue; }
	capture t
	app=$(probe "$TEST/app" tcp:10.3.0.2:80)
	other=$(probe "$TEST/other" tcp:10.3.0.2:80 tcp:10.1.0.2:80 | verdict)
	tun=$(stop_capture t)
	sport=$(echo "$app" | awk '{print $4}')
	if [ "$(echo "$app" | verdict) $other" = "pass block reject" ] && [ -n "$tun" ] &&
	   echo "$tun" | only_port "$sport"; then
		pass "inverse-$backend: only the app's connection entered the tunnel ($(echo "$tun" | wc -l) packets)"
	else
		fail inverse-$backend "app: $app; other (tunnel, eth0): $other (want pass / block reject); tunnel saw: $(echo "$tun" | sort | uniq -c | tr '\n' ';')"
	fi
	stop_backend $backend
done

# --- the watch a resident process drives ---------------------------------
"$TOP/$O/tools/cgroup_watch" "$TEST/late-*" >"$TMP/watch" 2>&1 &
W=$!; PIDS+=($W)
for i in $(seq 50); do grep -q ready "$TMP/watch" && break; sleep 0.05; done
t0=$(date +%s%N)
mkdir "$CG/$TEST/late-1"
for i in $(seq 100); do grep -q '^change' "$TMP/watch" && break; sleep 0.01; done
t1=$(awk '/^change/ { print $4; exit }' "$TMP/watch")
id=$(stat -c %i "$CG/$TEST/late-1")
if grep -q "^change 0 1 [0-9]* $id\$" "$TMP/watch"; then
	pass "watch-latency: new cgroup's id $id in the watch $(( (t1 - t0) / 1000 )) us after mkdir"
else
	fail watch-latency "watch output: $(tr '\n' ';' <"$TMP/watch") (want the id $id)"
fi
rmdir "$CG/$TEST/late-1"
