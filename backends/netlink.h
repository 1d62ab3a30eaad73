/* ifwall's one netlink socket layer, for every bus (netfilter, route):
 * opening a socket with its options, and one request run to its end (an
 * acknowledgement, or a dump's last message) with a callback for each
 * answer. The nf_tables specifics (requests, batches) build on it in
 * nft_nl.h and nft_batch.h. Like libmnl, it never prints; errors are
 * -errno. */
#ifndef IFWALL_BACKENDS_NETLINK_H
#define IFWALL_BACKENDS_NETLINK_H

#include <libmnl/libmnl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A socket and the sequence number of its last request. */
struct netlink {
	struct mnl_socket *sock;
	uint32_t portid;
	uint32_t seq;
};

/* A one-shot command's socket never waits forever for a reply the kernel
 * will not send (a lost message, a dump cut short): with
 * NETLINK_OPT_RECV_TIMEOUT a receive gives up with EAGAIN after this many
 * seconds, and the command fails, saying so, instead of hanging (and
 * holding the load lock). */
#define NETLINK_RECV_TIMEOUT_SECONDS 10

/* Options of netlink_socket_open(). */
enum {
	NETLINK_OPT_EXT_ACK = 1 << 0,      /* errors carry the kernel's message */
	NETLINK_OPT_CAP_ACK = 1 << 1,      /* errors do not echo the request */
	NETLINK_OPT_RECV_TIMEOUT = 1 << 2, /* see NETLINK_RECV_TIMEOUT_SECONDS */
	NETLINK_OPT_CLOEXEC = 1 << 3,
	NETLINK_OPT_NONBLOCK = 1 << 4,
};

/* A socket on bus bound to the multicast groups (a bit mask, 0: none).
 * Returns NULL with *error = -errno when it cannot be opened or bound. */
struct mnl_socket *netlink_socket_open(int bus, unsigned groups, unsigned options,
				       int *error);
/* Closes sock; NULL-safe. */
void netlink_socket_close(struct mnl_socket *sock);
/* Joins multicast group (a number, not a mask). Returns 0 or -errno. */
int netlink_socket_join(struct mnl_socket *sock, unsigned group);
/* Asks for a receive buffer of bytes (past rmem_max with CAP_NET_ADMIN). */
void netlink_socket_rcvbuf(struct mnl_socket *sock, int bytes);
/* The same for the send buffer. */
void netlink_socket_sndbuf(struct mnl_socket *sock, int bytes);

/* netlink_socket_open() into *nl (its seq starts at the time of day).
 * Returns 0 or -errno (then *nl is zeroed). */
int netlink_open(struct netlink *nl, int bus, unsigned options);
/* A socket opened elsewhere (not closed by netlink_close()). */
void netlink_attach(struct netlink *nl, struct mnl_socket *sock, uint32_t seq);
/* Closes a socket netlink_open() opened; NULL-safe, idempotent. */
void netlink_close(struct netlink *nl);

/* The size of a receive buffer that takes any one datagram of a dump. */
#define NETLINK_RECV_SIZE (MNL_SOCKET_BUFFER_SIZE * 4)

/* Sends req and runs cb (NULL: none) over the answers carrying req's
 * sequence number, until the acknowledgement or the end of the dump (a
 * request without NLM_F_ACK that is no dump never ends: give it the flag).
 * buf receives them, size bytes, a multiple of 4 (NULL: a buffer of
 * NETLINK_RECV_SIZE is allocated for the request). Returns 0, or -errno: the
 * kernel's error, cb's MNL_CB_ERROR (errno as cb left it, see
 * nlmsg_error()), a socket error (-EAGAIN: no answer within the receive
 * timeout). -EINTR: the kernel marked the dump interrupted (the rule set
 * changed during it); the rest of the dump was read away and the caller
 * may start over. A receive interrupted by a signal is retried. */
int netlink_talk(struct mnl_socket *sock, const struct nlmsghdr *req, void *buf, size_t size,
	    mnl_cb_t cb, void *data);

/* Runs cb over every message of the datagrams queued on sock, without
 * waiting (notifications: no sequence or port check; cb's result is not
 * looked at). buf receives them, size bytes. *lost is set when the kernel
 * dropped some (ENOBUFS: the receive buffer overflowed). Returns how many
 * datagrams were read, or -errno. */
int netlink_receive_queued(struct mnl_socket *sock, void *buf, size_t size, mnl_cb_t cb,
		      void *data, bool *lost);

/* Reads away every datagram already queued on the socket (answers an
 * earlier exchange left unread). */
void netlink_drain(struct mnl_socket *sock);

#endif
