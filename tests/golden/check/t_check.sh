#!/usr/bin/env bash
# Golden tests of the rule language through 'ifwall check' (run from
# tests/golden/check so the FILE in messages is a stable relative path):
#   valid/X.rules    stdout of 'check' == valid/X.out, exit 0, stderr ==
#                    valid/X.err (warnings) or empty; 'check --expand' ==
#                    valid/X.expand.out when present, else == X.out;
#                    check of the output (both modes) prints it again.
#   invalid/X.rules  exit 2, nothing on stdout, stderr == invalid/X.err.
#   rules/examples   check cleanly (no diagnostics) and round-trip.
# REGEN=1 rewrites the expected files from the current output (review the
# diff before committing).
set -u
cd "$(dirname "$0")"
source ../../common.sh   # pass, fail
IFWALL=${IFWALL:-../../../build/ifwall}
tmp=$(mktemp -d /tmp/ifwall-golden.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# 'check' as root warns about rule files others could write (ownership of
# the checkout); that is not what these files test.
untrusted='an unprivileged user could change the rules'
strip_trust() { grep -v -- "$untrusted" "$1" >"$1.tmp"; mv "$1.tmp" "$1"; }

# expect_same NAME EXPECTED_FILE GOT_FILE
expect_same() {
	if [ -n "${REGEN:-}" ]; then
		cp "$3" "$2"
	fi
	if [ -f "$2" ] && cmp -s "$2" "$3"; then
		pass "$1"
	else
		fail "$1" "differs from $2: $(diff "$2" "$3" 2>&1 | head -5 | tr '\n' '|')"
	fi
}

# round_trip NAME DIR FILE [--expand]: check of check's output is identical.
round_trip() {
	local name=$1 dir=$2 file=$3 mode=${4:-}
	local out1=$tmp/rt1 out2=$tmp/rt2
	(cd "$dir" && "$IFWALL" check $mode "$file") >"$out1" 2>/dev/null
	(cd "$dir" && "$IFWALL" check $mode "$out1") >"$out2" 2>"$tmp/rt.err"
	local rc=$?
	if [ $rc -eq 0 ] && cmp -s "$out1" "$out2"; then
		pass "$name"
	else
		fail "$name" "rc=$rc $(diff "$out1" "$out2" | head -4 | tr '\n' '|') $(head -3 "$tmp/rt.err" | tr '\n' '|')"
	fi
}

for f in valid/*.rules; do
	n=${f%.rules}
	name=valid/$(basename "$n")
	"$IFWALL" check "$f" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	strip_trust "$tmp/err"
	if [ $rc -eq 0 ]; then pass "$name/exit"; else fail "$name/exit" "exit $rc: $(head -3 "$tmp/err" | tr '\n' '|')"; fi
	expect_same "$name/stdout" "$n.out" "$tmp/out"
	if [ -f "$n.err" ] || [ -s "$tmp/err" ]; then
		expect_same "$name/stderr" "$n.err" "$tmp/err"
	else
		pass "$name/stderr"
	fi
	"$IFWALL" check --expand "$f" >"$tmp/xout" 2>/dev/null
	if [ -f "$n.expand.out" ]; then
		expect_same "$name/expand" "$n.expand.out" "$tmp/xout"
	elif cmp -s "$tmp/out" "$tmp/xout"; then
		pass "$name/expand"
	elif [ -n "${REGEN:-}" ]; then
		cp "$tmp/xout" "$n.expand.out"
		pass "$name/expand"
	else
		fail "$name/expand" "--expand output differs and there is no $n.expand.out"
	fi
	round_trip "$name/roundtrip" . "$f"
	round_trip "$name/roundtrip-expand" . "$f" --expand
done

for f in invalid/*.rules; do
	n=${f%.rules}
	name=invalid/$(basename "$n")
	"$IFWALL" check "$f" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	strip_trust "$tmp/err"
	if [ $rc -eq 2 ] && [ ! -s "$tmp/out" ]; then
		pass "$name/exit"
	else
		fail "$name/exit" "exit $rc (want 2), stdout $(wc -c <"$tmp/out") bytes"
	fi
	expect_same "$name/stderr" "$n.err" "$tmp/err"
done

# The shipped examples: no diagnostics at all, and they round-trip.
examples=../../../rules/examples
for f in "$examples"/*.rules; do
	b=$(basename "$f")
	name=examples/${b%.rules}
	(cd "$examples" && "$IFWALL" check "$b") >"$tmp/out" 2>"$tmp/err"
	rc=$?
	strip_trust "$tmp/err"
	if [ $rc -eq 0 ] && [ ! -s "$tmp/err" ] && [ -s "$tmp/out" ]; then
		pass "$name/check"
	else
		fail "$name/check" "exit $rc: $(head -3 "$tmp/err" | tr '\n' '|')"
	fi
	round_trip "$name/roundtrip" "$examples" "$b"
	round_trip "$name/roundtrip-expand" "$examples" "$b" --expand
done

# Command line.
"$IFWALL" check -h >"$tmp/out" 2>&1
rc=$?
if [ $rc -eq 0 ] && grep -q '^Usage: .*check' "$tmp/out"; then pass cli/help; else fail cli/help "exit $rc"; fi
"$IFWALL" check >/dev/null 2>&1
rc=$?; if [ $rc -eq 2 ]; then pass cli/no-file; else fail cli/no-file "exit $rc"; fi
"$IFWALL" check --frob valid/basic.rules >/dev/null 2>&1
rc=$?; if [ $rc -eq 2 ]; then pass cli/bad-option; else fail cli/bad-option "exit $rc"; fi
"$IFWALL" check valid/basic.rules valid/all.rules >/dev/null 2>&1
rc=$?; if [ $rc -eq 2 ]; then pass cli/two-files; else fail cli/two-files "exit $rc"; fi
"$IFWALL" check no/such/file.rules >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -eq 2 ] && grep -q '^no/such/file.rules: error: ' "$tmp/err"; then
	pass cli/missing-file
else
	fail cli/missing-file "exit $rc: $(cat "$tmp/err")"
fi

# --json: one document with the rule set and the diagnostics.
json_check() {
	local name=$1 file=$2 want_rc=$3 script=$4
	"$IFWALL" check --json "$file" >"$tmp/json" 2>/dev/null
	local rc=$?
	if [ $rc -ne "$want_rc" ]; then
		fail "$name" "exit $rc (want $want_rc)"
		return
	fi
	if /usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); d['diagnostics'] = [x for x in d['diagnostics'] if '$untrusted' not in x['message']]; $script" "$tmp/json" 2>"$tmp/pyerr"; then
		pass "$name"
	else
		fail "$name" "$(tail -1 "$tmp/pyerr")"
	fi
}
json_check json/killswitch valid/killswitch.rules 0 "
assert d['file'] == 'valid/killswitch.rules'
r = d['rules']
assert len(r) == 17, len(r)
assert r[0] == {'file': 'valid/killswitch.rules', 'line': 5, 'text': 'block out log to <blocked>', 'origin': 'user'}, r[0]
assert r[1]['origin'] == 'killswitch' and r[1]['line'] == 6 and r[1]['text'] == 'pass on type loopback all'
assert r[2]['text'] == 'block drop in on !wg0 to (wg0)', r[2]
assert r[-1]['origin'] == 'user' and r[-1]['line'] == 13
assert d['default_in'] == 'drop' and d['default_out'] == 'reject' and d['block_policy'] == 'drop'
assert d['skip'] == ['lo'], d['skip']
assert d['tables'] == [{'name': 'blocked', 'count': 1}]
assert d['diagnostics'] == []"
json_check json/warnings valid/shadow.rules 0 "
w = [x for x in d['diagnostics'] if x['severity'] == 'warning']
assert len(w) == len(d['diagnostics']) and len(w) >= 3, d['diagnostics']
assert w[0]['file'] == 'valid/shadow.rules' and w[0]['line'] == 4 and 'valid/shadow.rules:3' in w[0]['message'], w[0]"
json_check json/invalid invalid/recovery.rules 2 "
e = d['diagnostics']
assert d['rules'] == []
assert [x['line'] for x in e] == [2, 4, 7, 10], e
assert all(x['severity'] == 'error' for x in e)
assert e[0]['col'] == 13 and 'host bits' in e[0]['message']"
