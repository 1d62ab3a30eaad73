#!/usr/bin/env bash
# Builds the Debian packages (ifwall, libifwall0, libifwall-dev) from a copy
# of the tree with dpkg-buildpackage -b -us -uc, runs lintian (no errors
# allowed), unpacks them into a scratch root with dpkg -x and checks that
# the files are there, that 'ifwall check' of the installed binary accepts an
# example, and that the README's C example compiles against the installed
# header and library through pkg-config, and runs.
# Opt-in ('make package', .ci/run): it needs debhelper and lintian, which it
# installs when missing (as root). The .deb files are left in $O/package/.
set -u
cd "$(dirname "$0")/../../.."
TOP=$PWD
O=${O:-build}
out=$TOP/$O/package
work=$(mktemp -d /tmp/ifwpkg.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail=0 npass=0 nfail=0
pass() { echo "PASS $1"; npass=$((npass + 1)); }
failed() { echo "FAIL $1: $2"; fail=1; nfail=$((nfail + 1)); }

need=()
for p in debhelper lintian dpkg-dev fakeroot; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "SKIP package: missing ${need[*]} (run as root to install)"; exit 0
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null 2>&1 ||
		{ apt-get update -qq >/dev/null 2>&1 &&
		  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null 2>&1; } ||
		{ echo "FAIL package-deps: cannot install ${need[*]}"; exit 1; }
fi

# A clean copy of the tracked and new files (no build output), like a
# source tarball.
mkdir -p "$work/src"
git ls-files -z --cached --others --exclude-standard |
	grep -zvE '^(build[^/]*|debian/(tmp|\.debhelper|ifwall|libifwall0|libifwall-dev|files|[^/]*\.substvars|[^/]*\.log|debhelper-build-stamp))(/|$)' |
	while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
	cpio -0 -pdm --quiet "$work/src"

log=$work/build.log
if (cd "$work/src" && dpkg-buildpackage -b -us -uc) >"$log" 2>&1; then
	pass dpkg-buildpackage
else
	failed dpkg-buildpackage "see below"; tail -40 "$log"; echo "package: $npass passed, $nfail failed"; exit 1
fi
rm -rf "$out"; mkdir -p "$out"
cp "$work"/*.deb "$work"/*.changes "$work"/*.buildinfo "$out"/ 2>/dev/null
for p in ifwall libifwall0 libifwall-dev; do
	if ls "$out"/${p}_*.deb >/dev/null 2>&1; then pass "deb-$p"; else failed "deb-$p" "not built"; fi
done

lintian --no-tag-display-limit "$out"/*.changes >"$work/lintian.log" 2>&1
errors=$(grep -c '^E: ' "$work/lintian.log")
if [ "$errors" -eq 0 ]; then
	pass "lintian-no-errors ($(grep -c '^W: ' "$work/lintian.log") warnings)"
else
	failed lintian-no-errors "$errors errors"; grep '^E: ' "$work/lintian.log"
fi
grep '^[WE]: ' "$work/lintian.log" | sed 's/^/    lintian: /'

root=$work/root
for d in "$out"/*.deb; do dpkg -x "$d" "$root"; done
ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
expect() { # name path
	if [ -e "$root$2" ]; then pass "$1"; else failed "$1" "$2 not in the packages"; fi
}
expect binary /usr/sbin/ifwall
expect shared-lib /usr/lib/$ma/libifwall.so.0
expect dev-symlink /usr/lib/$ma/libifwall.so
expect static-lib /usr/lib/$ma/libifwall.a
expect header /usr/include/ifwall.h
expect pkgconfig /usr/lib/$ma/pkgconfig/libifwall.pc
expect man-ifwall.8 /usr/share/man/man8/ifwall.8.gz
expect man-ifwall.rules.5 /usr/share/man/man5/ifwall.rules.5.gz
[ -f tools/man/ifwall-killswitch.7 ] && expect man-ifwall-killswitch.7 /usr/share/man/man7/ifwall-killswitch.7.gz
expect completion /usr/share/bash-completion/completions/ifwall
for u in tools/systemd/*.service; do
	[ -f "$u" ] && expect "unit-${u##*/}" "/lib/systemd/system/${u##*/}"
done
[ -f tools/systemd/boot.rules ] && expect boot-rules /etc/ifwall/boot.rules

# The installed binary checks an example rule file.
example=
for f in rules/examples/wireguard.rules rules/examples/*.rules; do
	[ -f "$f" ] && { example=$f; break; }
done
if [ -z "$example" ]; then
	example=$work/example.rules
	printf 'killswitch {\n    tunnel wg0\n    endpoint 198.51.100.7 port 51820 proto udp\n}\n' >"$example"
fi
if "$root/usr/sbin/ifwall" check --expand "$example" >"$work/check.out" 2>"$work/check.err"; then
	pass "installed-ifwall-check ($(basename "$example"))"
else
	failed installed-ifwall-check "exit $?: $(head -3 "$work/check.err" | tr '\n' ' ')"
fi

# The README's example, compiled against the installed package.
awk '/^```c$/ {on=1; next} on && /^```$/ {exit} on {print}' tools/README-libifwall.md >"$work/example.c"
want=$(awk '/^It prints:$/ {on=1; next} on && /^```/ {if (started) exit; started=1; next} on && started {print}' tools/README-libifwall.md)
export PKG_CONFIG_SYSROOT_DIR=$root PKG_CONFIG_PATH=$root/usr/lib/$ma/pkgconfig PKG_CONFIG_LIBDIR=$root/usr/lib/$ma/pkgconfig:/usr/lib/$ma/pkgconfig:/usr/share/pkgconfig
if cc -o "$work/example" "$work/example.c" $(pkg-config --cflags --libs libifwall) >"$work/cc.log" 2>&1; then
	pass example-compiles
	got=$(LD_LIBRARY_PATH=$root/usr/lib/$ma "$work/example" 2>&1)
	if [ -n "$want" ] && [ "$got" = "$want" ]; then pass example-output; else failed example-output "got '$got', want '$want'"; fi
	if LD_LIBRARY_PATH=$root/usr/lib/$ma ldd "$work/example" | grep -q "$root/usr/lib/$ma/libifwall.so.0"; then
		pass example-uses-installed-lib
	else
		failed example-uses-installed-lib "$(ldd "$work/example" | grep ifwall)"
	fi
else
	failed example-compiles "$(head -5 "$work/cc.log" | tr '\n' ' ')"
fi
echo "package: $npass passed, $nfail failed"
exit $fail
