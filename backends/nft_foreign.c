/* The other firewall tables on ifwall's hooks, for 'ifwall status': base
 * chains of other tables (ip, ip6, inet) on input, forward and output. A
 * packet is accepted only when every base chain on its hook accepts it, so
 * a drop there blocks what ifwall passes. Read only; never changed. */
#include "backends/nft_nl.h"
#include "backends/nft_owner.h"

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

static int attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	uint16_t type = mnl_attr_get_type(attr);

	if (type < 16)
		tb[type] = attr;
	return MNL_CB_OK;
}

static const char *str_attr(const struct nlattr *a)
{
	return a && mnl_attr_validate(a, MNL_TYPE_NUL_STRING) >= 0 ? mnl_attr_get_str(a) : NULL;
}

static bool u32_attr(const struct nlattr *a, uint32_t *v)
{
	if (!a || mnl_attr_validate(a, MNL_TYPE_U32) < 0)
		return false;
	*v = ntohl(mnl_attr_get_u32(a));
	return true;
}

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
		const struct nlattr *e[16] = { 0 }, *d[16] = { 0 };
		if (mnl_attr_parse_nested(elem, attr_cb, e) < 0)
			continue;
		const char *name = str_attr(e[NFTA_EXPR_NAME]);
		if (!name)
			continue;
		if (!strcmp(name, "reject"))
			return true;
		if (!e[NFTA_EXPR_DATA] || mnl_attr_parse_nested(e[NFTA_EXPR_DATA], attr_cb, d) < 0)
			continue;
		if (!strcmp(name, "target")) {
			const char *t = str_attr(d[NFTA_TARGET_NAME]);
			if (t && (!strcmp(t, "REJECT") || !strcmp(t, "DROP")))
				return true;
		} else if (!strcmp(name, "immediate") && d[NFTA_IMMEDIATE_DATA]) {
			const struct nlattr *data[16] = { 0 }, *verdict[16] = { 0 };
			uint32_t code;
			if (mnl_attr_parse_nested(d[NFTA_IMMEDIATE_DATA], attr_cb, data) >= 0 &&
			    data[NFTA_DATA_VERDICT] &&
			    mnl_attr_parse_nested(data[NFTA_DATA_VERDICT], attr_cb, verdict) >= 0 &&
			    u32_attr(verdict[NFTA_VERDICT_CODE], &code) && code == NF_DROP)
				return true;
		}
	}
	return false;
}

static int foreign_cb(const struct nlmsghdr *nlh, void *data)
{
	struct foreign_ctx *c = data;
	const struct nlattr *tb[16] = { 0 };
	const struct nfgenmsg *g;

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*g)))
		return MNL_CB_OK;
	g = mnl_nlmsg_get_payload(nlh);
	const char *family = family_name(g->nfgen_family);
	if (!family || mnl_attr_parse(nlh, sizeof(*g), attr_cb, tb) < 0)
		return MNL_CB_OK;
	const char *table = str_attr(tb[1]);
	if (!table || is_ifwall(table))
		return MNL_CB_OK;
	if (c->msg == NFT_MSG_GETCHAIN) {
		const struct nlattr *hook[16] = { 0 };
		uint32_t hooknum, prio = 0, policy = NF_ACCEPT;
		const char *name = str_attr(tb[NFTA_CHAIN_NAME]), *h;
		if (!name || !tb[NFTA_CHAIN_HOOK] ||
		    mnl_attr_parse_nested(tb[NFTA_CHAIN_HOOK], attr_cb, hook) < 0 ||
		    !u32_attr(hook[NFTA_HOOK_HOOKNUM], &hooknum) || !(h = hook_name(hooknum)))
			return MNL_CB_OK;
		(void)u32_attr(hook[NFTA_HOOK_PRIORITY], &prio);
		(void)u32_attr(tb[NFTA_CHAIN_POLICY], &policy);
		if (c->n == c->cap) {
			size_t cap = c->cap ? c->cap * 2 : 16;
			struct nft_foreign_chain *n = realloc(c->chains, cap * sizeof(*n));
			if (!n) {
				c->error = -ENOMEM;
				return MNL_CB_ERROR;
			}
			c->chains = n;
			c->cap = cap;
		}
		struct nft_foreign_chain *fc = &c->chains[c->n++];
		memset(fc, 0, sizeof(*fc));
		snprintf(fc->family, sizeof(fc->family), "%s", family);
		snprintf(fc->table, sizeof(fc->table), "%s", table);
		snprintf(fc->chain, sizeof(fc->chain), "%s", name);
		snprintf(fc->hook, sizeof(fc->hook), "%s", h);
		const char *type = str_attr(tb[NFTA_CHAIN_TYPE]);
		snprintf(fc->type, sizeof(fc->type), "%s", type ? type : "filter");
		fc->priority = (int32_t)prio;
		fc->policy_drop = policy == NF_DROP;
	} else if (c->msg == NFT_MSG_GETRULE && rule_drops(tb[NFTA_RULE_EXPRESSIONS])) {
		for (size_t i = 0; i < c->n; i++)
			if (!strcmp(c->chains[i].table, table) &&
			    !strcmp(c->chains[i].family, family))
				c->chains[i].table_drop_rules++;
	}
	return MNL_CB_OK;
}

static int dump(struct nl_sock *nl, uint16_t msg, struct foreign_ctx *c)
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
	struct nl_sock nl;
	int rc;

	*out = NULL;
	*count = 0;
	if (err)
		memset(err, 0, sizeof(*err));
	rc = nl_open(&nl, NETLINK_NETFILTER, NL_RECV_TIMEOUT);
	if (rc == 0) {
		rc = dump(&nl, NFT_MSG_GETCHAIN, &c);
		if (rc == 0 && c.n)
			rc = dump(&nl, NFT_MSG_GETRULE, &c);
	}
	nl_close(&nl);
	if (rc < 0) {
		free(c.chains);
		return nft_set_error(err, rc, "cannot list the nftables chains: %s",
				     strerror(-rc));
	}
	*out = c.chains;
	*count = c.n;
	return 0;
}
