/* gen_flood: writes a pcap (LINUX_SLL2, nanosecond timestamps) of COUNT
 * packets that each begin a distinct flow, with a few long-lived flows
 * interleaved, for the flow-table flood test (tests/kernel/hostile/t_flood_replay.sh).
 *
 *   gen_flood [-n COUNT] [-e EVERY] FILE|-
 *
 * Interfaces: index 2 (eth0, local 192.168.1.10 / 2001:db8:1::10) and
 * index 5 (wg0, local 10.8.0.2). Flood packets, by i % 4:
 *   0  out on wg0  udp 10.8.0.2:1024+ > 100.64.0.0+j:53
 *   1  in on eth0  tcp SYN 10.64.0.0+j:1024+ > 192.168.1.10:80
 *   2  out on wg0  udp [fd00::1:0+j]:1024+ > [fd00:ffff::j]:53
 *      (sources the replay would learn as wg0's addresses, without a cap)
 *   3  in on eth0  tcp SYN [2001:db8:ffff::j]:1024+ > [2001:db8:1::10]:443
 * (j = i / 4, so every packet is a flow of its own). After every EVERY
 * flood packets comes one packet of a long-lived flow, in turn:
 *   L1 tcp 10.8.0.2:62000 <> 93.184.216.34:443 on wg0 (SYN out, then ACKs
 *      out and in alternately)
 *   L2 udp 192.168.1.10:51820 <> 198.51.100.7:51820 on eth0 (out, in, ...)
 *   L3 tcp SYN in on eth0 203.0.113.9:63000 > 192.168.1.10:22 (repeated)
 * Packets are 20 us apart from 1700000000 s. Prints to stderr how many
 * packets each long-lived flow got: "long L1 N" ... */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LINKTYPE_LINUX_SLL2 276
#define SLL2_LEN 20
#define START_SEC 1700000000ull
#define STEP_NS 20000ull
#define IF_ETH0 2
#define IF_WG0 5
#define PKT_HOST 0
#define PKT_OUTGOING 4

struct writer {
	FILE *out;
	uint64_t now_ns;
	uint64_t packets;
};

static void put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint16_t ip_checksum(const uint8_t *h, size_t len)
{
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(h[i] << 8 | h[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* One endpoint: family 4 uses the first 4 bytes of a. */
struct endpoint {
	uint8_t a[16];
	uint16_t port;
};

static struct endpoint v4(uint32_t addr, uint16_t port)
{
	struct endpoint e = { .port = port };

	put32(e.a, addr);
	return e;
}

/* prefix (first 12 bytes) + 32-bit low part. */
static struct endpoint v6(const char *prefix12, uint32_t low, uint16_t port)
{
	struct endpoint e = { .port = port };

	memcpy(e.a, prefix12, 12);
	put32(e.a + 12, low);
	return e;
}

#define TCP_SYN 0x02
#define TCP_ACK 0x10

/* Writes one SLL2 frame: IPv4/IPv6 + TCP (flags) or UDP (flags < 0). */
static int emit(struct writer *w, int family, unsigned ifindex, unsigned pkttype,
		const struct endpoint *src, const struct endpoint *dst, int tcp_flags)
{
	uint8_t f[SLL2_LEN + 40 + 20] = { 0 }, rec[16];
	size_t l3 = family == 4 ? 20 : 40, l4 = tcp_flags >= 0 ? 20 : 8;
	size_t len = SLL2_LEN + l3 + l4;
	uint8_t *ip = f + SLL2_LEN, *th = ip + l3;

	put16(f, family == 4 ? 0x0800 : 0x86dd);
	put32(f + 4, ifindex);
	put16(f + 8, ifindex == IF_WG0 ? 65534 : 1);
	f[10] = (uint8_t)pkttype;
	f[11] = ifindex == IF_WG0 ? 0 : 6;
	if (family == 4) {
		ip[0] = 0x45;
		put16(ip + 2, (unsigned)(l3 + l4));
		ip[8] = 64;
		ip[9] = tcp_flags >= 0 ? 6 : 17;
		memcpy(ip + 12, src->a, 4);
		memcpy(ip + 16, dst->a, 4);
		put16(ip + 10, ip_checksum(ip, 20));
	} else {
		ip[0] = 0x60;
		put16(ip + 4, (unsigned)l4);
		ip[6] = tcp_flags >= 0 ? 6 : 17;
		ip[7] = 64;
		memcpy(ip + 8, src->a, 16);
		memcpy(ip + 24, dst->a, 16);
	}
	put16(th, src->port);
	put16(th + 2, dst->port);
	if (tcp_flags >= 0) {
		th[12] = 5 << 4;
		th[13] = (uint8_t)tcp_flags;
		put16(th + 14, 65535);
	} else {
		put16(th + 4, 8);
	}
	le32(rec, (uint32_t)(w->now_ns / 1000000000ull));
	le32(rec + 4, (uint32_t)(w->now_ns % 1000000000ull));
	le32(rec + 8, (uint32_t)len);
	le32(rec + 12, (uint32_t)len);
	if (fwrite(rec, sizeof(rec), 1, w->out) != 1 || fwrite(f, len, 1, w->out) != 1)
		return -1;
	w->now_ns += STEP_NS;
	w->packets++;
	return 0;
}

static int emit_flood(struct writer *w, uint64_t i)
{
	uint32_t j = (uint32_t)(i / 4);
	uint16_t port = (uint16_t)(1024 + j % 60000);
	struct endpoint s, d;

	switch (i % 4) {
	case 0:
		s = v4(0x0a080002, port);               /* 10.8.0.2 */
		d = v4(0x64400000 + j, 53);              /* 100.64.0.0 + j */
		return emit(w, 4, IF_WG0, PKT_OUTGOING, &s, &d, -1);
	case 1:
		s = v4(0x0a400000 + j, port);            /* 10.64.0.0 + j */
		d = v4(0xc0a8010a, 80);                  /* 192.168.1.10 */
		return emit(w, 4, IF_ETH0, PKT_HOST, &s, &d, TCP_SYN);
	case 2:
		s = v6("\xfd\0\0\0\0\0\0\0\0\0\0\0", 0x10000 + j, port);
		d = v6("\xfd\0\xff\xff\0\0\0\0\0\0\0\0", j, 53);
		return emit(w, 6, IF_WG0, PKT_OUTGOING, &s, &d, -1);
	default:
		s = v6("\x20\x01\x0d\xb8\xff\xff\0\0\0\0\0\0", j, port);
		d = v6("\x20\x01\x0d\xb8\0\x01\0\0\0\0\0\0", 0x10, 443);
		return emit(w, 6, IF_ETH0, PKT_HOST, &s, &d, TCP_SYN);
	}
}

/* The k-th packet of long-lived flow which (0, 1, 2). */
static int emit_long(struct writer *w, int which, uint64_t k)
{
	struct endpoint local, peer;

	switch (which) {
	case 0:
		local = v4(0x0a080002, 62000);           /* 10.8.0.2 */
		peer = v4(0x5db8d822, 443);              /* 93.184.216.34 */
		if (k == 0)
			return emit(w, 4, IF_WG0, PKT_OUTGOING, &local, &peer, TCP_SYN);
		if (k % 2)
			return emit(w, 4, IF_WG0, PKT_HOST, &peer, &local, TCP_ACK);
		return emit(w, 4, IF_WG0, PKT_OUTGOING, &local, &peer, TCP_ACK);
	case 1:
		local = v4(0xc0a8010a, 51820);           /* 192.168.1.10 */
		peer = v4(0xc6336407, 51820);            /* 198.51.100.7 */
		if (k % 2)
			return emit(w, 4, IF_ETH0, PKT_HOST, &peer, &local, -1);
		return emit(w, 4, IF_ETH0, PKT_OUTGOING, &local, &peer, -1);
	default:
		peer = v4(0xcb007109, 63000);            /* 203.0.113.9 */
		local = v4(0xc0a8010a, 22);
		return emit(w, 4, IF_ETH0, PKT_HOST, &peer, &local, TCP_SYN);
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: gen_flood [-n COUNT] [-e EVERY] FILE|-\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct writer w = { .now_ns = START_SEC * 1000000000ull };
	uint64_t count = 2000000, every = 256, nlong[3] = { 0 };
	uint8_t hdr[24];
	static char buf[1 << 20];
	int c;

	while ((c = getopt(argc, argv, "n:e:")) != -1) {
		switch (c) {
		case 'n': count = strtoull(optarg, NULL, 10); break;
		case 'e': every = strtoull(optarg, NULL, 10); break;
		default: usage();
		}
	}
	if (optind != argc - 1 || every == 0 || count > 4000000)
		usage();
	w.out = strcmp(argv[optind], "-") ? fopen(argv[optind], "wb") : stdout;
	if (!w.out) {
		perror(argv[optind]);
		return 1;
	}
	setvbuf(w.out, buf, _IOFBF, sizeof(buf));
	le32(hdr, 0xa1b23c4d);                       /* nanosecond pcap */
	hdr[4] = 2; hdr[5] = 0; hdr[6] = 4; hdr[7] = 0;  /* version 2.4 */
	memset(hdr + 8, 0, 8);
	le32(hdr + 16, 262144);
	le32(hdr + 20, LINKTYPE_LINUX_SLL2);
	if (fwrite(hdr, sizeof(hdr), 1, w.out) != 1)
		goto fail;
	for (uint64_t i = 0; i < count; i++) {
		if (emit_flood(&w, i) < 0)
			goto fail;
		if ((i + 1) % every == 0) {
			uint64_t n = (i + 1) / every - 1;
			int which = (int)(n % 3);
			if (emit_long(&w, which, nlong[which]++) < 0)
				goto fail;
		}
	}
	if (fclose(w.out) != 0)
		goto fail;
	for (int k = 0; k < 3; k++)
		fprintf(stderr, "long L%d %llu\n", k + 1, (unsigned long long)nlong[k]);
	return 0;
fail:
	perror("gen_flood: write");
	return 1;
}
