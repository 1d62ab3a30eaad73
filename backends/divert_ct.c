/* Conntrack mark maintenance for the divert backend (ctnetlink over
 * libmnl): after a start or a reload every flow the kernel fast-paths must
 * go through the engine again, so the divert bits are cleared on every
 * conntrack entry that has them. The next packet of such a flow is queued
 * and decided by the current rule set (a known passed flow passes from the
 * flow table and is marked again). */
#include "backends/divert_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>

struct clear_ctx {
	struct mnl_socket *update_nl;
	char buf[8192];
	size_t used;
	uint32_t seq;
	int changed;
	int err;
};

static int update_flush(struct clear_ctx *ctx)
{
	char junk[8192];

	if (ctx->used && mnl_socket_sendto(ctx->update_nl, ctx->buf, ctx->used) < 0)
		return -errno;
	ctx->used = 0;
	/* Errors (an entry that died meanwhile) are not interesting. */
	while (recv(mnl_socket_get_fd(ctx->update_nl), junk, sizeof(junk), MSG_DONTWAIT) > 0)
		;
	return 0;
}

static int ct_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);

	if (mnl_attr_type_valid(attr, CTA_MAX) >= 0)
		tb[type] = attr;
	return MNL_CB_OK;
}

static int dump_entry_cb(const struct nlmsghdr *nlh, void *data)
{
	struct clear_ctx *ctx = data;
	const struct nlattr *tb[CTA_MAX + 1] = { 0 };
	const struct nfgenmsg *nfg = mnl_nlmsg_get_payload(nlh);

	mnl_attr_parse(nlh, sizeof(*nfg), ct_attr_cb, tb);
	if (!tb[CTA_MARK] || !tb[CTA_TUPLE_ORIG] ||
	    mnl_attr_get_payload_len(tb[CTA_MARK]) < sizeof(uint32_t))
		return MNL_CB_OK;
	if (!(ntohl(mnl_attr_get_u32(tb[CTA_MARK])) & DIVERT_CT_MASK))
		return MNL_CB_OK;

	size_t need = MNL_ALIGN(sizeof(struct nlmsghdr)) + MNL_ALIGN(sizeof(*nfg)) +
		      mnl_attr_get_len(tb[CTA_TUPLE_ORIG]) + 64;
	if (ctx->used + need > sizeof(ctx->buf)) {
		ctx->err = update_flush(ctx);
		if (ctx->err)
			return MNL_CB_ERROR;
	}
	struct nlmsghdr *upd = mnl_nlmsg_put_header(ctx->buf + ctx->used);
	upd->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW;
	upd->nlmsg_flags = NLM_F_REQUEST; /* no NLM_F_CREATE: update only */
	upd->nlmsg_seq = ctx->seq++;
	struct nfgenmsg *unfg = mnl_nlmsg_put_extra_header(upd, sizeof(*unfg));
	*unfg = *nfg;
	mnl_attr_put(upd, mnl_attr_get_type(tb[CTA_TUPLE_ORIG]) | NLA_F_NESTED,
		     mnl_attr_get_payload_len(tb[CTA_TUPLE_ORIG]),
		     mnl_attr_get_payload(tb[CTA_TUPLE_ORIG]));
	if (tb[CTA_ZONE])
		mnl_attr_put(upd, CTA_ZONE, mnl_attr_get_payload_len(tb[CTA_ZONE]),
			     mnl_attr_get_payload(tb[CTA_ZONE]));
	/* new mark = (mark & ~MARK_MASK) ^ MARK */
	mnl_attr_put_u32(upd, CTA_MARK, htonl(0));
	mnl_attr_put_u32(upd, CTA_MARK_MASK, htonl(DIVERT_CT_MASK));
	ctx->used += upd->nlmsg_len;
	ctx->changed++;
	return MNL_CB_OK;
}

int divert_ct_clear_marks(char *err, size_t errlen)
{
	struct mnl_socket *dump_nl = mnl_socket_open(NETLINK_NETFILTER);
	struct clear_ctx *ctx = calloc(1, sizeof(*ctx));
	char *buf = malloc(32768);
	int r = 0;

	if (!dump_nl || !ctx || !buf) {
		r = dump_nl ? -ENOMEM : -errno;
		snprintf(err, errlen, "conntrack: %s", strerror(-r));
		goto out;
	}
	ctx->update_nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!ctx->update_nl || mnl_socket_bind(ctx->update_nl, 0, MNL_SOCKET_AUTOPID) < 0 ||
	    mnl_socket_bind(dump_nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		r = -errno;
		snprintf(err, errlen, "conntrack: opening netlink: %s", strerror(errno));
		goto out;
	}
	ctx->seq = (uint32_t)time(NULL);

	char req[8192];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(req);
	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = ctx->seq++;
	struct nfgenmsg *nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = AF_UNSPEC;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = 0;
	uint32_t dump_seq = nlh->nlmsg_seq;
	if (mnl_socket_sendto(dump_nl, nlh, nlh->nlmsg_len) < 0) {
		r = -errno;
		snprintf(err, errlen, "conntrack: dump request: %s", strerror(errno));
		goto out;
	}
	uint32_t portid = mnl_socket_get_portid(dump_nl);
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(dump_nl, buf, 32768);
		if (n < 0) {
			r = -errno;
			snprintf(err, errlen, "conntrack: reading the dump: %s", strerror(errno));
			goto out;
		}
		int cr = mnl_cb_run(buf, (size_t)n, dump_seq, portid, dump_entry_cb, ctx);
		if (cr == MNL_CB_STOP)
			break;
		if (cr < 0) {
			r = ctx->err ? ctx->err : -errno;
			snprintf(err, errlen, "conntrack: %s", strerror(-r));
			goto out;
		}
	}
	r = update_flush(ctx);
	if (r < 0)
		snprintf(err, errlen, "conntrack: updating marks: %s", strerror(-r));
	else
		r = ctx->changed;
out:
	if (ctx && ctx->update_nl)
		mnl_socket_close(ctx->update_nl);
	if (dump_nl)
		mnl_socket_close(dump_nl);
	free(ctx);
	free(buf);
	return r;
}
