#!/usr/bin/env bash
# query as a regression table (cli.md): tcp and udp descriptions need both
# ports; --expect VERDICT exits 1 when a verdict is another (every line still
# printed); -f CASES reads one description a line with an optional
# '-> VERDICT', exits 1 listing each differing line as CASES:LINE, and 2 for
# a malformed line located at CASES:LINE:COL.
set -u
source "$(dirname "${BASH_SOURCE[0]}")/../../common.sh"   # pass, fail, skip
cd "$TOP/tests/golden/query" || exit 1
T=$(mktemp -d /tmp/ifw-query-expect.XXXXXX)
trap 'rm -rf "$T"' EXIT
TEST_PREFIX="query-expect: "
# check NAME WANT_RC WANT_STDOUT WANT_STDERR ARGS...: exact stdout and
# stderr ('*' for stderr: anything)
check() {
	local name=$1 want_rc=$2 want_out=$3 want_err=$4 out err rc
	shift 4
	out=$("$IFWALL" "$@" 2>"$T/err"); rc=$?
	err=$(cat "$T/err")
	if [ "$rc" = "$want_rc" ] && [ "$out" = "$want_out" ] && { [ "$want_err" = '*' ] || [ "$err" = "$want_err" ]; }; then
		pass "$name"
	else
		fail "$name: exit $rc (want $want_rc), stdout '$out' (want '$want_out'), stderr '$err'"
	fi
}

wg='out on wg0 tcp 10.0.0.2:1 > 1.1.1.1:2'
eth9='in on eth9 udp 1.1.1.1:2 > 10.0.0.2:1'
pass_wg='pass q4.rules:3 pass out on wg0 all'

# --- tcp and udp without ports ------------------------------------------------
check "tcp without a source port" 2 "" "ifwall query: invalid packet description 'out on eth0 tcp 1.1.1.1 > 2.2.2.2:2': column 17: tcp needs a source port: ADDR:PORT, or [ADDR]:PORT for IPv6
  out on eth0 tcp 1.1.1.1 > 2.2.2.2:2
                  ^" query q4.rules 'out on eth0 tcp 1.1.1.1 > 2.2.2.2:2'
check "udp without a destination port" 2 "" "ifwall query: invalid packet description 'out on eth0 udp 1.1.1.1:1 > 2.2.2.2': column 29: udp needs a destination port: ADDR:PORT, or [ADDR]:PORT for IPv6
  out on eth0 udp 1.1.1.1:1 > 2.2.2.2
                              ^" query q4.rules 'out on eth0 udp 1.1.1.1:1 > 2.2.2.2'
for d in 'out on eth0 tcp 1.1.1.1 > 2.2.2.2' 'out on eth0 udp 1.1.1.1 > 2.2.2.2' \
	 'in on wg0 tcp fd00::2 > [fd00::1]:443' 'in on wg0 udp [fd00::2]:53 > fd00::1' \
	 'out on eth0 6 1.1.1.1 > 2.2.2.2' 'out on eth0 17 1.1.1.1:1 > 2.2.2.2'; do
	check "no ports: '$d'" 2 "" '*' query q4.rules "$wg" "$d"
	grep -q "needs a .* port" "$T/err" || fail "no ports: '$d': message: $(cat "$T/err")"
done
# Other protocols need none (and 132, sctp, may have them or not).
check "gre without ports" 0 "$pass_wg" "" query q4.rules 'out on wg0 47 10.0.0.2 > 1.1.1.1'
check "sctp without ports" 0 "$pass_wg" "" query q4.rules 'out on wg0 132 10.0.0.2 > 1.1.1.1'

# --- --expect -------------------------------------------------------------------
check "--expect pass, all pass" 0 "$pass_wg" "" query --expect pass q4.rules "$wg"
check "--expect pass, one rejected: exit 1, every line printed" 1 "$pass_wg
reject default" "ifwall query: expected pass, got reject: $eth9" query --expect pass q4.rules "$wg" "$eth9"
check "--expect=reject after the operands" 1 "$pass_wg
reject default" '*' query q4.rules "$wg" "$eth9" --expect=reject
check "--expect reject, reject" 0 "reject default" "" query q4.rules "$eth9" --expect reject
check "--expect block is not reject" 1 "reject default" '*' query --expect block q4.rules "$eth9"
check "--expect with --json" 1 '{"verdict":"reject","rule":"default","text":null,"packet":"in on eth9 udp 1.1.1.1:2 > 10.0.0.2:1"}' '*' \
	query --json --expect pass q4.rules "$eth9"
# block: dropped silently (q6.rules has no block-policy reject)
check "--expect block" 0 "block q6.rules:4 block in on eth0 inet6 proto tcp from 2001:db8::/32 to any port 22" "" \
	query --expect block q6.rules 'in on eth0 tcp [2001:db8::5]:5000 > [2001:db8:1::1]:22'
for bad in drop deny PASS '' 'pass ' accept; do
	check "--expect '$bad' is a usage error" 2 "" '*' query --expect "$bad" q4.rules "$wg"
done
check "--expect without a value" 2 "" '*' query q4.rules "$wg" --expect
check "--expect twice" 2 "" '*' query --expect pass --expect pass q4.rules "$wg"
check "an invalid description before the verdicts" 2 "" '*' query --expect pass q4.rules "$wg" 'out on wg0 tcp 1.1.1.1 > 2.2.2.2'

# --- -f CASES -------------------------------------------------------------------
cat >"$T/ok.cases" <<CASES
# q4.rules regression table

$wg -> pass
   $eth9    ->    reject   # the default
out on eth0 tcp 192.168.1.10:40000 > 93.184.216.34:443->pass
	out on tun3 udp 10.0.0.2:1 > 1.1.1.1:2
CASES
all_lines="$pass_wg
reject default
pass q4.rules:5 pass out on eth0 inet proto tcp to any port { 80 443 }
pass q4.rules:10 pass out on type tunnel all"
check "-f: all as expected" 0 "$all_lines" "" query q4.rules -f "$T/ok.cases"
check "-f before RULES" 0 "$all_lines" "" query -f "$T/ok.cases" q4.rules
check "-f - (standard input)" 0 "$all_lines" "" query q4.rules -f - <"$T/ok.cases"
printf '%s -> pass\r\n%s\r\n' "$wg" "$eth9" >"$T/crlf.cases"
check "-f: CRLF lines" 0 "$pass_wg
reject default" "" query q4.rules -f "$T/crlf.cases"
check "-f --json" 0 '{"verdict":"pass","rule":"q4.rules:3","text":"pass out on wg0 all","packet":"out on wg0 tcp 10.0.0.2:1 > 1.1.1.1:2"}
{"verdict":"reject","rule":"default","text":null,"packet":"in on eth9 udp 1.1.1.1:2 > 10.0.0.2:1"}' "" query --json q4.rules -f "$T/crlf.cases"
# --expect applies to the lines without a verdict of their own (line 6 here)
check "-f with --expect block" 1 "$all_lines" "$T/ok.cases:6: expected block, got pass: out on tun3 udp 10.0.0.2:1 > 1.1.1.1:2" \
	query --expect block q4.rules -f "$T/ok.cases"

cat >"$T/diff.cases" <<CASES
$wg -> block
$wg -> pass
# a comment -> block
$eth9 -> pass
$eth9 -> reject
$eth9
CASES
check "-f: mismatches listed as CASES:LINE, every line printed" 1 "$pass_wg
$pass_wg
reject default
reject default
reject default" "$T/diff.cases:1: expected block, got pass: $wg
$T/diff.cases:4: expected pass, got reject: $eth9" query q4.rules -f "$T/diff.cases"
check "-f -: mismatches named <stdin>" 1 "$pass_wg
$pass_wg
reject default
reject default
reject default" "<stdin>:1: expected block, got pass: $wg
<stdin>:4: expected pass, got reject: $eth9" query q4.rules -f - <"$T/diff.cases"

# Malformed lines: exit 2, nothing printed, each located at CASES:LINE:COL.
cat >"$T/bad.cases" <<CASES
$wg -> pass
$wg -> allow
out on wg0 tcpx 10.0.0.2:1 > 1.1.1.1:2
out on wg0 tcp 10.0.0.2:1 > 1.1.1.1 -> pass
-> pass
$wg -> pass pass
$wg ->
CASES
check "-f: malformed lines" 2 "" "$T/bad.cases:2:42: error: expected a verdict after '->': pass, block or reject
$wg -> allow
                                         ^
$T/bad.cases:3:12: error: invalid packet description: unknown protocol 'tcpx' (tcp, udp, icmp, icmp6 or 0-255)
out on wg0 tcpx 10.0.0.2:1 > 1.1.1.1:2
           ^
$T/bad.cases:4:29: error: invalid packet description: tcp needs a destination port: ADDR:PORT, or [ADDR]:PORT for IPv6
out on wg0 tcp 10.0.0.2:1 > 1.1.1.1 -> pass
                            ^
$T/bad.cases:5:1: error: invalid packet description: empty packet description; expected 'in' or 'out'
-> pass
^
$T/bad.cases:6:47: error: unexpected 'pass' after the verdict
$wg -> pass pass
                                              ^
$T/bad.cases:7:41: error: expected a verdict after '->': pass, block or reject
$wg ->
                                        ^" query q4.rules -f "$T/bad.cases"
printf '%s -> pass\n%s\0 -> pass\n' "$wg" "$wg" >"$T/nul.cases"
check "-f: a NUL byte" 2 "" '*' query q4.rules -f "$T/nul.cases"
grep -q "nul.cases:2:" "$T/err" || fail "-f: a NUL byte: not located: $(cat "$T/err")"

# Usage: -f with packets, twice, without a value; CASES missing (2).
check "-f with packet operands" 2 "" '*' query q4.rules "$wg" -f "$T/ok.cases"
check "-f twice" 2 "" '*' query q4.rules -f "$T/ok.cases" -f "$T/ok.cases"
check "-f without a value" 2 "" '*' query q4.rules -f
check "-f without RULES" 2 "" '*' query -f "$T/ok.cases"
check "-f missing file" 2 "" '*' query q4.rules -f "$T/missing.cases"
grep -q "missing.cases" "$T/err" || fail "-f missing file: message: $(cat "$T/err")"
check "-f a directory" 2 "" '*' query q4.rules -f "$T"
: >"$T/empty.cases"
check "-f an empty table" 0 "" "" query q4.rules -f "$T/empty.cases"
check "-f and an invalid rule file: 2" 2 "" '*' query "$T/missing.rules" -f "$T/ok.cases"
