#!/usr/bin/env bash
# How the pieces are put together: the ifwall command is its tools/*.c on
# top of libifwall.a and nothing else (no library source compiled into it);
# tools/*.c reach the engine only through the library's headers; the
# example programs use the public header <ifwall.h> only.
set -u
cd "${TOP:?}"
O=${O:-build}

bad=
for f in tools/*.c; do
	while read -r inc; do
		case $inc in
		filter/*.h | rules/*.h | backends/*.h | tools/*.h) ;;
		*) bad="$bad $f:$inc" ;;
		esac
	done < <(sed -n 's/^#include "\(.*\)".*/\1/p' "$f")
done
if [ -z "$bad" ]; then echo "PASS cli-includes"; else echo "FAIL cli-includes:$bad"; fi

# The command's link line: CLI objects and libifwall.a, no library object.
scratch=$(mktemp -d /tmp/ifwlib-layout.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
link=$(make -s -n -B O="$scratch" "$scratch/ifwall" 2>/dev/null | grep -- "-o $scratch/ifwall ")
if [[ $link == *"$scratch/libifwall.a"* ]] && ! grep -qE "$scratch/(filter|rules|backends)/" <<<"$link"; then
	echo "PASS cli-links-library"
else
	echo "FAIL cli-links-library: $link"
fi

bad=
for f in tools/examples/*.c; do
	[ -f "$f" ] || continue
	grep -q '^#include "' "$f" && bad="$bad $f"
	grep -q '^#include <ifwall.h>' "$f" || bad="$bad $f(no <ifwall.h>)"
done
if [ -z "$bad" ]; then echo "PASS examples-public-header-only"; else echo "FAIL examples-public-header-only:$bad"; fi
