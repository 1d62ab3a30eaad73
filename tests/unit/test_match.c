/* Stateless matching: every criterion of struct rule, effective verdicts,
 * defaults, skip, owner criteria and '(IFSPEC)'. Rules are built by hand so
 * the engine is tested on its own. */
#include <stdlib.h>

#include "filter/engine.h"
#include "tests/unit/testlib.h"

static struct addrset *set_of(const char *a, const char *b)
{
	struct addrset *s = addrset_new();
	struct ifw_prefix p;
	if (a && ifw_prefix_parse(a, &p) == 0)
		addrset_add(s, &p);
	if (b && ifw_prefix_parse(b, &p) == 0)
		addrset_add(s, &p);
	addrset_finish(s);
	return s;
}

/* A packet from src:sport to dst:dport on ifname. */
static struct packet pkt(unsigned dir, const char *ifname, uint8_t proto,
			 const char *src, uint16_t sport, const char *dst, uint16_t dport)
{
	struct packet p;
	memset(&p, 0, sizeof(p));
	p.dir = dir;
	snprintf(p.ifname, sizeof(p.ifname), "%s", ifname);
	p.iftype = strncmp(ifname, "wg", 2) == 0 ? IFTYPE_TUNNEL :
		   strncmp(ifname, "lo", 2) == 0 ? IFTYPE_LOOPBACK : IFTYPE_ETHER;
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

static struct rule base_rule(enum rule_action a)
{
	struct rule r;
	memset(&r, 0, sizeof(r));
	r.action = a;
	r.dir = DIR_BOTH;
	r.quick_state = true;
	r.file = "t.rules";
	r.line = 1;
	return r;
}

static struct ruleset rs_of(struct rule *rules, size_t n)
{
	struct ruleset rs;
	memset(&rs, 0, sizeof(rs));
	rs.rules = rules;
	rs.nrules = n;
	for (size_t i = 0; i < n; i++)
		rules[i].index = i;
	return rs;
}

static void test_ifmatch(void)
{
	struct ifitem items[3];
	struct ifmatch m = { .negate = false, .count = 1, .items = items };

	memset(items, 0, sizeof(items));
	items[0].kind = IFITEM_NAME;
	strcpy(items[0].name, "wg0");
	CHECK("if name exact", ifmatch_matches(&m, "wg0", IFTYPE_TUNNEL));
	CHECK("if name longer differs", !ifmatch_matches(&m, "wg01", IFTYPE_TUNNEL));
	CHECK("if name shorter differs", !ifmatch_matches(&m, "wg", IFTYPE_TUNNEL));
	items[0].kind = IFITEM_PREFIX;
	strcpy(items[0].name, "wg");
	CHECK("if prefix", ifmatch_matches(&m, "wg0", IFTYPE_ETHER) && ifmatch_matches(&m, "wg", IFTYPE_ETHER));
	CHECK("if prefix other", !ifmatch_matches(&m, "w", IFTYPE_ETHER) && !ifmatch_matches(&m, "eth0", IFTYPE_ETHER));
	items[0].kind = IFITEM_TYPE;
	items[0].type = IFTYPE_TUNNEL;
	CHECK("if type", ifmatch_matches(&m, "x", IFTYPE_TUNNEL) && !ifmatch_matches(&m, "x", IFTYPE_ETHER));
	items[0].kind = IFITEM_ANY;
	CHECK("if any", ifmatch_matches(&m, "whatever", IFTYPE_LOOPBACK));
	items[0].kind = IFITEM_NAME;
	strcpy(items[0].name, "eth0");
	m.negate = true;
	CHECK("if !eth0", !ifmatch_matches(&m, "eth0", IFTYPE_ETHER) && ifmatch_matches(&m, "wg0", IFTYPE_TUNNEL));
	items[1].kind = IFITEM_PREFIX;
	strcpy(items[1].name, "tun");
	m.count = 2;
	m.negate = false;
	CHECK("if list", ifmatch_matches(&m, "eth0", IFTYPE_ETHER) && ifmatch_matches(&m, "tun3", IFTYPE_TUNNEL) &&
	      !ifmatch_matches(&m, "wg0", IFTYPE_TUNNEL));
	m.negate = true;
	CHECK("if !list", !ifmatch_matches(&m, "eth0", IFTYPE_ETHER) && !ifmatch_matches(&m, "tun3", IFTYPE_TUNNEL) &&
	      ifmatch_matches(&m, "wg0", IFTYPE_TUNNEL));
	m.count = 0;
	CHECK("if empty is no criterion", ifmatch_matches(&m, "eth0", IFTYPE_ETHER));
	CHECK("if 15-char names", ({ struct ifitem it = { .kind = IFITEM_NAME, .name = "abcdefghijklmno" };
		struct ifmatch m1 = { .count = 1, .items = &it };
		ifmatch_matches(&m1, "abcdefghijklmno", IFTYPE_ETHER); }));
}

static void test_verdicts_and_defaults(void)
{
	struct rule r[1] = { base_rule(ACTION_BLOCK) };
	struct ruleset rs = rs_of(r, 1);
	struct packet p = pkt(DIR_OUT, "eth0", 6, "10.0.0.1", 1000, "1.1.1.1", 443);
	struct decision d;

	CHECK_STR("verdict names", verdict_name(VERDICT_PASS), "pass");
	CHECK_STR("verdict block", verdict_name(VERDICT_BLOCK), "block");
	CHECK_STR("verdict reject", verdict_name(VERDICT_REJECT), "reject");

	d = ruleset_decide(&rs, &p);
	CHECK("block under drop policy", d.verdict == VERDICT_BLOCK && d.rule == &r[0] && !d.skipped);
	rs.block_policy = BLOCK_POLICY_REJECT;
	d = ruleset_decide(&rs, &p);
	CHECK("block under reject policy is reject", d.verdict == VERDICT_REJECT && d.rule == &r[0]);
	r[0].action = ACTION_REJECT;
	rs.block_policy = BLOCK_POLICY_DROP;
	CHECK("reject rule", ruleset_decide(&rs, &p).verdict == VERDICT_REJECT);
	r[0].action = ACTION_PASS;
	CHECK("pass rule", ruleset_decide(&rs, &p).verdict == VERDICT_PASS);

	rs.nrules = 0;
	rs.default_out = DEFAULT_BLOCK;
	d = ruleset_decide(&rs, &p);
	CHECK("default block", d.verdict == VERDICT_BLOCK && d.rule == NULL);
	rs.block_policy = BLOCK_POLICY_REJECT;
	CHECK("default block follows reject policy", ruleset_decide(&rs, &p).verdict == VERDICT_REJECT);
	rs.default_out = DEFAULT_DROP;
	CHECK("default drop ignores reject policy", ruleset_decide(&rs, &p).verdict == VERDICT_BLOCK);
	rs.default_out = DEFAULT_REJECT;
	rs.block_policy = BLOCK_POLICY_DROP;
	CHECK("default reject", ruleset_decide(&rs, &p).verdict == VERDICT_REJECT);
	rs.default_out = DEFAULT_PASS;
	rs.default_in = DEFAULT_DROP;
	CHECK("default per direction out", ruleset_decide(&rs, &p).verdict == VERDICT_PASS);
	p.dir = DIR_IN;
	CHECK("default per direction in", ruleset_decide(&rs, &p).verdict == VERDICT_BLOCK);

	/* skip */
	struct ifitem lo = { .kind = IFITEM_PREFIX, .name = "lo" };
	rs.skip.count = 1;
	rs.skip.items = &lo;
	p = pkt(DIR_IN, "lo", 6, "127.0.0.1", 1, "127.0.0.1", 2);
	d = ruleset_decide(&rs, &p);
	CHECK("skip passes", d.verdict == VERDICT_PASS && d.skipped && d.rule == NULL);
	p = pkt(DIR_IN, "eth0", 6, "127.0.0.1", 1, "127.0.0.1", 2);
	d = ruleset_decide(&rs, &p);
	CHECK("skip other interface filtered", d.verdict == VERDICT_BLOCK && !d.skipped);
}

static void test_first_match(void)
{
	struct rule r[3] = { base_rule(ACTION_BLOCK), base_rule(ACTION_PASS), base_rule(ACTION_REJECT) };
	struct ruleset rs = rs_of(r, 3);
	struct packet p = pkt(DIR_IN, "eth0", 17, "10.0.0.1", 5, "10.0.0.2", 53);

	r[0].dir = DIR_OUT;
	CHECK("out rule skipped for in", !rule_matches(&r[0], &p));
	CHECK("first matching rule decides", ruleset_decide(&rs, &p).rule == &r[1]);
	r[1].family = 6;
	CHECK("family", !rule_matches(&r[1], &p) && ruleset_decide(&rs, &p).rule == &r[2]);
	r[1].family = 4;
	CHECK("family inet", rule_matches(&r[1], &p));
}

static void test_criteria(void)
{
	struct rule r = base_rule(ACTION_PASS);
	struct packet p = pkt(DIR_OUT, "wg0", 6, "10.0.0.1", 40000, "93.184.216.34", 443);
	uint8_t protos[2] = { 17, 6 };
	struct portrange pr[2] = { { 443, 443 }, { 8000, 8080 } };
	uint8_t types[2] = { 8, 0 };

	/* protocols */
	r.nprotos = 1;
	r.protos = protos;
	CHECK("proto udp vs tcp", !rule_matches(&r, &p));
	r.nprotos = 2;
	CHECK("proto list", rule_matches(&r, &p));
	r.nprotos = 0;

	/* ports */
	r.dport.count = 2;
	r.dport.ranges = pr;
	CHECK("dport in list", rule_matches(&r, &p));
	p.dport = 8080;
	CHECK("dport range end", rule_matches(&r, &p));
	p.dport = 8081;
	CHECK("dport outside", !rule_matches(&r, &p));
	r.dport.negate = true;
	CHECK("dport negated", rule_matches(&r, &p));
	p.has_ports = false;
	p.fragment = true;
	CHECK("negated port never matches without ports", !rule_matches(&r, &p));
	r.dport.negate = false;
	p.dport = 443;
	CHECK("port rule never matches non-first fragment", !rule_matches(&r, &p));
	p.has_ports = true;
	p.fragment = false;
	r.dport.count = 0;
	r.sport.count = 1;
	r.sport.ranges = pr;
	CHECK("sport", !rule_matches(&r, &p));
	p.sport = 443;
	CHECK("sport match", rule_matches(&r, &p));
	r.sport.count = 0;

	/* addresses */
	struct addrset *lan = set_of("10.0.0.0/8", "fd00::/8");
	struct addrset *v4only = set_of("192.168.0.0/16", NULL);
	struct addrset *empty = set_of(NULL, NULL);
	r.from.set = lan;
	CHECK("from lan", rule_matches(&r, &p));
	r.to.set = lan;
	CHECK("to not lan", !rule_matches(&r, &p));
	r.to.negate = true;
	CHECK("to !lan", rule_matches(&r, &p));
	r.from.set = NULL;
	r.to.set = v4only;
	struct packet p6 = pkt(DIR_OUT, "wg0", 6, "fd00::1", 1, "2001:db8::1", 443);
	CHECK("!v4-set on v4", rule_matches(&r, &p));
	CHECK("!v4-set never matches v6", !rule_matches(&r, &p6));
	r.to.negate = false;
	CHECK("v4-set never matches v6", !rule_matches(&r, &p6));
	r.to.set = lan;
	r.to.negate = true;
	CHECK("!mixed set on v6 outside", rule_matches(&r, &p6));
	r.from.set = lan;
	r.from.negate = false;
	CHECK("from mixed set v6", rule_matches(&r, &p6));
	r.from.set = NULL;
	r.to.set = empty;
	r.to.negate = false;
	CHECK("empty table matches nothing", !rule_matches(&r, &p) && !rule_matches(&r, &p6));
	r.to.negate = true;
	CHECK("!empty table matches everything", rule_matches(&r, &p) && rule_matches(&r, &p6));
	r.to.set = NULL;
	r.to.negate = false;

	/* icmp types */
	struct packet icmp = pkt(DIR_OUT, "eth0", 1, "10.0.0.1", 0, "10.0.0.2", 0);
	icmp.has_icmp = true;
	icmp.icmp_type = 8;
	r.ntypes = 1;
	r.types = types;
	CHECK("icmp-type echo-request", rule_matches(&r, &icmp));
	icmp.icmp_type = 3;
	CHECK("icmp-type other", !rule_matches(&r, &icmp));
	CHECK("icmp-type never matches tcp", !rule_matches(&r, &p));
	struct packet icmp6 = pkt(DIR_OUT, "eth0", 58, "fe80::1", 0, "ff02::1", 0);
	icmp6.has_icmp = true;
	icmp6.icmp_type = 8;
	CHECK("icmp-type never matches icmp6", !rule_matches(&r, &icmp6));
	r.icmp6 = true;
	uint8_t ns = 135;
	r.types = &ns;
	icmp6.icmp_type = 135;
	CHECK("icmp6-type", rule_matches(&r, &icmp6));
	icmp.icmp_type = 135;
	CHECK("icmp6-type never matches icmp", !rule_matches(&r, &icmp));
	r.ntypes = 0;

	/* owner criteria */
	r.has_user = true;
	r.uid = 1000;
	CHECK("user unknown never matches", !rule_matches(&r, &p));
	p.has_uid = true;
	p.uid = 1001;
	CHECK("user other", !rule_matches(&r, &p));
	p.uid = 1000;
	CHECK("user match", rule_matches(&r, &p));
	r.has_mark = true;
	r.mark = 0xca6c;
	CHECK("mark unknown never matches", !rule_matches(&r, &p));
	p.has_mark = true;
	p.mark = 0xca6c;
	CHECK("mark match", rule_matches(&r, &p));
	p.mark = 1;
	CHECK("mark other", !rule_matches(&r, &p));
	r.has_user = r.has_mark = false;

	/* interfaces */
	struct ifitem wg = { .kind = IFITEM_PREFIX, .name = "wg" };
	r.on.count = 1;
	r.on.items = &wg;
	CHECK("on wg*", rule_matches(&r, &p));
	strcpy(p.ifname, "eth0");
	CHECK("on wg* vs eth0", !rule_matches(&r, &p));
	r.on.count = 0;

	addrset_free(lan);
	addrset_free(v4only);
	addrset_free(empty);
}

static void test_ifaddr(void)
{
	struct ifaddr_table *t = ifaddr_table_new();
	struct ifitem wg = { .kind = IFITEM_NAME, .name = "wg0" };
	struct ifmatch tun = { .count = 1, .items = &wg };
	struct rule r = base_rule(ACTION_BLOCK);
	struct packet p = pkt(DIR_IN, "eth0", 6, "203.0.113.9", 443, "10.64.0.2", 50000);
	struct ifw_addr a;

	/* block in on !wg0 to (wg0) */
	r.dir = DIR_IN;
	r.to.ifaddr = &tun;
	CHECK("(wg0) without a table never matches", !rule_matches(&r, &p));
	p.ifaddrs = t;
	CHECK("(wg0) with unknown owner never matches", !rule_matches(&r, &p));
	r.to.negate = true;
	CHECK("!(wg0) with unknown owner never matches", !rule_matches(&r, &p));
	r.to.negate = false;
	ifw_addr_parse("10.64.0.2", &a);
	ifaddr_table_add(t, "wg0", &a);
	ifw_addr_parse("192.168.1.5", &a);
	ifaddr_table_add(t, "eth0", &a);
	CHECK_STR("owner lookup", ifaddr_table_owner(t, &p.dst), "wg0");
	CHECK("(wg0) matches its address", rule_matches(&r, &p));
	ifw_addr_parse("192.168.1.5", &p.dst);
	CHECK("(wg0) not another interface's address", !rule_matches(&r, &p));
	r.to.negate = true;
	CHECK("!(wg0) another interface's address", rule_matches(&r, &p));
	r.to.negate = false;
	struct ifitem tt = { .kind = IFITEM_TYPE, .type = IFTYPE_TUNNEL };
	tun.items = &tt;
	ifw_addr_parse("10.64.0.2", &p.dst);
	CHECK("(type tunnel) by owner name", rule_matches(&r, &p));
	ifaddr_table_remove_interface(t, "wg0");
	CHECK("removed interface forgotten", ifaddr_table_owner(t, &p.dst) == NULL && !rule_matches(&r, &p));
	ifw_addr_parse("192.168.1.5", &a);
	CHECK_STR("other interface kept", ifaddr_table_owner(t, &a), "eth0");
	ifaddr_table_add(t, "wlan0", &a);
	CHECK_STR("address moved", ifaddr_table_owner(t, &a), "wlan0");
	ifaddr_table_free(t);
	ifaddr_table_free(NULL);
}

int main(void)
{
	test_ifmatch();
	test_verdicts_and_defaults();
	test_first_match();
	test_criteria();
	test_ifaddr();
	TEST_MAIN_END();
}
