/* NFLOG group reader, see nflog.h. */
#include "backends/nflog.h"
#include "backends/netlink.h"

#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define BUFFER_SIZE (1 << 17)

struct nflog {
	struct mnl_socket *sock;
	uint16_t group;
	uint32_t seq;
	char *buf;
};

static struct nlmsghdr *config_header(struct nflog *l, char *buf)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *g;

	nlh->nlmsg_type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = ++l->seq;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->nfgen_family = AF_UNSPEC;
	g->version = NFNETLINK_V0;
	g->res_id = htons(l->group);
	return nlh;
}

/* Sends a config message and waits for its acknowledgement. */
static int config_send(struct nflog *l, struct nlmsghdr *nlh)
{
	return netlink_talk(l->sock, nlh, l->buf, BUFFER_SIZE, NULL, NULL);
}

int nflog_open(struct nflog **out, uint16_t group, uint32_t copy_range)
{
	struct nflog *l = calloc(1, sizeof(*l));
	char msg[4096];
	int rc;

	*out = NULL;
	if (!l || !(l->buf = malloc(BUFFER_SIZE))) {
		free(l);
		return -ENOMEM;
	}
	l->group = group;
	if (!(l->sock = netlink_socket_open(NETLINK_NETFILTER, 0, 0, &rc))) {
		nflog_free(l);
		return rc;
	}
	netlink_socket_rcvbuf(l->sock, 4 << 20);

	struct nlmsghdr *nlh = config_header(l, msg);
	struct nfulnl_msg_config_cmd cmd = { .command = NFULNL_CFG_CMD_BIND };
	mnl_attr_put(nlh, NFULA_CFG_CMD, sizeof(cmd), &cmd);
	if ((rc = config_send(l, nlh)) < 0) {
		nflog_free(l);
		return rc;
	}
	nlh = config_header(l, msg);
	struct nfulnl_msg_config_mode mode = {
		.copy_range = htonl(copy_range),
		.copy_mode = NFULNL_COPY_PACKET,
	};
	mnl_attr_put(nlh, NFULA_CFG_MODE, sizeof(mode), &mode);
	mnl_attr_put_u32(nlh, NFULA_CFG_QTHRESH, htonl(1)); /* deliver at once */
	if ((rc = config_send(l, nlh)) < 0) {
		nflog_free(l);
		return rc;
	}
	*out = l;
	return 0;
}

void nflog_free(struct nflog *l)
{
	if (!l)
		return;
	netlink_socket_close(l->sock); /* the kernel unbinds the group */
	free(l->buf);
	free(l);
}

int nflog_fd(const struct nflog *l)
{
	return mnl_socket_get_fd(l->sock);
}

struct packet_ctx {
	nflog_cb cb;
	void *ctx;
	int count;
};

static int attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	uint16_t type = mnl_attr_get_type(attr);

	if (type <= NFULA_MAX)
		tb[type] = attr;
	return MNL_CB_OK;
}

static bool u32_of(const struct nlattr *a, uint32_t *v)
{
	if (!a || mnl_attr_validate(a, MNL_TYPE_U32) < 0)
		return false;
	*v = ntohl(mnl_attr_get_u32(a));
	return true;
}

static int packet_cb(const struct nlmsghdr *nlh, void *data)
{
	struct packet_ctx *c = data;
	const struct nlattr *tb[NFULA_MAX + 1] = { 0 };
	struct nflog_packet p = { .prefix = "" };
	const struct nfgenmsg *g;

	if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_ULOG ||
	    NFNL_MSG_TYPE(nlh->nlmsg_type) != NFULNL_MSG_PACKET ||
	    nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*g)))
		return MNL_CB_OK;
	g = mnl_nlmsg_get_payload(nlh);
	if (mnl_attr_parse(nlh, sizeof(*g), attr_cb, tb) < 0)
		return MNL_CB_OK;
	p.family = g->nfgen_family;
	if (tb[NFULA_PACKET_HDR] &&
	    mnl_attr_get_payload_len(tb[NFULA_PACKET_HDR]) >= sizeof(struct nfulnl_msg_packet_hdr)) {
		const struct nfulnl_msg_packet_hdr *h = mnl_attr_get_payload(tb[NFULA_PACKET_HDR]);
		p.hook = h->hook;
	}
	(void)u32_of(tb[NFULA_IFINDEX_INDEV], &p.indev);
	(void)u32_of(tb[NFULA_IFINDEX_OUTDEV], &p.outdev);
	p.has_uid = u32_of(tb[NFULA_UID], &p.uid);
	if (tb[NFULA_PREFIX] && mnl_attr_validate(tb[NFULA_PREFIX], MNL_TYPE_NUL_STRING) >= 0)
		p.prefix = mnl_attr_get_str(tb[NFULA_PREFIX]);
	if (tb[NFULA_TIMESTAMP] &&
	    mnl_attr_get_payload_len(tb[NFULA_TIMESTAMP]) >= sizeof(struct nfulnl_msg_packet_timestamp)) {
		const struct nfulnl_msg_packet_timestamp *t = mnl_attr_get_payload(tb[NFULA_TIMESTAMP]);
		p.has_time = true;
		p.time.tv_sec = (time_t)be64toh(t->sec);
		p.time.tv_nsec = (long)be64toh(t->usec) * 1000;
	}
	if (!tb[NFULA_PAYLOAD])
		return MNL_CB_OK;
	p.payload = mnl_attr_get_payload(tb[NFULA_PAYLOAD]);
	p.len = mnl_attr_get_payload_len(tb[NFULA_PAYLOAD]);
	c->cb(c->ctx, &p);
	c->count++;
	return MNL_CB_OK;
}

int nflog_receive(struct nflog *l, int timeout_ms, nflog_cb cb, void *ctx)
{
	struct packet_ctx c = { .cb = cb, .ctx = ctx };
	struct pollfd p = { .fd = mnl_socket_get_fd(l->sock), .events = POLLIN };
	bool lost = false;
	int r = poll(&p, 1, timeout_ms);

	if (r < 0)
		return errno == EINTR ? 0 : -errno;
	if (r == 0)
		return 0;
	/* packets are not answers to a request: no sequence check */
	r = netlink_receive_queued(l->sock, l->buf, BUFFER_SIZE, packet_cb, &c, &lost);
	if (r < 0)
		return r;
	return lost ? -ENOBUFS : c.count;
}
