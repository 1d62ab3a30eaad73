#!/usr/bin/env bash
# Owner criteria on the live path: 'user' matches the uid of the local
# socket (NFQA_UID), 'mark' the packet mark (NFQA_MARK), and a passed
# packet leaves with its own mark (the verdict bits are taken off again).
source "$(dirname "$0")/lib.sh"
divert_require_root owner-user owner-mark owner-mark-kept
command -v setpriv >/dev/null || { for c in owner-user owner-mark owner-mark-kept; do skip $c "needs setpriv"; done; exit 0; }

cat >"$TMP/r.rules" <<'R'
pass out proto tcp to 10.1.0.2 port 80 user root
pass out proto tcp to 10.1.0.2 port 81 mark 0xca6c
reject out proto tcp to 10.1.0.2 port 82 user 65534
pass out proto tcp to 10.2.0.2 port 80
R
divert_topology
start_peer b tcp:80,81,82
start_peer c tcp:80
start_divert a "$TMP/r.rules" || { fail owner-user "ifwall run did not start: $(cat "$DIVERT_ERR")"; exit 0; }

as_nobody() { in_ns a setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
# nobody runs its own copy of the probe: the checkout may be a directory
# only its owner can enter (mktemp -d, a 0700 home).
nobody_dir=$(other_user_dir)
CLEANUP+=("rm -rf $nobody_dir")
give_other_user "$nobody_dir" "$TOP/tests/kernel/divert/probe.py"
root=$(probe a 1 tcp:10.1.0.2:80 tcp:10.1.0.2:82 | awk '{printf "%s ", $2}')
nobody=$(as_nobody /usr/bin/python3 "$nobody_dir/probe.py" 1 tcp:10.1.0.2:80 tcp:10.1.0.2:82 | awk '{printf "%s ", $2}')
if [ "$root/$nobody" = "pass block /block reject " ]; then pass owner-user
else fail owner-user "root: $root; nobody: $nobody (want pass block / block reject)"; fi

plain=$(probe a 1 tcp:10.1.0.2:81 | awk '{print $2}')
marked=$(PROBE_MARK=0xca6c probe a 1 tcp:10.1.0.2:81 | awk '{print $2}')
if [ "$plain $marked" = "block pass" ]; then pass owner-mark
else fail owner-mark "without mark: $plain, with 0xca6c: $marked (want block pass)"; fi

# A table after ifwall's (priority 0) counts the SYNs by mark: the passed
# SYN went through the queue and must carry 0xca6c again, none of the
# verdict bits.
in_ns a nft -f - <<'NFT'
table inet ifwdivtest {
	chain out {
		type filter hook output priority 0; policy accept;
		tcp dport 81 tcp flags syn meta mark 0x0000ca6c counter
		tcp dport 81 tcp flags syn meta mark & 0x90000000 != 0 counter
	}
}
NFT
PROBE_MARK=0xca6c probe a 1 tcp:10.1.0.2:81 >/dev/null
counts=$(in_ns a nft list table inet ifwdivtest | grep -o 'packets [0-9]*' | awk '{printf "%s ", $2}')
if [ "$counts" = "1 0 " ]; then pass owner-mark-kept
else fail owner-mark-kept "SYNs with mark 0xca6c / with verdict bits: $counts (want 1 0)"; fi
