#!/usr/bin/env bash
# Replay: captures of every supported link type built by tests/golden/replay/cases.py
# (scapy), replayed against tests/golden/replay/ks.rules with asserted per-flow
# verdicts, plus --leaks, --json, pcapng and the error exits.
set -u
if ! /usr/bin/python3 -c 'import scapy' 2>/dev/null; then
	echo "SKIP replay: /usr/bin/python3 cannot import scapy"
	exit 0
fi
exec /usr/bin/python3 "$TOP/tests/golden/replay/cases.py"
