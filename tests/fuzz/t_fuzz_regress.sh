#!/usr/bin/env bash
# Replays every fuzz target's regression inputs (crashes found by fuzzing,
# kept in tests/fuzz/regress/TARGET/) and its seed corpus through the
# target's entry point, built without libFuzzer in this build (gcc, or
# ASan+UBSan with SAN=1). Each must run clean.
set -u
: "${TOP:?}" "${O:?}"
cd "$TOP"
for src in tests/fuzz/fuzz_*.c; do
	name=$(basename "$src" .c)
	bin=$O/tests/fuzz/$name
	[ -x "$bin" ] || { echo "FAIL $name: $bin not built"; continue; }
	d=$(mktemp -d /tmp/ifw-fuzzreg.XXXXXX)
	[ -f tests/fuzz/seeds/$name.sh ] && bash tests/fuzz/seeds/$name.sh "$d" >/dev/null 2>&1
	[ -d tests/fuzz/regress/$name ] && cp tests/fuzz/regress/$name/* "$d"/ 2>/dev/null
	n=$(ls "$d" | wc -l)
	if [ "$n" -eq 0 ]; then echo "FAIL $name: no inputs (tests/fuzz/seeds/$name.sh wrote none)"; rm -rf "$d"; continue; fi
	# pcap inputs are written to /tmp per run; one process for all inputs.
	ASAN_OPTIONS=detect_leaks=1 timeout 300 find "$d" -type f -print0 | sort -z | \
		ASAN_OPTIONS=detect_leaks=1 timeout 300 xargs -0 "$bin" >"$d.log" 2>&1
	rc=$?
	if [ $rc -eq 0 ] && ! grep -qE 'Sanitizer|runtime error' "$d.log"; then
		echo "PASS $name: $n inputs replayed clean"
	else
		echo "FAIL $name: exit $rc on $n inputs"; grep -E 'ERROR|SUMMARY|runtime error' "$d.log" | head -5
	fi
	rm -rf "$d" "$d.log"
done
exit 0
