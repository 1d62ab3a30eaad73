#!/usr/bin/env bash
# 'make install' into a DESTDIR, then the "Use from C" example of
# tools/README-libifwall.md (and README.md, which must carry the same) is
# compiled against the installed header and
# library through pkg-config (PKG_CONFIG_PATH into the DESTDIR), run, and its
# output compared with the one the README states. Then the same program
# linked statically with libifwall.a and 'pkg-config --static'.
set -u
cd "${TOP:?}"
O=${O:-build}
CC=${CC:-cc}
san=; sanflags=
case $O in *san*) san=SAN=1; sanflags="-fsanitize=address,undefined" ;; esac
dest=$(mktemp -d /tmp/ifwlib-pc.XXXXXX)
trap 'rm -rf "$dest"' EXIT
readme=tools/README-libifwall.md

if ! make -s O="$O" $san install DESTDIR="$dest" PREFIX=/usr/local >"$dest/install.log" 2>&1; then
	echo "FAIL pc-install: $(tail -3 "$dest/install.log" | tr '\n' ' ')"; exit 1
fi
awk '/^```c$/ {on=1; next} on && /^```$/ {exit} on {print}' "$readme" >"$dest/example.c"
want=$(awk '/^It prints:$/ {on=1; next} on && /^```/ {if (started) exit; started=1; next} on && started {print}' "$readme")
lines=$(grep -c . "$dest/example.c")
# README.md's "Use from C" section carries the same example and output.
if grep -q '^## Use from C' README.md; then
	awk '/^## Use from C/ {sec=1} sec && /^```c$/ {on=1; next} on && /^```$/ {exit} on {print}' README.md >"$dest/top.c"
	top_want=$(awk '/^## Use from C/ {sec=1} sec && /^It prints:$/ {on=1; next} on && /^```/ {if (started) exit; started=1; next} on && started {print}' README.md)
	if cmp -s "$dest/example.c" "$dest/top.c" && [ "$top_want" = "$want" ]; then
		echo "PASS readme-md-same-example"
	else
		echo "FAIL readme-md-same-example: README.md's Use from C differs from $readme"
	fi
fi
if [ "$lines" -gt 0 ] && [ "$lines" -le 20 ] && [ -n "$want" ]; then
	echo "PASS readme-example-found ($lines lines)"
else
	echo "FAIL readme-example-found: $lines lines, expected output '$want'"
fi

export PKG_CONFIG_PATH=$dest/usr/local/lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$dest
cflags=$(pkg-config --cflags libifwall) && libs=$(pkg-config --libs libifwall)
if [ $? -eq 0 ] && [[ $cflags == *"$dest/usr/local/include"* ]]; then
	echo "PASS pkg-config ($cflags $libs)"
else
	echo "FAIL pkg-config: '$cflags' '$libs'"
fi

# Dynamic: nothing of the source tree on the include or library path.
if $CC -Wall -Werror $sanflags -o "$dest/example" "$dest/example.c" $cflags $libs 2>"$dest/cc.log"; then
	echo "PASS example-compiles"
	got=$(LD_LIBRARY_PATH=$dest/usr/local/lib "$dest/example" 2>&1)
	if [ "$got" = "$want" ]; then echo "PASS example-output"; else echo "FAIL example-output: got '$got', want '$want'"; fi
	if LD_LIBRARY_PATH=$dest/usr/local/lib ldd "$dest/example" | grep -q "$dest/usr/local/lib/libifwall.so.0"; then
		echo "PASS example-uses-installed-so"
	else
		echo "FAIL example-uses-installed-so"
	fi
else
	echo "FAIL example-compiles: $(head -5 "$dest/cc.log" | tr '\n' ' ')"
fi

# Static libifwall (the archive) with its dependencies as shared libraries.
static_libs=$(pkg-config --libs libpcap libnftnl libmnl)
if $CC -Wall -Werror $sanflags -o "$dest/example-static" "$dest/example.c" $cflags \
	"$dest/usr/local/lib/libifwall.a" $static_libs -pthread 2>"$dest/cc.log"; then
	got=$("$dest/example-static" 2>&1)
	if [ "$got" = "$want" ] && ! ldd "$dest/example-static" | grep -q libifwall; then
		echo "PASS example-static"
	else
		echo "FAIL example-static: got '$got'"
	fi
else
	echo "FAIL example-static: $(head -5 "$dest/cc.log" | tr '\n' ' ')"
fi
