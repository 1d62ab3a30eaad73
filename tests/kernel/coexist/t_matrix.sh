#!/usr/bin/env bash
# Coexistence matrix: the kill switch held by 'ifwall run --backend nft'
# (owned table) while another manager does what it does on a real host,
# with probes running (UDP, one per 0.5 ms, out of the physical link, each
# one that reaches the far side a leak; and through the tunnel, which must
# keep working). Each row: 0 probes leaked during the operation, the kill
# switch enforced afterwards, and the other tool's own rules intact.
#
#   nft-flush         nft flush ruleset
#   nft-delete        nft delete table inet ifwall
#   debian-nftables   nft -f of Debian's default /etc/nftables.conf
#                     (what 'systemctl restart nftables' runs)
#   ufw               ufw --force enable, then ufw reload (Debian's ufw over
#                     iptables-nft; in a private mount namespace with a copy
#                     of /etc/ufw, so the host's ufw.conf is not touched)
#   docker            a Docker host's iptables-save (DOCKER, DOCKER-USER,
#                     DOCKER-ISOLATION-*, FORWARD policy DROP, MASQUERADE),
#                     applied with iptables-nft-restore
#   firewalld         table inet firewalld as firewalld 1.x writes it,
#                     replaced as on its reload
# First, the detector row: the same 'nft flush ruleset' against a one-shot
# 'ifwall load' (unprotected) must show leaks, or the counting is broken.
. "$(dirname "$0")/../nftrun/lib.sh"
RUN=ifwcx-$$ CLI=ifwcx-$$-cli FAR=ifwcx-$$-far
HERE=$(cd "$(dirname "$0")" && pwd)
need_root coexist
net_setup || { fail coexist-setup "could not build the test network"; exit 0; }

# row NAME OPERATION...: the operation runs 0.5 s into 1.5 s of probes
row() {
	local name=$1; shift
	local before tbefore sender tsender
	before=$(received $LEAK_ADDR) tbefore=$(received $TUN_ADDR)
	nsx $CLI $PY "$PROBE" send $LEAK_ADDR $PORT 1.5 0.5 >"$WORK/$name.sent" &
	sender=$!
	nsx $CLI $PY "$PROBE" send $TUN_ADDR $PORT 1.5 0.5 >/dev/null &
	tsender=$!
	sleep 0.5
	"$@" >"$WORK/$name.op" 2>&1
	ROW_RC=$?
	wait $sender $tsender
	sleep 0.2
	ROW_LEAK=$(( $(received $LEAK_ADDR) - before ))
	ROW_TUN=$(( $(received $TUN_ADDR) - tbefore ))
	ROW_SENT=$(cat "$WORK/$name.sent")
	AFTER_LEAK=$(probe_burst $LEAK_ADDR 0.2)
}
report() {   # report NAME INTACT-CHECK-DESCRIPTION INTACT(0/1)
	local name=$1 what=$2 intact=$3
	echo "# $name: $ROW_SENT probes, $ROW_LEAK leaked during, $AFTER_LEAK after; tunnel $ROW_TUN arrived"
	if [ "$ROW_LEAK" -eq 0 ] && [ "$AFTER_LEAK" -eq 0 ] && [ "$intact" -eq 1 ] && has_table &&
	   [ "$ROW_TUN" -gt 100 ]; then
		pass coexist-$name "0 of $ROW_SENT leaked; enforced after; $what"
	else
		fail coexist-$name "leaked $ROW_LEAK of $ROW_SENT, $AFTER_LEAK after, tunnel $ROW_TUN, table $(has_table && echo present || echo GONE); $what: $([ "$intact" -eq 1 ] && echo intact || echo BROKEN); $(head -c 200 "$WORK/$name.op")"
	fi
}
yes_if() { "$@" && echo 1 || echo 0; }
others_clear() { nsx $CLI nft flush ruleset 2>/dev/null; }   # ifwall's owned table stays

# --- detector: an unprotected one-shot load does leak ---------------------------
nsx $CLI "$IFWALL" load "$KS_RULES"
row detector nsx $CLI nft flush ruleset
if [ "$ROW_LEAK" -gt 0 ]; then
	pass coexist-detector "one-shot load + nft flush ruleset: $ROW_LEAK of $ROW_SENT leaked (the failure the owned table prevents)"
else
	fail coexist-detector "no leak seen against an unprotected table: the counting is broken"
fi

run_start "$WORK/run.log" || { fail coexist-run "$(cat "$WORK/run.log")"; exit 0; }

row nft-flush nsx $CLI nft flush ruleset
report nft-flush "nothing else to keep" 1

row nft-delete nsx $CLI nft delete table inet ifwall
report nft-delete "the delete was refused (rc $ROW_RC)" $(yes_if [ $ROW_RC -ne 0 ])

cat >"$WORK/nftables.conf" <<'NFT'
#!/usr/sbin/nft -f

flush ruleset

table inet filter {
	chain input {
		type filter hook input priority filter;
	}
	chain forward {
		type filter hook forward priority filter;
	}
	chain output {
		type filter hook output priority filter;
	}
}
NFT
row debian-nftables nsx $CLI nft -f "$WORK/nftables.conf"
report debian-nftables "table inet filter loaded" \
	$(yes_if eval '[ $ROW_RC -eq 0 ] && [ $(nsx $CLI nft list table inet filter | grep -c "type filter hook") -eq 3 ]')
others_clear

if command -v ufw >/dev/null && command -v iptables-nft >/dev/null; then
	UFW=$WORK/ufw; mkdir -p "$UFW/etc" "$UFW/lib"
	cp -a /etc/ufw/. "$UFW/etc/"; cp -a /lib/ufw/. "$UFW/lib/"
	sed -i 's/^ENABLED=.*/ENABLED=no/' "$UFW/etc/ufw.conf"
	ufw_do() { nsx $CLI unshare -m sh -c "mount --bind '$UFW/etc' /etc/ufw && mount --bind '$UFW/lib' /lib/ufw && $*"; }
	row ufw ufw_do 'ufw --force enable && ufw reload'
	report ufw "ufw active, its chains loaded" \
		$(yes_if eval '[ $ROW_RC -eq 0 ] && nsx $CLI iptables-nft -S ufw-user-input >/dev/null 2>&1 && nsx $CLI iptables-nft -S INPUT | grep -q "^-P INPUT DROP"')
	others_clear
else
	skip coexist-ufw "ufw or iptables-nft not installed (tests/deps.sh)"
fi

if command -v iptables-nft-restore >/dev/null; then
	row docker nsx $CLI iptables-nft-restore "$HERE/docker.iptables"
	report docker "DOCKER chains, FORWARD policy DROP, MASQUERADE in place" \
		$(yes_if eval '[ $ROW_RC -eq 0 ] && nsx $CLI iptables-nft -S FORWARD | grep -q "^-P FORWARD DROP" &&
			nsx $CLI iptables-nft -S DOCKER-ISOLATION-STAGE-2 >/dev/null 2>&1 &&
			nsx $CLI iptables-nft -t nat -S POSTROUTING | grep -q MASQUERADE')
	others_clear
else
	skip coexist-docker "iptables-nft not installed (tests/deps.sh)"
fi

row firewalld sh -c "ip netns exec $CLI nft -f '$HERE/firewalld.nft' && ip netns exec $CLI nft -f '$HERE/firewalld.nft'"
report firewalld "table inet firewalld loaded and reloaded" \
	$(yes_if eval '[ $ROW_RC -eq 0 ] && [ $(nsx $CLI nft list table inet firewalld | grep -c "type .* hook") -eq 7 ]')
others_clear

# status names the other tables that can block what ifwall passes
nsx $CLI nft -f "$HERE/firewalld.nft"
out=$(nsx $CLI "$IFWALL" status)
check_detail coexist-status-names-others "$(echo "$out" | grep -c 'inet firewalld') firewalld chains listed" \
	eval 'echo "$out" | grep -q "inet firewalld: chain filter_INPUT (hook input, type filter, priority 10, policy accept); .*: can block what ifwall passes"'
others_clear
kill -TERM $RUN_PID; wait $RUN_PID
