/* The other firewall tables on ifwall's hooks, for 'ifwall status': base
 * chains of other tables (ip, ip6, inet) on input, forward and output. A
 * packet is accepted only when every base chain on its hook accepts it, so
 * a drop there blocks what ifwall passes. Read only; never changed. */
#include "backends/nft_nl.h"
#include "backends/nft_owner.h"
#include "filter/grow.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables_compat.h>
#include <stdlib.h>
#include <string.h>

struct foreign_ctx {
	struct nft_foreign_chain *chains;
	size_t n, cap;
	uint16_t msg;
	int error;
};

static const char *family_name(uint8_t f)
{
	switch (f) {
	case NFPROTO_IPV4: return "ip";
	case NFPROTO_IPV6: return "ip6";
	case NFPROTO_INET: return "inet";
	default: return NULL;
	}
}

static const char *hook_name(uint32_t hook)
{
	switch (hook) {
	case NF_INET_LOCAL_IN: return "input";
	case NF_INET_FORWARD: return "forward";
	case NF_INET_LOCAL_OUT: return "output";
	default: return NULL;
	}
}

static bool is_ifwall(const char *table)
{
	return !strncmp(table, NFT_TABLE, strlen(NFT_TABLE)) &&
	       (table[strlen(NFT_TABLE)] == '\0' || table[strlen(NFT_TABLE)] == '_' ||
		table[strlen(NFT_TABLE)] == '-');
}

/* A rule that can drop: an immediate drop verdict, a reject, or an
 * xtables DROP/REJECT target (iptables-nft). */
static bool rule_drops(const struct nlattr *exprs)
{
	const struct nlattr *elem;

	if (!exprs)
		return false;
	mnl_attr_for_each_nested(elem, exprs) {
		struct nft_attrs e, d, data, verdict;
		if (!nft_nested_attrs(elem, &e))
			continue;
		const char *name = nft_attr_str(&e, NFTA_EXPR_NAME);
		if (!name)
			continue;
		if (!strcmp(name, "reject"))
			return true;
		if (!nft_nested_attrs(e.a[NFTA_EXPR_DATA], &d))
			continue;
		if (!strcmp(name, "target")) {
			const char *t = nft_attr_str(&d, NFTA_TARGET_NAME);
			if (t && (!strcmp(t, "REJECT") || !strcmp(t, "DROP")))
				return true;
		} else if (!strcmp(name, "immediate")) {
			uint32_t code;
			if (nft_nested_attrs(d.a[NFTA_IMMEDIATE_DATA], &data) &&
			    nft_nested_attrs(data.a[NFTA_DATA_VERDICT], &verdict) &&
			    nft_attr_u32(&verdict, NFTA_VERDICT_CODE, &code) && code == NF_DROP)
				return true;
		}
	}
	return false;
}

static int foreign_cb(const struct nlmsghdr *nlh, void *data)
{
	struct foreign_ctx *c = data;
	struct nft_attrs tb;
	uint8_t nfproto;
	const char *family;

	if (!nft_message_attrs(nlh, &tb, &nfproto) || !(family = family_name(nfproto)))
		return MNL_CB_OK;
	/* every object names its table in attribute 1 */
	const char *table = nft_attr_str(&tb, 1);
	if (!table || is_ifwall(table))
		return MNL_CB_OK;
	if (c->msg == NFT_MSG_GETCHAIN) {
		struct nft_attrs hook;
		uint32_t hooknum, prio = 0, policy = NF_ACCEPT;
		const char *name = nft_attr_str(&tb, NFTA_CHAIN_NAME), *h;
		if (!name || !nft_nested_attrs(tb.a[NFTA_CHAIN_HOOK], &hook) ||
		    !nft_attr_u32(&hook, NFTA_HOOK_HOOKNUM, &hooknum) || !(h = hook_name(hooknum)))
			return MNL_CB_OK;
		(void)nft_attr_u32(&hook, NFTA_HOOK_PRIORITY, &prio);
		(void)nft_attr_u32(&tb, NFTA_CHAIN_POLICY, &policy);
		if (grow_array(&c->chains, &c->cap, c->n, sizeof(*c->chains)) < 0) {
			c->error = -ENOMEM;
			return MNL_CB_ERROR;
		}
		struct nft_foreign_chain *fc = &c->chains[c->n++];
		memset(fc, 0, sizeof(*fc));
		snprintf(fc->family, sizeof(fc->family), "%s", family);
		snprintf(fc->table, sizeof(fc->table), "%s", table);
		snprintf(fc->chain, sizeof(fc->chain), "%s", name);
		snprintf(fc->hook, sizeof(fc->hook), "%s", h);
		const char *type = nft_attr_str(&tb, NFTA_CHAIN_TYPE);
		snprintf(fc->type, sizeof(fc->type), "%s", type ? type : "filter");
		fc->priority = (int32_t)prio;
		fc->policy_drop = policy == NF_DROP;
	} else if (c->msg == NFT_MSG_GETRULE && rule_drops(tb.a[NFTA_RULE_EXPRESSIONS])) {
		for (size_t i = 0; i < c->n; i++)
			if (!strcmp(c->chains[i].table, table) &&
			    !strcmp(c->chains[i].family, family))
				c->chains[i].table_drop_rules++;
	}
	return MNL_CB_OK;
}

static int dump(struct netlink *nl, uint16_t msg, struct foreign_ctx *c)
{
	int rc;

	c->msg = msg;
	rc = nft_nl_request(nl, msg, NFPROTO_UNSPEC, NLM_F_DUMP, NULL, NULL, NULL, 0,
			    foreign_cb, c);
	return rc < 0 && c->error ? c->error : rc;
}

int nft_foreign_chains_read(struct nft_foreign_chain **out, size_t *count,
			    struct nft_error *err)
{
	struct foreign_ctx c = { 0 };
	struct netlink nl;
	int rc;

	*out = NULL;
	*count = 0;
	if (err)
		memset(err, 0, sizeof(*err));
	rc = netlink_open(&nl, NETLINK_NETFILTER, NETLINK_OPT_RECV_TIMEOUT);
	if (rc == 0) {
		rc = dump(&nl, NFT_MSG_GETCHAIN, &c);
		if (rc == 0 && c.n)
			rc = dump(&nl, NFT_MSG_GETRULE, &c);
	}
	netlink_close(&nl);
	if (rc < 0) {
		free(c.chains);
		return nft_set_error(err, rc, "cannot list the nftables chains: %s",
				     strerror(-rc));
	}
	*out = c.chains;
	*count = c.n;
	return 0;
}
