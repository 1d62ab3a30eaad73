/* The compiled matcher: which rules a packet could match, by the criteria
 * every packet has, so that rules it cannot match are never tried.
 *
 * Built once per (immutable) rule set. Rules are bucketed, like an nft map,
 * by interface name (the exact names rules list), direction, family and
 * protocol; a bucket keeps its rules in rule set order. Inside a bucket the
 * rules that name destination ports (else source ports) are split off into
 * port intervals (the ranges' end points cut 0..65535 into intervals every
 * such rule either covers or misses), so a packet tries the port-free rules
 * and the rules of its ports' intervals, merged back into rule order. Every
 * candidate is still checked with rule_matches(), so a bucket may hold more
 * than can match but never less: the first match is the linear scan's.
 * A run of such rules with destination sets that do not overlap (a
 * blocklist written rule by rule) becomes one group, like an nft verdict
 * map: the packet's destination is looked up among the members' ranges,
 * and only the member holding it is tried, since no other member can
 * match. */
#include "filter/engine.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define END UINT32_MAX /* ends every list of rule indexes */
/* In a bucket's list of port-free rules: an address group, not a rule. */
#define GROUP_BIT 0x80000000u
/* Runs shorter than this are tried rule by rule. */
#define MIN_GROUP 4
/* Beyond this many list entries (4 bytes each) the rule set is decided by
 * the linear scan: an index is a speed-up, never a memory hazard. */
#define MAX_ENTRIES (4u << 20)
/* A bucket whose port intervals would hold more entries than this many per
 * rule is not split by port (nested ranges could otherwise go quadratic). */
#define MAX_PORT_FANOUT 64
/* Buckets x rules looked at while building (tens of ms at most). */
#define MAX_BUILD_STEPS (4u << 20)

/* The rules of a bucket that need a port in given ranges, by interval. */
struct port_split {
	size_t nintervals;     /* 0: no such rules */
	const uint32_t *lo;    /* first port of each interval; lo[0] == 0 */
	const uint32_t *start; /* offset in rules[] of each interval's list */
	const uint32_t *rules;
};

enum { SPLIT_DPORT, SPLIT_SPORT, NSPLITS };

struct bucket {
	const uint32_t *any;   /* rules without a (positive) port criterion */
	struct port_split split[NSPLITS];
};

/* An interface name as two words, NUL padded (compared, not printed). */
struct name_key {
	uint64_t w[2];
};

/* One destination range of a group's member rule, the address as a
 * number (IPv4 in the low 32 bits). */
struct group_range {
	unsigned __int128 lo, hi;
	uint32_t rule;
};

struct addr_group {
	size_t n4, n6;
	struct group_range *ranges; /* IPv4 then IPv6, each sorted, disjoint */
};

struct rule_index {
	/* The rules it was built for: a copy of the rule set with other
	 * rules (a caller's one-rule view) is scanned instead. */
	const struct rule *rules;
	size_t nrules;
	size_t ngroups, groups_cap, group_ranges;
	struct addr_group *groups;
	size_t nnames;
	struct name_key *names;      /* sorted */
	uint8_t proto_class[256];    /* 0: a protocol no rule names */
	size_t nproto_classes;
	struct bucket *buckets;      /* [name][dir][family][proto class] */
	uint32_t *entries;           /* every list, one allocation */
	size_t nentries, cap;
};

/* --- building ------------------------------------------------------------ */

/* The key of an IFW_IFNAMSIZ name array: the bytes up to the first NUL,
 * zero after (names are compared as strncmp(..., IFW_IFNAMSIZ) does). */
static inline struct name_key name_key_of(const char *name)
{
	struct name_key k;
	const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;

	memcpy(k.w, name, sizeof(k.w));
	for (int i = 0; i < 2; i++) {
		/* The lowest flagged byte is the first NUL (little endian:
		 * the first in memory). */
		uint64_t zero = (k.w[i] - ones) & ~k.w[i] & highs;
		if (!zero)
			continue;
		int at = __builtin_ctzll(zero) / 8;
		k.w[i] &= at ? ~0ull >> (64 - 8 * at) : 0;
		if (i == 0)
			k.w[1] = 0;
		break;
	}
	return k;
}

static int cmp_name(const void *a, const void *b)
{
	const struct name_key *x = a, *y = b;

	if (x->w[0] != y->w[0])
		return x->w[0] < y->w[0] ? -1 : 1;
	return x->w[1] < y->w[1] ? -1 : x->w[1] > y->w[1];
}

static bool name_equal(const struct name_key *a, const struct name_key *b)
{
	return ((a->w[0] ^ b->w[0]) | (a->w[1] ^ b->w[1])) == 0;
}

/* Rules whose interface criterion is a plain list of names can only match
 * those names; any other criterion (prefix, type, negated) is left to
 * rule_matches(). */
static bool names_only(const struct ifmatch *on)
{
	if (on->count == 0 || on->negate)
		return false;
	for (size_t i = 0; i < on->count; i++)
		if (on->items[i].kind != IFITEM_NAME)
			return false;
	return true;
}

static bool lists_name(const struct ifmatch *on, const struct name_key *name)
{
	for (size_t i = 0; i < on->count; i++) {
		struct name_key k = name_key_of(on->items[i].name);
		if (name_equal(&k, name))
			return true;
	}
	return false;
}

static int collect_names(struct rule_index *ix, const struct ruleset *rs)
{
	size_t cap = 0, n = 0;

	for (size_t i = 0; i < rs->nrules; i++)
		if (names_only(&rs->rules[i].on))
			cap += rs->rules[i].on.count;
	ix->names = calloc(cap ? cap : 1, sizeof(*ix->names));
	if (!ix->names)
		return -ENOMEM;
	for (size_t i = 0; i < rs->nrules; i++) {
		const struct ifmatch *on = &rs->rules[i].on;
		if (!names_only(on))
			continue;
		for (size_t k = 0; k < on->count; k++)
			ix->names[n++] = name_key_of(on->items[k].name);
	}
	if (n)
		qsort(ix->names, n, sizeof(*ix->names), cmp_name);
	ix->nnames = 0;
	for (size_t i = 0; i < n; i++)
		if (!ix->nnames || !name_equal(&ix->names[ix->nnames - 1], &ix->names[i]))
			ix->names[ix->nnames++] = ix->names[i];
	return 0;
}

static void collect_protos(struct rule_index *ix, const struct ruleset *rs)
{
	memset(ix->proto_class, 0, sizeof(ix->proto_class));
	ix->nproto_classes = 1;
	for (size_t i = 0; i < rs->nrules; i++)
		for (size_t k = 0; k < rs->rules[i].nprotos; k++) {
			uint8_t p = rs->rules[i].protos[k];
			if (!ix->proto_class[p])
				ix->proto_class[p] = (uint8_t)ix->nproto_classes++;
		}
}

/* Entries are appended to one array; lists refer to it by offset until
 * the build is done (the array moves as it grows). */
static int push(struct rule_index *ix, uint32_t v)
{
	if (ix->nentries == ix->cap) {
		size_t cap = ix->cap ? ix->cap * 2 : 1024;
		uint32_t *e;
		if (ix->cap >= MAX_ENTRIES)
			return -E2BIG;
		e = realloc(ix->entries, cap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		ix->entries = e;
		ix->cap = cap;
	}
	ix->entries[ix->nentries++] = v;
	return 0;
}

/* What a bucket stands for: a packet on interface name (NULL: a name no
 * rule lists), in direction dir, of family fam, protocol class pc (0: a
 * protocol no rule names; else proto). */
struct bucket_key {
	const struct name_key *name;
	unsigned dir;
	unsigned fam;
	int pc;
	uint8_t proto;
};

static bool candidate(const struct rule *r, const struct bucket_key *k)
{
	if (!(r->dir & k->dir))
		return false;
	if (r->family && r->family != k->fam)
		return false;
	if (r->nprotos) {
		bool listed = false;
		if (k->pc == 0)
			return false;
		for (size_t i = 0; i < r->nprotos && !listed; i++)
			listed = r->protos[i] == k->proto;
		if (!listed)
			return false;
	}
	if (names_only(&r->on))
		return k->name && lists_name(&r->on, k->name);
	return true;
}

/* Which split a rule goes to: the first port criterion it has that is a
 * plain list of ranges (a negated one matches almost every port); NSPLITS
 * when none. */
static int split_of(const struct rule *r)
{
	if (r->dport.count && !r->dport.negate)
		return SPLIT_DPORT;
	if (r->sport.count && !r->sport.negate)
		return SPLIT_SPORT;
	return NSPLITS;
}

static const struct portmatch *split_ports(const struct rule *r, int split)
{
	return split == SPLIT_DPORT ? &r->dport : &r->sport;
}

static bool covers(const struct portmatch *m, uint32_t port)
{
	for (size_t i = 0; i < m->count; i++)
		if (port >= m->ranges[i].lo && port <= m->ranges[i].hi)
			return true;
	return false;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Offsets into ix->entries while building; turned into pointers after. */
struct split_offsets {
	size_t nintervals, lo, start, rules;
};

struct bucket_offsets {
	size_t any;
	struct split_offsets split[NSPLITS];
};

/* The port intervals of the ncand rules cand[] (of split `split`): false
 * when they would hold too many entries (nested ranges), and the rules
 * then go to the bucket's other list instead. */
static int build_split(struct rule_index *ix, const struct ruleset *rs,
		       int split, const uint32_t *cand, size_t ncand,
		       uint32_t *bounds, struct split_offsets *o, bool *done)
{
	size_t nbounds = 0, total = 0, n = 0;
	int err;

	*done = false;
	bounds[nbounds++] = 0;
	for (size_t c = 0; c < ncand; c++) {
		const struct portmatch *m = split_ports(&rs->rules[cand[c]], split);
		for (size_t i = 0; i < m->count; i++) {
			bounds[nbounds++] = m->ranges[i].lo;
			bounds[nbounds++] = (uint32_t)m->ranges[i].hi + 1;
		}
	}
	if (nbounds)
		qsort(bounds, nbounds, sizeof(*bounds), cmp_u32);
	for (size_t i = 0; i < nbounds; i++)
		if (bounds[i] <= 65535 && (!n || bounds[n - 1] != bounds[i]))
			bounds[n++] = bounds[i];
	nbounds = n;
	for (size_t v = 0; v < nbounds; v++)
		for (size_t c = 0; c < ncand; c++)
			total += covers(split_ports(&rs->rules[cand[c]], split), bounds[v]);
	if (total > MAX_PORT_FANOUT * (ncand + 16))
		return 0;
	o->nintervals = nbounds;
	o->lo = ix->nentries;
	for (size_t v = 0; v < nbounds; v++)
		if ((err = push(ix, bounds[v])) < 0)
			return err;
	o->start = ix->nentries;
	for (size_t v = 0, at = 0; v < nbounds; v++) {
		if ((err = push(ix, (uint32_t)at)) < 0)
			return err;
		for (size_t c = 0; c < ncand; c++)
			at += covers(split_ports(&rs->rules[cand[c]], split), bounds[v]);
		at++; /* END */
	}
	o->rules = ix->nentries;
	for (size_t v = 0; v < nbounds; v++) {
		for (size_t c = 0; c < ncand; c++)
			if (covers(split_ports(&rs->rules[cand[c]], split), bounds[v]) &&
			    (err = push(ix, cand[c])) < 0)
				return err;
		if ((err = push(ix, END)) < 0)
			return err;
	}
	*done = true;
	return 0;
}

/* --- address groups ------------------------------------------------------ */

/* A destination criterion a group can look up: a plain (finished, not
 * negated) set, not '(IFSPEC)'. */
static bool groupable(const struct rule *r)
{
	const struct addrmatch *m = &r->to;

	return m->set && !m->negate && !m->ifaddr &&
	       addrset_range_count(m->set) > 0;
}

static unsigned __int128 addr_number(const uint8_t *a, int family)
{
	unsigned __int128 v = 0;

	for (int i = 0; i < (family == 4 ? 4 : 16); i++)
		v = v << 8 | a[i];
	return v;
}

static int cmp_group_range(const void *a, const void *b)
{
	const struct group_range *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static bool disjoint(const struct group_range *r, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (r[i].lo <= r[i - 1].hi)
			return false;
	return true;
}

/* A group of rules[0..n) (in rule order); its index, or -1 when the rules'
 * ranges overlap (or memory is short): they are then tried one by one. */
static long make_group(struct rule_index *ix, const struct ruleset *rs,
		       const uint32_t *rules, size_t n)
{
	struct addr_group g = { 0 };
	size_t total = 0, k4 = 0, k6;

	for (size_t i = 0; i < n; i++)
		total += addrset_range_count(rs->rules[rules[i]].to.set);
	if (ix->group_ranges + total > MAX_ENTRIES / 4)
		return -1;
	if (ix->ngroups == ix->groups_cap) {
		size_t cap = ix->groups_cap ? ix->groups_cap * 2 : 8;
		struct addr_group *gs = realloc(ix->groups, cap * sizeof(*gs));
		if (!gs)
			return -1;
		ix->groups = gs;
		ix->groups_cap = cap;
	}
	g.ranges = calloc(total, sizeof(*g.ranges));
	if (!g.ranges)
		return -1;
	for (int family = 4; family <= 6; family += 2) {
		k6 = k4;
		for (size_t i = 0; i < n; i++) {
			const struct addrset *set = rs->rules[rules[i]].to.set;
			for (size_t r = 0; r < addrset_range_count(set); r++) {
				const struct ifw_range *x = addrset_range(set, r);
				if (x->family != family)
					continue;
				g.ranges[k6++] = (struct group_range){
					addr_number(x->lo, family), addr_number(x->hi, family), rules[i],
				};
			}
		}
		if (family == 4) {
			g.n4 = k6;
			k4 = k6;
		} else {
			g.n6 = k6 - k4;
		}
	}
	if (g.n4)
		qsort(g.ranges, g.n4, sizeof(*g.ranges), cmp_group_range);
	if (g.n6)
		qsort(g.ranges + g.n4, g.n6, sizeof(*g.ranges), cmp_group_range);
	if (!disjoint(g.ranges, g.n4) || !disjoint(g.ranges + g.n4, g.n6)) {
		free(g.ranges);
		return -1;
	}
	ix->groups[ix->ngroups] = g;
	ix->group_ranges += total;
	return (long)ix->ngroups++;
}

/* Pushes the port-free candidates list[0..n) (ascending), runs of at least
 * MIN_GROUP rules with destination sets as groups. */
static int push_grouped(struct rule_index *ix, const struct ruleset *rs,
			const uint32_t *list, size_t n)
{
	int err;

	for (size_t i = 0; i < n;) {
		size_t end = i + 1;
		long g = -1;
		if (groupable(&rs->rules[list[i]]))
			while (end < n && groupable(&rs->rules[list[end]]))
				end++;
		if (end - i >= MIN_GROUP)
			g = make_group(ix, rs, list + i, end - i);
		if (g >= 0) {
			if ((err = push(ix, GROUP_BIT | (uint32_t)g)) < 0)
				return err;
		} else {
			end = i + 1;
			if ((err = push(ix, list[i])) < 0)
				return err;
		}
		i = end;
	}
	return 0;
}

/* cand[] and bounds[] are scratch arrays of nrules + 1 and of every port
 * range end point + 1 entries. */
static int build_bucket(struct rule_index *ix, const struct ruleset *rs,
			const struct bucket_key *k, struct bucket_offsets *b,
			uint32_t *all, uint32_t *cand, uint32_t *bounds)
{
	bool split_done[NSPLITS];
	size_t nall = 0;
	int err;

	memset(b, 0, sizeof(*b));
	for (size_t i = 0; i < rs->nrules; i++)
		if (candidate(&rs->rules[i], k))
			all[nall++] = (uint32_t)i;
	for (int sp = 0; sp < NSPLITS; sp++) {
		size_t ncand = 0;
		for (size_t c = 0; c < nall; c++)
			if (split_of(&rs->rules[all[c]]) == sp)
				cand[ncand++] = all[c];
		split_done[sp] = !ncand;
		if (ncand && (err = build_split(ix, rs, sp, cand, ncand, bounds,
						 &b->split[sp], &split_done[sp])) < 0)
			return err;
	}
	/* The rest, with the rules of any split not made, in order. */
	size_t nrest = 0;
	for (size_t c = 0; c < nall; c++) {
		int sp = split_of(&rs->rules[all[c]]);
		if (sp == NSPLITS || !split_done[sp])
			all[nrest++] = all[c];
	}
	b->any = ix->nentries;
	if ((err = push_grouped(ix, rs, all, nrest)) < 0)
		return err;
	return push(ix, END);
}

static size_t bucket_of(const struct rule_index *ix, size_t name, unsigned dir,
			unsigned fam, size_t pc)
{
	return ((name * 2 + (dir == DIR_OUT)) * 2 + (fam == 6)) * ix->nproto_classes + pc;
}

void rule_index_free(struct rule_index *ix)
{
	if (!ix)
		return;
	for (size_t i = 0; i < ix->ngroups; i++)
		free(ix->groups[i].ranges);
	free(ix->groups);
	free(ix->names);
	free(ix->buckets);
	free(ix->entries);
	free(ix);
}

struct rule_index *rule_index_new(const struct ruleset *rs)
{
	struct rule_index *ix;
	struct bucket_offsets *off = NULL;
	uint32_t *all = NULL, *cand = NULL, *bounds = NULL;
	size_t nbuckets, maxbounds = 1;
	int err = -ENOMEM;

	if (!rs || rs->nrules >= GROUP_BIT)
		return NULL;
	ix = calloc(1, sizeof(*ix));
	if (!ix)
		return NULL;
	ix->rules = rs->rules;
	ix->nrules = rs->nrules;
	if (collect_names(ix, rs) < 0)
		goto fail;
	collect_protos(ix, rs);
	for (size_t i = 0; i < rs->nrules; i++)
		maxbounds += 2 * (rs->rules[i].dport.count + rs->rules[i].sport.count);
	nbuckets = (ix->nnames + 1) * 4 * ix->nproto_classes;
	/* Every bucket looks at every rule: a rule set with many rules and
	 * many interface names is left to the linear scan rather than make
	 * loading it slow. */
	if (nbuckets * (rs->nrules + 1) > MAX_BUILD_STEPS)
		goto fail;
	ix->buckets = calloc(nbuckets, sizeof(*ix->buckets));
	off = calloc(nbuckets, sizeof(*off));
	all = malloc((rs->nrules + 1) * sizeof(*all));
	cand = malloc((rs->nrules + 1) * sizeof(*cand));
	bounds = malloc(maxbounds * sizeof(*bounds));
	if (!ix->buckets || !off || !all || !cand || !bounds)
		goto fail;
	for (size_t name = 0; name <= ix->nnames; name++)
		for (unsigned d = 0; d < 2; d++)
			for (unsigned f = 0; f < 2; f++)
				for (size_t pc = 0; pc < ix->nproto_classes; pc++) {
					struct bucket_key k = {
						.name = name ? &ix->names[name - 1] : NULL,
						.dir = d ? DIR_OUT : DIR_IN,
						.fam = f ? 6 : 4,
						.pc = (int)pc,
					};
					for (unsigned p = 0; pc && p < 256; p++)
						if (ix->proto_class[p] == pc)
							k.proto = (uint8_t)p;
					err = build_bucket(ix, rs, &k,
							   &off[bucket_of(ix, name, k.dir, k.fam, pc)],
							   all, cand, bounds);
					if (err < 0)
						goto fail;
				}
	for (size_t b = 0; b < nbuckets; b++) {
		ix->buckets[b].any = ix->entries + off[b].any;
		for (int sp = 0; sp < NSPLITS; sp++) {
			const struct split_offsets *o = &off[b].split[sp];
			struct port_split *d = &ix->buckets[b].split[sp];
			d->nintervals = o->nintervals;
			if (o->nintervals) {
				d->lo = ix->entries + o->lo;
				d->start = ix->entries + o->start;
				d->rules = ix->entries + o->rules;
			}
		}
	}
	free(off);
	free(all);
	free(cand);
	free(bounds);
	return ix;
fail:
	free(off);
	free(all);
	free(cand);
	free(bounds);
	rule_index_free(ix);
	return NULL;
}

/* --- deciding ------------------------------------------------------------ */

/* Index of p's interface among the listed names, 0 when not listed. */
static size_t name_class(const struct rule_index *ix, const char *ifname)
{
	struct name_key key;
	size_t lo = 0, hi = ix->nnames;

	if (!ix->nnames)
		return 0;
	key = name_key_of(ifname);
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = cmp_name(&ix->names[mid], &key);
		if (c == 0)
			return mid + 1;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* The rules of the interval holding port: the last lo[] <= port. */
static const uint32_t *split_rules(const struct port_split *s, uint32_t port)
{
	size_t lo = 0, hi = s->nintervals;

	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;
		if (s->lo[mid] <= port)
			lo = mid;
		else
			hi = mid;
	}
	return s->rules + s->start[lo];
}

static const uint32_t no_rules[] = { END };

/* The member of group g whose destination holds p's, or END. */
static uint32_t group_lookup(const struct addr_group *g, const struct packet *p)
{
	const struct group_range *r = p->family == 4 ? g->ranges : g->ranges + g->n4;
	size_t lo = 0, hi = p->family == 4 ? g->n4 : g->n6;
	unsigned __int128 v = addr_number(p->dst.a, p->family);

	/* The last range starting at or before the address. */
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (r[mid].lo <= v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo && v <= r[lo - 1].hi ? r[lo - 1].rule : END;
}

/* The next candidate of a port-free list: a rule, or the member of an
 * address group that could match (groups nothing could match are passed;
 * *a stays on a group until its member is consumed). */
static inline uint32_t next_any(const struct rule_index *ix, const uint32_t **a,
				const struct packet *p)
{
	while (**a != END && (**a & GROUP_BIT)) {
		uint32_t j = group_lookup(&ix->groups[**a & ~GROUP_BIT], p);
		if (j != END)
			return j;
		(*a)++;
	}
	return **a;
}

const struct rule *rule_index_first_match(const struct rule_index *ix,
					  const struct ruleset *rs,
					  const struct packet *p, bool *indexed)
{
	const struct bucket *b;
	const uint32_t *a, *d = no_rules, *s = no_rules;

	*indexed = false;
	if (!ix || ix->rules != rs->rules || ix->nrules != rs->nrules ||
	    (p->dir != DIR_IN && p->dir != DIR_OUT) ||
	    (p->family != 4 && p->family != 6))
		return NULL;
	*indexed = true;
	b = &ix->buckets[bucket_of(ix, name_class(ix, p->ifname),
				   p->dir, p->family, ix->proto_class[p->proto])];
	a = b->any;
	/* Port rules need ports: without, only the others can match. */
	if (p->has_ports) {
		if (b->split[SPLIT_DPORT].nintervals)
			d = split_rules(&b->split[SPLIT_DPORT], p->dport);
		if (b->split[SPLIT_SPORT].nintervals)
			s = split_rules(&b->split[SPLIT_SPORT], p->sport);
	}
	/* The lists ascend and end with END (the largest value): merged,
	 * they are the bucket's candidates in rule set order. Of a group,
	 * only the member holding the destination can match. */
	uint32_t av = next_any(ix, &a, p);
	for (;;) {
		uint32_t i = av < *d ? av : *d;
		if (*s < i)
			i = *s;
		if (i == END)
			return NULL;
		if (rule_matches(&rs->rules[i], p))
			return &rs->rules[i];
		if (av == i) {
			a++;
			av = next_any(ix, &a, p);
		}
		d += *d == i;
		s += *s == i;
	}
}
