/* Reading an NFLOG group (nfnetlink_log) with libmnl: the packets that
 * nft 'log group N' rules send to userspace ('ifwall log'). Only one
 * process may listen to a group at a time (the kernel says EBUSY). */
#ifndef IFWALL_BACKENDS_NFLOG_H
#define IFWALL_BACKENDS_NFLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct nflog_packet {
	uint8_t hook;           /* NF_INET_LOCAL_IN, NF_INET_FORWARD, ... */
	uint8_t family;         /* NFPROTO_IPV4 / NFPROTO_IPV6 */
	uint32_t indev, outdev; /* interface indexes, 0 when none */
	const char *prefix;     /* "" when none */
	const uint8_t *payload; /* the IP packet (cut at the copy range) */
	size_t len;
	bool has_time;          /* arrival time (incoming packets) */
	struct timespec time;
	bool has_uid;
	uint32_t uid;
};

struct nflog;

/* Binds group (copying the first copy_range bytes of each packet).
 * Returns 0, -EBUSY when another process listens to it, or -errno. */
int nflog_open(struct nflog **out, uint16_t group, uint32_t copy_range);
void nflog_free(struct nflog *l);
int nflog_fd(const struct nflog *l);

typedef void (*nflog_cb)(void *ctx, const struct nflog_packet *p);

/* Reads what is queued (waiting up to timeout_ms for the first datagram;
 * -1 waits for ever, 0 not at all) and calls cb for every packet.
 * Returns how many packets, or -errno; -ENOBUFS means packets were lost
 * because the socket buffer overflowed (reading goes on after it). */
int nflog_receive(struct nflog *l, int timeout_ms, nflog_cb cb, void *ctx);

#endif
