#!/usr/bin/env bash
# Live enforcement holes of issue 12, each in its own namespaces:
#   - concurrent loads while another program changes nftables (item 12);
#   - 'show' flags rules, chains and sets others put in ifwall's table (11).
# (State expiry, reload re-checks, ICMP errors and '(IFSPEC)' are in
# t_state.sh.)
. "$(dirname "$0")/lib.sh"
need_root nft-live
cd "$WORK" || exit 1

# --- item 12: 30 loads at once, beside a program changing its own table -----
NS=$RUN-conc
add_ns "$NS" || { fail nft-concurrent-30 "cannot create a namespace"; exit 0; }
printf 'pass out on eth0 all\nblock in all\n' >A.rules
printf 'pass out on wg0 all\npass in on wg0 all\nblock out all\n' >B.rules
# Another firewall tool changing the rule set all the time: every change
# moves the generation and interrupts dumps of the ruleset.
nsx "$NS" nft add table inet churn
( for i in $(seq 400); do
	nsx "$NS" nft add chain inet churn c$((i % 7)) 2>/dev/null
	nsx "$NS" nft delete chain inet churn c$(((i + 3) % 7)) 2>/dev/null
  done ) & churn=$!
failed=0 msgs=
for i in $(seq 30); do
	f=A.rules; [ $((i % 2)) -eq 0 ] && f=B.rules
	nsx "$NS" "$IFWALL" load $f >"load$i.out" 2>&1 & pids[$i]=$!
done
for i in $(seq 30); do
	wait ${pids[$i]} || { failed=$((failed + 1)); msgs+=" $(head -c 120 "load$i.out")"; }
done
kill $churn 2>/dev/null; wait $churn 2>/dev/null
out=$(listing "$NS")
a=$(grep -c 'comment "A.rules' <<<"$out"); b=$(grep -c 'comment "B.rules' <<<"$out")
if [ $failed -eq 0 ] && { [ "$a" -gt 0 ] || [ "$b" -gt 0 ]; } && ! { [ "$a" -gt 0 ] && [ "$b" -gt 0 ]; }; then
	pass nft-concurrent-30 "30 simultaneous loads beside a changing ruleset: all exited 0, one rule set whole"
else
	fail nft-concurrent-30 "$failed of 30 loads failed (A rules $a, B rules $b):$msgs"
fi
if grep -qi 'should be restarted' load*.out; then
	fail nft-concurrent-message "a load printed the raw errno text: $(grep -hi 'restarted' load*.out | head -1)"
else
	pass nft-concurrent-message "no raw 'Interrupted system call' text"
fi

# --- item 11: show flags what others put in ifwall's table -----------------
NS=$RUN-show
add_ns "$NS" || { fail nft-show-foreign "namespace"; exit 0; }
printf 'set default out block\npass out on wg0 all\n' >ks.rules
nsx "$NS" "$IFWALL" load ks.rules
nsx "$NS" nft insert rule inet ifwall output accept
nsx "$NS" nft add chain inet ifwall sneaky
nsx "$NS" nft add set inet ifwall extra '{ type ipv4_addr; }'
nsx "$NS" "$IFWALL" show >show.txt 2>&1
nsx "$NS" "$IFWALL" show --json >show.json 2>&1
if grep -qE 'FOREIGN rule in chain output \(handle [0-9]+\)' show.txt && grep -q 'accept  FOREIGN rule' show.txt \
   && grep -q 'FOREIGN chain sneaky' show.txt && grep -q 'FOREIGN set extra' show.txt \
   && grep -q '^warning: 3 objects in table inet ifwall' show.txt; then
	pass nft-show-foreign-text "an inserted 'accept' rule, a chain and a set flagged FOREIGN"
else
	fail nft-show-foreign-text "$(tr '\n' '|' <show.txt | head -c 600)"
fi
if $PY - show.json <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
f = d["foreign"]
kinds = sorted(x["kind"] for x in f)
assert kinds == ["chain", "rule", "set"], f
rule = [x for x in f if x["kind"] == "rule"][0]
assert rule["chain"] == "output" and rule["verdict"] == "accept" and rule["handle"] > 0, rule
assert [r for r in d["rules"] if r["rule"] == "ks.rules:2"], d["rules"]
PY
then pass nft-show-foreign-json "--json lists them under \"foreign\" (kind, chain, handle, verdict)"
else fail nft-show-foreign-json "$(head -c 600 show.json)"; fi
nsx "$NS" "$IFWALL" load ks.rules
nsx "$NS" "$IFWALL" show --json | grep -q '"foreign":\[\]' && pass nft-show-foreign-reload "a load removes them; none flagged after" \
	|| fail nft-show-foreign-reload "$(nsx "$NS" "$IFWALL" show 2>&1 | tail -3)"
exit 0
