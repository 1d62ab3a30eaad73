#!/usr/bin/env bash
# Prints "SUBCOMMAND OPTION..." per subcommand of the SYNOPSIS of
# tools/man/ifwall.8 (the options its synopsis lists, -h left out).
# Used by t_help.sh and t_completion.sh to hold --help texts and the bash
# completion to the man page.
sed -n '/^\.SH SYNOPSIS/,/^\.SH /p' "${1:-tools/man/ifwall.8}" |
awk '
/^\.B ifwall [a-z]/ { cmd = $3; sub(/\\-.*/, "", cmd); seen[cmd] = 1; if (!(cmd in order)) { order[cmd] = n++; names[n - 1] = cmd } }
/^\.br/ { line = ""; }
cmd != "" {
	s = $0; gsub(/\\-/, "-", s); gsub(/[][|,=]/, " ", s)
	k = split(s, tok, " ")
	for (j = 1; j <= k; j++) {
		o = tok[j]
		if (o !~ /^--[a-z][a-z-]*$/ && o !~ /^-[a-zA-Z]$/) continue
		if (o == "-h") continue
		if (!((cmd, o) in has)) { has[cmd, o] = 1; opts[cmd] = opts[cmd] " " o }
	}
}
/^\.br/ { cmd = "" }
END { for (i = 0; i < n; i++) print names[i] opts[names[i]] }'
