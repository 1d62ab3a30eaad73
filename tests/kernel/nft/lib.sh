# Helpers of the nft backend tests (sourced by tests/kernel/nft/t_*.sh).
# Every namespace is named ifwnft-<pid>-NAME, so concurrent runs never meet,
# and is deleted on exit.
set -u
TOP=${TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}
source "$TOP/tests/common.sh"   # pass, fail, skip, check
IFWALL=${IFWALL:-$TOP/build/ifwall}
PY=/usr/bin/python3          # the python3 that has scapy
NFT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RUN=ifwnft-$$
NAMESPACES=()
WORK=$(mktemp -d /tmp/ifwnft.XXXXXX)

nft_cleanup() {
	for ns in "${NAMESPACES[@]+"${NAMESPACES[@]}"}"; do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
	rm -rf "$WORK"
}
trap nft_cleanup EXIT
trap 'exit 1' INT TERM

# Skips the whole script (one SKIP line) unless root with nftables.
need_root() {
	local what=$1
	if [ "$(id -u)" -ne 0 ]; then skip "$what" "needs root (network namespaces, nftables)"; exit 0; fi
	for tool in ip nft; do
		command -v $tool >/dev/null || { skip "$what" "$tool not installed (tests/deps.sh)"; exit 0; }
	done
}

# add_ns NS: creates namespace NS (use $RUN-something) with lo up.
add_ns() {
	ip netns add "$1" || return 1
	NAMESPACES+=("$1")
	ip -n "$1" link set lo up
}

nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# listing NS: the ifwall table as nft prints it (empty when absent).
listing() { nsx "$1" nft list table inet ifwall 2>/dev/null; }

# Counters and the kernel's set names vary between loads of the same
# content; everything else must be equal.
normalize() { sed -E 's/counter packets [0-9]+ bytes [0-9]+/counter/; s/__set[0-9]+/__set/g'; }
