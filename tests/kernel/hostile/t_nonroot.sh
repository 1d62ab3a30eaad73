#!/usr/bin/env bash
# Exit codes without privileges (cli.md): as 'nobody' (a copy of the binary
# it can execute), the root commands exit 3 with a message on stderr and
# nothing on stdout; usage and rule file errors are still 2 (nothing was
# changed), -h still 0; the offline commands need no root.
set -u
: "${TOP:?}" "${IFWALL:?}"
if [ "$(id -u)" -ne 0 ]; then echo "SKIP nonroot: needs root (to become nobody)"; exit 0; fi
if ! id nobody >/dev/null 2>&1; then echo "SKIP nonroot: no user nobody"; exit 0; fi
TMP=$(mktemp -d /tmp/ifwnonroot.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
chmod 755 "$TMP"
cp "$IFWALL" "$TMP/ifwall"; chmod 755 "$TMP/ifwall"
printf 'pass out on wg0 all\n' >"$TMP/good.rules"
printf 'pass out on\n' >"$TMP/bad.rules"
chmod 644 "$TMP"/*.rules
cd "$TMP" || exit 1

# expect WANT_RC STDOUT(empty|any) ARGS...: runs ifwall ARGS as nobody
expect() {
	local want=$1 out=$2 rc
	shift 2
	su nobody -s /bin/sh -c "$(printf '%q ' ./ifwall "$@")" >out.txt 2>err.txt </dev/null
	rc=$?
	if [ "$rc" != "$want" ]; then
		echo "FAIL nonroot '$*': exit $rc, want $want: $(head -c 300 err.txt)"
	elif [ "$want" != 0 ] && [ ! -s err.txt ]; then
		echo "FAIL nonroot '$*': exit $rc without a message on stderr"
	elif [ "$out" = empty ] && [ -s out.txt ]; then
		echo "FAIL nonroot '$*': stdout not empty: $(head -c 200 out.txt)"
	else
		echo "PASS nonroot '$*': exit $rc"
	fi
}

# root commands: 3 (no permission), nothing on stdout
expect 3 empty load good.rules
expect 3 empty load --backend nft good.rules
expect 3 empty show
expect 3 empty show --json
expect 3 empty flush
expect 3 empty run --backend divert good.rules
# ... but usage and invalid files are 2, before any privilege is needed
expect 2 empty load bad.rules
expect 2 empty load /nonexistent.rules
expect 2 empty load
expect 2 empty load --bogus good.rules
expect 2 empty load --backend divert good.rules
expect 2 empty load good.rules --backend
grep -q "option '--backend' needs a value" err.txt && echo "PASS nonroot: load --backend without a value says so" ||
	echo "FAIL nonroot: load --backend without a value: $(head -c 200 err.txt)"
expect 2 empty show --bogus
expect 2 empty flush extra
expect 2 empty run good.rules
expect 2 empty run --backend divert bad.rules
for cmd in load show flush compile run interfaces check query replay; do
	expect 0 any "$cmd" -h
done
# offline commands (and compile, interfaces: they change nothing)
expect 0 any check good.rules
expect 0 any query good.rules 'out on wg0 tcp 10.0.0.2:1 > 1.1.1.1:80'
expect 0 any compile good.rules
expect 0 any interfaces --json
