/* The engine on parsed rule files: the kill switch preset decided packet by
 * packet (stateless and with flow state), tables, block policy, skip, owner
 * criteria, '(IFSPEC)', and a rule set swap with recheck. */
#include <stdlib.h>

#include "filter/engine.h"
#include "rules/ruleset.h"
#include "tests/unit/testlib.h"

static const char killswitch_rules[] =
	"table <bad> { 203.0.113.0/24 2001:db8:bad::/48 }\n"
	"block out log to <bad>\n"
	"killswitch {\n"
	"  tunnel wg0\n"
	"  endpoint 198.51.100.7 port 51820 proto udp mark 0xca6c\n"
	"  dns 10.64.0.1\n"
	"  allow lan\n"
	"  allow dhcp\n"
	"}\n"
	"pass in on wg0 proto tcp to port 22\n"
	"pass out proto tcp to 192.0.2.80 port 80 user 1000\n";

static struct ruleset *parse(const char *text)
{
	struct diag_list diags = { 0 };
	struct ruleset *rs = ruleset_from_string("t.rules", text, strlen(text), &diags);
	if (!rs) {
		diag_list_print(stderr, &diags);
		printf("FAIL parse: rule text rejected\n");
		test_failures++;
	}
	diag_list_clear(&diags);
	return rs;
}

/* A packet: dir, interface, protocol, source and destination with ports
 * (icmp: the type in dport). */
static struct packet pkt(unsigned dir, const char *ifname, uint8_t proto,
			 const char *src, uint16_t sport, const char *dst, uint16_t dport)
{
	struct packet p;
	memset(&p, 0, sizeof(p));
	p.dir = dir;
	snprintf(p.ifname, sizeof(p.ifname), "%s", ifname);
	p.iftype = iftype_from_name(ifname);
	if (ifw_addr_parse(src, &p.src) || ifw_addr_parse(dst, &p.dst))
		abort();
	p.family = p.src.family;
	p.proto = proto;
	if (proto == 6 || proto == 17) {
		p.has_ports = true;
		p.sport = sport;
		p.dport = dport;
	} else if (proto == 1 || proto == 58) {
		p.has_icmp = true;
		p.icmp_type = (uint8_t)dport;
	}
	p.len = 60;
	return p;
}

/* "VERDICT LINE" of a stateless decision, e.g. "pass 4" or "reject default". */
static const char *decide(const struct ruleset *rs, const struct packet *p)
{
	static char buf[64];
	struct decision d = ruleset_decide(rs, p);
	if (d.skipped)
		snprintf(buf, sizeof(buf), "%s skip", verdict_name(d.verdict));
	else if (d.rule)
		snprintf(buf, sizeof(buf), "%s %d", verdict_name(d.verdict), d.rule->line);
	else
		snprintf(buf, sizeof(buf), "%s default", verdict_name(d.verdict));
	return buf;
}

static void test_killswitch(const struct ruleset *rs)
{
	struct packet p;

	p = pkt(DIR_OUT, "eth0", 6, "192.168.1.5", 40000, "1.1.1.1", 443);
	CHECK_STR("ks: web out on eth0 rejected by default", decide(rs, &p), "reject default");
	p = pkt(DIR_OUT, "wg0", 6, "10.64.0.2", 40000, "1.1.1.1", 443);
	CHECK_STR("ks: web out on the tunnel", decide(rs, &p), "pass 4");
	p = pkt(DIR_IN, "eth0", 6, "1.1.1.1", 443, "192.168.1.5", 40000);
	CHECK_STR("ks: unsolicited in dropped", decide(rs, &p), "block default");
	p = pkt(DIR_OUT, "eth0", 17, "192.168.1.5", 51820, "198.51.100.7", 51820);
	CHECK_STR("ks: endpoint without a known mark rejected", decide(rs, &p), "reject default");
	p.has_mark = true;
	p.mark = 0xca6c;
	CHECK_STR("ks: endpoint with the mark", decide(rs, &p), "pass 5");
	p.mark = 0xca6d;
	CHECK_STR("ks: endpoint with another mark", decide(rs, &p), "reject default");
	p = pkt(DIR_OUT, "eth0", 17, "192.168.1.5", 51820, "198.51.100.7", 51821);
	p.has_mark = true;
	p.mark = 0xca6c;
	CHECK_STR("ks: endpoint other port", decide(rs, &p), "reject default");
	p = pkt(DIR_OUT, "wg0", 17, "10.64.0.2", 5353, "10.64.0.1", 53);
	CHECK_STR("ks: dns to the tunnel resolver", decide(rs, &p), "pass 6");
	p = pkt(DIR_OUT, "wg0", 17, "10.64.0.2", 5353, "8.8.8.8", 53);
	CHECK_STR("ks: other dns rejected even on the tunnel", decide(rs, &p), "reject 6");
	p = pkt(DIR_OUT, "eth0", 6, "192.168.1.5", 5353, "192.168.1.1", 53);
	CHECK_STR("ks: lan dns rejected (before the lan rule)", decide(rs, &p), "reject 6");
	p = pkt(DIR_OUT, "eth0", 6, "192.168.1.5", 40000, "192.168.1.10", 445);
	CHECK_STR("ks: lan out", decide(rs, &p), "pass 7");
	p = pkt(DIR_IN, "eth0", 6, "10.1.2.3", 40000, "192.168.1.5", 22);
	CHECK_STR("ks: lan in", decide(rs, &p), "pass 7");
	p = pkt(DIR_OUT, "eth0", 17, "192.168.1.5", 40000, "239.255.255.250", 1900);
	CHECK_STR("ks: multicast out", decide(rs, &p), "pass 7");
	p = pkt(DIR_OUT, "eth0", 17, "0.0.0.0", 68, "255.255.255.255", 67);
	CHECK_STR("ks: dhcp out", decide(rs, &p), "pass 8");
	p = pkt(DIR_IN, "eth0", 17, "192.168.1.1", 67, "255.255.255.255", 68);
	CHECK_STR("ks: dhcp in", decide(rs, &p), "pass 8");
	p = pkt(DIR_OUT, "eth0", 17, "fe80::1", 546, "ff02::1:2", 547);
	CHECK_STR("ks: dhcpv6 out", decide(rs, &p), "pass 8");
	p = pkt(DIR_IN, "eth0", 58, "fe80::1", 0, "ff02::1", 134);
	CHECK_STR("ks: router advert in", decide(rs, &p), "pass 3");
	p = pkt(DIR_IN, "eth0", 58, "2001:db8::1", 0, "2001:db8::2", 135);
	/* ND to and from any address (the stack discards ND whose hop limit
	 * is not 255): a solicitation for the host's global address. */
	CHECK_STR("ks: global neighbor solicit passes", decide(rs, &p), "pass 3");
	p = pkt(DIR_IN, "eth0", 58, "fe80::1", 0, "ff02::1", 128);
	CHECK_STR("ks: link-local echo request is not nd", decide(rs, &p), "pass 7");
	p = pkt(DIR_OUT, "lo", 6, "127.0.0.1", 1, "127.0.0.1", 2);
	CHECK_STR("ks: loopback", decide(rs, &p), "pass 3");
	p = pkt(DIR_OUT, "wg0", 6, "10.64.0.2", 40000, "203.0.113.9", 443);
	CHECK_STR("ks: table blocks before the tunnel", decide(rs, &p), "block 2");
	p = pkt(DIR_OUT, "wg0", 6, "fd00::2", 40000, "2001:db8:bad:1::1", 443);
	CHECK_STR("ks: table blocks v6", decide(rs, &p), "block 2");
	p = pkt(DIR_IN, "wg0", 6, "1.2.3.4", 40000, "10.64.0.2", 22);
	CHECK_STR("ks: ssh in on the tunnel", decide(rs, &p), "pass 10");
	p = pkt(DIR_OUT, "eth0", 6, "192.168.1.5", 40000, "192.0.2.80", 80);
	CHECK_STR("ks: user rule with the owner unknown", decide(rs, &p), "reject default");
	p.has_uid = true;
	p.uid = 1000;
	CHECK_STR("ks: user rule with the owner known", decide(rs, &p), "pass 11");

	/* CVE-2019-14899: the tunnel's address reached through eth0. */
	struct ifaddr_table *ifaddrs = ifaddr_table_new();
	struct ifw_addr a;
	ifw_addr_parse("10.64.0.2", &a);
	ifaddr_table_add(ifaddrs, "wg0", &a);
	p = pkt(DIR_IN, "eth0", 6, "192.168.1.1", 443, "10.64.0.2", 40000);
	CHECK_STR("ks: tunnel address via eth0, owner unknown: lan rule", decide(rs, &p), "pass 7");
	p.ifaddrs = ifaddrs;
	CHECK_STR("ks: tunnel address via eth0 dropped", decide(rs, &p), "block 4");
	p = pkt(DIR_IN, "wg0", 6, "1.2.3.4", 443, "10.64.0.2", 22);
	p.ifaddrs = ifaddrs;
	CHECK_STR("ks: tunnel address via the tunnel", decide(rs, &p), "pass 10");
	ifaddr_table_free(ifaddrs);
}

static void test_policies(void)
{
	struct ruleset *rs = parse(
		"set block-policy reject\n"
		"set skip on lo\n"
		"block out proto tcp to 198.51.100.0/24\n"
		"block in inet6 all\n"
		"pass out proto tcp to !{ 10.0.0.0/8 } port { 80 443 8000:8080 }\n"
		"pass proto icmp icmp-type echo-request\n"
		"pass on { wg* tun0 } all\n");
	struct packet p;

	if (!rs)
		return;
	p = pkt(DIR_OUT, "eth0", 6, "192.168.1.5", 1, "198.51.100.7", 80);
	CHECK_STR("policy: block under reject policy", decide(rs, &p), "reject 3");
	p = pkt(DIR_IN, "eth0", 6, "2001:db8::1", 1, "2001:db8::2", 80);
	CHECK_STR("policy: block inet6", decide(rs, &p), "reject 4");
	p = pkt(DIR_OUT, "eth0", 6, "192.168.1.5", 1, "1.1.1.1", 8080);
	CHECK_STR("policy: port range", decide(rs, &p), "pass 5");
	p = pkt(DIR_OUT, "eth0", 6, "192.168.1.5", 1, "10.1.1.1", 443);
	CHECK_STR("policy: negated destination", decide(rs, &p), "reject default");
	p = pkt(DIR_OUT, "eth0", 6, "192.168.1.5", 1, "1.1.1.1", 22);
	CHECK_STR("policy: port outside the list", decide(rs, &p), "reject default");
	p = pkt(DIR_OUT, "eth0", 1, "192.168.1.5", 0, "1.1.1.1", 8);
	CHECK_STR("policy: echo request", decide(rs, &p), "pass 6");
	p = pkt(DIR_OUT, "eth0", 1, "192.168.1.5", 0, "1.1.1.1", 13);
	CHECK_STR("policy: other icmp", decide(rs, &p), "reject default");
	p = pkt(DIR_IN, "wg7", 17, "1.1.1.1", 1, "10.0.0.1", 2);
	CHECK_STR("policy: interface prefix", decide(rs, &p), "pass 7");
	p = pkt(DIR_IN, "tun0", 17, "1.1.1.1", 1, "10.0.0.1", 2);
	CHECK_STR("policy: interface name", decide(rs, &p), "pass 7");
	p = pkt(DIR_IN, "tun1", 17, "1.1.1.1", 1, "10.0.0.1", 2);
	CHECK_STR("policy: default block follows reject policy", decide(rs, &p), "reject default");
	p = pkt(DIR_IN, "lo", 6, "2001:db8::1", 1, "2001:db8::2", 80);
	CHECK_STR("policy: skip", decide(rs, &p), "pass skip");
	ruleset_free(rs);
}

/* Replies come back by state, bound to the interface; a swap to the kill
 * switch blocks flows it does not allow from their next packet on. */
static void test_state(const struct ruleset *ks)
{
	struct ruleset *open_rs = parse("pass out all\n");
	struct flow_table *ft = flow_table_new(NULL);
	struct packet out_wg, in_wg, out_eth, in_eth, in_other;
	struct decision d;

	if (!open_rs)
		return;
	out_wg = pkt(DIR_OUT, "wg0", 6, "10.64.0.2", 40000, "1.1.1.1", 443);
	in_wg = pkt(DIR_IN, "wg0", 6, "1.1.1.1", 443, "10.64.0.2", 40000);
	in_other = pkt(DIR_IN, "eth0", 6, "1.1.1.1", 443, "10.64.0.2", 40000);
	CHECK("state: out on the tunnel passes", flow_table_packet(ft, ks, &out_wg, 1, NULL).verdict == VERDICT_PASS);
	d = flow_table_packet(ft, ks, &in_wg, 2, NULL);
	CHECK("state: its reply passes by state", d.verdict == VERDICT_PASS && d.rule && d.rule->line == 4);
	CHECK("state: the reply via eth0 dropped", flow_table_packet(ft, ks, &in_other, 3, NULL).verdict == VERDICT_BLOCK);
	flow_table_free(ft);

	ft = flow_table_new(NULL);
	out_eth = pkt(DIR_OUT, "eth0", 6, "192.168.1.5", 40001, "1.1.1.1", 443);
	in_eth = pkt(DIR_IN, "eth0", 6, "1.1.1.1", 443, "192.168.1.5", 40001);
	flow_table_packet(ft, open_rs, &out_eth, 1, NULL);
	flow_table_packet(ft, open_rs, &out_wg, 1, NULL);
	CHECK("swap: reply passes before", flow_table_packet(ft, open_rs, &in_eth, 2, NULL).verdict == VERDICT_PASS);
	CHECK("swap: one flow changes", flow_table_recheck(ft, ks) == 1);
	CHECK("swap: eth0 flow blocked from its next packet", flow_table_packet(ft, ks, &in_eth, 3, NULL).verdict != VERDICT_PASS &&
	      flow_table_packet(ft, ks, &out_eth, 3, NULL).verdict == VERDICT_REJECT);
	d = flow_table_packet(ft, ks, &in_wg, 4, NULL);
	CHECK("swap: tunnel flow keeps passing, by the new rule", d.verdict == VERDICT_PASS && d.rule && d.rule->line == 4);
	flow_table_free(ft);
	ruleset_free(open_rs);
}

/* Decoding real bytes and deciding them: a DNS query leaking via eth0. */
static void test_decoded(const struct ruleset *ks)
{
	static const uint8_t query[] = {
		0x45, 0, 0, 40, 0x12, 0x34, 0x40, 0, 64, 17, 0, 0,
		192, 168, 1, 5, 8, 8, 8, 8,
		0xc3, 0x50, 0, 53, 0, 20, 0, 0,
		0xab, 0xcd, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0,
	};
	struct packet p;

	memset(&p, 0, sizeof(p));
	p.dir = DIR_OUT;
	strcpy(p.ifname, "eth0");
	p.iftype = IFTYPE_ETHER;
	CHECK("decoded: dns query decodes", packet_decode(query, sizeof(query), &p) == DECODE_OK);
	CHECK_STR("decoded: dns leak rejected", decide(ks, &p), "reject 6");
}

int main(void)
{
	struct ruleset *ks = parse(killswitch_rules);

	if (ks) {
		test_killswitch(ks);
		test_state(ks);
		test_decoded(ks);
	}
	test_policies();
	ruleset_free(ks);
	TEST_MAIN_END();
}
