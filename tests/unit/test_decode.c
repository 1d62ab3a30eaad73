/* packet_decode on hand-built packets: IPv4 (options, fragments, bad
 * headers), IPv6 (extension header chains, fragments), every transport, and
 * every truncation of every valid packet (decoded from an exact-size heap
 * copy, so a sanitizer build catches any read past the end). */
#include <stdlib.h>

#include "filter/engine.h"
#include "tests/unit/testlib.h"

struct buf {
	uint8_t b[2048];
	size_t n;
};

static void put(struct buf *b, const void *data, size_t n)
{
	memcpy(b->b + b->n, data, n);
	b->n += n;
}

static void put8(struct buf *b, uint8_t v) { b->b[b->n++] = v; }
static void put16(struct buf *b, uint16_t v) { put8(b, (uint8_t)(v >> 8)); put8(b, (uint8_t)v); }
static void put32(struct buf *b, uint32_t v) { put16(b, (uint16_t)(v >> 16)); put16(b, (uint16_t)v); }
static void zeros(struct buf *b, size_t n) { memset(b->b + b->n, 0, n); b->n += n; }

static void set16(struct buf *b, size_t at, uint16_t v)
{
	b->b[at] = (uint8_t)(v >> 8);
	b->b[at + 1] = (uint8_t)v;
}

/* IPv4 header; total length is fixed up by v4_done(). */
static void v4(struct buf *b, uint8_t proto, uint16_t id, uint16_t frag,
	       const uint8_t *opts, size_t optlen)
{
	static const uint8_t src[4] = { 192, 0, 2, 1 }, dst[4] = { 198, 51, 100, 7 };
	b->n = 0;
	put8(b, (uint8_t)(0x40 | (5 + optlen / 4)));
	put8(b, 0);
	put16(b, 0);
	put16(b, id);
	put16(b, frag);
	put8(b, 64);
	put8(b, proto);
	put16(b, 0);
	put(b, src, 4);
	put(b, dst, 4);
	if (optlen)
		put(b, opts, optlen);
}

static void v4_done(struct buf *b) { set16(b, 2, (uint16_t)b->n); }

static void v6(struct buf *b, uint8_t next)
{
	static const uint8_t src[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	static const uint8_t dst[16] = { 0x20, 0x01, 0x0d, 0xb8, [14] = 0xab, [15] = 2 };
	b->n = 0;
	put32(b, 0x60000000);
	put16(b, 0);
	put8(b, next);
	put8(b, 64);
	put(b, src, 16);
	put(b, dst, 16);
}

static void v6_done(struct buf *b) { set16(b, 4, (uint16_t)(b->n - 40)); }

/* A generic 8-byte extension header (hop-by-hop, routing, dstopts). */
static void ext8(struct buf *b, uint8_t next)
{
	put8(b, next);
	put8(b, 0);
	if (1) { put8(b, 1); put8(b, 4); zeros(b, 4); } /* PadN */
}

static void tcp(struct buf *b, uint16_t sport, uint16_t dport, uint8_t flags)
{
	put16(b, sport);
	put16(b, dport);
	put32(b, 1000);
	put32(b, 0);
	put8(b, 5 << 4);
	put8(b, flags);
	put16(b, 65535);
	put32(b, 0);
}

static void udp(struct buf *b, uint16_t sport, uint16_t dport, size_t payload)
{
	put16(b, sport);
	put16(b, dport);
	put16(b, (uint16_t)(8 + payload));
	put16(b, 0);
	zeros(b, payload);
}

static void icmp_echo(struct buf *b, uint8_t type, uint16_t id)
{
	put8(b, type);
	put8(b, 0);
	put16(b, 0);
	put16(b, id);
	put16(b, 1);
	zeros(b, 8);
}

static enum decode_status decode(const struct buf *b, size_t n, struct packet *p)
{
	/* Exact-size heap copy: any overread is a sanitizer error. */
	uint8_t *copy = malloc(n ? n : 1);
	enum decode_status st;
	memcpy(copy, b->b, n);
	memset(p, 0, sizeof(*p));
	st = packet_decode(copy, n, p);
	free(copy);
	return st;
}

/* Every strict prefix of a valid packet fails to decode. */
static void check_truncations(const char *name, const struct buf *b)
{
	struct packet p;
	size_t bad = 0;
	char label[128];

	for (size_t n = 0; n < b->n; n++) {
		enum decode_status st = decode(b, n, &p);
		if (st == DECODE_OK) {
			if (!bad)
				fprintf(stderr, "%s: decoded OK at %zu of %zu bytes\n", name, n, b->n);
			bad++;
		}
	}
	snprintf(label, sizeof(label), "%s: every truncation rejected (%zu lengths)", name, b->n);
	CHECK(label, bad == 0);
	snprintf(label, sizeof(label), "%s: whole packet OK", name);
	CHECK(label, decode(b, b->n, &p) == DECODE_OK);
}

static void test_ipv4(void)
{
	struct buf b;
	struct packet p;

	v4(&b, 6, 0x1234, 0x4000 /* DF */, NULL, 0);
	tcp(&b, 40000, 443, 0x02);
	v4_done(&b);
	CHECK("v4 tcp ok", decode(&b, b.n, &p) == DECODE_OK);
	CHECK("v4 tcp family/proto", p.family == 4 && p.proto == 6 && p.len == 40);
	CHECK("v4 tcp addrs", p.src.family == 4 && p.src.a[0] == 192 && p.src.a[3] == 1 &&
	      p.dst.a[0] == 198 && p.dst.a[3] == 7 && p.src.a[4] == 0);
	CHECK("v4 tcp ports", p.has_ports && p.sport == 40000 && p.dport == 443);
	CHECK("v4 tcp flags", p.tcp_flags == 0x02);
	CHECK("v4 DF is not a fragment", !p.fragment && !p.has_icmp);
	check_truncations("v4 tcp", &b);

	/* Context fields survive decoding. */
	memset(&p, 0, sizeof(p));
	p.dir = DIR_OUT;
	strcpy(p.ifname, "wg0");
	p.has_mark = true;
	p.mark = 7;
	p.iftype = IFTYPE_TUNNEL;
	CHECK("v4 context kept", packet_decode(b.b, b.n, &p) == DECODE_OK &&
	      p.dir == DIR_OUT && strcmp(p.ifname, "wg0") == 0 && p.has_mark &&
	      p.mark == 7 && p.iftype == IFTYPE_TUNNEL);

	/* Ethernet padding after the packet is ignored. */
	struct buf padded = b;
	zeros(&padded, 6);
	CHECK("v4 padding ignored", decode(&padded, padded.n, &p) == DECODE_OK && p.len == 40);

	/* Options: record route style option + NOP + EOL, 8 bytes. */
	static const uint8_t opts[8] = { 1, 7, 6, 4, 0, 0, 0, 0 };
	v4(&b, 17, 1, 0, opts, sizeof(opts));
	udp(&b, 53, 33333, 20);
	v4_done(&b);
	CHECK("v4 options udp", decode(&b, b.n, &p) == DECODE_OK && p.proto == 17 &&
	      p.sport == 53 && p.dport == 33333 && p.has_ports);
	check_truncations("v4 options udp", &b);
	static const uint8_t badopts[4] = { 7, 9, 4, 0 }; /* length past the header */
	v4(&b, 17, 1, 0, badopts, sizeof(badopts));
	udp(&b, 53, 53, 0);
	v4_done(&b);
	CHECK("v4 bad option length malformed", decode(&b, b.n, &p) == DECODE_MALFORMED);
	static const uint8_t zerolen[4] = { 7, 0, 0, 0 };
	v4(&b, 17, 1, 0, zerolen, sizeof(zerolen));
	udp(&b, 53, 53, 0);
	v4_done(&b);
	CHECK("v4 zero option length malformed", decode(&b, b.n, &p) == DECODE_MALFORMED);

	/* Header checks. */
	v4(&b, 6, 1, 0, NULL, 0);
	tcp(&b, 1, 2, 0x10);
	v4_done(&b);
	b.b[0] = 0x44;
	CHECK("v4 IHL 4 malformed", decode(&b, b.n, &p) == DECODE_MALFORMED);
	b.b[0] = 0x4f;
	CHECK("v4 IHL past data truncated", decode(&b, 30, &p) == DECODE_TRUNCATED);
	b.b[0] = 0x45;
	set16(&b, 2, 19);
	CHECK("v4 total < IHL malformed", decode(&b, b.n, &p) == DECODE_MALFORMED);
	set16(&b, 2, 41);
	CHECK("v4 total > caplen truncated", decode(&b, b.n, &p) == DECODE_TRUNCATED);
	set16(&b, 2, 40);
	b.b[32] = 0x40; /* TCP data offset 4 */
	CHECK("v4 tcp doff 4 malformed", decode(&b, b.n, &p) == DECODE_MALFORMED);
	b.b[32] = 0x60; /* 24 bytes, only 20 present */
	CHECK("v4 tcp doff past end truncated", decode(&b, b.n, &p) == DECODE_TRUNCATED);
	b.b[0] = 0x55;
	CHECK("version 5 not ip", decode(&b, b.n, &p) == DECODE_NOT_IP);
	b.b[0] = 0x00;
	CHECK("version 0 not ip", decode(&b, b.n, &p) == DECODE_NOT_IP);
	CHECK("empty truncated", decode(&b, 0, &p) == DECODE_TRUNCATED);
	CHECK("NULL truncated", packet_decode(NULL, 0, &p) == DECODE_TRUNCATED);

	v4(&b, 17, 1, 0, NULL, 0);
	udp(&b, 1, 2, 4);
	v4_done(&b);
	set16(&b, 24, 13); /* UDP length beyond the IP packet */
	CHECK("v4 udp length past end truncated", decode(&b, b.n, &p) == DECODE_TRUNCATED);
	set16(&b, 24, 7);
	CHECK("v4 udp length < 8 malformed", decode(&b, b.n, &p) == DECODE_MALFORMED);

	/* ICMP. */
	v4(&b, 1, 1, 0, NULL, 0);
	icmp_echo(&b, 8, 0xbeef);
	v4_done(&b);
	CHECK("v4 icmp echo", decode(&b, b.n, &p) == DECODE_OK && p.has_icmp &&
	      p.icmp_type == 8 && p.icmp_code == 0 && p.icmp_id == 0xbeef && !p.has_ports);
	check_truncations("v4 icmp echo", &b);
	b.b[20] = 0;
	CHECK("v4 icmp echo reply id", decode(&b, b.n, &p) == DECODE_OK && p.icmp_type == 0 && p.icmp_id == 0xbeef);
	b.b[20] = 3;
	b.b[21] = 13;
	CHECK("v4 icmp unreach has no id", decode(&b, b.n, &p) == DECODE_OK && p.icmp_type == 3 &&
	      p.icmp_code == 13 && p.icmp_id == 0);

	/* ICMPv6 in IPv4 is just a protocol number. */
	v4(&b, 58, 1, 0, NULL, 0);
	icmp_echo(&b, 128, 1);
	v4_done(&b);
	CHECK("icmp6 inside v4 has no icmp", decode(&b, b.n, &p) == DECODE_OK && p.proto == 58 && !p.has_icmp);

	/* SCTP and UDP-Lite have ports; GRE has none. */
	v4(&b, 132, 1, 0, NULL, 0);
	put16(&b, 5000); put16(&b, 6000); put32(&b, 0); put32(&b, 0);
	v4_done(&b);
	CHECK("v4 sctp ports", decode(&b, b.n, &p) == DECODE_OK && p.has_ports && p.sport == 5000 && p.dport == 6000);
	check_truncations("v4 sctp", &b);
	v4(&b, 136, 1, 0, NULL, 0);
	put16(&b, 7000); put16(&b, 8000); put16(&b, 8); put16(&b, 0); zeros(&b, 30);
	v4_done(&b);
	CHECK("v4 udplite ports", decode(&b, b.n, &p) == DECODE_OK && p.has_ports && p.sport == 7000 && p.dport == 8000);
	v4(&b, 47, 1, 0, NULL, 0);
	zeros(&b, 4);
	v4_done(&b);
	CHECK("v4 gre no ports", decode(&b, b.n, &p) == DECODE_OK && p.proto == 47 && !p.has_ports);
	v4(&b, 6, 1, 0, NULL, 0);
	v4_done(&b);
	CHECK("v4 tcp without header truncated", decode(&b, b.n, &p) == DECODE_TRUNCATED);
}

static void test_ipv4_fragments(void)
{
	struct buf b;
	struct packet p;

	v4(&b, 17, 0xabcd, 0x2000 /* MF, offset 0 */, NULL, 0);
	udp(&b, 1234, 53, 1000);
	b.n = 20 + 32; /* the first fragment holds part of the datagram */
	v4_done(&b);
	CHECK("v4 first fragment", decode(&b, b.n, &p) == DECODE_OK && p.fragment &&
	      p.first_fragment && p.frag_id == 0xabcd && p.has_ports && p.dport == 53);
	check_truncations("v4 first fragment", &b);

	v4(&b, 17, 0xabcd, 0x2000 | 4, NULL, 0);
	zeros(&b, 32);
	v4_done(&b);
	CHECK("v4 middle fragment", decode(&b, b.n, &p) == DECODE_OK && p.fragment &&
	      !p.first_fragment && p.frag_id == 0xabcd && !p.has_ports && p.proto == 17 &&
	      p.sport == 0 && p.dport == 0);
	v4(&b, 17, 0xabcd, 8, NULL, 0); /* last: no MF */
	zeros(&b, 3);
	v4_done(&b);
	CHECK("v4 last fragment", decode(&b, b.n, &p) == DECODE_OK && p.fragment && !p.first_fragment);
	v4(&b, 1, 7, 0x2000 | 1, NULL, 0);
	zeros(&b, 8);
	v4_done(&b);
	CHECK("v4 non-first icmp fragment has no icmp", decode(&b, b.n, &p) == DECODE_OK && !p.has_icmp);

	v4(&b, 6, 9, 0x2000 | 1, NULL, 0);
	zeros(&b, 16);
	v4_done(&b);
	CHECK("v4 tcp fragment at offset 8 malformed (RFC 1858)", decode(&b, b.n, &p) == DECODE_MALFORMED);
	v4(&b, 6, 9, 0x2000 | 2, NULL, 0);
	zeros(&b, 16);
	v4_done(&b);
	CHECK("v4 tcp fragment at offset 16 ok", decode(&b, b.n, &p) == DECODE_OK && p.fragment && !p.has_ports);
	v4(&b, 17, 9, 0x2000 | 1, NULL, 0);
	zeros(&b, 16);
	v4_done(&b);
	CHECK("v4 udp fragment at offset 8 ok", decode(&b, b.n, &p) == DECODE_OK);

	/* A tiny first fragment that cuts the TCP header is not decodable. */
	v4(&b, 6, 9, 0x2000, NULL, 0);
	tcp(&b, 1, 22, 0x02);
	b.n = 20 + 8;
	v4_done(&b);
	CHECK("v4 tiny first fragment truncated", decode(&b, b.n, &p) == DECODE_TRUNCATED);
}

static void test_ipv6(void)
{
	struct buf b;
	struct packet p;

	v6(&b, 6);
	tcp(&b, 50000, 22, 0x12);
	v6_done(&b);
	CHECK("v6 tcp", decode(&b, b.n, &p) == DECODE_OK && p.family == 6 && p.proto == 6 &&
	      p.sport == 50000 && p.dport == 22 && p.tcp_flags == 0x12 && p.len == 60);
	CHECK("v6 addrs", p.src.family == 6 && p.src.a[0] == 0x20 && p.src.a[15] == 1 &&
	      p.dst.a[14] == 0xab && p.dst.a[15] == 2);
	check_truncations("v6 tcp", &b);
	set16(&b, 4, 21);
	CHECK("v6 payload > caplen truncated", decode(&b, b.n, &p) == DECODE_TRUNCATED);

	/* hop-by-hop, routing, destination options, then UDP. */
	v6(&b, 0);
	ext8(&b, 43);
	ext8(&b, 60);
	ext8(&b, 17);
	udp(&b, 546, 547, 12);
	v6_done(&b);
	CHECK("v6 ext chain udp", decode(&b, b.n, &p) == DECODE_OK && p.proto == 17 &&
	      p.sport == 546 && p.dport == 547 && !p.fragment);
	check_truncations("v6 ext chain udp", &b);

	/* Longer header: hdr ext len 1 = 16 bytes. */
	v6(&b, 60);
	put8(&b, 58); put8(&b, 1); put8(&b, 1); put8(&b, 12); zeros(&b, 12);
	icmp_echo(&b, 128, 0x4242);
	v6_done(&b);
	CHECK("v6 16-byte dstopts then icmp6 echo", decode(&b, b.n, &p) == DECODE_OK &&
	      p.proto == 58 && p.has_icmp && p.icmp_type == 128 && p.icmp_id == 0x4242);
	check_truncations("v6 dstopts icmp6", &b);

	v6(&b, 58);
	put8(&b, 135); put8(&b, 0); put16(&b, 0); put32(&b, 0); zeros(&b, 16);
	v6_done(&b);
	CHECK("v6 neighbor solicit", decode(&b, b.n, &p) == DECODE_OK && p.has_icmp &&
	      p.icmp_type == 135 && p.icmp_id == 0);

	/* ICMP (v4) inside IPv6 is just a protocol number. */
	v6(&b, 1);
	icmp_echo(&b, 8, 1);
	v6_done(&b);
	CHECK("icmp inside v6 has no icmp", decode(&b, b.n, &p) == DECODE_OK && p.proto == 1 && !p.has_icmp);

	/* hop-by-hop must come first. */
	v6(&b, 60);
	ext8(&b, 0);
	ext8(&b, 17);
	udp(&b, 1, 2, 0);
	v6_done(&b);
	CHECK("v6 late hop-by-hop malformed", decode(&b, b.n, &p) == DECODE_MALFORMED);

	/* The chain is bounded. */
	v6(&b, 60);
	for (int i = 0; i < 40; i++)
		ext8(&b, 60);
	ext8(&b, 17);
	udp(&b, 1, 2, 0);
	v6_done(&b);
	CHECK("v6 41 extension headers malformed", decode(&b, b.n, &p) == DECODE_MALFORMED);
	v6(&b, 60);
	for (int i = 0; i < 10; i++)
		ext8(&b, 60);
	ext8(&b, 17);
	udp(&b, 1, 2, 0);
	v6_done(&b);
	CHECK("v6 11 extension headers ok", decode(&b, b.n, &p) == DECODE_OK && p.dport == 2);

	/* AH (payload len 4 -> 24 bytes) then TCP. */
	v6(&b, 51);
	put8(&b, 6); put8(&b, 4); put16(&b, 0); put32(&b, 0x100); put32(&b, 1); zeros(&b, 12);
	tcp(&b, 1, 179, 0x02);
	v6_done(&b);
	CHECK("v6 ah then tcp", decode(&b, b.n, &p) == DECODE_OK && p.proto == 6 && p.dport == 179);
	check_truncations("v6 ah tcp", &b);

	v6(&b, 50);
	put32(&b, 0x100); put32(&b, 1); zeros(&b, 16);
	v6_done(&b);
	CHECK("v6 esp stops", decode(&b, b.n, &p) == DECODE_OK && p.proto == 50 && !p.has_ports);
	v6(&b, 60);
	ext8(&b, 59);
	v6_done(&b);
	CHECK("v6 no next header", decode(&b, b.n, &p) == DECODE_OK && p.proto == 59 && !p.has_ports);
	v6(&b, 17);
	v6_done(&b);
	CHECK("v6 udp without header truncated", decode(&b, b.n, &p) == DECODE_TRUNCATED);
}

static void test_ipv6_fragments(void)
{
	struct buf b;
	struct packet p;

	v6(&b, 44);
	put8(&b, 17); put8(&b, 0); put16(&b, 1 /* M */); put32(&b, 0xdeadbeef);
	udp(&b, 5353, 5353, 100);
	b.n -= 50;
	v6_done(&b);
	CHECK("v6 first fragment", decode(&b, b.n, &p) == DECODE_OK && p.fragment &&
	      p.first_fragment && p.frag_id == 0xdeadbeef && p.proto == 17 && p.has_ports &&
	      p.dport == 5353);
	check_truncations("v6 first fragment", &b);

	v6(&b, 0);
	ext8(&b, 44);
	put8(&b, 6); put8(&b, 0); put16(&b, (uint16_t)(100 << 3)); put32(&b, 77);
	zeros(&b, 24);
	v6_done(&b);
	CHECK("v6 last fragment", decode(&b, b.n, &p) == DECODE_OK && p.fragment &&
	      !p.first_fragment && p.frag_id == 77 && p.proto == 6 && !p.has_ports);

	v6(&b, 44);
	put8(&b, 58); put8(&b, 0); put16(&b, 0); put32(&b, 5);
	icmp_echo(&b, 129, 9);
	v6_done(&b);
	CHECK("v6 atomic fragment is whole", decode(&b, b.n, &p) == DECODE_OK && !p.fragment &&
	      p.has_icmp && p.icmp_type == 129 && p.icmp_id == 9);

	v6(&b, 44);
	put8(&b, 44); put8(&b, 0); put16(&b, 1); put32(&b, 5);
	put8(&b, 17); put8(&b, 0); put16(&b, 1); put32(&b, 6);
	udp(&b, 1, 2, 0);
	v6_done(&b);
	CHECK("v6 two fragment headers malformed", decode(&b, b.n, &p) == DECODE_MALFORMED);
}

/* ICMP errors carry the start of the packet that caused them. */
static void test_icmp_errors(void)
{
	struct buf b, inner;
	struct packet p;

	/* The quoted packet: UDP 192.0.2.1:5000 -> 198.51.100.7:51820, 1400
	 * bytes long, of which the error quotes the first 28. */
	v4(&inner, 17, 9, 0x4000, NULL, 0);
	udp(&inner, 5000, 51820, 1372);
	v4_done(&inner);
	inner.n = 28;

	v4(&b, 1, 1, 0, NULL, 0);
	put8(&b, 3); put8(&b, 4); put16(&b, 0); put16(&b, 0); put16(&b, 1380); /* frag needed */
	put(&b, inner.b, inner.n);
	v4_done(&b);
	CHECK("icmp frag-needed decodes", decode(&b, b.n, &p) == DECODE_OK && p.has_icmp &&
	      p.icmp_type == 3 && p.icmp_code == 4);
	CHECK("icmp error quotes its packet", p.has_inner && p.inner.proto == 17 &&
	      p.inner.src.a[0] == 192 && p.inner.dst.a[0] == 198 && p.inner.has_ports &&
	      p.inner.sport == 5000 && p.inner.dport == 51820);
	check_truncations("icmp error", &b);

	b.n -= 6; /* only 2 bytes of the UDP header quoted */
	v4_done(&b);
	CHECK("quote without ports", decode(&b, b.n, &p) == DECODE_OK && p.has_inner && !p.inner.has_ports);
	b.n -= 10; /* the quoted IP header cut */
	v4_done(&b);
	CHECK("quote without a whole header", decode(&b, b.n, &p) == DECODE_OK && p.has_icmp && !p.has_inner);

	v4(&b, 1, 1, 0, NULL, 0);
	icmp_echo(&b, 8, 5);
	v4_done(&b);
	CHECK("echo has no quote", decode(&b, b.n, &p) == DECODE_OK && !p.has_inner);

	/* ICMPv6 packet too big quoting a TCP segment behind a dstopts header. */
	struct buf in6;
	v6(&in6, 60);
	ext8(&in6, 6);
	tcp(&in6, 443, 40000, 0x10);
	zeros(&in6, 1000);
	v6_done(&in6);
	in6.n = 40 + 8 + 8;
	v6(&b, 58);
	put8(&b, 2); put8(&b, 0); put16(&b, 0); put32(&b, 1280);
	put(&b, in6.b, in6.n);
	v6_done(&b);
	CHECK("icmp6 too big quotes through extension headers", decode(&b, b.n, &p) == DECODE_OK &&
	      p.icmp_type == 2 && p.has_inner && p.inner.proto == 6 && p.inner.sport == 443 &&
	      p.inner.dport == 40000 && p.inner.src.family == 6);
	check_truncations("icmp6 error", &b);

	/* An ICMPv4 error cannot quote IPv6. */
	v4(&b, 1, 1, 0, NULL, 0);
	put8(&b, 3); put8(&b, 3); put16(&b, 0); put32(&b, 0);
	put(&b, in6.b, 40);
	v4_done(&b);
	CHECK("icmp error quoting another family", decode(&b, b.n, &p) == DECODE_OK && !p.has_inner);
}

/* Random bytes never crash the decoder, whatever they claim. */
static void test_random(void)
{
	struct buf b;
	struct packet p;
	unsigned seed = 12345, ok = 0, out_of_bounds = 0;

	for (int i = 0; i < 20000; i++) {
		b.n = (size_t)(rand_r(&seed) % 120);
		for (size_t j = 0; j < b.n; j++)
			b.b[j] = (uint8_t)rand_r(&seed);
		if (b.n)
			b.b[0] = (uint8_t)((i & 1 ? 0x40 : 0x60) | (b.b[0] & 0x0f));
		if (decode(&b, b.n, &p) == DECODE_OK) {
			ok++;
			if (p.len > b.n || (p.family != 4 && p.family != 6))
				out_of_bounds++;
		}
	}
	printf("# random: %u of 20000 decoded\n", ok);
	CHECK("random bytes: every decoded packet lies within the buffer", out_of_bounds == 0);
}

int main(void)
{
	test_ipv4();
	test_ipv4_fragments();
	test_ipv6();
	test_ipv6_fragments();
	test_icmp_errors();
	test_random();
	TEST_MAIN_END();
}
