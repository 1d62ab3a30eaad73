#!/usr/bin/env bash
# '-h' of every subcommand agrees with ifwall(8): it exits 0, names every
# option the man page's synopsis gives the subcommand, and names no option
# the man page does not document for it. The top-level help lists
# every subcommand of the man page.
set -u
cd "${TOP:?}"
IFWALL=${IFWALL:?}

while read -r cmd opts; do
	out=$("$IFWALL" "$cmd" -h 2>&1); rc=$?
	if [ $rc -ne 0 ]; then echo "FAIL help-$cmd: '$cmd -h' exited $rc"; continue; fi
	missing=
	for o in $opts; do
		grep -qe "$o\b" <<<"$out" || missing="$missing $o"
	done
	extra=
	for o in $( (grep -oE -- '--[a-z][a-z-]*' <<<"$out"; grep -E '^(Usage:|[[:space:]]+ifwall |[[:space:]]+\[|[[:space:]]+-[a-zA-Z]\b)' <<<"$out" |
		grep -oE -- '(^|[[ ])-[a-zA-Z]\b' | tr -d '[ ') | sort -u); do
		[ "$o" = -h ] && continue
		[[ " $opts --help " == *" $o "* ]] || extra="$extra $o"
	done
	if [ -z "$missing$extra" ]; then
		echo "PASS help-$cmd"
	else
		echo "FAIL help-$cmd:${missing:+ not in -h:$missing}${extra:+ not in ifwall(8):$extra}"
	fi
done < <(bash tests/docs/man_options.sh)

top=$("$IFWALL" --help 2>&1)
missing=
for cmd in $(bash tests/docs/man_options.sh | cut -d' ' -f1); do
	grep -qE "^  $cmd " <<<"$top" || missing="$missing $cmd"
done
if [ -z "$missing" ]; then echo "PASS help-commands"; else echo "FAIL help-commands: not in --help:$missing"; fi

# Every subcommand, exit code and the packet description syntax of the man
# page are the ones of cli.md (the page is where users read them).
man=tools/man/ifwall.8
ok=1
for code in 0 1 2 3; do
	grep -qx "\.B $code" "$man" || { ok=; echo "FAIL man-exit-codes: exit code $code not documented"; }
done
[ -n "$ok" ] && echo "PASS man-exit-codes"
if command -v man >/dev/null; then
	warnings=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$man" tools/man/ifwall.rules.5 2>&1 >/dev/null)
	if [ -z "$warnings" ]; then echo "PASS man-renders"; else echo "FAIL man-renders: $warnings"; fi
else
	echo "SKIP man-renders: man not installed"
fi
