/* Reload re-check (rules.md: "existing flows are re-checked; a flow the new
 * rules block is blocked from its next packet on"). Packets in a flow's
 * original direction are always evaluated by the rules, so only its
 * replies, which ride on @state, need this: before the rule swap, every
 * element of @state ('ct id . ifname') is matched to its conntrack entry,
 * the flow's first packet is rebuilt from the entry's original tuple and
 * decided by the engine against the new rule set on that interface, and
 * the elements of flows it blocks are deleted in the same transaction as
 * the swap. Flows both rule sets allow keep their element. */
#include "backends/nft_nl.h"
#include "backends/nft_recheck.h"
#include "backends/iftable.h"
#include "backends/nlmsg.h"
#include "filter/engine.h"
#include "filter/grow.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netfilter/nf_tables.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

struct ct_flow {
	uint32_t id;             /* as the bytes of @state's key */
	uint8_t family, proto;
	struct ifw_addr src, dst;
	bool has_ports, has_icmp;
	uint16_t sport, dport;
	uint8_t icmp_type;
};

struct ct_list {
	size_t n, cap;
	struct ct_flow *flows;
	int error;
};

/* The attributes of a nest (nft_nested_attrs(), which ctnetlink's fit:
 * every type read here is below 16). */
static bool parse_nested(const struct nlattr *attr, struct nft_attrs *t)
{
	return attr && mnl_attr_validate(attr, MNL_TYPE_NESTED) >= 0 && nft_nested_attrs(attr, t);
}

static bool attr_bytes(const struct nlattr *a, void *out, size_t len)
{
	if (!a || mnl_attr_get_payload_len(a) != len)
		return false;
	memcpy(out, mnl_attr_get_payload(a), len);
	return true;
}

static int ct_cb(const struct nlmsghdr *nlh, void *data)
{
	struct ct_list *l = data;
	struct nft_attrs top, tuple, ip, proto;
	struct ct_flow f = { 0 };
	uint32_t id;

	if (!nft_message_attrs(nlh, &top, NULL))
		return MNL_CB_OK;
	if (!attr_bytes(top.a[CTA_ID], &id, 4) ||
	    !parse_nested(top.a[CTA_TUPLE_ORIG], &tuple) ||
	    !parse_nested(tuple.a[CTA_TUPLE_IP], &ip) ||
	    !parse_nested(tuple.a[CTA_TUPLE_PROTO], &proto))
		return MNL_CB_OK;
	f.id = id; /* the bytes of 'ct id' in a register, as the set keeps them */
	if (attr_bytes(ip.a[CTA_IP_V4_SRC], f.src.a, 4) &&
	    attr_bytes(ip.a[CTA_IP_V4_DST], f.dst.a, 4))
		f.family = 4;
	else if (attr_bytes(ip.a[CTA_IP_V6_SRC], f.src.a, 16) &&
		 attr_bytes(ip.a[CTA_IP_V6_DST], f.dst.a, 16))
		f.family = 6;
	else
		return MNL_CB_OK;
	f.src.family = f.dst.family = f.family;
	if (!attr_bytes(proto.a[CTA_PROTO_NUM], &f.proto, 1))
		return MNL_CB_OK;
	uint16_t port;
	if (attr_bytes(proto.a[CTA_PROTO_SRC_PORT], &port, 2)) {
		f.sport = ntohs(port);
		if (attr_bytes(proto.a[CTA_PROTO_DST_PORT], &port, 2)) {
			f.dport = ntohs(port);
			f.has_ports = true;
		}
	}
	if (attr_bytes(proto.a[f.family == 4 ? CTA_PROTO_ICMP_TYPE : CTA_PROTO_ICMPV6_TYPE],
		       &f.icmp_type, 1))
		f.has_icmp = true;
	if (grow_array(&l->flows, &l->cap, l->n, sizeof(*l->flows)) < 0) {
		l->error = -ENOMEM;
		return MNL_CB_ERROR;
	}
	l->flows[l->n++] = f;
	return MNL_CB_OK;
}

static int cmp_ct_id(const void *a, const void *b)
{
	const struct ct_flow *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* Dumps the conntrack table (both families) of the current namespace. */
static int ct_dump(struct ct_list *l)
{
	char req[256];
	struct netlink nl;
	int rc = netlink_open(&nl, NETLINK_NETFILTER, NETLINK_OPT_RECV_TIMEOUT);

	if (rc < 0)
		return rc;
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(req);
	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = ++nl.seq;
	struct nfgenmsg *g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->nfgen_family = AF_UNSPEC;
	g->version = NFNETLINK_V0;
	rc = netlink_talk(nl.sock, nlh, NULL, 0, ct_cb, l);
	if (rc < 0 && l->error)
		rc = l->error;
	netlink_close(&nl);
	if (rc == 0 && l->n)
		qsort(l->flows, l->n, sizeof(l->flows[0]), cmp_ct_id);
	return rc;
}

/* Elements of @state, from one NEWSETELEM message of a dump. */
static int elem_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nft_state_elems *e = data;
	struct nft_attrs top, elem, key;
	const struct nlattr *it;

	if (!nft_message_attrs(nlh, &top, NULL) || !top.a[NFTA_SET_ELEM_LIST_ELEMENTS] ||
	    mnl_attr_validate(top.a[NFTA_SET_ELEM_LIST_ELEMENTS], MNL_TYPE_NESTED) < 0)
		return MNL_CB_OK;
	mnl_attr_for_each_nested(it, top.a[NFTA_SET_ELEM_LIST_ELEMENTS]) {
		uint8_t raw[NFT_STATE_KEY_LEN];
		if (!parse_nested(it, &elem) || !parse_nested(elem.a[NFTA_SET_ELEM_KEY], &key) ||
		    !attr_bytes(key.a[NFTA_DATA_VALUE], raw, sizeof(raw)))
			continue;
		if (grow_array(&e->keys, &e->cap, e->n, sizeof(*e->keys)) < 0)
			return MNL_CB_ERROR;
		memcpy(e->keys[e->n++], raw, sizeof(raw));
	}
	return MNL_CB_OK;
}

int nft_state_elems_parse(struct nft_state_elems *e, const void *buf, size_t len)
{
	errno = 0;
	if (mnl_cb_run(buf, nlmsg_valid_prefix(buf, len), 0, 0, elem_cb, e) < 0 &&
	    errno == ENOMEM)
		return -ENOMEM;
	return 0;
}

mnl_cb_t nft_state_elems_cb(void)
{
	return elem_cb;
}

void nft_state_elems_clear(struct nft_state_elems *e)
{
	free(e->keys);
	memset(e, 0, sizeof(*e));
}

/* True when a pass rule with owner criteria (unknown here) would match p
 * if its owner matched: then the flow may be one the new rules pass. */
static bool owner_may_pass(const struct ruleset *rs, const struct packet *p,
			   const struct rule *decided)
{
	for (size_t i = 0; i < rs->nrules; i++) {
		const struct rule *r = &rs->rules[i];
		if (decided && r->index >= decided->index)
			break;
		if (r->action != ACTION_PASS || !(r->has_user || r->has_mark))
			continue;
		struct rule copy = *r;
		copy.has_user = copy.has_mark = false;
		if (rule_matches(&copy, p))
			return true;
	}
	return false;
}

static bool flow_passes(const struct ruleset *rs, struct packet *p, unsigned dir)
{
	p->dir = dir;
	struct decision d = ruleset_decide(rs, p);
	return d.verdict == VERDICT_PASS || owner_may_pass(rs, p, d.rule);
}

int nft_recheck_state(const struct ruleset *rs, const struct nft_state_elems *elems,
		      struct nft_state_elems *blocked, size_t *checked)
{
	struct ct_list cts = { 0 };
	struct iftable *ifs = NULL;
	int rc;

	memset(blocked, 0, sizeof(*blocked));
	*checked = 0;
	if (elems->n == 0)
		return 0;
	if ((rc = ct_dump(&cts)) < 0)
		goto out;
	if ((rc = iftable_open(&ifs, 0)) < 0)
		goto out;
	const struct ifaddr_table *local = iftable_ifaddrs(ifs);
	for (size_t i = 0; i < elems->n; i++) {
		const uint8_t *key = elems->keys[i];
		struct ct_flow want;
		char ifname[IFNAMSIZ + 1] = { 0 };

		memcpy(&want.id, key, 4);
		memcpy(ifname, key + 4, IFNAMSIZ);
		const struct ct_flow *f = bsearch(&want, cts.flows, cts.n, sizeof(cts.flows[0]),
						  cmp_ct_id);
		/* No entry: the flow ended, its element is about to expire.
		 * lo: the answers of rejected packets. */
		if (!f || !strcmp(ifname, "lo"))
			continue;
		struct packet p;
		memset(&p, 0, sizeof(p));
		p.family = f->family;
		p.proto = f->proto;
		p.src = f->src;
		p.dst = f->dst;
		p.has_ports = f->has_ports;
		p.sport = f->sport;
		p.dport = f->dport;
		p.has_icmp = f->has_icmp;
		p.icmp_type = f->icmp_type;
		memcpy(p.ifname, ifname, sizeof(p.ifname) - 1);
		p.iftype = IFTYPE_ETHER;
		for (size_t k = 0; k < iftable_count(ifs); k++) {
			const struct iftable_interface *it = iftable_at(ifs, k);
			if (!strcmp(it->name, ifname))
				p.iftype = it->type;
		}
		p.ifaddrs = local;
		/* The flow passed here as its first packet did: out when it
		 * came from this host, in when it was for this host; a
		 * forwarded flow passed in on one interface and out on the
		 * other, and keeps its element if either still passes. */
		bool from_here = ifaddr_table_owner(local, &f->src) != NULL;
		bool to_here = ifaddr_table_owner(local, &f->dst) != NULL;
		bool passes;
		(*checked)++;
		if (from_here)
			passes = flow_passes(rs, &p, DIR_OUT);
		else if (to_here)
			passes = flow_passes(rs, &p, DIR_IN);
		else
			passes = flow_passes(rs, &p, DIR_IN) || flow_passes(rs, &p, DIR_OUT);
		if (passes)
			continue;
		if (grow_array(&blocked->keys, &blocked->cap, blocked->n,
			       sizeof(*blocked->keys)) < 0) {
			rc = -ENOMEM;
			goto out;
		}
		memcpy(blocked->keys[blocked->n++], key, NFT_STATE_KEY_LEN);
	}
out:
	iftable_free(ifs);
	free(cts.flows);
	if (rc < 0)
		nft_state_elems_clear(blocked);
	return rc;
}
