#!/usr/bin/env bash
# replay of pcapng with several interfaces: names, link types, resolutions
# and direction flags per interface; captures written by dumpcap, text2pcap
# and mergecap (Debian's tshark / wireshark-common) and by capture.py;
# corrupt files exit 2. See tests/golden/replay/pcapng_cases.py.
set -u
if ! /usr/bin/python3 -c 'import scapy' 2>/dev/null; then
	echo "SKIP replay-pcapng: /usr/bin/python3 cannot import scapy"
	exit 0
fi
exec /usr/bin/python3 "$TOP/tests/golden/replay/pcapng_cases.py"
