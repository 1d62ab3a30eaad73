# Seeds the description corpus with the descriptions used by the tests.
out=$1; i=0
for d in 'out on eth0 udp 192.168.1.10:5353 > 8.8.8.8:53' \
	 'in on wg0 tcp [fd00::2]:443 > [fd00::1]:51000' \
	 'out on eth0 icmp 10.0.0.2 > 1.1.1.1 type echo-request' \
	 'out on tun0 iftype tunnel icmp6 fe80::1 > ff02::2 type nd-router-solicit user 0 mark 0xca6c' \
	 'in on lo 47 127.0.0.1 > 127.0.0.2'; do
	printf '%s' "$d" >"$out/seed-$((i++))"
done
grep -ho "'\(in\|out\) on [^']*'" tests/golden/query/*.sh 2>/dev/null | tr -d "'" | head -200 | while read -r l; do
	printf '%s' "$l" >"$out/seed-q$((i++))"; i=$((i+1)); done
exit 0
