/* See netlink.h. */
#include "backends/netlink.h"
#include "backends/nlmsg.h"

#include <errno.h>
#include <linux/netlink.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif
#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif

struct mnl_socket *netlink_socket_open(int bus, unsigned groups, unsigned options, int *error)
{
	int flags = (options & NETLINK_OPT_CLOEXEC ? SOCK_CLOEXEC : 0) |
		    (options & NETLINK_OPT_NONBLOCK ? SOCK_NONBLOCK : 0);
	struct mnl_socket *s = mnl_socket_open2(bus, flags);
	int one = 1;

	if (!s || mnl_socket_bind(s, groups, MNL_SOCKET_AUTOPID) < 0) {
		*error = errno ? -errno : -EIO;
		if (s)
			mnl_socket_close(s);
		return NULL;
	}
	/* Both are optional: an older kernel answers errors without them. */
	if (options & NETLINK_OPT_EXT_ACK)
		mnl_socket_setsockopt(s, NETLINK_EXT_ACK, &one, sizeof(one));
	if (options & NETLINK_OPT_CAP_ACK)
		mnl_socket_setsockopt(s, NETLINK_CAP_ACK, &one, sizeof(one));
	if (options & NETLINK_OPT_RECV_TIMEOUT) {
		struct timeval tv = { .tv_sec = NETLINK_RECV_TIMEOUT_SECONDS };
		setsockopt(mnl_socket_get_fd(s), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	}
	return s;
}

void netlink_socket_close(struct mnl_socket *sock)
{
	if (sock)
		mnl_socket_close(sock);
}

int netlink_socket_join(struct mnl_socket *sock, unsigned group)
{
	if (mnl_socket_setsockopt(sock, NETLINK_ADD_MEMBERSHIP, &group, sizeof(group)) < 0)
		return -errno;
	return 0;
}

static void buffer_size(struct mnl_socket *sock, int force, int plain, int bytes)
{
	int fd = mnl_socket_get_fd(sock);

	/* FORCE needs CAP_NET_ADMIN; the plain one is capped by [rw]mem_max. */
	if (setsockopt(fd, SOL_SOCKET, force, &bytes, sizeof(bytes)) < 0)
		setsockopt(fd, SOL_SOCKET, plain, &bytes, sizeof(bytes));
}

void netlink_socket_rcvbuf(struct mnl_socket *sock, int bytes)
{
	buffer_size(sock, SO_RCVBUFFORCE, SO_RCVBUF, bytes);
}

void netlink_socket_sndbuf(struct mnl_socket *sock, int bytes)
{
	buffer_size(sock, SO_SNDBUFFORCE, SO_SNDBUF, bytes);
}

int netlink_open(struct netlink *nl, int bus, unsigned options)
{
	int e = 0;

	memset(nl, 0, sizeof(*nl));
	if (!(nl->sock = netlink_socket_open(bus, 0, options, &e)))
		return e;
	nl->portid = mnl_socket_get_portid(nl->sock);
	nl->seq = (uint32_t)time(NULL);
	return 0;
}

void netlink_attach(struct netlink *nl, struct mnl_socket *sock, uint32_t seq)
{
	nl->sock = sock;
	nl->portid = mnl_socket_get_portid(sock);
	nl->seq = seq;
}

void netlink_close(struct netlink *nl)
{
	netlink_socket_close(nl->sock);
	memset(nl, 0, sizeof(*nl));
}

/* Reads the remaining messages of dump seq up to its end. */
static void dump_drain(struct mnl_socket *sock, char *buf, size_t size, uint32_t seq)
{
	for (int reads = 0; reads < 100000; reads++) {
		ssize_t n = recv(mnl_socket_get_fd(sock), buf, size, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		int left = (int)nlmsg_valid_prefix(buf, (size_t)n);
		for (const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
		     mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left))
			if (nlh->nlmsg_seq == seq && (nlh->nlmsg_type == NLMSG_DONE ||
						      nlh->nlmsg_type == NLMSG_ERROR))
				return;
		if (left == (int)n)
			return; /* nothing valid: give up */
	}
}

int netlink_talk(struct mnl_socket *sock, const struct nlmsghdr *req, void *buf, size_t size,
	    mnl_cb_t cb, void *data)
{
	uint32_t seq = req->nlmsg_seq, portid = mnl_socket_get_portid(sock);
	char *own = NULL;
	int ret;

	if (mnl_socket_sendto(sock, req, req->nlmsg_len) < 0)
		return -errno;
	if (!buf) {
		if (!(buf = own = malloc(NETLINK_RECV_SIZE)))
			return -ENOMEM;
		size = NETLINK_RECV_SIZE;
	}
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(sock, buf, size);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			break;
		}
		errno = 0;
		ret = mnl_cb_run(buf, nlmsg_valid_prefix(buf, (size_t)n), seq, portid, cb,
				 data);
		if (ret < 0) {
			ret = nlmsg_error();
			/* NLM_F_DUMP_INTR: what was read is inconsistent. Read
			 * the rest away (the socket is used again). */
			if (ret == -EINTR)
				dump_drain(sock, buf, size, seq);
			break;
		}
		if (ret == MNL_CB_STOP) {
			ret = 0;
			break;
		}
	}
	free(own);
	return ret;
}

int netlink_receive_queued(struct mnl_socket *sock, void *buf, size_t size, mnl_cb_t cb,
		      void *data, bool *lost)
{
	int datagrams = 0;

	for (;;) {
		ssize_t n = recv(mnl_socket_get_fd(sock), buf, size, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS) {
				*lost = true;
				continue;
			}
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return datagrams;
			return -errno;
		}
		if (n == 0)
			return datagrams;
		datagrams++;
		mnl_cb_run(buf, nlmsg_valid_prefix(buf, (size_t)n), 0, 0, cb, data);
	}
}

void netlink_drain(struct mnl_socket *sock)
{
	char buf[16384];

	while (recv(mnl_socket_get_fd(sock), buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}
