#!/usr/bin/env bash
# The test runner behind 'make check'. Tests by kind, fastest first:
#   unit     C unit tests, binaries $O/tests/unit/test_*
#   golden   rule file -> expected output: tests/golden/{check,nft,query,replay}
#   api      libifwall from C: tests/api
#   docs     man pages, --help, completion, README: tests/docs
#   fuzz     the fuzzers' regression inputs: tests/fuzz
#   kernel   root, network namespaces, real traffic: tests/kernel/<feature>
# Every test (a unit binary or a script t_*.sh) prints one line per case
# (tests/common.sh: pass, fail, skip):
#   PASS name | FAIL name: why | SKIP name: why
# A test that exits non-zero without printing FAIL counts as one failure.
# Ends with "N passed, N failed". ONLY=pattern runs matching tests only.
set -u
cd "$(dirname "$0")/.."
export O=${O:-build}
export IFWALL=${IFWALL:-$PWD/$O/ifwall}
export TOP=$PWD
passed=0 failed=0 skipped=0
failures=()
log=$(mktemp -d /tmp/ifwall-check.XXXXXX)

run_one() {
	local name=$1; shift
	local out=$log/$(echo "$name" | tr '/' '_').log
	local start=$(date +%s)
	"$@" >"$out" 2>&1
	local rc=$?
	local p f s
	p=$(grep -c '^PASS ' "$out"); f=$(grep -c '^FAIL ' "$out"); s=$(grep -c '^SKIP ' "$out")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "FAIL $name: exited $rc" >>"$out"; f=1
	fi
	passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
	printf '%-40s %4d passed %3d failed %3d skipped (%ds)\n' "$name" "$p" "$f" "$s" $(( $(date +%s) - start ))
	if [ "$f" -gt 0 ]; then
		grep '^FAIL ' "$out" | head -20 | sed 's/^/    /'
		failures+=("$name: see $out")
	fi
}

for t in "$O"/tests/unit/test_*; do
	[ -x "$t" ] || continue
	name=unit/$(basename "$t")
	[ -n "${ONLY:-}" ] && [[ $name != *$ONLY* ]] && continue
	run_one "$name" "$t"
done
for t in $(for kind in golden api docs fuzz kernel; do
		find "tests/$kind" -name 't_*.sh' -type f | sort
	done); do
	name=${t#tests/}
	[ -n "${ONLY:-}" ] && [[ $name != *$ONLY* ]] && continue
	run_one "$name" bash "$t"
done
# A test outside the kind folders would never run: say so.
for t in $(find tests -name 't_*.sh' -type f | grep -vE '^tests/(golden|api|docs|fuzz|kernel|bench)/' | sort); do
	name=${t#tests/}
	[ -n "${ONLY:-}" ] && [[ $name != *$ONLY* ]] && continue
	run_one "$name" echo "FAIL $name: in no kind folder (tests/run.sh): move it to tests/golden, api, docs, fuzz or kernel/FEATURE"
done
echo
for f in "${failures[@]+"${failures[@]}"}"; do echo "failed: $f"; done
echo "logs in $log ($skipped skipped)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
