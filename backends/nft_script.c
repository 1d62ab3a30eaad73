/* The plan as an nft script ('ifwall compile'): the same table, chains,
 * sets and rules that nft_load.c sends, in nft's own syntax, so a
 * reviewer can read it and 'nft -f' can load it. */
#include "backends/nft_plan.h"
#include "filter/cgroup_path.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Strings go between double quotes; nft has no escape for them. */
static void print_quoted(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++)
		fputc(*s == '"' ? '\'' : *s, out);
	fputc('"', out);
}

static void print_addr(FILE *out, int family, const uint8_t *a)
{
	struct ifw_addr addr = { .family = (uint8_t)family };
	char buf[64];

	memcpy(addr.a, a, family == 4 ? 4 : 16);
	fputs(ifw_addr_format(&addr, buf, sizeof(buf)), out);
}

static bool is_prefix_range(const struct ifw_range *r, int *len)
{
	int bits = r->family == 4 ? 32 : 128, common = 0;

	while (common < bits) {
		int byte = common / 8, bit = 7 - common % 8;
		if (((r->lo[byte] >> bit) & 1) != ((r->hi[byte] >> bit) & 1))
			break;
		common++;
	}
	for (int i = common; i < bits; i++) {
		int byte = i / 8, bit = 7 - i % 8;
		if (((r->lo[byte] >> bit) & 1) || !((r->hi[byte] >> bit) & 1))
			return false;
	}
	*len = common;
	return true;
}

static void print_set_elements(FILE *out, const struct plan_set *s,
			       const char *indent)
{
	size_t printed = 0;

	if (s->addrs) {
		int family = s->kind == SETKIND_ADDR4 ? 4 : 6;
		size_t n = addrset_range_count(s->addrs);
		for (size_t i = 0; i < n; i++) {
			const struct ifw_range *r = addrset_range(s->addrs, i);
			int len;
			if (r->family != family)
				continue;
			if (printed)
				fputs(printed % 4 ? ", " : ",\n", out);
			if (printed && printed % 4 == 0)
				fputs(indent, out);
			print_addr(out, family, r->lo);
			if (is_prefix_range(r, &len)) {
				if (len != (family == 4 ? 32 : 128))
					fprintf(out, "/%d", len);
			} else {
				fputc('-', out);
				print_addr(out, family, r->hi);
			}
			printed++;
		}
		return;
	}
	for (size_t i = 0; i < s->nvalues; i++) {
		if (i)
			fputs(", ", out);
		if (s->values[i].lo == s->values[i].hi) {
			fprintf(out, "%" PRIu32, s->values[i].lo);
		} else if (s->kind == SETKIND_PORT) {
			fprintf(out, "%" PRIu32 "-%" PRIu32, s->values[i].lo,
				s->values[i].hi);
		} else {
			/* not an interval set: every value */
			for (uint32_t v = s->values[i].lo;; v++) {
				fprintf(out, "%s%" PRIu32, v == s->values[i].lo ? "" : ", ", v);
				if (v == s->values[i].hi)
					break;
			}
		}
	}
}

static const char *set_type_name(enum plan_set_kind kind)
{
	switch (kind) {
	case SETKIND_ADDR4: return "ipv4_addr";
	case SETKIND_ADDR6: return "ipv6_addr";
	case SETKIND_PORT: return "inet_service";
	case SETKIND_L4PROTO: return "inet_proto";
	case SETKIND_ARPHRD: return "iface_type";
	case SETKIND_ICMP: return "icmp_type";
	case SETKIND_ICMP6: return "icmpv6_type";
	case SETKIND_CGROUP: return "cgroupsv2";
	case SETKIND_STATE: return NULL;
	}
	return NULL;
}

/* An IFSPEC as the rule language writes it: wg0, { wg0 tun* }, !type tunnel */
static void print_ifspec(FILE *out, const struct ifmatch *m)
{
	if (m->negate)
		fputc('!', out);
	if (m->count != 1)
		fputs("{ ", out);
	for (size_t i = 0; i < m->count; i++) {
		const struct ifitem *it = &m->items[i];
		if (i)
			fputc(' ', out);
		switch (it->kind) {
		case IFITEM_NAME:
			fprintf(out, "%.*s", IFW_IFNAMSIZ, it->name);
			break;
		case IFITEM_PREFIX:
			fprintf(out, "%.*s*", IFW_IFNAMSIZ, it->name);
			break;
		case IFITEM_ANY:
			fputs("any", out);
			break;
		case IFITEM_TYPE:
			fprintf(out, "type %s", iftype_name(it->type));
			break;
		}
	}
	if (m->count != 1)
		fputs(" }", out);
}

/* What an '(IFSPEC)' set holds, as comment lines above it. */
static void print_ifaddr_comment(FILE *out, const struct plan_set *s)
{
	if (!s->ifspec) {
		fputs("\t# Every address of every interface when compiled: the kill switch\n"
		      "\t# guard blocks local addresses not in it (they appeared later and\n"
		      "\t# may be the tunnel's) that are not on the arrival interface.\n", out);
	} else {
		fprintf(out, "\t# %s(", s->ifspec_negate ? "!" : "");
		print_ifspec(out, s->ifspec);
		fprintf(out, "): the addresses of the interfaces %s it when compiled.\n",
			s->ifspec_negate ? "not matching" : "matching");
	}
	fputs("\t# 'ifwall load' fills it with the addresses of that moment;\n"
	      "\t# 'ifwall run --backend nft' keeps it current.\n", out);
}

static void print_named_set(FILE *out, const struct plan_set *s)
{
	if (s->ifaddr)
		print_ifaddr_comment(out, s);
	fprintf(out, "\tset %s {\n", s->name);
	if (s->kind == SETKIND_STATE) {
		fprintf(out, "\t\ttypeof ct id . iifname\n");
		fprintf(out, "\t\tsize %d\n", PLAN_STATE_SIZE);
		fprintf(out, "\t\tflags dynamic,timeout\n");
		fprintf(out, "\t\ttimeout %ds\n", PLAN_STATE_TIMEOUT);
		fprintf(out, "\t}\n\n");
		return;
	}
	fprintf(out, "\t\ttype %s\n", set_type_name(s->kind));
	if (s->kind == SETKIND_CGROUP) {
		/* nft names cgroups by path under /sys/fs/cgroup only; the ids
		 * are what 'load' puts in, resolved when this was printed. */
		fprintf(out, "\t\t# cgroup \"%s\" at level %u: %zu cgroup(s) now%s",
			s->cgroup_rule->cgroup, cgroup_pattern_level(s->cgroup_rule->cgroup),
			s->nids, s->nids ? ", ids" : "");
		for (size_t i = 0; i < s->nids; i++)
			fprintf(out, " %" PRIu64, s->ids[i]);
		fprintf(out, "\n\t}\n\n");
		return;
	}
	if (s->kind == SETKIND_ADDR4 || s->kind == SETKIND_ADDR6 ||
	    s->kind == SETKIND_PORT)
		fprintf(out, "\t\tflags interval\n");
	bool empty = s->addrs ? addrset_range_count(s->addrs) == 0 : s->nvalues == 0;
	if (!empty) {
		fprintf(out, "\t\telements = { ");
		print_set_elements(out, s, "\t\t\t     ");
		fprintf(out, " }\n");
	}
	fprintf(out, "\t}\n\n");
}

/* "!= " when negated, then either @name, { elements } or the value. */
static void print_operand(FILE *out, const struct nft_plan *plan,
			  const struct plan_match *m, bool hex)
{
	if (m->negate)
		fputs("!= ", out);
	if (m->set >= 0) {
		const struct plan_set *s = &plan->sets[m->set];
		if (!s->anonymous) {
			fprintf(out, "@%s", s->name);
			return;
		}
		fputs("{ ", out);
		print_set_elements(out, s, "\t\t\t");
		fputs(" }", out);
		return;
	}
	if (hex)
		fprintf(out, "0x%08" PRIx32, m->value);
	else if (m->kind == MATCH_PORT && m->value != m->value_hi)
		fprintf(out, "%" PRIu32 "-%" PRIu32, m->value, m->value_hi);
	else
		fprintf(out, "%" PRIu32, m->value);
}

static void print_match(FILE *out, const struct nft_plan *plan,
			const struct plan_match *m)
{
	char name[IFW_IFNAMSIZ + 2];

	switch (m->kind) {
	case MATCH_IFNAME:
		snprintf(name, sizeof(name), "%s%s", m->ifname, m->prefix ? "*" : "");
		fprintf(out, "%s %s", m->out ? "oifname" : "iifname",
			m->negate ? "!= " : "");
		print_quoted(out, name);
		break;
	case MATCH_IFTYPE:
		fprintf(out, "meta %s ", m->out ? "oiftype" : "iiftype");
		print_operand(out, plan, m, false);
		break;
	case MATCH_NFPROTO:
		fprintf(out, "meta nfproto %s", m->family == 4 ? "ipv4" : "ipv6");
		break;
	case MATCH_L4PROTO:
		fputs("meta l4proto ", out);
		print_operand(out, plan, m, false);
		break;
	case MATCH_ADDR:
		fprintf(out, "%s %s ", m->family == 4 ? "ip" : "ip6",
			m->dst ? "daddr" : "saddr");
		if (m->set >= 0) {
			print_operand(out, plan, m, false);
		} else {
			char buf[64];
			if (m->negate)
				fputs("!= ", out);
			if (m->addr_range) {
				print_addr(out, m->family, m->range.lo);
				fputc('-', out);
				print_addr(out, m->family, m->range.hi);
			} else {
				fputs(ifw_prefix_format(&m->addr, buf, sizeof(buf)), out);
			}
		}
		break;
	case MATCH_PORT:
		fprintf(out, "th %s ", m->dst ? "dport" : "sport");
		print_operand(out, plan, m, false);
		break;
	case MATCH_ICMP_TYPE:
		fprintf(out, "%s type ", m->family == 6 ? "icmpv6" : "icmp");
		print_operand(out, plan, m, false);
		break;
	case MATCH_SKUID:
		fprintf(out, "meta skuid %" PRIu32, m->value);
		break;
	case MATCH_MARK:
		fputs("meta mark ", out);
		print_operand(out, plan, m, true);
		break;
	case MATCH_CGROUP:
		fprintf(out, "socket cgroupv2 level %" PRIu32 " @%s", m->value,
			plan->sets[m->set].name);
		break;
	case MATCH_FIB_LOCAL_OTHER_IF:
		fputs("fib daddr type local fib daddr . iif type != local", out);
		break;
	case MATCH_CT_REPLY:
		fputs("ct direction reply", out);
		break;
	case MATCH_STATE:
		fprintf(out, "ct id . %s @%s", m->out ? "oifname" : "iifname",
			PLAN_STATE_SET);
		break;
	case MATCH_CT_RELATED:
		fputs("ct state related", out);
		break;
	case MATCH_CT_UNCONFIRMED:
		fputs("ct status & confirmed == 0", out);
		break;
	case MATCH_CT_EXPIRATION_LE:
		fprintf(out, "ct expiration <= %" PRIu32 "s", m->value);
		break;
	}
}

static void print_rule(FILE *out, const struct nft_plan *plan,
		       const struct plan_rule *r)
{
	bool first = true;
	char comment[256];

	fputs("\t\t", out);
#define SEP() do { if (!first) fputc(' ', out); first = false; } while (0)
	for (size_t i = 0; i < r->nmatches; i++) {
		SEP();
		print_match(out, plan, &r->matches[i]);
	}
	if (r->state_update) {
		SEP();
		if (r->state_update_ifname)
			fprintf(out, "update @%s { ct id . \"%s\"", PLAN_STATE_SET,
				r->state_update_ifname);
		else
			fprintf(out, "update @%s { ct id . %s", PLAN_STATE_SET,
				r->state_update_out ? "oifname" : "iifname");
		if (r->state_timeout)
			fprintf(out, " timeout %" PRIu32 "s", r->state_timeout);
		fputs(" }", out);
	}
	if (r->counter) {
		SEP();
		fputs("counter", out);
	}
	if (r->log_limit) {
		SEP();
		fprintf(out, "limit rate %d/second burst %d packets", PLAN_LOG_RATE,
			PLAN_LOG_BURST);
	}
	if (r->log) {
		SEP();
		fputs("log prefix ", out);
		print_quoted(out, r->log_prefix);
		fprintf(out, " group %d", PLAN_LOG_GROUP);
	}
	if (r->reject == REJECT_TCP_RESET) {
		SEP();
		fputs("reject with tcp reset", out);
	} else if (r->reject == REJECT_ICMPX_ADMIN) {
		SEP();
		fputs("reject with icmpx type admin-prohibited", out);
	}
	switch (r->verdict) {
	case PLAN_CONTINUE:
		break;
	case PLAN_ACCEPT:
		SEP();
		fputs("accept", out);
		break;
	case PLAN_DROP:
		SEP();
		fputs("drop", out);
		break;
	case PLAN_RETURN:
		SEP();
		fputs("return", out);
		break;
	case PLAN_JUMP:
		SEP();
		fprintf(out, "jump %s", plan_chain_names[r->target]);
		break;
	case PLAN_GOTO:
		SEP();
		fprintf(out, "goto %s", plan_chain_names[r->target]);
		break;
	}
	if (plan_rule_comment(r, comment, sizeof(comment))) {
		SEP();
		fputs("comment ", out);
		print_quoted(out, comment);
	}
#undef SEP
	fputc('\n', out);
}

static const char *hook_name(int chain)
{
	switch (chain) {
	case CHAIN_INPUT: return "input";
	case CHAIN_OUTPUT: return "output";
	case CHAIN_FORWARD: return "forward";
	}
	return "?";
}

int nft_plan_print(FILE *out, const struct nft_plan *plan)
{
	const enum plan_chain_id *order = plan_chain_order;

	fprintf(out, "#!/usr/sbin/nft -f\n");
	fprintf(out, "# Generated by 'ifwall compile': the table 'ifwall load' installs.\n");
	fprintf(out, "# Replaces any previous table inet %s in one transaction.\n", NFT_TABLE);
	fprintf(out, "table inet %s\ndelete table inet %s\n\n", NFT_TABLE, NFT_TABLE);
	fprintf(out, "table inet %s {\n", NFT_TABLE);
	for (size_t i = 0; i < plan->nsets; i++)
		if (!plan->sets[i].anonymous)
			print_named_set(out, &plan->sets[i]);
	for (int c = 0; c < CHAIN_COUNT; c++) {
		const struct plan_chain *ch = &plan->chains[order[c]];
		fprintf(out, "\tchain %s {\n", ch->name);
		if (ch->base)
			fprintf(out, "\t\ttype filter hook %s priority 0; policy %s;\n",
				hook_name(order[c]), ch->policy_accept ? "accept" : "drop");
		for (size_t i = 0; i < plan->nrules; i++)
			if (plan->rules[i].chain == order[c])
				print_rule(out, plan, &plan->rules[i]);
		fprintf(out, "\t}\n");
		if (c + 1 < CHAIN_COUNT)
			fputc('\n', out);
	}
	fprintf(out, "}\n");
	return ferror(out) ? -EIO : 0;
}
