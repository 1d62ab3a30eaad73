/* Addresses, prefixes and address sets (see addr.h).
 *
 * A finished set keeps its merged ranges twice: as struct ifw_range for
 * backends, and as packed integers (uint32 for IPv4, 128-bit for IPv6) so a
 * lookup is a branch-light binary search over a dense array. */
#include "filter/addr.h"

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

struct addrset {
	size_t nprefixes, prefix_cap;
	struct ifw_prefix *prefixes;
	size_t nprefixes4, nprefixes6; /* per family, for O(1) has_family */
	bool finished;
	size_t nranges4, nranges6;
	struct range4 *ranges4;
	struct range6 *ranges6;
	struct ifw_range *ranges; /* v4 then v6 */
	struct range_index index4, index6;
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

static uint32_t addr_to_u32(const uint8_t *a)
{
	return (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 |
	       (uint32_t)a[2] << 8 | (uint32_t)a[3];
}

static void u32_to_bytes(uint32_t v, uint8_t *a)
{
	a[0] = (uint8_t)(v >> 24);
	a[1] = (uint8_t)(v >> 16);
	a[2] = (uint8_t)(v >> 8);
	a[3] = (uint8_t)v;
}

static u128 addr_to_u128(const uint8_t *a)
{
	u128 v = 0;

	for (int i = 0; i < 16; i++)
		v = v << 8 | a[i];
	return v;
}

static void u128_to_bytes(u128 v, uint8_t *a)
{
	for (int i = 15; i >= 0; i--) {
		a[i] = (uint8_t)v;
		v >>= 8;
	}
}

static struct range4 prefix_range4(const struct ifw_prefix *p)
{
	uint32_t v = addr_to_u32(p->addr.a);
	uint32_t host = p->len >= 32 ? 0 : (uint32_t)0xffffffffu >> p->len;

	return (struct range4){ v & ~host, v | host };
}

static struct range6 prefix_range6(const struct ifw_prefix *p)
{
	u128 v = addr_to_u128(p->addr.a);
	u128 host = p->len >= 128 ? 0 : ~(u128)0 >> p->len;

	return (struct range6){ v & ~host, v | host };
}

/* --- address sets ------------------------------------------------------- */

struct addrset *addrset_new(void)
{
	return calloc(1, sizeof(struct addrset));
}

static void drop_ranges(struct addrset *set)
{
	free(set->ranges4);
	free(set->ranges6);
	free(set->ranges);
	free(set->index4.first);
	free(set->index6.first);
	memset(&set->index4, 0, sizeof(set->index4));
	memset(&set->index6, 0, sizeof(set->index6));
	set->ranges4 = NULL;
	set->ranges6 = NULL;
	set->ranges = NULL;
	set->nranges4 = set->nranges6 = 0;
	set->finished = false;
}

int addrset_add(struct addrset *set, const struct ifw_prefix *p)
{
	if (!set || !p || (p->addr.family != 4 && p->addr.family != 6) ||
	    p->len > max_len(p->addr.family))
		return -EINVAL;
	if (set->nprefixes == set->prefix_cap) {
		size_t cap = set->prefix_cap ? set->prefix_cap * 2 : 8;
		struct ifw_prefix *n = realloc(set->prefixes, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		set->prefixes = n;
		set->prefix_cap = cap;
	}
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

static int cmp_range4(const void *a, const void *b)
{
	const struct range4 *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return 0;
}

static int cmp_range6(const void *a, const void *b)
{
	const struct range6 *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return 0;
}

/* Sorts by start and merges overlapping and adjacent ranges in place;
 * returns the new count. */
static size_t merge4(struct range4 *r, size_t n)
{
	size_t out = 0;

	if (n == 0)
		return 0;
	qsort(r, n, sizeof(*r), cmp_range4);
	for (size_t i = 1; i < n; i++) {
		struct range4 *cur = &r[out];
		if (cur->hi == UINT32_MAX || r[i].lo <= cur->hi + 1) {
			if (r[i].hi > cur->hi)
				cur->hi = r[i].hi;
		} else {
			r[++out] = r[i];
		}
	}
	return out + 1;
}

static size_t merge6(struct range6 *r, size_t n)
{
	size_t out = 0;

	if (n == 0)
		return 0;
	qsort(r, n, sizeof(*r), cmp_range6);
	for (size_t i = 1; i < n; i++) {
		struct range6 *cur = &r[out];
		if (cur->hi == ~(u128)0 || r[i].lo <= cur->hi + 1) {
			if (r[i].hi > cur->hi)
				cur->hi = r[i].hi;
		} else {
			r[++out] = r[i];
		}
	}
	return out + 1;
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

static u128 hi_of4(const void *r, size_t i)
{
	return ((const struct range4 *)r)[i].hi;
}

static u128 hi_of6(const void *r, size_t i)
{
	return ((const struct range6 *)r)[i].hi;
}

int addrset_finish(struct addrset *set)
{
	size_t n4 = 0, n6 = 0;
	struct range4 *r4 = NULL;
	struct range6 *r6 = NULL;
	struct ifw_range *all = NULL;
	struct range_index ix4 = { 0 }, ix6 = { 0 };

	if (!set)
		return -EINVAL;
	if (set->finished)
		return 0;
	for (size_t i = 0; i < set->nprefixes; i++) {
		if (set->prefixes[i].addr.family == 4)
			n4++;
		else
			n6++;
	}
	r4 = malloc((n4 ? n4 : 1) * sizeof(*r4));
	r6 = malloc((n6 ? n6 : 1) * sizeof(*r6));
	if (!r4 || !r6)
		goto nomem;
	n4 = n6 = 0;
	for (size_t i = 0; i < set->nprefixes; i++) {
		const struct ifw_prefix *p = &set->prefixes[i];
		if (p->addr.family == 4)
			r4[n4++] = prefix_range4(p);
		else
			r6[n6++] = prefix_range6(p);
	}
	n4 = merge4(r4, n4);
	n6 = merge6(r6, n6);
	all = calloc(n4 + n6 ? n4 + n6 : 1, sizeof(*all));
	if (!all)
		goto nomem;
	for (size_t i = 0; i < n4; i++) {
		all[i].family = 4;
		u32_to_bytes(r4[i].lo, all[i].lo);
		u32_to_bytes(r4[i].hi, all[i].hi);
	}
	for (size_t i = 0; i < n6; i++) {
		all[n4 + i].family = 6;
		u128_to_bytes(r6[i].lo, all[n4 + i].lo);
		u128_to_bytes(r6[i].hi, all[n4 + i].hi);
	}
	if (n4 && build_index(&ix4, n4, r4[0].lo, r4[n4 - 1].hi, hi_of4, r4))
		goto nomem;
	if (n6 && build_index(&ix6, n6, r6[0].lo, r6[n6 - 1].hi, hi_of6, r6))
		goto nomem;
	drop_ranges(set);
	set->ranges4 = r4;
	set->ranges6 = r6;
	set->ranges = all;
	set->nranges4 = n4;
	set->nranges6 = n6;
	set->index4 = ix4;
	set->index6 = ix6;
	set->finished = true;
	return 0;
nomem:
	free(r4);
	free(r6);
	free(all);
	free(ix4.first);
	free(ix6.first);
	return -ENOMEM;
}

/* Index of the last range in [from, to) whose lo <= v, or from - 1. */
static long find4_in(const struct range4 *r, size_t from, size_t to, uint32_t v)
{
	size_t lo = from, hi = to;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (r[mid].lo <= v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (long)lo - 1;
}

static long find6_in(const struct range6 *r, size_t from, size_t to, u128 v)
{
	size_t lo = from, hi = to;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (r[mid].lo <= v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (long)lo - 1;
}

static bool contains4(const struct addrset *set, uint32_t v)
{
	const struct range4 *r = set->ranges4;
	size_t n = set->nranges4;
	long i;

	if (n == 0 || v < r[0].lo || v > r[n - 1].hi)
		return false;
	if (set->index4.first) {
		const struct range_index *ix = &set->index4;
		size_t b = (size_t)((v >> ix->shift) - (r[0].lo >> ix->shift));
		size_t from = ix->first[b], to = (size_t)ix->first[b + 1] + 1;
		i = find4_in(r, from, to, v);
		return i >= (long)from && v <= r[i].hi;
	}
	i = find4_in(r, 0, n, v);
	return i >= 0 && v <= r[i].hi;
}

static bool contains6(const struct addrset *set, u128 v)
{
	const struct range6 *r = set->ranges6;
	size_t n = set->nranges6;
	long i;

	if (n == 0 || v < r[0].lo || v > r[n - 1].hi)
		return false;
	if (set->index6.first) {
		const struct range_index *ix = &set->index6;
		size_t b = (size_t)((v >> ix->shift) - (r[0].lo >> ix->shift));
		size_t from = ix->first[b], to = (size_t)ix->first[b + 1] + 1;
		i = find6_in(r, from, to, v);
		return i >= (long)from && v <= r[i].hi;
	}
	i = find6_in(r, 0, n, v);
	return i >= 0 && v <= r[i].hi;
}

/* Index of the last range whose lo <= v, or -1. */
static long find4(const struct range4 *r, size_t n, uint32_t v)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (r[mid].lo <= v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (long)lo - 1;
}

static long find6(const struct range6 *r, size_t n, u128 v)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (r[mid].lo <= v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (long)lo - 1;
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
		return contains4(set, addr_to_u32(addr->a));
	if (addr->family == 6)
		return contains6(set, addr_to_u128(addr->a));
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
	if (set->finished) {
		if (family == 4)
			return set->nranges4 == 1 && set->ranges4[0].lo == 0 &&
			       set->ranges4[0].hi == UINT32_MAX;
		if (family == 6)
			return set->nranges6 == 1 && set->ranges6[0].lo == 0 &&
			       set->ranges6[0].hi == ~(u128)0;
		return false;
	}
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
	/* super's ranges are merged, so a range of sub is covered only when a
	 * single range of super holds it. */
	for (size_t i = 0; i < sub->nranges4; i++) {
		long j = find4(super->ranges4, super->nranges4, sub->ranges4[i].lo);
		if (j < 0 || sub->ranges4[i].hi > super->ranges4[j].hi)
			return false;
	}
	for (size_t i = 0; i < sub->nranges6; i++) {
		long j = find6(super->ranges6, super->nranges6, sub->ranges6[i].lo);
		if (j < 0 || sub->ranges6[i].hi > super->ranges6[j].hi)
			return false;
	}
	return true;
}

size_t addrset_range_count(const struct addrset *set)
{
	if (!set || !set->finished)
		return 0;
	return set->nranges4 + set->nranges6;
}

const struct ifw_range *addrset_range(const struct addrset *set, size_t i)
{
	if (!set || !set->finished || i >= set->nranges4 + set->nranges6)
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
