# Shared by tests/divert/t_*.sh: namespaces named ifwdiv-*, PASS/FAIL/SKIP
# lines, cleanup on exit. Source it, then call divert_require_root NAME.
: "${O:=build}" "${TOP:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${IFWALL:=$TOP/$O/ifwall}"
HELPERS=$TOP/$O/tools
NS_PREFIX=ifwdiv-$$
CLEANUP=()
pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }
skip() { echo "SKIP $1: $2"; }
# check NAME CONDITION-COMMAND... : PASS when the command succeeds.
check() { local name=$1; shift; if "$@"; then pass "$name"; else fail "$name" "$*"; fi; }

divert_cleanup() {
	local i
	for ((i = ${#CLEANUP[@]} - 1; i >= 0; i--)); do eval "${CLEANUP[i]}" >/dev/null 2>&1; done
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$NS_PREFIX-"); do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
}
trap divert_cleanup EXIT

# divert_require_root CASES...: prints SKIP for each case and exits 0 unless
# root with netns support.
divert_require_root() {
	local why=
	if [ "$(id -u)" -ne 0 ]; then why="needs root"
	elif ! command -v ip >/dev/null; then why="needs iproute2"
	elif ! ip netns add "$NS_PREFIX-probe" 2>/dev/null; then why="cannot create network namespaces"
	else ip netns del "$NS_PREFIX-probe"; fi
	if [ -n "$why" ]; then
		for c in "$@"; do skip "$c" "$why"; done
		exit 0
	fi
}

# ns NAME: the full namespace name
ns() { echo "$NS_PREFIX-$1"; }
# in_ns NAME CMD...: run a command inside namespace NAME
in_ns() { local n=$1; shift; ip netns exec "$NS_PREFIX-$n" "$@"; }

# wait_for SECONDS CMD...: poll until CMD succeeds
wait_for() {
	local t=$1; shift
	local end=$((SECONDS + t))
	while ! "$@" 2>/dev/null; do
		[ $SECONDS -ge $end ] && return 1
		sleep 0.05
	done
}
