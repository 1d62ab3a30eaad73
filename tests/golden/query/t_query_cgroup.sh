#!/usr/bin/env bash
# 'cgroup PATH' in packet descriptions (cli.md) and the 'cgroup "PATH"'
# criterion (rules.md): a rule matches its cgroup and everything below it,
# a '*' in the last component matches every instance, and offline the
# cgroup is unknown unless given, so such a rule never matches then.
set -u
cd "$TOP/tests/golden/query" || exit 1
expect() { # NAME WANT DESCRIPTION
	local got
	got=$("$IFWALL" query cgroup.rules "$3" 2>&1 | head -1 | cut -d" " -f1-2)
	if [ "$got" = "$2" ]; then echo "PASS query-cgroup: $1"
	else echo "FAIL query-cgroup: $1: got '$got', want '$2'"; fi
}
pkt='out on eth0 tcp 10.0.0.2:40000 > 1.1.1.1:443'
expect "unknown cgroup never matches" "reject default" "$pkt"
expect "the cgroup itself" "pass cgroup.rules:7" "$pkt cgroup ifwall-test/app"
expect "leading slash as /proc/PID/cgroup writes it" "pass cgroup.rules:7" "$pkt cgroup /ifwall-test/app"
expect "below the cgroup" "pass cgroup.rules:7" "$pkt cgroup ifwall-test/app/worker.scope"
expect "a sibling with a longer name" "reject default" "$pkt cgroup ifwall-test/apple"
expect "the parent" "reject default" "$pkt cgroup ifwall-test"
expect "the root cgroup" "reject default" "$pkt cgroup /"
expect "other interface" "reject default" "${pkt/eth0/eth1} cgroup ifwall-test/app"
g=user.slice/app-flatpak-org.example.Game
expect "glob instance" "pass cgroup.rules:8" "$pkt cgroup $g-4242.scope"
expect "glob instance, below" "pass cgroup.rules:8" "$pkt cgroup $g-4242.scope/sub"
expect "glob needs the suffix" "reject default" "$pkt cgroup $g-4242.service"
expect "glob and the rule's proto" "reject default" "out on eth0 udp 10.0.0.2:40000 > 1.1.1.1:443 cgroup $g-1.scope"
expect "inside the tunnel, unknown cgroup" "pass cgroup.rules:4" "out on wg0 tcp 10.2.0.2:40000 > 1.1.1.1:443"
expect "jailed app blocked in the tunnel" "block cgroup.rules:2" "out on wg0 tcp 10.2.0.2:40000 > 1.1.1.1:443 cgroup ifwall-test/jail/x"
expect "a pattern is no packet's cgroup" "ifwall query:" "$pkt cgroup ifwall-test/a*"
expect "cgroup given twice" "ifwall query:" "$pkt cgroup a cgroup b"
out=$("$IFWALL" query cgroup.rules "$pkt cgroup ifwall-test/app" 2>&1)
case $out in
*'cgroup "ifwall-test/app"'*) echo "PASS query-cgroup: the deciding rule prints its cgroup" ;;
*) echo "FAIL query-cgroup: rule text: $out" ;;
esac
# check warns about the excluded app like any pass outside the tunnel
warn=$("$IFWALL" check cgroup.rules 2>&1 >/dev/null)
case $warn in
*'cgroup.rules:7:1: warning: passes traffic outside the tunnel'*) echo "PASS query-cgroup: exclusion warned as a hole" ;;
*) echo "FAIL query-cgroup: no hole warning for line 7: $warn" ;;
esac
