/* Packet decoding: raw IPv4/IPv6 bytes into the layer 3/4 fields of a
 * struct packet. Every read is bounded by the end of the IP packet, which is
 * the smaller of the captured length and the length the IP header claims
 * (a capture shorter than the header claims is DECODE_TRUNCATED). */
#include "filter/engine.h"

#include <string.h>

enum {
	PROTO_HOPOPTS = 0,
	PROTO_ICMP = 1,
	PROTO_TCP = 6,
	PROTO_UDP = 17,
	PROTO_ROUTING = 43,
	PROTO_FRAGMENT = 44,
	PROTO_ESP = 50,
	PROTO_AH = 51,
	PROTO_ICMPV6 = 58,
	PROTO_NONE = 59,
	PROTO_DSTOPTS = 60,
	PROTO_SCTP = 132,
	PROTO_UDPLITE = 136,
};

/* More IPv6 extension headers than this is treated as malformed: it bounds
 * the work per packet (the kernel and pf bound it too). */
#define MAX_IPV6_EXT_HEADERS 16

static uint16_t get16(const uint8_t *b)
{
	return (uint16_t)(b[0] << 8 | b[1]);
}

static uint32_t get32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
	       (uint32_t)b[2] << 8 | (uint32_t)b[3];
}

/* Decodes the transport header at l4 (n bytes up to the end of the IP
 * packet). Protocols without a decoder leave ports and icmp unset. */
static enum decode_status decode_ipv4(const uint8_t *data, size_t len,
				      struct packet *p, bool inner);
static enum decode_status decode_ipv6(const uint8_t *data, size_t len,
				      struct packet *p, bool inner);

static bool is_icmp_error(const struct packet *p)
{
	if (p->family == 6) /* unreach, too big, time exceeded, param problem */
		return p->icmp_type >= 1 && p->icmp_type <= 4;
	/* unreach, source quench, redirect, time exceeded, param problem */
	return p->icmp_type == 3 || p->icmp_type == 4 || p->icmp_type == 5 ||
	       p->icmp_type == 11 || p->icmp_type == 12;
}

/* The packet an ICMP error quotes: as much of it as the error carries.
 * Anything unreadable just leaves has_inner false. */
static void decode_quoted(const uint8_t *data, size_t len, struct packet *p)
{
	struct packet q;
	enum decode_status st;

	if (len < 1 || (data[0] >> 4) != p->family)
		return;
	memset(&q, 0, sizeof(q));
	st = p->family == 4 ? decode_ipv4(data, len, &q, true)
			    : decode_ipv6(data, len, &q, true);
	if (st != DECODE_OK)
		return;
	p->has_inner = true;
	p->inner.proto = q.proto;
	p->inner.src = q.src;
	p->inner.dst = q.dst;
	p->inner.has_ports = q.has_ports;
	p->inner.sport = q.sport;
	p->inner.dport = q.dport;
	p->inner.has_icmp = q.has_icmp;
	p->inner.icmp_type = q.icmp_type;
	p->inner.icmp_id = q.icmp_id;
}

/* Decodes the transport header at l4 (n bytes up to the end of the IP
 * packet). Protocols without a decoder leave ports and icmp unset. A quoted
 * packet (inner) is cut short by design: only the ports are needed (the
 * first 4 bytes) and what is missing is simply not known. */
static enum decode_status decode_transport(const uint8_t *l4, size_t n,
					   struct packet *p, bool inner)
{
	if (inner) {
		switch (p->proto) {
		case PROTO_TCP:
		case PROTO_UDP:
		case PROTO_UDPLITE:
		case PROTO_SCTP:
			if (n >= 4) {
				p->has_ports = true;
				p->sport = get16(l4);
				p->dport = get16(l4 + 2);
			}
			return DECODE_OK;
		case PROTO_ICMP:
		case PROTO_ICMPV6:
			if ((p->proto == PROTO_ICMPV6) == (p->family == 6) && n >= 8) {
				p->has_icmp = true;
				p->icmp_type = l4[0];
				p->icmp_code = l4[1];
				p->icmp_id = get16(l4 + 4);
			}
			return DECODE_OK;
		default:
			return DECODE_OK;
		}
	}
	switch (p->proto) {
	case PROTO_TCP: {
		size_t hlen;

		if (n < 20)
			return DECODE_TRUNCATED;
		hlen = (size_t)(l4[12] >> 4) * 4;
		if (hlen < 20)
			return DECODE_MALFORMED;
		if (hlen > n)
			return DECODE_TRUNCATED;
		p->has_ports = true;
		p->sport = get16(l4);
		p->dport = get16(l4 + 2);
		p->tcp_flags = l4[13];
		return DECODE_OK;
	}
	case PROTO_UDP:
	case PROTO_UDPLITE:
		if (n < 8)
			return DECODE_TRUNCATED;
		/* UDP's length covers the whole datagram, so it can only be
		 * checked against an unfragmented packet. UDP-Lite's field is
		 * the checksum coverage, not a length. */
		if (p->proto == PROTO_UDP && !p->fragment) {
			uint16_t ulen = get16(l4 + 4);
			/* 0 is legal for IPv6 jumbograms only; be lenient. */
			if (ulen != 0 && ulen < 8)
				return DECODE_MALFORMED;
			if (ulen > n)
				return DECODE_TRUNCATED;
		}
		p->has_ports = true;
		p->sport = get16(l4);
		p->dport = get16(l4 + 2);
		return DECODE_OK;
	case PROTO_SCTP:
		if (n < 12)
			return DECODE_TRUNCATED;
		p->has_ports = true;
		p->sport = get16(l4);
		p->dport = get16(l4 + 2);
		return DECODE_OK;
	case PROTO_ICMP:
	case PROTO_ICMPV6: {
		bool v6 = p->proto == PROTO_ICMPV6;

		/* ICMP within the other family is just another protocol. */
		if (v6 != (p->family == 6))
			return DECODE_OK;
		if (n < 8)
			return DECODE_TRUNCATED;
		p->has_icmp = true;
		p->icmp_type = l4[0];
		p->icmp_code = l4[1];
		if (v6 ? (l4[0] == 128 || l4[0] == 129)
		       : (l4[0] == 8 || l4[0] == 0))
			p->icmp_id = get16(l4 + 4);
		if (is_icmp_error(p))
			decode_quoted(l4 + 8, n - 8, p);
		return DECODE_OK;
	}
	default:
		return DECODE_OK;
	}
}

/* Walks IPv4 options: each must fit in the header. */
static bool ipv4_options_valid(const uint8_t *opt, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t type = opt[i];

		if (type == 0) /* end of options */
			return true;
		if (type == 1) { /* no-op */
			i++;
			continue;
		}
		if (i + 1 >= n || opt[i + 1] < 2 || opt[i + 1] > n - i)
			return false;
		i += opt[i + 1];
	}
	return true;
}

/* inner: a packet quoted by an ICMP error, usually cut short: its total
 * length is clamped to what is there. */
static enum decode_status decode_ipv4(const uint8_t *data, size_t len,
				      struct packet *p, bool inner)
{
	size_t ihl, total;
	uint16_t frag;

	if (len < 20)
		return DECODE_TRUNCATED;
	ihl = (size_t)(data[0] & 0x0f) * 4;
	if (ihl < 20)
		return DECODE_MALFORMED;
	if (ihl > len)
		return DECODE_TRUNCATED;
	total = get16(data + 2);
	if (total < ihl)
		return DECODE_MALFORMED;
	if (total > len) {
		if (!inner)
			return DECODE_TRUNCATED;
		total = len;
	}
	if (!ipv4_options_valid(data + 20, ihl - 20))
		return DECODE_MALFORMED;

	p->family = 4;
	p->len = (uint32_t)total;
	p->proto = data[9];
	p->src.family = p->dst.family = 4;
	memcpy(p->src.a, data + 12, 4);
	memcpy(p->dst.a, data + 16, 4);

	frag = get16(data + 6);
	if (frag & 0x3fff) { /* MF or an offset */
		p->fragment = true;
		p->first_fragment = (frag & 0x1fff) == 0;
		p->frag_id = get16(data + 4);
		/* A TCP fragment at offset 8 can only rewrite the TCP header
		 * of the first one (RFC 1858 3.2): never legitimate. */
		if ((frag & 0x1fff) == 1 && p->proto == PROTO_TCP && !inner)
			return DECODE_MALFORMED;
		if (!p->first_fragment)
			return DECODE_OK;
	}
	return decode_transport(data + ihl, total - ihl, p, inner);
}

static enum decode_status decode_ipv6(const uint8_t *data, size_t len,
				      struct packet *p, bool inner)
{
	size_t end, off = 40;
	uint8_t next;
	bool first_header = true;

	if (len < 40)
		return DECODE_TRUNCATED;
	end = 40 + (size_t)get16(data + 4);
	if (end > len) {
		if (!inner)
			return DECODE_TRUNCATED;
		end = len;
	}

	p->family = 6;
	p->len = (uint32_t)end;
	p->src.family = p->dst.family = 6;
	memcpy(p->src.a, data + 8, 16);
	memcpy(p->dst.a, data + 24, 16);
	next = data[6];

	for (int n = 0;; n++, first_header = false) {
		const uint8_t *h = data + off;
		size_t hlen;

		if (n > MAX_IPV6_EXT_HEADERS)
			return DECODE_MALFORMED;
		switch (next) {
		case PROTO_HOPOPTS:
			if (!first_header) /* RFC 8200 4.1: only first */
				return DECODE_MALFORMED;
			/* fall through */
		case PROTO_ROUTING:
		case PROTO_DSTOPTS:
			if (end - off < 2)
				return DECODE_TRUNCATED;
			hlen = ((size_t)h[1] + 1) * 8;
			break;
		case PROTO_AH:
			if (end - off < 2)
				return DECODE_TRUNCATED;
			hlen = ((size_t)h[1] + 2) * 4;
			break;
		case PROTO_FRAGMENT: {
			uint16_t offset_flags;

			if (end - off < 8)
				return DECODE_TRUNCATED;
			hlen = 8;
			offset_flags = get16(h + 2);
			/* An atomic fragment (offset 0, no M) is a whole
			 * packet (RFC 6946): decode it as unfragmented. */
			if (offset_flags & 0xfff9) {
				if (p->fragment) /* two fragment headers */
					return DECODE_MALFORMED;
				p->fragment = true;
				p->first_fragment = (offset_flags & 0xfff8) == 0;
				p->frag_id = get32(h + 4);
				if (!p->first_fragment) {
					p->proto = h[0];
					return DECODE_OK;
				}
			}
			break;
		}
		default:
			/* Transport, ESP, no-next-header: the chain ends. */
			p->proto = next;
			if (next == PROTO_ESP || next == PROTO_NONE)
				return DECODE_OK;
			return decode_transport(h, end - off, p, inner);
		}
		if (hlen > end - off)
			return DECODE_TRUNCATED;
		next = h[0];
		off += hlen;
	}
}

enum decode_status packet_decode(const uint8_t *data, size_t len,
				 struct packet *p)
{
	p->family = 0;
	p->proto = 0;
	memset(&p->src, 0, sizeof(p->src));
	memset(&p->dst, 0, sizeof(p->dst));
	p->len = 0;
	p->fragment = p->first_fragment = false;
	p->frag_id = 0;
	p->has_ports = false;
	p->sport = p->dport = 0;
	p->has_icmp = false;
	p->icmp_type = p->icmp_code = 0;
	p->icmp_id = 0;
	p->tcp_flags = 0;
	p->has_inner = false;
	memset(&p->inner, 0, sizeof(p->inner));

	if (!data || len == 0)
		return DECODE_TRUNCATED;
	switch (data[0] >> 4) {
	case 4:
		return decode_ipv4(data, len, p, false);
	case 6:
		return decode_ipv6(data, len, p, false);
	default:
		return DECODE_NOT_IP;
	}
}
