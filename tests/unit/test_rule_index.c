/* The compiled matcher (filter/rule_index.c) against the plain linear scan:
 * random rule sets x random packets must get the same decision (verdict,
 * rule, skipped) both ways. Values come from small pools so that rules and
 * packets collide often: shared and unlisted interface names, prefixes,
 * port ranges whose end points touch, protocols no rule names, runs of rules
 * that differ only in their destination (overlapping or not). Fixed seeds:
 * a failure names the seed and the packet to replay it. */
#include <stdlib.h>

#include "filter/engine.h"
#include "rules/ruleset.h"
#include "tests/unit/testlib.h"

static uint64_t seed;

static uint32_t rnd(uint32_t n)
{
	seed = seed * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)((seed >> 33) % n);
}

static const char *const names[] = {
	"eth0", "eth1", "wg0", "wg1", "lo", "tun3", "eth0.100", "abcdefghijklmno",
};
static const char *const packet_names[] = {
	"eth0", "eth1", "wg0", "wg1", "lo", "tun3", "eth0.100", "abcdefghijklmno",
	"eth2", "wg9", "", "ppp0",
};
static const uint8_t protos[] = { 6, 17, 1, 58, 132, 47 };
static const uint16_t ports[] = { 0, 1, 22, 53, 80, 443, 1000, 1001, 1005, 8080, 65534, 65535 };

struct built {
	struct ruleset rs;
	struct addrset *sets[2048];
	size_t nsets;
};

static void random_ifmatch(struct ifmatch *m)
{
	uint32_t kind = rnd(10);

	memset(m, 0, sizeof(*m));
	if (kind < 4)
		return;
	m->count = 1 + rnd(3);
	m->items = calloc(m->count, sizeof(*m->items));
	for (size_t i = 0; i < m->count; i++) {
		struct ifitem *it = &m->items[i];
		uint32_t k = kind < 8 ? 0 : rnd(4); /* mostly plain names */
		it->kind = (enum ifitem_kind)k;
		if (k == IFITEM_PREFIX)
			snprintf(it->name, sizeof(it->name), "%s", rnd(2) ? "wg" : "eth");
		else
			snprintf(it->name, sizeof(it->name), "%s", names[rnd(8)]);
		it->type = (enum iftype)rnd(3);
	}
	m->negate = rnd(6) == 0;
}

static void random_addr(struct ifw_addr *a, unsigned family)
{
	memset(a, 0, sizeof(*a));
	a->family = (uint8_t)family;
	if (family == 4) {
		a->a[0] = 10;
		a->a[1] = (uint8_t)rnd(3);
		a->a[3] = (uint8_t)rnd(4);
	} else {
		a->a[0] = 0xfd;
		a->a[1] = (uint8_t)rnd(3);
		a->a[15] = (uint8_t)rnd(4);
	}
}

static void random_addrmatch(struct built *b, struct addrmatch *m)
{
	struct addrset *s;
	size_t n;

	memset(m, 0, sizeof(*m));
	if (rnd(3) || b->nsets == sizeof(b->sets) / sizeof(b->sets[0]))
		return;
	s = addrset_new();
	n = rnd(3); /* 0: an empty table */
	for (size_t i = 0; i < n; i++) {
		struct ifw_prefix p;
		unsigned family = rnd(4) ? 4 : 6;
		random_addr(&p.addr, family);
		p.len = (uint8_t)(family == 4 ? 16 + 8 * rnd(3) : 16 + 56 * rnd(3));
		if (p.len < (family == 4 ? 32 : 128)) { /* no host bits */
			size_t full = p.len / 8;
			memset(p.addr.a + full, 0, 16 - full);
		}
		addrset_add(s, &p);
	}
	addrset_finish(s);
	b->sets[b->nsets++] = s;
	m->set = s;
	m->negate = rnd(4) == 0;
}

static void random_ports(struct portmatch *m)
{
	memset(m, 0, sizeof(*m));
	if (rnd(2))
		return;
	m->count = 1 + rnd(3);
	m->ranges = calloc(m->count, sizeof(*m->ranges));
	for (size_t i = 0; i < m->count; i++) {
		uint16_t a = ports[rnd(12)], c = ports[rnd(12)];
		m->ranges[i].lo = a < c ? a : c;
		m->ranges[i].hi = rnd(2) ? m->ranges[i].lo : (a < c ? c : a);
	}
	m->negate = rnd(5) == 0;
}

static void random_rule(struct built *b, struct rule *r)
{
	memset(r, 0, sizeof(*r));
	r->action = (enum rule_action)rnd(5);
	r->dir = 1 + rnd(3);
	r->quick_state = true;
	random_ifmatch(&r->on);
	r->family = rnd(3) == 0 ? 4 + 2 * rnd(2) : 0;
	if (rnd(5) < 3) {
		r->nprotos = 1 + rnd(2);
		r->protos = calloc(r->nprotos, 1);
		for (size_t i = 0; i < r->nprotos; i++)
			r->protos[i] = protos[rnd(6)];
	}
	random_addrmatch(b, &r->from);
	random_addrmatch(b, &r->to);
	random_ports(&r->sport);
	random_ports(&r->dport);
	if (rnd(8) == 0) {
		r->ntypes = 1 + rnd(2);
		r->types = calloc(r->ntypes, 1);
		for (size_t i = 0; i < r->ntypes; i++)
			r->types[i] = (uint8_t)(rnd(2) ? 8 : 128 + rnd(2));
		r->icmp6 = rnd(2);
	}
	r->has_user = rnd(8) == 0;
	r->uid = rnd(2);
	r->has_mark = rnd(8) == 0;
	r->mark = rnd(2);
}

static void *dup_array(const void *src, size_t n, size_t size)
{
	void *d;

	if (!n)
		return NULL;
	d = malloc(n * size);
	memcpy(d, src, n * size);
	return d;
}

/* A copy of r (its own arrays) with another destination: one address or
 * prefix, usually not overlapping the others of the run. */
static void copy_to_other_destination(struct built *b, const struct rule *r,
				      struct rule *c, size_t k)
{
	struct addrset *set = addrset_new();
	struct ifw_prefix pfx;

	*c = *r;
	c->on.items = dup_array(r->on.items, r->on.count, sizeof(*r->on.items));
	c->protos = dup_array(r->protos, r->nprotos, 1);
	c->sport.ranges = dup_array(r->sport.ranges, r->sport.count, sizeof(*r->sport.ranges));
	c->dport.ranges = dup_array(r->dport.ranges, r->dport.count, sizeof(*r->dport.ranges));
	c->types = dup_array(r->types, r->ntypes, 1);
	c->action = (enum rule_action)rnd(5);
	switch (rnd(12)) { /* sometimes another difference: not a group */
	case 0: c->has_mark = true; c->mark = r->mark ^ 1; break;
	case 1: c->has_user = true; c->uid = r->uid ^ 1; break;
	case 2: c->dir = r->dir == DIR_BOTH ? DIR_IN : DIR_BOTH; break;
	case 3: c->family = r->family ? 0 : 4; break;
	}
	memset(&pfx, 0, sizeof(pfx));
	pfx.addr.family = rnd(5) ? 4 : 6;
	if (pfx.addr.family == 4) {
		pfx.addr.a[0] = 10;
		pfx.addr.a[1] = (uint8_t)rnd(3);
		pfx.addr.a[3] = (uint8_t)(rnd(8) ? k : rnd(4)); /* some overlap */
		pfx.len = rnd(6) ? 32 : 16;
		if (pfx.len == 16)
			pfx.addr.a[3] = 0;
	} else {
		pfx.addr.a[0] = 0xfd;
		pfx.addr.a[1] = (uint8_t)rnd(3);
		pfx.addr.a[15] = (uint8_t)k;
		pfx.len = 128;
	}
	addrset_add(set, &pfx);
	if (rnd(4) == 0) { /* a second prefix of the other family */
		struct ifw_prefix q;
		random_addr(&q.addr, pfx.addr.family == 4 ? 6 : 4);
		q.len = q.addr.family == 4 ? 32 : 128;
		addrset_add(set, &q);
	}
	addrset_finish(set);
	b->sets[b->nsets++] = set;
	c->to.set = set;
	c->to.negate = false;
	c->to.ifaddr = NULL;
}

static void free_rules(struct built *b)
{
	for (size_t i = 0; i < b->rs.nrules; i++) {
		struct rule *r = &b->rs.rules[i];
		free(r->on.items);
		free(r->protos);
		free(r->sport.ranges);
		free(r->dport.ranges);
		free(r->types);
	}
	free(b->rs.rules);
	free(b->rs.skip.items);
	for (size_t i = 0; i < b->nsets; i++)
		addrset_free(b->sets[i]);
	rule_index_free(b->rs.index);
}

static void random_ruleset(struct built *b, size_t nrules)
{
	memset(b, 0, sizeof(*b));
	b->rs.nrules = nrules;
	b->rs.rules = calloc(nrules ? nrules : 1, sizeof(struct rule));
	for (size_t i = 0; i < nrules; i++) {
		random_rule(b, &b->rs.rules[i]);
		b->rs.rules[i].index = i;
		/* Sometimes a run of rules that differ only in their
		 * destination (the index groups them). */
		if (rnd(6) == 0 && b->nsets + 20 < sizeof(b->sets) / sizeof(b->sets[0])) {
			size_t run = 3 + rnd(8);
			for (size_t k = 0; k < run && i + 1 < nrules; k++) {
				i++;
				copy_to_other_destination(b, &b->rs.rules[i - 1 - k], &b->rs.rules[i], k);
				b->rs.rules[i].index = i;
			}
		}
	}
	b->rs.default_in = (enum default_verdict)rnd(4);
	b->rs.default_out = (enum default_verdict)rnd(4);
	b->rs.block_policy = (enum block_policy)rnd(2);
	if (rnd(8) == 0)
		random_ifmatch(&b->rs.skip);
	b->rs.index = rule_index_new(&b->rs);
}

static void random_packet(struct packet *p)
{
	memset(p, 0, sizeof(*p));
	p->family = rnd(20) ? (rnd(4) ? 4 : 6) : (uint8_t)rnd(8);
	random_addr(&p->src, p->family == 6 ? 6 : 4);
	random_addr(&p->dst, p->family == 6 ? 6 : 4);
	p->src.family = p->dst.family = p->family;
	p->proto = rnd(10) ? protos[rnd(6)] : (uint8_t)rnd(256);
	p->has_ports = p->proto == 6 || p->proto == 17 || p->proto == 132 ? rnd(10) != 0 : rnd(10) == 0;
	if (p->has_ports) {
		p->sport = rnd(4) ? ports[rnd(12)] : (uint16_t)rnd(65536);
		p->dport = rnd(4) ? ports[rnd(12)] : (uint16_t)rnd(65536);
	}
	p->has_icmp = !p->has_ports && rnd(2);
	p->icmp_type = (uint8_t)(rnd(2) ? 8 : 128 + rnd(2));
	p->dir = rnd(30) ? 1 + rnd(2) : rnd(4);
	snprintf(p->ifname, sizeof(p->ifname), "%s", packet_names[rnd(12)]);
	if (rnd(4) == 0) /* bytes after the NUL mean nothing */
		for (size_t i = strlen(p->ifname) + 1; i < sizeof(p->ifname); i++)
			p->ifname[i] = (char)('a' + rnd(26));
	p->iftype = (enum iftype)rnd(3);
	p->has_uid = rnd(3) == 0;
	p->uid = rnd(2);
	p->has_mark = rnd(3) == 0;
	p->mark = rnd(2);
	p->len = 100;
}

static void differential(size_t nrulesets, size_t maxrules, size_t npackets)
{
	char name[96];
	size_t mismatches = 0, indexed = 0, matched = 0;
	uint64_t first_seed = 0;

	for (size_t n = 0; n < nrulesets; n++) {
		struct built b;
		uint64_t s = 0x5eed0000 + n * 7919 + maxrules;

		seed = s;
		random_ruleset(&b, rnd((uint32_t)maxrules + 1));
		indexed += b.rs.index != NULL;
		for (size_t i = 0; i < npackets; i++) {
			struct packet p;
			random_packet(&p);
			struct decision a = ruleset_decide(&b.rs, &p);
			struct decision l = ruleset_decide_linear(&b.rs, &p);
			matched += l.rule != NULL;
			if (a.verdict != l.verdict || a.rule != l.rule || a.skipped != l.skipped) {
				if (!mismatches++)
					first_seed = s;
				if (mismatches <= 3)
					printf("# seed %#llx packet %zu: index rule %zd verdict %d, scan rule %zd verdict %d\n",
					       (unsigned long long)s, i,
					       a.rule ? (ssize_t)a.rule->index : -1, a.verdict,
					       l.rule ? (ssize_t)l.rule->index : -1, l.verdict);
			}
		}
		free_rules(&b);
	}
	snprintf(name, sizeof(name), "index = scan: %zu rule sets of up to %zu rules x %zu packets",
		 nrulesets, maxrules, npackets);
	CHECK(name, mismatches == 0);
	if (mismatches)
		printf("# %zu mismatches, first with seed %#llx\n", mismatches,
		       (unsigned long long)first_seed);
	snprintf(name, sizeof(name), "index built for every rule set (%zu of %zu)", indexed, nrulesets);
	CHECK(name, indexed == nrulesets);
	/* The test means something only if rules do match. */
	snprintf(name, sizeof(name), "some packets match a rule (%zu)", matched);
	CHECK(name, matched > nrulesets * npackets / 20);
}

/* A rule set the index cannot shorten (every rule names every port
 * range): still the linear answer. */
static void nested_ranges(void)
{
	struct built b;
	size_t n = 300, mismatches = 0;

	memset(&b, 0, sizeof(b));
	b.rs.nrules = n;
	b.rs.rules = calloc(n, sizeof(struct rule));
	for (size_t i = 0; i < n; i++) {
		struct rule *r = &b.rs.rules[i];
		r->action = i % 2 ? ACTION_PASS : ACTION_BLOCK;
		r->dir = DIR_BOTH;
		r->index = i;
		r->dport.count = 1;
		r->dport.ranges = calloc(1, sizeof(*r->dport.ranges));
		r->dport.ranges[0].lo = (uint16_t)(1000 - i);
		r->dport.ranges[0].hi = (uint16_t)(1000 + i);
		r->has_mark = true;
		r->mark = (uint32_t)i; /* only rule MARK matches */
	}
	b.rs.index = rule_index_new(&b.rs);
	CHECK("nested ranges: index built", b.rs.index != NULL);
	seed = 42;
	for (size_t i = 0; i < 20000; i++) {
		struct packet p;
		random_packet(&p);
		p.dir = DIR_OUT;
		p.family = 4;
		p.proto = 6;
		p.has_ports = true;
		p.dport = (uint16_t)(600 + rnd(800));
		p.has_mark = true;
		p.mark = rnd(350);
		struct decision a = ruleset_decide(&b.rs, &p), l = ruleset_decide_linear(&b.rs, &p);
		mismatches += a.rule != l.rule || a.verdict != l.verdict;
	}
	CHECK("nested ranges: index = scan", mismatches == 0);
	free_rules(&b);
}

/* Parsed rule sets get an index; a hand-made one has none and scans. */
static void parsed_has_index(void)
{
	static const char text[] =
		"pass out on eth1 proto tcp to port 22\n"
		"block in on wg0 proto udp from 10.0.0.0/8 port 53\n"
		"pass out on wg0\n";
	struct ruleset *rs = ruleset_from_string("t.rules", text, strlen(text), NULL);
	struct ruleset plain;

	CHECK("parsed rule set has an index", rs && rs->index);
	memset(&plain, 0, sizeof(plain));
	CHECK("a rule set made by hand has none", plain.index == NULL);
	if (rs) {
		/* A copy viewing one rule keeps the index pointer: the
		 * index must not answer for it. */
		struct ruleset one = *rs;
		struct packet p;
		memset(&p, 0, sizeof(p));
		p.family = 4;
		p.proto = 17;
		p.dir = DIR_OUT;
		p.has_ports = true;
		p.dport = 53;
		snprintf(p.ifname, sizeof(p.ifname), "wg0");
		one.rules = &rs->rules[0]; /* not the rule p matches */
		one.nrules = 1;
		struct decision d = ruleset_decide(&one, &p);
		CHECK("a one-rule copy is decided by its own rules only", d.rule == NULL);
		CHECK("the whole set matches the third rule", ruleset_decide(rs, &p).rule == &rs->rules[2]);
	}
	ruleset_free(rs);
}


int main(void)
{
	differential(300, 8, 2000);
	differential(200, 40, 2000);
	differential(40, 400, 3000);
	nested_ranges();
	parsed_has_index();
	TEST_MAIN_END();
}
