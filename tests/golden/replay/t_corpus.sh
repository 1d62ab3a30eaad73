#!/usr/bin/env bash
# Robustness: replay every capture of the shared tcpdump corpus (830 odd
# files, many malformed on purpose) against a kill switch. Each must exit 0
# (with a summary line), or 2 with a message naming an unsupported link type.
# Any other exit, a crash, a hang or a sanitizer report (O=build-san) fails.
set -u
corpus=$TOP/../shared/corpus/tcpdump
[ -d "$corpus" ] || corpus=/work/shared/corpus/tcpdump
if [ ! -d "$corpus" ]; then
	echo "SKIP corpus: no capture corpus (shared/corpus/tcpdump)"
	exit 0
fi
rules=$TOP/tests/golden/replay/ks.rules
work=$(mktemp -d /tmp/ifw-corpus.XXXXXX)
trap 'rm -rf "$work"' EXIT

# One file: prints "OK", "UNSUPPORTED" or "BAD reason" into $work/NAME.result.
check_one() {
	local f=$1 name out err rc
	name=$(basename "$f")
	out=$work/$name.out err=$work/$name.err
	timeout 60 "$IFWALL" replay "$rules" "$f" >"$out" 2>"$err"
	rc=$?
	if grep -qE 'AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:' "$err"; then
		echo "BAD sanitizer report: $(grep -m1 -E 'Sanitizer|runtime error' "$err")"
	elif [ "$rc" -eq 0 ] && grep -q '^summary: ' "$out"; then
		echo OK
	elif [ "$rc" -eq 2 ] && grep -q 'unsupported link type [A-Za-z0-9_]' "$err"; then
		echo UNSUPPORTED
	else
		echo "BAD exit $rc: $(head -c 300 "$err" | tr '\n' ' ')"
	fi >"$work/$name.result"
	rm -f "$out" "$err"
}
export -f check_one
export IFWALL rules work

find "$corpus" -maxdepth 1 -type f \( -name '*.pcap' -o -name '*.pcapng' -o -name '*.cap' \) -print0 |
	xargs -0 -n 8 -P 2 bash -c 'for f; do check_one "$f"; done' _

total=0 ok=0 unsupported=0 bad=0
for r in "$work"/*.result; do
	[ -f "$r" ] || continue
	total=$((total + 1))
	read -r verdict rest <"$r"
	case $verdict in
	OK) ok=$((ok + 1)) ;;
	UNSUPPORTED) unsupported=$((unsupported + 1)) ;;
	*) bad=$((bad + 1))
	   name=$(basename "$r" .result)
	   echo "FAIL corpus/$name: $rest" ;;
	esac
done
if [ "$total" -eq 0 ]; then
	echo "FAIL corpus: no capture found in $corpus"
elif [ "$bad" -eq 0 ]; then
	echo "PASS corpus: $total captures ($ok replayed, $unsupported unsupported link types)"
fi
# The bulk of the corpus is EN10MB: most files must really be replayed.
if [ "$total" -gt 100 ] && [ "$ok" -lt $((total / 2)) ]; then
	echo "FAIL corpus replayed: only $ok of $total captures replayed"
else
	echo "PASS corpus replayed: $ok of $total"
fi
