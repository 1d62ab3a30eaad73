#!/usr/bin/env bash
# make bench: runs every tests/bench/b_*.sh (each prints its numbers and
# PASS/FAIL lines against its target). Ends with "N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
export O=${O:-build}
export IFWALL=${IFWALL:-$PWD/$O/ifwall}
export TOP=$PWD
passed=0 failed=0
for b in tests/bench/b_*.sh; do
	[ -f "$b" ] || continue
	echo "== $b"
	out=$(bash "$b" 2>&1)
	rc=$?
	echo "$out"
	p=$(grep -c '^PASS ' <<<"$out"); f=$(grep -c '^FAIL ' <<<"$out")
	[ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
	passed=$((passed + p)); failed=$((failed + f))
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
