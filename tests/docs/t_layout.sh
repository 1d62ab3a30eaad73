#!/usr/bin/env bash
# How the pieces are put together: the folders are layers whose includes
# only go down; the ifwall command is its tools/*.c on top of libifwall.a
# and nothing else (no library source compiled into it); the example
# programs use the public header <ifwall.h> only.
set -u
cd "${TOP:?}"
O=${O:-build}

# The folders are layers, each including only itself and the layers below:
#   filter/    the engine and its vocabulary (rule set types, names)
#   rules/     the rule language, on filter/
#   backends/  nft, divert, tun, replay, on filter/ and rules/
#   tools/     the CLI, the helpers and the public facade (tools/lib/)
# so the include graph of the folders has no cycle.
allowed() {  # allowed FROM-FOLDER TO-FOLDER
	case $1:$2 in
	filter:filter | rules:filter | rules:rules) return 0 ;;
	backends:filter | backends:rules | backends:backends) return 0 ;;
	tools:filter | tools:rules | tools:backends | tools:tools) return 0 ;;
	esac
	return 1
}
# layer_violations FILE...: "FILE:LINE includes X" for every include that
# goes up or sideways
layer_violations() {
	local f from inc to
	for f in "$@"; do
		from=${f%%/*}
		while IFS=: read -r line inc; do
			to=${inc%%/*}
			case $to in filter | rules | backends | tools) ;; *) continue ;; esac
			allowed "$from" "$to" || echo "$f:$line includes $inc"
		done < <(grep -n '^#include "' "$f" | sed 's/^\([0-9]*\):#include "\([^"]*\)".*/\1:\2/')
	done
}
bad=$(layer_violations $(ls filter/*.[ch] rules/*.[ch] backends/*.[ch] tools/*.[ch] tools/*/*.[ch] 2>/dev/null | grep -v '^tools/examples/'))
if [ -z "$bad" ]; then echo "PASS layers: filter < rules < backends < tools, no include goes up"
else echo "FAIL layers: $(echo "$bad" | head -5 | tr '\n' ';')"; fi
# ... and the check itself can fail: an engine file that includes the
# language, a language file that includes a backend.
scratch_layers=$(mktemp -d /tmp/ifwlib-layers.XXXXXX)
mkdir -p "$scratch_layers/filter" "$scratch_layers/rules"
printf '#include "rules/ruleset.h"\n' >"$scratch_layers/filter/x.c"
printf '#include "backends/nft.h"\n' >"$scratch_layers/rules/y.c"
n=$(cd "$scratch_layers" && layer_violations filter/x.c rules/y.c | wc -l)
rm -rf "$scratch_layers"
if [ "$n" -eq 2 ]; then echo "PASS layers-check-can-fail"; else echo "FAIL layers-check-can-fail: $n of 2 violations seen"; fi

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
