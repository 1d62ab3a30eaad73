#!/usr/bin/env bash
# 'make install' into a DESTDIR: the files land where PREFIX/LIBDIR say, the
# shared library has its SONAME, exports exactly the names listed in the
# version script (all versioned IFWALL_0.1), and the .pc file names the
# install directories.
set -u
cd "${TOP:?}"
O=${O:-build}
san=; case $O in *san*) san=SAN=1 ;; esac
dest=$(mktemp -d /tmp/ifwlib-install.XXXXXX)
trap 'rm -rf "$dest"' EXIT

if make -s O="$O" $san install DESTDIR="$dest" PREFIX=/opt/ifw LIBDIR=/opt/ifw/lib64 \
	SYSTEMDDIR=/opt/ifw/systemd SYSCONFDIR=/opt/ifw/etc >"$dest.log" 2>&1; then
	echo "PASS install-runs"
else
	echo "FAIL install-runs: $(tail -3 "$dest.log" | tr '\n' ' ')"; rm -f "$dest.log"; exit 0
fi
rm -f "$dest.log"
r=$dest/opt/ifw

check_file() { # name path
	if [ -e "$2" ]; then echo "PASS $1"; else echo "FAIL $1: $2 missing"; fi
}
check_file binary "$r/sbin/ifwall"
check_file header "$r/include/ifwall.h"
check_file static-lib "$r/lib64/libifwall.a"
check_file shared-lib "$r/lib64/libifwall.so.0.1.0"
check_file pkgconfig "$r/lib64/pkgconfig/libifwall.pc"
for m in tools/man/*.[1-8]; do
	[ -f "$m" ] || continue
	check_file "man-${m##*/}" "$r/share/man/man${m##*.}/${m##*/}"
done
[ -f tools/completion/ifwall ] && check_file completion "$r/share/bash-completion/completions/ifwall"
for u in tools/systemd/*.service; do
	[ -f "$u" ] || continue
	check_file "unit-${u##*/}" "$r/systemd/${u##*/}"
done
[ -f tools/systemd/boot.rules ] && check_file boot-rules "$r/etc/ifwall/boot.rules"
# VPN hooks: where wg-quick / OpenVPN configurations name them, and where
# NetworkManager looks for dispatcher scripts; executable, @BINDIR@ replaced.
for h in ifwall-wg-endpoints ifwall-openvpn-endpoints; do
	if [ -x "$r/sbin/$h" ] && grep -q '/opt/ifw/sbin/ifwall' "$r/sbin/$h" && ! grep -q @BINDIR@ "$r/sbin/$h"; then
		echo "PASS hook-$h"
	else echo "FAIL hook-$h: $r/sbin/$h missing, not executable or with @BINDIR@ left"; fi
done
nm=$r/etc/NetworkManager/dispatcher.d/90-ifwall-vpn-endpoints
if [ -x "$nm" ] && [ "$(stat -c %a "$nm")" = 755 ] && ! grep -q @BINDIR@ "$nm"; then echo "PASS hook-nm-dispatcher"
else echo "FAIL hook-nm-dispatcher: $nm missing, not 755 or with @BINDIR@ left"; fi
# Units name the installed binary and configuration, no placeholders left.
units=$(ls "$r"/systemd/*.service 2>/dev/null)
if [ -n "$units" ]; then
	if ! grep -q '@[A-Z]*@' $units && grep -q '^ExecStart=/opt/ifw/sbin/ifwall ' $units &&
	   grep -q '/opt/ifw/etc/ifwall/' $units; then
		echo "PASS units-paths"
	else
		echo "FAIL units-paths: $(grep -h 'ExecStart\|@' $units | tr '\n' ' ')"
	fi
fi


# Symlinks: the linker name and the SONAME name both resolve to the library.
if [ "$(readlink "$r/lib64/libifwall.so.0")" = libifwall.so.0.1.0 ] &&
   [ "$(readlink "$r/lib64/libifwall.so")" = libifwall.so.0 ]; then
	echo "PASS symlinks"
else
	echo "FAIL symlinks: $(ls -l "$r/lib64" | tr '\n' ' ')"
fi

soname=$(readelf -d "$r/lib64/libifwall.so.0.1.0" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
if [ "$soname" = libifwall.so.0 ]; then echo "PASS soname"; else echo "FAIL soname: '$soname'"; fi

# Exported functions == the names of the version script, every one
# versioned IFWALL_0.1 (nothing internal leaks).
exported=$(nm -D --defined-only "$r/lib64/libifwall.so.0.1.0" | awk '$2 ~ /^[TDBR]$/ {print $3}' | sort)
listed=$(sed -n 's/^[[:space:]]*\(ifw_[a-z0-9_]*\);$/\1/p' tools/libifwall.map | sort)
leaked=$(comm -23 <(echo "$exported" | sed 's/@.*//' | sed '/^$/d') <(echo "$listed"))
if [ -z "$leaked" ]; then echo "PASS exports-only-map"; else echo "FAIL exports-only-map: $(echo $leaked)"; fi
unversioned=$(echo "$exported" | grep -v '@@IFWALL_0.1$' | grep -v '^$' | grep -v '^IFWALL_0.1$')
if [ -z "$unversioned" ]; then echo "PASS exports-versioned"; else echo "FAIL exports-versioned: $(echo $unversioned)"; fi
# Every function the public header declares is exported (once the library
# implementation is in the tree).
declared=$(grep -o '\bifw_[a-z0-9_]*(' tools/lib/ifwall.h | tr -d '(' | sort -u)
if [ -f tools/lib/libifwall.c ]; then
	missing=$(comm -23 <(echo "$declared") <(echo "$exported" | sed 's/@.*//'))
	if [ -z "$missing" ]; then echo "PASS header-all-exported"; else echo "FAIL header-all-exported: $(echo $missing)"; fi
fi
notlisted=$(comm -23 <(echo "$declared") <(echo "$listed"))
if [ -z "$notlisted" ]; then echo "PASS header-in-map"; else echo "FAIL header-in-map: $(echo $notlisted)"; fi

pc=$r/lib64/pkgconfig/libifwall.pc
pcvar() { PKG_CONFIG_PATH=$r/lib64/pkgconfig pkg-config --variable="$1" libifwall; }
if [ "$(pcvar libdir)" = /opt/ifw/lib64 ] && [ "$(pcvar includedir)" = /opt/ifw/include ] &&
   [ "$(pcvar prefix)" = /opt/ifw ]; then
	echo "PASS pc-dirs"
else
	echo "FAIL pc-dirs: $(tr '\n' ' ' <"$pc")"
fi
if [ "$(PKG_CONFIG_PATH=$r/lib64/pkgconfig pkg-config --modversion libifwall)" = 0.1.0 ]; then
	echo "PASS pc-version"
else
	echo "FAIL pc-version"
fi
