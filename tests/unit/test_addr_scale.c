/* Address sets at scale: a 100,000-prefix set (sorted merged ranges,
 * binary search) answers exactly as a linear scan of its prefixes does, for
 * random addresses and for addresses inside its prefixes. How its lookup
 * cost compares with a 10-prefix set's is a timing ratio: make bench
 * measures it (tests/bench/b_engine.sh, "lookup"), make check does not. */
#include <stdlib.h>

#include "filter/addr.h"
#include "tests/unit/testlib.h"

#define LOOKUPS 2000000

static uint32_t rnd(uint64_t *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(*s >> 32);
}

/* n random /24../32 IPv4 prefixes and n/4 random IPv6 /48s. */
static struct addrset *random_set(size_t n, uint64_t seed)
{
	struct addrset *s = addrset_new();
	for (size_t i = 0; i < n; i++) {
		struct ifw_prefix p;
		uint32_t v = rnd(&seed);
		unsigned len = 24 + rnd(&seed) % 9;
		memset(&p, 0, sizeof(p));
		p.addr.family = 4;
		v &= len == 32 ? 0xffffffffu : ~(0xffffffffu >> len);
		p.addr.a[0] = (uint8_t)(v >> 24);
		p.addr.a[1] = (uint8_t)(v >> 16);
		p.addr.a[2] = (uint8_t)(v >> 8);
		p.addr.a[3] = (uint8_t)v;
		p.len = (uint8_t)len;
		addrset_add(s, &p);
		if (i % 4 == 0) {
			memset(&p, 0, sizeof(p));
			p.addr.family = 6;
			p.addr.a[0] = 0x20;
			for (int j = 1; j < 6; j++)
				p.addr.a[j] = (uint8_t)rnd(&seed);
			p.len = 48;
			addrset_add(s, &p);
		}
	}
	addrset_finish(s);
	return s;
}

/* The answer of a linear scan over every prefix as added. */
static bool linear_contains(const struct addrset *s, const struct ifw_addr *a)
{
	for (size_t i = 0; i < addrset_prefix_count(s); i++)
		if (ifw_prefix_contains(addrset_prefix(s, i), a))
			return true;
	return false;
}

/* a + delta (delta -1 or +1), wrapping, in a's family. */
static struct ifw_addr step(struct ifw_addr a, int delta)
{
	int last = a.family == 4 ? 3 : 15;
	for (int i = last; i >= 0; i--) {
		uint8_t before = a.a[i];
		a.a[i] = (uint8_t)(a.a[i] + delta);
		if ((delta > 0 && before != 0xff) || (delta < 0 && before != 0))
			break;
	}
	return a;
}

/* The first (all host bits 0) or last (all 1) address of prefix p. */
static struct ifw_addr edge(const struct ifw_prefix *p, bool last)
{
	struct ifw_addr a = p->addr;
	unsigned bits = a.family == 4 ? 32 : 128;
	for (unsigned b = p->len; b < bits && last; b++)
		a.a[b / 8] |= (uint8_t)(0x80 >> (b % 8));
	return a;
}

/* An address inside prefix p (random host bits). */
static struct ifw_addr inside(const struct ifw_prefix *p, uint64_t *seed)
{
	struct ifw_addr a = p->addr;
	unsigned bits = a.family == 4 ? 32 : 128;
	for (unsigned b = p->len; b < bits; b++)
		if (rnd(seed) & 1)
			a.a[b / 8] |= (uint8_t)(0x80 >> (b % 8));
	return a;
}

int main(void)
{
	enum { NRANDOM = 600, NINSIDE = 600, NEDGES = 100 };
	uint64_t seed = 42;
	struct addrset *big = random_set(100000, 2);
	size_t agree = 0, hits = 0, inside_found = 0, edges_agree = 0, edges_in = 0;

	for (size_t i = 0; i < NRANDOM; i++) {
		struct ifw_addr a;
		uint32_t v = rnd(&seed);
		memset(&a, 0, sizeof(a));
		a.family = i % 8 ? 4 : 6;
		if (a.family == 4) {
			a.a[0] = (uint8_t)(v >> 24);
			a.a[1] = (uint8_t)(v >> 16);
			a.a[2] = (uint8_t)(v >> 8);
			a.a[3] = (uint8_t)v;
		} else {
			a.a[0] = 0x20;
			for (int j = 1; j < 16; j++)
				a.a[j] = (uint8_t)rnd(&seed);
		}
		bool got = addrset_contains(big, &a);
		agree += got == linear_contains(big, &a);
		hits += got;
	}
	for (size_t i = 0; i < NINSIDE; i++) {
		size_t k = rnd(&seed) % addrset_prefix_count(big);
		struct ifw_addr a = inside(addrset_prefix(big, k), &seed);
		inside_found += addrset_contains(big, &a);
	}
	/* Range boundaries: both ends of a prefix and their outside neighbours
	 * (inside too when an adjacent prefix continues the range). */
	for (size_t i = 0; i < NEDGES; i++) {
		const struct ifw_prefix *p = addrset_prefix(big, rnd(&seed) % addrset_prefix_count(big));
		struct ifw_addr probes[4] = { edge(p, false), edge(p, true),
					      step(edge(p, false), -1), step(edge(p, true), 1) };
		for (int j = 0; j < 4; j++) {
			bool got = addrset_contains(big, &probes[j]);
			edges_agree += got == linear_contains(big, &probes[j]);
			edges_in += j < 2 && got;
		}
	}
	printf("# 100000 prefixes (%zu prefixes with the IPv6 ones, %zu ranges): "
	       "%zu/%d random addresses agree with a linear scan (%zu in the set), "
	       "%zu/%d addresses inside a prefix found, %zu/%d prefix ends and their "
	       "neighbours agree\n",
	       addrset_prefix_count(big), addrset_range_count(big), agree, NRANDOM, hits,
	       inside_found, NINSIDE, edges_agree, 4 * NEDGES);
	CHECK("100k set: random addresses answered as a linear scan answers", agree == NRANDOM);
	CHECK("100k set: some random addresses are in it", hits > 0 && hits < NRANDOM);
	CHECK("100k set: every address inside one of its prefixes is found", inside_found == NINSIDE);
	CHECK("100k set: both ends of its prefixes are in it", edges_in == 2 * NEDGES);
	CHECK("100k set: prefix ends and their neighbours answered as a linear scan answers",
	      edges_agree == 4 * NEDGES);
	addrset_free(big);
	TEST_MAIN_END();
}
