/* udp_coalesce: which UDP datagrams merge into one USO packet, and that
 * cutting the packet as the kernel does (equal payload pieces, the IPv4
 * identifier counted up, lengths and the checksum's starting sum adjusted)
 * gives back exactly the datagrams that went in. */
#include <stdint.h>
#include <string.h>

#include "backends/tun_coalesce.h"
#include "tests/unit/testlib.h"

#define HDR TUN_VNET_HDR_LEN
#define GSO_UDP_L4 5

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static uint32_t sum16(uint32_t sum, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += get16(p + i);
	return sum;
}

/* What a stack leaves in the UDP checksum for a device that checksums. */
static uint16_t pseudo(const uint8_t *ip, size_t l3, size_t udp_len)
{
	uint32_t sum = l3 == 20 ? sum16(0, ip + 12, 8) : sum16(0, ip + 8, 32);

	return fold(sum + 17 + (uint32_t)udp_len);
}

struct dgram_spec {
	int family;
	uint16_t id;         /* IPv4 */
	uint16_t sport;
	size_t payload;
	uint8_t fill;
	uint8_t ttl;
};

/* A frame as ifw0 reads it: checksum left to do, no segmentation. */
static size_t dgram(uint8_t *f, const struct dgram_spec *s)
{
	size_t l3 = s->family == 4 ? 20 : 40, len = l3 + 8 + s->payload;
	uint8_t *ip = f + HDR, *udp = ip + l3;
	struct virtio_net_hdr h = {
		.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
		.gso_type = VIRTIO_NET_HDR_GSO_NONE,
		.csum_start = (uint16_t)l3,
		.csum_offset = 6,
	};

	memcpy(f, &h, sizeof(h));
	memset(ip, 0, len);
	if (s->family == 4) {
		ip[0] = 0x45;
		put16(ip + 2, (uint16_t)len);
		put16(ip + 4, s->id);
		put16(ip + 6, 0x4000); /* DF */
		ip[8] = s->ttl ? s->ttl : 64;
		ip[9] = 17;
		memcpy(ip + 12, (uint8_t[]){ 100, 64, 0, 2, 10, 9, 0, 2 }, 8);
		put16(ip + 10, (uint16_t)~fold(sum16(0, ip, 20)));
	} else {
		ip[0] = 0x60;
		put16(ip + 4, (uint16_t)(len - 40));
		ip[6] = 17;
		ip[7] = s->ttl ? s->ttl : 64;
		ip[8] = 0xfd; ip[23] = 2;
		ip[24] = 0x20; ip[25] = 0x01; ip[39] = 1;
	}
	put16(udp, s->sport ? s->sport : 40000);
	put16(udp + 2, 5201);
	put16(udp + 4, (uint16_t)(len - l3));
	memset(udp + 8, s->fill, s->payload);
	put16(udp + 6, pseudo(ip, l3, len - l3));
	return HDR + len;
}

/* Cuts a frame as the kernel cuts a USO packet; returns the number of
 * pieces written to out[i] (lengths in lens). */
static unsigned segment(const uint8_t *f, size_t len, uint8_t out[][HDR + 2048], size_t *lens)
{
	struct virtio_net_hdr h;
	const uint8_t *ip = f + HDR;
	size_t l3 = ip[0] == 0x45 ? 20 : 40, payload = len - HDR - l3 - 8, off = 0;
	unsigned n = 0;

	memcpy(&h, f, sizeof(h));
	if (h.gso_type != GSO_UDP_L4) {
		memcpy(out[0], f, len);
		lens[0] = len;
		return 1;
	}
	while (off < payload) {
		size_t piece = payload - off < h.gso_size ? payload - off : h.gso_size;
		uint8_t *o = out[n], *oip = o + HDR;
		struct virtio_net_hdr oh = h;

		oh.gso_type = VIRTIO_NET_HDR_GSO_NONE;
		oh.gso_size = 0;
		oh.hdr_len = 0;
		memcpy(o, &oh, sizeof(oh));
		memcpy(oip, ip, l3 + 8);
		memcpy(oip + l3 + 8, ip + l3 + 8 + off, piece);
		if (l3 == 20) {
			put16(oip + 2, (uint16_t)(l3 + 8 + piece));
			put16(oip + 4, (uint16_t)(get16(ip + 4) + n));
			put16(oip + 10, 0);
			put16(oip + 10, (uint16_t)~fold(sum16(0, oip, 20)));
		} else {
			put16(oip + 4, (uint16_t)(8 + piece));
		}
		put16(oip + l3 + 4, (uint16_t)(8 + piece));
		put16(oip + l3 + 6, pseudo(oip, l3, 8 + piece));
		lens[n++] = HDR + l3 + 8 + piece;
		off += piece;
	}
	return n;
}

static uint8_t frames[8][HDR + 2048];
static size_t frame_lens[8];
static uint8_t pieces[80][HDR + 2048];
static size_t piece_lens[80];
static struct udp_coalesce c;

/* Adds specs to an empty c; returns how many were taken before the first
 * refusal. */
static unsigned add_all(const struct dgram_spec *specs, unsigned n)
{
	unsigned taken = 0;

	udp_coalesce_reset(&c);
	for (unsigned i = 0; i < n; i++) {
		frame_lens[i] = dgram(frames[i], &specs[i]);
		if (!udp_coalesce_add(&c, frames[i], frame_lens[i]))
			break;
		taken++;
	}
	return taken;
}

/* The merged frame cut back gives the first n frames, byte for byte. */
static int round_trip(unsigned n)
{
	size_t len = udp_coalesce_finish(&c);
	unsigned got = segment(c.frame, len, pieces, piece_lens);

	if (got != n)
		return 0;
	for (unsigned i = 0; i < n; i++)
		if (piece_lens[i] != frame_lens[i] || memcmp(pieces[i], frames[i], frame_lens[i]))
			return 0;
	return 1;
}

static void test_merges(int family)
{
	char name[64];
	struct dgram_spec s[4];
	struct virtio_net_hdr h;
	const uint8_t *ip = c.frame + HDR;
	size_t l3 = family == 4 ? 20 : 40;

	for (int i = 0; i < 4; i++)
		s[i] = (struct dgram_spec){ .family = family, .id = (uint16_t)(0xfffe + i),
					    .payload = i == 3 ? 20 : 64, .fill = (uint8_t)i };
	snprintf(name, sizeof(name), "coalesce/v%d/four-taken", family);
	CHECK(name, add_all(s, 4) == 4 && c.count == 4);
	udp_coalesce_finish(&c);
	memcpy(&h, c.frame, sizeof(h));
	snprintf(name, sizeof(name), "coalesce/v%d/uso-header", family);
	CHECK(name, h.gso_type == GSO_UDP_L4 && h.gso_size == 64 && h.hdr_len == l3 + 8 &&
	      h.flags == VIRTIO_NET_HDR_F_NEEDS_CSUM && h.csum_start == l3 && h.csum_offset == 6);
	snprintf(name, sizeof(name), "coalesce/v%d/lengths", family);
	CHECK(name, c.len == HDR + l3 + 8 + 3 * 64 + 20 &&
	      get16(ip + l3 + 4) == 8 + 3 * 64 + 20 &&
	      (family == 4 ? get16(ip + 2) == l3 + 8 + 3 * 64 + 20 :
			     get16(ip + 4) == 8 + 3 * 64 + 20));
	if (family == 4) {
		CHECK("coalesce/v4/header-checksum", fold(sum16(0, ip, 20)) == 0xffff);
	}
	snprintf(name, sizeof(name), "coalesce/v%d/pseudo-header-sum", family);
	CHECK(name, get16(ip + l3 + 6) == pseudo(ip, l3, 8 + 3 * 64 + 20));
	add_all(s, 4);
	snprintf(name, sizeof(name), "coalesce/v%d/cut-back-identical", family);
	CHECK(name, round_trip(4));

	/* Nothing after a shorter one (pieces are cut equal). */
	s[0].payload = 64, s[1].payload = 30, s[2].payload = 30;
	snprintf(name, sizeof(name), "coalesce/v%d/closed-after-short", family);
	CHECK(name, add_all(s, 3) == 2);
	snprintf(name, sizeof(name), "coalesce/v%d/cut-back-short-last", family);
	CHECK(name, round_trip(2));
	/* Nothing longer than the first. */
	s[0].payload = 30, s[1].payload = 64;
	snprintf(name, sizeof(name), "coalesce/v%d/longer-refused", family);
	CHECK(name, add_all(s, 2) == 1);
	/* Other flow, other TTL. */
	s[0].payload = s[1].payload = 64;
	s[1].sport = 40001;
	snprintf(name, sizeof(name), "coalesce/v%d/other-port-refused", family);
	CHECK(name, add_all(s, 2) == 1);
	s[1].sport = 0;
	s[1].ttl = 63;
	snprintf(name, sizeof(name), "coalesce/v%d/other-ttl-refused", family);
	CHECK(name, add_all(s, 2) == 1);
	s[1].ttl = 0;

	/* One alone goes out exactly as read. */
	add_all(s, 1);
	snprintf(name, sizeof(name), "coalesce/v%d/single-unchanged", family);
	CHECK(name, udp_coalesce_finish(&c) == frame_lens[0] &&
	      !memcmp(c.frame, frames[0], frame_lens[0]));
}

static void test_refusals(void)
{
	struct dgram_spec s[2] = {
		{ .family = 4, .id = 7, .payload = 64 },
		{ .family = 4, .id = 9, .payload = 64 },
	};
	struct virtio_net_hdr h;

	CHECK("coalesce/v4/identifier-gap-refused", add_all(s, 2) == 1);
	s[1].id = 8;
	CHECK("coalesce/v4/next-identifier-taken", add_all(s, 2) == 2);

	/* A checksum already computed is never made up again. */
	udp_coalesce_reset(&c);
	frame_lens[0] = dgram(frames[0], &s[0]);
	memcpy(&h, frames[0], sizeof(h));
	h.flags = 0;
	memcpy(frames[0], &h, sizeof(h));
	CHECK("coalesce/complete-checksum-refused", !udp_coalesce_add(&c, frames[0], frame_lens[0]));
	/* A checksum field that is not the pseudo header's sum. */
	frame_lens[0] = dgram(frames[0], &s[0]);
	frames[0][HDR + 20 + 6] ^= 1;
	CHECK("coalesce/odd-partial-checksum-refused",
	      !udp_coalesce_add(&c, frames[0], frame_lens[0]));
	/* Already a segmentation packet. */
	frame_lens[0] = dgram(frames[0], &s[0]);
	memcpy(&h, frames[0], sizeof(h));
	h.gso_type = GSO_UDP_L4;
	h.gso_size = 32;
	memcpy(frames[0], &h, sizeof(h));
	CHECK("coalesce/uso-packet-refused", !udp_coalesce_add(&c, frames[0], frame_lens[0]));
	/* A fragment (MF set). */
	frame_lens[0] = dgram(frames[0], &s[0]);
	frames[0][HDR + 6] |= 0x20;
	CHECK("coalesce/fragment-refused", !udp_coalesce_add(&c, frames[0], frame_lens[0]));
	/* IPv4 options. */
	frame_lens[0] = dgram(frames[0], &s[0]);
	frames[0][HDR] = 0x46;
	CHECK("coalesce/ip-options-refused", !udp_coalesce_add(&c, frames[0], frame_lens[0]));
	/* TCP. */
	frame_lens[0] = dgram(frames[0], &s[0]);
	frames[0][HDR + 9] = 6;
	CHECK("coalesce/tcp-refused", !udp_coalesce_add(&c, frames[0], frame_lens[0]));
	/* IPv4 after IPv6. */
	s[0].family = 6;
	add_all(s, 1);
	frame_lens[1] = dgram(frames[1], &s[1]);
	CHECK("coalesce/family-change-refused", !udp_coalesce_add(&c, frames[1], frame_lens[1]));
}

static void test_limits(void)
{
	struct dgram_spec s = { .family = 4, .payload = 64 };
	unsigned taken = 0;

	udp_coalesce_reset(&c);
	for (unsigned i = 0; i < UDP_COALESCE_MAX_DATAGRAMS + 5; i++) {
		s.id = (uint16_t)i;
		frame_lens[0] = dgram(frames[0], &s);
		taken += udp_coalesce_add(&c, frames[0], frame_lens[0]);
	}
	CHECK("coalesce/at-most-max-datagrams", taken == UDP_COALESCE_MAX_DATAGRAMS);

	/* The IPv4 total length is 16 bits. */
	s.payload = 1472;
	udp_coalesce_reset(&c);
	taken = 0;
	for (unsigned i = 0; i < 60; i++) {
		s.id = (uint16_t)i;
		frame_lens[0] = dgram(frames[0], &s);
		taken += udp_coalesce_add(&c, frames[0], frame_lens[0]);
	}
	CHECK("coalesce/within-64k", taken == 44 && c.len - HDR <= 65535);
}

int main(void)
{
	test_merges(4);
	test_merges(6);
	test_refusals();
	test_limits();
	TEST_MAIN_END();
}
