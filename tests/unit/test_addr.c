/* Addresses, prefixes and address sets: parsing every RFC 4291 text form,
 * host bits, formatting, mixed-family sets, merging, subsets, boundaries. */
#include <errno.h>
#include <stdlib.h>

#include "filter/addr.h"
#include "tests/unit/testlib.h"

static int parse_err(const char *text)
{
	struct ifw_prefix p;
	return ifw_prefix_parse(text, &p);
}

/* Parses text and formats it back. */
static const char *roundtrip(const char *text, char *buf, size_t size)
{
	struct ifw_prefix p;
	if (ifw_prefix_parse(text, &p) != 0)
		return "(error)";
	return ifw_prefix_format(&p, buf, size);
}

static struct ifw_addr addr(const char *text)
{
	struct ifw_addr a;
	if (ifw_addr_parse(text, &a) != 0) {
		fprintf(stderr, "bad test address %s\n", text);
		abort();
	}
	return a;
}

/* Builds a finished set from a NULL-terminated list of prefixes. */
static struct addrset *set_of(const char *const *items)
{
	struct addrset *s = addrset_new();
	for (; *items; items++) {
		struct ifw_prefix p;
		if (ifw_prefix_parse(*items, &p) != 0 || addrset_add(s, &p) != 0) {
			fprintf(stderr, "bad test prefix %s\n", *items);
			abort();
		}
	}
	addrset_finish(s);
	return s;
}

static bool in(const struct addrset *s, const char *a)
{
	struct ifw_addr x = addr(a);
	return addrset_contains(s, &x);
}

static void test_parse_forms(void)
{
	char buf[64];
	struct ifw_prefix p;

	/* RFC 4291 2.2 forms. */
	CHECK_STR("rfc4291 preferred", roundtrip("2001:DB8:0:0:8:800:200C:417A", buf, sizeof(buf)), "2001:db8::8:800:200c:417a");
	CHECK_STR("rfc4291 leading zeros", roundtrip("2001:0db8:0000:0000:0008:0800:200c:417a", buf, sizeof(buf)), "2001:db8::8:800:200c:417a");
	CHECK_STR("rfc4291 compressed", roundtrip("2001:DB8::8:800:200C:417A", buf, sizeof(buf)), "2001:db8::8:800:200c:417a");
	CHECK_STR("rfc4291 multicast", roundtrip("FF01:0:0:0:0:0:0:101", buf, sizeof(buf)), "ff01::101");
	CHECK_STR("rfc4291 loopback", roundtrip("0:0:0:0:0:0:0:1", buf, sizeof(buf)), "::1");
	CHECK_STR("rfc4291 unspecified", roundtrip("::", buf, sizeof(buf)), "::");
	CHECK_STR("rfc4291 trailing ::", roundtrip("fe80::", buf, sizeof(buf)), "fe80::");
	CHECK_STR("rfc4291 embedded v4", roundtrip("0:0:0:0:0:0:13.1.68.3", buf, sizeof(buf)), "::13.1.68.3");
	CHECK_STR("rfc4291 v4-mapped", roundtrip("::FFFF:129.144.52.38", buf, sizeof(buf)), "::ffff:129.144.52.38");
	CHECK("rfc4291 v4-mapped is v6", ifw_prefix_parse("::ffff:1.2.3.4", &p) == 0 && p.addr.family == 6 && p.len == 128);
	/* RFC 4291 2.3 prefix forms. */
	CHECK_STR("rfc4291 prefix full", roundtrip("2001:0DB8:0000:CD30:0000:0000:0000:0000/60", buf, sizeof(buf)), "2001:db8:0:cd30::/60");
	CHECK_STR("rfc4291 prefix middle ::", roundtrip("2001:0DB8::CD30:0:0:0:0/60", buf, sizeof(buf)), "2001:db8:0:cd30::/60");
	CHECK_STR("rfc4291 prefix trailing ::", roundtrip("2001:0DB8:0:CD30::/60", buf, sizeof(buf)), "2001:db8:0:cd30::/60");
	CHECK("rfc4291 illegal truncated group", parse_err("2001:0DB8:0:CD3/60") == -EINVAL);
	CHECK("rfc4291 host bits v6 CD30", parse_err("2001:0DB8::CD30/60") == -EDOM);
	CHECK("rfc4291 host bits v6 CD3", parse_err("2001:0DB8::CD3/60") == -EDOM);

	CHECK_STR("v4 host", roundtrip("192.0.2.1", buf, sizeof(buf)), "192.0.2.1");
	CHECK_STR("v4 prefix", roundtrip("10.0.0.0/8", buf, sizeof(buf)), "10.0.0.0/8");
	CHECK_STR("v4 /32 printed bare", roundtrip("10.0.0.1/32", buf, sizeof(buf)), "10.0.0.1");
	CHECK_STR("v6 /128 printed bare", roundtrip("fd00::1/128", buf, sizeof(buf)), "fd00::1");
	CHECK_STR("v4 /0", roundtrip("0.0.0.0/0", buf, sizeof(buf)), "0.0.0.0/0");
	CHECK_STR("v6 /0", roundtrip("::/0", buf, sizeof(buf)), "::/0");
	CHECK("plain address gets full length", ifw_prefix_parse("10.1.2.3", &p) == 0 && p.len == 32 && p.addr.family == 4);
	CHECK("v4 bytes", ifw_prefix_parse("10.1.2.3", &p) == 0 && p.addr.a[0] == 10 && p.addr.a[3] == 3 && p.addr.a[4] == 0 && p.addr.a[15] == 0);

	CHECK("host bits v4", parse_err("10.0.0.1/8") == -EDOM);
	CHECK("host bits v4 /31", parse_err("10.0.0.1/31") == -EDOM);
	CHECK("no host bits v4 /31", parse_err("10.0.0.2/31") == 0);
	CHECK("host bits v4 /0", parse_err("1.0.0.0/0") == -EDOM);
	CHECK("host bits v6 /127", parse_err("fd00::1/127") == -EDOM);
	CHECK("range v4 /33", parse_err("10.0.0.0/33") == -ERANGE);
	CHECK("range v6 /129", parse_err("::/129") == -ERANGE);
	CHECK("range huge", parse_err("10.0.0.0/99999999999999999999") == -ERANGE);
	CHECK("empty length", parse_err("10.0.0.0/") == -EINVAL);
	CHECK("letter length", parse_err("10.0.0.0/a") == -EINVAL);
	CHECK("negative length", parse_err("10.0.0.0/-1") == -EINVAL);
	CHECK("double slash", parse_err("10.0.0.0/8/8") == -EINVAL);
	CHECK("only length", parse_err("/8") == -EINVAL);
	CHECK("empty", parse_err("") == -EINVAL);
	CHECK("v4 octet 256", parse_err("10.0.0.256") == -EINVAL);
	CHECK("v4 three parts", parse_err("10.0.0") == -EINVAL);
	CHECK("v4 five parts", parse_err("10.0.0.0.1") == -EINVAL);
	CHECK("v6 nine groups", parse_err("1:2:3:4:5:6:7:8:9") == -EINVAL);
	CHECK("v6 two ::", parse_err("1::2::3") == -EINVAL);
	CHECK("v6 :::", parse_err(":::") == -EINVAL);
	CHECK("v6 5-digit group", parse_err("12345::") == -EINVAL);
	CHECK("v6 zone id", parse_err("fe80::1%eth0") == -EINVAL);
	CHECK("hostname", parse_err("example.com") == -EINVAL);
	CHECK("trailing space", parse_err("10.0.0.1 ") == -EINVAL);
	CHECK("very long", parse_err("1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa:bbbb:cccc:dddd") == -EINVAL);
	CHECK("addr_parse rejects prefix", ({ struct ifw_addr a; ifw_addr_parse("10.0.0.0/8", &a); }) == -EINVAL);
}

static void test_contains_prefix(void)
{
	struct ifw_prefix p;
	struct ifw_addr a;

	ifw_prefix_parse("10.0.0.0/8", &p);
	a = addr("10.255.255.255");
	CHECK("prefix contains last", ifw_prefix_contains(&p, &a));
	a = addr("11.0.0.0");
	CHECK("prefix excludes next", !ifw_prefix_contains(&p, &a));
	a = addr("::a00:1");
	CHECK("prefix family mismatch", !ifw_prefix_contains(&p, &a));
	ifw_prefix_parse("2001:db8::/33", &p);
	a = addr("2001:db8:7fff:ffff:ffff:ffff:ffff:ffff");
	CHECK("prefix v6 /33 last", ifw_prefix_contains(&p, &a));
	a = addr("2001:db8:8000::");
	CHECK("prefix v6 /33 next", !ifw_prefix_contains(&p, &a));
	ifw_prefix_parse("::/0", &p);
	a = addr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	CHECK("prefix ::/0 all", ifw_prefix_contains(&p, &a));
}

static void test_sets(void)
{
	static const char *const mixed[] = { "10.0.0.0/8", "192.168.1.0/24", "192.168.0.0/24",
		"fd00::/8", "2001:db8::1", "172.16.0.0/12", "10.1.0.0/16", NULL };
	struct addrset *s = set_of(mixed);
	const struct ifw_range *r;

	CHECK("set v4 in", in(s, "10.1.2.3"));
	CHECK("set v4 first", in(s, "10.0.0.0"));
	CHECK("set v4 last", in(s, "10.255.255.255"));
	CHECK("set v4 before", !in(s, "9.255.255.255"));
	CHECK("set v4 after", !in(s, "11.0.0.0"));
	CHECK("set v4 adjacent merged", in(s, "192.168.0.255") && in(s, "192.168.1.0"));
	CHECK("set v4 beyond merged", !in(s, "192.168.2.0") && !in(s, "192.167.255.255"));
	CHECK("set v6 in", in(s, "fd12:3456::1"));
	CHECK("set v6 host", in(s, "2001:db8::1"));
	CHECK("set v6 host neighbours", !in(s, "2001:db8::") && !in(s, "2001:db8::2"));
	CHECK("set v6 not v4-mapped", !in(s, "::ffff:10.0.0.1"));
	CHECK("set v4 address not v6 bytes", !in(s, "253.0.0.1"));
	CHECK("set prefixes kept", addrset_prefix_count(s) == 7);
	CHECK("set prefix order", addrset_prefix(s, 1)->len == 24 && addrset_prefix(s, 1)->addr.a[2] == 1);
	CHECK("set prefix out of range", addrset_prefix(s, 7) == NULL);
	/* 10/8 (with 10.1/16 inside), 172.16/12, 192.168.0/23; fd00::/8, 2001:db8::1 */
	CHECK("set range count", addrset_range_count(s) == 5);
	r = addrset_range(s, 0);
	CHECK("set range 0", r && r->family == 4 && r->lo[0] == 10 && r->hi[0] == 10 && r->hi[3] == 255);
	r = addrset_range(s, 2);
	CHECK("set range merged /23", r && r->family == 4 && r->lo[2] == 0 && r->hi[2] == 1 && r->hi[3] == 255);
	r = addrset_range(s, 3);
	CHECK("set range v6 sorted", r && r->family == 6 && r->lo[0] == 0x20);
	r = addrset_range(s, 4);
	CHECK("set range v6 fd", r && r->family == 6 && r->lo[0] == 0xfd && r->hi[0] == 0xfd && r->hi[15] == 0xff);
	CHECK("set has v4", addrset_has_family(s, 4));
	CHECK("set has v6", addrset_has_family(s, 6));
	CHECK("set not covers v4", !addrset_covers_family(s, 4));
	addrset_free(s);

	static const char *const v4only[] = { "192.0.2.0/24", NULL };
	s = set_of(v4only);
	CHECK("v4-only set has no v6", !addrset_has_family(s, 6) && !in(s, "::"));
	addrset_free(s);

	static const char *const halves[] = { "128.0.0.0/1", "0.0.0.0/1", "::/1", NULL };
	s = set_of(halves);
	CHECK("two halves cover v4", addrset_covers_family(s, 4));
	CHECK("half does not cover v6", !addrset_covers_family(s, 6));
	CHECK("covers extremes", in(s, "0.0.0.0") && in(s, "255.255.255.255"));
	CHECK("v6 half boundary", in(s, "7fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff") && !in(s, "8000::"));
	addrset_free(s);

	static const char *const allv6[] = { "::/0", "255.255.255.255", NULL };
	s = set_of(allv6);
	CHECK("::/0 covers v6", addrset_covers_family(s, 6) && in(s, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff") && in(s, "::"));
	CHECK("top v4 address", in(s, "255.255.255.255") && !in(s, "255.255.255.254"));
	addrset_free(s);

	s = addrset_new();
	addrset_finish(s);
	CHECK("empty set", !in(s, "10.0.0.1") && !in(s, "::1") && addrset_range_count(s) == 0);
	addrset_free(s);
	addrset_free(NULL);
	CHECK("NULL set contains nothing", !addrset_contains(NULL, NULL));

	/* Unfinished sets still answer (linearly); adding after finish works. */
	s = addrset_new();
	struct ifw_prefix p;
	ifw_prefix_parse("10.0.0.0/8", &p);
	addrset_add(s, &p);
	CHECK("unfinished contains", in(s, "10.9.9.9") && !in(s, "11.0.0.0"));
	addrset_finish(s);
	ifw_prefix_parse("11.0.0.0/8", &p);
	addrset_add(s, &p);
	addrset_finish(s);
	CHECK("add after finish", in(s, "11.0.0.1") && addrset_range_count(s) == 1);
	addrset_free(s);
}

static void test_subset(void)
{
	static const char *const big[] = { "10.0.0.0/8", "192.168.0.0/16", "fc00::/7", NULL };
	static const char *const small[] = { "10.1.0.0/16", "192.168.3.4", "fd00::/8", NULL };
	static const char *const straddle[] = { "10.0.0.0/7", NULL };
	static const char *const split[] = { "10.0.0.0/9", "10.128.0.0/9", NULL };
	static const char *const v6extra[] = { "10.1.0.0/16", "2001:db8::/32", NULL };
	static const char *const none[] = { NULL };
	struct addrset *b = set_of(big), *s = set_of(small), *st = set_of(straddle);
	struct addrset *sp = set_of(split), *v6 = set_of(v6extra), *e = set_of(none);

	CHECK("subset small in big", addrset_is_subset(s, b));
	CHECK("subset big not in small", !addrset_is_subset(b, s));
	CHECK("subset straddling", !addrset_is_subset(st, b));
	CHECK("subset of merged halves", addrset_is_subset(b, b) && addrset_is_subset(sp, b));
	CHECK("subset other family missing", !addrset_is_subset(v6, b));
	CHECK("empty is subset", addrset_is_subset(e, b) && addrset_is_subset(e, e));
	CHECK("nothing is subset of empty", !addrset_is_subset(s, e));
	addrset_free(b);
	addrset_free(s);
	addrset_free(st);
	addrset_free(sp);
	addrset_free(v6);
	addrset_free(e);
}

static uint32_t rnd(uint64_t *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(*s >> 32);
}

/* A random prefix of the family: short and long lengths so ranges nest,
 * touch and merge; IPv6 around a few common /16s so the index has to cut
 * a narrow span. */
static struct ifw_prefix random_prefix(uint64_t *seed, int family)
{
	struct ifw_prefix p;
	unsigned max = family == 4 ? 32 : 128, bytes = family == 4 ? 4 : 16;

	memset(&p, 0, sizeof(p));
	p.addr.family = (uint8_t)family;
	for (unsigned i = 0; i < bytes; i++)
		p.addr.a[i] = (uint8_t)rnd(seed);
	if (family == 6) {
		p.addr.a[0] = 0x20;
		p.addr.a[1] = (uint8_t)(rnd(seed) % 3);
	}
	p.len = (uint8_t)(rnd(seed) % 64 == 0 ? 8 + rnd(seed) % (max - 7) : max - rnd(seed) % (max / 2 + 1));
	for (unsigned bit = p.len; bit < max; bit++)
		p.addr.a[bit / 8] &= (uint8_t)~(0x80 >> (bit % 8));
	return p;
}

static bool linear_contains(const struct addrset *s, const struct ifw_addr *a)
{
	for (size_t i = 0; i < addrset_prefix_count(s); i++)
		if (ifw_prefix_contains(addrset_prefix(s, i), a))
			return true;
	return false;
}

/* Adds delta (+1/-1) to an address, wrapping. */
static struct ifw_addr step(const uint8_t *bytes, int family, int delta)
{
	struct ifw_addr a;
	int n = family == 4 ? 4 : 16;
	memset(&a, 0, sizeof(a));
	a.family = (uint8_t)family;
	memcpy(a.a, bytes, (size_t)n);
	for (int i = n - 1; i >= 0; i--) {
		uint8_t old = a.a[i];
		a.a[i] = (uint8_t)(a.a[i] + delta);
		if ((delta > 0 && a.a[i] > old) || (delta < 0 && a.a[i] < old))
			break;
	}
	return a;
}

/* The binary search and the bucket index agree with a linear scan of the
 * prefixes, at random addresses and at every range's edges. */
static void test_against_linear(void)
{
	static const size_t sizes[] = { 1, 5, 63, 64, 65, 200, 3000, 10000 };
	uint64_t seed = 7;

	for (size_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
		struct addrset *s = addrset_new();
		size_t wrong = 0, probes = 0;
		char label[96];

		for (size_t i = 0; i < sizes[si]; i++) {
			struct ifw_prefix p = random_prefix(&seed, i % 3 ? 4 : 6);
			addrset_add(s, &p);
		}
		addrset_finish(s);
		for (size_t i = 0; i < 3000; i++) {
			struct ifw_prefix p = random_prefix(&seed, i % 2 ? 4 : 6);
			struct ifw_addr a = p.addr;
			for (unsigned b = p.len; b < (a.family == 4 ? 32u : 128u); b++)
				if (rnd(&seed) & 1)
					a.a[b / 8] |= (uint8_t)(0x80 >> (b % 8));
			wrong += addrset_contains(s, &a) != linear_contains(s, &a);
			probes++;
		}
		/* Edges of up to 2000 ranges spread over the set. */
		size_t nr = addrset_range_count(s), stride = nr / 2000 + 1;
		for (size_t i = 0; i < nr; i += stride) {
			const struct ifw_range *r = addrset_range(s, i);
			struct ifw_addr edges[4] = {
				step(r->lo, r->family, -1), step(r->lo, r->family, 0),
				step(r->hi, r->family, 0), step(r->hi, r->family, +1),
			};
			for (int e = 0; e < 4; e++) {
				wrong += addrset_contains(s, &edges[e]) != linear_contains(s, &edges[e]);
				probes++;
			}
		}
		snprintf(label, sizeof(label), "%zu random prefixes agree with a linear scan (%zu probes)",
			 sizes[si], probes);
		CHECK(label, wrong == 0);
		addrset_free(s);
	}
}

int main(void)
{
	test_against_linear();
	test_parse_forms();
	test_contains_prefix();
	test_sets();
	test_subset();
	TEST_MAIN_END();
}
