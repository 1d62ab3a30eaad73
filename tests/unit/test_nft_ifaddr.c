/* The nft backend's '(IFSPEC)' sets hold exactly what the engine matches:
 * for each rule, each address of an interface table (and one no interface
 * holds), the address is in the rule's set (nft_plan_set_ifaddrs) exactly
 * when ruleset_decide() lets the rule match a packet from or to it. Also
 * the kill switch form's guard and the set names. */
#include <errno.h>
#include <stdlib.h>

#include "backends/nft_plan.h"
#include "filter/engine.h"
#include "tests/unit/testlib.h"


static const char *const table_text[][2] = {
	{ "wg0", "10.64.0.2" }, { "wg0", "fd00::2" }, { "tun3", "10.8.0.2" },
	{ "eth0", "192.168.1.2" }, { "eth0", "2001:db8::2" }, { "lan0", "10.1.0.1" },
	{ "lo", "127.0.0.1" }, { "wg1", "10.65.0.2" },
};
static const char *const unknown[] = { "10.64.0.3", "fd00::3" };

static const char *const rules[] = {
	"block in to (wg0)",
	"block in to !(wg0)",
	"block in from (wg0)",
	"block out from (type tunnel)",
	"block in to !(type ether)",
	"block in to ({ eth0 wg* })",
	"block in to !({ eth0 wg* })",
	"block in to (wg*)",
	"block in to (!wg0)",
	"block in inet6 to (wg0)",
	"pass in on !wg0 to (wg0)",
};

/* The plan set of the first user rule's address match of this family. */
static const struct plan_set *rule_set(const struct nft_plan *plan, int family)
{
	for (size_t i = 0; i < plan->nrules; i++) {
		const struct plan_rule *r = &plan->rules[i];
		if (r->role != ROLE_USER)
			continue;
		for (size_t k = 0; k < r->nmatches; k++)
			if (r->matches[k].kind == MATCH_ADDR && r->matches[k].family == family &&
			    r->matches[k].set >= 0)
				return &plan->sets[r->matches[k].set];
	}
	return NULL;
}

static void check_rule(const char *text, const struct ifaddr_table *t)
{
	char name[160];
	struct diag_list diags = { 0 };
	struct ruleset *rs = ruleset_from_string("t.rules", text, strlen(text), &diags);
	struct nft_plan *plan = NULL;
	struct nft_error err;

	diag_list_clear(&diags);
	snprintf(name, sizeof(name), "plan '%s'", text);
	CHECK(name, rs && nft_plan_build(rs, &plan, &err) == 0 &&
		    nft_plan_set_ifaddrs(plan, t, NULL) == 0);
	if (!plan) {
		ruleset_free(rs);
		return;
	}
	const struct rule *r = &rs->rules[0];
	bool from = r->from.ifaddr != NULL;
	size_t n = sizeof(table_text) / sizeof(table_text[0]);
	for (size_t i = 0; i < n + 2; i++) {
		const char *a = i < n ? table_text[i][1] : unknown[i - n];
		struct packet p;
		memset(&p, 0, sizeof(p));
		p.dir = r->dir == DIR_OUT ? DIR_OUT : DIR_IN;
		snprintf(p.ifname, sizeof(p.ifname), "eth9");
		ifw_addr_parse(a, from ? &p.src : &p.dst);
		ifw_addr_parse(a[0] == 'f' || a[0] == '2' ? "2001:db8::99" : "198.51.100.9",
			       from ? &p.dst : &p.src);
		p.family = p.dst.family;
		p.proto = 17;
		p.ifaddrs = t;
		bool engine = ruleset_decide(rs, &p).rule == r;
		const struct plan_set *s = rule_set(plan, p.family);
		bool kernel = s && addrset_contains(s->addrs, from ? &p.src : &p.dst);
		/* a rule of one family has no set of the other */
		if (!s && r->family && r->family != p.family)
			kernel = false;
		snprintf(name, sizeof(name), "'%s' %s %s: engine %s, set %s", text,
			 from ? "from" : "to", a, engine ? "matches" : "does not",
			 kernel ? "holds it" : "does not");
		CHECK(name, engine == kernel);
	}
	nft_plan_free(plan);
	ruleset_free(rs);
}

static size_t count_rules(const struct nft_plan *plan, enum plan_match_kind kind)
{
	size_t c = 0;
	for (size_t i = 0; i < plan->nrules; i++)
		for (size_t k = 0; k < plan->rules[i].nmatches; k++)
			c += plan->rules[i].matches[k].kind == kind;
	return c;
}

int main(void)
{
	struct ifaddr_table *t = ifaddr_table_new();
	struct diag_list diags = { 0 };

	for (size_t i = 0; i < sizeof(table_text) / sizeof(table_text[0]); i++) {
		struct ifw_addr a;
		ifw_addr_parse(table_text[i][1], &a);
		ifaddr_table_add(t, table_text[i][0], &a);
	}
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
		check_rule(rules[i], t);

	/* the kill switch form: exact rule then guard, input chain only */
	const char *ks = "killswitch {\n    tunnel wg0\n    allow lan\n}\n";
	struct ruleset *rs = ruleset_from_string("ks.rules", ks, strlen(ks), &diags);
	diag_list_clear(&diags);
	struct nft_plan *plan = NULL;
	struct nft_error err;
	CHECK("killswitch plan", rs && nft_plan_build(rs, &plan, &err) == 0);
	if (plan) {
		struct nft_load_stats stats;
		CHECK("an unfilled plan is refused", nft_plan_load(plan, &stats, &err) == -EINVAL);
		size_t changed = 0;
		CHECK("fill", nft_plan_set_ifaddrs(plan, t, &changed) == 0 && changed == 4);
		CHECK("fill again: nothing changed",
		      nft_plan_set_ifaddrs(plan, t, &changed) == 0 && changed == 0);
		CHECK("guard: one per family", count_rules(plan, MATCH_FIB_LOCAL_OTHER_IF) == 2);
		const struct plan_set *all = NULL, *wg = NULL;
		for (size_t i = 0; i < plan->nsets; i++) {
			if (!strcmp(plan->sets[i].name, "ifaddr_all_v4"))
				all = &plan->sets[i];
			if (!strcmp(plan->sets[i].name, "ifaddr_0_v4"))
				wg = &plan->sets[i];
		}
		struct ifw_addr a;
		ifw_addr_parse("192.168.1.2", &a);
		CHECK("ifaddr_all_v4 holds every address", all && addrset_contains(all->addrs, &a));
		CHECK("ifaddr_0_v4 does not", wg && !addrset_contains(wg->addrs, &a));
		ifw_addr_parse("10.64.0.2", &a);
		CHECK("ifaddr_0_v4 holds wg0's", wg && addrset_contains(wg->addrs, &a));
		struct ifaddr_table *empty = ifaddr_table_new();
		CHECK("emptied", nft_plan_set_ifaddrs(plan, empty, &changed) == 0 && changed == 4);
		CHECK("ifaddr_0_v4 empty", wg && addrset_range_count(wg->addrs) == 0);
		ifaddr_table_free(empty);
	}
	nft_plan_free(plan);
	ruleset_free(rs);
	ifaddr_table_free(t);
	TEST_MAIN_END();
}
