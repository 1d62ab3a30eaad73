/* nfnetlink_queue over libmnl: bind a queue, receive packets, send
 * verdicts in batches. See divert_internal.h. */
#include "backends/divert_internal.h"
#include "backends/netlink.h"
#include "backends/nlmsg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>

/* A message carries at most a 65531-byte packet plus a few attributes. */
#define NFQUEUE_RECV_BUFFER (96 * 1024)
/* Messages taken per recvmmsg(): a burst of new flows costs one system
 * call per this many packets, and a lone packet one call instead of two
 * (a short batch says the socket is empty, so no call ends in EAGAIN).
 * The buffers are touched only as far as messages fill them. */
#define NFQUEUE_RECV_BATCH 8
#define NFQUEUE_MAX_PENDING 1024

struct pending_verdict {
	uint32_t id;
	uint32_t verdict;
	bool set_mark;
	uint32_t mark;
};

struct nfqueue {
	struct mnl_socket *nl;
	uint16_t queue;
	uint32_t seq;
	uint8_t *buf; /* NFQUEUE_RECV_BATCH buffers of NFQUEUE_RECV_BUFFER */
	struct mmsghdr msgs[NFQUEUE_RECV_BATCH];
	struct iovec iov[NFQUEUE_RECV_BATCH];
	unsigned received, next; /* messages in the buffers, the next to parse */
	bool drained;            /* the last recvmmsg() emptied the socket */
	struct pending_verdict pending[NFQUEUE_MAX_PENDING];
	size_t npending;
	uint64_t messages_sent;
};

static struct nlmsghdr *put_header(char *buf, uint16_t type, uint16_t queue, uint32_t seq)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *nfg;

	nlh->nlmsg_type = (NFNL_SUBSYS_QUEUE << 8) | type;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	nlh->nlmsg_seq = seq;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = AF_UNSPEC;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = htons(queue);
	return nlh;
}

/* Sends one configuration message and waits for its ack. */
static int config_talk(struct nfqueue *q, struct nlmsghdr *nlh)
{
	char buf[8192];

	nlh->nlmsg_flags |= NLM_F_ACK;
	return netlink_talk(q->nl, nlh, buf, sizeof(buf), NULL, NULL);
}

int nfqueue_open(struct nfqueue **out, const struct nfqueue_options *opts,
		 char *err, size_t errlen)
{
	char buf[8192];
	struct nlmsghdr *nlh;
	struct nfqueue *q = calloc(1, sizeof(*q));
	int r;

	*out = NULL;
	if (!q || !(q->buf = malloc((size_t)NFQUEUE_RECV_BATCH * NFQUEUE_RECV_BUFFER))) {
		free(q);
		snprintf(err, errlen, "allocating the queue: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	q->queue = opts->queue;
	q->seq = 1;
	for (size_t i = 0; i < NFQUEUE_RECV_BATCH; i++) {
		q->iov[i] = (struct iovec){ q->buf + i * NFQUEUE_RECV_BUFFER, NFQUEUE_RECV_BUFFER };
		q->msgs[i].msg_hdr = (struct msghdr){ .msg_iov = &q->iov[i], .msg_iovlen = 1 };
	}
	q->nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!q->nl || mnl_socket_bind(q->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		r = -errno;
		snprintf(err, errlen, "opening a netfilter netlink socket: %s", strerror(errno));
		goto fail;
	}
	int fd = mnl_socket_get_fd(q->nl);
	int size = opts->rcvbuf;
	if (size > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));

	nlh = put_header(buf, NFQNL_MSG_CONFIG, q->queue, q->seq++);
	struct nfqnl_msg_config_cmd cmd = { .command = NFQNL_CFG_CMD_BIND };
	mnl_attr_put(nlh, NFQA_CFG_CMD, sizeof(cmd), &cmd);
	r = config_talk(q, nlh);
	if (r < 0) {
		/* The kernel says EPERM (recent) or EBUSY when another socket
		 * holds the queue; EPERM is also a missing CAP_NET_ADMIN. */
		snprintf(err, errlen, "binding NFQUEUE %u: %s%s", q->queue, strerror(-r),
			 r == -EBUSY ? " (another process holds this queue; see --queue)" :
			 r == -EPERM ? " (another process holds this queue; see --queue)" : "");
		goto fail;
	}

	nlh = put_header(buf, NFQNL_MSG_CONFIG, q->queue, q->seq++);
	struct nfqnl_msg_config_params params = {
		.copy_range = htonl(opts->copy_range),
		.copy_mode = NFQNL_COPY_PACKET,
	};
	mnl_attr_put(nlh, NFQA_CFG_PARAMS, sizeof(params), &params);
	if (opts->max_len)
		mnl_attr_put_u32(nlh, NFQA_CFG_QUEUE_MAXLEN, htonl(opts->max_len));
	uint32_t flags = NFQA_CFG_F_UID_GID | (opts->fail_open ? NFQA_CFG_F_FAIL_OPEN : 0);
	mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(flags));
	mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(NFQA_CFG_F_UID_GID | NFQA_CFG_F_FAIL_OPEN));
	r = config_talk(q, nlh);
	if (r < 0) {
		snprintf(err, errlen, "configuring NFQUEUE %u: %s", q->queue, strerror(-r));
		goto fail;
	}
	*out = q;
	return 0;
fail:
	nfqueue_free(q);
	return r;
}

void nfqueue_free(struct nfqueue *q)
{
	if (!q)
		return;
	if (q->nl)
		mnl_socket_close(q->nl);
	free(q->buf);
	free(q);
}

int nfqueue_fd(const struct nfqueue *q)
{
	return mnl_socket_get_fd(q->nl);
}

static int packet_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);

	if (mnl_attr_type_valid(attr, NFQA_MAX) < 0)
		return MNL_CB_OK;
	switch (type) {
	case NFQA_MARK:
	case NFQA_IFINDEX_INDEV:
	case NFQA_IFINDEX_OUTDEV:
	case NFQA_CAP_LEN:
	case NFQA_UID:
		if (mnl_attr_validate(attr, MNL_TYPE_U32) < 0)
			return MNL_CB_OK;
		break;
	case NFQA_PACKET_HDR:
		if (mnl_attr_validate2(attr, MNL_TYPE_UNSPEC,
				       sizeof(struct nfqnl_msg_packet_hdr)) < 0)
			return MNL_CB_OK;
		break;
	}
	tb[type] = attr;
	return MNL_CB_OK;
}

/* Returns 1 for a packet message, 0 for anything else. */
static int parse_packet(const struct nlmsghdr *nlh, struct nfqueue_packet *pkt)
{
	const struct nlattr *tb[NFQA_MAX + 1] = { 0 };

	if (nlh->nlmsg_type != ((NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET))
		return 0;
	if (mnl_attr_parse(nlh, sizeof(struct nfgenmsg), packet_attr_cb, tb) < 0 ||
	    !tb[NFQA_PACKET_HDR])
		return 0;
	const struct nfqnl_msg_packet_hdr *ph = mnl_attr_get_payload(tb[NFQA_PACKET_HDR]);
	memset(pkt, 0, sizeof(*pkt));
	pkt->id = ntohl(ph->packet_id);
	pkt->hook = ph->hook;
	pkt->hw_protocol = ntohs(ph->hw_protocol);
	if (tb[NFQA_IFINDEX_INDEV])
		pkt->indev = ntohl(mnl_attr_get_u32(tb[NFQA_IFINDEX_INDEV]));
	if (tb[NFQA_IFINDEX_OUTDEV])
		pkt->outdev = ntohl(mnl_attr_get_u32(tb[NFQA_IFINDEX_OUTDEV]));
	if (tb[NFQA_MARK])
		pkt->mark = ntohl(mnl_attr_get_u32(tb[NFQA_MARK]));
	if (tb[NFQA_UID]) {
		pkt->has_uid = true;
		pkt->uid = ntohl(mnl_attr_get_u32(tb[NFQA_UID]));
	}
	if (tb[NFQA_PAYLOAD]) {
		pkt->payload = mnl_attr_get_payload(tb[NFQA_PAYLOAD]);
		pkt->len = mnl_attr_get_payload_len(tb[NFQA_PAYLOAD]);
		/* libmnl allows an attribute up to the message's aligned end:
		 * not a byte of the packet may come from beyond nlmsg_len. */
		const uint8_t *end = (const uint8_t *)nlh + nlh->nlmsg_len;
		if (pkt->payload + pkt->len > end)
			pkt->len = pkt->payload <= end ? (size_t)(end - pkt->payload) : 0;
	}
	pkt->orig_len = tb[NFQA_CAP_LEN] ? ntohl(mnl_attr_get_u32(tb[NFQA_CAP_LEN]))
					 : (uint32_t)pkt->len;
	return 1;
}

int nfqueue_receive(struct nfqueue *q, struct nfqueue_packet *pkt)
{
	for (;;) {
		while (q->next < q->received) {
			unsigned i = q->next++;
			if (nfqueue_parse_message(q->iov[i].iov_base, q->msgs[i].msg_len, pkt))
				return 1;
		}
		if (q->drained) {
			/* Anything queued since is for the next poll(). */
			q->drained = false;
			return 0;
		}
		int n = recvmmsg(mnl_socket_get_fd(q->nl), q->msgs, NFQUEUE_RECV_BATCH,
				 MSG_DONTWAIT, NULL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -errno;
		}
		q->received = (unsigned)n;
		q->next = 0;
		q->drained = n < NFQUEUE_RECV_BATCH;
	}
}

bool nfqueue_buffered(const struct nfqueue *q)
{
	return q->next < q->received;
}

int nfqueue_parse_message(const void *buf, size_t len, struct nfqueue_packet *pkt)
{
	/* One packet per datagram; other messages (errors for verdicts of
	 * packets that vanished) are skipped. */
	size_t valid = nlmsg_valid_prefix(buf, len);
	int left = valid > NFQUEUE_RECV_BUFFER ? NFQUEUE_RECV_BUFFER : (int)valid;

	for (const struct nlmsghdr *nlh = buf; mnl_nlmsg_ok(nlh, left);
	     nlh = mnl_nlmsg_next(nlh, &left)) {
		if (parse_packet(nlh, pkt))
			return 1;
	}
	return 0;
}

static int send_pending(struct nfqueue *q)
{
	char buf[8192];
	size_t used = 0;
	size_t i = 0;

	while (i < q->npending) {
		/* A run of equal verdicts ends at j - 1. */
		size_t j = i + 1;
		while (j < q->npending && q->pending[j].verdict == q->pending[i].verdict &&
		       q->pending[j].set_mark == q->pending[i].set_mark &&
		       q->pending[j].mark == q->pending[i].mark)
			j++;
		if (used + 64 > sizeof(buf)) {
			if (mnl_socket_sendto(q->nl, buf, used) < 0)
				return -errno;
			used = 0;
		}
		const struct pending_verdict *last = &q->pending[j - 1];
		struct nlmsghdr *nlh = put_header(buf + used,
						  j - i > 1 ? NFQNL_MSG_VERDICT_BATCH : NFQNL_MSG_VERDICT,
						  q->queue, q->seq++);
		struct nfqnl_msg_verdict_hdr vh = {
			.verdict = htonl(last->verdict),
			.id = htonl(last->id),
		};
		mnl_attr_put(nlh, NFQA_VERDICT_HDR, sizeof(vh), &vh);
		if (last->set_mark)
			mnl_attr_put_u32(nlh, NFQA_MARK, htonl(last->mark));
		used += nlh->nlmsg_len;
		q->messages_sent++;
		i = j;
	}
	q->npending = 0;
	if (used && mnl_socket_sendto(q->nl, buf, used) < 0)
		return -errno;
	return 0;
}

int nfqueue_verdict(struct nfqueue *q, uint32_t id, uint32_t verdict,
		    bool set_mark, uint32_t mark)
{
	if (q->npending == NFQUEUE_MAX_PENDING) {
		int r = send_pending(q);
		if (r < 0)
			return r;
	}
	q->pending[q->npending++] = (struct pending_verdict){
		.id = id, .verdict = verdict, .set_mark = set_mark, .mark = mark,
	};
	return 0;
}

int nfqueue_flush(struct nfqueue *q)
{
	return q->npending ? send_pending(q) : 0;
}

uint64_t nfqueue_messages_sent(const struct nfqueue *q)
{
	return q->messages_sent;
}

uint16_t nfqueue_number(const struct nfqueue *q)
{
	return q->queue;
}
