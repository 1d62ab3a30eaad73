#!/usr/bin/env bash
# ifwall.rules(5) tells the truth: every rule of its killswitch expansion
# (THE KILLSWITCH PRESET, with TUN = wg0 and DNS = 10.64.0.1) is a line of
# 'ifwall check --expand' for a killswitch with every option, in the same
# order; the EXAMPLES rule files check; the example query prints what the
# page says.
set -u
cd "${TOP:?}"
IFWALL=${IFWALL:?}
page=tools/man/ifwall.rules.5
dir=$(mktemp -d /tmp/ifwlib-man.XXXXXX)
trap '[ -n "${KEEP:-}" ] || rm -rf "$dir"' EXIT

# The rule lines of the .nf blocks of the killswitch section, continuation
# lines (indented) joined, templates (with font escapes) left out.
sed -n '/^\.SH THE KILLSWITCH PRESET/,/^\.SH /p' "$page" |
	awk '/^\.nf/ {on=1; next} /^\.fi/ {on=0; next} on' |
	grep -v '^killswitch\|^    [a-z]* .*#\|^    allow\|^}' |
	sed 's/\\-/-/g' |
	awk '/^    / {sub(/^    /, " "); line = line $0; next} {if (line != "") print line; line = $0} END {if (line != "") print line}' |
	grep -v '\\f' |
	sed -e 's/\bTUN\b/wg0/g' -e 's/\bDNS\b/10.64.0.1/g' -e 's/\bBR\b/docker0/g' >"$dir/man-rules"

cat >"$dir/ks.rules" <<'RULES'
killswitch {
    tunnel wg0
    endpoint 198.51.100.7 port 51820 proto udp
    dns 10.64.0.1
    allow lan
    allow dhcp
    allow bridge docker0
}
RULES
if ! "$IFWALL" check --expand "$dir/ks.rules" >"$dir/expanded" 2>"$dir/err"; then
	echo "FAIL man-killswitch: check --expand failed: $(head -3 "$dir/err")"; exit 0
fi
sed 's/  #@ .*//' "$dir/expanded" | grep -v '^set \|^table ' >"$dir/got"
n=$(wc -l <"$dir/man-rules")
# In order: the man page's rules must be a subsequence of check's output.
missing=$(awk 'BEGIN {i = 0; n = 0} NR == FNR {want[n++] = $0; next} i < n && $0 == want[i] {i++} END {for (; i < n; i++) print want[i]}' \
	"$dir/man-rules" "$dir/got")
if [ "$n" -ge 13 ] && [ -z "$missing" ]; then
	echo "PASS man-killswitch ($n rules)"
else
	echo "FAIL man-killswitch: $n rules in the page; not in check --expand (in order): $missing"
fi

# The page's example rule files are valid.
sed -n '/^\.SH EXAMPLES/,/^\.SH /p' "$page" |
	awk -v d="$dir" '/^\.nf/ {on=1; n++; next} /^\.fi/ {on=0; next} on {gsub(/\\-/, "-"); gsub(/\\\(aq/, "\047"); print > (d "/example" n ".rules")}'
printf '192.0.2.1\n' >"$dir/blocklist.txt"
for f in "$dir"/example1.rules "$dir"/example2.rules "$dir"/example4.rules "$dir"/example5.rules; do
	if "$IFWALL" check "$f" >/dev/null 2>"$dir/err"; then
		echo "PASS man-example-$(basename "$f" .rules)"
	else
		echo "FAIL man-example-$(basename "$f" .rules): $(head -2 "$dir/err" | tr '\n' ' ')"
	fi
done
cp "$dir/example1.rules" "$dir/wg.rules"
cmd=$(sed -n 's/^\$ ifwall query wg.rules //p' "$dir/example3.rules" | tr -d "'")
want=$(sed -n '/^\$ ifwall query/{n;p}' "$dir/example3.rules")
got=$(cd "$dir" && "$IFWALL" query wg.rules "$cmd" 2>&1)
if [ "$got" = "$want" ]; then echo "PASS man-example-query"; else echo "FAIL man-example-query: got '$got', want '$want'"; fi
