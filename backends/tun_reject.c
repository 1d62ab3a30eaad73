/* The answers of 'reject' for a userspace packet path: TCP RST, ICMP and
 * ICMPv6 "administratively prohibited", built from the offending packet. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "backends/tun.h"

#define ICMP_UNREACH 3
#define ICMP_CODE_ADMIN_PROHIBITED 13
#define ICMP6_UNREACH 1
#define ICMP6_CODE_ADMIN_PROHIBITED 1
#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10
/* RFC 1812 4.3.2.3: an ICMPv4 error is at most 576 bytes. */
#define ICMP4_MAX 576

/* Where the transport header of a packet is. */
struct l4_view {
	unsigned family;
	size_t l3_len;        /* header length before the transport header */
	size_t end;           /* bytes of the packet actually present */
	uint8_t proto;
	const uint8_t *src, *dst;
};

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static uint32_t sum_bytes(uint32_t sum, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += get16(p + i);
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	return sum;
}

static uint16_t sum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Finds the transport header; false for what gets no answer: malformed,
 * non-first fragments. */
static bool l4_find(const uint8_t *pkt, size_t len, struct l4_view *v)
{
	if (len < 1)
		return false;
	v->family = pkt[0] >> 4;
	if (v->family == 4) {
		size_t ihl, total;

		if (len < 20)
			return false;
		ihl = (size_t)(pkt[0] & 0x0f) * 4;
		total = get16(pkt + 2);
		if (ihl < 20 || total < ihl || len < ihl)
			return false;
		if (get16(pkt + 6) & 0x1fff)
			return false; /* non-first fragment */
		v->l3_len = ihl;
		v->end = total < len ? total : len;
		v->proto = pkt[9];
		v->src = pkt + 12;
		v->dst = pkt + 16;
		return true;
	}
	if (v->family == 6) {
		size_t off = 40, total;
		uint8_t next;

		if (len < 40)
			return false;
		total = 40 + (size_t)get16(pkt + 4);
		next = pkt[6];
		for (;;) {
			if (next == 0 || next == 43 || next == 60) {
				if (off + 2 > len)
					return false;
				next = pkt[off];
				off += ((size_t)pkt[off + 1] + 1) * 8;
			} else if (next == 44) {
				if (off + 8 > len)
					return false;
				if (get16(pkt + off + 2) & 0xfff8)
					return false; /* non-first fragment */
				next = pkt[off];
				off += 8;
			} else if (next == 51) { /* AH counts in 4-byte units */
				if (off + 2 > len)
					return false;
				next = pkt[off];
				off += ((size_t)pkt[off + 1] + 2) * 4;
			} else {
				break;
			}
		}
		if (off > len)
			return false;
		v->l3_len = off;
		v->end = total < len ? total : len;
		if (v->end < off)
			return false;
		v->proto = next;
		v->src = pkt + 8;
		v->dst = pkt + 24;
		return true;
	}
	return false;
}

/* Whether the sender or the target is one no answer should go to or come
 * from: unspecified, multicast, broadcast. */
static bool endpoints_answerable(const struct l4_view *v)
{
	if (v->family == 4) {
		static const uint8_t zero[4], bcast[4] = { 255, 255, 255, 255 };

		if (!memcmp(v->src, zero, 4) || !memcmp(v->src, bcast, 4) ||
		    !memcmp(v->dst, bcast, 4))
			return false;
		return (v->src[0] & 0xf0) != 0xe0 && (v->dst[0] & 0xf0) != 0xe0;
	}
	static const uint8_t zero6[16];

	if (!memcmp(v->src, zero6, 16))
		return false;
	return v->src[0] != 0xff && v->dst[0] != 0xff;
}

/* Writes the IP header of an answer from the original target back to its
 * sender; returns its length. */
static size_t put_ip_header(uint8_t *out, const struct l4_view *v,
			    uint8_t proto, size_t payload_len)
{
	if (v->family == 4) {
		memset(out, 0, 20);
		out[0] = 0x45;
		put16(out + 2, (uint16_t)(20 + payload_len));
		put16(out + 6, 0x4000); /* DF */
		out[8] = 64;
		out[9] = proto;
		memcpy(out + 12, v->dst, 4);
		memcpy(out + 16, v->src, 4);
		put16(out + 10, sum_fold(sum_bytes(0, out, 20)));
		return 20;
	}
	memset(out, 0, 40);
	out[0] = 0x60;
	put16(out + 4, (uint16_t)payload_len);
	out[6] = proto;
	out[7] = 64;
	memcpy(out + 8, v->dst, 16);
	memcpy(out + 24, v->src, 16);
	return 40;
}

/* Checksum of a transport segment with the pseudo header of the answer's
 * IP header at ip. */
static uint16_t transport_checksum(const uint8_t *ip, unsigned family,
				   uint8_t proto, const uint8_t *seg, size_t n)
{
	uint32_t sum = 0;

	if (family == 4)
		sum = sum_bytes(sum, ip + 12, 8);
	else
		sum = sum_bytes(sum, ip + 8, 32);
	sum += proto;
	sum += (uint32_t)n;
	return sum_fold(sum_bytes(sum, seg, n));
}

static size_t build_rst(const uint8_t *pkt, const struct l4_view *v,
			uint8_t *out)
{
	const uint8_t *tcp = pkt + v->l3_len;
	size_t hdr, payload, ip_len;
	uint8_t flags;
	uint8_t *seg;

	if (v->end < v->l3_len + 20)
		return 0;
	flags = tcp[13];
	if (flags & TCP_RST)
		return 0;
	hdr = (size_t)(tcp[12] >> 4) * 4;
	payload = v->end - v->l3_len > hdr ? v->end - v->l3_len - hdr : 0;

	ip_len = put_ip_header(out, v, IPPROTO_TCP, 20);
	seg = out + ip_len;
	memset(seg, 0, 20);
	memcpy(seg, tcp + 2, 2);     /* source port: the original target's */
	memcpy(seg + 2, tcp, 2);
	if (flags & TCP_ACK) {
		/* RFC 9293 3.10.7.1: the RST takes the sequence number the
		 * sender expects next, so it is accepted. */
		memcpy(seg + 4, tcp + 8, 4);
		seg[13] = TCP_RST;
	} else {
		uint32_t ack = get32(tcp + 4) + (uint32_t)payload +
			       !!(flags & TCP_SYN) + !!(flags & TCP_FIN);

		put32(seg + 8, ack);
		seg[13] = TCP_RST | TCP_ACK;
	}
	seg[12] = 5 << 4;
	put16(seg + 16, transport_checksum(out, v->family, IPPROTO_TCP, seg, 20));
	return ip_len + 20;
}

static size_t build_unreachable(const uint8_t *pkt, const struct l4_view *v,
				uint8_t *out)
{
	size_t max = v->family == 4 ? ICMP4_MAX : TUN_REJECT_MAX;
	size_t ip_len = v->family == 4 ? 20 : 40;
	size_t quoted = v->end;
	uint8_t proto = v->family == 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6;
	uint8_t *icmp;

	if (v->proto == proto && v->end >= v->l3_len + 1) {
		uint8_t type = pkt[v->l3_len];
		bool error = v->family == 4 ? (type == 3 || type == 4 || type == 5 ||
					       type == 11 || type == 12)
					    : type < 128;

		if (error)
			return 0; /* never answer an error with an error */
	}
	if (ip_len + 8 + quoted > max)
		quoted = max - ip_len - 8;
	put_ip_header(out, v, proto, 8 + quoted);
	icmp = out + ip_len;
	memset(icmp, 0, 8);
	icmp[0] = v->family == 4 ? ICMP_UNREACH : ICMP6_UNREACH;
	icmp[1] = v->family == 4 ? ICMP_CODE_ADMIN_PROHIBITED : ICMP6_CODE_ADMIN_PROHIBITED;
	memcpy(icmp + 8, pkt, quoted);
	if (v->family == 4)
		put16(icmp + 2, sum_fold(sum_bytes(0, icmp, 8 + quoted)));
	else
		put16(icmp + 2, transport_checksum(out, 6, proto, icmp, 8 + quoted));
	return ip_len + 8 + quoted;
}

size_t tun_reject_build(const uint8_t *pkt, size_t len, uint8_t *out, size_t size)
{
	struct l4_view v;

	if (size < TUN_REJECT_MAX || !l4_find(pkt, len, &v) ||
	    !endpoints_answerable(&v))
		return 0;
	if (v.proto == IPPROTO_TCP)
		return build_rst(pkt, &v, out);
	return build_unreachable(pkt, &v, out);
}
