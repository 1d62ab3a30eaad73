/* The flow table: if-bound state, both directions, another interface,
 * blocked flows, fragments, eviction order, timeouts, rechecks after a rule
 * set swap, end callbacks, and bounded memory over 2 million flows. */
#include <malloc.h>
#include <stdlib.h>
#include <time.h>

#include "filter/engine.h"
#include "tests/unit/testlib.h"

#define SEC 1000000000ull

static struct ifitem wg0 = { .kind = IFITEM_NAME, .name = "wg0" };

static struct rule rule(enum rule_action a, unsigned dir, int line)
{
	struct rule r;
	memset(&r, 0, sizeof(r));
	r.action = a;
	r.dir = dir;
	r.quick_state = true;
	r.file = "t.rules";
	r.line = line;
	return r;
}

/* Defaults as the kill switch sets them: out reject, in drop. */
static struct ruleset rs_of(struct rule *rules, size_t n)
{
	struct ruleset rs;
	memset(&rs, 0, sizeof(rs));
	rs.rules = rules;
	rs.nrules = n;
	rs.default_out = DEFAULT_REJECT;
	rs.default_in = DEFAULT_DROP;
	for (size_t i = 0; i < n; i++)
		rules[i].index = i;
	return rs;
}

static struct packet pkt(unsigned dir, const char *ifname, uint8_t proto,
			 const char *src, uint16_t sport, const char *dst, uint16_t dport)
{
	struct packet p;
	memset(&p, 0, sizeof(p));
	p.dir = dir;
	snprintf(p.ifname, sizeof(p.ifname), "%s", ifname);
	p.iftype = strncmp(ifname, "wg", 2) == 0 ? IFTYPE_TUNNEL : IFTYPE_ETHER;
	ifw_addr_parse(src, &p.src);
	ifw_addr_parse(dst, &p.dst);
	p.family = p.src.family;
	p.proto = proto;
	if (proto == 6 || proto == 17) {
		p.has_ports = true;
		p.sport = sport;
		p.dport = dport;
	}
	p.len = 100;
	return p;
}

/* The reply of p: endpoints swapped, the other direction. */
static struct packet reply(struct packet p)
{
	struct ifw_addr a = p.src;
	uint16_t port = p.sport;
	p.src = p.dst;
	p.dst = a;
	p.sport = p.dport;
	p.dport = port;
	p.dir = p.dir == DIR_IN ? DIR_OUT : DIR_IN;
	if (p.has_icmp && p.icmp_type == 8)
		p.icmp_type = 0;
	return p;
}

struct ended {
	size_t count;
	uint64_t ids[64];
	uint16_t sports[64];
	uint64_t packets;
};

static void on_end(const struct flow *f, void *ctx)
{
	struct ended *e = ctx;
	if (e->count < 64) {
		e->ids[e->count] = f->id;
		e->sports[e->count] = f->sport;
	}
	e->count++;
	e->packets += f->packets;
}

static void test_if_bound_state(void)
{
	struct rule r[1] = { rule(ACTION_PASS, DIR_OUT, 1) };
	struct ruleset rs = rs_of(r, 1);
	struct flow_table *ft = flow_table_new(NULL);
	struct packet out = pkt(DIR_OUT, "wg0", 6, "10.64.0.2", 40000, "93.184.216.34", 443);
	const struct flow *f;
	struct decision d;

	r[0].on.count = 1;
	r[0].on.items = &wg0;
	d = flow_table_packet(ft, &rs, &out, 1 * SEC, &f);
	CHECK("first packet passes by rule", d.verdict == VERDICT_PASS && d.rule == &r[0]);
	CHECK("flow recorded", f && f->verdict == VERDICT_PASS && f->dir == DIR_OUT &&
	      f->sport == 40000 && f->dport == 443 && f->packets == 1 && f->bytes == 100 &&
	      strcmp(f->ifname, "wg0") == 0 && f->src.a[0] == 10 && f->dst.a[0] == 93 &&
	      f->first_seen == 1 * SEC && f->proto == 6 && f->family == 4);
	struct packet in = reply(out);
	d = flow_table_packet(ft, &rs, &in, 2 * SEC, &f);
	CHECK("reply passes by state", d.verdict == VERDICT_PASS && d.rule == &r[0]);
	CHECK("reply counted in the same flow", f && f->packets == 2 && f->dir == DIR_OUT &&
	      f->sport == 40000 && f->last_seen == 2 * SEC && flow_table_count(ft) == 1);
	CHECK("stateless decide would drop the reply", ruleset_decide(&rs, &in).verdict == VERDICT_BLOCK);

	/* The same reply on another interface is a new packet. */
	struct packet in_eth = in;
	strcpy(in_eth.ifname, "eth0");
	in_eth.iftype = IFTYPE_ETHER;
	d = flow_table_packet(ft, &rs, &in_eth, 3 * SEC, &f);
	CHECK("reply on another interface decided anew", d.verdict == VERDICT_BLOCK && d.rule == NULL);
	CHECK("blocked flow remembered", f && f->verdict == VERDICT_BLOCK && flow_table_count(ft) == 2);
	struct packet out_eth = out;
	strcpy(out_eth.ifname, "eth0");
	out_eth.iftype = IFTYPE_ETHER;
	d = flow_table_packet(ft, &rs, &out_eth, 4 * SEC, &f);
	CHECK("flow moved to eth0 re-decided", d.verdict == VERDICT_REJECT && flow_table_count(ft) == 2);
	CHECK("blocked flow counts packets", f && f->packets == 2);
	d = flow_table_packet(ft, &rs, &out, 5 * SEC, NULL);
	CHECK("original interface still passes", d.verdict == VERDICT_PASS);

	/* skip */
	struct ifitem lo = { .kind = IFITEM_PREFIX, .name = "lo" };
	rs.skip.count = 1;
	rs.skip.items = &lo;
	struct packet loop = pkt(DIR_OUT, "lo", 17, "127.0.0.1", 1, "127.0.0.1", 2);
	d = flow_table_packet(ft, &rs, &loop, 6 * SEC, &f);
	CHECK("skip interface passes without state", d.verdict == VERDICT_PASS && d.skipped && !f &&
	      flow_table_count(ft) == 2);
	flow_table_free(ft);
}

static void test_blocked_then_reverse(void)
{
	/* pass in proto udp from any port 53 */
	struct portrange p53 = { 53, 53 };
	uint8_t udp = 17;
	struct rule r[1] = { rule(ACTION_PASS, DIR_IN, 1) };
	struct ruleset rs = rs_of(r, 1);
	struct flow_table *ft = flow_table_new(NULL);
	struct ended ended = { 0 };
	struct packet out = pkt(DIR_OUT, "eth0", 17, "192.168.1.5", 5353, "192.168.1.1", 53);
	const struct flow *f;
	struct decision d;

	r[0].nprotos = 1;
	r[0].protos = &udp;
	r[0].sport.count = 1;
	r[0].sport.ranges = &p53;
	flow_table_set_end_callback(ft, on_end, &ended);
	d = flow_table_packet(ft, &rs, &out, SEC, &f);
	CHECK("out blocked by default", d.verdict == VERDICT_REJECT && f && f->verdict == VERDICT_REJECT);
	uint64_t blocked_id = f->id;
	d = flow_table_packet(ft, &rs, &out, 2 * SEC, &f);
	CHECK("same direction decided again", d.verdict == VERDICT_REJECT && f->packets == 2 && f->id == blocked_id);
	struct packet in = reply(out);
	d = flow_table_packet(ft, &rs, &in, 3 * SEC, &f);
	CHECK("opposite direction decided anew and passes", d.verdict == VERDICT_PASS && d.rule == &r[0]);
	CHECK("passed flow replaces the blocked one", f && f->verdict == VERDICT_PASS && f->dir == DIR_IN &&
	      f->id != blocked_id && f->packets == 1 && flow_table_count(ft) == 1);
	CHECK("replaced flow reported as ended", ended.count == 1 && ended.ids[0] == blocked_id && ended.packets == 2);
	d = flow_table_packet(ft, &rs, &out, 4 * SEC, &f);
	CHECK("now out passes by state", d.verdict == VERDICT_PASS && f->packets == 2);
	flow_table_free(ft);
	CHECK("free reports the rest", ended.count == 2);
}

static void test_icmp(void)
{
	struct rule r[1] = { rule(ACTION_PASS, DIR_OUT, 1) };
	struct ruleset rs = rs_of(r, 1);
	struct flow_table *ft = flow_table_new(NULL);
	struct packet req = pkt(DIR_OUT, "eth0", 1, "192.168.1.5", 0, "9.9.9.9", 0);
	const struct flow *f;

	req.has_icmp = true;
	req.icmp_type = 8;
	req.icmp_id = 77;
	flow_table_packet(ft, &rs, &req, SEC, &f);
	CHECK("echo flow id/type", f && f->sport == 77 && f->dport == 8);
	struct packet rep = reply(req);
	CHECK("echo reply passes by state", flow_table_packet(ft, &rs, &rep, SEC, NULL).verdict == VERDICT_PASS);
	rep.icmp_id = 78;
	CHECK("reply of another id blocked", flow_table_packet(ft, &rs, &rep, SEC, NULL).verdict == VERDICT_BLOCK);
	flow_table_free(ft);
}

/* ICMP errors about a passed flow pass by its state on its interface. */
static void test_related_icmp(void)
{
	struct rule r[1] = { rule(ACTION_PASS, DIR_OUT, 1) };
	struct ruleset rs = rs_of(r, 1);
	struct flow_table *ft = flow_table_new(NULL);
	struct packet out = pkt(DIR_OUT, "eth0", 17, "192.168.1.5", 51820, "198.51.100.7", 51820);
	struct packet err = pkt(DIR_IN, "eth0", 1, "192.168.1.1", 0, "192.168.1.5", 0);
	const struct flow *f;
	struct decision d;

	flow_table_packet(ft, &rs, &out, SEC, NULL);
	err.has_icmp = true;
	err.icmp_type = 3;
	err.icmp_code = 4;
	err.has_inner = true;
	err.inner.proto = 17;
	err.inner.src = out.src;
	err.inner.dst = out.dst;
	err.inner.has_ports = true;
	err.inner.sport = 51820;
	err.inner.dport = 51820;
	d = flow_table_packet(ft, &rs, &err, 2 * SEC, &f);
	CHECK("related icmp error passes by state", d.verdict == VERDICT_PASS && d.rule == &r[0] &&
	      f && f->proto == 17 && f->packets == 2 && flow_table_count(ft) == 1);
	struct packet other_if = err;
	strcpy(other_if.ifname, "wg0");
	CHECK("related error on another interface decided anew",
	      flow_table_packet(ft, &rs, &other_if, 2 * SEC, NULL).verdict == VERDICT_BLOCK);
	struct packet unknown = err;
	unknown.inner.dport = 9;
	CHECK("error about an unknown flow decided anew",
	      flow_table_packet(ft, &rs, &unknown, 2 * SEC, NULL).verdict == VERDICT_BLOCK);
	struct packet misaddressed = err;
	ifw_addr_parse("192.168.1.6", &misaddressed.dst);
	CHECK("error not addressed to the flow's sender decided anew",
	      flow_table_packet(ft, &rs, &misaddressed, 2 * SEC, NULL).verdict == VERDICT_BLOCK);

	/* A blocked flow gives no state to its errors. */
	struct packet blocked = pkt(DIR_IN, "eth0", 17, "203.0.113.1", 53, "192.168.1.5", 5353);
	flow_table_packet(ft, &rs, &blocked, 3 * SEC, NULL);
	struct packet err2 = err;
	ifw_addr_parse("203.0.113.1", &err2.dst);
	err2.inner.src = blocked.src;
	err2.inner.dst = blocked.dst;
	err2.inner.sport = 53;
	err2.inner.dport = 5353;
	err2.dir = DIR_OUT;
	d = flow_table_packet(ft, &rs, &err2, 3 * SEC, NULL);
	CHECK("error about a blocked flow decided by the rules", d.verdict == VERDICT_PASS && d.rule == &r[0] &&
	      flow_table_count(ft) == 6);
	flow_table_free(ft);
}

static void test_fragments(void)
{
	struct rule r[1] = { rule(ACTION_PASS, DIR_OUT, 1) };
	struct ruleset rs = rs_of(r, 1);
	struct flow_table *ft = flow_table_new(NULL);
	struct packet first = pkt(DIR_OUT, "wg0", 17, "10.64.0.2", 5000, "10.0.0.1", 4789);
	struct packet next;
	const struct flow *f;
	struct decision d;

	r[0].on.count = 1;
	r[0].on.items = &wg0;
	first.fragment = first.first_fragment = true;
	first.frag_id = 0x1111;
	next = first;
	next.first_fragment = false;
	next.has_ports = false;
	next.sport = next.dport = 0;
	d = flow_table_packet(ft, &rs, &first, SEC, NULL);
	CHECK("first fragment passes", d.verdict == VERDICT_PASS);
	d = flow_table_packet(ft, &rs, &next, SEC, &f);
	CHECK("next fragment follows", d.verdict == VERDICT_PASS && d.rule == &r[0]);
	CHECK("next fragment counted in the flow", f && f->packets == 2 && f->sport == 5000);
	struct packet orphan = next;
	orphan.frag_id = 0x2222;
	d = flow_table_packet(ft, &rs, &orphan, SEC, &f);
	CHECK("fragment without first blocked", d.verdict == VERDICT_BLOCK && d.rule == NULL && !f);
	struct packet other_if = next;
	strcpy(other_if.ifname, "wg1");
	CHECK("fragment on another interface blocked", flow_table_packet(ft, &rs, &other_if, SEC, NULL).verdict == VERDICT_BLOCK);

	/* A blocked first fragment blocks the rest (even where a stateless
	 * look would pass the portless fragment). */
	struct packet bfirst = first, bnext;
	strcpy(bfirst.ifname, "eth0");
	bfirst.iftype = IFTYPE_ETHER;
	bfirst.frag_id = 0x3333;
	bnext = bfirst;
	bnext.first_fragment = false;
	bnext.has_ports = false;
	CHECK("blocked first fragment", flow_table_packet(ft, &rs, &bfirst, SEC, NULL).verdict == VERDICT_REJECT);
	CHECK("its next fragment blocked the same way", flow_table_packet(ft, &rs, &bnext, SEC, NULL).verdict == VERDICT_REJECT);

	/* Fragment state times out (30 s). */
	d = flow_table_packet(ft, &rs, &next, 40 * SEC, NULL);
	CHECK("fragment state expires", d.verdict == VERDICT_BLOCK);
	flow_table_free(ft);
}

/* n DNS flows out from ports sport.., one a second from first. */
static void open_udp_flows(struct flow_table *ft, const struct ruleset *rs, int n,
			   uint16_t sport, uint64_t first)
{
	for (int i = 0; i < n; i++) {
		struct packet p = pkt(DIR_OUT, "eth0", 17, "10.0.0.1", (uint16_t)(sport + i),
				      "10.0.0.2", 53);
		flow_table_packet(ft, rs, &p, first + (uint64_t)i * SEC, NULL);
	}
}

static void test_eviction(void)
{
	struct flow_limits lim = { .max_flows = 4 };
	struct rule r[1] = { rule(ACTION_PASS, DIR_BOTH, 1) };
	struct ruleset rs = rs_of(r, 1);
	struct flow_table *ft = flow_table_new(&lim);
	struct ended ended = { 0 };

	flow_table_set_end_callback(ft, on_end, &ended);
	open_udp_flows(ft, &rs, 4, 1000, 1 * SEC);
	/* Touch flow 1000 (a reply), so 1001 is now the oldest idle. */
	struct packet p0 = reply(pkt(DIR_OUT, "eth0", 17, "10.0.0.1", 1000, "10.0.0.2", 53));
	flow_table_packet(ft, &rs, &p0, 5 * SEC, NULL);
	struct packet p4 = pkt(DIR_OUT, "eth0", 6, "10.0.0.1", 2000, "10.0.0.2", 80);
	flow_table_packet(ft, &rs, &p4, 6 * SEC, NULL);
	CHECK("full table evicts one", flow_table_count(ft) == 4 && flow_table_evictions(ft) == 1);
	CHECK("evicted the oldest idle flow", ended.count == 1 && ended.sports[0] == 1001);
	struct packet p5 = pkt(DIR_OUT, "eth0", 1, "10.0.0.1", 0, "10.0.0.2", 0);
	flow_table_packet(ft, &rs, &p5, 7 * SEC, NULL);
	CHECK("next eviction across protocols", ended.count == 2 && ended.sports[1] == 1002 && flow_table_evictions(ft) == 2);

	struct ended seen = { 0 };
	flow_table_foreach(ft, on_end, &seen);
	CHECK("foreach in creation order", seen.count == 4 && seen.sports[0] == 1000 &&
	      seen.sports[1] == 1003 && seen.sports[2] == 2000 && seen.ids[0] < seen.ids[1] &&
	      seen.ids[1] < seen.ids[2] && seen.ids[2] < seen.ids[3]);
	flow_table_free(ft);
	CHECK("free ends every flow", ended.count == 6);
}

/* A full table evicts blocked flows (kept for reporting) before passed ones:
 * unsolicited traffic cannot push established connections out. */
static void test_eviction_prefers_blocked(void)
{
	struct flow_limits lim = { .max_flows = 4 };
	struct rule r[1] = { rule(ACTION_PASS, DIR_OUT, 1) };
	struct ruleset rs = rs_of(r, 1);
	struct flow_table *ft = flow_table_new(&lim);
	struct ended ended = { 0 };

	flow_table_set_end_callback(ft, on_end, &ended);
	for (uint16_t i = 0; i < 2; i++) {
		struct packet p = pkt(DIR_OUT, "eth0", 6, "10.0.0.1", (uint16_t)(1000 + i), "10.0.0.2", 443);
		flow_table_packet(ft, &rs, &p, (1 + i) * SEC, NULL);
	}
	for (uint16_t i = 0; i < 2; i++) {
		struct packet p = pkt(DIR_IN, "eth0", 17, "203.0.113.1", (uint16_t)(2000 + i), "10.0.0.1", 53);
		flow_table_packet(ft, &rs, &p, (10 + i) * SEC, NULL);
	}
	for (uint16_t i = 0; i < 3; i++) {
		struct packet p = pkt(DIR_IN, "eth0", 17, "203.0.113.1", (uint16_t)(3000 + i), "10.0.0.1", 53);
		flow_table_packet(ft, &rs, &p, (20 + i) * SEC, NULL);
	}
	CHECK("blocked flood evicts blocked flows only", ended.count == 3 && ended.sports[0] == 2000 &&
	      ended.sports[1] == 2001 && ended.sports[2] == 3000);
	struct packet reply0 = pkt(DIR_IN, "eth0", 6, "10.0.0.2", 443, "10.0.0.1", 1000);
	CHECK("oldest passed flow survives the flood",
	      flow_table_packet(ft, &rs, &reply0, 30 * SEC, NULL).verdict == VERDICT_PASS);
	/* Only passed flows left to evict: the least recently used goes. */
	struct ruleset all_pass = rs;
	struct rule any[1] = { rule(ACTION_PASS, DIR_BOTH, 1) };
	all_pass.rules = any;
	CHECK("recheck passes the blocked ones", flow_table_recheck(ft, &all_pass) == 2);
	struct packet p = pkt(DIR_OUT, "eth0", 6, "10.0.0.1", 4000, "10.0.0.2", 443);
	flow_table_packet(ft, &all_pass, &p, 31 * SEC, NULL);
	CHECK("then the least recently used flow goes", ended.count == 4 && ended.sports[3] == 1001);
	flow_table_free(ft);
}

static void test_timeouts(void)
{
	struct flow_limits lim = { .udp_timeout = 60, .tcp_timeout = 100, .tcp_closed_timeout = 10 };
	struct rule r[1] = { rule(ACTION_PASS, DIR_OUT, 1) };
	struct ruleset rs = rs_of(r, 1);
	struct flow_table *ft = flow_table_new(&lim);
	struct ended ended = { 0 };
	struct packet u = pkt(DIR_OUT, "eth0", 17, "10.0.0.1", 1000, "10.0.0.2", 53);
	struct packet t = pkt(DIR_OUT, "eth0", 6, "10.0.0.1", 1001, "10.0.0.2", 80);
	struct packet c = pkt(DIR_OUT, "eth0", 6, "10.0.0.1", 1002, "10.0.0.2", 80);

	flow_table_set_end_callback(ft, on_end, &ended);
	t.tcp_flags = 0x02;
	c.tcp_flags = 0x02;
	flow_table_packet(ft, &rs, &u, 0, NULL);
	flow_table_packet(ft, &rs, &t, 0, NULL);
	flow_table_packet(ft, &rs, &c, 0, NULL);
	c.tcp_flags = 0x11; /* FIN ACK */
	flow_table_packet(ft, &rs, &c, 1 * SEC, NULL);
	CHECK("half-closed tcp keeps its long timeout", flow_table_expire(ft, 12 * SEC) == 0);
	struct packet cr = reply(c);
	flow_table_packet(ft, &rs, &cr, 2 * SEC, NULL);
	CHECK("nothing expired early", flow_table_expire(ft, 11 * SEC) == 0 && flow_table_count(ft) == 3);
	CHECK("closed tcp expires after its short timeout", flow_table_expire(ft, 13 * SEC) == 1 &&
	      ended.count == 1 && ended.sports[0] == 1002);
	CHECK("udp expires after 60 s", flow_table_expire(ft, 61 * SEC) == 1 && ended.sports[1] == 1000);
	/* A reply after the timeout, without an expire call, is new. */
	struct packet late = reply(t);
	CHECK("tcp alive at 99 s", flow_table_packet(ft, &rs, &late, 99 * SEC, NULL).verdict == VERDICT_PASS);
	CHECK("tcp reply after timeout decided anew", flow_table_packet(ft, &rs, &late, 200 * SEC, NULL).verdict == VERDICT_BLOCK);
	CHECK("expired flow was ended", ended.count == 3 && ended.sports[2] == 1001);

	/* A SYN reusing the ports of a closed connection is a new flow. */
	struct packet s = pkt(DIR_OUT, "eth0", 6, "10.0.0.1", 1003, "10.0.0.2", 80);
	const struct flow *f;
	s.tcp_flags = 0x02;
	flow_table_packet(ft, &rs, &s, 300 * SEC, &f);
	uint64_t id = f->id;
	s.tcp_flags = 0x04; /* RST */
	flow_table_packet(ft, &rs, &s, 300 * SEC, NULL);
	s.tcp_flags = 0x02;
	flow_table_packet(ft, &rs, &s, 301 * SEC, &f);
	CHECK("syn after rst starts a new flow", f && f->id != id && f->packets == 1);
	flow_table_free(ft);
}

/* Expiry in slices: at most max per call, oldest first, max returned while
 * some may be left; nothing live goes. */
static void test_expire_slices(void)
{
	struct flow_limits lim = { .udp_timeout = 60 };
	struct rule r[1] = { rule(ACTION_PASS, DIR_OUT, 1) };
	struct ruleset rs = rs_of(r, 1);
	struct flow_table *ft = flow_table_new(&lim);
	struct ended ended = { 0 };

	flow_table_set_end_callback(ft, on_end, &ended);
	open_udp_flows(ft, &rs, 5, 2000, 0);
	CHECK("a slice of 2 of the 3 expired", flow_table_expire_some(ft, 63 * SEC, 2) == 2 &&
	      flow_table_count(ft) == 3 && ended.count == 2 && ended.sports[0] == 2000 &&
	      ended.sports[1] == 2001);
	CHECK("the next slice ends early", flow_table_expire_some(ft, 63 * SEC, 2) == 1 &&
	      flow_table_count(ft) == 2 && ended.sports[2] == 2002);
	CHECK("live flows stay", flow_table_expire_some(ft, 63 * SEC, 2) == 0 &&
	      flow_table_count(ft) == 2);
	flow_table_free(ft);
}

static void test_recheck(void)
{
	uint8_t udp = 17, tcp = 6;
	struct rule old_rules[2] = { rule(ACTION_PASS, DIR_OUT, 1), rule(ACTION_PASS, DIR_OUT, 2) };
	struct rule new_rules[2] = { rule(ACTION_PASS, DIR_OUT, 1), rule(ACTION_PASS, DIR_IN, 2) };
	struct ruleset old_rs = rs_of(old_rules, 2), new_rs = rs_of(new_rules, 2);
	struct flow_table *ft = flow_table_new(NULL);
	const struct flow *f;

	/* old: pass out on wg0 all; pass out mark 0xca6c
	 * new: pass out on wg0 proto udp; pass in on wg0 proto tcp */
	old_rules[0].on.count = 1;
	old_rules[0].on.items = &wg0;
	old_rules[1].has_mark = true;
	old_rules[1].mark = 0xca6c;
	new_rules[0].on.count = 1;
	new_rules[0].on.items = &wg0;
	new_rules[0].nprotos = 1;
	new_rules[0].protos = &udp;
	new_rules[1].on.count = 1;
	new_rules[1].on.items = &wg0;
	new_rules[1].nprotos = 1;
	new_rules[1].protos = &tcp;

	struct packet t = pkt(DIR_OUT, "wg0", 6, "10.64.0.2", 40000, "1.1.1.1", 443);
	struct packet u = pkt(DIR_OUT, "wg0", 17, "10.64.0.2", 40001, "1.1.1.1", 53);
	struct packet m = pkt(DIR_OUT, "eth0", 17, "192.168.1.5", 51820, "198.51.100.7", 51820);
	m.has_mark = true;
	m.mark = 0xca6c;
	flow_table_packet(ft, &old_rs, &t, SEC, NULL);
	flow_table_packet(ft, &old_rs, &u, SEC, NULL);
	CHECK("marked flow passes", flow_table_packet(ft, &old_rs, &m, SEC, NULL).verdict == VERDICT_PASS);
	CHECK("recheck against the same rules changes nothing", flow_table_recheck(ft, &old_rs) == 0);

	CHECK("recheck reports changed flows", flow_table_recheck(ft, &new_rs) == 2);
	struct packet tr = reply(t);
	CHECK("tcp flow blocked from its next packet", flow_table_packet(ft, &new_rs, &t, 2 * SEC, &f).verdict == VERDICT_REJECT);
	CHECK("blocked flow keeps its identity", f && f->packets == 2 && f->rule == NULL && f->verdict == VERDICT_REJECT);
	CHECK("its replies blocked too (no new state)", flow_table_packet(ft, &new_rs, &tr, 2 * SEC, NULL).verdict == VERDICT_REJECT);
	CHECK("stateless look would pass the reply", ruleset_decide(&new_rs, &tr).verdict == VERDICT_PASS);
	CHECK("udp flow still passes, new rule", flow_table_packet(ft, &new_rs, &u, 2 * SEC, &f).verdict == VERDICT_PASS &&
	      f->rule == &new_rules[0]);
	CHECK("marked flow now blocked", flow_table_packet(ft, &new_rs, &m, 2 * SEC, NULL).verdict == VERDICT_REJECT);
	CHECK("swapping back reopens both", flow_table_recheck(ft, &old_rs) == 2 &&
	      flow_table_packet(ft, &old_rs, &tr, 3 * SEC, NULL).verdict == VERDICT_PASS &&
	      flow_table_packet(ft, &old_rs, &m, 3 * SEC, NULL).verdict == VERDICT_PASS);
	CHECK("blocked and reopened flows still expire on time (udp 60 s)",
	      flow_table_recheck(ft, &new_rs) == 2 && flow_table_expire(ft, 62 * SEC) == 0 &&
	      flow_table_expire(ft, 64 * SEC) == 2 && flow_table_count(ft) == 1);
	flow_table_free(ft);
}

static void test_v6_and_names(void)
{
	struct rule r[1] = { rule(ACTION_PASS, DIR_OUT, 1) };
	struct ruleset rs = rs_of(r, 1);
	struct flow_table *ft = flow_table_new(NULL);
	char name[16];

	/* Many interface names come and go; names are reference counted. */
	for (int i = 0; i < 2000; i++) {
		snprintf(name, sizeof(name), "veth%d", i);
		struct packet p = pkt(DIR_OUT, name, 17, "fd00::1", (uint16_t)i, "fd00::2", 53);
		flow_table_packet(ft, &rs, &p, (uint64_t)i * 1000, NULL);
	}
	CHECK("flows on 2000 interfaces", flow_table_count(ft) == 2000);
	CHECK("all expire", flow_table_expire(ft, 10000 * SEC) == 2000 && flow_table_count(ft) == 0);
	struct packet p = pkt(DIR_OUT, "abcdefghijklmno", 17, "fd00::1", 1, "fd00::2", 53);
	const struct flow *f;
	flow_table_packet(ft, &rs, &p, 10001 * SEC, &f);
	CHECK("15-character interface name kept", f && strcmp(f->ifname, "abcdefghijklmno") == 0 && f->family == 6 &&
	      f->src.a[15] == 1 && f->dst.a[15] == 2);
	struct packet rp = reply(p);
	CHECK("v6 reply passes by state", flow_table_packet(ft, &rs, &rp, 10002 * SEC, NULL).verdict == VERDICT_PASS);
	flow_table_free(ft);
	flow_table_free(NULL);
}

static size_t heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();
	return mi.uordblks + mi.hblkhd;
}

/* 2 million distinct flows through a 65536-flow table: memory stays flat. */
static void test_scale(void)
{
	struct rule r[1] = { rule(ACTION_PASS, DIR_OUT, 1) };
	struct ruleset rs = rs_of(r, 1);
	struct ended ended = { 0 };
	size_t before = heap_in_use(), at_full = 0;
	struct flow_table *ft = flow_table_new(NULL);
	struct packet p = pkt(DIR_OUT, "eth0", 17, "10.0.0.1", 0, "10.0.0.2", 53);
	struct timespec t0, t1;
	const size_t total = 2000000;

	flow_table_set_end_callback(ft, on_end, &ended);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (size_t i = 0; i < total; i++) {
		p.src.a[1] = (uint8_t)(i >> 16);
		p.src.a[2] = (uint8_t)(i >> 8);
		p.src.a[3] = (uint8_t)i;
		p.sport = (uint16_t)(i * 7);
		flow_table_packet(ft, &rs, &p, i * 1000, NULL);
		if (i == 65536 * 2)
			at_full = heap_in_use();
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	size_t at_end = heap_in_use();
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	double per_flow = (double)(at_full - before) / 65536.0;

	printf("# 2M flows: %.2f s (%.0f ns/new flow), %.1f bytes per flow, heap %zu at 131072 flows, %zu at 2M\n",
	       secs, secs * 1e9 / (double)total, per_flow, at_full - before, at_end - before);
	CHECK("2M flows: table stays at its limit", flow_table_count(ft) == 65536);
	CHECK("2M flows: evictions counted", flow_table_evictions(ft) == total - 65536);
	CHECK("2M flows: every evicted flow reported", ended.count == total - 65536);
	if (at_full == before) {
		printf("SKIP 2M flows: memory: mallinfo2 sees no heap (sanitizer build)\n");
	} else {
		CHECK("2M flows: memory constant after the table is full", at_end <= at_full + 4096);
		CHECK("bytes per flow under 200", per_flow < 200.0);
	}
	flow_table_free(ft);
	CHECK("2M flows: free reports the rest", ended.count == total);
}


struct flagged_seen {
	size_t count, flagged;
	enum verdict first_verdict;
	const struct rule *first_rule;
};

static void on_flagged(const struct flow *f, void *ctx)
{
	struct flagged_seen *s = ctx;
	s->count++;
	s->flagged += f->flagged;
	s->first_verdict = f->first_verdict;
	s->first_rule = f->first_rule;
}

/* A blocked flow's later packets are decided anew: the entry keeps the
 * latest decision and its first packet's; a caller's flag stays. */
static void test_first_decision_and_flag(void)
{
	struct rule r[1] = { rule(ACTION_DROP, DIR_IN, 1) };
	struct ruleset rs = rs_of(r, 1);
	struct flow_table *ft = flow_table_new(NULL);
	struct packet out = pkt(DIR_OUT, "eth0", 6, "192.168.1.5", 40000, "192.0.2.1", 443);
	struct packet in = reply(out);
	struct flagged_seen seen = { 0 };
	const struct flow *f;
	struct decision d;

	CHECK("no packet yet: nothing to flag", !flow_table_flag_last(ft) && !flow_table_last_began(ft));
	d = flow_table_packet(ft, &rs, &out, SEC, &f);
	CHECK("first: rejected by default, its first decision",
	      d.verdict == VERDICT_REJECT && f && f->first_verdict == VERDICT_REJECT &&
	      f->first_rule == NULL && !f->flagged);
	CHECK("first packet began the flow", flow_table_last_began(ft));
	d = flow_table_packet(ft, &rs, &in, 2 * SEC, &f);
	CHECK("reply decided anew by rule 1", d.verdict == VERDICT_BLOCK && d.rule == &r[0]);
	CHECK("latest and first decisions both kept",
	      f && f->verdict == VERDICT_BLOCK && f->rule == &r[0] &&
	      f->first_verdict == VERDICT_REJECT && f->first_rule == NULL && f->packets == 2);
	CHECK("the reply did not begin a flow", !flow_table_last_began(ft));
	CHECK("flag the reply's flow", flow_table_flag_last(ft));
	d = flow_table_packet(ft, &rs, &out, 3 * SEC, &f);
	CHECK("flag kept, first decision kept", f && f->flagged && f->first_verdict == VERDICT_REJECT);
	flow_table_foreach(ft, on_flagged, &seen);
	CHECK("foreach shows the flag and first decision",
	      seen.count == 1 && seen.flagged == 1 && seen.first_verdict == VERDICT_REJECT &&
	      seen.first_rule == NULL);

	/* A skipped packet makes no flow: nothing to flag. */
	struct ifitem lo = { .kind = IFITEM_PREFIX, .name = "lo" };
	rs.skip.count = 1;
	rs.skip.items = &lo;
	struct packet loop = pkt(DIR_OUT, "lo", 17, "127.0.0.1", 1, "127.0.0.1", 2);
	d = flow_table_packet(ft, &rs, &loop, 4 * SEC, NULL);
	CHECK("skipped packet: no flow to flag", d.skipped && !flow_table_flag_last(ft) &&
	      !flow_table_last_began(ft));
	rs.skip.count = 0;

	/* A recheck decides the first packet anew: that is its first
	 * decision from then on (the old rules may be gone). */
	struct rule r2[1] = { rule(ACTION_PASS, DIR_OUT, 7) };
	struct ruleset rs2 = rs_of(r2, 1);
	CHECK("recheck changes the flow", flow_table_recheck(ft, &rs2) == 1);
	seen = (struct flagged_seen){ 0 };
	flow_table_foreach(ft, on_flagged, &seen);
	CHECK("recheck: first decision under the new rules, flag kept",
	      seen.count == 1 && seen.first_verdict == VERDICT_PASS && seen.first_rule == &r2[0] &&
	      seen.flagged == 1);
	flow_table_free(ft);

	/* A first rule that is a rule: kept when a later packet's rule is
	 * another (beside the entry), the latest in the entry. */
	struct rule rb[2] = { rule(ACTION_DROP, DIR_OUT, 1), rule(ACTION_DROP, DIR_IN, 2) };
	struct ruleset rsb = rs_of(rb, 2);
	ft = flow_table_new(NULL);
	d = flow_table_packet(ft, &rsb, &out, SEC, &f);
	CHECK("blocked by rule 1 first", d.rule == &rb[0] && f && f->first_rule == &rb[0]);
	d = flow_table_packet(ft, &rsb, &in, 2 * SEC, &f);
	CHECK("its reply by rule 2: first rule 1 kept",
	      d.rule == &rb[1] && f && f->rule == &rb[1] && f->first_rule == &rb[0]);
	d = flow_table_packet(ft, &rsb, &out, 3 * SEC, &f);
	CHECK("a third packet: first rule 1 still, its own rule the latest",
	      d.verdict == VERDICT_BLOCK && f && f->rule == d.rule && f->first_rule == &rb[0]);
	seen = (struct flagged_seen){ 0 };
	flow_table_foreach(ft, on_flagged, &seen);
	CHECK("foreach: first rule 1", seen.count == 1 && seen.first_rule == &rb[0]);
	flow_table_free(ft);
}

/* The first packet's owner (uid, mark) is kept in the entry: a
 * packet of another owner is decided anew, and rechecks see the owner. */
static void test_owner(void)
{
	struct rule r[1] = { rule(ACTION_PASS, DIR_OUT, 1) };
	struct ruleset rs = rs_of(r, 1);
	struct flow_table *ft = flow_table_new(NULL);
	struct packet a = pkt(DIR_OUT, "eth0", 6, "192.168.1.5", 40000, "192.0.2.1", 443);
	const struct flow *f;
	struct decision d;

	r[0].has_user = true;
	r[0].uid = 1000;
	a.has_uid = true;
	a.uid = 2000;
	a.has_mark = true;
	a.mark = 7;
	d = flow_table_packet(ft, &rs, &a, SEC, &f);
	CHECK("owner 2000: rejected by default", d.verdict == VERDICT_REJECT && f);
	uint64_t id = f->id;
	d = flow_table_packet(ft, &rs, &a, 2 * SEC, &f);
	CHECK("same owner: the same decision, same flow", d.verdict == VERDICT_REJECT &&
	      f && f->id == id && f->packets == 2);
	struct packet b = a;
	b.uid = 1000;
	d = flow_table_packet(ft, &rs, &b, 3 * SEC, &f);
	CHECK("owner 1000: decided anew, passes, a new flow", d.verdict == VERDICT_PASS &&
	      d.rule == &r[0] && f && f->id != id && f->packets == 1);
	/* Many flows with owners: the owner array grows with the pool. */
	for (uint16_t port = 1; port <= 3000; port++) {
		struct packet c = a;
		c.sport = port;
		c.uid = port % 2 ? 1000 : 2000;
		c.mark = port;
		flow_table_packet(ft, &rs, &c, 4 * SEC, NULL);
	}
	struct packet c = a;
	c.sport = 2999;
	c.uid = 1000;
	c.mark = 2999;
	d = flow_table_packet(ft, &rs, &c, 5 * SEC, &f);
	CHECK("owner kept across pool growth", d.verdict == VERDICT_PASS && f && f->packets == 2);
	c.mark = 1;
	d = flow_table_packet(ft, &rs, &c, 6 * SEC, &f);
	CHECK("passed flow: another mark passes by state", d.verdict == VERDICT_PASS && f->packets == 3);
	struct rule r2[1] = { rule(ACTION_PASS, DIR_OUT, 2) };
	struct ruleset rs2 = rs_of(r2, 1);
	r2[0].has_user = true;
	r2[0].uid = 2000;
	size_t changed = flow_table_recheck(ft, &rs2);
	/* Every flow changes: those of 1000 (b, which replaced a, and 1500
	 * more) are now blocked, the 1500 of 2000 pass. */
	CHECK("recheck decides by each first packet's owner",
	      changed == 3001 && flow_table_count(ft) == 3001);
	flow_table_free(ft);
}

/* Packets decided with the keys flow_table_prefetch() made a few packets
 * earlier (as replay does) get what flow_table_packet() gives. */
static void test_prefetch_ahead(void)
{
	struct rule r[2] = { rule(ACTION_PASS, DIR_OUT, 1), rule(ACTION_PASS, DIR_IN, 2) };
	struct ruleset rs = rs_of(r, 2);
	struct flow_limits small = { .max_flows = 64 };
	struct flow_table *plain = flow_table_new(&small), *ahead = flow_table_new(&small);
	enum { N = 4000, LAG = 3 };
	static struct packet ps[N];
	static struct flow_prefetch pf[N];
	const char *names[] = { "wg0", "eth0", "wg1" };
	size_t same = 0;

	r[0].on.count = 1;
	r[0].on.items = &wg0;
	r[1].nprotos = 0;
	r[1].dport.count = 0;
	for (size_t k = 0; k < N; k++) {
		char src[64], dst[64];
		unsigned flow = (unsigned)(k * 7919u % 150u);
		bool v6 = flow % 5 == 0;
		snprintf(src, sizeof(src), v6 ? "fd00::%u" : "10.0.%u.2", flow % 3);
		snprintf(dst, sizeof(dst), v6 ? "fd01::%u" : "192.0.2.%u", flow);
		ps[k] = pkt(DIR_OUT, names[flow % 3], flow % 4 ? 6 : 17, src, (uint16_t)(1000 + flow),
			    dst, 443);
		if (k % 3 == 1)
			ps[k] = reply(ps[k]);
	}
	for (size_t k = 0; k < N + LAG; k++) {
		if (k < N)
			flow_table_prefetch(ahead, &ps[k], &pf[k]);
		if (k >= LAG) {
			size_t j = k - LAG;
			const struct flow *f1, *f2;
			struct decision d1 = flow_table_packet(plain, &rs, &ps[j], j * SEC / 10, &f1);
			struct decision d2;
			flow_table_packet_ahead(ahead, &rs, &ps[j], j * SEC / 10, &f2, &pf[j], &d2);
			if (d1.verdict == d2.verdict && d1.rule == d2.rule && !f1 == !f2 &&
			    (!f1 || (f1->id == f2->id && f1->packets == f2->packets &&
				     f1->verdict == f2->verdict)))
				same++;
		}
	}
	CHECK("decided ahead: the same decisions and flows", same == N);
	CHECK("decided ahead: the same table", flow_table_count(plain) == flow_table_count(ahead) &&
	      flow_table_evictions(plain) == flow_table_evictions(ahead) &&
	      flow_table_evictions(plain) > 0);
	flow_table_free(plain);
	flow_table_free(ahead);
}

int main(void)
{
	test_if_bound_state();
	test_blocked_then_reverse();
	test_icmp();
	test_related_icmp();
	test_fragments();
	test_eviction();
	test_eviction_prefers_blocked();
	test_timeouts();
	test_expire_slices();
	test_recheck();
	test_v6_and_names();
	test_first_decision_and_flag();
	test_owner();
	test_prefetch_ahead();
	test_scale();
	TEST_MAIN_END();
}
