#!/usr/bin/env bash
# The kill switch's systemd units do what ifwall-killswitch(7) says, run the
# way systemd runs them (read from tools/systemd/*.service, with make
# install's substitutions; this machine's systemd is not PID 1, so the test
# plays the service manager):
#   - systemd-analyze verify accepts the units; their Before=/After=/Wants=
#     order the boot guard, then the kill switch, both before
#     network-pre.target, which they pull in (without default dependencies,
#     which would order them after it);
#   - boot.rules (offline, ifwall query) passes loopback, DHCP and ND only;
#   - as root, in a network namespace: ifwall-boot.service's ExecStart, with
#     the unit's capability bounding set and no_new_privs, exits 0 and
#     leaves a host that passes only DHCP and loopback; a broken ifwall.rules
#     leaves it so; ifwall.service's ExecStart notifies READY=1 from its main
#     pid once its rules are in force (replacing the boot guard); ExecReload
#     reloads an edited file (RELOADING=1, READY=1); stopping it (its
#     ExecStop lines, then its kill signal) leaves the rules in force, and a
#     new start adopts them.
# ifwall-killswitch(7)'s expansion listing: tests/docs/t_killswitch_page.sh.
set -u
cd "$(dirname "$0")"
. ./net.sh          # nsx, bg_in, NET_PIDS, PY, NETPY; tests/common.sh
TOP=${TOP:-$(cd ../../.. && pwd)}
IFWALL=${IFWALL:-$TOP/build/ifwall}
UNITS=$TOP/tools/systemd
BOOT_RULES=$UNITS/boot.rules
BOOT_UNIT=$UNITS/ifwall-boot.service
MAIN_UNIT=$UNITS/ifwall.service

WORK=$(mktemp -d /tmp/ifwleak-units.XXXXXX)
NS_A=ifwleak-$$-boota NS_B=ifwleak-$$-bootb
cleanup() {
	local pid
	for pid in "${NET_PIDS[@]+"${NET_PIDS[@]}"}"; do kill "$pid" 2>/dev/null; done
	for pid in "${NET_PIDS[@]+"${NET_PIDS[@]}"}"; do wait "$pid" 2>/dev/null; done
	remove_netns $NS_A $NS_B
	rm -rf "$WORK"
}
trap cleanup EXIT

# ---------------------------------------------------------------- reading a unit

# unit_values UNIT KEY: the words assigned to KEY, one a line, in order, as
# systemd reads list settings (repeated assignments add, an empty one resets)
unit_values() {
	awk -v key="$2" '
		/^[ \t]*[#;]/ { next }
		{ i = index($0, "="); if (i == 0) next
		  k = substr($0, 1, i - 1); gsub(/[ \t]+$/, "", k)
		  if (k != key) next
		  v = substr($0, i + 1); n = split(v, w, /[ \t]+/)
		  if (n == 0 || v ~ /^[ \t]*$/) { c = 0; next }
		  for (j = 1; j <= n; j++) if (w[j] != "") list[++c] = w[j] }
		END { for (j = 1; j <= c; j++) print list[j] }' "$1"
}
# unit_lines UNIT KEY: each assignment of KEY whole (ExecStart=, ExecStop=...),
# with make install's substitutions: @BINDIR@ is $WORK/bin, @SYSCONFDIR@ is
# $WORK/etc
unit_lines() {
	sed -n "s/^$2=//p" "$1" | sed -e "s|@BINDIR@|$WORK/bin|g" -e "s|@SYSCONFDIR@|$WORK/etc|g"
}
has() { grep -qxF -- "$2" <<<"$1"; }   # has LIST WORD

# ordered_before A B: systemd starts unit A before B (A Before=B or B After=A)
ordered_before() {
	local a=$1 b=$2
	{ [ -f "$UNITS/$a" ] && has "$(unit_values "$UNITS/$a" Before)" "$b"; } ||
	{ [ -f "$UNITS/$b" ] && has "$(unit_values "$UNITS/$b" After)" "$a"; }
}

# ---------------------------------------------------------------- the units, offline

if command -v systemd-analyze >/dev/null; then
	mkdir -p "$WORK/verify"
	for u in "$UNITS"/*.service; do
		sed -e "s|@BINDIR@|$(dirname "$IFWALL")|g" -e "s|@SYSCONFDIR@|/etc|g" "$u" >"$WORK/verify/${u##*/}"
	done
	if out=$(systemd-analyze verify --man=no "$WORK"/verify/*.service 2>&1) && [ -z "$out" ]; then
		pass unit-verify "systemd-analyze verify is silent"
	else
		fail unit-verify "$(head -c 400 <<<"$out" | tr '\n' ' ')"
	fi
else
	skip unit-verify "no systemd-analyze"
fi

why=
ordered_before ifwall-boot.service ifwall.service || why+="the boot guard does not start before the kill switch; "
for u in ifwall-boot.service ifwall.service; do
	ordered_before "$u" network-pre.target || why+="$u does not start before network-pre.target; "
	has "$(unit_values "$UNITS/$u" Wants)" network-pre.target ||
		why+="$u does not pull in network-pre.target (nothing else may); "
	[ "$(unit_values "$UNITS/$u" DefaultDependencies)" = no ] ||
		why+="$u has default dependencies (After=basic.target, after the network); "
	has "$(unit_values "$UNITS/$u" Conflicts)" shutdown.target ||
		why+="$u is not stopped at shutdown; "
done
has "$(unit_values "$MAIN_UNIT" Wants)" ifwall-boot.service ||
	why+="the kill switch does not pull in the boot guard; "
if [ -z "$why" ]; then pass unit-order "boot guard, kill switch, network-pre.target"
else fail unit-order "$why"; fi

# boot.rules: a valid rule file, and what it decides (first word of query)
if out=$("$IFWALL" check "$BOOT_RULES" 2>&1); then pass boot-rules-check
else fail boot-rules-check "$(head -c 400 <<<"$out" | tr '\n' ' ')"; fi
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
if [ -z "$bad" ]; then pass boot-rules-verdicts "DHCP, ND and loopback pass; DNS, web, IPv6, the tunnel do not"
else fail boot-rules-verdicts "$bad"; fi

# ---------------------------------------------------------------- the units, run

if [ "$(id -u)" -ne 0 ]; then
	for c in boot-unit-start boot-unit-enforces boot-unit-stop boot-rules-survive-bad-load \
		main-unit-ready main-unit-reload main-unit-stop main-unit-restart; do
		skip "$c" "needs root (network namespaces)"
	done
	exit 0
fi

# unit_priv UNIT: PRIV, the setpriv options for what the unit's [Service]
# allows: its capability bounding set, no_new_privs. Without
# CAP_DAC_OVERRIDE root may not enter a checkout another user owns (a 0700
# home), so the unit's programs and files are copies under $WORK.
unit_priv() {
	local caps c cap
	PRIV=()
	caps=$(unit_values "$1" CapabilityBoundingSet)
	if [ -n "$caps" ]; then
		c=-all
		for cap in $caps; do c+=",+$(tr 'A-Z' 'a-z' <<<"${cap#CAP_}")"; done
		PRIV+=(--bounding-set="$c")
	fi
	[ "$(unit_values "$1" NoNewPrivileges)" = yes ] && PRIV+=(--no-new-privs)
}
# as_unit UNIT CMD...: CMD in the host's namespace, as the unit allows
as_unit() { local unit=$1; shift; unit_priv "$unit"; nsx $NS_A setpriv "${PRIV[@]}" "$@"; }
# unit_run UNIT KEY: runs each KEY= line of UNIT (ExecStart, ExecStop, ...)
# as the unit would, in the foreground; the exit status of the last
unit_run() {
	local line rc=0
	while read -r line; do
		[ -n "$line" ] || continue
		line=${line//\$MAINPID/$MAINPID}
		# shellcheck disable=SC2086  # systemd splits the command line on blanks
		as_unit "$1" $line
		rc=$?
	done < <(unit_lines "$1" "$2")
	return $rc
}

host_net() {
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
	# make install: the binary in BINDIR, the rule files in SYSCONFDIR/ifwall
	mkdir -p "$WORK/bin" "$WORK/etc/ifwall" &&
	install -m 755 "$IFWALL" "$WORK/bin/ifwall" &&
	install -m 644 "$BOOT_RULES" "$WORK/etc/ifwall/boot.rules"
}
# answered PROBE...: how many of the host's probes were answered
answered() { nsx $NS_A $PY "$NETPY" probe --timeout 0.5 "$@" | grep -c '^ok'; }
dhcp_works() { [[ $(nsx $NS_A $PY "$NETPY" probe --sport 68 --timeout 1 udp,192.168.1.1,67) == ok* ]]; }
table_present() { nsx $NS_A nft list table inet ifwall >/dev/null 2>&1; }

if ! host_net >"$WORK/setup.log" 2>&1; then
	fail boot-unit-start "test network did not come up: $(head -c 300 "$WORK/setup.log" | tr '\n' ' ')"
	exit 1
fi

# ifwall-boot.service: Type=oneshot, so started when ExecStart exits 0
MAINPID=
if unit_run "$BOOT_UNIT" ExecStart >"$WORK/boot.out" 2>&1; then
	pass boot-unit-start "ExecStart exited 0 with $(unit_values "$BOOT_UNIT" CapabilityBoundingSet) only"
else
	fail boot-unit-start "ExecStart failed: $(head -c 300 "$WORK/boot.out" | tr '\n' ' ')"
fi
lo=$(nsx $NS_A $PY "$NETPY" probe --timeout 1 tcp,127.0.0.1,8080)
out=$(answered tcp,192.168.1.1,8080 udp,192.168.1.1,7777 dns,192.168.1.1 tcp,2001:db8:1::1,8080 ping,192.168.1.1)
in=$(nsx $NS_B $PY "$NETPY" probe --timeout 0.5 ping,192.168.1.2 | grep -c '^ok')
if dhcp_works && [[ $lo == ok* ]] && [ "$out" -eq 0 ] && [ "$in" -eq 0 ]; then
	pass boot-unit-enforces "DHCP 68->67 and loopback work; 0/5 other probes out and 0/1 in answered"
else
	fail boot-unit-enforces "dhcp $(dhcp_works && echo ok || echo blocked), loopback '$lo', $out/5 blocked probes answered, $in/1 inbound pings answered"
fi
# stopping the oneshot unit runs its ExecStop lines (RemainAfterExit: it
# stays active until then); the rules must stay
unit_run "$BOOT_UNIT" ExecStop >"$WORK/boot-stop.out" 2>&1
out=$(answered tcp,192.168.1.1,8080 ping,192.168.1.1)
if table_present && [ "$out" -eq 0 ]; then pass boot-unit-stop "the rules stay: 0/2 probes answered"
else fail boot-unit-stop "table $(table_present && echo present || echo gone), $out/2 probes answered"; fi

# ifwall.service with a broken ifwall.rules: refused (exit 2), the boot
# guard stays, so the host stays closed
printf 'killswitch {\n    tunnel wg0\n    endpoint 10.0.0.1/8\n}\npass out al\n' >"$WORK/etc/ifwall/ifwall.rules"
chmod 644 "$WORK/etc/ifwall/ifwall.rules"
nsx $NS_A "$WORK/bin/ifwall" load "$WORK/etc/ifwall/ifwall.rules" >"$WORK/broken.out" 2>&1
rc=$?
out=$(answered tcp,192.168.1.1,8080 udp,192.168.1.1,7777 ping,192.168.1.1)
if [ $rc -eq 2 ] && [ "$out" -eq 0 ] && dhcp_works; then
	pass boot-rules-survive-bad-load "a broken rule file is refused (exit 2), the boot rules still block 3/3 probes and pass DHCP"
else
	fail boot-rules-survive-bad-load "load exit $rc ($(head -c 200 "$WORK/broken.out" | tr '\n' ' ')), $out/3 probes answered"
fi

# ifwall.service: Type=notify. The manager's notify socket; a start is
# done when READY=1 comes from the main pid (NotifyAccess=main). Its
# RuntimeDirectory=, as systemd makes it.
install -d -m "$(unit_values "$MAIN_UNIT" RuntimeDirectoryMode)" "/run/$(unit_values "$MAIN_UNIT" RuntimeDirectory)"
cat >"$WORK/etc/ifwall/ifwall.rules" <<'EOF'
set default block
set block-policy drop
pass on type loopback all
pass out proto tcp to 192.168.1.1 port 8080
EOF
bg_in $NS_A "$WORK/notify.log" $PY "$TOP/tests/kernel/leak/sd_notify.py" "$WORK/notify.sock"
wait_for 20 grep -qs listening "$WORK/notify.log"
notified() { grep -q "^$MAINPID .*$1" "$WORK/notify.log"; }   # notified VAR=VALUE
# main_start: ExecStart in the background; MAINPID is its pid (ip netns
# exec and setpriv exec, so it is ifwall's own)
main_start() {
	local line
	line=$(unit_lines "$MAIN_UNIT" ExecStart)
	unit_priv "$MAIN_UNIT"
	# shellcheck disable=SC2086  # systemd splits the command line on blanks
	NOTIFY_SOCKET=$WORK/notify.sock ip netns exec $NS_A setpriv "${PRIV[@]}" $line \
		>"$WORK/main.err" 2>&1 &
	MAINPID=$!
	NET_PIDS+=($MAINPID)
	wait_for 30 notified READY=1
}
# main_stop: as systemctl stop: the ExecStop lines, then the kill signal
# (KillSignal=, default SIGTERM) to the main pid, and its exit awaited
main_stop() {
	local sig
	unit_run "$MAIN_UNIT" ExecStop >>"$WORK/stop.out" 2>&1
	sig=$(unit_values "$MAIN_UNIT" KillSignal); sig=${sig:-SIGTERM}
	kill -s "${sig#SIG}" "$MAINPID" 2>/dev/null
	wait_for 30 eval '! kill -0 $MAINPID'
	wait "$MAINPID" 2>/dev/null
}

if main_start; then
	ok=$(answered tcp,192.168.1.1,8080); out=$(answered udp,192.168.1.1,7777 ping,192.168.1.1)
	if table_present && [ "$ok" -eq 1 ] && [ "$out" -eq 0 ]; then
		pass main-unit-ready "READY=1 from the main pid; the kill switch's rules replaced the boot guard (tcp 8080 answered, 0/2 others)"
	else
		fail main-unit-ready "READY=1, but tcp 8080 answered $ok/1 and $out/2 blocked probes answered"
	fi
else
	fail main-unit-ready "no READY=1 from pid $MAINPID: notify: $(tr '\n' '|' <"$WORK/notify.log"); stderr: $(head -c 300 "$WORK/main.err" | tr '\n' ' ')"
fi

# systemctl reload: ExecReload, with $MAINPID
echo 'pass out proto udp to 192.168.1.1 port 7777' >>"$WORK/etc/ifwall/ifwall.rules"
readies=$(grep -c "^$MAINPID .*READY=1" "$WORK/notify.log")
unit_run "$MAIN_UNIT" ExecReload >"$WORK/reload.out" 2>&1
reloaded() { notified RELOADING=1 && [ "$(grep -c "^$MAINPID .*READY=1" "$WORK/notify.log")" -gt "$readies" ]; }
if wait_for 30 reloaded && [ "$(answered udp,192.168.1.1,7777)" -eq 1 ] && [ "$(answered ping,192.168.1.1)" -eq 0 ]; then
	pass main-unit-reload "RELOADING=1, READY=1; the edited file's rule passes udp 7777, ping still blocked"
else
	fail main-unit-reload "ExecReload: $(head -c 200 "$WORK/reload.out"); notify: $(tr '\n' '|' <"$WORK/notify.log")"
fi

# systemctl stop: the rules stay in force (fail closed)
main_stop
if kill -0 "$MAINPID" 2>/dev/null; then
	fail main-unit-stop "pid $MAINPID still running after the kill signal"
else
	ok=$(answered tcp,192.168.1.1,8080 udp,192.168.1.1,7777); out=$(answered ping,192.168.1.1 dns,192.168.1.1)
	if notified STOPPING=1 && table_present && [ "$ok" -eq 2 ] && [ "$out" -eq 0 ]; then
		pass main-unit-stop "STOPPING=1, exited; the rules stay: 2/2 passed probes answered, 0/2 blocked ones"
	else
		fail main-unit-stop "table $(table_present && echo present || echo gone), $ok/2 passed and $out/2 blocked probes answered"
	fi
fi

# systemctl start again: adopts the table left in force
if main_start && [ "$(answered tcp,192.168.1.1,8080)" -eq 1 ] && [ "$(answered ping,192.168.1.1)" -eq 0 ]; then
	pass main-unit-restart "READY=1 from the new main pid; tcp 8080 answered, ping not"
else
	fail main-unit-restart "notify: $(tr '\n' '|' <"$WORK/notify.log"); stderr: $(head -c 300 "$WORK/main.err" | tr '\n' ' ')"
fi
main_stop
[ "$FAILED" -eq 0 ]
