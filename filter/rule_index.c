/* The compiled matcher: which rules a packet could match, by the criteria
 * every packet has, so that rules it cannot match are never tried.
 *
 * Built once per (immutable) rule set. Rules are bucketed, like an nft map,
 * by interface name (the exact names rules list), direction, family and
 * protocol; a bucket keeps its rules in rule set order. Inside a bucket the
 * rules that name destination ports are split off into port intervals (the
 * ranges' end points cut 0..65535 into intervals every such rule either
 * covers or misses), so a packet tries the port-free rules and the rules of
 * its port's interval, merged back into rule order. Every candidate is
 * still checked with rule_matches(), so a bucket may hold more than can
 * match but never less: the first match is the linear scan's. */
#include "filter/engine.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define END UINT32_MAX /* ends every list of rule indexes */
/* Beyond this many list entries (4 bytes each) the rule set is decided by
 * the linear scan: an index is a speed-up, never a memory hazard. */
#define MAX_ENTRIES (4u << 20)
/* A bucket whose port intervals would hold more entries than this many per
 * rule is not split by port (nested ranges could otherwise go quadratic). */
#define MAX_PORT_FANOUT 64

struct bucket {
	const uint32_t *any;   /* rules without a destination port criterion */
	size_t nintervals;     /* 0: no port rules */
	const uint32_t *lo;    /* first port of each interval; lo[0] == 0 */
	const uint32_t *start; /* offset in ports[] of each interval's list */
	const uint32_t *ports;
};

struct rule_index {
	size_t nnames;
	char (*names)[IFW_IFNAMSIZ]; /* sorted, NUL padded */
	uint8_t proto_class[256];    /* 0: a protocol no rule names */
	size_t nproto_classes;
	struct bucket *buckets;      /* [name][dir][family][proto class] */
	uint32_t *entries;           /* every list, one allocation */
	size_t nentries, cap;
};

/* --- building ------------------------------------------------------------ */

static void name_copy(char *dst, const char *src)
{
	size_t i = 0;

	for (; i < IFW_IFNAMSIZ && src[i]; i++)
		dst[i] = src[i];
	memset(dst + i, 0, IFW_IFNAMSIZ - i);
}

static int cmp_name(const void *a, const void *b)
{
	return memcmp(a, b, IFW_IFNAMSIZ);
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

static bool lists_name(const struct ifmatch *on, const char *name)
{
	char key[IFW_IFNAMSIZ];

	for (size_t i = 0; i < on->count; i++) {
		name_copy(key, on->items[i].name);
		if (memcmp(key, name, IFW_IFNAMSIZ) == 0)
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
	ix->names = calloc(cap ? cap : 1, IFW_IFNAMSIZ);
	if (!ix->names)
		return -ENOMEM;
	for (size_t i = 0; i < rs->nrules; i++) {
		const struct ifmatch *on = &rs->rules[i].on;
		if (!names_only(on))
			continue;
		for (size_t k = 0; k < on->count; k++)
			name_copy(ix->names[n++], on->items[k].name);
	}
	qsort(ix->names, n, IFW_IFNAMSIZ, cmp_name);
	ix->nnames = 0;
	for (size_t i = 0; i < n; i++)
		if (!ix->nnames || memcmp(ix->names[ix->nnames - 1], ix->names[i], IFW_IFNAMSIZ))
			memcpy(ix->names[ix->nnames++], ix->names[i], IFW_IFNAMSIZ);
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
	const char *name;
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

static bool port_rule(const struct rule *r)
{
	return r->dport.count && !r->dport.negate;
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
struct bucket_offsets {
	size_t any;
	size_t nintervals, lo, start, ports;
};

static int build_bucket(struct rule_index *ix, const struct ruleset *rs,
			const struct bucket_key *k, struct bucket_offsets *b,
			uint32_t *cand, uint32_t *bounds)
{
	size_t ncand = 0, nport = 0, nbounds = 0, total = 0;
	int err;

	memset(b, 0, sizeof(*b));
	b->any = ix->nentries;
	for (size_t i = 0; i < rs->nrules; i++) {
		const struct rule *r = &rs->rules[i];
		if (!candidate(r, k))
			continue;
		if (port_rule(r)) {
			cand[ncand++] = (uint32_t)i;
			nport++;
		} else if ((err = push(ix, (uint32_t)i)) < 0) {
			return err;
		}
	}
	if ((err = push(ix, END)) < 0)
		return err;
	if (!nport)
		return 0;

	/* Port intervals: every range end point starts one. */
	bounds[nbounds++] = 0;
	for (size_t c = 0; c < ncand; c++) {
		const struct portmatch *m = &rs->rules[cand[c]].dport;
		for (size_t i = 0; i < m->count; i++) {
			bounds[nbounds++] = m->ranges[i].lo;
			bounds[nbounds++] = (uint32_t)m->ranges[i].hi + 1;
		}
	}
	qsort(bounds, nbounds, sizeof(*bounds), cmp_u32);
	size_t n = 0;
	for (size_t i = 0; i < nbounds; i++)
		if (bounds[i] <= 65535 && (!n || bounds[n - 1] != bounds[i]))
			bounds[n++] = bounds[i];
	nbounds = n;
	for (size_t v = 0; v < nbounds; v++)
		for (size_t c = 0; c < ncand; c++)
			total += covers(&rs->rules[cand[c]].dport, bounds[v]);
	if (total > MAX_PORT_FANOUT * (nport + 16)) {
		/* Not split: the port rules join the others, in order. */
		ix->nentries = b->any;
		for (size_t i = 0; i < rs->nrules; i++)
			if (candidate(&rs->rules[i], k) && (err = push(ix, (uint32_t)i)) < 0)
				return err;
		return push(ix, END);
	}
	b->nintervals = nbounds;
	b->lo = ix->nentries;
	for (size_t v = 0; v < nbounds; v++)
		if ((err = push(ix, bounds[v])) < 0)
			return err;
	b->start = ix->nentries;
	for (size_t v = 0, at = 0; v < nbounds; v++) {
		if ((err = push(ix, (uint32_t)at)) < 0)
			return err;
		for (size_t c = 0; c < ncand; c++)
			at += covers(&rs->rules[cand[c]].dport, bounds[v]);
		at++; /* END */
	}
	b->ports = ix->nentries;
	for (size_t v = 0; v < nbounds; v++) {
		for (size_t c = 0; c < ncand; c++)
			if (covers(&rs->rules[cand[c]].dport, bounds[v]) &&
			    (err = push(ix, cand[c])) < 0)
				return err;
		if ((err = push(ix, END)) < 0)
			return err;
	}
	return 0;
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
	free(ix->names);
	free(ix->buckets);
	free(ix->entries);
	free(ix);
}

struct rule_index *rule_index_new(const struct ruleset *rs)
{
	struct rule_index *ix;
	struct bucket_offsets *off = NULL;
	uint32_t *cand = NULL, *bounds = NULL;
	size_t nbuckets, maxbounds = 1;
	int err = -ENOMEM;

	if (!rs || rs->nrules >= END)
		return NULL;
	ix = calloc(1, sizeof(*ix));
	if (!ix)
		return NULL;
	if (collect_names(ix, rs) < 0)
		goto fail;
	collect_protos(ix, rs);
	for (size_t i = 0; i < rs->nrules; i++)
		maxbounds += 2 * rs->rules[i].dport.count;
	nbuckets = (ix->nnames + 1) * 4 * ix->nproto_classes;
	ix->buckets = calloc(nbuckets, sizeof(*ix->buckets));
	off = calloc(nbuckets, sizeof(*off));
	cand = malloc((rs->nrules + 1) * sizeof(*cand));
	bounds = malloc(maxbounds * sizeof(*bounds));
	if (!ix->buckets || !off || !cand || !bounds)
		goto fail;
	for (size_t name = 0; name <= ix->nnames; name++)
		for (unsigned d = 0; d < 2; d++)
			for (unsigned f = 0; f < 2; f++)
				for (size_t pc = 0; pc < ix->nproto_classes; pc++) {
					struct bucket_key k = {
						.name = name ? ix->names[name - 1] : NULL,
						.dir = d ? DIR_OUT : DIR_IN,
						.fam = f ? 6 : 4,
						.pc = (int)pc,
					};
					for (unsigned p = 0; pc && p < 256; p++)
						if (ix->proto_class[p] == pc)
							k.proto = (uint8_t)p;
					err = build_bucket(ix, rs, &k,
							   &off[bucket_of(ix, name, k.dir, k.fam, pc)],
							   cand, bounds);
					if (err < 0)
						goto fail;
				}
	for (size_t b = 0; b < nbuckets; b++) {
		ix->buckets[b].any = ix->entries + off[b].any;
		ix->buckets[b].nintervals = off[b].nintervals;
		if (off[b].nintervals) {
			ix->buckets[b].lo = ix->entries + off[b].lo;
			ix->buckets[b].start = ix->entries + off[b].start;
			ix->buckets[b].ports = ix->entries + off[b].ports;
		}
	}
	free(off);
	free(cand);
	free(bounds);
	return ix;
fail:
	free(off);
	free(cand);
	free(bounds);
	rule_index_free(ix);
	return NULL;
}

/* --- deciding ------------------------------------------------------------ */

/* Index of p's interface among the listed names, 0 when not listed. */
static size_t name_class(const struct rule_index *ix, const char *ifname)
{
	char key[IFW_IFNAMSIZ];
	size_t lo = 0, hi = ix->nnames;

	if (!ix->nnames)
		return 0;
	name_copy(key, ifname);
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = memcmp(ix->names[mid], key, IFW_IFNAMSIZ);
		if (c == 0)
			return mid + 1;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* The interval holding port: the last lo[] <= port. */
static size_t interval_of(const struct bucket *b, uint32_t port)
{
	size_t lo = 0, hi = b->nintervals;

	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;
		if (b->lo[mid] <= port)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

const struct rule *rule_index_first_match(const struct rule_index *ix,
					  const struct ruleset *rs,
					  const struct packet *p, bool *indexed)
{
	const struct bucket *b;
	const uint32_t *a, *q;

	*indexed = false;
	if (!ix || (p->dir != DIR_IN && p->dir != DIR_OUT) ||
	    (p->family != 4 && p->family != 6))
		return NULL;
	*indexed = true;
	b = &ix->buckets[bucket_of(ix, name_class(ix, p->ifname),
				   p->dir, p->family, ix->proto_class[p->proto])];
	a = b->any;
	if (!b->nintervals || !p->has_ports) {
		/* Port rules need ports: only the others can match. */
		for (; *a != END; a++)
			if (rule_matches(&rs->rules[*a], p))
				return &rs->rules[*a];
		return NULL;
	}
	q = b->ports + b->start[interval_of(b, p->dport)];
	/* Both lists ascend and end with END (the largest value). */
	while (*a != END || *q != END) {
		uint32_t i;
		if (*a < *q)
			i = *a++;
		else
			i = *q++;
		if (rule_matches(&rs->rules[i], p))
			return &rs->rules[i];
	}
	return NULL;
}
