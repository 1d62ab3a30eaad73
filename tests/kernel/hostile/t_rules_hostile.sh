#!/usr/bin/env bash
# Hostile rule files: each must give success or located errors (exit 0 or 2),
# never a crash, a sanitizer report or a hang.
set -u
: "${IFWALL:?}"
d=$(mktemp -d /tmp/ifw-hostile.XXXXXX)
trap 'rm -rf "$d"' EXIT

# expect NAME WANT_RC SECONDS FILE [PATTERN_IN_STDERR]
expect() {
	local name=$1 want=$2 secs=$3 file=$4 pat=${5:-}
	local start=$(date +%s%N)
	timeout "$secs" "$IFWALL" check "$file" >"$d/out" 2>"$d/err"
	local rc=$?
	local ms=$(( ($(date +%s%N) - start) / 1000000 ))
	if [ $rc -eq 124 ]; then echo "FAIL $name: hung (> ${secs}s)"; return; fi
	if grep -qE 'AddressSanitizer|UndefinedBehaviorSanitizer|runtime error' "$d/err"; then
		echo "FAIL $name: sanitizer report"; head -5 "$d/err"; return; fi
	if [ $rc -ne "$want" ]; then echo "FAIL $name: exit $rc, want $want"; head -3 "$d/err"; return; fi
	if [ -n "$pat" ] && ! grep -qE -- "$pat" "$d/err"; then
		echo "FAIL $name: stderr lacks /$pat/"; head -3 "$d/err"; return; fi
	echo "PASS $name (${ms} ms)"
}

# 1 million table entries from a file: must load, fast.
/usr/bin/python3 - "$d/big.txt" <<'PY'
import sys
with open(sys.argv[1], 'w') as f:
    for i in range(1000000):
        f.write('10.%d.%d.%d\n' % (i >> 16 & 255, i >> 8 & 255, i & 255) if i < 900000
                else '2001:db8:%x:%x::/64\n' % (i >> 16, i & 0xffff))
PY
printf 'table <big> file "big.txt"\nblock out to <big>\npass out all\n' >"$d/big.rules"
expect "million-entry table loads" 0 60 "$d/big.rules"

# Include nesting: 15 levels load; 200 levels give a located error (the
# limit is 16, as in nftables), never a stack overflow.
for i in $(seq 0 199); do printf 'include "inc%d.rules"\n' $((i + 1)) >"$d/inc$i.rules"; done
printf 'pass out all\n' >"$d/inc200.rules"
expect "200-deep include chain is a located error" 2 20 "$d/inc0.rules" 'inc[0-9]+\.rules:1:[0-9]+: error: .*deep'
expect "15-deep include chain loads" 0 20 "$d/inc185.rules"

# Very deep include chain: 5000 levels must fail cleanly or succeed, no stack overflow.
mkdir "$d/deep"
for i in $(seq 0 4999); do printf 'include "i%d.rules"\n' $((i + 1)) >"$d/deep/i$i.rules"; done
printf 'pass out all\n' >"$d/deep/i5000.rules"
timeout 60 "$IFWALL" check "$d/deep/i0.rules" >/dev/null 2>"$d/err"; rc=$?
if [ $rc -eq 0 ] || [ $rc -eq 2 ]; then echo "PASS 5000-deep include chain (exit $rc)"; else echo "FAIL 5000-deep include chain: exit $rc"; fi

# Include cycle: located error.
printf 'include "b.rules"\n' >"$d/a.rules"
printf 'include "a.rules"\n' >"$d/b.rules"
expect "include cycle is an error" 2 10 "$d/a.rules" 'b\.rules:1:[0-9]+: error: include cycle'
printf 'include "self.rules"\n' >"$d/self.rules"
expect "self include is an error" 2 10 "$d/self.rules" 'self\.rules:1:[0-9]+: error:'

# Binary garbage.
head -c 200000 /dev/urandom >"$d/garbage.rules"
expect "binary garbage" 2 20 "$d/garbage.rules" 'garbage\.rules:[0-9]+:[0-9]+: error:'
# NUL bytes in the middle of a valid file.
printf 'pass out all\n\0\0\0pass in all\n' >"$d/nul.rules"
timeout 10 "$IFWALL" check "$d/nul.rules" >/dev/null 2>"$d/err"; rc=$?
if [ $rc -eq 0 ] || [ $rc -eq 2 ]; then echo "PASS NUL bytes (exit $rc)"; else echo "FAIL NUL bytes: exit $rc"; fi

# A 1 MB line.
/usr/bin/python3 -c "print('pass out to { ' + ' '.join('10.0.%d.%d' % (i >> 8 & 255, i & 255) for i in range(65000)) + ' }')" >"$d/longlist.rules"
expect "1 MB line of valid addresses" 0 30 "$d/longlist.rules"
/usr/bin/python3 -c "print('pass out ' + 'x' * 1048576)" >"$d/longword.rules"
expect "1 MB word" 2 30 "$d/longword.rules" 'longword\.rules:1:[0-9]+: error:'

# Non-UTF-8 bytes in a comment (fine) and in a token (error).
printf 'pass out all # caf\xe9 \xff\xfe\n' >"$d/latin1-comment.rules"
expect "non-UTF-8 comment" 0 10 "$d/latin1-comment.rules"
printf 'pass out on \xff\xfe0 all\n' >"$d/latin1-token.rules"
timeout 10 "$IFWALL" check "$d/latin1-token.rules" >/dev/null 2>"$d/err"; rc=$?
if [ $rc -eq 0 ] || [ $rc -eq 2 ]; then echo "PASS non-UTF-8 interface name (exit $rc)"; else echo "FAIL non-UTF-8 interface name: exit $rc"; fi

# Many errors: every one found in one run; the first 20 printed and the
# rest counted (gcc's -fmax-errors), all of them with --max-errors 0.
for i in $(seq 1 500); do echo "pass out to 10.0.0.1/8"; done >"$d/many.rules"
timeout 20 "$IFWALL" check "$d/many.rules" >/dev/null 2>"$d/err"; rc=$?
n=$(grep -c ': error:' "$d/err")
if [ $rc -eq 2 ] && [ "$n" -eq 20 ] && grep -q 'and 480 more errors' "$d/err"; then echo "PASS 500 errors found in one run, 20 printed, 480 counted"
else echo "FAIL 500 errors: exit $rc, $n errors reported: $(tail -1 "$d/err")"; fi
timeout 20 "$IFWALL" check --max-errors 0 "$d/many.rules" >/dev/null 2>"$d/err"; rc=$?
n=$(grep -c ': error:' "$d/err")
if [ $rc -eq 2 ] && [ "$n" -eq 500 ]; then echo "PASS --max-errors 0: 500 errors reported in one run"; else echo "FAIL --max-errors 0: exit $rc, $n errors reported"; fi

# Unterminated constructs.
printf 'pass out to { 10.0.0.1\n' >"$d/open-brace.rules"
expect "unterminated list" 2 10 "$d/open-brace.rules" 'open-brace\.rules:[0-9]+:[0-9]+: error:'
printf 'label "abc\n' >"$d/open-string.rules"
expect "unterminated string" 2 10 "$d/open-string.rules" 'open-string\.rules:1:[0-9]+: error:'
printf 'pass out all \\' >"$d/trailing-bs.rules"
timeout 10 "$IFWALL" check "$d/trailing-bs.rules" >/dev/null 2>"$d/err"; rc=$?
if [ $rc -eq 0 ] || [ $rc -eq 2 ]; then echo "PASS continuation at end of file (exit $rc)"; else echo "FAIL continuation at end of file: exit $rc"; fi
# Missing file, directory, empty file.
expect "missing file" 2 5 "$d/does-not-exist.rules" 'does-not-exist'
expect "directory as rule file" 2 5 "$d" ''
: >"$d/empty.rules"
expect "empty file" 0 5 "$d/empty.rules"
