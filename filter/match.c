/* Stateless rule evaluation: first match wins, then the default.
 *
 * The hot path allocates nothing and touches no strings except interface
 * names; address criteria are binary searches over the sets' merged ranges.
 * Criteria are tested cheapest first so most rules are rejected after a
 * couple of integer compares. */
#include "filter/engine.h"

#include <string.h>

const char *verdict_name(enum verdict v)
{
	switch (v) {
	case VERDICT_PASS: return "pass";
	case VERDICT_BLOCK: return "block";
	case VERDICT_REJECT: return "reject";
	}
	return "?";
}

/* True when name starts with prefix (both at most IFW_IFNAMSIZ). */
static bool name_has_prefix(const char *name, const char *prefix)
{
	for (size_t i = 0; i < IFW_IFNAMSIZ && prefix[i]; i++)
		if (name[i] != prefix[i])
			return false;
	return true;
}

static bool ifitem_matches(const struct ifitem *it, const char *ifname,
			   enum iftype type)
{
	switch (it->kind) {
	case IFITEM_NAME:
		return strncmp(it->name, ifname, IFW_IFNAMSIZ) == 0;
	case IFITEM_PREFIX:
		return name_has_prefix(ifname, it->name);
	case IFITEM_ANY:
		return true;
	case IFITEM_TYPE:
		return it->type == type;
	}
	return false;
}

bool ifmatch_matches(const struct ifmatch *m, const char *ifname,
		     enum iftype type)
{
	bool any = false;

	if (!m || m->count == 0)
		return true;
	if (!ifname)
		ifname = "";
	for (size_t i = 0; i < m->count && !any; i++)
		any = ifitem_matches(&m->items[i], ifname, type);
	return any != m->negate;
}

/* An address criterion. A set only speaks for the families it has entries
 * of: a packet of another family never matches it, negated or not (like
 * pf's implied address family and nft's 'ip saddr'), except that an empty
 * set (an empty table) contains nothing of any family. '(IFSPEC)' with an
 * unknown owner never matches. */
static bool addrmatch_matches(const struct addrmatch *m,
			      const struct ifw_addr *addr,
			      const struct ifaddr_table *ifaddrs)
{
	bool in;

	if (m->ifaddr) {
		const char *owner = ifaddr_table_owner(ifaddrs, addr);
		if (!owner)
			return false;
		/* The owner is known by name only: its type is guessed. */
		in = ifmatch_matches(m->ifaddr, owner, iftype_from_name(owner));
		return in != m->negate;
	}
	if (!m->set)
		return !m->negate;
	if (!addrset_has_family(m->set, addr->family) &&
	    addrset_prefix_count(m->set) > 0)
		return false;
	in = addrset_contains(m->set, addr);
	return in != m->negate;
}

static bool portmatch_matches(const struct portmatch *m, uint16_t port)
{
	bool in = false;

	for (size_t i = 0; i < m->count && !in; i++)
		in = port >= m->ranges[i].lo && port <= m->ranges[i].hi;
	return in != m->negate;
}

static bool proto_listed(const struct rule *r, uint8_t proto)
{
	for (size_t i = 0; i < r->nprotos; i++)
		if (r->protos[i] == proto)
			return true;
	return false;
}

static bool icmp_type_matches(const struct rule *r, const struct packet *p)
{
	if (!p->has_icmp)
		return false;
	if (r->icmp6 ? p->family != 6 || p->proto != 58
		     : p->family != 4 || p->proto != 1)
		return false;
	for (size_t i = 0; i < r->ntypes; i++)
		if (r->types[i] == p->icmp_type)
			return true;
	return false;
}

bool rule_matches(const struct rule *r, const struct packet *p)
{
	if (!(r->dir & p->dir))
		return false;
	if (r->family && r->family != p->family)
		return false;
	if (r->nprotos && !proto_listed(r, p->proto))
		return false;
	if (r->has_user && (!p->has_uid || p->uid != r->uid))
		return false;
	if (r->has_mark && (!p->has_mark || p->mark != r->mark))
		return false;
	if (r->cgroup && (!p->has_cgroup || !cgroup_pattern_matches(r->cgroup, p->cgroup)))
		return false;
	if ((r->sport.count || r->dport.count) && !p->has_ports)
		return false;
	if (r->sport.count && !portmatch_matches(&r->sport, p->sport))
		return false;
	if (r->dport.count && !portmatch_matches(&r->dport, p->dport))
		return false;
	if (r->ntypes && !icmp_type_matches(r, p))
		return false;
	if (r->on.count && !ifmatch_matches(&r->on, p->ifname, p->iftype))
		return false;
	if ((r->from.set || r->from.ifaddr) &&
	    !addrmatch_matches(&r->from, &p->src, p->ifaddrs))
		return false;
	if ((r->to.set || r->to.ifaddr) &&
	    !addrmatch_matches(&r->to, &p->dst, p->ifaddrs))
		return false;
	return true;
}

static enum verdict block_verdict(const struct ruleset *rs)
{
	return rs->block_policy == BLOCK_POLICY_REJECT ? VERDICT_REJECT
						       : VERDICT_BLOCK;
}

static enum verdict action_verdict(const struct ruleset *rs,
				   enum rule_action a)
{
	switch (a) {
	case ACTION_PASS: return VERDICT_PASS;
	case ACTION_BLOCK: return block_verdict(rs);
	case ACTION_REJECT:
	case ACTION_RETURN: return VERDICT_REJECT;
	case ACTION_DROP: return VERDICT_BLOCK;
	}
	return VERDICT_BLOCK;
}

static enum verdict default_verdict(const struct ruleset *rs, unsigned dir)
{
	enum default_verdict d = dir == DIR_IN ? rs->default_in : rs->default_out;

	switch (d) {
	case DEFAULT_BLOCK: return block_verdict(rs);
	case DEFAULT_PASS: return VERDICT_PASS;
	case DEFAULT_REJECT: return VERDICT_REJECT;
	case DEFAULT_DROP: return VERDICT_BLOCK;
	}
	return VERDICT_BLOCK;
}

static struct decision decide(const struct ruleset *rs, const struct packet *p,
			      bool use_index)
{
	struct decision d = { .verdict = VERDICT_BLOCK };
	bool indexed = false;

	if (!rs || !p)
		return d;
	if (rs->skip.count && ifmatch_matches(&rs->skip, p->ifname, p->iftype)) {
		d.verdict = VERDICT_PASS;
		d.skipped = true;
		return d;
	}
	if (use_index && rs->index)
		d.rule = rule_index_first_match(rs->index, rs, p, &indexed);
	for (size_t i = 0; !indexed && i < rs->nrules; i++) {
		if (rule_matches(&rs->rules[i], p)) {
			d.rule = &rs->rules[i];
			break;
		}
	}
	d.verdict = d.rule ? action_verdict(rs, d.rule->action)
			   : default_verdict(rs, p->dir);
	return d;
}

struct decision ruleset_decide(const struct ruleset *rs, const struct packet *p)
{
	return decide(rs, p, true);
}

struct decision ruleset_decide_linear(const struct ruleset *rs,
				      const struct packet *p)
{
	return decide(rs, p, false);
}
