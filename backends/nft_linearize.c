/* Plan -> libnftnl objects, see nft_linearize.h. */
#include "backends/nft_linearize.h"
#include "backends/nft_expr.h"

#include <arpa/inet.h>
#include <libnftnl/chain.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

/* nft's user data for 'typeof ct id . iifname' (key byte order, then the
 * typeof description: concat of ct(key id, no direction) and
 * meta(key iifname)), so that 'nft list' shows the state set as written. */
static const uint8_t state_set_udata[] = {
	0x00, 0x04, 0x00, 0x00, 0x00, 0x00,
	0x03, 0x2e,
	  0x00, 0x04, 0x0d, 0x00, 0x00, 0x00,
	  0x01, 0x26,
	    0x00, 0x14,
	      0x00, 0x04, 0x0c, 0x00, 0x00, 0x00,
	      0x01, 0x0c,
		0x00, 0x04, 0x17, 0x00, 0x00, 0x00,
		0x01, 0x04, 0xff, 0xff, 0xff, 0xff,
	    0x01, 0x0e,
	      0x00, 0x04, 0x09, 0x00, 0x00, 0x00,
	      0x01, 0x06,
		0x00, 0x04, 0x06, 0x00, 0x00, 0x00,
};

/* A table, or a chain or set of ifwall's table, named for a message. */
struct nftnl_table *nft_table_named(uint32_t family, const char *name)
{
	struct nftnl_table *t = nftnl_table_alloc();

	if (t) {
		nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, family);
		nftnl_table_set_str(t, NFTNL_TABLE_NAME, name);
	}
	return t;
}

struct nftnl_chain *nft_chain_named(const char *name)
{
	struct nftnl_chain *c = nftnl_chain_alloc();

	if (c) {
		nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
		nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, NFT_TABLE);
		nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
	}
	return c;
}

struct nftnl_set *nft_set_named(const char *name)
{
	struct nftnl_set *s = nftnl_set_alloc();

	if (s) {
		nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
		nftnl_set_set_str(s, NFTNL_SET_TABLE, NFT_TABLE);
		nftnl_set_set_str(s, NFTNL_SET_NAME, name);
	}
	return s;
}

/* --- plan rule -> kernel rule ---------------------------------------------- */

/* register 1 in the plan set s (by its id too when anonymous: it is
 * added in the same batch). */
static bool set_lookup(struct nftnl_rule *r, const struct plan_set *s, bool invert)
{
	return nft_expr_lookup(r, NFT_REG_1, s->name, s->anonymous ? s->id : 0, invert);
}

/* register 1 = len bytes at offset of the network header */
static bool network_header(struct nftnl_rule *r, uint32_t offset, uint32_t len)
{
	return nft_expr_payload(r, NFT_PAYLOAD_NETWORK_HEADER, offset, len, NFT_REG_1);
}

/* register 1 &= mask */
static bool mask_reg1(struct nftnl_rule *r, const uint8_t *mask, uint32_t len)
{
	uint8_t zero[16] = { 0 };

	return nft_expr_bitwise(r, NFT_REG_1, mask, zero, len);
}

/* The key of @state: ct id . the interface (in or out). */
static bool state_key(struct nftnl_rule *r, bool out)
{
	return nft_expr_ct(r, NFT_CT_ID, NFT_REG_1) &&
	       nft_expr_meta(r, out ? NFT_META_OIFNAME : NFT_META_IIFNAME, NFT_REG32_01);
}

/* The flow's @state element added or its timeout renewed; ifname (not
 * NULL) in place of the packet's interface. */
static bool state_update(struct nftnl_rule *r, bool out, const char *ifname,
			 uint32_t timeout)
{
	if (ifname) {
		char name[IFNAMSIZ] = { 0 };
		memcpy(name, ifname, strnlen(ifname, IFNAMSIZ - 1));
		if (!nft_expr_ct(r, NFT_CT_ID, NFT_REG_1) ||
		    !nft_expr_immediate(r, NFT_REG32_01, name, IFNAMSIZ))
			return false;
	} else if (!state_key(r, out)) {
		return false;
	}
	return nft_expr_dynset(r, NFT_REG_1, NFT_DYNSET_OP_UPDATE, PLAN_STATE_SET, 0,
			       (uint64_t)timeout * 1000);
}

/* The rule's verdict (none for PLAN_CONTINUE). */
static bool rule_verdict(struct nftnl_rule *nr, const struct plan_rule *r)
{
	switch (r->verdict) {
	case PLAN_CONTINUE:
		return true;
	case PLAN_ACCEPT:
		return nft_expr_verdict(nr, NF_ACCEPT, NULL);
	case PLAN_DROP:
		return nft_expr_verdict(nr, NF_DROP, NULL);
	case PLAN_RETURN:
		return nft_expr_verdict(nr, NFT_RETURN, NULL);
	case PLAN_JUMP:
		return nft_expr_verdict(nr, NFT_JUMP, plan_chain_names[r->target]);
	case PLAN_GOTO:
		return nft_expr_verdict(nr, NFT_GOTO, plan_chain_names[r->target]);
	}
	return true;
}

/* m's value (len bytes in host order) compared with register 1, or
 * looked up in m's set. */
static bool add_value_match(struct nftnl_rule *r, const struct nft_plan *plan,
			    const struct plan_match *m, uint32_t len)
{
	uint8_t data[4];

	if (m->set >= 0)
		return set_lookup(r, &plan->sets[m->set], m->negate);
	switch (len) {
	case 1:
		data[0] = (uint8_t)m->value;
		break;
	case 2: {
		uint16_t v = (uint16_t)m->value;
		memcpy(data, &v, 2);
		break;
	}
	default:
		memcpy(data, &m->value, 4);
		len = 4;
		break;
	}
	return nft_expr_cmp(r, NFT_REG_1, m->negate ? NFT_CMP_NEQ : NFT_CMP_EQ, data, len);
}

static bool add_addr_match(struct nftnl_rule *r, const struct nft_plan *plan,
			   const struct plan_match *m)
{
	uint32_t size = m->family == 4 ? 4 : 16;
	uint32_t offset = m->family == 4 ? (m->dst ? 16 : 12) : (m->dst ? 24 : 8);
	uint32_t op = m->negate ? NFT_CMP_NEQ : NFT_CMP_EQ;

	if (m->set >= 0)
		return network_header(r, offset, size) &&
		       set_lookup(r, &plan->sets[m->set], m->negate);
	if (m->addr_range)
		return network_header(r, offset, size) &&
		       nft_expr_range(r, NFT_REG_1, m->negate ? NFT_RANGE_NEQ : NFT_RANGE_EQ,
				      m->range.lo, m->range.hi, size);
	if (m->addr.len % 8 == 0) {
		uint32_t bytes = m->addr.len / 8;
		if (bytes == 0)
			bytes = size; /* /0 never gets here; be safe */
		return network_header(r, offset, bytes) &&
		       nft_expr_cmp(r, NFT_REG_1, op, m->addr.addr.a, bytes);
	}
	uint8_t mask[16] = { 0 };
	for (unsigned i = 0; i < m->addr.len; i++)
		mask[i / 8] |= (uint8_t)(0x80 >> (i % 8));
	return network_header(r, offset, size) &&
	       mask_reg1(r, mask, size) &&
	       nft_expr_cmp(r, NFT_REG_1, op, m->addr.addr.a, size);
}

static bool add_match(struct nftnl_rule *r, const struct nft_plan *plan,
		      const struct plan_match *m)
{
	uint32_t op = m->negate ? NFT_CMP_NEQ : NFT_CMP_EQ;

	switch (m->kind) {
	case MATCH_IFNAME: {
		char name[IFNAMSIZ] = { 0 };
		memcpy(name, m->ifname, strnlen(m->ifname, IFNAMSIZ));
		return nft_expr_meta(r, m->out ? NFT_META_OIFNAME : NFT_META_IIFNAME,
				     NFT_REG_1) &&
		       nft_expr_cmp(r, NFT_REG_1, op, name,
				    m->prefix ? (uint32_t)strnlen(name, IFNAMSIZ) : IFNAMSIZ);
	}
	case MATCH_IFTYPE:
		return nft_expr_meta(r, m->out ? NFT_META_OIFTYPE : NFT_META_IIFTYPE,
				     NFT_REG_1) &&
		       add_value_match(r, plan, m, 2);
	case MATCH_NFPROTO: {
		uint8_t v = m->family == 4 ? NFPROTO_IPV4 : NFPROTO_IPV6;
		return nft_expr_meta(r, NFT_META_NFPROTO, NFT_REG_1) &&
		       nft_expr_cmp(r, NFT_REG_1, NFT_CMP_EQ, &v, 1);
	}
	case MATCH_L4PROTO:
		return nft_expr_meta(r, NFT_META_L4PROTO, NFT_REG_1) &&
		       add_value_match(r, plan, m, 1);
	case MATCH_ADDR:
		return add_addr_match(r, plan, m);
	case MATCH_PORT: {
		if (!nft_expr_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, m->dst ? 2 : 0, 2,
				      NFT_REG_1))
			return false;
		if (m->set >= 0)
			return set_lookup(r, &plan->sets[m->set], m->negate);
		if (m->value == m->value_hi) {
			uint16_t v = htons((uint16_t)m->value);
			return nft_expr_cmp(r, NFT_REG_1, op, &v, 2);
		}
		uint16_t lo = htons((uint16_t)m->value);
		uint16_t hi = htons((uint16_t)m->value_hi);
		return nft_expr_range(r, NFT_REG_1, m->negate ? NFT_RANGE_NEQ : NFT_RANGE_EQ,
				      &lo, &hi, 2);
	}
	case MATCH_ICMP_TYPE:
		return nft_expr_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1, NFT_REG_1) &&
		       add_value_match(r, plan, m, 1);
	case MATCH_SKUID:
		return nft_expr_meta(r, NFT_META_SKUID, NFT_REG_1) &&
		       add_value_match(r, plan, m, 4);
	case MATCH_MARK:
		return nft_expr_meta(r, NFT_META_MARK, NFT_REG_1) &&
		       add_value_match(r, plan, m, 4);
	case MATCH_CGROUP:
		/* The id of the local socket's cgroup ancestor at the
		 * pattern's level (no socket, or a shallower cgroup: no
		 * match), looked up in the rule's set. */
		return nft_expr_socket(r, NFT_SOCKET_CGROUPV2, m->value, NFT_REG_1) &&
		       set_lookup(r, &plan->sets[m->set], false);
	case MATCH_FIB_LOCAL_OTHER_IF: {
		uint32_t local = RTN_LOCAL;
		return nft_expr_fib(r, NFTA_FIB_F_DADDR, NFT_FIB_RESULT_ADDRTYPE, NFT_REG_1) &&
		       nft_expr_cmp(r, NFT_REG_1, NFT_CMP_EQ, &local, 4) &&
		       nft_expr_fib(r, NFTA_FIB_F_DADDR | NFTA_FIB_F_IIF,
				    NFT_FIB_RESULT_ADDRTYPE, NFT_REG_1) &&
		       nft_expr_cmp(r, NFT_REG_1, NFT_CMP_NEQ, &local, 4);
	}
	case MATCH_CT_REPLY: {
		uint8_t reply = 1; /* IP_CT_DIR_REPLY */
		return nft_expr_ct(r, NFT_CT_DIRECTION, NFT_REG_1) &&
		       nft_expr_cmp(r, NFT_REG_1, NFT_CMP_EQ, &reply, 1);
	}
	case MATCH_CT_RELATED:
	case MATCH_CT_UNCONFIRMED: {
		/* ct state related: the state bit of IP_CT_RELATED;
		 * ct status & confirmed == 0: IPS_CONFIRMED (host order). */
		bool related = m->kind == MATCH_CT_RELATED;
		uint32_t bit = related ? 0x04 : 0x08, zero = 0;
		return nft_expr_ct(r, related ? NFT_CT_STATE : NFT_CT_STATUS, NFT_REG_1) &&
		       mask_reg1(r, (const uint8_t *)&bit, 4) &&
		       nft_expr_cmp(r, NFT_REG_1, related ? NFT_CMP_NEQ : NFT_CMP_EQ, &zero, 4);
	}
	case MATCH_CT_EXPIRATION_LE: {
		/* milliseconds, host order; compared big-endian as nft does */
		uint32_t ms = htonl(m->value * 1000);
		return nft_expr_ct(r, NFT_CT_EXPIRATION, NFT_REG_1) &&
		       nft_expr_byteorder(r, NFT_REG_1, NFT_REG_1, NFT_BYTEORDER_HTON, 4, 4) &&
		       nft_expr_cmp(r, NFT_REG_1, NFT_CMP_LTE, &ms, 4);
	}
	case MATCH_STATE: {
		const struct plan_set *state = NULL;
		for (size_t i = 0; i < plan->nsets; i++)
			if (plan->sets[i].kind == SETKIND_STATE)
				state = &plan->sets[i];
		if (!state_key(r, m->out))
			return false;
		return !state || set_lookup(r, state, false);
	}
	}
	return true;
}

static void rule_udata(struct nftnl_rule *nr, const struct plan_rule *r)
{
	struct nftnl_udata_buf *u = nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN);
	char comment[256];

	if (!u)
		return;
	if (plan_rule_comment(r, comment, sizeof(comment)))
		nftnl_udata_put_strz(u, PLAN_UDATA_COMMENT, comment);
	nftnl_udata_put_u32(u, PLAN_UDATA_ROLE, (uint32_t)r->role);
	if (r->role == ROLE_DEFAULT)
		nftnl_udata_put_u32(u, PLAN_UDATA_DIR, r->default_dir);
	if (r->role == ROLE_USER) {
		nftnl_udata_put_u32(u, PLAN_UDATA_INDEX, (uint32_t)r->rule->index);
		if (r->rule->text) {
			/* What is left of the 256 bytes, minus the header and NUL. */
			long room = (long)NFT_USERDATA_MAXLEN -
				    (long)nftnl_udata_buf_len(u) - 3;
			char text[256];
			if (room > 255 - 1)
				room = 255 - 1;
			if (room > 4) {
				size_t len = strlen(r->rule->text);
				if ((long)len > room) {
					memcpy(text, r->rule->text, (size_t)room - 3);
					memcpy(text + room - 3, "...", 4);
				} else {
					memcpy(text, r->rule->text, len + 1);
				}
				nftnl_udata_put_strz(u, PLAN_UDATA_TEXT, text);
			}
		}
	}
	nftnl_rule_set_data(nr, NFTNL_RULE_USERDATA, nftnl_udata_buf_data(u),
			    nftnl_udata_buf_len(u));
	nftnl_udata_buf_free(u);
}

struct nftnl_rule *nft_linearize_rule(const struct nft_plan *plan, const struct plan_rule *r)
{
	struct nftnl_rule *nr = nftnl_rule_alloc();
	bool ok = true;

	if (!nr)
		return NULL;
	nftnl_rule_set_u32(nr, NFTNL_RULE_FAMILY, NFPROTO_INET);
	nftnl_rule_set_str(nr, NFTNL_RULE_TABLE, NFT_TABLE);
	nftnl_rule_set_str(nr, NFTNL_RULE_CHAIN, plan_chain_names[r->chain]);
	for (size_t i = 0; ok && i < r->nmatches; i++)
		ok = add_match(nr, plan, &r->matches[i]);
	if (ok && r->state_update)
		ok = state_update(nr, r->state_update_out, r->state_update_ifname,
				  r->state_timeout);
	if (ok && r->counter)
		ok = nft_expr_counter(nr);
	if (ok && r->log_limit)
		ok = nft_expr_limit(nr, PLAN_LOG_RATE, 1, PLAN_LOG_BURST, NFT_LIMIT_PKTS);
	if (ok && r->log)
		ok = nft_expr_log(nr, r->log_prefix, PLAN_LOG_GROUP);
	if (ok && r->reject == REJECT_TCP_RESET)
		ok = nft_expr_reject(nr, NFT_REJECT_TCP_RST, 0);
	else if (ok && r->reject == REJECT_ICMPX_ADMIN)
		ok = nft_expr_reject(nr, NFT_REJECT_ICMPX_UNREACH,
				     NFT_REJECT_ICMPX_ADMIN_PROHIBITED);
	if (ok)
		ok = rule_verdict(nr, r);
	if (!ok) {
		nftnl_rule_free(nr);
		return NULL;
	}
	rule_udata(nr, r);
	return nr;
}

/* --- sets ------------------------------------------------------------------ */

struct nft_set_shape nft_set_shape(const struct plan_set *s)
{
	struct nft_set_shape sh = { 0 };

	switch (s->kind) {
	case SETKIND_ADDR4:
		sh = (struct nft_set_shape){ NFT_SET_INTERVAL, NFT_TYPE_IPADDR, 4, 2 };
		break;
	case SETKIND_ADDR6:
		sh = (struct nft_set_shape){ NFT_SET_INTERVAL, NFT_TYPE_IP6ADDR, 16, 2 };
		break;
	case SETKIND_PORT:
		sh = (struct nft_set_shape){ NFT_SET_INTERVAL, NFT_TYPE_INET_SERVICE, 2, 2 };
		break;
	case SETKIND_L4PROTO:
		sh = (struct nft_set_shape){ 0, NFT_TYPE_INET_PROTOCOL, 1, 1 };
		break;
	case SETKIND_ARPHRD:
		sh = (struct nft_set_shape){ 0, NFT_TYPE_ARPHRD, 2, 1 };
		break;
	case SETKIND_ICMP:
		sh = (struct nft_set_shape){ 0, NFT_TYPE_ICMP_TYPE, 1, 2 };
		break;
	case SETKIND_ICMP6:
		sh = (struct nft_set_shape){ 0, NFT_TYPE_ICMP6_TYPE, 1, 2 };
		break;
	case SETKIND_CGROUP:
		sh = (struct nft_set_shape){ 0, NFT_TYPE_CGROUPV2, 8, 1 };
		break;
	case SETKIND_STATE:
		sh = (struct nft_set_shape){ NFT_SET_TIMEOUT | NFT_SET_EVAL,
					 (NFT_TYPE_INTEGER << NFT_TYPE_BITS) | NFT_TYPE_IFNAME,
					 4 + IFNAMSIZ, 0 };
		break;
	}
	if (s->anonymous)
		sh.flags |= NFT_SET_ANONYMOUS | NFT_SET_CONSTANT;
	return sh;
}

static struct nftnl_set *set_header(const struct plan_set *s)
{
	struct nftnl_set *ns = nftnl_set_alloc();

	if (!ns)
		return NULL;
	nftnl_set_set_str(ns, NFTNL_SET_TABLE, NFT_TABLE);
	nftnl_set_set_str(ns, NFTNL_SET_NAME, s->name);
	nftnl_set_set_u32(ns, NFTNL_SET_FAMILY, NFPROTO_INET);
	nftnl_set_set_u32(ns, NFTNL_SET_ID, s->id);
	return ns;
}

struct nftnl_set *nft_linearize_set(const struct plan_set *s)
{
	struct nftnl_set *ns = set_header(s);
	struct nft_set_shape sh = nft_set_shape(s);

	if (!ns)
		return NULL;
	nftnl_set_set_u32(ns, NFTNL_SET_FLAGS, sh.flags);
	nftnl_set_set_u32(ns, NFTNL_SET_KEY_TYPE, sh.key_type);
	nftnl_set_set_u32(ns, NFTNL_SET_KEY_LEN, sh.key_len);
	if (s->kind == SETKIND_STATE) {
		nftnl_set_set_u64(ns, NFTNL_SET_TIMEOUT, (uint64_t)PLAN_STATE_TIMEOUT * 1000);
		nftnl_set_set_u32(ns, NFTNL_SET_DESC_SIZE, PLAN_STATE_SIZE);
		uint8_t udata[sizeof(state_set_udata) + 2 + sizeof(uint64_t)];
		memcpy(udata, state_set_udata, sizeof(state_set_udata));
		udata[sizeof(state_set_udata)] = SET_UDATA_DIGEST;
		udata[sizeof(state_set_udata) + 1] = sizeof(uint64_t);
		memcpy(udata + sizeof(state_set_udata) + 2, &s->digest, sizeof(uint64_t));
		nftnl_set_set_data(ns, NFTNL_SET_USERDATA, udata, sizeof(udata));
		return ns;
	}
	struct nftnl_udata_buf *u = nftnl_udata_buf_alloc(64);
	if (u) {
		nftnl_udata_put_u32(u, SET_UDATA_KEYBYTEORDER, sh.byteorder);
		if (!s->anonymous)
			nftnl_udata_put(u, SET_UDATA_DIGEST, sizeof(s->digest), &s->digest);
		if (s->table && strlen(s->table) < 255)
			nftnl_udata_put_strz(u, SET_UDATA_TABLE, s->table);
		nftnl_set_set_data(ns, NFTNL_SET_USERDATA, nftnl_udata_buf_data(u),
				   nftnl_udata_buf_len(u));
		nftnl_udata_buf_free(u);
	}
	return ns;
}

void nft_linearize_elements(struct nft_elems *w, const struct plan_set *s)
{
	if (s->addrs) {
		nft_elems_add_ranges(w, s->addrs, s->kind == SETKIND_ADDR4 ? 4 : 6);
	} else if (s->kind == SETKIND_CGROUP) {
		for (size_t i = 0; i < s->nids; i++)
			nft_elems_add(w, &s->ids[i], 8, false);
	} else if (s->kind == SETKIND_PORT) {
		for (size_t i = 0; i < s->nvalues; i++) {
			uint16_t lo = htons((uint16_t)s->values[i].lo);
			if (i == 0 && s->values[i].lo != 0) {
				uint16_t zero = 0;
				nft_elems_add(w, &zero, 2, true);
			}
			nft_elems_add(w, &lo, 2, false);
			if (s->values[i].hi < 65535) {
				uint16_t end = htons((uint16_t)(s->values[i].hi + 1));
				nft_elems_add(w, &end, 2, true);
			}
		}
	} else {
		uint32_t len = nft_set_shape(s).key_len;
		for (size_t i = 0; i < s->nvalues; i++) {
			for (uint32_t v = s->values[i].lo;; v++) {
				uint8_t key[4];
				if (len == 1) {
					key[0] = (uint8_t)v;
				} else {
					uint16_t v16 = (uint16_t)v;
					memcpy(key, &v16, 2);
				}
				nft_elems_add(w, key, len, false);
				if (v == s->values[i].hi)
					break;
			}
		}
	}
	nft_elems_flush(w);
}
