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
 *   state200 established-flow packet with those 200 rules vs without
 *   memory   bytes per flow (resident memory of a flow table holding
 *            50,000 flows, per flow) vs the budget of 128
 *
 * Usage: engine_bench [ITERATIONS] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "filter/engine.h"
#include "rules/ruleset.h"

#define REPS 11
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
	/* Other interfaces, ports, addresses (as tests/bench/b_replay.sh). */
	for (size_t i = 0; i < nrules; i++) {
		size_t eth = 1 + i % 3, a = i % 250, port = 2000 + 1000 * (i % 6) + i;
		switch (i % 6) {
		case 0:
			at += (size_t)snprintf(all + at, len - at,
					       "pass out on eth%zu proto tcp to 10.%zu.0.0/16 port %zu\n",
					       eth, a, port);
			break;
		case 1:
			at += (size_t)snprintf(all + at, len - at,
					       "block in on wg0 proto udp from 172.16.%zu.0/24 port %zu\n",
					       a, port);
			break;
		case 2:
			at += (size_t)snprintf(all + at, len - at,
					       "pass out proto tcp to 192.0.2.%zu port %zu\n", a, port);
			break;
		case 3:
			at += (size_t)snprintf(all + at, len - at,
					       "block out on eth0 proto udp to port %zu\n", port);
			break;
		case 4:
			at += (size_t)snprintf(all + at, len - at,
					       "block out on eth%zu to 198.18.%zu.0/24\n", eth, a);
			break;
		default:
			at += (size_t)snprintf(all + at, len - at,
					       "block out to 203.0.113.%zu\n", a);
		}
	}
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

/* One measurement: a round of iters operations, returning ns per
 * operation. A pair of them is measured in alternating rounds (which goes
 * first alternates too), so both see the same machine; each side's figure
 * is the median of its rounds. */
struct job {
	double (*round)(struct job *j, size_t iters);
	const struct ruleset *rs;
	const struct addrset *set;
	const struct ifw_addr *addrs;
	const struct packet *pk;
	const uint8_t *bytes;
	size_t len;
	struct flow_table *ft;
	uint64_t clock;
	uint32_t n;
	struct packet p;
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* *ta, *tb: each side's median; returns the median of the rounds' ratios
 * (a round's two halves ran back to back, so they saw the same machine). */
static double measure_pair(struct job *a, struct job *b, size_t iters,
			   double *ta, double *tb)
{
	double va[REPS], vb[REPS], ratio[REPS];

	a->round(a, iters / 10 ? iters / 10 : 1); /* warm up */
	b->round(b, iters / 10 ? iters / 10 : 1);
	for (int r = 0; r < REPS; r++) {
		if (r % 2) {
			vb[r] = b->round(b, iters);
			va[r] = a->round(a, iters);
		} else {
			va[r] = a->round(a, iters);
			vb[r] = b->round(b, iters);
		}
	}
	for (int r = 0; r < REPS; r++)
		ratio[r] = va[r] / vb[r];
	*ta = median(va, REPS);
	*tb = median(vb, REPS);
	return median(ratio, REPS);
}

static double round_lookup(struct job *j, size_t iters)
{
	size_t hits = 0;
	double t0 = now_ns();

	for (size_t i = 0; i < iters; i++)
		hits += addrset_contains(j->set, &j->addrs[i % NPKTS]);
	sink += hits;
	return (now_ns() - t0) / (double)iters;
}

static double round_decide(struct job *j, size_t iters)
{
	size_t pass = 0;
	double t0 = now_ns();

	for (size_t i = 0; i < iters; i++)
		pass += ruleset_decide(j->rs, &j->pk[i % NPKTS]).verdict == VERDICT_PASS;
	sink += pass;
	return (now_ns() - t0) / (double)iters;
}

/* Every packet of an established flow (the table is warmed first). */
static double round_state(struct job *j, size_t iters)
{
	size_t pass = 0;
	double t0;

	if (!j->ft) {
		j->ft = flow_table_new(NULL);
		j->clock = 1;
		/* Every flow begins with its outbound packet, as a
		 * connection does. */
		for (size_t i = 0; i < NPKTS; i++) {
			struct packet first = j->pk[i];
			if (first.dir == DIR_IN) {
				first.src = j->pk[i].dst;
				first.dst = j->pk[i].src;
				first.sport = j->pk[i].dport;
				first.dport = j->pk[i].sport;
				first.dir = DIR_OUT;
			}
			flow_table_packet(j->ft, j->rs, &first, j->clock++, NULL);
		}
	}
	t0 = now_ns();
	for (size_t i = 0; i < iters; i++)
		pass += flow_table_packet(j->ft, j->rs, &j->pk[i % NPKTS], j->clock++,
					  NULL).verdict == VERDICT_PASS;
	sink += pass;
	return (now_ns() - t0) / (double)iters;
}

/* Every packet a new flow, in a full 65536-flow table (so each evicts). */
static double round_newflow(struct job *j, size_t iters)
{
	struct packet *p = &j->p;
	double t0;

	if (!j->ft) {
		j->ft = flow_table_new(NULL);
		j->clock = 1;
		memset(p, 0, sizeof(*p));
		p->family = 4;
		p->proto = 6;
		p->has_ports = true;
		p->dir = DIR_OUT;
		p->len = 60;
		strcpy(p->ifname, "wg0");
		p->iftype = IFTYPE_TUNNEL;
		v4(&p->src, 0x0a400002);
		p->dport = 443;
		for (; j->n < 70000; j->n++) {
			v4(&p->dst, 0x01000000 + j->n);
			flow_table_packet(j->ft, j->rs, p, j->clock++, NULL);
		}
	}
	t0 = now_ns();
	for (size_t i = 0; i < iters; i++, j->n++) {
		v4(&p->dst, 0x01000000 + j->n);
		p->sport = (uint16_t)(j->n >> 24);
		sink += flow_table_packet(j->ft, j->rs, p, j->clock++, NULL).verdict;
	}
	return (now_ns() - t0) / (double)iters;
}

static double round_decode(struct job *j, size_t iters)
{
	size_t ok = 0;
	struct packet p;
	double t0;

	memset(&p, 0, sizeof(p));
	t0 = now_ns();
	for (size_t i = 0; i < iters; i++)
		ok += packet_decode(j->bytes, j->len, &p) == DECODE_OK;
	sink += ok;
	return (now_ns() - t0) / (double)iters;
}

static long resident_kb(void)
{
	long size = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f) {
		if (fscanf(f, "%ld %ld", &size, &resident) != 2)
			resident = 0;
		fclose(f);
	}
	return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* Resident bytes per flow of a fresh table holding n passed UDP flows
 * (measured first, before other tables have come and gone). */
static double bytes_per_flow(const struct ruleset *rs, uint32_t n)
{
	long before = resident_kb(), after;
	struct flow_table *ft = flow_table_new(NULL);
	struct packet p = { 0 };

	p.family = 4;
	p.proto = 17;
	p.has_ports = true;
	p.dir = DIR_OUT;
	p.len = 60;
	strcpy(p.ifname, "wg0");
	p.iftype = IFTYPE_TUNNEL;
	v4(&p.src, 0x0a400002);
	p.dport = 443;
	for (uint32_t i = 0; i < n; i++) {
		v4(&p.dst, 0x01000000 + i / 16);
		p.sport = (uint16_t)(20000 + i % 16);
		flow_table_packet(ft, rs, &p, 1 + i, NULL);
	}
	after = resident_kb();
	if (flow_table_count(ft) != n) {
		fprintf(stderr, "engine_bench: %zu flows, expected %u\n", flow_table_count(ft), n);
		exit(2);
	}
	flow_table_free(ft);
	return (double)(after - before) * 1024 / n;
}

static void report(const char *name, const char *what, double a, double b,
		   double ratio)
{
	printf("%s %.1f %.1f %.2f  # %s\n", name, a, b, ratio, what);
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
	struct ruleset *small = ks_with_table(10, 0);
	double mem = bytes_per_flow(small, 50000);
	struct ruleset *big = ks_with_table(100000, 0);
	struct ruleset *many = ks_with_table(10, 200);
	const struct addrset *small_set = small->tables[0].set, *big_set = big->tables[0].set;

	for (size_t i = 0; i < NPKTS; i++)
		v4(&addrs[i], rnd());
	/* Tunnel traffic only: every flow is passed, so the stateful path is
	 * the established-flow lookup, compared with deciding the same
	 * packets without state. */
	make_packets(pk, NPKTS, 2000, true);

	struct job lookup_small = { .round = round_lookup, .set = small_set, .addrs = addrs };
	struct job lookup_big = { .round = round_lookup, .set = big_set, .addrs = addrs };
	struct job decide_small = { .round = round_decide, .rs = small, .pk = pk };
	struct job decide_big = { .round = round_decide, .rs = big, .pk = pk };
	struct job decide_many = { .round = round_decide, .rs = many, .pk = pk };
	struct job state_small = { .round = round_state, .rs = small, .pk = pk };
	struct job state_many = { .round = round_state, .rs = many, .pk = pk };
	struct job newflow = { .round = round_newflow, .rs = small };
	struct job decode = { .round = round_decode, .bytes = tcp_packet, .len = sizeof(tcp_packet) };
	double a, b, r;

	if (argc > 2 && strcmp(argv[2], "state") == 0) { /* for profiling */
		printf("state %.1f\n", round_state(&state_small, iters));
		return 0;
	}
	printf("# ns per operation (medians of %d alternating rounds of %zu); columns: name a_ns b_ns median(a/b)\n",
	       REPS, iters);
	r = measure_pair(&lookup_big, &lookup_small, iters, &a, &b);
	report("lookup", "100k-prefix set lookup vs 10-prefix set lookup", a, b, r);
	r = measure_pair(&decide_big, &decide_small, iters, &a, &b);
	report("table", "decide with a 100k-prefix table vs with a 10-prefix table", a, b, r);
	r = measure_pair(&state_small, &decide_small, iters, &a, &b);
	report("state", "established-flow packet (stateful) vs stateless decide", a, b, r);
	r = measure_pair(&newflow, &decide_small, iters / 4 ? iters / 4 : 1, &a, &b);
	report("newflow", "new flow in a full 65536 table (evicting) vs stateless decide", a, b, r);
	r = measure_pair(&decode, &decide_small, iters, &a, &b);
	report("decode", "packet_decode vs stateless decide", a, b, r);
	r = measure_pair(&decide_many, &decide_small, iters, &a, &b);
	report("rules200", "stateless decide with 200 more rules vs the kill switch alone", a, b, r);
	r = measure_pair(&state_many, &state_small, iters, &a, &b);
	report("state200", "established-flow packet with 200 more rules vs without", a, b, r);
	report("memory", "bytes per flow (resident, 50000 flows) vs 128", mem, 128, mem / 128);
	flow_table_free(state_small.ft);
	flow_table_free(state_many.ft);
	flow_table_free(newflow.ft);
	ruleset_free(small);
	ruleset_free(big);
	ruleset_free(many);
	return 0;
}
