/* The canonical text of rules and the canonical rule file (design.md):
 * one line per rule, fields in a fixed order, lists as '{ a b }', followed
 * by a '# FILE:LINE' origin marker the parser reads back. */
#include <errno.h>
#include <string.h>

#include "rules/internal.h"

static void format_ifitem(struct strbuf *sb, const struct ifitem *it)
{
	switch (it->kind) {
	case IFITEM_NAME: sb_puts(sb, it->name); break;
	case IFITEM_PREFIX: sb_puts(sb, it->name); sb_putc(sb, '*'); break;
	case IFITEM_ANY: sb_puts(sb, "any"); break;
	case IFITEM_TYPE: sb_puts(sb, "type "); sb_puts(sb, iftype_name(it->type)); break;
	}
}

void format_ifmatch(struct strbuf *sb, const struct ifmatch *m)
{
	if (m->negate)
		sb_putc(sb, '!');
	if (m->count == 1) {
		format_ifitem(sb, &m->items[0]);
		return;
	}
	if (m->count == 0) {
		sb_puts(sb, "any");
		return;
	}
	sb_puts(sb, "{ ");
	for (size_t i = 0; i < m->count; i++) {
		format_ifitem(sb, &m->items[i]);
		sb_putc(sb, ' ');
	}
	sb_putc(sb, '}');
}

void format_addrmatch(struct strbuf *sb, const struct addrmatch *m)
{
	char buf[64];

	if (m->negate)
		sb_putc(sb, '!');
	if (m->ifaddr) {
		sb_putc(sb, '(');
		format_ifmatch(sb, m->ifaddr);
		sb_putc(sb, ')');
		return;
	}
	if (m->table) {
		sb_printf(sb, "<%s>", m->table);
		return;
	}
	if (!m->set) {
		sb_puts(sb, "any");
		return;
	}
	size_t n = addrset_prefix_count(m->set);
	if (n == 1) {
		sb_puts(sb, ifw_prefix_format(addrset_prefix(m->set, 0), buf, sizeof(buf)));
		return;
	}
	sb_puts(sb, "{ ");
	for (size_t i = 0; i < n; i++) {
		sb_puts(sb, ifw_prefix_format(addrset_prefix(m->set, i), buf, sizeof(buf)));
		sb_putc(sb, ' ');
	}
	sb_putc(sb, '}');
}

static void format_range(struct strbuf *sb, const struct portrange *r)
{
	if (r->lo == r->hi)
		sb_printf(sb, "%u", r->lo);
	else
		sb_printf(sb, "%u:%u", r->lo, r->hi);
}

void format_ports(struct strbuf *sb, const struct portmatch *m)
{
	sb_puts(sb, " port ");
	if (m->negate)
		sb_putc(sb, '!');
	if (m->count == 1) {
		format_range(sb, &m->ranges[0]);
		return;
	}
	sb_puts(sb, "{ ");
	for (size_t i = 0; i < m->count; i++) {
		format_range(sb, &m->ranges[i]);
		sb_putc(sb, ' ');
	}
	sb_putc(sb, '}');
}

static void format_proto(struct strbuf *sb, uint8_t proto)
{
	const char *name = proto_print_name(proto);

	if (name)
		sb_puts(sb, name);
	else
		sb_printf(sb, "%u", proto);
}

static void format_icmp_type(struct strbuf *sb, uint8_t type, bool icmp6)
{
	const char *name = icmp_type_name(type, icmp6);

	if (name)
		sb_puts(sb, name);
	else
		sb_printf(sb, "%u", type);
}

static void format_quoted(struct strbuf *sb, const char *s)
{
	sb_putc(sb, '"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			sb_putc(sb, '\\');
		sb_putc(sb, *s);
	}
	sb_putc(sb, '"');
}

void format_owner(struct strbuf *sb, bool has_user, uint32_t uid,
		  const char *user_name, bool has_mark, uint32_t mark)
{
	if (has_user) {
		if (user_name)
			sb_printf(sb, " user %s", user_name);
		else
			sb_printf(sb, " user %u", uid);
	}
	if (has_mark)
		sb_printf(sb, " mark 0x%x", mark);
}

static bool addr_present(const struct addrmatch *m, const struct portmatch *ports)
{
	return m->set || m->ifaddr || m->negate || ports->count;
}

char *rule_format(const struct rule *r)
{
	struct strbuf sb = { 0 };
	static const char *const actions[] = {
		[ACTION_PASS] = "pass", [ACTION_BLOCK] = "block", [ACTION_REJECT] = "reject",
		[ACTION_DROP] = "block drop", [ACTION_RETURN] = "block return",
	};

	sb_puts(&sb, actions[r->action]);
	if (r->dir == DIR_IN)
		sb_puts(&sb, " in");
	else if (r->dir == DIR_OUT)
		sb_puts(&sb, " out");
	if (r->log)
		sb_puts(&sb, " log");
	if (r->on.count) {
		sb_puts(&sb, " on ");
		format_ifmatch(&sb, &r->on);
	}
	if (r->family)
		sb_puts(&sb, r->family == 4 ? " inet" : " inet6");
	if (r->nprotos == 1) {
		sb_puts(&sb, " proto ");
		format_proto(&sb, r->protos[0]);
	} else if (r->nprotos > 1) {
		sb_puts(&sb, " proto {");
		for (size_t i = 0; i < r->nprotos; i++) {
			sb_putc(&sb, ' ');
			format_proto(&sb, r->protos[i]);
		}
		sb_puts(&sb, " }");
	}
	bool from = addr_present(&r->from, &r->sport), to = addr_present(&r->to, &r->dport);
	if (from) {
		sb_puts(&sb, " from ");
		format_addrmatch(&sb, &r->from);
		if (r->sport.count)
			format_ports(&sb, &r->sport);
	}
	if (to) {
		sb_puts(&sb, " to ");
		format_addrmatch(&sb, &r->to);
		if (r->dport.count)
			format_ports(&sb, &r->dport);
	}
	if (!from && !to)
		sb_puts(&sb, " all");
	if (r->ntypes) {
		sb_puts(&sb, r->icmp6 ? " icmp6-type " : " icmp-type ");
		if (r->ntypes == 1) {
			format_icmp_type(&sb, r->types[0], r->icmp6);
		} else {
			sb_putc(&sb, '{');
			for (size_t i = 0; i < r->ntypes; i++) {
				sb_putc(&sb, ' ');
				format_icmp_type(&sb, r->types[i], r->icmp6);
			}
			sb_puts(&sb, " }");
		}
	}
	format_owner(&sb, r->has_user, r->uid, r->user_name, r->has_mark, r->mark);
	if (r->cgroup) {
		sb_puts(&sb, " cgroup ");
		format_quoted(&sb, r->cgroup);
	}
	if (r->label) {
		sb_puts(&sb, " label ");
		format_quoted(&sb, r->label);
	}
	return sb_steal(&sb);
}

const char *default_verdict_name(enum default_verdict v)
{
	switch (v) {
	case DEFAULT_BLOCK: return "block";
	case DEFAULT_PASS: return "pass";
	case DEFAULT_REJECT: return "reject";
	case DEFAULT_DROP: return "drop";
	}
	return "block";
}

static void print_defaults(struct strbuf *sb, const struct ruleset *rs, bool expand)
{
	bool ks = rs->killswitch != NULL;
	/* A killswitch default is printed only once the block is expanded away;
	 * a written default always. */
	bool in = rs->default_in_explicit ||
		  (rs->default_in != DEFAULT_BLOCK && (!ks || expand));
	bool out = rs->default_out_explicit ||
		   (rs->default_out != DEFAULT_BLOCK && (!ks || expand));

	if (in && out && rs->default_in == rs->default_out &&
	    rs->default_in_log == rs->default_out_log) {
		sb_printf(sb, "set default %s%s\n", default_verdict_name(rs->default_in),
			  rs->default_in_log ? " log" : "");
		return;
	}
	if (in)
		sb_printf(sb, "set default in %s%s\n", default_verdict_name(rs->default_in),
			  rs->default_in_log ? " log" : "");
	if (out)
		sb_printf(sb, "set default out %s%s\n", default_verdict_name(rs->default_out),
			  rs->default_out_log ? " log" : "");
}

static void print_killswitch(struct strbuf *sb, const struct killswitch *ks)
{
	sb_printf(sb, "killswitch {  #@ %s:%d\n", ks->file, ks->line);
	sb_puts(sb, "    tunnel ");
	format_ifmatch(sb, &ks->tunnel);
	sb_printf(sb, "  #@ %s:%d\n", ks->file, ks->tunnel_line);
	for (size_t i = 0; i < ks->nendpoints; i++) {
		const struct killswitch_endpoint *e = &ks->endpoints[i];
		sb_printf(sb, "    endpoint %s", e->addrs);
		if (e->ports)
			sb_puts(sb, e->ports);
		if (e->proto)
			sb_printf(sb, " proto %s", e->proto == 6 ? "tcp" : "udp");
		format_owner(sb, e->has_user, e->uid, e->user_name, e->has_mark, e->mark);
		sb_printf(sb, "  #@ %s:%d\n", ks->file, e->line);
	}
	if (ks->dns_text)
		sb_printf(sb, "    dns %s  #@ %s:%d\n", ks->dns_text, ks->file, ks->dns_line);
	if (ks->allow_lan)
		sb_printf(sb, "    allow lan%s%s  #@ %s:%d\n", ks->lan_extra ? " " : "",
			  ks->lan_extra ? ks->lan_extra : "", ks->file, ks->allow_lan_line);
	if (ks->allow_dhcp)
		sb_printf(sb, "    allow dhcp  #@ %s:%d\n", ks->file, ks->allow_dhcp_line);
	for (size_t i = 0; i < ks->nbridges; i++)
		sb_printf(sb, "    allow bridge %s  #@ %s:%d\n", ks->bridges[i].ifspec, ks->file,
			  ks->bridges[i].line);
	sb_puts(sb, "}\n");
}

/* Short tables on one line, long ones one entry per line. */
#define TABLE_ONE_LINE 8

int ruleset_print(FILE *out, const struct ruleset *rs, bool expand)
{
	struct strbuf sb = { 0 };
	char buf[64];

	if (!out || !rs)
		return -EINVAL;
	print_defaults(&sb, rs, expand);
	if (rs->block_policy_explicit || rs->block_policy != BLOCK_POLICY_DROP)
		sb_printf(&sb, "set block-policy %s\n",
			  rs->block_policy == BLOCK_POLICY_REJECT ? "reject" : "drop");
	if (rs->skip.count) {
		sb_puts(&sb, "set skip on ");
		format_ifmatch(&sb, &rs->skip);
		sb_putc(&sb, '\n');
	}
	for (size_t i = 0; i < rs->ntables; i++) {
		const struct rs_table *t = &rs->tables[i];
		size_t n = addrset_prefix_count(t->set);
		bool one_line = n <= TABLE_ONE_LINE;
		sb_printf(&sb, "table <%s> {", t->name);
		for (size_t j = 0; j < n; j++) {
			sb_puts(&sb, one_line ? " " : "\n    ");
			sb_puts(&sb, ifw_prefix_format(addrset_prefix(t->set, j), buf, sizeof(buf)));
			if (sb.len > (1u << 20)) {
				/* Flush big tables as we go. */
				fwrite(sb.buf, 1, sb.len, out);
				sb.len = 0;
			}
		}
		sb_puts(&sb, one_line ? " }\n" : "\n}\n");
	}
	for (size_t i = 0; i < rs->nrules; i++) {
		const struct killswitch *ks = rs->killswitch;
		if (!expand && ks && i == ks->first_rule && ks->nrules) {
			print_killswitch(&sb, ks);
			i += ks->nrules - 1;
			continue;
		}
		const struct rule *r = &rs->rules[i];
		sb_printf(&sb, "%s  #@ %s:%d\n", r->text, r->file, r->line);
	}
	if (sb.oom) {
		sb_free(&sb);
		return -ENOMEM;
	}
	if (sb.len)
		fwrite(sb.buf, 1, sb.len, out);
	sb_free(&sb);
	return ferror(out) ? -EIO : 0;
}
