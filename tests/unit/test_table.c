/* Tables changed at run time: the address arithmetic (addrset_change) and
 * a rule set with a changed table (ruleset_table_change through libifwall):
 * an empty endpoint table is the blocked state, a replaced one moves the
 * endpoint exception, the old rule set is untouched, and freeing in either
 * order is safe. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "filter/addr.h"
#include "tools/lib/ifwall.h"
#include "testlib.h"


static struct ifw_prefix P(const char *text)
{
	struct ifw_prefix p;
	if (ifw_prefix_parse(text, &p) < 0)
		memset(&p, 0, sizeof(p));
	return p;
}

/* The set's prefixes joined by spaces (static buffer). */
static const char *dump(const struct addrset *set)
{
	static char out[1024];
	char buf[64];

	out[0] = 0;
	for (size_t i = 0; i < addrset_prefix_count(set); i++) {
		if (i)
			strcat(out, " ");
		strcat(out, ifw_prefix_format(addrset_prefix(set, i), buf, sizeof(buf)));
	}
	return out;
}

static void test_arithmetic(void)
{
	struct ifw_prefix add[] = { P("10.0.0.0/24"), P("10.0.1.0/24"), P("192.0.2.7"),
				    P("2001:db8::/127") };
	struct addrset *a = NULL, *b = NULL, *c = NULL, *d = NULL;
	size_t changed;

	CHECK("add to empty", addrset_change(NULL, ADDRSET_ADD, add, 4, &a, &changed) == 0);
	CHECK_STR("merged and sorted", dump(a), "10.0.0.0/23 192.0.2.7 2001:db8::/127");
	CHECK("add counts every new prefix", changed == 4);

	struct ifw_prefix again[] = { P("10.0.0.5"), P("192.0.2.8") };
	CHECK("add again", addrset_change(a, ADDRSET_ADD, again, 2, &b, &changed) == 0);
	CHECK("add counts only what was absent", changed == 1);
	CHECK_STR("add keeps the old", dump(b), "10.0.0.0/23 192.0.2.7 192.0.2.8 2001:db8::/127");
	CHECK_STR("input untouched", dump(a), "10.0.0.0/23 192.0.2.7 2001:db8::/127");

	struct ifw_prefix del[] = { P("10.0.0.128/25"), P("2001:db8::1"), P("198.51.100.1") };
	CHECK("delete", addrset_change(b, ADDRSET_DELETE, del, 3, &c, &changed) == 0);
	CHECK_STR("delete splits ranges", dump(c), "10.0.0.0/25 10.0.1.0/24 192.0.2.7 192.0.2.8 2001:db8::");
	CHECK("delete counts overlaps", changed == 2);

	struct ifw_prefix rep[] = { P("198.51.100.9") };
	addrset_free(d);
	CHECK("replace", addrset_change(c, ADDRSET_REPLACE, rep, 1, &d, &changed) == 0);
	CHECK_STR("replace is exact", dump(d), "198.51.100.9");
	addrset_free(d);
	CHECK("flush", addrset_change(c, ADDRSET_FLUSH, rep, 1, &d, &changed) == 0);
	CHECK("flush empties", addrset_prefix_count(d) == 0 && addrset_range_count(d) == 0);

	struct ifw_prefix whole = P("0.0.0.0/0");
	struct addrset *w = NULL, *w2 = NULL;
	CHECK("whole family", addrset_change(NULL, ADDRSET_ADD, &whole, 1, &w, NULL) == 0);
	CHECK_STR("whole family stays one prefix", dump(w), "0.0.0.0/0");
	struct ifw_prefix hole = P("128.0.0.0/1");
	CHECK("delete half", addrset_change(w, ADDRSET_DELETE, &hole, 1, &w2, NULL) == 0);
	CHECK_STR("half left", dump(w2), "0.0.0.0/1");
	CHECK("contains_prefix", addrset_contains_prefix(w2, &again[0]) &&
	      !addrset_contains_prefix(w2, &hole));
	struct addrset *none = NULL;
	CHECK("bad op", addrset_change(NULL, 99, NULL, 0, &none, NULL) == -EINVAL && !none);
	addrset_free(a);
	addrset_free(b);
	addrset_free(c);
	addrset_free(w);
	addrset_free(w2);
	addrset_free(d);
}

static const char rules[] =
	"table <vpn_servers> { }\n"
	"killswitch {\n"
	"    tunnel wg0\n"
	"    endpoint <vpn_servers> port 51820 proto udp\n"
	"}\n";

static int verdict(const struct ifw_ruleset *rs, const char *desc)
{
	struct ifw_decision d;

	if (ifw_decide_description(rs, desc, &d) < 0)
		return -1;
	return d.verdict;
}

#define TO_A "out on eth0 udp 192.168.1.2:40000 > 198.51.100.7:51820"
#define TO_B "out on eth0 udp 192.168.1.2:40000 > 203.0.113.9:51820"
#define TO_B6 "out on eth0 udp [2001:db8:1::2]:40000 > [2001:db8:2::9]:51820"

static void test_ruleset(void)
{
	struct ifw_ruleset *rs = NULL, *a = NULL, *b = NULL, *empty = NULL;
	const char *one[] = { "198.51.100.7" };
	const char *two[] = { "203.0.113.9", "2001:db8:2::9" };
	const char *bad[] = { "0.0.0.0/0" };
	char *text = NULL;

	CHECK("parse", ifw_ruleset_from_string("ks.rules", rules, strlen(rules), &rs, NULL) == 0);
	if (!rs)
		return;
	CHECK("empty endpoint table: blocked", verdict(rs, TO_A) == IFW_REJECT &&
	      verdict(rs, TO_B) == IFW_REJECT && verdict(rs, TO_B6) == IFW_REJECT);
	CHECK("connect: replace", ifw_ruleset_table_change(rs, "vpn_servers", IFW_TABLE_REPLACE,
							   one, 1, &a) == 0);
	CHECK("connected: A passes, B does not", verdict(a, TO_A) == IFW_PASS &&
	      verdict(a, TO_B) == IFW_REJECT);
	CHECK("the old rule set is unchanged", verdict(rs, TO_A) == IFW_REJECT);
	CHECK("show", ifw_ruleset_table_show(a, "vpn_servers", &text) == 1 && text &&
	      !strcmp(text, "198.51.100.7\n"));
	free(text);
	CHECK("test present", ifw_ruleset_table_test(a, "vpn_servers", one, 1) == 0);
	CHECK("test absent", ifw_ruleset_table_test(a, "vpn_servers", two, 2) == 2);
	CHECK("move: replace", ifw_ruleset_table_change(a, "vpn_servers", IFW_TABLE_REPLACE,
							two, 2, &b) == 0);
	/* free the middle one first: b must not depend on it */
	ifw_ruleset_free(a);
	a = NULL;
	CHECK("moved: B passes (v4 and v6), A does not", verdict(b, TO_B) == IFW_PASS &&
	      verdict(b, TO_B6) == IFW_PASS && verdict(b, TO_A) == IFW_REJECT);
	ifw_ruleset_free(rs);
	rs = NULL;
	CHECK("after freeing the parsed set, B still passes", verdict(b, TO_B) == IFW_PASS);
	CHECK("down: flush", ifw_ruleset_table_change(b, "vpn_servers", IFW_TABLE_FLUSH,
						      NULL, 0, &empty) == 0);
	CHECK("flushed: blocked again", verdict(empty, TO_B) == IFW_REJECT &&
	      verdict(empty, TO_B6) == IFW_REJECT);
	CHECK("unknown table", ifw_ruleset_table_change(b, "nope", IFW_TABLE_ADD, one, 1, &a) == -ESRCH &&
	      !a);
	CHECK("/0 refused", ifw_ruleset_table_change(b, "vpn_servers", IFW_TABLE_ADD, bad, 1, &a) ==
	      -EINVAL && !a);
	CHECK("bad op", ifw_ruleset_table_change(b, "vpn_servers", 0, one, 1, &a) == -EINVAL);
	char *canon = NULL;
	CHECK("format shows the current content",
	      ifw_ruleset_format(b, 0, &canon) > 0 && canon &&
	      strstr(canon, "table <vpn_servers> { 203.0.113.9 2001:db8:2::9 }"));
	if (canon && !strstr(canon, "table <vpn_servers> { 203.0.113.9 2001:db8:2::9 }"))
		printf("# %s", canon);
	free(canon);
	ifw_ruleset_free(b);
	ifw_ruleset_free(empty);
}

/* A UDP/IPv4 packet 192.168.1.2:40000 -> dst:51820 (checksums zero). */
static size_t udp_packet(uint8_t *b, const uint8_t dst[4])
{
	memset(b, 0, 29);
	b[0] = 0x45; b[3] = 29; b[8] = 64; b[9] = 17;
	b[12] = 192; b[13] = 168; b[14] = 1; b[15] = 2;
	memcpy(b + 16, dst, 4);
	b[20] = 40000 >> 8; b[21] = 40000 & 0xff; b[22] = 51820 >> 8; b[23] = 51820 & 0xff;
	b[25] = 9;
	return 29;
}

/* A running packet loop's view: a flow to A passes, the table changes
 * without A, the loop swaps and re-checks: the flow's next packet is
 * blocked (what backend_table_change does for divert and tun). */
static void test_flows(void)
{
	struct ifw_ruleset *rs = NULL, *a = NULL, *b = NULL;
	struct ifw_flow_table *ft = NULL;
	struct ifw_decision d;
	const char *srv_a[] = { "198.51.100.7" }, *srv_b[] = { "203.0.113.9" };
	const uint8_t dst[4] = { 198, 51, 100, 7 };
	uint8_t pkt[64];
	size_t len = udp_packet(pkt, dst);

	if (ifw_ruleset_from_string("ks.rules", rules, strlen(rules), &rs, NULL) < 0 ||
	    ifw_flow_table_new(0, &ft) < 0)
		return;
	ifw_ruleset_table_change(rs, "vpn_servers", IFW_TABLE_REPLACE, srv_a, 1, &a);
	CHECK("flow: passes while A is in the table",
	      ifw_flow_table_packet(ft, a, pkt, len, IFW_OUT, "eth0", 0, &d) == 0 &&
	      d.verdict == IFW_PASS);
	ifw_ruleset_table_change(a, "vpn_servers", IFW_TABLE_REPLACE, srv_b, 1, &b);
	CHECK("flow: recheck counts it", ifw_flow_table_recheck(ft, b) == 1);
	ifw_ruleset_free(a);
	CHECK("flow: its next packet is blocked",
	      ifw_flow_table_packet(ft, b, pkt, len, IFW_OUT, "eth0", 0, &d) == 0 &&
	      d.verdict != IFW_PASS);
	ifw_flow_table_free(ft);
	ifw_ruleset_free(b);
	ifw_ruleset_free(rs);
}

int main(void)
{
	test_flows();
	test_arithmetic();
	test_ruleset();
	TEST_MAIN_END();
}
