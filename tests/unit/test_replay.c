/* The replay backend's flow reporting: streamed (on_flow_end gets each flow
 * as it leaves the table, by eviction, replacement or idle timeout, with
 * its first decision and leak mark; replay_foreach_flow then gives the live
 * ones in creation order) and kept (no callback: every flow at the end, in
 * creation order). */
#include <pcap/pcap.h>
#include <stdlib.h>

#include "backends/replay.h"
#include "rules/ifspec_parse.h"
#include "tests/unit/testlib.h"

#define SEC 1000000000ull
#define T0 (1700000000ull * SEC)


static const char rules_text[] =
	"block out to 192.0.2.1\n"       /* line 1 */
	"pass out all\n"                 /* line 2 */
	"pass in from 192.0.2.1\n";      /* line 3 */

struct seen {
	size_t count;
	uint16_t sport[16];
	uint16_t dport[16];
	enum verdict verdict[16];
	int line[16];
	bool leaked[16];
	uint64_t packets[16];
};

static void remember(const struct flow *f, const struct replay_flow_info *info, void *ctx)
{
	struct seen *s = ctx;

	if (s->count == 16)
		return;
	s->sport[s->count] = f->sport;
	s->dport[s->count] = f->dport;
	s->verdict[s->count] = f->verdict;
	s->line[s->count] = f->rule ? f->rule->line : 0;
	s->leaked[s->count] = info->leaked;
	s->packets[s->count] = f->packets;
	s->count++;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* One raw IPv4 UDP packet through replay_frame. */
static void udp(struct replay *r, uint32_t src, uint16_t sport, uint32_t dst,
		uint16_t dport, uint64_t ts)
{
	uint8_t p[28] = { 0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17 };

	put32(p + 12, src);
	put32(p + 16, dst);
	p[20] = (uint8_t)(sport >> 8);
	p[21] = (uint8_t)sport;
	p[22] = (uint8_t)(dport >> 8);
	p[23] = (uint8_t)dport;
	p[25] = 8;
	replay_frame(r, DLT_RAW, p, sizeof(p), sizeof(p), ts);
}

#define LOCAL 0x0a000001u   /* 10.0.0.1 */
#define PEER 0xc6336401u    /* 198.51.100.1 */
#define BLOCKED 0xc0000201u /* 192.0.2.1 */

static struct replay *new_replay(const struct ruleset *rs, struct seen *ended,
				 size_t max_flows, const struct ifmatch *leaks)
{
	static struct ifw_prefix local;
	struct replay_config cfg = { 0 };

	ifw_prefix_parse("10.0.0.0/8", &local);
	cfg.local = &local;
	cfg.nlocal = 1;
	cfg.leaks = leaks;
	cfg.limits.max_flows = max_flows;
	if (ended) {
		cfg.on_flow_end = remember;
		cfg.on_flow_end_ctx = ended;
	}
	return replay_new(rs, &cfg);
}

/* Three flows through a table of two: the first is evicted. */
static void test_eviction_streamed(const struct ruleset *rs)
{
	struct seen ended = { 0 }, live = { 0 };
	struct replay *r = new_replay(rs, &ended, 2, NULL);

	udp(r, LOCAL, 1000, PEER, 53, T0);
	udp(r, LOCAL, 1001, PEER, 53, T0 + 1000);
	CHECK("stream: nothing ended while the table has room", ended.count == 0);
	udp(r, LOCAL, 1002, PEER, 53, T0 + 2000);
	CHECK("stream: the evicted flow is reported when it leaves",
	      ended.count == 1 && ended.sport[0] == 1000 && ended.verdict[0] == VERDICT_PASS &&
	      ended.line[0] == 2);
	CHECK("stream: evictions counted", replay_stats(r)->evictions == 1);
	CHECK("stream: foreach ok", replay_foreach_flow(r, remember, &live) == 0);
	CHECK("stream: foreach gives the live flows only, in creation order",
	      live.count == 2 && live.sport[0] == 1001 && live.sport[1] == 1002);
	replay_free(r);
	CHECK("stream: nothing reported by replay_free", ended.count == 1);
}

/* A blocked flow whose reply passes is replaced: reported with its first
 * decision. A leaking flow that times out is reported leaked. */
static void test_first_decision_and_leak(const struct ruleset *rs)
{
	struct seen ended = { 0 }, live = { 0 };
	struct ifmatch leaks = { 0 };
	char err[128];
	struct replay *r;

	CHECK("leak: ifspec parses", ifmatch_parse("eth0", &leaks, err, sizeof(err), NULL) == 0);
	r = new_replay(rs, &ended, 0, &leaks);
	udp(r, LOCAL, 2000, BLOCKED, 53, T0);           /* blocked out */
	udp(r, BLOCKED, 53, LOCAL, 2000, T0 + SEC);     /* the reply passes in */
	CHECK("replaced: the blocked flow ends with its first decision",
	      ended.count == 1 && ended.sport[0] == 2000 && ended.verdict[0] == VERDICT_BLOCK &&
	      ended.line[0] == 1 && !ended.leaked[0]);
	udp(r, LOCAL, 3000, PEER, 53, T0 + 2 * SEC);    /* passes out on eth0: a leak */
	udp(r, LOCAL, 3000, PEER, 53, T0 + 3 * SEC);
	CHECK("leak: not reported while live", ended.count == 1);
	/* Long after the UDP timeout: both live flows expire in passing. */
	udp(r, LOCAL, 4000, BLOCKED, 53, T0 + 200 * SEC);
	CHECK("timeout: idle flows reported as they expire", ended.count == 3);
	CHECK("timeout: the replacing flow, passed by rule 3",
	      ended.count == 3 && ended.sport[1] == 53 && ended.verdict[1] == VERDICT_PASS &&
	      ended.line[1] == 3 && !ended.leaked[1]);
	CHECK("timeout: the leaking flow, leaked, with both packets",
	      ended.count == 3 && ended.sport[2] == 3000 && ended.leaked[2] &&
	      ended.packets[2] == 2);
	CHECK("timeout: foreach ok", replay_foreach_flow(r, remember, &live) == 0);
	CHECK("timeout: only the newest flow is live",
	      live.count == 1 && live.sport[0] == 4000 && live.verdict[0] == VERDICT_BLOCK);
	replay_free(r);
	ifmatch_release(&leaks);
}

/* Without a callback, every flow is reported at the end in creation order,
 * ended ones included. */
static void test_kept(const struct ruleset *rs)
{
	struct seen all = { 0 };
	struct replay *r = new_replay(rs, NULL, 2, NULL);

	udp(r, LOCAL, 2000, BLOCKED, 53, T0);
	udp(r, BLOCKED, 53, LOCAL, 2000, T0 + 1000);   /* replaces the blocked flow */
	udp(r, LOCAL, 1001, PEER, 53, T0 + 2000);
	udp(r, LOCAL, 1002, PEER, 53, T0 + 3000);      /* evicts */
	CHECK("kept: foreach ok", replay_foreach_flow(r, remember, &all) == 0);
	CHECK("kept: every flow, in creation order",
	      all.count == 4 && all.sport[0] == 2000 && all.sport[1] == 53 &&
	      all.sport[2] == 1001 && all.sport[3] == 1002);
	CHECK("kept: first decisions", all.count == 4 &&
	      all.verdict[0] == VERDICT_BLOCK && all.line[0] == 1 &&
	      all.verdict[1] == VERDICT_PASS && all.line[1] == 3);
	replay_free(r);
}

/* Many flows through a small table: every flow is reported exactly once. */
struct tally {
	uint32_t times[1000];
	size_t calls;
};

static void count_flow(const struct flow *f, const struct replay_flow_info *info, void *ctx)
{
	struct tally *t = ctx;

	(void)info;
	t->calls++;
	if (f->sport >= 10000 && f->sport < 11000)
		t->times[f->sport - 10000]++;
}

static void test_every_flow_once(const struct ruleset *rs)
{
	static struct tally t;
	struct replay_config cfg = { .limits = { .max_flows = 8 } };
	struct replay *r;
	bool once = true;

	cfg.on_flow_end = count_flow;
	cfg.on_flow_end_ctx = &t;
	r = replay_new(rs, &cfg);
	for (uint32_t i = 0; i < 1000; i++)
		udp(r, LOCAL, (uint16_t)(10000 + i), PEER + i, 53, T0 + i);
	CHECK("many: all but the table's 8 ended by eviction",
	      t.calls == 992 && replay_stats(r)->evictions == 992);
	CHECK("many: foreach ok", replay_foreach_flow(r, count_flow, &t) == 0);
	for (size_t i = 0; i < 1000; i++)
		once = once && t.times[i] == 1;
	CHECK("many: every flow reported exactly once", t.calls == 1000 && once);
	replay_free(r);
}

int main(void)
{
	struct diag_list diags = { 0 };
	struct ruleset *rs = ruleset_from_string("t.rules", rules_text, sizeof(rules_text) - 1, &diags);

	CHECK("rules parse", rs != NULL);
	if (!rs)
		TEST_MAIN_END();
	test_eviction_streamed(rs);
	test_first_decision_and_leak(rs);
	test_kept(rs);
	test_every_flow_once(rs);
	ruleset_free(rs);
	diag_list_clear(&diags);
	TEST_MAIN_END();
}
