#!/usr/bin/env bash
# Privileges of `ifwall run` after set-up (root, network namespaces): both
# backends keep CAP_NET_ADMIN only (bit 12: 0000000000001000) in the
# effective, permitted and bounding sets, nothing inheritable or ambient,
# and no_new_privs set; neither listens on any socket but its control
# socket (cli.md: root only, under /run/ifwall): a unix socket of mode 0600
# owned by root, which refuses a non-root peer. The tun backend still
# tears down cleanly with what it kept: its devices go and the forwarding
# sysctl is restored.
set -u
: "${TOP:?}" "${IFWALL:?}"
source "$TOP/tests/common.sh"   # wait_for
CASES="privileges-divert privileges-tun privileges-only-control-socket privileges-tun-teardown"
if [ "$(id -u)" -ne 0 ]; then for c in $CASES; do echo "SKIP $c: needs root"; done; exit 0; fi
P=ifwpriv-$$
if ! ip netns add $P-d 2>/dev/null; then for c in $CASES; do echo "SKIP $c: cannot create network namespaces"; done; exit 0; fi
ip netns add $P-h; ip netns add $P-c
TMP=$(mktemp -d /tmp/ifwpriv.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
	sleep 0.3
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	for n in d h c; do ip netns del $P-$n 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT
for n in d h c; do ip netns exec $P-$n ip link set lo up; done
printf 'killswitch {\n    tunnel wg0\n    endpoint 192.0.2.1 port 51820 proto udp\n}\n' >"$TMP/ks.rules"
chmod 600 "$TMP/ks.rules"

# caps PID: "CapInh CapPrm CapEff CapBnd CapAmb NoNewPrivs"
caps() { awk '$1 ~ /^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs):$/ {printf "%s ", $2}' "/proc/$1/status"; }
want="0000000000000000 0000000000001000 0000000000001000 0000000000001000 0000000000000000 1 "
# ready FILE PATTERN: waits for PATTERN in FILE
ready() { wait_for 20 grep -q "$2" "$1"; }
# listening PID NS: sockets of PID that listen (unix, tcp, udp), as ss says
listening() { ip netns exec "$2" ss -Hlxtunp 2>/dev/null | grep "pid=$1," ; }

ip netns exec $P-d "$IFWALL" run --backend divert "$TMP/ks.rules" 2>"$TMP/divert.err" &
dpid=$!; pids+=($dpid)
if ready "$TMP/divert.err" 'ready$'; then
	got=$(caps $dpid)
	if [ "$got" = "$want" ]; then echo "PASS privileges-divert: CapInh CapPrm CapEff CapBnd CapAmb NoNewPrivs = $got"
	else echo "FAIL privileges-divert: got '$got', want '$want'"; fi
else
	echo "FAIL privileges-divert: did not start: $(head -c 300 "$TMP/divert.err")"
fi

fwd_before=$(ip netns exec $P-h cat /proc/sys/net/ipv4/ip_forward)
ip netns exec $P-h "$IFWALL" run --backend tun --netns $P-c "$TMP/ks.rules" 2>"$TMP/tun.err" &
tpid=$!; pids+=($tpid)
# The tun backend names its devices once set up and down to CAP_NET_ADMIN.
ready "$TMP/tun.err" '^tun: ifw0 .* in namespace '
if kill -0 $tpid 2>/dev/null && ip netns exec $P-c ip link show ifw0 >/dev/null 2>&1; then
	got=$(caps $tpid)
	if [ "$got" = "$want" ]; then echo "PASS privileges-tun: CapInh CapPrm CapEff CapBnd CapAmb NoNewPrivs = $got"
	else echo "FAIL privileges-tun: got '$got', want '$want'"; fi
else
	echo "FAIL privileges-tun: did not start: $(head -c 300 "$TMP/tun.err")"
fi

ls_d=$(listening $dpid $P-d); ls_t=$(listening $tpid $P-h)
# every listening socket: a unix socket /run/ifwall/.../BACKEND.sock, 0600 root
only_control() {  # only_control BACKEND LINES
	local line path bad=
	while read -r line; do
		[ -z "$line" ] && continue
		path=$(echo "$line" | grep -o '/run/ifwall/[^ ]*/'"$1"'\.sock\|/run/ifwall/'"$1"'\.sock')
		if [ -z "$path" ] || [ "$(stat -c '%a %U' "$path" 2>/dev/null)" != "600 root" ]; then bad=1; fi
	done <<<"$2"
	[ -z "$bad" ] && [ -n "$2" ]
}
sock_d=$(echo "$ls_d" | grep -o '/run/ifwall/[^ ]*divert\.sock' | head -1)
refused=no
if [ -n "$sock_d" ] && ip netns exec $P-d setpriv --reuid=65534 --regid=65534 --clear-groups \
	"$IFWALL" table x show >/dev/null 2>&1; then refused=no; else refused=yes; fi
if only_control divert "$ls_d" && only_control tun "$ls_t" && [ "$refused" = yes ] &&
   kill -0 $dpid 2>/dev/null && kill -0 $tpid 2>/dev/null; then
	echo "PASS privileges-only-control-socket: each backend listens only on its root-only control socket ($sock_d: $(stat -c '%a %U' "$sock_d")), and nobody gets nothing through it"
else
	echo "FAIL privileges-only-control-socket: divert: '${ls_d}' tun: '${ls_t}'"
fi

kill -TERM $tpid; wait $tpid; rc=$?
fwd_after=$(ip netns exec $P-h cat /proc/sys/net/ipv4/ip_forward)
if [ $rc -eq 0 ] && ! ip netns exec $P-h ip link show ifw1 >/dev/null 2>&1 &&
   ! ip netns exec $P-c ip link show ifw0 >/dev/null 2>&1 && [ "$fwd_after" = "$fwd_before" ]; then
	echo "PASS privileges-tun-teardown: exit 0, ifw0/ifw1 gone, ip_forward back to $fwd_after"
else
	echo "FAIL privileges-tun-teardown: exit $rc, ip_forward $fwd_before -> $fwd_after, links: $(ip netns exec $P-h ip -o link show 2>/dev/null | awk '{print $2}' | tr '\n' ' '); $(tail -2 "$TMP/tun.err")"
fi
