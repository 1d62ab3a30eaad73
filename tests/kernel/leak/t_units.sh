#!/usr/bin/env bash
# The kill switch's boot and lifetime pieces and its man page:
#   - tools/systemd/*.service are valid units, ordered and shaped as
#     ifwall-killswitch(7) says (before network-pre.target; the boot guard a
#     one-shot load, the kill switch 'run --backend nft' with readiness; no
#     ExecStop);
#   - tools/systemd/boot.rules is a valid rule file that passes loopback and
#     DHCP and nothing else (offline with ifwall query, and in the kernel
#     with ifwall load in a network namespace, as root);
#   - tools/man/ifwall-killswitch.7 renders without warnings and its
#     expansion listing is what `ifwall check --expand` prints.
set -u
cd "$(dirname "$0")"
. ./net.sh
TOP=${TOP:-$(cd ../../.. && pwd)}
IFWALL=${IFWALL:-$TOP/build/ifwall}
UNITS=$TOP/tools/systemd
MANPAGE=$TOP/tools/man/ifwall-killswitch.7
BOOT_RULES=$UNITS/boot.rules

available() { [ -x "$IFWALL" ] && ! "$IFWALL" "$1" -h 2>&1 | grep -q 'not available in this build'; }

WORK=$(mktemp -d /tmp/ifwleak-units.XXXXXX)
NS_A=ifwleak-$$-boota NS_B=ifwleak-$$-bootb
cleanup() {
	local pid
	for pid in "${NET_PIDS[@]+"${NET_PIDS[@]}"}"; do kill "$pid" 2>/dev/null; done
	for ns in $NS_A $NS_B; do
		[ -e /var/run/netns/$ns ] && ip netns del $ns 2>/dev/null
	done
	rm -rf "$WORK"
}
trap cleanup EXIT

# ---------------------------------------------------------------- units

unit_has() {   # unit_has CASE UNIT LINE...: every LINE is in UNIT
	local name=$1 unit=$2 line missing=; shift 2
	for line in "$@"; do
		grep -qxF "$line" "$UNITS/$unit" || missing+="${missing:+; }$line"
	done
	if [ -z "$missing" ]; then echo "PASS $name"; else echo "FAIL $name: $unit lacks: $missing"; fi
}

unit_has unit-boot-order ifwall-boot.service "DefaultDependencies=no" \
	"Wants=network-pre.target" "Before=network-pre.target shutdown.target" \
	"Type=oneshot" "RemainAfterExit=yes" \
	"ExecStart=@BINDIR@/ifwall load @SYSCONFDIR@/ifwall/boot.rules"
# the kill switch is held by 'run --backend nft' (owned table), ready when
# the rules are in place, reloaded by SIGHUP
unit_has unit-main-order ifwall.service "DefaultDependencies=no" \
	"After=ifwall-boot.service" "Before=network-pre.target shutdown.target" \
	"Type=notify" \
	"ExecStart=@BINDIR@/ifwall run --backend nft @SYSCONFDIR@/ifwall/ifwall.rules" \
	"ExecReload=/bin/kill -HUP \$MAINPID"
# A kill switch must not open when its service stops: no ExecStop flush.
if grep -q '^ExecStop' "$UNITS"/*.service; then
	echo "FAIL unit-no-execstop: $(grep -l '^ExecStop' "$UNITS"/*.service | xargs -n1 basename | tr '\n' ' ')has ExecStop"
else
	echo "PASS unit-no-execstop"
fi

if command -v systemd-analyze >/dev/null && [ -x "$IFWALL" ]; then
	# as make install writes them (BINDIR, SYSCONFDIR substituted)
	for u in "$UNITS"/*.service; do
		sed -e "s|@BINDIR@|$(dirname "$IFWALL")|g" -e "s|@SYSCONFDIR@|/etc|g" "$u" >"$WORK/${u##*/}"
	done
	if out=$(systemd-analyze verify --man=no "$WORK"/*.service 2>&1) && [ -z "$out" ]; then
		echo "PASS unit-verify: systemd-analyze verify is silent"
	else
		echo "FAIL unit-verify: $(head -c 400 <<<"$out" | tr '\n' ' ')"
	fi
else
	echo "SKIP unit-verify: no systemd-analyze"
fi

# ---------------------------------------------------------------- man page

if command -v groff >/dev/null; then
	out=$(groff -man -ww -z "$MANPAGE" 2>&1)
	if [ -z "$out" ]; then echo "PASS man-renders"; else echo "FAIL man-renders: $(head -c 300 <<<"$out")"; fi
else
	echo "SKIP man-renders: no groff"
fi

# The listing between the EXPANSION markers, roff escapes undone, must be
# ifwall check --expand of the example block above it.
cat >"$WORK/example.rules" <<'EOF'
killswitch {
    tunnel wg0
    endpoint 198.51.100.7 port 51820 proto udp mark 0xca6c
    dns 10.64.0.1
    allow lan
    allow dhcp
}
EOF
sed -n '/EXPANSION-BEGIN/,/EXPANSION-END/p' "$MANPAGE" | sed '1d;$d' | sed 's/\\-/-/g' >"$WORK/man-expansion"
example_in_page=$(grep -F '    endpoint 198.51.100.7 port 51820 proto udp mark 0xca6c' "$MANPAGE")
if [ ! -s "$WORK/man-expansion" ] || [ -z "$example_in_page" ]; then
	echo "FAIL man-expansion: no example or no EXPANSION-BEGIN/END listing in $MANPAGE"
elif available check; then
	"$IFWALL" check --expand "$WORK/example.rules" >"$WORK/check.out" 2>"$WORK/check.err"
	rc=$?
	sed -e 's/  #@ .*$//' "$WORK/check.out" | grep -v '^set ' | grep -v '^$' >"$WORK/check-expansion"
	if [ $rc -eq 0 ] && diff -u "$WORK/man-expansion" "$WORK/check-expansion" >"$WORK/diff"; then
		echo "PASS man-expansion: the page lists exactly the $(wc -l <"$WORK/man-expansion") rules ifwall check --expand prints"
	else
		echo "FAIL man-expansion: check exited $rc; page vs check: $(head -c 600 "$WORK/diff" "$WORK/check.err" | tr '\n' '|')"
	fi
else
	echo "SKIP man-expansion: ifwall check not available in this build yet"
fi

# ---------------------------------------------------------------- boot.rules

if available check; then
	if out=$("$IFWALL" check "$BOOT_RULES" 2>&1); then
		echo "PASS boot-rules-check"
	else
		echo "FAIL boot-rules-check: $(head -c 400 <<<"$out" | tr '\n' ' ')"
	fi
else
	echo "SKIP boot-rules-check: ifwall check not available in this build yet"
fi

# Offline: the verdict of each packet (first word of query's line).
if available query; then
	bad=
	while IFS='|' read -r want pkt; do
		got=$("$IFWALL" query "$BOOT_RULES" "$pkt" 2>&1 | awk '{print $1; exit}')
		[ "$got" = "$want" ] || bad+="${bad:+; }'$pkt' is '$got', want $want"
	done <<'EOF'
pass|out on eth0 udp 0.0.0.0:68 > 255.255.255.255:67
pass|in on eth0 udp 192.168.1.1:67 > 192.168.1.2:68
pass|out on eth0 udp [fe80::2]:546 > [ff02::1:2]:547
pass|out on eth0 icmp6 fe80::2 > ff02::2 type nd-router-solicit
pass|out on lo tcp 127.0.0.1:40000 > 127.0.0.1:631
block|out on eth0 udp 192.168.1.2:40000 > 192.168.1.1:53
block|out on eth0 tcp 192.168.1.2:40000 > 203.0.113.80:443
block|out on eth0 tcp [2001:db8:1::2]:40000 > [2001:db8::80]:443
block|out on wg0 tcp 10.64.0.2:40000 > 203.0.113.80:443
block|in on eth0 tcp 192.168.1.1:40000 > 192.168.1.2:22
block|out on eth0 icmp6 2001:db8:1::2 > 2001:db8::80 type echo-request
EOF
	if [ -z "$bad" ]; then echo "PASS boot-rules-verdicts: DHCP, ND and loopback pass; DNS, web, IPv6, the tunnel do not"
	else echo "FAIL boot-rules-verdicts: $bad"; fi
else
	echo "SKIP boot-rules-verdicts: ifwall query not available in this build yet"
fi

# In the kernel: a host with boot.rules loaded and its LAN router.
boot_rules_enforced() {
	ip netns add $NS_A && ip netns add $NS_B || return 1
	ip -n $NS_A link set lo up; ip -n $NS_B link set lo up
	nsx $NS_A sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
	nsx $NS_B sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
	ip link add eth0 netns $NS_A type veth peer name eth0 netns $NS_B || return 1
	ip -n $NS_A addr add 192.168.1.2/24 dev eth0
	ip -n $NS_B addr add 192.168.1.1/24 dev eth0
	ip -n $NS_A addr add 2001:db8:1::2/64 dev eth0 nodad
	ip -n $NS_B addr add 2001:db8:1::1/64 dev eth0 nodad
	ip -n $NS_A link set eth0 up; ip -n $NS_B link set eth0 up
	bg_in $NS_B "$WORK/b.out" $PY "$NETPY" serve udp,0.0.0.0,67 tcp,::,8080 udp,192.168.1.1,7777 dns,192.168.1.1
	bg_in $NS_A "$WORK/a.out" $PY "$NETPY" serve tcp,127.0.0.1,8080
	wait_for 20 grep -qs ready "$WORK/b.out" && wait_for 20 grep -qs ready "$WORK/a.out" || return 1
	# neighbours known before the rules load (first-contact ND is not the test)
	nsx $NS_A $PY "$NETPY" probe ping,192.168.1.1 ping,2001:db8:1::1 >/dev/null
	# as the units run it: CAP_NET_ADMIN only (CapabilityBoundingSet), no
	# new privileges. Without CAP_DAC_OVERRIDE root may not enter a
	# checkout another user owns (a 0700 home): it runs copies.
	install -m 755 "$IFWALL" "$WORK/ifwall" && install -m 644 "$BOOT_RULES" "$WORK/boot.rules" || return 2
	nsx $NS_A setpriv --bounding-set=-all,+net_admin --no-new-privs \
		"$WORK/ifwall" load "$WORK/boot.rules" >"$WORK/load.out" 2>&1 || { cat "$WORK/load.out"; return 2; }
}
if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP boot-rules-enforced: needs root"
elif ! available load; then
	echo "SKIP boot-rules-enforced: ifwall load not available in this build yet"
else
	boot_rules_enforced >"$WORK/setup.log" 2>&1
	rc=$?
	if [ $rc -ne 0 ]; then
		echo "FAIL boot-rules-enforced: setup/load failed ($rc): $(head -c 300 "$WORK/setup.log" | tr '\n' ' ')"
	else
		# the DHCP client's port pair passes (an echo comes back from 67 to 68)
		dhcp=$(nsx $NS_A $PY "$NETPY" probe --sport 68 --timeout 1 udp,192.168.1.1,67)
		lo=$(nsx $NS_A $PY "$NETPY" probe --timeout 1 tcp,127.0.0.1,8080)
		blocked=$(nsx $NS_A $PY "$NETPY" probe --timeout 0.5 tcp,192.168.1.1,8080 \
			udp,192.168.1.1,7777 dns,192.168.1.1 tcp,2001:db8:1::1,8080 ping,192.168.1.1 | grep -c '^ok')
		inbound=$(nsx $NS_B $PY "$NETPY" probe --timeout 0.5 ping,192.168.1.2 | grep -c '^ok')
		if [[ $dhcp == ok* ]] && [[ $lo == ok* ]] && [ "$blocked" -eq 0 ] && [ "$inbound" -eq 0 ]; then
			echo "PASS boot-rules-enforced: loaded with CAP_NET_ADMIN only; DHCP 68->67 and loopback work; 0/5 other probes out and 0/1 in answered"
		else
			echo "FAIL boot-rules-enforced: dhcp '$dhcp', loopback '$lo', $blocked/5 blocked probes answered, $inbound/1 inbound pings answered"
		fi
		# ifwall.service with a broken ifwall.rules: load refuses it and the
		# boot rules stay, so the host stays closed (ifwall-killswitch(7))
		printf 'killswitch {\n    tunnel wg0\n    endpoint 10.0.0.1/8\n}\npass out al\n' >"$WORK/broken.rules"
		nsx $NS_A "$IFWALL" load "$WORK/broken.rules" >"$WORK/broken.out" 2>&1
		rc=$?
		blocked=$(nsx $NS_A $PY "$NETPY" probe --timeout 0.5 tcp,192.168.1.1,8080 \
			udp,192.168.1.1,7777 ping,192.168.1.1 | grep -c '^ok')
		dhcp=$(nsx $NS_A $PY "$NETPY" probe --sport 68 --timeout 1 udp,192.168.1.1,67)
		if [ $rc -eq 2 ] && [ "$blocked" -eq 0 ] && [[ $dhcp == ok* ]]; then
			echo "PASS boot-rules-survive-bad-load: a broken rule file is refused (exit 2), the boot rules still block 3/3 probes and pass DHCP"
		else
			echo "FAIL boot-rules-survive-bad-load: load exit $rc ($(head -c 200 "$WORK/broken.out" | tr '\n' ' ')), $blocked/3 probes answered, dhcp '$dhcp'"
		fi
	fi
fi
