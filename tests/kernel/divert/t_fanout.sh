#!/usr/bin/env bash
# divert with one queue per CPU: the table's queue rules send each new flow
# to the queue of the CPU it is seen on (queue N + cpu % CPUs, 'fanout'),
# each queue's own thread decides it (a connection opened on each CPU is
# passed or rejected by the rules and logged), and a start that finds one of
# its queues held by the running instance exits 3 naming the queue holder,
# leaving the running one alone. Under 4 clients connecting at once, SIGHUP
# reloads and 'ifwall table' changes (the main thread) while the queue
# threads decide: no connection fails and the process stops cleanly.
source "$(dirname "$0")/lib.sh"
divert_require_root fanout-table fanout-per-cpu fanout-queue-held fanout-reload-storm
cpus=$(nproc --all)
first_queue=20
last_queue=$((first_queue + cpus - 1))
[ "$cpus" -gt 64 ] && last_queue=$((first_queue + 63))

cat >"$TMP/fanout.rules" <<'R'
table <peers> { 10.1.0.2 }
pass out on veth0 proto tcp to 10.1.0.2 port 80
reject out on veth0 proto tcp to 10.1.0.2 port 81
pass out on veth0 proto tcp to <peers> port 5001
R
divert_topology
start_peer b tcp:80 tcp:81
start_divert a --queue $first_queue --log "$TMP/log.json" "$TMP/fanout.rules" ||
	{ fail fanout-table "did not start: $(cat "$DIVERT_ERR")"; exit 0; }

listing=$(in_ns a nft list table inet ifwall_divert 2>/dev/null)
if [ "$cpus" -gt 1 ]; then want="queue num $first_queue-$last_queue fanout"; else want="queue num $first_queue"; fi
if grep -q -- "$want" <<<"$listing" && ! grep -qE "queue num [0-9]+( |$)" <<<"$(grep -v -- "$want" <<<"$listing")"; then
	pass fanout-table
else fail fanout-table "want every queue rule to be '$want': $(grep queue <<<"$listing")"; fi

# id_sequence (the 8th field of /proc/net/netfilter/nfnetlink_queue) counts
# the packets each queue was given.
queued() { in_ns a awk -v q="$1" '$1 == q { print $8 }' /proc/net/netfilter/nfnetlink_queue; }
bad=
for ((c = 0; c < cpus && c < 64; c++)); do
	q=$((first_queue + c % (last_queue - first_queue + 1)))
	before=$(queued $q)
	got=$(in_ns a taskset -c $c /usr/bin/python3 "$TOP/tests/kernel/divert/probe.py" 2 \
		tcp:10.1.0.2:80 tcp:10.1.0.2:81 | awk '{ printf "%s ", $2 }')
	after=$(queued $q)
	if [ "$got" != "pass reject " ] || [ -z "$before" ] || [ "${after:-0}" -lt $((before + 2)) ]; then
		bad+="cpu $c: verdicts '$got', queue $q given ${before:-?} -> ${after:-?} packets; "
	fi
done
decided=$(grep -c '"dport":8[01]' "$TMP/log.json")
if [ -z "$bad" ] && [ "$decided" -ge $((2 * cpus)) ]; then pass fanout-per-cpu
else fail fanout-per-cpu "${bad}log lines for ports 80/81: $decided"; fi

# A second instance whose queues overlap the running one's.
if [ "$cpus" -gt 1 ]; then
	err=$(in_ns a "$IFWALL" run --backend divert --queue $((first_queue - 1)) "$TMP/fanout.rules" 2>&1); rc=$?
	v=$(probe a 2 tcp:10.1.0.2:80 | awk '{print $2}')
	if [ $rc -eq 3 ] && grep -q "NFQUEUE $first_queue: .*another process holds this queue" <<<"$err" &&
		grep -q "pid $DIVERT_PID" <<<"$err" && [ "$v" = pass ]; then
		pass fanout-queue-held
	else fail fanout-queue-held "exit $rc: $err; afterwards: $v"; fi
else
	skip fanout-queue-held "one CPU: one queue"
fi

if [ -x "$HELPERS/divert_bench" ]; then
	ip netns exec "$(ns b)" "$HELPERS/divert_bench" serve 5001 >"$TMP/serve.out" &
	CLEANUP+=("kill $!")
	wait_for 5 grep -q ready "$TMP/serve.out"
	in_ns a "$HELPERS/divert_bench" rate 10.1.0.2 5001 3 4 >"$TMP/rate.out" &
	clients=$!
	hups=0 changes=0
	while kill -0 $clients 2>/dev/null; do
		kill -HUP "$DIVERT_PID" && hups=$((hups + 1))
		in_ns a "$IFWALL" table peers add 10.1.0.$((changes % 200 + 10)) >/dev/null 2>&1 &&
			changes=$((changes + 1))
		sleep 0.05
	done
	wait $clients
	kill -TERM "$DIVERT_PID"
	for _ in $(seq 50); do kill -0 "$DIVERT_PID" 2>/dev/null || break; sleep 0.1; done
	alive=no; kill -0 "$DIVERT_PID" 2>/dev/null && alive=yes
	wait "$DIVERT_PID"; rc=$?
	ok=$(grep -o 'ok=[0-9]*' "$TMP/rate.out" | cut -d= -f2)
	failed=$(grep -o 'failed=[0-9]*' "$TMP/rate.out" | cut -d= -f2)
	reloads=$(grep -o '[0-9]* reloads' "$DIVERT_ERR" | cut -d' ' -f1)
	if [ "$alive" = no ] && [ $rc -eq 0 ] && [ "${failed:-x}" = 0 ] && [ "${ok:-0}" -gt 1000 ] &&
		[ "${reloads:-0}" -ge 1 ] && [ "$changes" -ge 1 ] &&
		! grep -qE 'Sanitizer|runtime error' "$DIVERT_ERR"; then
		pass fanout-reload-storm "$ok connections, $hups SIGHUPs, ${reloads} reloads, $changes table changes"
	else fail fanout-reload-storm "stopped: $([ $alive = no ] && echo yes || echo no), exit $rc, $(cat "$TMP/rate.out"), $hups SIGHUPs sent and ${reloads:-?} reloads, $changes table changes; $(grep -E -m3 'Sanitizer|runtime error|error' "$DIVERT_ERR")"; fi
else
	skip fanout-reload-storm "no divert_bench"
	stop_quietly "$DIVERT_PID"
fi
