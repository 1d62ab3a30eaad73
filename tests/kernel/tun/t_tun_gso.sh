#!/usr/bin/env bash
# The tun backend with the devices' offloads: 50 MB each way over TCP arrive
# whole and cross ifwall as segmentation packets (far fewer packets than
# 1500-byte ones would take); a burst of small UDP datagrams, written merged
# as UDP segmentation packets, comes back unchanged (IPv4 and IPv6); and a
# running bulk flow that a reload blocks gets nothing through any more (its
# segmentation packets are dropped whole).
set -u
. "$TOP/tests/kernel/tun/lib.sh"
require_root tun-gso
trap cleanup EXIT
topology || { fail tun-gso/topology "could not build the namespaces"; exit 0; }

BULK=50000000
rules=$TUNLOG/gso.rules
printf 'pass out on eth0 proto { tcp udp }\n' >"$rules"

# summary FIELD: a number from ifwall's exit line ('packets from the
# client', 'toward it', 'blocked', 'UDP datagrams written merged').
summary() {
	local line
	line=$(grep ' packets from the client, ' "$TUNLOG/err" | tail -1)
	case $1 in
	from) sed -n 's/.*run: \([0-9]*\) packets from the client.*/\1/p' <<<"$line" ;;
	to) sed -n 's/.* \([0-9]*\) toward it: .*/\1/p' <<<"$line" ;;
	blocked) sed -n 's/.* \([0-9]*\) blocked, .*/\1/p' <<<"$line" ;;
	merged) sed -n 's/.* \([0-9]*\) UDP datagrams written merged$/\1/p' <<<"$line" ;;
	esac
}

# --- bulk TCP, both ways ---------------------------------------------------
if ! start_ifwall "$rules"; then fail tun-gso/start "$(cat "$TUNLOG/err")"; exit 0; fi
expect tun-gso/upload-50MB "ok $BULK" client upload 10.1.0.2 $BULK 60
expect tun-gso/download-50MB "ok $BULK" client download 10.1.0.2 $BULK 60
stop_ifwall
# 50 MB in 1500-byte packets is 34,000 of them each way; segmentation
# packets of up to 64 KiB make it a few thousand (ACKs included).
from=$(summary from) to=$(summary to)
if [ -n "$from" ] && [ "$from" -lt 12000 ] && [ "$to" -lt 12000 ]; then
	pass tun-gso/bulk-as-segmentation-packets
else
	fail tun-gso/bulk-as-segmentation-packets "$from packets from the client, $to toward it for 50 MB each way: $(tail -1 "$TUNLOG/err")"
fi

# --- small UDP datagrams, merged ---------------------------------------------
# ifwall is stopped while the client sends, so the burst waits in ifw0's
# queue and is read as one batch.
printf 'pass out on eth0 proto { tcp udp }\n' >"$rules"
if ! start_ifwall "$rules" --prefix 100.64.0.0/30 --prefix fd00:64::/126; then
	fail tun-gso/start-dual "$(cat "$TUNLOG/err")"; exit 0
fi
# The first datagram of a flow looks its route up; do that before the burst.
client udpburst 10.1.0.2 1 64 >/dev/null
client udpburst 2001:db8:5::1 1 64 >/dev/null
for dst in 10.1.0.2 2001:db8:5::1; do
	kill -STOP "$IFW_PID"
	client udpburst $dst 200 64 5 >"$TUNLOG/burst" &
	burst=$!
	sleep 0.5
	kill -CONT "$IFW_PID"
	wait $burst
	expect tun-gso/udp-burst-$dst "ok 200" cat "$TUNLOG/burst"
done
stop_ifwall
merged=$(summary merged)
if [ -n "$merged" ] && [ "$merged" -ge 100 ]; then
	pass tun-gso/udp-written-merged
else
	fail tun-gso/udp-written-merged "'$merged' datagrams merged: $(tail -1 "$TUNLOG/err")"
fi

# --- a bulk flow blocked by a reload -----------------------------------------
printf 'pass out on eth0 proto { tcp udp }\n' >"$rules"
if ! start_ifwall "$rules"; then fail tun-gso/start-reload "$(cat "$TUNLOG/err")"; exit 0; fi
client stream 10.1.0.2 4 0.5 >"$TUNLOG/stream" &
stream=$!
sleep 1.6
printf 'block out on eth0 proto tcp to any port 8081\npass out on eth0 proto { tcp udp }\n' >"$rules"
kill -HUP "$IFW_PID"
wait $stream
stop_ifwall
# Acknowledged bytes per half second: data flowed before the reload, none
# in the last second.
read -r before after < <(awk 'NR <= 2 { b += $1 } NR >= 7 { a += $1 } END { print b + 0, a + 0 }' "$TUNLOG/stream")
blocked=$(summary blocked)
if [ "$(wc -l <"$TUNLOG/stream")" -ge 8 ] && [ "$before" -gt 1000000 ] && [ "$after" -eq 0 ] &&
   [ "${blocked:-0}" -gt 0 ]; then
	pass tun-gso/reload-blocks-bulk-flow
else
	fail tun-gso/reload-blocks-bulk-flow "acked per 0.5 s: $(tr '\n' ' ' <"$TUNLOG/stream"); $(tail -1 "$TUNLOG/err")"
fi
exit 0
