#!/usr/bin/env bash
# Builds every libFuzzer target tests/fuzz/fuzz_*.c with clang (ASan+UBSan)
# against the library sources and runs each for FUZZTIME seconds (default
# 30) on a seed corpus from the tests and ../shared/corpus. A crash is
# saved as tests/fuzz/crashes/TARGET-*; turn it into a regression input in
# tests/fuzz/regress/TARGET/ (replayed by tests/fuzz/t_fuzz_regress.sh).
# Prints PASS/FAIL per target and the number of executions.
set -u
cd "$(dirname "$0")/../.."
FUZZTIME=${FUZZTIME:-30}
B=build-fuzz
CC=${FUZZCC:-clang}
mkdir -p $B/obj tests/fuzz/crashes
CFLAGS="-g -O1 -std=gnu11 -I. -D_GNU_SOURCE -fsanitize=fuzzer-no-link,address,undefined $(pkg-config --cflags libpcap libnftnl libmnl 2>/dev/null)"
LIBS="$(pkg-config --libs libpcap libnftnl libmnl 2>/dev/null || echo -lpcap -lnftnl -lmnl)"
objs=()
for src in filter/*.c rules/*.c backends/*.c; do
	[ -f "$src" ] || continue
	o=$B/obj/$(echo "$src" | tr '/' '_').o
	if [ ! -f "$o" ] || [ "$src" -nt "$o" ]; then
		$CC $CFLAGS -c -o "$o" "$src" || { echo "FAIL fuzz-build: $src"; exit 1; }
	fi
	objs+=("$o")
done
fail=0
# FUZZTARGETS="fuzz_a fuzz_b" runs only those.
for t in ${FUZZTARGETS:-tests/fuzz/fuzz_*.c}; do
	case $t in */*) ;; *) t=tests/fuzz/$t.c ;; esac
	name=$(basename "$t" .c)
	$CC $CFLAGS -fsanitize=fuzzer -o $B/$name "$t" "${objs[@]}" $LIBS || { echo "FAIL $name: build"; fail=1; continue; }
	corpus=$B/corpus-$name
	mkdir -p "$corpus"
	seeds=tests/fuzz/seeds/$name.sh
	[ -f "$seeds" ] && bash "$seeds" "$corpus"
	[ -d tests/fuzz/regress/$name ] && cp tests/fuzz/regress/$name/* "$corpus"/ 2>/dev/null
	log=$B/$name.log
	# Rule files: small inputs reach more of the grammar per second (the
	# shadowed-rule check is quadratic in the number of rules by nature).
	case $name in fuzz_rules) maxlen=4096 ;; *) maxlen=65536 ;; esac
	ASAN_OPTIONS=detect_leaks=1 $B/$name -max_total_time="$FUZZTIME" -max_len=$maxlen \
		-timeout=10 -rss_limit_mb=2048 -artifact_prefix=tests/fuzz/crashes/$name- \
		"$corpus" >"$log" 2>&1
	rc=$?
	execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
	[ -z "$execs" ] && execs=$(grep -oE '#[0-9]+' "$log" | tail -1 | tr -d '#')
	if [ $rc -eq 0 ]; then
		echo "PASS $name: ${execs:-?} executions in ${FUZZTIME}s"
	else
		echo "FAIL $name: exit $rc, see $log"; tail -30 "$log"; fail=1
	fi
done
exit $fail
