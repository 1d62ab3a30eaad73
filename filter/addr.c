/* Addresses, prefixes and address sets (see addr.h).
 *
 * A finished set keeps its merged ranges twice: as struct ifw_range for
 * backends, and as packed integers (uint32 for IPv4, 128-bit for IPv6) so a
 * lookup is a branch-light binary search over a dense array. */
#include "filter/addr.h"
#include "filter/grow.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef unsigned __int128 u128;

struct range4 {
	uint32_t lo, hi;
};

struct range6 {
	u128 lo, hi;
};

/* A direct index over a family's ranges, for large sets: the key space
 * between the first range's start and the last range's end is cut into
 * 2^k buckets of 2^shift addresses; first[b] is the first range that can
 * hold an address of bucket b, so a lookup searches first[b]..first[b+1],
 * usually one or two ranges. */
struct range_index {
	uint32_t *first;   /* nbuckets + 1 entries; NULL: no index */
	size_t nbuckets;
	unsigned shift;
};

/* Sets with fewer ranges than this are searched directly. */
#define INDEX_MIN_RANGES 64
#define INDEX_MAX_BITS 16

/* One family's merged ranges, sorted, with their index. */
struct ranges4 {
	struct range4 *r;
	size_t n;
	struct range_index index;
};

struct ranges6 {
	struct range6 *r;
	size_t n;
	struct range_index index;
};

struct addrset {
	size_t nprefixes, prefix_cap;
	struct ifw_prefix *prefixes;
	size_t nprefixes4, nprefixes6; /* per family, for O(1) has_family */
	bool finished;
	struct ranges4 v4;
	struct ranges6 v6;
	struct ifw_range *ranges; /* v4 then v6 */
};

/* --- addresses and prefixes --------------------------------------------- */

static int max_len(int family)
{
	return family == 4 ? 32 : 128;
}

int ifw_addr_parse(const char *text, struct ifw_addr *out)
{
	struct ifw_addr a;

	if (!text || !out)
		return -EINVAL;
	memset(&a, 0, sizeof(a));
	if (strchr(text, ':')) {
		if (inet_pton(AF_INET6, text, a.a) != 1)
			return -EINVAL;
		a.family = 6;
	} else {
		if (inet_pton(AF_INET, text, a.a) != 1)
			return -EINVAL;
		a.family = 4;
	}
	*out = a;
	return 0;
}

/* Parses the decimal length after '/': -EINVAL unless all digits. */
static int parse_len(const char *s, int family, uint8_t *len)
{
	unsigned long v = 0;

	if (!*s)
		return -EINVAL;
	for (const char *c = s; *c; c++) {
		if (*c < '0' || *c > '9')
			return -EINVAL;
		if (v <= 1000)
			v = v * 10 + (unsigned long)(*c - '0');
	}
	if (v > (unsigned long)max_len(family))
		return -ERANGE;
	*len = (uint8_t)v;
	return 0;
}

/* True when every bit of a beyond the first len bits is zero. */
static bool host_bits_clear(const struct ifw_addr *a, unsigned len)
{
	unsigned bytes = a->family == 4 ? 4 : 16;

	for (unsigned i = 0; i < bytes; i++) {
		unsigned start = i * 8;
		uint8_t mask;

		if (start + 8 <= len)
			continue;
		mask = start >= len ? 0xff : (uint8_t)(0xff >> (len - start));
		if (a->a[i] & mask)
			return false;
	}
	return true;
}

int ifw_prefix_parse(const char *text, struct ifw_prefix *out)
{
	char buf[64];
	const char *slash;
	struct ifw_prefix p;
	size_t alen;
	int err;

	if (!text || !out)
		return -EINVAL;
	memset(&p, 0, sizeof(p));
	slash = strchr(text, '/');
	alen = slash ? (size_t)(slash - text) : strlen(text);
	if (alen == 0 || alen >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, text, alen);
	buf[alen] = '\0';
	err = ifw_addr_parse(buf, &p.addr);
	if (err)
		return err;
	if (slash) {
		err = parse_len(slash + 1, p.addr.family, &p.len);
		if (err)
			return err;
		if (!host_bits_clear(&p.addr, p.len))
			return -EDOM;
	} else {
		p.len = (uint8_t)max_len(p.addr.family);
	}
	*out = p;
	return 0;
}

const char *ifw_addr_format(const struct ifw_addr *addr, char *buf, size_t size)
{
	if (!buf || size == 0)
		return buf;
	if (!addr || !inet_ntop(addr->family == 4 ? AF_INET : AF_INET6, addr->a,
				buf, (socklen_t)size)) {
		snprintf(buf, size, "?");
	}
	return buf;
}

const char *ifw_prefix_format(const struct ifw_prefix *p, char *buf, size_t size)
{
	char a[INET6_ADDRSTRLEN];

	if (!buf || size == 0)
		return buf;
	if (!p) {
		snprintf(buf, size, "?");
		return buf;
	}
	ifw_addr_format(&p->addr, a, sizeof(a));
	if (p->len == max_len(p->addr.family))
		snprintf(buf, size, "%s", a);
	else
		snprintf(buf, size, "%s/%u", a, p->len);
	return buf;
}

bool ifw_prefix_contains(const struct ifw_prefix *p, const struct ifw_addr *addr)
{
	unsigned full, rest;

	if (!p || !addr || p->addr.family != addr->family)
		return false;
	full = p->len / 8;
	rest = p->len % 8;
	if (memcmp(p->addr.a, addr->a, full) != 0)
		return false;
	if (rest) {
		uint8_t mask = (uint8_t)(0xff << (8 - rest));
		if ((p->addr.a[full] ^ addr->a[full]) & mask)
			return false;
	}
	return true;
}

/* --- integer views ------------------------------------------------------ */

static uint32_t key4_from_bytes(const uint8_t *a)
{
	return (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 |
	       (uint32_t)a[2] << 8 | (uint32_t)a[3];
}

static void key4_to_bytes(uint32_t v, uint8_t *a)
{
	a[0] = (uint8_t)(v >> 24);
	a[1] = (uint8_t)(v >> 16);
	a[2] = (uint8_t)(v >> 8);
	a[3] = (uint8_t)v;
}

static u128 key6_from_bytes(const uint8_t *a)
{
	u128 v = 0;

	for (int i = 0; i < 16; i++)
		v = v << 8 | a[i];
	return v;
}

static void key6_to_bytes(u128 v, uint8_t *a)
{
	for (int i = 15; i >= 0; i--) {
		a[i] = (uint8_t)v;
		v >>= 8;
	}
}

/* Bits needed so 2^bits >= n, capped. */
static unsigned index_bits(size_t n)
{
	unsigned k = 0;

	while (k < INDEX_MAX_BITS && ((size_t)1 << k) < n)
		k++;
	return k;
}

/* Builds the index of n sorted ranges spanning [base, top]; the shift is
 * the smallest that fits the span in 2^k buckets. Both families use the
 * 128-bit form (IPv4 values are small 128-bit numbers). */
static int build_index(struct range_index *ix, size_t n, u128 base, u128 top,
		       u128 (*hi_of)(const void *, size_t), const void *ranges)
{
	unsigned k, shift = 0;
	size_t nb;

	memset(ix, 0, sizeof(*ix));
	if (n < INDEX_MIN_RANGES)
		return 0;
	k = index_bits(n);
	while (shift < 128 && ((top >> shift) - (base >> shift)) >= ((u128)1 << k))
		shift++;
	nb = (size_t)((top >> shift) - (base >> shift)) + 1;
	ix->first = malloc((nb + 1) * sizeof(*ix->first));
	if (!ix->first)
		return -ENOMEM;
	ix->nbuckets = nb;
	ix->shift = shift;
	size_t i = 0;
	for (size_t b = 0; b < nb; b++) {
		/* The first address of bucket b (the base itself for b = 0). */
		u128 start = b == 0 ? base : ((base >> shift) + b) << shift;
		while (i < n && hi_of(ranges, i) < start)
			i++;
		ix->first[b] = (uint32_t)i;
	}
	ix->first[nb] = (uint32_t)(n - 1);
	return 0;
}

/* --- merged ranges, one instance per family ------------------------------ */

/* The code over a family's ranges is written once and instantiated for
 * IPv4 (32-bit keys) and IPv6 (128-bit keys): one 128-bit version for both
 * would double the IPv4 ranges' memory and slow their lookups. For F = 4, 6:
 *   prefix_rangeF     the inclusive range of a prefix
 *   rangesF_merge     sorts r by start and merges overlapping and adjacent
 *                     ranges in place; returns the new count
 *   rangesF_find      the last range in [from, to) whose lo <= v, or from - 1
 *   rangesF_contains  membership (through the index when there is one)
 *   rangesF_within    every range of sub inside one range of super (whose
 *                     ranges are merged, so one range must hold it)
 *   rangesF_covers_all  the family's whole address space
 *   rangesF_build     the merged ranges and index of set's prefixes of F
 *   rangesF_export    as struct ifw_range, for backends */
#define DEFINE_RANGES(F, key_t, KEY_MAX)                                       \
static struct range##F prefix_range##F(const struct ifw_prefix *p)             \
{                                                                              \
	key_t v = key##F##_from_bytes(p->addr.a);                              \
	key_t host = p->len >= 8 * sizeof(key_t) ? 0 : (key_t)(KEY_MAX) >> p->len; \
                                                                               \
	return (struct range##F){ v & ~host, v | host };                       \
}                                                                              \
                                                                               \
static int range##F##_cmp(const void *a, const void *b)                        \
{                                                                              \
	const struct range##F *x = a, *y = b;                                  \
                                                                               \
	if (x->lo != y->lo)                                                    \
		return x->lo < y->lo ? -1 : 1;                                 \
	return 0;                                                              \
}                                                                              \
                                                                               \
static size_t ranges##F##_merge(struct range##F *r, size_t n)                  \
{                                                                              \
	size_t out = 0;                                                        \
                                                                               \
	if (n == 0)                                                            \
		return 0;                                                      \
	qsort(r, n, sizeof(*r), range##F##_cmp);                               \
	for (size_t i = 1; i < n; i++) {                                       \
		struct range##F *cur = &r[out];                                \
		if (cur->hi == (KEY_MAX) || r[i].lo <= cur->hi + 1) {          \
			if (r[i].hi > cur->hi)                                 \
				cur->hi = r[i].hi;                             \
		} else {                                                       \
			r[++out] = r[i];                                       \
		}                                                              \
	}                                                                      \
	return out + 1;                                                        \
}                                                                              \
                                                                               \
static long ranges##F##_find(const struct range##F *r, size_t from, size_t to, \
			     key_t v)                                          \
{                                                                              \
	size_t lo = from, hi = to;                                             \
                                                                               \
	while (lo < hi) {                                                      \
		size_t mid = lo + (hi - lo) / 2;                               \
		if (r[mid].lo <= v)                                            \
			lo = mid + 1;                                          \
		else                                                           \
			hi = mid;                                              \
	}                                                                      \
	return (long)lo - 1;                                                   \
}                                                                              \
                                                                               \
static bool ranges##F##_contains(const struct ranges##F *s, key_t v)           \
{                                                                              \
	const struct range##F *r = s->r;                                       \
	size_t n = s->n, from = 0, to = n;                                     \
	long i;                                                                \
                                                                               \
	if (n == 0 || v < r[0].lo || v > r[n - 1].hi)                          \
		return false;                                                  \
	if (s->index.first) {                                                  \
		unsigned shift = s->index.shift;                               \
		size_t b = (size_t)((v >> shift) - (r[0].lo >> shift));        \
		from = s->index.first[b];                                      \
		to = (size_t)s->index.first[b + 1] + 1;                        \
	}                                                                      \
	i = ranges##F##_find(r, from, to, v);                                  \
	return i >= (long)from && v <= r[i].hi;                                \
}                                                                              \
                                                                               \
static bool ranges##F##_within(const struct ranges##F *sub,                    \
			       const struct ranges##F *super)                  \
{                                                                              \
	for (size_t i = 0; i < sub->n; i++) {                                  \
		long j = ranges##F##_find(super->r, 0, super->n, sub->r[i].lo); \
		if (j < 0 || sub->r[i].hi > super->r[j].hi)                    \
			return false;                                          \
	}                                                                      \
	return true;                                                           \
}                                                                              \
                                                                               \
static bool ranges##F##_covers_all(const struct ranges##F *s)                  \
{                                                                              \
	return s->n == 1 && s->r[0].lo == 0 && s->r[0].hi == (KEY_MAX);        \
}                                                                              \
                                                                               \
static u128 ranges##F##_hi_at(const void *r, size_t i)                         \
{                                                                              \
	return ((const struct range##F *)r)[i].hi;                             \
}                                                                              \
                                                                               \
static int ranges##F##_build(const struct addrset *set, struct ranges##F *out) \
{                                                                              \
	size_t n = 0;                                                          \
	struct range##F *r;                                                    \
                                                                               \
	memset(out, 0, sizeof(*out));                                          \
	for (size_t i = 0; i < set->nprefixes; i++)                            \
		n += set->prefixes[i].addr.family == (F);                      \
	r = malloc((n ? n : 1) * sizeof(*r));                                  \
	if (!r)                                                                \
		return -ENOMEM;                                                \
	n = 0;                                                                 \
	for (size_t i = 0; i < set->nprefixes; i++)                            \
		if (set->prefixes[i].addr.family == (F))                       \
			r[n++] = prefix_range##F(&set->prefixes[i]);           \
	n = ranges##F##_merge(r, n);                                           \
	if (n && build_index(&out->index, n, r[0].lo, r[n - 1].hi,             \
			     ranges##F##_hi_at, r)) {                          \
		free(r);                                                       \
		return -ENOMEM;                                                \
	}                                                                      \
	out->r = r;                                                            \
	out->n = n;                                                            \
	return 0;                                                              \
}                                                                              \
                                                                               \
static void ranges##F##_export(const struct ranges##F *s, struct ifw_range *out) \
{                                                                              \
	for (size_t i = 0; i < s->n; i++) {                                    \
		out[i].family = (F);                                           \
		key##F##_to_bytes(s->r[i].lo, out[i].lo);                      \
		key##F##_to_bytes(s->r[i].hi, out[i].hi);                      \
	}                                                                      \
}                                                                              \
                                                                               \
static void ranges##F##_free(struct ranges##F *s)                              \
{                                                                              \
	free(s->r);                                                            \
	free(s->index.first);                                                  \
	memset(s, 0, sizeof(*s));                                              \
}

DEFINE_RANGES(4, uint32_t, UINT32_MAX)
DEFINE_RANGES(6, u128, ~(u128)0)

/* --- address sets ------------------------------------------------------- */

struct addrset *addrset_new(void)
{
	return calloc(1, sizeof(struct addrset));
}

static void drop_ranges(struct addrset *set)
{
	ranges4_free(&set->v4);
	ranges6_free(&set->v6);
	free(set->ranges);
	set->ranges = NULL;
	set->finished = false;
}

int addrset_add(struct addrset *set, const struct ifw_prefix *p)
{
	if (!set || !p || (p->addr.family != 4 && p->addr.family != 6) ||
	    p->len > max_len(p->addr.family))
		return -EINVAL;
	if (grow_array(&set->prefixes, &set->prefix_cap, set->nprefixes,
		       sizeof(*set->prefixes)) < 0)
		return -ENOMEM;
	set->prefixes[set->nprefixes++] = *p;
	if (p->addr.family == 4)
		set->nprefixes4++;
	else
		set->nprefixes6++;
	/* Adding after finish is tolerated: the set just needs finishing
	 * again before lookups use the ranges. */
	if (set->finished)
		drop_ranges(set);
	return 0;
}

int addrset_finish(struct addrset *set)
{
	struct ranges4 v4;
	struct ranges6 v6;
	struct ifw_range *all;

	if (!set)
		return -EINVAL;
	if (set->finished)
		return 0;
	if (ranges4_build(set, &v4) < 0)
		return -ENOMEM;
	if (ranges6_build(set, &v6) < 0) {
		ranges4_free(&v4);
		return -ENOMEM;
	}
	all = calloc(v4.n + v6.n ? v4.n + v6.n : 1, sizeof(*all));
	if (!all) {
		ranges4_free(&v4);
		ranges6_free(&v6);
		return -ENOMEM;
	}
	ranges4_export(&v4, all);
	ranges6_export(&v6, all + v4.n);
	drop_ranges(set);
	set->v4 = v4;
	set->v6 = v6;
	set->ranges = all;
	set->finished = true;
	return 0;
}

bool addrset_contains(const struct addrset *set, const struct ifw_addr *addr)
{
	if (!set || !addr)
		return false;
	if (!set->finished) {
		/* Not finished: correct but linear. */
		for (size_t i = 0; i < set->nprefixes; i++)
			if (ifw_prefix_contains(&set->prefixes[i], addr))
				return true;
		return false;
	}
	if (addr->family == 4)
		return ranges4_contains(&set->v4, key4_from_bytes(addr->a));
	if (addr->family == 6)
		return ranges6_contains(&set->v6, key6_from_bytes(addr->a));
	return false;
}

size_t addrset_prefix_count(const struct addrset *set)
{
	return set ? set->nprefixes : 0;
}

const struct ifw_prefix *addrset_prefix(const struct addrset *set, size_t i)
{
	if (!set || i >= set->nprefixes)
		return NULL;
	return &set->prefixes[i];
}

bool addrset_has_family(const struct addrset *set, int family)
{
	if (!set)
		return false;
	return family == 4 ? set->nprefixes4 > 0
			   : family == 6 ? set->nprefixes6 > 0 : false;
}

bool addrset_covers_family(const struct addrset *set, int family)
{
	if (!set)
		return false;
	if (set->finished)
		return family == 4 ? ranges4_covers_all(&set->v4)
				   : family == 6 && ranges6_covers_all(&set->v6);
	for (size_t i = 0; i < set->nprefixes; i++)
		if (set->prefixes[i].addr.family == family &&
		    set->prefixes[i].len == 0)
			return true;
	return false;
}

bool addrset_is_subset(const struct addrset *sub, const struct addrset *super)
{
	if (!sub || !super || !sub->finished || !super->finished)
		return false;
	return ranges4_within(&sub->v4, &super->v4) &&
	       ranges6_within(&sub->v6, &super->v6);
}

size_t addrset_range_count(const struct addrset *set)
{
	if (!set || !set->finished)
		return 0;
	return set->v4.n + set->v6.n;
}

const struct ifw_range *addrset_range(const struct addrset *set, size_t i)
{
	if (!set || !set->finished || i >= set->v4.n + set->v6.n)
		return NULL;
	return &set->ranges[i];
}

void addrset_free(struct addrset *set)
{
	if (!set)
		return;
	drop_ranges(set);
	free(set->prefixes);
	free(set);
}
