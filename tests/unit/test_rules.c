/* The rule language through its API: ruleset_from_string/file, the fields
 * of the expanded rule set, killswitch expansion order and defaults,
 * diagnostics (counts, locations), the printer's round trip, names, and the
 * scale of a 1,000,000-entry table. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "filter/engine.h"
#include "rules/ifspec_parse.h"
#include "rules/ruleset.h"
#include "tests/unit/testlib.h"

static struct ruleset *parse(const char *text, struct diag_list *d)
{
	return ruleset_from_string("t.rules", text, strlen(text), d);
}

/* The canonical printing of rs as a string (caller frees). */
static char *print(const struct ruleset *rs, bool expand)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	ruleset_print(f, rs, expand);
	fclose(f);
	return buf;
}

static bool starts_with(const char *s, const char *prefix)
{
	return s && !strncmp(s, prefix, strlen(prefix));
}

static bool addr_in(const struct addrmatch *m, const char *addr)
{
	struct ifw_addr a;
	return m->set && ifw_addr_parse(addr, &a) == 0 && addrset_contains(m->set, &a);
}

static void test_rule_fields(void)
{
	struct diag_list d = { 0 };
	struct ruleset *rs = parse(
		"ext = \"eth0\"\n"
		"pass out log on $ext inet proto { tcp udp } from 192.168.1.0/24 port 1024:65535 "
		"to { 10.0.0.1, 10.0.0.2 } port { 53 853 } user 0 mark 0xca6c label \"x\"\n"
		"block in on !{ wg0 tun* } to (wg0)\n"
		"reject inet6 proto icmp6 icmp6-type { echo-request 200 }\n", &d);

	CHECK("fields/parsed", rs != NULL && d.count == 0);
	if (!rs)
		return;
	CHECK("fields/nrules", rs->nrules == 3);
	const struct rule *r = &rs->rules[0];
	CHECK("fields/action", r->action == ACTION_PASS);
	CHECK("fields/dir", r->dir == DIR_OUT);
	CHECK("fields/log", r->log);
	CHECK("fields/on", r->on.count == 1 && !r->on.negate &&
	      r->on.items[0].kind == IFITEM_NAME && !strcmp(r->on.items[0].name, "eth0"));
	CHECK("fields/family", r->family == 4);
	CHECK("fields/protos", r->nprotos == 2 && r->protos[0] == 6 && r->protos[1] == 17);
	CHECK("fields/from", addr_in(&r->from, "192.168.1.77") && !addr_in(&r->from, "192.168.2.1"));
	CHECK("fields/sport", r->sport.count == 1 && r->sport.ranges[0].lo == 1024 &&
	      r->sport.ranges[0].hi == 65535);
	CHECK("fields/to", addr_in(&r->to, "10.0.0.2") && !addr_in(&r->to, "10.0.0.3") &&
	      r->to.table == NULL);
	CHECK("fields/dport", r->dport.count == 2 && r->dport.ranges[1].lo == 853);
	CHECK("fields/user", r->has_user && r->uid == 0 && r->user_name == NULL);
	CHECK("fields/mark", r->has_mark && r->mark == 0xca6c);
	CHECK_STR("fields/label", r->label, "x");
	CHECK_STR("fields/file", r->file, "t.rules");
	CHECK("fields/line", r->line == 2 && r->index == 0 && r->origin == ORIGIN_USER);
	CHECK_STR("fields/text", r->text,
		  "pass out log on eth0 inet proto { tcp udp } from 192.168.1.0/24 port 1024:65535 "
		  "to { 10.0.0.1 10.0.0.2 } port { 53 853 } user 0 mark 0xca6c label \"x\"");

	r = &rs->rules[1];
	CHECK("fields/on-negated-list", r->on.negate && r->on.count == 2 &&
	      r->on.items[1].kind == IFITEM_PREFIX && !strcmp(r->on.items[1].name, "tun"));
	CHECK("fields/ifaddr", r->to.ifaddr && r->to.set == NULL && r->to.ifaddr->count == 1 &&
	      !strcmp(r->to.ifaddr->items[0].name, "wg0"));
	CHECK_STR("fields/ifaddr-text", r->text, "block in on !{ wg0 tun* } to (wg0)");

	r = &rs->rules[2];
	CHECK("fields/icmp6", r->icmp6 && r->ntypes == 2 && r->types[0] == 128 && r->types[1] == 200);
	CHECK_STR("fields/icmp6-text", r->text,
		  "reject inet6 proto icmp6 all icmp6-type { echo-request 200 }");
	CHECK("fields/defaults", rs->default_in == DEFAULT_BLOCK && rs->default_out == DEFAULT_BLOCK &&
	      !rs->default_explicit && rs->block_policy == BLOCK_POLICY_DROP && !rs->killswitch);
	ruleset_free(rs);
	diag_list_clear(&d);
}

static void test_tables_and_sets(void)
{
	struct diag_list d = { 0 };
	struct ruleset *rs = parse(
		"table <t> { 10.0.0.0/8 fd00::/8 }\n"
		"set skip on { lo docker* }\n"
		"set block-policy reject\n"
		"set default pass\n"
		"block out to <t>\n"
		"block out to { <t> 192.0.2.1 }\n", &d);

	CHECK("tables/parsed", rs && d.count == 0);
	if (!rs)
		return;
	CHECK("tables/count", rs->ntables == 1 && !strcmp(rs->tables[0].name, "t") &&
	      addrset_prefix_count(rs->tables[0].set) == 2 && rs->tables[0].line == 1);
	CHECK("tables/named-ref", rs->rules[0].to.table && !strcmp(rs->rules[0].to.table, "t") &&
	      rs->rules[0].to.set == rs->tables[0].set);
	CHECK("tables/anonymous", rs->rules[1].to.table == NULL &&
	      addrset_prefix_count(rs->rules[1].to.set) == 3);
	CHECK("set/skip", rs->skip.count == 2 && rs->skip.items[1].kind == IFITEM_PREFIX);
	CHECK("set/policy", rs->block_policy == BLOCK_POLICY_REJECT && rs->block_policy_explicit);
	CHECK("set/default", rs->default_in == DEFAULT_PASS && rs->default_out == DEFAULT_PASS &&
	      rs->default_explicit);
	ruleset_free(rs);
	diag_list_clear(&d);
}

static void test_killswitch(void)
{
	struct diag_list d = { 0 };
	struct ruleset *rs = parse(
		"block out to 192.0.2.1\n"                               /* 1 */
		"killswitch {\n"                                          /* 2 */
		"    tunnel wg0\n"                                        /* 3 */
		"    endpoint 198.51.100.7 port 51820 proto udp\n"        /* 4 */
		"    dns 10.64.0.1\n"                                     /* 5 */
		"    allow lan\n"                                         /* 6 */
		"    allow dhcp\n"                                        /* 7 */
		"}\n"
		"pass in on wg0 proto tcp to port 22\n", &d);            /* 9 */
	static const struct { int line; const char *text; } want[] = {
		{ 1, "block out to 192.0.2.1" },
		{ 2, "pass on type loopback all" },
		{ 3, "block drop in on !wg0 to (wg0)" },
		{ 2, "pass inet6 proto icmp6 all icmp6-type { nd-router-solicit "
		     "nd-router-advert nd-neighbor-solicit nd-neighbor-advert nd-redirect }" },
		{ 2, "pass out inet6 proto icmp6 from { fe80::/10 :: } to { ff02::2 ff02::16 } icmp6-type "
		     "{ mld-listener-report mld-listener-done mld2-listener-report }" },
		{ 7, "pass out inet proto udp from any port 68 to any port 67" },
		{ 7, "pass in inet proto udp from any port 67 to any port 68" },
		{ 7, "pass out inet6 proto udp from fe80::/10 port 546 to { ff02::1:2 ff05::1:3 } port 547" },
		{ 7, "pass in inet6 proto udp from fe80::/10 port 547 to fe80::/10 port 546" },
		{ 4, "pass out proto udp to 198.51.100.7 port 51820" },
		{ 5, "pass out on wg0 proto { tcp udp } to 10.64.0.1 port 53" },
		{ 5, "reject out proto { tcp udp } to any port 53" },
		{ 3, "pass out on wg0 all" },
		{ 6, "pass out to { 10.0.0.0/8 172.16.0.0/12 192.168.0.0/16 169.254.0.0/16 fe80::/10 fc00::/7 }" },
		{ 6, "pass in from { 10.0.0.0/8 172.16.0.0/12 192.168.0.0/16 169.254.0.0/16 fe80::/10 fc00::/7 }" },
		{ 6, "pass out to { 224.0.0.0/24 239.0.0.0/8 255.255.255.255 ff01::/16 ff02::/16 ff03::/16 "
		     "ff04::/16 ff05::/16 }" },
		{ 9, "pass in on wg0 proto tcp to any port 22" },
	};
	size_t n = sizeof(want) / sizeof(want[0]);

	CHECK("killswitch/parsed", rs && d.errors == 0 && d.warnings == 0);
	if (!rs)
		return;
	CHECK("killswitch/nrules", rs->nrules == n);
	for (size_t i = 0; i < n && i < rs->nrules; i++) {
		char name[64];
		snprintf(name, sizeof(name), "killswitch/rule-%zu", i);
		CHECK_STR(name, rs->rules[i].text, want[i].text);
		snprintf(name, sizeof(name), "killswitch/line-%zu", i);
		CHECK(name, rs->rules[i].line == want[i].line);
		snprintf(name, sizeof(name), "killswitch/origin-%zu", i);
		CHECK(name, rs->rules[i].origin == (i == 0 || i == n - 1 ? ORIGIN_USER : ORIGIN_KILLSWITCH));
	}
	const struct killswitch *ks = rs->killswitch;
	CHECK("killswitch/block", ks && ks->first_rule == 1 && ks->nrules == n - 2 && ks->line == 2 &&
	      ks->tunnel_line == 3 && ks->dns_line == 5 && ks->allow_lan && ks->allow_dhcp &&
	      ks->nendpoints == 1 && ks->endpoints[0].ports &&
	      !strcmp(ks->endpoints[0].ports, " port 51820") && ks->endpoints[0].proto == 17);
	CHECK("killswitch/defaults", rs->default_out == DEFAULT_REJECT &&
	      rs->default_in == DEFAULT_DROP && !rs->default_explicit);

	/* The engine agrees with the preset's intent. */
	struct packet p = { .family = 4, .proto = 17, .has_ports = true, .sport = 40000,
			    .dport = 53, .dir = DIR_OUT, .iftype = IFTYPE_ETHER };
	strcpy(p.ifname, "eth0");
	ifw_addr_parse("192.168.1.2", &p.src);
	ifw_addr_parse("8.8.8.8", &p.dst);
	struct decision dec = ruleset_decide(rs, &p);
	CHECK("killswitch/dns-elsewhere-rejected", dec.verdict == VERDICT_REJECT && dec.rule == &rs->rules[11]);
	p.dport = 443;
	dec = ruleset_decide(rs, &p);
	CHECK("killswitch/default-out-rejects", dec.verdict == VERDICT_REJECT && dec.rule == NULL);
	strcpy(p.ifname, "wg0");
	p.iftype = IFTYPE_TUNNEL;
	dec = ruleset_decide(rs, &p);
	CHECK("killswitch/tunnel-passes", dec.verdict == VERDICT_PASS && dec.rule == &rs->rules[12]);

	char *out = print(rs, false);
	CHECK_STR("killswitch/print", out,
		  "block out to 192.0.2.1  #@ t.rules:1\n"
		  "killswitch {  #@ t.rules:2\n"
		  "    tunnel wg0  #@ t.rules:3\n"
		  "    endpoint 198.51.100.7 port 51820 proto udp  #@ t.rules:4\n"
		  "    dns 10.64.0.1  #@ t.rules:5\n"
		  "    allow lan  #@ t.rules:6\n"
		  "    allow dhcp  #@ t.rules:7\n"
		  "}\n"
		  "pass in on wg0 proto tcp to any port 22  #@ t.rules:9\n");
	free(out);
	out = print(rs, true);
	CHECK("killswitch/print-expand", starts_with(out, "set default in drop\nset default out reject\n"
		"block out to 192.0.2.1  #@ t.rules:1\npass on type loopback all  #@ t.rules:2\n"));
	free(out);
	ruleset_free(rs);
	diag_list_clear(&d);

	/* 'set default' wins, with a warning. */
	rs = parse("set default pass\nkillswitch {\n tunnel wg0\n}\n", &d);
	CHECK("killswitch/set-default-wins", rs && rs->default_in == DEFAULT_PASS &&
	      rs->default_out == DEFAULT_PASS && d.warnings == 1 && d.items[0].line == 1);
	ruleset_free(rs);
	diag_list_clear(&d);
}

static void test_round_trip(void)
{
	static const char *const inputs[] = {
		"vpn = \"wg0\"\ntable <b> { 192.0.2.0/24 2001:db8::/32 }\nset skip on lo\n"
		"block out log to <b>\nkillswitch {\n tunnel $vpn\n endpoint 198.51.100.7 port 51820 "
		"proto udp mark 0xca6c\n dns 10.64.0.1\n allow lan\n allow dhcp\n}\n"
		"pass in on $vpn proto tcp to port 22\n",
		"set default in drop\nset block-policy reject\npass out proto { tcp udp } to any port "
		"{ !53 !853 }\n",
		"pass out proto tcp from any port !{ 1:1023 } to ! { 10.0.0.0/8 } label \"a \\\"b\\\"\"\n",
	};

	for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		for (int expand = 0; expand < 2; expand++) {
			struct diag_list d = { 0 };
			char name[64];
			struct ruleset *rs = parse(inputs[i], &d);
			char *once = rs ? print(rs, expand) : NULL;
			struct ruleset *rs2 = once ? ruleset_from_string("out.rules", once, strlen(once), &d) : NULL;
			char *twice = rs2 ? print(rs2, expand) : NULL;
			snprintf(name, sizeof(name), "roundtrip/%zu%s", i, expand ? "-expand" : "");
			CHECK_STR(name, twice, once);
			snprintf(name, sizeof(name), "roundtrip/%zu%s-rules", i, expand ? "-expand" : "");
			CHECK(name, rs && rs2 && rs->nrules == rs2->nrules &&
			      rs->default_in == rs2->default_in && rs->default_out == rs2->default_out);
			free(once);
			free(twice);
			ruleset_free(rs);
			ruleset_free(rs2);
			diag_list_clear(&d);
		}
	}
}

static void test_diagnostics(void)
{
	struct diag_list d = { 0 };
	struct ruleset *rs = parse(
		"pass out to 10.0.0.1/8\n"
		"pass out all\n"
		"pass out proto icmp to any port 22\n"
		"frob\n"
		"pass out all\n", &d);

	CHECK("diag/fails", rs == NULL);
	CHECK("diag/count", d.count == 3 && d.errors == 3 && d.warnings == 0);
	if (d.count == 3) {
		CHECK("diag/loc0", d.items[0].line == 1 && d.items[0].col == 13 && d.items[0].span == 10 &&
		      d.items[0].severity == DIAG_ERROR && !strcmp(d.items[0].file, "t.rules"));
		CHECK_STR("diag/source0", d.items[0].source_line, "pass out to 10.0.0.1/8");
		CHECK("diag/loc1", d.items[1].line == 3 && d.items[1].col == 28);
		CHECK_STR("diag/msg1", d.items[1].message, "port needs proto tcp or udp");
		CHECK("diag/loc2", d.items[2].line == 4 && d.items[2].col == 1);
	}
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	diag_list_print(f, &d);
	fclose(f);
	CHECK("diag/print", starts_with(buf,
		"t.rules:1:13: error: '10.0.0.1/8' has host bits set (did you mean 10.0.0.0/8?)\n"
		"pass out to 10.0.0.1/8\n"
		"            ^~~~~~~~~~\n"
		"t.rules:3:28: error: port needs proto tcp or udp\n"));
	free(buf);
	f = open_memstream(&buf, &len);
	diag_list_print_json(f, &d);
	fclose(f);
	CHECK("diag/json", starts_with(buf, "[{\"severity\":\"error\",\"file\":\"t.rules\",\"line\":1,\"col\":13,"));
	free(buf);
	diag_list_clear(&d);
	CHECK("diag/clear", d.count == 0 && d.items == NULL && d.errors == 0);

	/* Warnings do not fail the parse. */
	rs = parse("pass all\npass out proto tcp all\n", &d);
	CHECK("diag/warning-ok", rs && d.errors == 0 && d.warnings == 1 &&
	      d.items[0].severity == DIAG_WARNING && d.items[0].line == 2 &&
	      strstr(d.items[0].message, "shadowed by the rule at t.rules:1"));
	ruleset_free(rs);
	diag_list_clear(&d);

	/* diags may be NULL; a NULL rule set frees fine. */
	rs = ruleset_from_string("x", "bogus\n", 6, NULL);
	CHECK("diag/null-list", rs == NULL);
	ruleset_free(NULL);
	diag_list_clear(NULL);

	/* Text that is not NUL-terminated, with NUL bytes and invalid UTF-8. */
	static const char junk[] = { 'p', 'a', 's', 's', ' ', '\0', '\n', '\xff', '\n', 'p' };
	rs = ruleset_from_string("junk", junk, sizeof(junk), &d);
	CHECK("diag/junk", rs == NULL && d.errors == 3);
	ruleset_free(rs);
	diag_list_clear(&d);
}

static void test_names(void)
{
	CHECK("names/iftype-lo", iftype_from_name("lo") == IFTYPE_LOOPBACK);
	CHECK("names/iftype-wg", iftype_from_name("wg0") == IFTYPE_TUNNEL);
	CHECK("names/iftype-tun", iftype_from_name("tun3") == IFTYPE_TUNNEL &&
	      iftype_from_name("ppp0") == IFTYPE_TUNNEL &&
	      iftype_from_name("utun2") == IFTYPE_TUNNEL);
	CHECK("names/iftype-eth", iftype_from_name("eth0") == IFTYPE_ETHER &&
	      iftype_from_name("enp3s0") == IFTYPE_ETHER && iftype_from_name("tap0") == IFTYPE_ETHER);
	CHECK_STR("names/iftype-name", iftype_name(IFTYPE_TUNNEL), "tunnel");
	CHECK("names/icmp4", icmp_type_from_name("echo-request", false) == 8 &&
	      icmp_type_from_name("unreach", false) == 3 &&
	      icmp_type_from_name("time-exceeded", false) == 11 &&
	      icmp_type_from_name("timex", false) == 11 &&
	      icmp_type_from_name("source-quench", false) == 4 &&
	      icmp_type_from_name("timestamp", false) == 13);
	CHECK("names/icmp6", icmp_type_from_name("echo-request", true) == 128 &&
	      icmp_type_from_name("packet-too-big", true) == 2 &&
	      icmp_type_from_name("nd-neighbor-solicit", true) == 135 &&
	      icmp_type_from_name("nd-redirect", true) == 137);
	CHECK("names/icmp-unknown", icmp_type_from_name("nd-redirect", false) == -1 &&
	      icmp_type_from_name("bogus", true) == -1);
	CHECK_STR("names/icmp-name", icmp_type_name(0, false), "echo-reply");
	CHECK_STR("names/icmp6-name", icmp_type_name(134, true), "nd-router-advert");
	CHECK("names/icmp-noname", icmp_type_name(250, false) == NULL);
}

static void test_warnings(void)
{
	struct diag_list d = { 0 };
	struct ruleset *rs = parse(
		"set skip on { lo eth1 }\n"                          /* 1: hole */
		"block out proto udp to any port 51820\n"            /* 2 */
		"pass out on eth0 proto tcp to any port 80\n"        /* 3: hole */
		"killswitch {\n"                                     /* 4 */
		"    tunnel { wg* tun0 }\n"                          /* 5 */
		"    endpoint 198.51.100.7 port 51820 proto udp\n"   /* 6: overridden by 2 */
		"}\n"
		"pass out on wg1 proto tcp to any port 25\n"         /* 8: shadowed by 5 */
		"pass out on tun0 proto udp all\n"                   /* 9: shadowed by 5 */
		"pass out on lo all\n"                               /* 10: loopback, no hole */
		"pass in on eth0 proto tcp to any port 22\n"         /* 11: in, replies leave: hole */
		"pass proto udp to any port 123\n", &d);             /* 12: hole */
	static const struct { int line; const char *msg; } want[] = {
		{ 1, "traffic on skipped interfaces is not filtered: a hole in the kill switch" },
		{ 3, "passes traffic outside the tunnel: a hole in the kill switch" },
		{ 6, "killswitch rule 'pass out proto udp to 198.51.100.7 port 51820' is shadowed by the rule at t.rules:2" },
		{ 8, "rule is shadowed by the rule at t.rules:5" },
		{ 9, "rule is shadowed by the rule at t.rules:5" },
		{ 11, "passes traffic in outside the tunnel; its replies leave outside the tunnel: "
		      "a hole in the kill switch" },
		{ 12, "passes traffic outside the tunnel: a hole in the kill switch" },
	};
	size_t n = sizeof(want) / sizeof(want[0]);

	CHECK("warnings/valid", rs != NULL && d.errors == 0);
	CHECK("warnings/count", d.warnings == n && d.count == n);
	for (size_t i = 0; i < n && i < d.count; i++) {
		char name[64];
		snprintf(name, sizeof(name), "warnings/%zu-line", i);
		CHECK(name, d.items[i].line == want[i].line && d.items[i].severity == DIAG_WARNING);
		snprintf(name, sizeof(name), "warnings/%zu-message", i);
		CHECK_STR(name, d.items[i].message, want[i].msg);
	}
	ruleset_free(rs);
	diag_list_clear(&d);
}

static void test_icmp_names_round_trip(void)
{
	int bad = 0;

	for (int icmp6 = 0; icmp6 < 2; icmp6++)
		for (int t = 0; t < 256; t++) {
			const char *name = icmp_type_name(t, icmp6);
			if (name && icmp_type_from_name(name, icmp6) != t)
				bad++;
		}
	CHECK("names/icmp-round-trip", bad == 0);
}

static void test_files(void)
{
	char dir[] = "/tmp/ifwall-test-rules.XXXXXX";
	char path[256];
	struct diag_list d = { 0 };

	if (!mkdtemp(dir)) {
		CHECK("files/tmpdir", false);
		return;
	}
	snprintf(path, sizeof(path), "%s/sub.rules", dir);
	FILE *f = fopen(path, "w");
	fputs("block in all\ninclude \"main.rules\"\n", f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/main.rules", dir);
	f = fopen(path, "w");
	fputs("pass out all\ninclude \"sub.rules\"\n", f);
	fclose(f);
	struct ruleset *rs = ruleset_from_file(path, &d);
	CHECK("files/cycle", rs == NULL && d.errors == 1 && d.items[0].line == 2 &&
	      strstr(d.items[0].message, "include cycle") && d.items[0].include_chain &&
	      strstr(d.items[0].include_chain, "In file included from "));
	diag_list_clear(&d);

	/* A 1,000,000-entry table loads, every entry kept (how fast is make
	 * bench's: tests/bench/b_table.sh). */
	snprintf(path, sizeof(path), "%s/big.txt", dir);
	f = fopen(path, "w");
	for (unsigned i = 0; i < 1000000; i++)
		fprintf(f, "%u.%u.%u.%u\n", 1 + (i * 7919u) % 223, (i >> 16) & 255, (i >> 8) & 255, i & 255);
	fclose(f);
	snprintf(path, sizeof(path), "%s/big.rules", dir);
	f = fopen(path, "w");
	fputs("table <big> file \"big.txt\"\nblock out to <big>\n", f);
	fclose(f);
	rs = ruleset_from_file(path, &d);
	CHECK("files/big-table", rs && rs->ntables == 1 &&
	      addrset_prefix_count(rs->tables[0].set) == 1000000);
	ruleset_free(rs);
	diag_list_clear(&d);

	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	if (system(path) != 0)
		printf("# could not remove %s\n", dir);
}

/* A command-line IFSPEC (replay --leaks) is read as 'on IFSPEC' in a rule file. */
static void test_command_line_ifspec(void)
{
	static const char *const same[] = { "wg0", "!wg0", "wg*", "any", "type tunnel",
		"{ wg0 tun* }", "{wg0,tun*}", "{ !a !b }", "wg+0", "*", "!any", "eth0:1",
		"a/b", "w*g", "{ }", "!{ !a }", "{ a !b }", "0123456789abcdef" };
	char text[128], err[128];

	for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		struct diag_list d = { 0 };
		struct ifmatch m;
		int col = 0;
		snprintf(text, sizeof(text), "pass on %s", same[i]);
		struct ruleset *rs = parse(text, &d);
		int rc = ifmatch_parse(same[i], &m, err, sizeof(err), &col);
		bool agree = rs ? rc == 0 && m.negate == rs->rules[0].on.negate &&
				  m.count == rs->rules[0].on.count &&
				  !memcmp(m.items, rs->rules[0].on.items, m.count * sizeof(*m.items))
				: rc == -EINVAL && d.count && !strcmp(err, d.items[0].message) &&
				  col == d.items[0].col - 8;
		snprintf(text, sizeof(text), "command-line ifspec '%s' as in a rule file", same[i]);
		CHECK(text, agree);
		ifmatch_release(&m);
		ruleset_free(rs);
		diag_list_clear(&d);
	}
	struct ifmatch m;
	CHECK("command-line ifspec: a comma outside a list is an error",
	      ifmatch_parse("eth0,", &m, err, sizeof(err), NULL) == -EINVAL && m.count == 0);
}

int main(void)
{
	test_rule_fields();
	test_command_line_ifspec();
	test_tables_and_sets();
	test_killswitch();
	test_round_trip();
	test_diagnostics();
	test_names();
	test_icmp_names_round_trip();
	test_warnings();
	test_files();
	TEST_MAIN_END();
}
