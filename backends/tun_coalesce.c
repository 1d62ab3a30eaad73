/* Merging a run of UDP datagrams into one USO packet (see tun_coalesce.h). */
#include <netinet/in.h>
#include <string.h>

#include "backends/tun_coalesce.h"

#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4 5  /* Linux 6.2 (older uapi headers lack it) */
#endif
#define UDP_HEADER_LEN 8
#define UDP_CHECK_OFFSET 6

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint32_t sum_words(uint32_t sum, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += get16(p + i);
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* The sum a checksum offload starts from: the pseudo header of a UDP
 * datagram of udp_len bytes in the IP packet at ip (header of l3 bytes). */
static uint16_t pseudo_header_sum(const uint8_t *ip, size_t l3, size_t udp_len)
{
	uint32_t sum = l3 == 20 ? sum_words(0, ip + 12, 8) : sum_words(0, ip + 8, 32);

	return fold(sum + IPPROTO_UDP + (uint32_t)udp_len);
}

/* The IP header length of a datagram that may be merged (len bytes of IP
 * packet after the header hdr), 0 when it may not; *payload gets its UDP
 * payload length. Its checksum field must hold what the stack leaves for
 * the device to complete (the pseudo header's sum), which is what the
 * merged packet gets and segmentation adjusts for each piece. */
static size_t mergeable(const struct virtio_net_hdr *hdr, const uint8_t *ip, size_t len,
			size_t *payload)
{
	size_t l3;

	if (hdr->flags != VIRTIO_NET_HDR_F_NEEDS_CSUM || hdr->gso_type != VIRTIO_NET_HDR_GSO_NONE)
		return 0;
	if (len >= 20 && ip[0] == 0x45) {
		/* No options, not a fragment (MF clear, offset 0). */
		if (get16(ip + 2) != len || (get16(ip + 6) & 0x3fff) || ip[9] != IPPROTO_UDP)
			return 0;
		l3 = 20;
	} else if (len >= 40 && ip[0] >> 4 == 6) {
		if ((size_t)get16(ip + 4) + 40 != len || ip[6] != IPPROTO_UDP)
			return 0;
		l3 = 40;
	} else {
		return 0;
	}
	if (len <= l3 + UDP_HEADER_LEN || get16(ip + l3 + 4) != len - l3 ||
	    hdr->csum_start != l3 || hdr->csum_offset != UDP_CHECK_OFFSET ||
	    get16(ip + l3 + UDP_CHECK_OFFSET) != pseudo_header_sum(ip, l3, len - l3))
		return 0;
	*payload = len - l3 - UDP_HEADER_LEN;
	return l3;
}

/* Whether the datagram at ip (IP header of l3 bytes) continues the run
 * whose first datagram is at first, as datagram number count (from 0):
 * every header field equal but the lengths and checksums, and for IPv4
 * the next identifier, which is what segmentation will give it. */
static bool continues(const uint8_t *first, const uint8_t *ip, size_t l3, unsigned count)
{
	if (l3 == 20) {
		if (memcmp(first, ip, 2) || memcmp(first + 6, ip + 6, 4) ||
		    memcmp(first + 12, ip + 12, 8) ||
		    get16(ip + 4) != (uint16_t)(get16(first + 4) + count))
			return false;
	} else if (memcmp(first, ip, 4) || memcmp(first + 6, ip + 6, 34)) {
		return false;
	}
	return !memcmp(first + l3, ip + l3, 4); /* the ports */
}

void udp_coalesce_reset(struct udp_coalesce *c)
{
	c->len = 0;
	c->count = 0;
	c->l3_len = 0;
	c->segment = 0;
	c->closed = false;
}

bool udp_coalesce_add(struct udp_coalesce *c, const uint8_t *frame, size_t len)
{
	const uint8_t *ip = frame + TUN_VNET_HDR_LEN;
	const uint8_t *first = c->frame + TUN_VNET_HDR_LEN;
	struct virtio_net_hdr hdr;
	size_t l3, payload;

	if (len <= TUN_VNET_HDR_LEN || len > sizeof(c->frame))
		return false;
	memcpy(&hdr, frame, sizeof(hdr));
	l3 = mergeable(&hdr, ip, len - TUN_VNET_HDR_LEN, &payload);
	if (!l3)
		return false;
	if (!c->count) {
		memcpy(c->frame, frame, len);
		c->len = len;
		c->count = 1;
		c->l3_len = l3;
		c->segment = payload;
		c->closed = false;
		return true;
	}
	/* The IP length field bounds the merged packet: IPv4's counts the
	 * header, IPv6's does not. */
	if (c->closed || l3 != c->l3_len || payload > c->segment ||
	    c->count >= UDP_COALESCE_MAX_DATAGRAMS ||
	    c->len - TUN_VNET_HDR_LEN - (l3 == 40 ? 40 : 0) + payload > 65535 ||
	    !continues(first, ip, l3, c->count))
		return false;
	memcpy(c->frame + c->len, ip + l3 + UDP_HEADER_LEN, payload);
	c->len += payload;
	c->count++;
	/* Segmentation cuts equal pieces: only the last may be shorter. */
	c->closed = payload < c->segment;
	return true;
}

size_t udp_coalesce_finish(struct udp_coalesce *c)
{
	uint8_t *ip = c->frame + TUN_VNET_HDR_LEN;
	size_t l3 = c->l3_len, ip_len = c->len - TUN_VNET_HDR_LEN;
	uint8_t *udp = ip + l3;
	struct virtio_net_hdr hdr;

	if (c->count < 2)
		return c->len; /* one datagram: exactly as read */

	if (l3 == 20) {
		put16(ip + 2, (uint16_t)ip_len);
		put16(ip + 10, 0);
		put16(ip + 10, (uint16_t)~fold(sum_words(0, ip, 20)));
	} else {
		put16(ip + 4, (uint16_t)(ip_len - 40));
	}
	put16(udp + 4, (uint16_t)(ip_len - l3));
	put16(udp + UDP_CHECK_OFFSET, pseudo_header_sum(ip, l3, ip_len - l3));

	memcpy(&hdr, c->frame, sizeof(hdr));
	hdr.gso_type = VIRTIO_NET_HDR_GSO_UDP_L4;
	hdr.gso_size = (uint16_t)c->segment;
	hdr.hdr_len = (uint16_t)(l3 + UDP_HEADER_LEN);
	memcpy(c->frame, &hdr, sizeof(hdr));
	return c->len;
}
