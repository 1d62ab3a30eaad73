/* Addresses, prefixes and address sets.
 *
 * An address set holds IPv4 and IPv6 prefixes and answers membership in
 * O(log n): prefixes are turned into sorted, merged, non-overlapping ranges
 * by addrset_finish(), so a 100,000-prefix table costs about what a 10-prefix
 * one does. The prefixes are also kept as they were added, for printing and
 * for the nft backend. */
#ifndef IFWALL_FILTER_ADDR_H
#define IFWALL_FILTER_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* family is 4 or 6. Bytes are in network order; IPv4 uses a[0..3], the rest
 * is zero. */
struct ifw_addr {
	uint8_t family;
	uint8_t a[16];
};

struct ifw_prefix {
	struct ifw_addr addr;
	uint8_t len; /* 0..32 or 0..128 */
};

/* Parses "ADDR" or "ADDR/LEN" (IPv4 or any RFC 4291 IPv6 form). Returns 0,
 * -EINVAL for a malformed text, -EDOM when the prefix has host bits set
 * (10.0.0.1/8), -ERANGE when LEN is too long for the family. A plain
 * address gets the full length. */
int ifw_prefix_parse(const char *text, struct ifw_prefix *out);
/* Parses a plain address (no prefix). Returns 0 or -EINVAL. */
int ifw_addr_parse(const char *text, struct ifw_addr *out);
/* Formats an address ("10.0.0.1", "fd00::1") into buf (at least 46 bytes). */
const char *ifw_addr_format(const struct ifw_addr *addr, char *buf, size_t size);
/* Formats a prefix; the length is omitted when it is the full host length.
 * buf should be at least 50 bytes. */
const char *ifw_prefix_format(const struct ifw_prefix *p, char *buf, size_t size);
/* True when addr lies inside p (same family). */
bool ifw_prefix_contains(const struct ifw_prefix *p, const struct ifw_addr *addr);

struct addrset;

/* An inclusive range, for backends that need intervals (nft). */
struct ifw_range {
	uint8_t family;
	uint8_t lo[16];
	uint8_t hi[16];
};

struct addrset *addrset_new(void);
/* Adds a prefix. Returns 0 or -ENOMEM. Not allowed after addrset_finish(). */
int addrset_add(struct addrset *set, const struct ifw_prefix *p);
/* Sorts and merges into ranges; lookups need it. Returns 0 or -ENOMEM. */
int addrset_finish(struct addrset *set);
/* Membership test of a finished set; a family the set has no entry of is
 * never contained. */
bool addrset_contains(const struct addrset *set, const struct ifw_addr *addr);
/* The prefixes as added, in insertion order. */
size_t addrset_prefix_count(const struct addrset *set);
const struct ifw_prefix *addrset_prefix(const struct addrset *set, size_t i);
/* True when the set holds at least one prefix of this family (4 or 6). */
bool addrset_has_family(const struct addrset *set, int family);
/* True when every address of the family is in the set (0.0.0.0/0 or ::/0). */
bool addrset_covers_family(const struct addrset *set, int family);
/* True when every address of sub is in super (both finished). */
bool addrset_is_subset(const struct addrset *sub, const struct addrset *super);
/* Merged ranges of a finished set, IPv4 first then IPv6, sorted. */
size_t addrset_range_count(const struct addrset *set);
const struct ifw_range *addrset_range(const struct addrset *set, size_t i);
/* Accepts NULL. */
void addrset_free(struct addrset *set);

/* --- sets changed at run time (filter/addrset_edit.c) -------------------- */

/* A finished set holding exactly the given ranges (any family mix, order
 * and overlap), as the fewest prefixes that cover them. Returns 0 or
 * -ENOMEM; *out is NULL on error. */
int addrset_from_ranges(const struct ifw_range *ranges, size_t n,
			struct addrset **out);
/* True when every address of p is in the finished set. */
bool addrset_contains_prefix(const struct addrset *set, const struct ifw_prefix *p);

enum addrset_op {
	ADDRSET_ADD = 1,      /* cur plus the prefixes */
	ADDRSET_DELETE,       /* cur minus the prefixes (a range is split when
			       * a deleted prefix falls inside it) */
	ADDRSET_REPLACE,      /* exactly the prefixes */
	ADDRSET_FLUSH,        /* empty; the prefixes are ignored */
};
/* A new finished set: cur (finished, or NULL for empty) changed by op.
 * *changed (may be NULL) gets how many prefixes made a difference: for ADD
 * those not already wholly in cur, for DELETE those that overlapped cur,
 * for REPLACE n, for FLUSH the prefixes cur had. cur is not modified.
 * Returns 0, -EINVAL (unknown op, a prefix of no family), -EFAULT or
 * -ENOMEM; *out is NULL on error. */
int addrset_change(const struct addrset *cur, enum addrset_op op,
		   const struct ifw_prefix *p, size_t n, struct addrset **out,
		   size_t *changed);

#endif
