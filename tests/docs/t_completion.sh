#!/usr/bin/env bash
# The bash completion (tools/completion/ifwall) offers the subcommands and,
# per subcommand, exactly the options of ifwall(8); a RULES argument
# completes to *.rules files and directories, replay's captures to pcaps.
set -u
cd "${TOP:?}"
dir=$(mktemp -d /tmp/ifwlib-compl.XXXXXX)
trap 'rm -rf "$dir"' EXIT
shopt -s extglob
# shellcheck source=/dev/null
source tools/completion/ifwall

complete_line() { # words... (the last one is being completed)
	COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=()
	_ifwall
	printf '%s\n' "${COMPREPLY[@]}" | sed '/^$/d' | sort | tr '\n' ' ' | sed 's/ $//'
}
expect() { # name want got
	if [ "$2" = "$3" ]; then echo "PASS $1"; else echo "FAIL $1: want '$2', got '$3'"; fi
}

cmds=$(bash tests/docs/man_options.sh | cut -d' ' -f1 | sort | tr '\n' ' ' | sed 's/ $//')
expect subcommands "$cmds" "$(complete_line ifwall '')"
expect subcommand-prefix "check compile" "$(complete_line ifwall c)"
while read -r cmd opts; do
	want=$(printf '%s\n' -h $opts | sort | tr '\n' ' ' | sed 's/ $//')
	expect "options-$cmd" "$want" "$(complete_line ifwall "$cmd" -)"
done < <(bash tests/docs/man_options.sh)

mkdir -p "$dir/sub"
touch "$dir/a.rules" "$dir/b.rules" "$dir/notes.txt" "$dir/cap.pcap" "$dir/cap2.pcapng"
cd "$dir" || exit 1
expect rules-files "a.rules b.rules sub" "$(complete_line ifwall check '')"
expect rules-after-option "a.rules b.rules sub" "$(complete_line ifwall check --expand '')"
expect rules-for-run "a.rules b.rules sub" "$(complete_line ifwall run --backend tun --netns x '')"
expect replay-captures "cap.pcap cap2.pcapng sub" "$(complete_line ifwall replay --iface eth0 a.rules '')"
expect query-no-files "" "$(complete_line ifwall query a.rules '')"
expect backend-run "divert nft tun" "$(complete_line ifwall run --backend '')"
expect backend-load "nft" "$(complete_line ifwall load --backend '')"
expect no-args-flush "" "$(complete_line ifwall flush '')"
