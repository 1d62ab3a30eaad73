/* Table inet ifwall held by a resident process: owned (owner|persist) or
 * watched and restored. See nft_owner.h. */
#include "backends/nft_nl.h"
#include "backends/nft_owner.h"
#include "backends/nft_plan.h"
#include "backends/nft_table.h"
#include "backends/nlmsg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

struct nft_owner {
	struct mnl_socket *sock;    /* owns the table / sends the restores */
	uint32_t seq;
	struct mnl_socket *watch;   /* NFNLGRP_NFTABLES, when watching */
	bool watch_only;
	bool applied;
	enum nft_owner_mode mode;
	const struct nft_plan *plan;
	char *buf;
};

#define WATCH_BUFFER (1 << 16)


const char *nft_owner_mode_name(enum nft_owner_mode mode)
{
	return mode == NFT_OWNER_OWNED ? "owned" : "watching";
}

/* The owner's sockets and the one of a table info read: nf_tables
 * notifications of group (not 0) too. */
static struct mnl_socket *socket_open(unsigned group, int *error)
{
	struct mnl_socket *s = netlink_socket_open(NETLINK_NETFILTER, 0, NETLINK_OPT_EXT_ACK,
						   error);

	if (s && group) {
		/* A flush of a large table is many notifications; a lost one
		 * (ENOBUFS) is answered by checking the table. */
		netlink_socket_rcvbuf(s, 8 << 20);
		if ((*error = netlink_socket_join(s, group)) < 0) {
			mnl_socket_close(s);
			return NULL;
		}
	}
	return s;
}

int nft_owner_open(struct nft_owner **out, bool watch, struct nft_error *err)
{
	struct nft_owner *o = calloc(1, sizeof(*o));
	int e = 0;

	*out = NULL;
	if (!o || !(o->buf = malloc(WATCH_BUFFER))) {
		free(o);
		return nft_set_error(err, -ENOMEM, "out of memory");
	}
	o->watch_only = watch;
	o->seq = (uint32_t)time(NULL);
	if (!(o->sock = socket_open(0, &e))) {
		nft_owner_free(o);
		return nft_set_error(err, e, "cannot open a netfilter netlink socket: %s",
				   strerror(-e));
	}
	*out = o;
	return 0;
}

void nft_owner_free(struct nft_owner *o)
{
	if (!o)
		return;
	netlink_socket_close(o->sock);
	netlink_socket_close(o->watch);
	free(o->buf);
	free(o);
}

enum nft_owner_mode nft_owner_mode(const struct nft_owner *o)
{
	return o->mode;
}

uint32_t nft_owner_portid(const struct nft_owner *o)
{
	return mnl_socket_get_portid(o->sock);
}

int nft_owner_watch_fd(const struct nft_owner *o)
{
	return o->watch ? mnl_socket_get_fd(o->watch) : -1;
}

static int start_watching(struct nft_owner *o, struct nft_error *err)
{
	int e = 0;

	if (o->watch)
		return 0;
	if (!(o->watch = socket_open(NFNLGRP_NFTABLES, &e)))
		return nft_set_error(err, e, "cannot subscribe to nf_tables notifications: %s",
				   strerror(-e));
	return 0;
}

int nft_owner_apply(struct nft_owner *o, const struct nft_plan *plan,
		    struct nft_load_stats *stats, struct nft_error *err)
{
	int rc;

	if (!o->applied && !o->watch_only) {
		rc = nft_plan_load_socket(o->sock, &o->seq, plan,
					  NFT_TABLE_F_OWNER | NFT_TABLE_F_PERSIST, stats, err);
		if (rc == 0) {
			struct nft_table_info info;
			/* the kernel must really have taken both flags */
			if (nft_table_info_read(&info, NULL) == 0 && info.present &&
			    (info.flags & (NFT_TABLE_F_OWNER | NFT_TABLE_F_PERSIST)) ==
				    (NFT_TABLE_F_OWNER | NFT_TABLE_F_PERSIST) &&
			    info.owner == nft_owner_portid(o)) {
				o->applied = true;
				o->mode = NFT_OWNER_OWNED;
				o->plan = plan;
				return 0;
			}
			/* loaded, but not owned: go on watching */
		} else if (rc != -EOPNOTSUPP && rc != -EINVAL) {
			return rc;
		}
		/* a kernel without owner or persist: the batch changed nothing */
	}
	if (!o->applied) {
		o->mode = NFT_OWNER_WATCHING;
		/* subscribe before loading, so no change after it is missed */
		if ((rc = start_watching(o, err)) < 0)
			return rc;
	}
	rc = nft_plan_load_socket(o->sock, &o->seq, plan,
				  o->mode == NFT_OWNER_OWNED
					  ? NFT_TABLE_F_OWNER | NFT_TABLE_F_PERSIST
					  : NFT_TABLE_FLAGS_KEEP,
				  stats, err);
	if (rc == 0) {
		o->applied = true;
		o->plan = plan;
	}
	return rc;
}

int nft_owner_table_change(struct nft_owner *o, const char *name, enum addrset_op op,
			   const struct ifw_prefix *p, size_t n, size_t *changed,
			   struct nft_error *err)
{
	return nft_table_change_socket(o->sock, &o->seq, name, op, p, n, changed, err);
}

int nft_owner_refill(struct nft_owner *o, const struct nft_plan *plan, bool ifaddr_sets,
		     bool cgroup_sets, struct nft_error *err)
{
	return nft_plan_refill_socket(o->sock, &o->seq, plan, ifaddr_sets, cgroup_sets, err);
}

int nft_owner_flush(struct nft_owner *o, size_t *deleted, struct nft_error *err)
{
	int rc = nft_flush_socket(o->sock, &o->seq, deleted, err);
	if (rc == 0)
		o->plan = NULL; /* nothing to restore any more */
	return rc;
}

/* --- notifications ----------------------------------------------------- */

/* Whether the table in the kernel still has the plan's shape. */
static bool table_intact(const struct nft_plan *plan)
{
	struct nft_table_info info;

	if (nft_table_info_read(&info, NULL) < 0)
		return true; /* cannot tell; do not loop on reloads */
	return info.present && info.chains == CHAIN_COUNT &&
	       info.rules == nft_plan_rule_count(plan);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int nft_owner_watch_event(struct nft_owner *o, struct nft_owner_event *ev,
			  struct nft_error *err)
{
	struct nft_watch w = { .table = NFT_TABLE, .self = nft_owner_portid(o),
			       .kernel_elements = true };
	bool lost = false;
	double start;

	memset(ev, 0, sizeof(*ev));
	if (err)
		memset(err, 0, sizeof(*err));
	if (!o->watch)
		return 0;
	start = now_ms();
	/* an error other than EAGAIN ends the reading like EAGAIN does */
	(void)nft_watch_receive(o->watch, o->buf, WATCH_BUFFER, &w, &lost);
	if (!o->plan)
		return 0;
	if (!w.foreign && !(lost && !table_intact(o->plan)))
		return 0;
	int rc = nft_plan_load_socket(o->sock, &o->seq, o->plan, NFT_TABLE_FLAGS_KEEP,
				      NULL, err);
	if (rc < 0)
		return rc;
	ev->restored = true;
	ev->by_pid = w.pid;
	snprintf(ev->by_name, sizeof(ev->by_name), "%s", w.comm);
	ev->latency_ms = now_ms() - start;
	return 0;
}

/* --- table info ---------------------------------------------------------- */

struct info_ctx {
	struct nft_table_info *info;
	uint16_t msg;
};

static int info_cb(const struct nlmsghdr *nlh, void *data)
{
	struct info_ctx *c = data;
	struct nft_attrs t;
	uint8_t family = 0;

	if (!nft_message_attrs(nlh, &t, &family) || family != NFPROTO_INET)
		return MNL_CB_OK;
	const char *table = nft_attr_str(&t, 1);
	if (!table || strcmp(table, NFT_TABLE))
		return MNL_CB_OK;
	switch (c->msg) {
	case NFT_MSG_GETTABLE:
		c->info->present = true;
		(void)nft_attr_u32(&t, NFTA_TABLE_FLAGS, &c->info->flags);
		(void)nft_attr_u32(&t, NFTA_TABLE_OWNER, &c->info->owner);
		break;
	case NFT_MSG_GETCHAIN:
		c->info->chains++;
		break;
	case NFT_MSG_GETRULE:
		c->info->rules++;
		break;
	case NFT_MSG_GETSET:
		c->info->sets++;
		break;
	}
	return MNL_CB_OK;
}

static void build_table_name(struct nlmsghdr *nlh, const void *table_attr)
{
	mnl_attr_put_strz(nlh, *(const uint16_t *)table_attr, NFT_TABLE);
}

/* One dump of table inet ifwall's objects of a kind (msg), counted in c;
 * table_attr (not 0) names the table in the request. */
static int info_dump(struct netlink *nl, uint16_t msg, uint16_t table_attr,
		     struct info_ctx *c)
{
	int rc;

	c->msg = msg;
	rc = nft_nl_request(nl, msg, NFPROTO_INET, NLM_F_DUMP,
			    table_attr ? build_table_name : NULL, &table_attr, NULL, 0,
			    info_cb, c);
	return rc == -ENOENT ? 0 : rc;
}

int nft_table_info_read(struct nft_table_info *info, struct nft_error *err)
{
	struct info_ctx c = { .info = info };
	struct netlink nl;
	int e = 0, rc;

	memset(info, 0, sizeof(*info));
	struct mnl_socket *s = socket_open(0, &e);
	if (!s)
		return nft_set_error(err, e, "cannot open a netfilter netlink socket: %s",
				   strerror(-e));
	netlink_attach(&nl, s, (uint32_t)time(NULL));
	rc = info_dump(&nl, NFT_MSG_GETTABLE, 0, &c);
	if (rc == 0 && info->present)
		rc = info_dump(&nl, NFT_MSG_GETCHAIN, NFTA_CHAIN_TABLE, &c);
	if (rc == 0 && info->present)
		rc = info_dump(&nl, NFT_MSG_GETRULE, NFTA_RULE_TABLE, &c);
	if (rc == 0 && info->present)
		rc = info_dump(&nl, NFT_MSG_GETSET, NFTA_SET_TABLE, &c);
	mnl_socket_close(s);
	if (rc < 0)
		return nft_set_error(err, rc, "cannot read table inet %s: %s", NFT_TABLE,
				   strerror(-rc));
	return 0;
}
