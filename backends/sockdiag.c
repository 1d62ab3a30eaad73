/* Socket cgroup ids through sock_diag (see sockdiag.h). */
#include "backends/sockdiag.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>

int sockdiag_open(void)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	struct timeval tv = { .tv_sec = 0, .tv_usec = 200000 };

	if (fd < 0)
		return -errno;
	/* A lookup is one request and one answer; never wait long for it. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static int attr_cb(const struct nlattr *attr, void *data)
{
	uint64_t *id = data;

	if (mnl_attr_get_type(attr) == INET_DIAG_CGROUP_ID &&
	    mnl_attr_get_payload_len(attr) >= sizeof(uint64_t))
		memcpy(id, mnl_attr_get_payload(attr), sizeof(*id));
	return MNL_CB_OK;
}

/* One exact lookup: id.src is the socket's own end in TCP's convention;
 * the kernel's UDP lookup reads them the other way round ("swapped for
 * historical reasons"), so the caller tries both for UDP. */
static int lookup(int fd, uint8_t family, uint8_t proto,
		  const struct ifw_addr *src, uint16_t sport,
		  const struct ifw_addr *dst, uint16_t dport, uint64_t *id)
{
	char buf[8192] __attribute__((aligned(4)));
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct inet_diag_req_v2 *req;
	static uint32_t seq;
	size_t alen = family == 4 ? 4 : 16;

	nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	nlh->nlmsg_seq = ++seq;
	req = mnl_nlmsg_put_extra_header(nlh, sizeof(*req));
	req->sdiag_family = family == 4 ? AF_INET : AF_INET6;
	req->sdiag_protocol = proto;
	req->idiag_states = ~0u;
	req->id.idiag_sport = htons(sport);
	req->id.idiag_dport = htons(dport);
	memcpy(req->id.idiag_src, src->a, alen);
	memcpy(req->id.idiag_dst, dst->a, alen);
	req->id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
	req->id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;

	struct sockaddr_nl nladdr = { .nl_family = AF_NETLINK };
	if (sendto(fd, nlh, nlh->nlmsg_len, 0, (struct sockaddr *)&nladdr, sizeof(nladdr)) < 0)
		return -errno;
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		for (struct nlmsghdr *m = (struct nlmsghdr *)buf; mnl_nlmsg_ok(m, (int)n);
		     m = mnl_nlmsg_next(m, (int *)&n)) {
			if (m->nlmsg_seq != seq)
				continue; /* an answer to an earlier, timed out request */
			if (m->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = mnl_nlmsg_get_payload(m);
				return e->error ? e->error : -ENOENT;
			}
			if (m->nlmsg_type != SOCK_DIAG_BY_FAMILY)
				continue;
			uint64_t found = 0;
			mnl_attr_parse(m, sizeof(struct inet_diag_msg), attr_cb, &found);
			if (!found)
				return -EOPNOTSUPP; /* a kernel without INET_DIAG_CGROUP_ID */
			*id = found;
			return 0;
		}
	}
}

int sockdiag_cgroup_id(int fd, uint8_t family, uint8_t proto,
		       const struct ifw_addr *local, uint16_t lport,
		       const struct ifw_addr *remote, uint16_t rport,
		       uint64_t *id)
{
	int rc;

	if (proto == IPPROTO_UDP) {
		rc = lookup(fd, family, proto, remote, rport, local, lport, id);
		if (rc != -ENOENT)
			return rc;
	}
	return lookup(fd, family, proto, local, lport, remote, rport, id);
}
