/* Shared by the nf_tables netlink modules, see nft_nl.h. */
#include "backends/nft_nl.h"

#include <arpa/inet.h>
#include <endian.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <libnftnl/common.h>

int nft_nl_open(struct netlink *nl, struct nft_error *err)
{
	int rc = netlink_open(nl, NETLINK_NETFILTER,
			      NFT_NL_BATCH_OPTIONS | NETLINK_OPT_RECV_TIMEOUT);

	if (rc < 0)
		return nft_set_error(err, rc, "cannot open a netfilter netlink socket: %s",
				     strerror(-rc));
	return 0;
}

int nft_nl_request(struct netlink *nl, uint16_t type, uint16_t family, uint16_t flags,
		   void (*build)(struct nlmsghdr *, const void *), const void *arg,
		   void *buf, size_t size, mnl_cb_t cb, void *data)
{
	char req[512];
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(req, type, family, flags, ++nl->seq);

	if (build)
		build(nlh, arg);
	return netlink_talk(nl->sock, nlh, buf, size, cb, data);
}

static int attrs_cb(const struct nlattr *attr, void *data)
{
	struct nft_attrs *t = data;
	uint16_t type = mnl_attr_get_type(attr);

	if (type < sizeof(t->a) / sizeof(t->a[0]))
		t->a[type] = attr;
	return MNL_CB_OK;
}

bool nft_message_attrs(const struct nlmsghdr *nlh, struct nft_attrs *t, uint8_t *family)
{
	memset(t, 0, sizeof(*t));
	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(struct nfgenmsg)))
		return false;
	if (family)
		*family = ((const struct nfgenmsg *)mnl_nlmsg_get_payload(nlh))->nfgen_family;
	return mnl_attr_parse(nlh, sizeof(struct nfgenmsg), attrs_cb, t) >= 0;
}

bool nft_attrs_parse(const struct nlmsghdr *nlh, unsigned offset, struct nft_attrs *t)
{
	memset(t, 0, sizeof(*t));
	return mnl_attr_parse(nlh, offset, attrs_cb, t) >= 0;
}

bool nft_nested_attrs(const struct nlattr *attr, struct nft_attrs *t)
{
	memset(t, 0, sizeof(*t));
	return attr && mnl_attr_parse_nested(attr, attrs_cb, t) >= 0;
}

const char *nft_attr_str(const struct nft_attrs *t, unsigned type)
{
	const struct nlattr *a = type < 16 ? t->a[type] : NULL;

	return a && mnl_attr_validate(a, MNL_TYPE_NUL_STRING) >= 0 ? mnl_attr_get_str(a) : NULL;
}

bool nft_attr_u32(const struct nft_attrs *t, unsigned type, uint32_t *v)
{
	const struct nlattr *a = type < 16 ? t->a[type] : NULL;

	if (!a || mnl_attr_validate(a, MNL_TYPE_U32) < 0)
		return false;
	*v = ntohl(mnl_attr_get_u32(a));
	return true;
}

bool nft_attr_u64(const struct nft_attrs *t, unsigned type, uint64_t *v)
{
	const struct nlattr *a = type < 16 ? t->a[type] : NULL;

	if (!a || mnl_attr_validate(a, MNL_TYPE_U64) < 0)
		return false;
	*v = be64toh(mnl_attr_get_u64(a));
	return true;
}

int nft_watch_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nft_watch *w = data;
	struct nft_attrs t;
	uint8_t family = 0;
	uint16_t msg;

	if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES ||
	    !nft_message_attrs(nlh, &t, &family))
		return MNL_CB_OK;
	msg = NFNL_MSG_TYPE(nlh->nlmsg_type);
	if (msg == NFT_MSG_NEWGEN) {
		/* Ends each transaction's notifications, naming its process. */
		uint32_t pid = 0;
		w->unended = false;
		(void)nft_attr_u32(&t, NFTA_GEN_PROC_PID, &pid);
		if (w->foreign && !w->pid && pid) {
			const char *comm = nft_attr_str(&t, NFTA_GEN_PROC_NAME);
			w->pid = pid;
			snprintf(w->comm, sizeof(w->comm), "%s", comm ? comm : "");
		}
		return MNL_CB_OK;
	}
	if (nlh->nlmsg_pid == w->self)
		return MNL_CB_OK;
	if (!w->kernel_elements && nlh->nlmsg_pid == 0 &&
	    (msg == NFT_MSG_NEWSETELEM || msg == NFT_MSG_DELSETELEM))
		return MNL_CB_OK;
	/* every nf_tables object message names its table in attribute 1
	 * (NFTA_TABLE_NAME, NFTA_CHAIN_TABLE, NFTA_RULE_TABLE, NFTA_SET_TABLE,
	 * NFTA_SET_ELEM_LIST_TABLE, NFTA_OBJ_TABLE, NFTA_FLOWTABLE_TABLE) */
	const char *table = nft_attr_str(&t, 1);
	if (family == NFPROTO_INET && table && !strcmp(table, w->table))
		w->foreign = w->unended = true;
	return MNL_CB_OK;
}

int nft_watch_receive(struct mnl_socket *sock, void *buf, size_t size,
		      struct nft_watch *w, bool *lost)
{
	int total = 0;

	for (int waits = 0;; waits++) {
		int r = netlink_receive_queued(sock, buf, size, nft_watch_cb, w, lost);
		if (r < 0)
			return total ? total : r;
		total += r;
		if (!w->unended || waits == 5)
			return total;
		struct pollfd p = { .fd = mnl_socket_get_fd(sock), .events = POLLIN };
		(void)poll(&p, 1, 50);
	}
}
