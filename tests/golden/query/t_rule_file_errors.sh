#!/usr/bin/env bash
# How the commands that read a rule file report it (cli.md, ifwall(8)):
# - diagnostics are capped as gcc's -fmax-errors: the first 20 errors, then
#   "... and N more errors"; --max-errors N changes the cap, 0 lifts it;
#   check --json keeps every diagnostic;
# - a rule file (or query's CASES) the user may not read exits 3, a system
#   error; a missing file or one with errors stays 2. Run as nobody, from a
#   directory of its own: the checkout may be in a 0700 directory.
set -u
source "$(dirname "${BASH_SOURCE[0]}")/../../common.sh"   # pass, fail, skip
: "${TOP:?}" "${IFWALL:?}"
T=$(mktemp -d /tmp/ifw-rulefile.XXXXXX)
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
TEST_PREFIX="rule-file: "

for i in $(seq 50); do echo "bogus rule $i"; done >fifty.rules
printf 'pass out on wg0 all\n' >good.rules
printf 'out on wg0 tcp 10.0.0.2:1 > 1.1.1.1:2 -> pass\n' >good.cases
: >empty.pcap

# capped CMD ARGS...: NAME WANT_ERRORS WANT_LAST_LINE (empty: none)
capped() {
	local name=$1 want_errors=$2 want_more=$3 rc errors more
	shift 3
	"$IFWALL" "$@" >out 2>err; rc=$?
	errors=$(grep -c '^fifty.rules:[0-9]*:[0-9]*: error: ' err)
	more=$(grep -- '\.\.\. and ' err)
	if [ "$rc" = 2 ] && [ "$errors" = "$want_errors" ] && [ "$more" = "$want_more" ] && [ ! -s out ]; then
		pass "$name: $errors errors${more:+, '$more'}"
	else
		fail "$name: exit $rc, $errors errors (want $want_errors), count line '$more' (want '$want_more'), stdout $(head -c 100 out)"
	fi
}
capped "check: 20 by default" 20 "ifwall check: ... and 30 more errors" check fifty.rules
# The first 20 are the first 20 of the file, each with its source line.
if grep '^fifty.rules:' err | tail -1 | grep -q '^fifty.rules:20:1: error' && [ "$(tail -1 err)" = "ifwall check: ... and 30 more errors" ]; then
	pass "check: errors 1 to 20, then the count as the last line"
else
	fail "check: order: $(tail -4 err | tr '\n' '|')"
fi
capped "check --max-errors 5" 5 "ifwall check: ... and 45 more errors" check --max-errors 5 fifty.rules
capped "check --max-errors=49 (after RULES)" 49 "ifwall check: ... and 1 more error" check fifty.rules --max-errors=49
capped "check --max-errors 50" 50 "" check --max-errors 50 fifty.rules
capped "check --max-errors 0: no limit" 50 "" check --max-errors 0 fifty.rules
capped "query" 20 "ifwall query: ... and 30 more errors" query fifty.rules 'out on wg0 tcp 10.0.0.2:1 > 1.1.1.1:2'
capped "query --max-errors 1" 1 "ifwall query: ... and 49 more errors" query fifty.rules 'out on wg0 tcp 10.0.0.2:1 > 1.1.1.1:2' --max-errors 1
capped "query -f" 20 "ifwall query: ... and 30 more errors" query fifty.rules -f good.cases
capped "compile" 20 "ifwall compile: ... and 30 more errors" compile fifty.rules
capped "compile --max-errors 2" 2 "ifwall compile: ... and 48 more errors" compile --max-errors 2 fifty.rules
capped "replay" 20 "ifwall replay: ... and 30 more errors" replay fifty.rules empty.pcap
capped "replay --max-errors 3" 3 "ifwall replay: ... and 47 more errors" replay --max-errors 3 fifty.rules empty.pcap
# load and run refuse a file with errors before they need the kernel.
capped "load" 20 "ifwall load: ... and 30 more errors" load fifty.rules
capped "run" 20 "ifwall run: ... and 30 more errors" run --backend divert --max-errors 20 fifty.rules
"$IFWALL" check --json fifty.rules >out 2>/dev/null
n=$(grep -o '"severity":"error"' out | wc -l)
[ "$n" = 50 ] && pass "check --json: all 50 errors in the document" || fail "check --json: $n errors"

# The errors of CASES are capped too.
for i in $(seq 30); do echo "out on wg0 tcp 10.0.0.2:1 > 1.1.1.1 -> pass"; done >bad.cases
"$IFWALL" query good.rules -f bad.cases >out 2>err; rc=$?
errors=$(grep -c '^bad.cases:[0-9]*:[0-9]*: error: ' err)
if [ $rc = 2 ] && [ "$errors" = 20 ] && [ "$(tail -1 err)" = "ifwall query: ... and 10 more errors" ]; then
	pass "query -f: CASES errors capped"
else
	fail "query -f: CASES errors: exit $rc, $errors errors, last '$(tail -1 err)'"
fi

"$IFWALL" query good.rules -f bad.cases --max-errors 0 >out 2>err; rc=$?
errors=$(grep -c '^bad.cases:[0-9]*:[0-9]*: error: ' err)
if [ $rc = 2 ] && [ "$errors" = 30 ] && ! grep -q 'more error' err && [ ! -s out ]; then
	pass "query -f --max-errors 0: every CASES error, exit 2"
else
	fail "query -f --max-errors 0: exit $rc, $errors errors, last '$(tail -1 err)'"
fi

for bad in x -1 '' 5x; do
	"$IFWALL" check --max-errors "$bad" good.rules >/dev/null 2>err; rc=$?
	[ $rc = 2 ] && grep -q -- --max-errors err && pass "--max-errors '$bad' is a usage error" ||
		fail "--max-errors '$bad': exit $rc: $(head -c 200 err)"
done
"$IFWALL" check good.rules --max-errors >/dev/null 2>&1; rc=$?
[ $rc = 2 ] && pass "--max-errors without a value" || fail "--max-errors without a value: exit $rc"

# --- permission denied: 3; missing or invalid: 2 -------------------------------
if [ "$(id -u)" -ne 0 ]; then echo "SKIP rule-file: permission: needs root (to become nobody)"; exit 0; fi
if ! id nobody >/dev/null 2>&1; then echo "SKIP rule-file: permission: no user nobody"; exit 0; fi
if command -v setpriv >/dev/null && getent group nogroup >/dev/null; then
	as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@"; }
else
	as_nobody() { runuser -u nobody -- "$@"; }
fi
chmod 755 "$T"
cp "$IFWALL" "$T/ifwall"; chmod 755 "$T/ifwall"
chmod 644 good.rules good.cases fifty.rules empty.pcap
mkdir secret; chmod 700 secret
cp good.rules secret/r.rules
cp good.rules r600.rules; chmod 600 r600.rules
cp good.cases c600.cases; chmod 600 c600.cases

# as_nobody_expect NAME WANT_RC ARGS...
expect() {
	local name=$1 want=$2 rc
	shift 2
	as_nobody ./ifwall "$@" >out 2>err </dev/null; rc=$?
	if [ "$rc" = "$want" ] && [ -s err ] && [ ! -s out ]; then
		pass "as nobody: $name: exit $rc: $(head -1 err)"
	else
		fail "as nobody: $name: exit $rc, want $want; stderr '$(head -c 200 err)', stdout '$(head -c 100 out)'"
	fi
}
for f in secret/r.rules r600.rules; do
	expect "check $f (permission denied)" 3 check "$f"
	grep -q 'Permission denied' err || fail "as nobody: check $f: no 'Permission denied': $(cat err)"
	as_nobody ./ifwall check --json "$f" >out 2>/dev/null; rc=$?
	[ $rc = 3 ] && grep -q '"valid":false' out && pass "as nobody: check --json $f: exit 3, the document says invalid" ||
		fail "as nobody: check --json $f: exit $rc: $(head -c 200 out)"
	expect "query $f" 3 query "$f" 'out on wg0 tcp 10.0.0.2:1 > 1.1.1.1:2'
	expect "query $f -f" 3 query "$f" -f good.cases
	expect "compile $f" 3 compile "$f"
	expect "replay $f" 3 replay "$f" empty.pcap
done
# An include or a table file nobody may read is a permission error too
# (the parser keeps the errno; nothing opens the file a second time).
printf 'include "r600.rules"\n' >inc.rules; chmod 644 inc.rules
printf 'table <t> file "secret/t.txt"\npass out to <t>\n' >tab.rules; chmod 644 tab.rules
echo 10.0.0.1 >secret/t.txt
expect "check inc.rules (include permission denied)" 3 check inc.rules
expect "check tab.rules (table file permission denied)" 3 check tab.rules
expect "compile inc.rules" 3 compile inc.rules
expect "query -f c600.cases (permission denied)" 3 query good.rules -f c600.cases
expect "query -f secret/x.cases (permission denied)" 3 query good.rules -f secret/x.cases
# Missing files and files with errors stay 2.
expect "check missing.rules" 2 check missing.rules
expect "check fifty.rules" 2 check fifty.rules
expect "query missing.rules" 2 query missing.rules 'out on wg0 tcp 10.0.0.2:1 > 1.1.1.1:2'
expect "compile missing.rules" 2 compile missing.rules
expect "replay missing.rules" 2 replay missing.rules empty.pcap
expect "query -f missing.cases" 2 query good.rules -f missing.cases
# And a readable file is fine.
as_nobody ./ifwall check good.rules >out 2>err; rc=$?
[ $rc = 0 ] && pass "as nobody: check good.rules: 0" || fail "as nobody: check good.rules: exit $rc: $(cat err)"
