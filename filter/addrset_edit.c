/* Address set arithmetic for tables changed at run time ('ifwall table'):
 * a set from ranges (what the kernel holds), and a set changed by adding,
 * deleting or replacing prefixes (see addr.h). The result is always a new
 * finished set; the input is never modified. */
#include "filter/addr.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef unsigned __int128 u128;

static int family_bits(int family)
{
	return family == 4 ? 32 : 128;
}

static u128 key_from_bytes(const uint8_t *a, int family)
{
	u128 k = 0;
	int n = family == 4 ? 4 : 16;

	for (int i = 0; i < n; i++)
		k = (k << 8) | a[i];
	return k;
}

static void key_to_bytes(u128 k, int family, uint8_t *a)
{
	int n = family == 4 ? 4 : 16;

	memset(a, 0, 16);
	for (int i = n - 1; i >= 0; i--) {
		a[i] = (uint8_t)k;
		k >>= 8;
	}
}

static u128 family_max(int family)
{
	return family == 4 ? (u128)0xffffffffu : ~(u128)0;
}

/* Adds the smallest list of prefixes covering [lo, hi] exactly. */
static int add_range(struct addrset *set, int family, u128 lo, u128 hi)
{
	int bits = family_bits(family);
	u128 max = family_max(family);

	for (;;) {
		/* The longest aligned block starting at lo that ends by hi. */
		int host = 0;
		while (host < bits) {
			u128 size = (u128)1 << (host + 1);
			if (host + 1 == bits) {
				if (lo == 0 && hi == max)
					host = bits;
				break;
			}
			if (lo & (size - 1))
				break;
			if (lo + size - 1 > hi)
				break;
			host++;
		}
		struct ifw_prefix p;
		memset(&p, 0, sizeof(p));
		p.addr.family = (uint8_t)family;
		key_to_bytes(lo, family, p.addr.a);
		p.len = (uint8_t)(bits - host);
		if (addrset_add(set, &p) < 0)
			return -ENOMEM;
		if (host == bits)
			return 0;
		u128 last = lo + (((u128)1 << host) - 1);
		if (last >= hi)
			return 0;
		lo = last + 1;
	}
}

/* The prefixes covering the ranges, in the order given. */
static int cover_ranges(const struct ifw_range *ranges, size_t n,
			struct addrset **out)
{
	struct addrset *set = addrset_new();

	*out = NULL;
	if (!set)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		int f = ranges[i].family;
		if (f != 4 && f != 6)
			continue;
		u128 lo = key_from_bytes(ranges[i].lo, f);
		u128 hi = key_from_bytes(ranges[i].hi, f);
		if (lo > hi)
			continue;
		if (add_range(set, f, lo, hi) < 0) {
			addrset_free(set);
			return -ENOMEM;
		}
	}
	if (addrset_finish(set) < 0) {
		addrset_free(set);
		return -ENOMEM;
	}
	*out = set;
	return 0;
}

int addrset_from_ranges(const struct ifw_range *ranges, size_t n,
			struct addrset **out)
{
	struct addrset *merged = NULL;
	int rc;

	/* Twice: the first set merges and sorts the ranges, the second holds
	 * the fewest prefixes covering them, in order. */
	*out = NULL;
	if ((rc = cover_ranges(ranges, n, &merged)) < 0)
		return rc;
	rc = cover_ranges(addrset_range(merged, 0), addrset_range_count(merged), out);
	addrset_free(merged);
	return rc;
}

static void prefix_bounds(const struct ifw_prefix *p, u128 *lo, u128 *hi)
{
	int bits = family_bits(p->addr.family);
	u128 k = key_from_bytes(p->addr.a, p->addr.family);
	u128 mask = p->len == 0 ? 0 : family_max(p->addr.family) << (bits - p->len);

	mask &= family_max(p->addr.family);
	*lo = k & mask;
	*hi = *lo | (~mask & family_max(p->addr.family));
}

bool addrset_contains_prefix(const struct addrset *set, const struct ifw_prefix *p)
{
	u128 lo, hi;
	size_t n = addrset_range_count(set);

	prefix_bounds(p, &lo, &hi);
	for (size_t i = 0; i < n; i++) {
		const struct ifw_range *r = addrset_range(set, i);
		if (r->family != p->addr.family)
			continue;
		if (key_from_bytes(r->lo, r->family) <= lo &&
		    key_from_bytes(r->hi, r->family) >= hi)
			return true;
	}
	return false;
}

static bool overlaps(const struct addrset *set, const struct ifw_prefix *p)
{
	u128 lo, hi;
	size_t n = addrset_range_count(set);

	prefix_bounds(p, &lo, &hi);
	for (size_t i = 0; i < n; i++) {
		const struct ifw_range *r = addrset_range(set, i);
		if (r->family != p->addr.family)
			continue;
		if (key_from_bytes(r->lo, r->family) <= hi &&
		    key_from_bytes(r->hi, r->family) >= lo)
			return true;
	}
	return false;
}

/* Ranges of cur minus every prefix of p (a range is cut where a deleted
 * prefix falls inside it). */
static int subtract(const struct addrset *cur, const struct ifw_prefix *p,
		    size_t n, struct addrset **out)
{
	size_t nr = addrset_range_count(cur), cap = nr + 2 * n + 1, count = 0;
	struct ifw_range *r = calloc(cap, sizeof(*r));

	if (!r)
		return -ENOMEM;
	for (size_t i = 0; i < nr; i++)
		r[count++] = *addrset_range(cur, i);
	for (size_t j = 0; j < n; j++) {
		int f = p[j].addr.family;
		u128 dlo, dhi;
		prefix_bounds(&p[j], &dlo, &dhi);
		for (size_t i = 0; i < count; i++) {
			if (r[i].family != f)
				continue;
			u128 lo = key_from_bytes(r[i].lo, f), hi = key_from_bytes(r[i].hi, f);
			if (lo > dhi || hi < dlo || lo > hi)
				continue;
			bool left = lo < dlo, right = hi > dhi;
			if (left && right) {
				/* split: the left part stays here, the right one is appended */
				if (count == cap) {
					struct ifw_range *g = realloc(r, (cap *= 2) * sizeof(*r));
					if (!g) {
						free(r);
						return -ENOMEM;
					}
					r = g;
				}
				r[count] = r[i];
				key_to_bytes(dhi + 1, f, r[count].lo);
				count++;
				key_to_bytes(dlo - 1, f, r[i].hi);
			} else if (left) {
				key_to_bytes(dlo - 1, f, r[i].hi);
			} else if (right) {
				key_to_bytes(dhi + 1, f, r[i].lo);
			} else {
				/* wholly deleted: mark empty (lo > hi) */
				key_to_bytes(1, f, r[i].lo);
				key_to_bytes(0, f, r[i].hi);
			}
		}
	}
	int rc = addrset_from_ranges(r, count, out);
	free(r);
	return rc;
}

int addrset_change(const struct addrset *cur, enum addrset_op op,
		   const struct ifw_prefix *p, size_t n, struct addrset **out,
		   size_t *changed)
{
	struct addrset *set;
	size_t count = 0;
	int rc;

	*out = NULL;
	if (changed)
		*changed = 0;
	if (n && !p)
		return -EFAULT;
	for (size_t i = 0; i < n; i++)
		if ((p[i].addr.family != 4 && p[i].addr.family != 6) ||
		    p[i].len > family_bits(p[i].addr.family))
			return -EINVAL;
	switch (op) {
	case ADDRSET_ADD:
		for (size_t i = 0; i < n; i++)
			count += !(cur && addrset_contains_prefix(cur, &p[i]));
		/* fall through */
	case ADDRSET_REPLACE:
	case ADDRSET_FLUSH:
		if (op == ADDRSET_REPLACE)
			count = n;
		if (op == ADDRSET_FLUSH) {
			n = 0;
			count = cur ? addrset_prefix_count(cur) : 0;
		}
		set = addrset_new();
		if (!set)
			return -ENOMEM;
		rc = 0;
		if (op == ADDRSET_ADD && cur) {
			for (size_t i = 0; i < addrset_prefix_count(cur) && rc == 0; i++)
				rc = addrset_add(set, addrset_prefix(cur, i));
		}
		for (size_t i = 0; i < n && rc == 0; i++)
			rc = addrset_add(set, &p[i]);
		if (rc == 0)
			rc = addrset_finish(set);
		if (rc < 0) {
			addrset_free(set);
			return -ENOMEM;
		}
		/* Normalised: the same prefixes whatever order they came in. */
		rc = addrset_from_ranges(addrset_range(set, 0), addrset_range_count(set), out);
		addrset_free(set);
		if (rc < 0)
			return rc;
		break;
	case ADDRSET_DELETE:
		for (size_t i = 0; i < n; i++)
			count += cur && overlaps(cur, &p[i]);
		if (cur) {
			rc = subtract(cur, p, n, out);
		} else {
			rc = addrset_from_ranges(NULL, 0, out);
		}
		if (rc < 0)
			return rc;
		break;
	default:
		return -EINVAL;
	}
	if (changed)
		*changed = count;
	return 0;
}
