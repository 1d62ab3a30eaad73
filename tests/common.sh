# Shared by the test scripts (source it): the result lines, waiting for an
# event, and files for a command that runs as another user.
#
# make check passes on a busy machine: a test waits for what it needs (a
# listener, a log line, a table), never for a fixed time, and asserts no
# timing ratio or time budget (those are make bench's). Deadlines only bound
# a hang, so they are generous.

# The result lines tests/run.sh counts, one per case:
#   pass NAME [DETAIL]   PASS NAME[: DETAIL]
#   fail NAME [WHY]      FAIL NAME[: WHY]; FAILED counts them
#   skip NAME WHY        SKIP NAME: WHY (only for what is genuinely absent:
#                        not root, a tool or kernel feature this host lacks)
# TEST_PREFIX, when a script sets it ("query: "), goes before every NAME.
# check NAME CMD...: pass when CMD succeeds, else fail naming CMD.
# check_detail NAME DETAIL CMD...: the same, DETAIL on either line.
FAILED=0
pass() { echo "PASS ${TEST_PREFIX:-}$1${2:+: $2}"; }
fail() { echo "FAIL ${TEST_PREFIX:-}$1${2:+: $2}"; FAILED=$((FAILED + 1)); }
skip() { echo "SKIP ${TEST_PREFIX:-}$1: $2"; }
check() { local name=$1; shift; if "$@"; then pass "$name"; else fail "$name" "$*"; fi; }
check_detail() {
	local name=$1 detail=$2; shift 2
	if "$@"; then pass "$name" "$detail"; else fail "$name" "$detail"; fi
}

# wait_for SECONDS CMD...: runs CMD every 50 ms until it succeeds (0), or
# returns 1 once SECONDS have passed.
wait_for() {
	local end=$((SECONDS + $1)); shift
	until "$@" 2>/dev/null; do
		[ "$SECONDS" -ge "$end" ] && return 1
		sleep 0.05
	done
}

# other_user_dir: prints a new directory under /tmp (0755) for what a test
# runs as another user. The checkout may be a directory that only its owner
# can enter (a clone under mktemp -d, a 0700 home): another user runs
# copies from here, never files of the checkout. The caller removes it.
other_user_dir() {
	local dir
	dir=$(mktemp -d /tmp/ifw-other.XXXXXX) && chmod 755 "$dir" && echo "$dir"
}

# give_other_user DIR FILE...: copies each FILE into DIR, readable by all
# (0644, or 0755 when it is executable).
give_other_user() {
	local dir=$1 f mode; shift
	for f; do
		mode=644
		[ -x "$f" ] && mode=755
		install -m "$mode" "$f" "$dir/" || return 1
	done
}

# signal_handled PID SIGNUM: the signal is no longer pending for PID: its
# handler has run (a program that acts on the flag before it reads its
# next packet has then, for example, reloaded). Use: kill -HUP $pid;
# wait_for 20 signal_handled $pid 1
signal_handled() {
	local v
	[ -r "/proc/$1/status" ] || return 1
	for v in $(awk '$1 == "SigPnd:" || $1 == "ShdPnd:" {print $2}' "/proc/$1/status"); do
		(( (0x$v >> ($2 - 1)) & 1 )) && return 1
	done
	return 0
}

# remove_netns NS...: kills what still runs in each namespace, deletes it,
# and removes the state ifwall kept for it (/run/ifwall/netns-INODE: its
# control socket and state files are named by the namespace's inode).
remove_netns() {
	local ns ino
	for ns; do
		[ -e "/var/run/netns/$ns" ] || continue
		ino=$(ip netns exec "$ns" stat -L -c %i /proc/self/ns/net 2>/dev/null)
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
		ip netns del "$ns" 2>/dev/null
		[ -n "$ino" ] && rm -rf "/run/ifwall/netns-$ino"
	done
	return 0
}
