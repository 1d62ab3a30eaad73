#!/usr/bin/env bash
# Robustness: replay every capture of the shared tcpdump corpus (many
# malformed on purpose; IFWALL_CORPUS=DIR names another) against a kill
# switch. Each must exit 0 (with a summary line), or 2 with a message naming
# an unsupported link type. Any other exit, a crash, a hang, a capture with
# no result or a sanitizer report (O=build-san) fails; so does a corpus of
# which fewer than half the captures were replayed, whatever its size.
set -u
source "$(dirname "${BASH_SOURCE[0]}")/../../common.sh"   # pass, fail, skip
corpus=${IFWALL_CORPUS:-$TOP/../shared/corpus/tcpdump}
[ -d "$corpus" ] || [ -n "${IFWALL_CORPUS:-}" ] || corpus=/work/shared/corpus/tcpdump
if [ ! -d "$corpus" ]; then
	skip corpus "no capture corpus (shared/corpus/tcpdump)"
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
	sort -z >"$work/captures"
xargs -0 -n 8 -P 2 bash -c 'for f; do check_one "$f"; done' _ <"$work/captures"

# Every capture found is counted, with or without a result.
total=0 ok=0 unsupported=0 bad=0
while IFS= read -r -d '' f; do
	total=$((total + 1))
	r=$work/$(basename "$f").result
	verdict=BAD rest="no result (check_one did not finish)"
	[ -f "$r" ] && read -r verdict rest <"$r"
	case $verdict in
	OK) ok=$((ok + 1)) ;;
	UNSUPPORTED) unsupported=$((unsupported + 1)) ;;
	*) bad=$((bad + 1))
	   fail "corpus/$(basename "$f")" "$rest" ;;
	esac
done <"$work/captures"
if [ "$bad" -eq 0 ] && [ "$total" -gt 0 ]; then
	pass corpus "$total captures ($ok replayed, $unsupported unsupported link types)"
fi
# Whatever the corpus size, the captures must really be replayed, not
# refused: the bulk of any tcpdump corpus is EN10MB, which replay reads.
# (An empty corpus replays nothing and fails here.)
if [ "$ok" -gt 0 ] && [ "$ok" -ge $(( (total + 1) / 2 )) ]; then
	pass "corpus replayed" "$ok of $total"
else
	fail "corpus replayed" "only $ok of $total captures in $corpus replayed"
fi
[ "$FAILED" -eq 0 ]
