/* Rule set -> plan for table inet ifwall (see nft.h for the layout and
 * nft_plan.h for the intermediate form). Pure computation: no sockets. */
#include "backends/nft_plan.h"
#include "filter/cgroup_path.h"
#include "filter/engine.h"
#include "filter/grow.h"

#include <errno.h>
#include <netinet/in.h>
#include <linux/if_arp.h>
#include <linux/netfilter.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const plan_chain_names[CHAIN_COUNT] = {
	[CHAIN_INPUT] = "input",
	[CHAIN_FORWARD] = "forward",
	[CHAIN_OUTPUT] = "output",
	[CHAIN_FORWARD_IN] = "forward_in",
	[CHAIN_PASS_IN] = "pass_in",
	[CHAIN_PASS_OUT] = "pass_out",
	[CHAIN_PASS_FORWARD_IN] = "pass_forward_in",
	[CHAIN_REJECT] = "reject_packet",
};

const enum plan_chain_id plan_chain_order[CHAIN_COUNT] = {
	CHAIN_INPUT, CHAIN_FORWARD, CHAIN_OUTPUT, CHAIN_FORWARD_IN,
	CHAIN_PASS_IN, CHAIN_PASS_OUT, CHAIN_PASS_FORWARD_IN, CHAIN_REJECT,
};

const uint16_t plan_tunnel_arphrd[] = {
	ARPHRD_NONE,    /* wireguard, tun */
	ARPHRD_PPP,
	ARPHRD_RAWIP,   /* raw-ip modems */
	ARPHRD_TUNNEL,  /* ipip */
	ARPHRD_TUNNEL6, /* ip6tnl */
	ARPHRD_SIT,
	ARPHRD_IPGRE,
	ARPHRD_IP6GRE,
	ARPHRD_VOID,
};
const size_t plan_tunnel_arphrd_count =
	sizeof(plan_tunnel_arphrd) / sizeof(plan_tunnel_arphrd[0]);

const uint32_t plan_state_buckets[] = {
	10, 30, 60, 120, 300, 600, 3600, 86400, 432000,
};
const size_t plan_state_bucket_count =
	sizeof(plan_state_buckets) / sizeof(plan_state_buckets[0]);

/* Protocols that have ports for the engine (packet.has_ports). */
static const uint8_t port_protos[] = { IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP,
				       IPPROTO_UDPLITE };

struct builder {
	struct nft_plan *plan;
	const struct ruleset *rs;
	struct nft_error *err;
};

/* Where a rule of the file lands: a chain and its side. */
struct chain_ctx {
	enum plan_chain_id chain;
	unsigned dir;              /* DIR_IN or DIR_OUT */
	bool out;                  /* interface criteria on oif */
	enum plan_chain_id pass;   /* chain a pass goes to */
	bool returns;              /* forward_in: skip/state = return */
};

static const struct chain_ctx contexts[] = {
	{ CHAIN_INPUT, DIR_IN, false, CHAIN_PASS_IN, false },
	{ CHAIN_FORWARD_IN, DIR_IN, false, CHAIN_PASS_FORWARD_IN, true },
	{ CHAIN_OUTPUT, DIR_OUT, true, CHAIN_PASS_OUT, false },
	{ CHAIN_FORWARD, DIR_OUT, true, CHAIN_PASS_OUT, false },
};

static int fail(struct builder *b, int code, const struct rule *r,
		const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int fail(struct builder *b, int code, const struct rule *r,
		const char *fmt, ...)
{
	va_list ap;

	if (!b->err)
		return code;
	memset(b->err, 0, sizeof(*b->err));
	b->err->code = code;
	if (r) {
		b->err->file = r->file;
		b->err->line = r->line;
		b->err->rule_text = r->text;
	}
	va_start(ap, fmt);
	vsnprintf(b->err->message, sizeof(b->err->message), fmt, ap);
	va_end(ap);
	return code;
}

/* --- plan objects --------------------------------------------------------- */

static struct plan_rule *rule_new(struct builder *b, enum plan_chain_id chain,
				  enum plan_rule_role role)
{
	struct nft_plan *p = b->plan;

	if (grow_array(&p->rules, &p->rules_cap, p->nrules, sizeof(*p->rules)) < 0)
		return NULL;
	struct plan_rule *r = &p->rules[p->nrules++];
	memset(r, 0, sizeof(*r));
	r->chain = chain;
	r->role = role;
	return r;
}

static struct plan_match *match_add(struct plan_rule *r, enum plan_match_kind kind)
{
	if (r->nmatches == PLAN_MAX_MATCHES)
		return NULL;
	struct plan_match *m = &r->matches[r->nmatches++];
	memset(m, 0, sizeof(*m));
	m->kind = kind;
	m->set = -1;
	return m;
}

static int set_new(struct builder *b, enum plan_set_kind kind, bool anonymous,
		   const char *name)
{
	struct nft_plan *p = b->plan;

	if (grow_array(&p->sets, &p->sets_cap, p->nsets, sizeof(*p->sets)) < 0)
		return -ENOMEM;
	struct plan_set *s = &p->sets[p->nsets];
	memset(s, 0, sizeof(*s));
	s->kind = kind;
	s->anonymous = anonymous;
	s->id = (uint32_t)p->nsets + 1;
	snprintf(s->name, sizeof(s->name), "%s", anonymous ? "__set%d" : name);
	return (int)p->nsets++;
}

static int set_add_value(struct plan_set *s, uint32_t lo, uint32_t hi)
{
	struct plan_value_range *n = realloc(s->values, (s->nvalues + 1) * sizeof(*n));

	if (!n)
		return -ENOMEM;
	s->values = n;
	s->values[s->nvalues].lo = lo;
	s->values[s->nvalues].hi = hi;
	s->nvalues++;
	return 0;
}

static int cmp_value_range(const void *a, const void *b)
{
	const struct plan_value_range *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Sorts and merges overlapping or adjacent values (interval sets need
 * disjoint ranges; plain sets need distinct keys). */
static void set_normalize(struct plan_set *s)
{
	size_t out = 0;

	if (s->nvalues < 2)
		return;
	qsort(s->values, s->nvalues, sizeof(s->values[0]), cmp_value_range);
	for (size_t i = 1; i < s->nvalues; i++) {
		struct plan_value_range *cur = &s->values[out];
		if ((uint64_t)s->values[i].lo <= (uint64_t)cur->hi + 1) {
			if (s->values[i].hi > cur->hi)
				cur->hi = s->values[i].hi;
		} else {
			s->values[++out] = s->values[i];
		}
	}
	s->nvalues = out + 1;
}

static uint64_t fnv1a(uint64_t h, const void *data, size_t len)
{
	const uint8_t *p = data;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static void set_digest(struct plan_set *s)
{
	plan_set_digest(s);
}

void plan_set_digest(struct plan_set *s)
{
	uint64_t h = 14695981039346656037ULL;
	uint32_t kind = (uint32_t)s->kind;

	h = fnv1a(h, &kind, sizeof(kind));
	if (s->kind == SETKIND_STATE) {
		/* The state set's shape: a set of an older shape is replaced. */
		uint32_t shape[2] = { PLAN_STATE_SIZE, PLAN_STATE_TIMEOUT };
		h = fnv1a(h, shape, sizeof(shape));
	}
	if (s->addrs) {
		int family = s->kind == SETKIND_ADDR4 ? 4 : 6;
		size_t n = addrset_range_count(s->addrs);
		for (size_t i = 0; i < n; i++) {
			const struct ifw_range *r = addrset_range(s->addrs, i);
			if (r->family != family)
				continue;
			h = fnv1a(h, r->lo, sizeof(r->lo));
			h = fnv1a(h, r->hi, sizeof(r->hi));
		}
	}
	h = fnv1a(h, s->values, s->nvalues * sizeof(s->values[0]));
	if (s->nids)
		h = fnv1a(h, s->ids, s->nids * sizeof(s->ids[0]));
	s->digest = h;
}

/* --- addresses ------------------------------------------------------------- */

enum addr_state {
	ADDR_ALWAYS,   /* no criterion for this family */
	ADDR_NEVER,    /* the rule cannot match this family */
	ADDR_MATCH,    /* a real criterion */
};

/* The engine's address semantics (filter/match.c): a non-empty set only
 * speaks for the families it has entries of; an empty set contains nothing. */
static enum addr_state addr_state(const struct addrmatch *m, int family)
{
	if (!m->set)
		return ADDR_ALWAYS;
	if (addrset_prefix_count(m->set) == 0)
		return m->negate ? ADDR_ALWAYS : ADDR_NEVER;
	if (family == 0)
		return ADDR_MATCH;
	if (!addrset_has_family(m->set, family))
		return ADDR_NEVER;
	if (addrset_covers_family(m->set, family))
		return m->negate ? ADDR_NEVER : ADDR_ALWAYS;
	return ADDR_MATCH;
}

/* A criterion naming one table: the table's named sets are changed at run
 * time ('ifwall table'), so the rule must look them up whatever the table
 * holds at load time, empty included (an empty set matches nothing, which
 * is the engine's meaning of an empty table). A positive lookup agrees with
 * the engine for any content. A negated one cannot follow the engine's "a
 * set only speaks for its families" as the content changes, so a family
 * the table lacks at load time (while holding the other) stays excluded
 * until the next load (documented in nft.h). */
static enum addr_state table_addr_state(const struct addrmatch *m, int family)
{
	if (!m->negate || family == 0 || addrset_prefix_count(m->set) == 0)
		return ADDR_MATCH;
	return addrset_has_family(m->set, family) ? ADDR_MATCH : ADDR_NEVER;
}

static enum addr_state rule_addr_state(const struct addrmatch *m, int family)
{
	return m->table && m->set ? table_addr_state(m, family) : addr_state(m, family);
}

/* The single prefix equal to range r, if it is one. */
static bool range_as_prefix(const struct ifw_range *r, struct ifw_prefix *out)
{
	int bytes = r->family == 4 ? 4 : 16;
	int len = bytes * 8;

	/* Find the longest common leading bits, then check lo has zeros and
	 * hi has ones after them. */
	int common = 0;
	while (common < len) {
		int byte = common / 8, bit = 7 - common % 8;
		if (((r->lo[byte] >> bit) & 1) != ((r->hi[byte] >> bit) & 1))
			break;
		common++;
	}
	for (int i = common; i < len; i++) {
		int byte = i / 8, bit = 7 - i % 8;
		if (((r->lo[byte] >> bit) & 1) != 0 || ((r->hi[byte] >> bit) & 1) != 1)
			return false;
	}
	memset(out, 0, sizeof(*out));
	out->addr.family = r->family;
	memcpy(out->addr.a, r->lo, (size_t)bytes);
	out->len = (uint8_t)common;
	return true;
}

/* Ranges of one family of a finished set: [*first, *first + *count). */
static void family_ranges(const struct addrset *set, int family, size_t *first,
			  size_t *count)
{
	size_t n = addrset_range_count(set);

	*first = n;
	*count = 0;
	for (size_t i = 0; i < n; i++) {
		if (addrset_range(set, i)->family != family)
			continue;
		if (*count == 0)
			*first = i;
		(*count)++;
	}
}

static bool table_set_name(const char *table, size_t index, int family,
			   char *buf, size_t size)
{
	bool plain = table[0] && strlen(table) <= 48 &&
		     ((table[0] >= 'a' && table[0] <= 'z') ||
		      (table[0] >= 'A' && table[0] <= 'Z'));

	for (const char *c = table; plain && *c; c++)
		plain = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
			(*c >= '0' && *c <= '9') || *c == '_';
	if (plain && strcmp(table, PLAN_STATE_SET) != 0 &&
	    strncmp(table, PLAN_IFADDR_SET_PREFIX, strlen(PLAN_IFADDR_SET_PREFIX)) != 0)
		snprintf(buf, size, "%s_v%d", table, family);
	else
		snprintf(buf, size, "table%zu_v%d", index, family);
	return plain;
}

/* The named set of a table and family. Both families' sets are created on
 * first use, so 'ifwall table' can add either family to a table that
 * starts empty or with one family. */
static int table_set(struct builder *b, const struct addrmatch *m, int family)
{
	char name[64];
	size_t index = 0;
	int found = -1;

	for (size_t i = 0; i < b->rs->ntables; i++)
		if (b->rs->tables[i].set == m->set)
			index = i;
	for (int f = 4; f <= 6; f += 2) {
		enum plan_set_kind kind = f == 4 ? SETKIND_ADDR4 : SETKIND_ADDR6;
		int idx = -1;
		table_set_name(m->table, index, f, name, sizeof(name));
		for (size_t i = 0; i < b->plan->nsets && idx < 0; i++) {
			struct plan_set *s = &b->plan->sets[i];
			if (!s->anonymous && s->kind == kind && !strcmp(s->name, name))
				idx = (int)i;
		}
		if (idx < 0) {
			idx = set_new(b, kind, false, name);
			if (idx < 0)
				return idx;
			b->plan->sets[idx].addrs = m->set;
			b->plan->sets[idx].table = m->table;
			set_digest(&b->plan->sets[idx]);
		}
		if (f == family)
			found = idx;
	}
	return found;
}

static int add_addr_match(struct builder *b, struct plan_rule *pr,
			  const struct addrmatch *m, bool dst, int family)
{
	size_t first, count;
	struct plan_match *pm = match_add(pr, MATCH_ADDR);

	if (!pm)
		return -E2BIG;
	pm->dst = dst;
	pm->negate = m->negate;
	pm->family = family;
	family_ranges(m->set, family, &first, &count);
	if (count == 1 && !m->table) {
		if (range_as_prefix(addrset_range(m->set, first), &pm->addr))
			return 0;
		pm->addr_range = true;
		pm->range = *addrset_range(m->set, first);
		return 0;
	}
	if (m->table) {
		pm->set = table_set(b, m, family);
	} else {
		pm->set = set_new(b, family == 4 ? SETKIND_ADDR4 : SETKIND_ADDR6,
				  true, NULL);
		if (pm->set >= 0) {
			b->plan->sets[pm->set].addrs = m->set;
			set_digest(&b->plan->sets[pm->set]);
		}
	}
	return pm->set < 0 ? pm->set : 0;
}

/* --- other criteria -------------------------------------------------------- */

static int add_value_set_match(struct builder *b, struct plan_rule *pr,
			       enum plan_match_kind kind, enum plan_set_kind skind,
			       bool negate, const uint32_t *values, size_t n)
{
	struct plan_match *pm = match_add(pr, kind);

	if (!pm)
		return -E2BIG;
	pm->negate = negate;
	if (n == 1) {
		pm->value = values[0];
		return 0;
	}
	pm->set = set_new(b, skind, true, NULL);
	if (pm->set < 0)
		return pm->set;
	struct plan_set *s = &b->plan->sets[pm->set];
	for (size_t i = 0; i < n; i++)
		if (set_add_value(s, values[i], values[i]) < 0)
			return -ENOMEM;
	set_normalize(s);
	set_digest(s);
	return 0;
}

static int add_port_match(struct builder *b, struct plan_rule *pr,
			  const struct portmatch *m, bool dst)
{
	struct plan_match *pm = match_add(pr, MATCH_PORT);

	if (!pm)
		return -E2BIG;
	pm->dst = dst;
	pm->negate = m->negate;
	if (m->count == 1) {
		pm->value = m->ranges[0].lo;
		pm->value_hi = m->ranges[0].hi;
		return 0;
	}
	pm->set = set_new(b, SETKIND_PORT, true, NULL);
	if (pm->set < 0)
		return pm->set;
	struct plan_set *s = &b->plan->sets[pm->set];
	for (size_t i = 0; i < m->count; i++)
		if (set_add_value(s, m->ranges[i].lo, m->ranges[i].hi) < 0)
			return -ENOMEM;
	set_normalize(s);
	set_digest(s);
	return 0;
}

/* --- interfaces ------------------------------------------------------------ */

/* One alternative of an interface criterion: matches ANDed together. A
 * positive list becomes one alternative per item (the kernel rule is
 * repeated), a negated list one alternative with every item negated. */
struct if_alt {
	bool any;                 /* no criterion */
	const struct ifitem *items[PLAN_MAX_MATCHES / 2];
	size_t nitems;
	bool negate;
};

static int add_ifitem_match(struct builder *b, struct plan_rule *pr,
			    const struct ifitem *it, bool negate, bool out)
{
	struct plan_match *pm;
	uint32_t values[16];
	size_t n = 0;
	bool complement = false;

	switch (it->kind) {
	case IFITEM_ANY:
		return 0;
	case IFITEM_NAME:
	case IFITEM_PREFIX:
		pm = match_add(pr, MATCH_IFNAME);
		if (!pm)
			return -E2BIG;
		pm->out = out;
		pm->negate = negate;
		pm->prefix = it->kind == IFITEM_PREFIX;
		memcpy(pm->ifname, it->name, IFW_IFNAMSIZ);
		pm->ifname[IFW_IFNAMSIZ] = 0;
		return 0;
	case IFITEM_TYPE:
		break;
	}
	switch (it->type) {
	case IFTYPE_LOOPBACK:
		values[n++] = ARPHRD_LOOPBACK;
		break;
	case IFTYPE_TUNNEL:
		for (size_t i = 0; i < plan_tunnel_arphrd_count; i++)
			values[n++] = plan_tunnel_arphrd[i];
		break;
	case IFTYPE_ETHER:
		/* every type that is neither loopback nor tunnel */
		values[n++] = ARPHRD_LOOPBACK;
		for (size_t i = 0; i < plan_tunnel_arphrd_count; i++)
			values[n++] = plan_tunnel_arphrd[i];
		complement = true;
		break;
	}
	int rc = add_value_set_match(b, pr, MATCH_IFTYPE, SETKIND_ARPHRD,
				     negate != complement, values, n);
	if (rc == 0)
		pr->matches[pr->nmatches - 1].out = out;
	return rc;
}

/* Splits an ifmatch into alternatives; returns how many (0: never matches). */
static size_t if_alternatives(const struct ifmatch *m, struct if_alt *alts,
			      size_t max)
{
	if (m->count == 0) {
		alts[0] = (struct if_alt){ .any = true };
		return 1;
	}
	if (m->negate) {
		struct if_alt a = { .negate = true };
		for (size_t i = 0; i < m->count; i++) {
			const struct ifitem *it = &m->items[i];
			if (it->kind == IFITEM_ANY ||
			    (it->kind == IFITEM_PREFIX && !it->name[0]))
				return 0;
			if (a.nitems == sizeof(a.items) / sizeof(a.items[0]))
				return (size_t)-1;
			a.items[a.nitems++] = it;
		}
		alts[0] = a;
		return 1;
	}
	for (size_t i = 0; i < m->count; i++) {
		const struct ifitem *it = &m->items[i];
		if (it->kind == IFITEM_ANY ||
		    (it->kind == IFITEM_PREFIX && !it->name[0])) {
			alts[0] = (struct if_alt){ .any = true };
			return 1;
		}
	}
	if (m->count > max)
		return (size_t)-1;
	for (size_t i = 0; i < m->count; i++)
		alts[i] = (struct if_alt){ .items = { &m->items[i] }, .nitems = 1 };
	return m->count;
}

static int add_if_alt(struct builder *b, struct plan_rule *pr,
		      const struct if_alt *alt, bool out)
{
	if (alt->any)
		return 0;
	for (size_t i = 0; i < alt->nitems; i++) {
		int rc = add_ifitem_match(b, pr, alt->items[i], alt->negate, out);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static bool ifmatch_equal_items(const struct ifmatch *a, const struct ifmatch *b)
{
	if (a->count != b->count)
		return false;
	for (size_t i = 0; i < a->count; i++) {
		const struct ifitem *x = &a->items[i], *y = &b->items[i];
		if (x->kind != y->kind)
			return false;
		if ((x->kind == IFITEM_NAME || x->kind == IFITEM_PREFIX) &&
		    strncmp(x->name, y->name, IFW_IFNAMSIZ) != 0)
			return false;
		if (x->kind == IFITEM_TYPE && x->type != y->type)
			return false;
	}
	return true;
}

/* --- rules of the file ----------------------------------------------------- */

/* "ifwall FILE:LINE in " / "... out ": the rule, and the direction of the
 * chain it logs from (a forwarded packet is logged on the forward hook by
 * an 'in' or an 'out' rule; 'ifwall log' needs to know which). */
static void set_log_prefix(struct plan_rule *pr, const struct rule *r, unsigned dir)
{
	char where[512];
	const char *file = r->file ? r->file : "?";

	snprintf(where, sizeof(where), "%s:%d %s", file, r->line, dir == DIR_IN ? "in" : "out");
	/* "ifwall " + where + " " must fit in 127 characters: keep the end. */
	size_t max = sizeof(pr->log_prefix) - 1 - strlen("ifwall  ");
	const char *w = where;
	if (strlen(w) > max)
		w += strlen(w) - max;
	memcpy(pr->log_prefix, "ifwall ", 7);
	memcpy(pr->log_prefix + 7, w, strlen(w));
	pr->log_prefix[7 + strlen(w)] = ' ';
	pr->log_prefix[8 + strlen(w)] = 0;
	pr->log = true;
}

static void set_action(struct builder *b, struct plan_rule *pr,
		       enum rule_action action, const struct chain_ctx *ctx)
{
	switch (action) {
	case ACTION_PASS:
		pr->verdict = PLAN_GOTO;
		pr->target = ctx->pass;
		return;
	case ACTION_BLOCK:
		if (b->rs->block_policy == BLOCK_POLICY_REJECT) {
			pr->verdict = PLAN_GOTO;
			pr->target = CHAIN_REJECT;
		} else {
			pr->verdict = PLAN_DROP;
		}
		return;
	case ACTION_REJECT:
	case ACTION_RETURN:
		pr->verdict = PLAN_GOTO;
		pr->target = CHAIN_REJECT;
		return;
	case ACTION_DROP:
		pr->verdict = PLAN_DROP;
		return;
	}
}

/* --- '(IFSPEC)' ------------------------------------------------------------- */

/* How a kernel rule expresses an '(IFSPEC)' criterion. */
enum ifaddr_form {
	IFADDR_EXACT = 0,  /* ip daddr @ifaddr_N_v4: the engine's meaning */
	IFADDR_GUARD,      /* the kill switch guard: a local address the
			      interface table did not hold when the sets were
			      last filled, not on the arrival interface */
};

static bool ifspec_same(const struct plan_set *s, const struct ifmatch *spec,
			bool negate)
{
	if (!s->ifspec || !spec)
		return s->ifspec == spec && s->ifspec_negate == negate;
	return s->ifspec_negate == negate && s->ifspec->negate == spec->negate &&
	       ifmatch_equal_items(s->ifspec, spec);
}

/* The named set of an IFSPEC (NULL: every address) and family, created
 * (empty, see nft_plan_set_ifaddrs) on first use. Sets of one IFSPEC share
 * their number N: ifaddr_N_v4, ifaddr_N_v6. */
static int ifaddr_set(struct builder *b, const struct ifmatch *spec,
		      bool negate, int family)
{
	enum plan_set_kind kind = family == 4 ? SETKIND_ADDR4 : SETKIND_ADDR6;
	struct nft_plan *p = b->plan;
	unsigned number = 0;
	char name[64];

	for (size_t i = 0; i < p->nsets; i++)
		if (p->sets[i].ifaddr && p->sets[i].kind == kind &&
		    ifspec_same(&p->sets[i], spec, negate))
			return (int)i;
	for (size_t i = 0; i < p->nsets; i++) {
		const struct plan_set *s = &p->sets[i];
		if (!s->ifaddr || !s->ifspec)
			continue;
		if (ifspec_same(s, spec, negate)) {
			number = s->ifaddr_number; /* the other family's */
			break;
		}
		if (s->ifaddr_number + 1 > number)
			number = s->ifaddr_number + 1;
	}
	if (spec)
		snprintf(name, sizeof(name), "%s%u_v%d", PLAN_IFADDR_SET_PREFIX,
			 number, family);
	else
		snprintf(name, sizeof(name), "%sall_v%d", PLAN_IFADDR_SET_PREFIX, family);
	struct addrset *empty = addrset_new();
	if (!empty || addrset_finish(empty) < 0) {
		addrset_free(empty);
		return -ENOMEM;
	}
	int idx = set_new(b, kind, false, name);
	if (idx < 0) {
		addrset_free(empty);
		return idx;
	}
	struct plan_set *s = &p->sets[idx];
	s->ifaddr = true;
	s->ifspec = spec;
	s->ifspec_negate = negate;
	s->ifaddr_number = number;
	s->owned = empty;
	s->addrs = empty;
	set_digest(s);
	p->nifaddr_sets++;
	return idx;
}

/* ip/ip6 saddr|daddr @ifaddr_N_vF */
static int add_ifaddr_match(struct builder *b, struct plan_rule *pr,
			    const struct addrmatch *m, bool dst, int family)
{
	struct plan_match *pm = match_add(pr, MATCH_ADDR);

	if (!pm)
		return -E2BIG;
	pm->dst = dst;
	pm->family = family;
	pm->set = ifaddr_set(b, m->ifaddr, m->negate, family);
	return pm->set < 0 ? pm->set : 0;
}

/* The kill switch form 'block in on !IFSPEC to (IFSPEC)' (block, drop,
 * reject or return): the one where an address that appears after the sets
 * were filled is blocked by a guard rule, see nft.h. */
static bool ifaddr_guarded(const struct rule *r)
{
	const struct ifmatch *spec = r->to.ifaddr;

	return spec && !r->to.negate && !spec->negate && r->action != ACTION_PASS &&
	       (r->dir & DIR_IN) && r->on.negate && !r->from.ifaddr &&
	       ifmatch_equal_items(&r->on, spec);
}

/* Emits the kernel rules of one alternative (interface alternative x
 * family). family 0: family-agnostic. */
/* The named set of rule r's cgroup ids, created on first use (one rule is
 * emitted in several chains). A set even for a plain path: a service
 * restarted gets a new cgroup, and a resident process updates the set. */
static int cgroup_set(struct builder *b, const struct rule *r)
{
	char name[64];

	snprintf(name, sizeof(name), "cgroup_%zu", r->index);
	for (size_t i = 0; i < b->plan->nsets; i++)
		if (b->plan->sets[i].kind == SETKIND_CGROUP && !strcmp(b->plan->sets[i].name, name))
			return (int)i;
	int idx = set_new(b, SETKIND_CGROUP, false, name);
	if (idx < 0)
		return idx;
	b->plan->sets[idx].cgroup_rule = r;
	set_digest(&b->plan->sets[idx]);
	return idx;
}

static int emit_user_rule(struct builder *b, const struct rule *r,
			  const struct chain_ctx *ctx, const struct if_alt *alt,
			  int family, enum ifaddr_form form)
{
	struct plan_rule *pr = rule_new(b, ctx->chain, ROLE_USER);
	int rc;

	if (!pr)
		return -ENOMEM;
	pr->rule = r;
	pr->counter = true;
	rc = add_if_alt(b, pr, alt, ctx->out);
	if (rc < 0)
		goto out;
	if (family) {
		struct plan_match *pm = match_add(pr, MATCH_NFPROTO);
		if (!pm) {
			rc = -E2BIG;
			goto out;
		}
		pm->family = family;
	}
	/* Protocols */
	if (r->ntypes) {
		uint32_t proto = r->icmp6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP;
		rc = add_value_set_match(b, pr, MATCH_L4PROTO, SETKIND_L4PROTO,
					 false, &proto, 1);
	} else if (r->nprotos) {
		uint32_t v[256];
		size_t n = r->nprotos > 256 ? 256 : r->nprotos;
		for (size_t i = 0; i < n; i++)
			v[i] = r->protos[i];
		rc = add_value_set_match(b, pr, MATCH_L4PROTO, SETKIND_L4PROTO,
					 false, v, n);
	} else if (r->sport.count || r->dport.count) {
		uint32_t v[4];
		for (size_t i = 0; i < 4; i++)
			v[i] = port_protos[i];
		rc = add_value_set_match(b, pr, MATCH_L4PROTO, SETKIND_L4PROTO,
					 false, v, 4);
	}
	if (rc < 0)
		goto out;
	/* Addresses */
	if (family && rule_addr_state(&r->from, family) == ADDR_MATCH)
		rc = add_addr_match(b, pr, &r->from, false, family);
	if (rc == 0 && family && rule_addr_state(&r->to, family) == ADDR_MATCH)
		rc = add_addr_match(b, pr, &r->to, true, family);
	if (rc == 0 && family && r->from.ifaddr)
		rc = add_ifaddr_match(b, pr, &r->from, false, family);
	if (rc == 0 && family && r->to.ifaddr) {
		if (form == IFADDR_GUARD) {
			/* ip daddr != @ifaddr_all_vF fib daddr type local
			 * fib daddr . iif type != local */
			struct plan_match *pm = match_add(pr, MATCH_ADDR);
			if (!pm) {
				rc = -E2BIG;
				goto out;
			}
			pm->dst = true;
			pm->negate = true;
			pm->family = family;
			pm->set = ifaddr_set(b, NULL, false, family);
			rc = pm->set < 0 ? pm->set : 0;
			if (rc == 0 && !match_add(pr, MATCH_FIB_LOCAL_OTHER_IF))
				rc = -E2BIG;
		} else {
			rc = add_ifaddr_match(b, pr, &r->to, true, family);
		}
	}
	if (rc < 0)
		goto out;
	/* Ports, ICMP */
	if (r->sport.count)
		rc = add_port_match(b, pr, &r->sport, false);
	if (rc == 0 && r->dport.count)
		rc = add_port_match(b, pr, &r->dport, true);
	if (rc == 0 && r->ntypes) {
		uint32_t v[256];
		size_t n = r->ntypes > 256 ? 256 : r->ntypes;
		for (size_t i = 0; i < n; i++)
			v[i] = r->types[i];
		rc = add_value_set_match(b, pr, MATCH_ICMP_TYPE,
					 r->icmp6 ? SETKIND_ICMP6 : SETKIND_ICMP,
					 false, v, n);
		if (rc == 0)
			pr->matches[pr->nmatches - 1].family = r->icmp6 ? 6 : 4;
	}
	if (rc < 0)
		goto out;
	/* Owner */
	if (r->has_user) {
		struct plan_match *pm = match_add(pr, MATCH_SKUID);
		if (!pm) {
			rc = -E2BIG;
			goto out;
		}
		pm->value = r->uid;
	}
	if (r->has_mark) {
		struct plan_match *pm = match_add(pr, MATCH_MARK);
		if (!pm) {
			rc = -E2BIG;
			goto out;
		}
		pm->value = r->mark;
	}
	if (r->cgroup) {
		struct plan_match *pm = match_add(pr, MATCH_CGROUP);
		if (!pm) {
			rc = -E2BIG;
			goto out;
		}
		pm->value = cgroup_pattern_level(r->cgroup);
		rc = pm->set = cgroup_set(b, r);
		if (rc < 0)
			goto out;
		rc = 0;
	}
	if (r->log)
		set_log_prefix(pr, r, ctx->dir);
	set_action(b, pr, r->action, ctx);
out:
	if (rc == -E2BIG)
		return fail(b, -ENOTSUP, r,
			    "rule has too many criteria for one nft rule");
	return rc;
}

static int emit_rule_in_chain(struct builder *b, const struct rule *r,
			      const struct chain_ctx *ctx)
{
	struct if_alt alts[PLAN_MAX_MATCHES];
	size_t nalts;
	int families[2], nfam = 0;

	if (!(r->dir & ctx->dir))
		return 0;
	/* 'cgroup': a forwarded packet has no local socket (and the kernel
	 * takes 'socket' only on the input and output side). */
	if (r->cgroup && ctx->chain != CHAIN_INPUT && ctx->chain != CHAIN_OUTPUT)
		return 0;
	nalts = if_alternatives(&r->on, alts, sizeof(alts) / sizeof(alts[0]));
	if (nalts == (size_t)-1)
		return fail(b, -ENOTSUP, r,
			    "too many interfaces in one list for the nft backend "
			    "(at most %zu)", sizeof(alts[0].items) / sizeof(alts[0].items[0]));
	if (nalts == 0)
		return 0;
	if (r->nprotos && r->ntypes) {
		uint8_t want = r->icmp6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP;
		bool listed = false;
		for (size_t i = 0; i < r->nprotos; i++)
			listed |= r->protos[i] == want;
		if (!listed)
			return 0;
	}
	bool per_family = r->ntypes || r->from.ifaddr || r->to.ifaddr ||
			  (r->from.set && (addrset_prefix_count(r->from.set) || r->from.table)) ||
			  (r->to.set && (addrset_prefix_count(r->to.set) || r->to.table));
	if (!per_family) {
		if (addr_state(&r->from, 0) == ADDR_NEVER ||
		    addr_state(&r->to, 0) == ADDR_NEVER)
			return 0;
		families[nfam++] = r->family;
	} else {
		for (int f = 4; f <= 6; f += 2) {
			if (r->family && r->family != (unsigned)f)
				continue;
			if (r->ntypes && f != (r->icmp6 ? 6 : 4))
				continue;
			if (rule_addr_state(&r->from, f) == ADDR_NEVER ||
			    rule_addr_state(&r->to, f) == ADDR_NEVER)
				continue;
			families[nfam++] = f;
		}
	}
	/* The guard only where packets are addressed to this host. */
	bool guard = ctx->chain == CHAIN_INPUT && ifaddr_guarded(r);
	for (size_t a = 0; a < nalts; a++) {
		for (int f = 0; f < nfam; f++) {
			int rc = emit_user_rule(b, r, ctx, &alts[a], families[f],
						IFADDR_EXACT);
			if (rc == 0 && guard)
				rc = emit_user_rule(b, r, ctx, &alts[a], families[f],
						    IFADDR_GUARD);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

/* --- chain plumbing -------------------------------------------------------- */

static enum plan_verdict chain_accept(const struct chain_ctx *ctx)
{
	return ctx->returns ? PLAN_RETURN : PLAN_ACCEPT;
}

/* Replies of a flow passed on this interface go to the pass chain, which
 * refreshes the flow's element (so it lives as long as the flow's
 * conntrack entry) and accepts. ICMP errors arriving about such a flow
 * (conntrack's RELATED, either conntrack direction: an error about an
 * inbound flow travels in its original direction) are accepted on the
 * same interface without refreshing anything: path MTU discovery works
 * for servers behind the kill switch. Errors the host sends out are
 * decided by the rules like any packet leaving, so a kill switch whose
 * endpoint table was emptied sends nothing to the old server, not even a
 * port unreachable. */
static int emit_state_check(struct builder *b, const struct chain_ctx *ctx)
{
	struct plan_rule *pr = rule_new(b, ctx->chain, ROLE_INTERNAL);

	if (!pr)
		return -ENOMEM;
	match_add(pr, MATCH_CT_REPLY);
	match_add(pr, MATCH_STATE)->out = ctx->out;
	pr->verdict = PLAN_GOTO;
	pr->target = ctx->pass;
	if (ctx->out)
		return 0;
	pr = rule_new(b, ctx->chain, ROLE_INTERNAL);
	if (!pr)
		return -ENOMEM;
	match_add(pr, MATCH_CT_RELATED);
	match_add(pr, MATCH_STATE)->out = ctx->out;
	pr->verdict = chain_accept(ctx);
	return 0;
}

/* The rules of a pass chain: record (or refresh) the flow on the
 * interface with a timeout that follows its conntrack entry, then verdict
 * (every rule ends the chain). */
static int emit_state_record(struct builder *b, enum plan_chain_id chain,
			     bool out, enum plan_verdict then)
{
	static const struct {
		uint8_t protos[3];
		size_t nprotos;
		uint32_t timeout;
	} first[] = {
		{ { IPPROTO_TCP }, 1, PLAN_STATE_FIRST_TCP },
		{ { IPPROTO_UDP, IPPROTO_ICMP, IPPROTO_ICMPV6 }, 3, PLAN_STATE_FIRST_DGRAM },
		{ { 0 }, 0, PLAN_STATE_FIRST_OTHER },
	};
	struct plan_rule *pr;

	for (size_t i = 0; i < sizeof(first) / sizeof(first[0]); i++) {
		if (!(pr = rule_new(b, chain, ROLE_INTERNAL)))
			return -ENOMEM;
		match_add(pr, MATCH_CT_UNCONFIRMED);
		if (first[i].nprotos) {
			uint32_t v[3];
			for (size_t k = 0; k < first[i].nprotos; k++)
				v[k] = first[i].protos[k];
			int rc = add_value_set_match(b, pr, MATCH_L4PROTO, SETKIND_L4PROTO,
						     false, v, first[i].nprotos);
			if (rc < 0)
				return rc;
		}
		pr->state_update = true;
		pr->state_update_out = out;
		pr->state_timeout = first[i].timeout;
		pr->verdict = then;
	}
	for (size_t i = 0; i <= plan_state_bucket_count; i++) {
		if (!(pr = rule_new(b, chain, ROLE_INTERNAL)))
			return -ENOMEM;
		if (i < plan_state_bucket_count) {
			match_add(pr, MATCH_CT_EXPIRATION_LE)->value = plan_state_buckets[i];
			pr->state_timeout = plan_state_buckets[i] + 1;
		} else {
			pr->state_timeout = PLAN_STATE_TIMEOUT;
		}
		pr->state_update = true;
		pr->state_update_out = out;
		pr->verdict = then;
	}
	/* An update fails only when @state is full and the flow is new: the
	 * packet still passes (its rule passed it), the flow just gets no
	 * reply state (its replies are evaluated by the rules). */
	if (!(pr = rule_new(b, chain, ROLE_INTERNAL)))
		return -ENOMEM;
	pr->verdict = then;
	return 0;
}

static int emit_skip(struct builder *b, const struct chain_ctx *ctx)
{
	struct if_alt alts[PLAN_MAX_MATCHES];
	size_t nalts;

	if (b->rs->skip.count == 0)
		return 0;
	nalts = if_alternatives(&b->rs->skip, alts, sizeof(alts) / sizeof(alts[0]));
	if (nalts == (size_t)-1)
		return fail(b, -ENOTSUP, NULL,
			    "too many interfaces in 'set skip on' for the nft backend");
	for (size_t a = 0; a < nalts; a++) {
		struct plan_rule *pr = rule_new(b, ctx->chain, ROLE_SKIP);
		if (!pr)
			return -ENOMEM;
		pr->counter = true;
		int rc = add_if_alt(b, pr, &alts[a], ctx->out);
		if (rc < 0)
			return rc == -E2BIG ? fail(b, -ENOTSUP, NULL,
				"too many interfaces in 'set skip on'") : rc;
		pr->verdict = chain_accept(ctx);
	}
	return 0;
}

/* The effective default of a direction: pass, drop or reject. */
static enum plan_verdict default_of(const struct ruleset *rs, unsigned dir,
				    bool *reject)
{
	enum default_verdict d = dir == DIR_IN ? rs->default_in : rs->default_out;

	*reject = false;
	switch (d) {
	case DEFAULT_PASS:
		return PLAN_ACCEPT;
	case DEFAULT_DROP:
		return PLAN_DROP;
	case DEFAULT_REJECT:
		*reject = true;
		return PLAN_DROP;
	case DEFAULT_BLOCK:
		*reject = rs->block_policy == BLOCK_POLICY_REJECT;
		return PLAN_DROP;
	}
	return PLAN_DROP;
}

static int emit_default(struct builder *b, const struct chain_ctx *ctx)
{
	bool reject;
	enum plan_verdict v = default_of(b->rs, ctx->dir, &reject);
	struct plan_rule *pr = rule_new(b, ctx->chain, ROLE_DEFAULT);

	if (!pr)
		return -ENOMEM;
	pr->counter = true;
	pr->default_dir = ctx->dir;
	if (ctx->dir == DIR_IN ? b->rs->default_in_log : b->rs->default_out_log) {
		snprintf(pr->log_prefix, sizeof(pr->log_prefix), "ifwall default %s ",
			 ctx->dir == DIR_IN ? "in" : "out");
		pr->log = true;
	}
	if (reject) {
		pr->verdict = PLAN_GOTO;
		pr->target = CHAIN_REJECT;
	} else if (v == PLAN_ACCEPT) {
		pr->verdict = PLAN_GOTO;
		pr->target = ctx->pass;
	} else {
		pr->verdict = PLAN_DROP;
	}
	return 0;
}

static int emit_helpers(struct builder *b)
{
	static const struct {
		enum plan_chain_id chain;
		bool out;
		enum plan_verdict then;
	} pass[] = {
		{ CHAIN_PASS_IN, false, PLAN_ACCEPT },
		{ CHAIN_PASS_OUT, true, PLAN_ACCEPT },
		{ CHAIN_PASS_FORWARD_IN, false, PLAN_CONTINUE },
	};
	struct plan_rule *pr;

	for (size_t i = 0; i < sizeof(pass) / sizeof(pass[0]); i++) {
		int rc = emit_state_record(b, pass[i].chain, pass[i].out,
					   pass[i].then == PLAN_CONTINUE ? PLAN_RETURN
									: pass[i].then);
		if (rc < 0)
			return rc;
	}
	/* The RST / ICMP answer travels in the reply direction of the
	 * rejected flow: record the flow on the interface it arrived on (the
	 * answer leaves there) and on lo (the answer to a local sender is
	 * delivered through lo), so the output and input chains let the
	 * answer through like any reply. (An ICMP error answering the first
	 * packet of a flow has no conntrack entry to ride on, see nft.h.) */
	pr = rule_new(b, CHAIN_REJECT, ROLE_INTERNAL);
	if (!pr)
		return -ENOMEM;
	pr->state_update = true;
	pr->state_timeout = PLAN_STATE_REJECT;
	pr = rule_new(b, CHAIN_REJECT, ROLE_INTERNAL);
	if (!pr)
		return -ENOMEM;
	pr->state_update = true;
	pr->state_update_ifname = "lo";
	pr->state_timeout = PLAN_STATE_REJECT;
	pr = rule_new(b, CHAIN_REJECT, ROLE_INTERNAL);
	if (!pr)
		return -ENOMEM;
	match_add(pr, MATCH_L4PROTO)->value = IPPROTO_TCP;
	pr->reject = REJECT_TCP_RESET;
	pr = rule_new(b, CHAIN_REJECT, ROLE_INTERNAL);
	if (!pr)
		return -ENOMEM;
	pr->reject = REJECT_ICMPX_ADMIN;
	return 0;
}

static int build(struct builder *b)
{
	const struct ruleset *rs = b->rs;
	bool reject;
	int rc;

	for (int i = 0; i < CHAIN_COUNT; i++)
		b->plan->chains[i].name = plan_chain_names[i];
	b->plan->chains[CHAIN_INPUT].base = true;
	b->plan->chains[CHAIN_INPUT].hook = NF_INET_LOCAL_IN;
	b->plan->chains[CHAIN_INPUT].policy_accept =
		default_of(rs, DIR_IN, &reject) == PLAN_ACCEPT;
	b->plan->chains[CHAIN_OUTPUT].base = true;
	b->plan->chains[CHAIN_OUTPUT].hook = NF_INET_LOCAL_OUT;
	b->plan->chains[CHAIN_OUTPUT].policy_accept =
		default_of(rs, DIR_OUT, &reject) == PLAN_ACCEPT;
	b->plan->chains[CHAIN_FORWARD].base = true;
	b->plan->chains[CHAIN_FORWARD].hook = NF_INET_FORWARD;
	b->plan->chains[CHAIN_FORWARD].policy_accept =
		b->plan->chains[CHAIN_OUTPUT].policy_accept;

	rc = set_new(b, SETKIND_STATE, false, PLAN_STATE_SET);
	if (rc < 0)
		return rc;
	set_digest(&b->plan->sets[rc]);

	for (size_t c = 0; c < sizeof(contexts) / sizeof(contexts[0]); c++) {
		const struct chain_ctx *ctx = &contexts[c];
		if (ctx->chain == CHAIN_FORWARD) {
			struct plan_rule *pr = rule_new(b, CHAIN_FORWARD, ROLE_INTERNAL);
			if (!pr)
				return -ENOMEM;
			pr->verdict = PLAN_JUMP;
			pr->target = CHAIN_FORWARD_IN;
		}
		if ((rc = emit_state_check(b, ctx)) < 0)
			return rc;
		if ((rc = emit_skip(b, ctx)) < 0)
			return rc;
		for (size_t i = 0; i < rs->nrules; i++) {
			const struct rule *r = &rs->rules[i];
			if (c == 0 && r->has_user && r->dir != DIR_OUT)
				return fail(b, -ENOTSUP, r,
					    "the nft backend matches 'user' only on 'out' rules: the kernel "
					    "knows no socket owner for a new inbound connection");
			if ((rc = emit_rule_in_chain(b, r, ctx)) < 0)
				return rc;
		}
		if ((rc = emit_default(b, ctx)) < 0)
			return rc;
	}
	return emit_helpers(b);
}

/* A rule with 'log' becomes two kernel rules: the same matches with
 * 'limit ... log group ...' and no verdict, then the rule itself. The
 * limit is a match (over the rate it stops its rule), so it cannot share a
 * rule with the verdict: a flood is then decided without being logged. */
static int split_log_rules(struct nft_plan *p)
{
	size_t nlog = 0;

	for (size_t i = 0; i < p->nrules; i++)
		nlog += p->rules[i].log;
	if (!nlog)
		return 0;
	struct plan_rule *rules = calloc(p->nrules + nlog, sizeof(*rules));
	if (!rules)
		return -ENOMEM;
	size_t n = 0;
	for (size_t i = 0; i < p->nrules; i++) {
		const struct plan_rule *r = &p->rules[i];
		if (r->log) {
			struct plan_rule *l = &rules[n++];
			*l = *r;
			l->counter = false;
			l->state_update = false;
			l->state_update_ifname = NULL;
			l->reject = REJECT_NONE;
			l->verdict = PLAN_CONTINUE;
			l->log_limit = true;
		}
		rules[n] = *r;
		rules[n++].log = false;
	}
	free(p->rules);
	p->rules = rules;
	p->nrules = p->rules_cap = n;
	return 0;
}

/* --- filling the '(IFSPEC)' sets ---------------------------------------- */

struct ifaddr_fill {
	const struct plan_set *set;
	int family;
	struct addrset *addrs;
};

static int ifaddr_fill_one(const struct ifw_addr *addr, const char *ifname, void *ctx)
{
	struct ifaddr_fill *f = ctx;
	const struct plan_set *s = f->set;

	if (addr->family != f->family)
		return 0;
	/* As filter/match.c: the owner is known by name, its type guessed. */
	if (s->ifspec &&
	    ifmatch_matches(s->ifspec, ifname, iftype_from_name(ifname)) == s->ifspec_negate)
		return 0;
	struct ifw_prefix p = { .addr = *addr, .len = addr->family == 4 ? 32 : 128 };
	return addrset_add(f->addrs, &p);
}

static bool addrset_same_ranges(const struct addrset *a, const struct addrset *b)
{
	size_t n = addrset_range_count(a);

	if (n != addrset_range_count(b))
		return false;
	for (size_t i = 0; i < n; i++)
		if (memcmp(addrset_range(a, i), addrset_range(b, i),
			   sizeof(struct ifw_range)) != 0)
			return false;
	return true;
}

int nft_plan_set_ifaddrs(struct nft_plan *plan, const struct ifaddr_table *ifaddrs,
			 size_t *changed)
{
	size_t n = 0;

	if (changed)
		*changed = 0;
	if (!plan)
		return -EINVAL;
	/* Build every new content first: on failure nothing changed. */
	struct addrset **fresh = calloc(plan->nsets ? plan->nsets : 1, sizeof(*fresh));
	if (!fresh)
		return -ENOMEM;
	int rc = 0;
	for (size_t i = 0; i < plan->nsets && rc == 0; i++) {
		struct plan_set *s = &plan->sets[i];
		if (!s->ifaddr)
			continue;
		struct ifaddr_fill f = { .set = s, .family = s->kind == SETKIND_ADDR4 ? 4 : 6 };
		if (!(f.addrs = addrset_new())) {
			rc = -ENOMEM;
			break;
		}
		fresh[i] = f.addrs;
		rc = ifaddr_table_foreach(ifaddrs, ifaddr_fill_one, &f);
		if (rc == 0)
			rc = addrset_finish(f.addrs);
	}
	for (size_t i = 0; i < plan->nsets; i++) {
		struct plan_set *s = &plan->sets[i];
		if (!fresh[i])
			continue;
		if (rc < 0) {
			addrset_free(fresh[i]);
			continue;
		}
		if (!addrset_same_ranges(s->owned, fresh[i]))
			n++;
		addrset_free(s->owned);
		s->owned = fresh[i];
		s->addrs = fresh[i];
		set_digest(s);
	}
	free(fresh);
	if (rc < 0)
		return rc;
	plan->ifaddrs_filled = true;
	if (changed)
		*changed = n;
	return 0;
}

int nft_plan_build(const struct ruleset *rs, struct nft_plan **out,
		   struct nft_error *err)
{
	struct nft_plan *plan;
	struct builder b = { .rs = rs, .err = err };
	int rc;

	if (err)
		memset(err, 0, sizeof(*err));
	*out = NULL;
	if (!rs)
		return -EINVAL;
	plan = calloc(1, sizeof(*plan));
	if (!plan)
		return -ENOMEM;
	plan->rs = rs;
	b.plan = plan;
	rc = build(&b);
	if (rc == 0)
		rc = split_log_rules(plan);
	if (rc < 0) {
		if (rc == -ENOMEM)
			fail(&b, rc, NULL, "out of memory");
		nft_plan_free(plan);
		return rc;
	}
	*out = plan;
	return 0;
}

void nft_plan_free(struct nft_plan *plan)
{
	if (!plan)
		return;
	for (size_t i = 0; i < plan->nsets; i++) {
		free(plan->sets[i].values);
		free(plan->sets[i].ids);
		addrset_free(plan->sets[i].owned);
	}
	free(plan->sets);
	free(plan->rules);
	free(plan);
}

size_t nft_plan_rule_count(const struct nft_plan *plan)
{
	return plan ? plan->nrules : 0;
}

const char *plan_rule_comment(const struct plan_rule *r, char *buf, size_t size)
{
	char where[512];

	switch (r->role) {
	case ROLE_USER: {
		const char *w = where;
		snprintf(where, sizeof(where), "%s:%d",
			 r->rule->file ? r->rule->file : "?", r->rule->line);
		if (strlen(w) > 127)
			w += strlen(w) - 127;
		snprintf(buf, size, "%s", w);
		return buf;
	}
	case ROLE_DEFAULT:
		snprintf(buf, size, "default %s", r->default_dir == DIR_IN ? "in" : "out");
		return buf;
	case ROLE_SKIP:
		snprintf(buf, size, "skip");
		return buf;
	case ROLE_INTERNAL:
		break;
	}
	return NULL;
}

size_t nft_plan_ifaddr_set_count(const struct nft_plan *plan)
{
	return plan ? plan->nifaddr_sets : 0;
}
