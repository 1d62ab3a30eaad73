#!/usr/bin/env bash
# Generated rule files (fixed seeds) through the tun backend: for each, TCP,
# UDP and ping from the client to destinations behind wg0, behind eth0 and
# on the LAN pass or fail exactly as 'ifwall query' predicts for the
# interface the host routes them through. Connections of one file run in
# parallel, so a file costs about one timeout.
set -u
. "$TOP/tests/kernel/tun/lib.sh"
require_root tun-gen
trap cleanup EXIT
topology || { fail tun-gen/topology "could not build the namespaces"; exit 0; }

# gen SEED: a rule file of 2 to 5 rules over the interfaces, protocols and
# destinations of the topology, sometimes with set options.
gen() {
	/usr/bin/python3 - "$1" <<'PY'
import random, sys
r = random.Random(int(sys.argv[1]))
out = []
if r.random() < 0.3:
    out.append('set block-policy reject')
if r.random() < 0.2:
    out.append('set default pass')
for _ in range(r.randint(2, 5)):
    words = [r.choice(['pass', 'pass', 'block', 'reject']), 'out']
    on = r.choice(['wg0', 'eth0', 'type ether', '!wg0', 'any', 'wg*', None])
    if on:
        words += ['on', on]
    proto = r.choice(['tcp', 'udp', 'icmp', '{ tcp udp }', None])
    if proto:
        words += ['proto', proto]
    to = r.choice(['192.0.2.0/24', '198.51.100.1', '10.0.0.0/8', '!10.0.0.0/8', None])
    if to:
        words += ['to', to]
        if proto in ('tcp', 'udp', '{ tcp udp }') and r.random() < 0.3:
            words += ['port', r.choice(['8080', '5353', '{ 8080 5353 }', '1:1024'])]
    elif len(words) == 2 or words[-2] != 'proto':
        words.append('all')
    out.append(' '.join(words))
print('\n'.join(out))
PY
}

for seed in 3 5 6 9 10 11; do  # seeds whose files mix verdicts
	rules=$TUNLOG/gen$seed.rules
	gen $seed >"$rules"
	if ! "$IFWALL" check "$rules" >/dev/null 2>&1; then
		fail tun-gen/seed$seed "generated file does not check: $(cat "$rules" | tr '\n' ';')"
		continue
	fi
	if ! start_ifwall "$rules"; then
		fail tun-gen/seed$seed-start "$(cat "$TUNLOG/err")"; continue
	fi
	i=0 pids=()
	for dst in 192.0.2.1 198.51.100.1 10.1.0.2; do
		ifname=$(egress $dst 100.64.0.2)
		on=$(host_if $ifname)
		for proto in tcp udp icmp; do
			case $proto in
			tcp) desc="out on $on tcp 100.64.0.2:40000 > $dst:8080" ;;
			udp) desc="out on $on udp 100.64.0.2:40000 > $dst:5353" ;;
			icmp) desc="out on $on icmp 100.64.0.2 > $dst type echo-request" ;;
			esac
			verdict=$("$IFWALL" query "$rules" "$desc" | awk '{print $1}')
			t=$(answer_timeout "$(predicted $proto "$verdict")")
			case $proto in
			tcp) run=(client tcp $dst 8080 "$t") ;;
			udp) run=(client udp $dst 5353 "$t") ;;
			icmp) run=(client ping $dst "$t") ;;
			esac
			echo "$proto $dst $ifname $desc" >"$TUNLOG/case$i"
			"${run[@]}" >"$TUNLOG/got$i" 2>&1 &
			pids+=($!)
			i=$((i + 1))
		done
	done
	wait "${pids[@]}"
	for ((j = 0; j < i; j++)); do
		read -r proto dst ifname desc <"$TUNLOG/case$j"
		verdict=$("$IFWALL" query "$rules" "$desc" | awk '{print $1}')
		want=$(predicted $proto "$verdict")
		got=$(head -1 "$TUNLOG/got$j"); got=${got%% *}
		if [ "$got" = "$want" ]; then pass "tun-gen/seed$seed/$proto-$dst-$ifname-$verdict"
		else fail "tun-gen/seed$seed/$proto-$dst-$ifname" "query '$desc' says '$verdict' (rules: $(tr '\n' ';' <"$rules")), so want $want, got $got"; fi
	done
	stop_ifwall
done
exit 0
