/* Batched writes for the tun backend: consecutive datagrams of one UDP flow
 * read one by one from a TUN device are merged into one UDP segmentation
 * offload (USO) packet, so that a burst of small datagrams costs one write
 * and one pass through the host's forwarding path instead of one each. The
 * kernel cuts the packet back into the same datagrams (same IP identifiers,
 * lengths and payloads; checksums are computed then, as they would have
 * been) where it leaves the host, or where it is received.
 *
 * Only datagrams that still have their checksum to be computed
 * (VIRTIO_NET_HDR_F_NEEDS_CSUM, what a local stack hands a device with
 * TUN_F_CSUM) are merged, so no checksum is ever made up for a datagram
 * that came with one: a wrong one stays wrong. IPv4 datagrams must carry
 * consecutive identifiers and no options, IPv6 ones no extension headers,
 * and every header field but the lengths must be equal.
 *
 * Frames are what a TUN device with IFF_VNET_HDR reads and writes: a
 * struct virtio_net_hdr (native byte order), then the IP packet. */
#ifndef IFWALL_BACKENDS_TUN_COALESCE_H
#define IFWALL_BACKENDS_TUN_COALESCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/virtio_net.h>

#define TUN_VNET_HDR_LEN ((size_t)sizeof(struct virtio_net_hdr))
/* The kernel accepts up to 64 or 128 segments per USO packet (by version). */
#define UDP_COALESCE_MAX_DATAGRAMS 64

struct udp_coalesce {
	size_t len;             /* bytes in frame; 0: empty */
	unsigned count;         /* datagrams in frame */
	size_t l3_len;          /* IP header bytes: 20 or 40 */
	size_t segment;         /* payload bytes of the first datagram */
	bool closed;            /* a shorter datagram ended the run */
	uint8_t frame[TUN_VNET_HDR_LEN + 65535];
};

/* Empties c. */
void udp_coalesce_reset(struct udp_coalesce *c);

/* Takes the frame (len bytes) into c: as the first datagram of an empty c
 * when it can be merged at all, or appended when it continues c's run.
 * Returns false, leaving c as it was, when it does not fit: the caller
 * then writes c out (udp_coalesce_finish) and tries again on the empty c,
 * or writes the frame as it is. */
bool udp_coalesce_add(struct udp_coalesce *c, const uint8_t *frame, size_t len);

/* Makes c->frame ready to write and returns its length (0 when c is
 * empty): one datagram is left exactly as it was read; two or more become
 * one USO packet (VIRTIO_NET_HDR_GSO_UDP_L4). c is empty again once the
 * frame has been written (udp_coalesce_reset). */
size_t udp_coalesce_finish(struct udp_coalesce *c);

#endif
