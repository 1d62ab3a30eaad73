/* Engine micro-benchmark for tests/bench/b_engine.sh. Measures, in one run,
 * pairs of costs whose ratio says whether the engine scales as designed,
 * and prints them as "NAME a_ns b_ns ratio" lines (best of REPS rounds):
 *
 *   lookup   100,000-prefix set vs 10-prefix set (addrset_contains)
 *   table    kill switch + 100k-prefix table vs + 10-prefix table (decide)
 *   state    established-flow packet (flow_table_packet) vs stateless decide
 *   newflow  new-flow packet in a full table (evicting) vs stateless decide
 *   decode   packet_decode vs stateless decide
 *   rules200 decide with 200 more (non-matching) rules vs without
 *   state200 established-flow packet vs decide, with those 200 rules
 *
 * Usage: engine_bench [ITERATIONS] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "filter/engine.h"
#include "rules/ruleset.h"

#define REPS 5
#define NPKTS 4096

static uint64_t seed = 0x1234567;

static uint32_t rnd(void)
{
	seed = seed * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(seed >> 32);
}

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts); /* CPU time: the machine is shared */
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void v4(struct ifw_addr *a, uint32_t v)
{
	memset(a, 0, sizeof(*a));
	a->family = 4;
	a->a[0] = (uint8_t)(v >> 24);
	a->a[1] = (uint8_t)(v >> 16);
	a->a[2] = (uint8_t)(v >> 8);
	a->a[3] = (uint8_t)v;
}

/* Text of a table of n random /24-/32 prefixes. */
static char *table_text(size_t n)
{
	size_t cap = n * 24 + 64, len = 0;
	char *s = malloc(cap);

	if (!s)
		exit(2);
	len += (size_t)snprintf(s + len, cap - len, "table <big> {");
	for (size_t i = 0; i < n; i++) {
		unsigned plen = 24 + rnd() % 9;
		uint32_t v = rnd() & (plen == 32 ? 0xffffffffu : ~(0xffffffffu >> plen));
		len += (size_t)snprintf(s + len, cap - len, " %u.%u.%u.%u/%u", v >> 24,
					(v >> 16) & 255, (v >> 8) & 255, v & 255, plen);
	}
	snprintf(s + len, cap - len, " }\n");
	return s;
}

static const char ks_text[] =
	"block out to <big>\n"
	"killswitch {\n"
	"  tunnel wg0\n"
	"  endpoint 198.51.100.7 port 51820 proto udp mark 0xca6c\n"
	"  dns 10.64.0.1\n"
	"  allow lan\n"
	"  allow dhcp\n"
	"}\n"
	"pass in on wg0 proto tcp to port 22\n";

/* The kill switch with a table of n prefixes and, before it, nrules rules
 * that tunnel traffic does not match (so every decision walks them). */
static struct ruleset *ks_with_table(size_t n, size_t nrules)
{
	char *t = table_text(n);
	size_t len = strlen(t) + sizeof(ks_text) + nrules * 80;
	char *all = malloc(len);
	size_t at;
	struct ruleset *rs;

	if (!all)
		exit(2);
	at = (size_t)snprintf(all, len, "%s", t);
	for (size_t i = 0; i < nrules; i++)
		at += (size_t)snprintf(all + at, len - at,
				       "pass out on eth1 proto tcp to 10.%zu.%zu.0/24 port %zu\n",
				       i / 250, i % 250, 1000 + i);
	snprintf(all + at, len - at, "%s", ks_text);
	rs = ruleset_from_string("bench.rules", all, strlen(all), NULL);
	free(t);
	free(all);
	if (!rs) {
		fprintf(stderr, "engine_bench: rule set did not parse\n");
		exit(2);
	}
	return rs;
}

/* A mix of packets: mostly tunnel traffic out, some eth0, some replies. */
static void make_packets(struct packet *pk, size_t n, uint32_t flows, bool tunnel_only)
{
	for (size_t i = 0; i < n; i++) {
		struct packet *p = &pk[i];
		uint32_t f = rnd() % flows;
		memset(p, 0, sizeof(*p));
		p->family = 4;
		p->proto = f % 3 ? 6 : 17;
		p->has_ports = true;
		p->len = 1200;
		bool tunnel = tunnel_only || f % 5 != 0;
		snprintf(p->ifname, sizeof(p->ifname), tunnel ? "wg0" : "eth0");
		p->iftype = tunnel ? IFTYPE_TUNNEL : IFTYPE_ETHER;
		v4(&p->src, tunnel ? 0x0a400002 : 0xc0a80105);
		v4(&p->dst, 0x01000000 + f * 2654435761u % 0x7f000000);
		p->sport = (uint16_t)(20000 + f % 40000);
		p->dport = f % 3 ? 443 : 53;
		p->dir = DIR_OUT;
		if (i % 2) { /* a reply */
			struct ifw_addr a = p->src;
			uint16_t port = p->sport;
			p->src = p->dst;
			p->dst = a;
			p->sport = p->dport;
			p->dport = port;
			p->dir = DIR_IN;
		}
	}
}

static volatile size_t sink;

static double bench_lookup(const struct addrset *s, const struct ifw_addr *addrs, size_t iters)
{
	double best = 1e18;
	for (int r = 0; r < REPS; r++) {
		size_t hits = 0;
		double t0 = now_ns();
		for (size_t i = 0; i < iters; i++)
			hits += addrset_contains(s, &addrs[i % NPKTS]);
		double t = (now_ns() - t0) / (double)iters;
		sink += hits;
		if (t < best)
			best = t;
	}
	return best;
}

static double bench_decide(const struct ruleset *rs, const struct packet *pk, size_t iters)
{
	double best = 1e18;
	for (int r = 0; r < REPS; r++) {
		size_t pass = 0;
		double t0 = now_ns();
		for (size_t i = 0; i < iters; i++)
			pass += ruleset_decide(rs, &pk[i % NPKTS]).verdict == VERDICT_PASS;
		double t = (now_ns() - t0) / (double)iters;
		sink += pass;
		if (t < best)
			best = t;
	}
	return best;
}

/* Every packet of an established flow (the table is warmed first). */
static double bench_state(const struct ruleset *rs, const struct packet *pk, size_t iters)
{
	struct flow_table *ft = flow_table_new(NULL);
	double best = 1e18;
	uint64_t clock = 1;

	/* Every flow begins with its outbound packet, as a connection does. */
	for (size_t i = 0; i < NPKTS; i++) {
		struct packet first = pk[i];
		if (first.dir == DIR_IN) {
			first.src = pk[i].dst;
			first.dst = pk[i].src;
			first.sport = pk[i].dport;
			first.dport = pk[i].sport;
			first.dir = DIR_OUT;
		}
		flow_table_packet(ft, rs, &first, clock++, NULL);
	}
	for (int r = 0; r < REPS; r++) {
		size_t pass = 0;
		double t0 = now_ns();
		for (size_t i = 0; i < iters; i++)
			pass += flow_table_packet(ft, rs, &pk[i % NPKTS], clock++, NULL).verdict == VERDICT_PASS;
		double t = (now_ns() - t0) / (double)iters;
		sink += pass;
		if (t < best)
			best = t;
	}
	flow_table_free(ft);
	return best;
}

/* Every packet a new flow, in a full 65536-flow table (so each evicts). */
static double bench_newflow(const struct ruleset *rs, size_t iters)
{
	struct flow_table *ft = flow_table_new(NULL);
	struct packet p = { 0 };
	double best = 1e18;
	uint64_t clock = 1;
	uint32_t n = 0;

	p.family = 4;
	p.proto = 6;
	p.has_ports = true;
	p.dir = DIR_OUT;
	p.len = 60;
	strcpy(p.ifname, "wg0");
	p.iftype = IFTYPE_TUNNEL;
	v4(&p.src, 0x0a400002);
	p.dport = 443;
	for (; n < 70000; n++) {
		v4(&p.dst, 0x01000000 + n);
		flow_table_packet(ft, rs, &p, clock++, NULL);
	}
	for (int r = 0; r < REPS; r++) {
		double t0 = now_ns();
		for (size_t i = 0; i < iters; i++, n++) {
			v4(&p.dst, 0x01000000 + n);
			p.sport = (uint16_t)(n >> 24);
			sink += flow_table_packet(ft, rs, &p, clock++, NULL).verdict;
		}
		double t = (now_ns() - t0) / (double)iters;
		if (t < best)
			best = t;
	}
	flow_table_free(ft);
	return best;
}

static double bench_decode(const uint8_t *bytes, size_t len, size_t iters)
{
	double best = 1e18;
	struct packet p;

	memset(&p, 0, sizeof(p));
	for (int r = 0; r < REPS; r++) {
		size_t ok = 0;
		double t0 = now_ns();
		for (size_t i = 0; i < iters; i++)
			ok += packet_decode(bytes, len, &p) == DECODE_OK;
		double t = (now_ns() - t0) / (double)iters;
		sink += ok;
		if (t < best)
			best = t;
	}
	return best;
}

static void report(const char *name, const char *what, double a, double b)
{
	printf("%s %.1f %.1f %.2f  # %s\n", name, a, b, a / b, what);
}

int main(int argc, char **argv)
{
	size_t iters = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
	static struct ifw_addr addrs[NPKTS];
	static struct packet pk[NPKTS];
	static const uint8_t tcp_packet[60] = {
		0x45, 0, 0, 60, 0, 1, 0x40, 0, 64, 6, 0, 0, 10, 64, 0, 2, 1, 1, 1, 1,
		0x9c, 0x40, 0x01, 0xbb, 0, 0, 0, 1, 0, 0, 0, 0, 0xa0, 0x02, 0xff, 0xff,
		0, 0, 0, 0, 2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7,
	};

	if (iters == 0)
		iters = 1000000;
	struct ruleset *small = ks_with_table(10, 0), *big = ks_with_table(100000, 0);
	struct ruleset *many = ks_with_table(10, 200);
	const struct addrset *small_set = small->tables[0].set, *big_set = big->tables[0].set;

	for (size_t i = 0; i < NPKTS; i++)
		v4(&addrs[i], rnd());
	/* Tunnel traffic only: every flow is passed, so the stateful path is
	 * the established-flow lookup, compared with deciding the same
	 * packets without state. */
	make_packets(pk, NPKTS, 2000, true);

	if (argc > 2 && strcmp(argv[2], "state") == 0) { /* for profiling */
		printf("state %.1f\n", bench_state(small, pk, iters));
		return 0;
	}
	double l10 = bench_lookup(small_set, addrs, iters);
	double l100k = bench_lookup(big_set, addrs, iters);
	double d10 = bench_decide(small, pk, iters);
	double d100k = bench_decide(big, pk, iters);
	double st = bench_state(small, pk, iters);
	double nf = bench_newflow(small, iters / 4 ? iters / 4 : 1);
	double dec = bench_decode(tcp_packet, sizeof(tcp_packet), iters);
	double d200 = bench_decide(many, pk, iters / 4 ? iters / 4 : 1);
	double st200 = bench_state(many, pk, iters);

	printf("# ns per operation (best of %d rounds of %zu); columns: name a_ns b_ns a/b\n", REPS, iters);
	report("lookup", "100k-prefix set lookup vs 10-prefix set lookup", l100k, l10);
	report("table", "decide with a 100k-prefix table vs with a 10-prefix table", d100k, d10);
	report("state", "established-flow packet (stateful) vs stateless decide", st, d10);
	report("newflow", "new flow in a full 65536 table (evicting) vs stateless decide", nf, d10);
	report("decode", "packet_decode vs stateless decide", dec, d10);
	report("rules200", "stateless decide with 200 more rules vs the kill switch alone", d200, d10);
	report("state200", "established-flow packet vs stateless decide, 200 more rules", st200, d200);
	ruleset_free(small);
	ruleset_free(big);
	ruleset_free(many);
	return 0;
}
