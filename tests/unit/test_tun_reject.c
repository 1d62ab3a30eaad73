/* tun_reject_build: the RST / ICMP answers of 'reject' on the userspace
 * packet paths, checked field by field and by checksum. */
#include <stdint.h>
#include <string.h>

#include "backends/tun.h"
#include "tests/unit/testlib.h"


static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)get16(p) << 16 | get16(p + 2); }

static uint32_t sum16(uint32_t sum, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += get16(p + i);
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	return sum;
}

/* 0 when the ones' complement sum over the data (checksum included) is
 * all ones, i.e. the checksum is right. */
static uint16_t verify(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static uint16_t verify_transport4(const uint8_t *ip, uint8_t proto)
{
	size_t ihl = (size_t)(ip[0] & 15) * 4, total = get16(ip + 2);
	uint32_t sum = sum16(0, ip + 12, 8) + proto + (uint32_t)(total - ihl);

	return verify(sum16(sum, ip + ihl, total - ihl));
}

static uint16_t verify_transport6(const uint8_t *ip, uint8_t proto)
{
	size_t n = get16(ip + 4);
	uint32_t sum = sum16(0, ip + 8, 32) + proto + (uint32_t)n;

	return verify(sum16(sum, ip + 40, n));
}

/* IPv4 10.0.0.2:40000 -> 192.0.2.1:443, TCP with the given flags and
 * payload bytes. */
static size_t ipv4_tcp(uint8_t *p, uint8_t flags, size_t payload)
{
	memset(p, 0, 40 + payload);
	p[0] = 0x45;
	p[2] = (uint8_t)((40 + payload) >> 8);
	p[3] = (uint8_t)(40 + payload);
	p[8] = 64;
	p[9] = 6;
	memcpy(p + 12, (uint8_t[]){ 10, 0, 0, 2 }, 4);
	memcpy(p + 16, (uint8_t[]){ 192, 0, 2, 1 }, 4);
	p[20] = 40000 >> 8; p[21] = 40000 & 0xff;
	p[22] = 1; p[23] = 0xbb;
	memcpy(p + 24, (uint8_t[]){ 0x11, 0x22, 0x33, 0x44 }, 4); /* seq */
	memcpy(p + 28, (uint8_t[]){ 0xaa, 0xbb, 0xcc, 0xdd }, 4); /* ack */
	p[32] = 5 << 4;
	p[33] = flags;
	return 40 + payload;
}

static size_t ipv4_udp(uint8_t *p, const uint8_t dst[4])
{
	memset(p, 0, 32);
	p[0] = 0x45;
	p[3] = 32;
	p[8] = 64;
	p[9] = 17;
	memcpy(p + 12, (uint8_t[]){ 10, 0, 0, 2 }, 4);
	memcpy(p + 16, dst, 4);
	p[20] = 0x9c; p[21] = 0x40;
	p[22] = 0; p[23] = 53;
	p[25] = 12;
	memcpy(p + 28, "abcd", 4);
	return 32;
}

static size_t ipv6_udp(uint8_t *p, uint8_t dst0)
{
	memset(p, 0, 52);
	p[0] = 0x60;
	p[5] = 12;
	p[6] = 17;
	p[7] = 64;
	p[8] = 0xfd; p[23] = 2;            /* fd00::2 */
	p[24] = dst0; p[25] = 0x01; p[39] = 1; /* 2001::1 or ff01::1 */
	p[40] = 0x9c; p[41] = 0x40; p[43] = 53; p[45] = 12;
	return 52;
}

int main(void)
{
	uint8_t in[2048], out[TUN_REJECT_MAX];
	size_t n, len;

	/* A SYN gets RST|ACK acknowledging the SYN, from the target. */
	len = ipv4_tcp(in, 0x02, 0);
	n = tun_reject_build(in, len, out, sizeof(out));
	CHECK("rst4 length", n == 40);
	CHECK("rst4 addresses swapped", !memcmp(out + 12, in + 16, 4) && !memcmp(out + 16, in + 12, 4));
	CHECK("rst4 ports swapped", get16(out + 20) == 443 && get16(out + 22) == 40000);
	CHECK("rst4 flags rst|ack", out[33] == 0x14);
	CHECK("rst4 seq 0", get32(out + 24) == 0);
	CHECK("rst4 ack = seq + 1", get32(out + 28) == 0x11223345);
	CHECK("rst4 ip checksum", verify(sum16(0, out, 20)) == 0);
	CHECK("rst4 tcp checksum", verify_transport4(out, 6) == 0);

	/* Data with ACK: RST with the acknowledged sequence number. */
	len = ipv4_tcp(in, 0x18, 100);
	n = tun_reject_build(in, len, out, sizeof(out));
	CHECK("rst4 after ack: flags rst", n == 40 && out[33] == 0x04);
	CHECK("rst4 after ack: seq = their ack", get32(out + 24) == 0xaabbccdd);
	CHECK("rst4 after ack: checksum", verify_transport4(out, 6) == 0);

	/* No RST for a RST. */
	len = ipv4_tcp(in, 0x04, 0);
	CHECK("no answer to rst", tun_reject_build(in, len, out, sizeof(out)) == 0);

	/* UDP gets ICMP unreachable, administratively prohibited, quoting the
	 * original packet. */
	len = ipv4_udp(in, (uint8_t[]){ 192, 0, 2, 1 });
	n = tun_reject_build(in, len, out, sizeof(out));
	CHECK("icmp4 length", n == 20 + 8 + len);
	CHECK("icmp4 proto", out[9] == 1);
	CHECK("icmp4 type 3 code 13", out[20] == 3 && out[21] == 13);
	CHECK("icmp4 quotes the packet", !memcmp(out + 28, in, len));
	CHECK("icmp4 checksum", verify(sum16(0, out + 20, n - 20)) == 0);
	CHECK("icmp4 to the sender", !memcmp(out + 16, in + 12, 4));

	/* Multicast, broadcast, truncated, non-first fragments: nothing. */
	len = ipv4_udp(in, (uint8_t[]){ 224, 0, 0, 251 });
	CHECK("no answer to multicast", tun_reject_build(in, len, out, sizeof(out)) == 0);
	len = ipv4_udp(in, (uint8_t[]){ 255, 255, 255, 255 });
	CHECK("no answer to broadcast", tun_reject_build(in, len, out, sizeof(out)) == 0);
	len = ipv4_udp(in, (uint8_t[]){ 192, 0, 2, 1 });
	CHECK("no answer to a truncated header", tun_reject_build(in, 12, out, sizeof(out)) == 0);
	in[7] = 10; /* fragment offset 80 */
	CHECK("no answer to a non-first fragment", tun_reject_build(in, len, out, sizeof(out)) == 0);

	/* An ICMP error is never answered with one. */
	len = ipv4_udp(in, (uint8_t[]){ 192, 0, 2, 1 });
	n = tun_reject_build(in, len, out, sizeof(out));
	memcpy(in, out, n);
	memcpy(in + 12, (uint8_t[]){ 10, 0, 0, 9 }, 4);
	CHECK("no answer to an icmp error", tun_reject_build(in, n, out, sizeof(out)) == 0);

	/* Big packets are quoted up to 576 bytes in all. */
	len = ipv4_tcp(in, 0x18, 1400);
	in[9] = 17;
	n = tun_reject_build(in, len, out, sizeof(out));
	CHECK("icmp4 at most 576 bytes", n == 576);

	/* IPv6: ICMPv6 type 1 code 1 with a valid checksum. */
	len = ipv6_udp(in, 0x20);
	n = tun_reject_build(in, len, out, sizeof(out));
	CHECK("icmp6 length", n == 40 + 8 + len);
	CHECK("icmp6 next header", out[6] == 58);
	CHECK("icmp6 type 1 code 1", out[40] == 1 && out[41] == 1);
	CHECK("icmp6 to the sender", !memcmp(out + 24, in + 8, 16) && !memcmp(out + 8, in + 24, 16));
	CHECK("icmp6 checksum", verify_transport6(out, 58) == 0);
	len = ipv6_udp(in, 0xff);
	CHECK("no answer to ipv6 multicast", tun_reject_build(in, len, out, sizeof(out)) == 0);

	/* IPv6 TCP SYN behind a hop-by-hop header. */
	memset(in, 0, 80);
	in[0] = 0x60; in[5] = 28; in[6] = 0; in[7] = 64;
	in[8] = 0xfd; in[23] = 2; in[24] = 0x20; in[25] = 1; in[39] = 1;
	in[40] = 6; in[41] = 0;              /* hop-by-hop, 8 bytes, then TCP */
	in[48] = 0x9c; in[49] = 0x40; in[51] = 80;
	in[52] = 0; in[53] = 0; in[54] = 0; in[55] = 7;
	in[60] = 5 << 4; in[61] = 0x02;
	n = tun_reject_build(in, 68, out, sizeof(out));
	CHECK("rst6 length", n == 60);
	CHECK("rst6 flags rst|ack, ack = seq + 1", out[53] == 0x14 && get32(out + 48) == 8);
	CHECK("rst6 ports", get16(out + 40) == 80 && get16(out + 42) == 40000);
	CHECK("rst6 checksum", verify_transport6(out, 6) == 0);

	CHECK("no answer without room", tun_reject_build(in, 68, out, 100) == 0);
	TEST_MAIN_END();
}
