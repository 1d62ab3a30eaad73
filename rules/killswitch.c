/* The killswitch preset: the block as written (kept for the printer) and
 * its expansion into ordinary rules, in the order of design.md, each parsed
 * from generated text at the location of the line that produced it. */
#include <errno.h>
#include <stdlib.h>

#include "rules/parser.h"

void killswitch_free(struct killswitch *ks)
{
	if (!ks)
		return;
	ifmatch_free_items(&ks->tunnel);
	for (size_t i = 0; i < ks->nendpoints; i++) {
		free(ks->endpoints[i].addrs);
		free(ks->endpoints[i].ports);
		free(ks->endpoints[i].user_name);
	}
	free(ks->endpoints);
	for (size_t i = 0; i < ks->nbridges; i++)
		free(ks->bridges[i].ifspec);
	free(ks->bridges);
	free(ks->lan_extra);
	free(ks->dns_text);
	free(ks);
}

struct ks_parse {
	struct killswitch *ks;
	size_t endpoints_cap, bridges_cap;
	struct loc at, tunnel_at, dns_at, lan_at, dhcp_at;
	struct loc *endpoint_at, *bridge_at;
};

static void addrmatch_drop_ifaddr(struct addrmatch *m)
{
	if (m->ifaddr) {
		ifmatch_free_items((struct ifmatch *)m->ifaddr);
		free((void *)m->ifaddr);
		m->ifaddr = NULL;
	}
}

/* ADDRS that name addresses and open nothing wider: not 'any', not a
 * negation, not '(IFSPEC)', no /0 prefix (in a list or a table as it is
 * now). On success *text is its canonical text. */
static bool parse_exception_addrs(struct parser *p, const char *what, char **text)
{
	struct addrmatch m;
	struct loc span, at = p->tok.loc;

	if (!parse_addrs(p, &m, &span, what))
		return false;
	span = loc_join(&at, &p->prev_loc);
	const char *why = NULL;
	if (m.ifaddr)
		why = "'(IFSPEC)' is not a fixed set of addresses";
	else if (m.negate)
		why = "a negation would open every other address";
	else if (!m.set)
		why = "'any' would open the kill switch";
	for (size_t i = 0; !why && i < addrset_prefix_count(m.set); i++)
		if (addrset_prefix(m.set, i)->len == 0)
			why = m.table ? "the table holds a /0 prefix, which would open the kill switch"
				      : "a /0 prefix would open the kill switch";
	if (why) {
		addrmatch_drop_ifaddr(&m);
		return parser_error(p, &span, "invalid %s addresses: %s", what, why);
	}
	struct strbuf sb = { 0 };
	format_addrmatch(&sb, &m);
	*text = sb_steal(&sb);
	if (!*text) {
		parser_oom(p);
		return false;
	}
	return true;
}

static bool parse_endpoint(struct parser *p, struct killswitch_endpoint *e)
{
	bool seen_proto = false, seen_port = false;

	memset(e, 0, sizeof(*e));
	if (!parse_exception_addrs(p, "endpoint", &e->addrs))
		return false;
	while (!at_end(p) && p->tok.type != TOK_RBRACE) {
		if (tok_is(p, "port")) {
			if (!parser_option_once(p, &seen_port))
				return false;
			struct portmatch pm = { 0 };
			struct loc span;
			if (!parse_ports(p, &pm, &span)) {
				free(pm.ranges);
				return false;
			}
			for (size_t i = 0; i < pm.count; i++)
				if (pm.ranges[i].lo == 0) {
					free(pm.ranges);
					return parser_error(p, &span, "endpoint port out of range (1-65535)");
				}
			struct strbuf sb = { 0 };
			format_ports(&sb, &pm);
			free(pm.ranges);
			if (!(e->ports = sb_steal(&sb))) {
				parser_oom(p);
				return false;
			}
		} else if (tok_is(p, "proto")) {
			if (!parser_option_once(p, &seen_proto))
				return false;
			struct loc at = p->tok.loc;
			if (!parse_proto_value(p, &e->proto))
				return false;
			if (e->proto != 6 && e->proto != 17)
				return parser_error(p, &at, "endpoint proto must be udp or tcp");
		} else if (tok_is(p, "user")) {
			if (!parse_user_option(p, &e->has_user, &e->uid, &e->user_name))
				return false;
		} else if (tok_is(p, "mark")) {
			if (!parse_mark_option(p, &e->has_mark, &e->mark))
				return false;
		} else {
			return parser_expected(p, "port, proto, user or mark");
		}
	}
	return true;
}

static void endpoint_free_contents(struct killswitch_endpoint *e)
{
	free(e->addrs);
	free(e->ports);
	free(e->user_name);
}

/* Appends one more element to a (*items, *locs) pair of arrays. */
static bool grow_with_locs(struct parser *p, void **items, size_t *cap, size_t count,
			   size_t size, struct loc **locs)
{
	if (grow_array(items, cap, count, size) < 0) {
		parser_oom(p);
		return false;
	}
	/* Sized to *cap on every call, so a failure here leaves no gap. */
	struct loc *l = realloc(*locs, *cap * sizeof(**locs));
	if (!l) {
		parser_oom(p);
		return false;
	}
	*locs = l;
	return true;
}

/* The end of a setting's line; *line: its origin line. */
static bool end_of_setting(struct parser *p, const struct loc *at, int *line)
{
	const char *file;

	if (!at_end(p) && p->tok.type != TOK_RBRACE)
		return parser_expected(p, "end of line");
	return statement_origin(p, at, &file, line);
}

static bool parse_killswitch_item(struct parser *p, struct ks_parse *kp)
{
	struct killswitch *ks = kp->ks;
	struct loc at = p->tok.loc;
	const char *file;
	int line;

	if (tok_is(p, "tunnel")) {
		if (ks->tunnel.count)
			return parser_error(p, &at, "'tunnel' given twice");
		struct loc span;
		parser_next(p);
		struct loc spec_at = p->tok.loc;
		if (!parse_ifspec(p, &ks->tunnel, &span))
			return false;
		bool bad = ks->tunnel.negate;
		for (size_t i = 0; i < ks->tunnel.count; i++)
			bad |= ks->tunnel.items[i].kind == IFITEM_ANY;
		if (bad) {
			ifmatch_free_items(&ks->tunnel);
			return parser_error(p, &spec_at,
					"the tunnel must name interfaces (not 'any' or a negation)");
		}
		kp->tunnel_at = at;
		if (!end_of_setting(p, &at, &ks->tunnel_line))
			return false;
	} else if (tok_is(p, "endpoint")) {
		struct killswitch_endpoint e;
		parser_next(p);
		if (!parse_endpoint(p, &e) || !statement_origin(p, &at, &file, &line) ||
		    !grow_with_locs(p, (void **)&ks->endpoints, &kp->endpoints_cap, ks->nendpoints,
				    sizeof(*ks->endpoints), &kp->endpoint_at)) {
			endpoint_free_contents(&e);
			return false;
		}
		e.line = line;
		kp->endpoint_at[ks->nendpoints] = at;
		ks->endpoints[ks->nendpoints++] = e;
	} else if (tok_is(p, "dns")) {
		if (ks->dns_text)
			return parser_error(p, &at, "'dns' given twice");
		struct loc span;
		parser_next(p);
		struct loc addr_at = p->tok.loc;
		if (!parse_addrs(p, &ks->dns, &span, "dns"))
			return false;
		if (ks->dns.negate || ks->dns.ifaddr || !ks->dns.set) {
			if (ks->dns.ifaddr) {
				ifmatch_free_items((struct ifmatch *)ks->dns.ifaddr);
				free((void *)ks->dns.ifaddr);
			}
			memset(&ks->dns, 0, sizeof(ks->dns));
			return parser_error(p, &addr_at, "dns needs the addresses of the resolvers");
		}
		struct strbuf sb = { 0 };
		format_addrmatch(&sb, &ks->dns);
		free(ks->dns_text); /* a second 'dns' after an error on the first */
		ks->dns_text = sb_steal(&sb);
		if (!ks->dns_text) {
			parser_oom(p);
			return false;
		}
		if (!end_of_setting(p, &at, &ks->dns_line))
			return false;
		kp->dns_at = at;
	} else if (tok_is(p, "allow")) {
		parser_next(p);
		if (tok_is(p, "bridge")) {
			struct ifmatch br = { 0 };
			struct loc span;
			parser_next(p);
			struct loc spec_at = p->tok.loc;
			if (!parse_ifspec(p, &br, &span))
				return false;
			bool bad = br.negate;
			for (size_t i = 0; i < br.count; i++)
				bad |= br.items[i].kind == IFITEM_ANY;
			struct strbuf sb = { 0 };
			format_ifmatch(&sb, &br);
			ifmatch_free_items(&br);
			char *text = sb_steal(&sb);
			if (!text) {
				parser_oom(p);
				return false;
			}
			if (bad || !end_of_setting(p, &at, &line) ||
			    !grow_with_locs(p, (void **)&ks->bridges, &kp->bridges_cap, ks->nbridges,
					    sizeof(*ks->bridges), &kp->bridge_at)) {
				free(text);
				if (bad)
					parser_error(p, &spec_at,
						     "a bridge must name interfaces (not 'any' or a negation)");
				return false;
			}
			kp->bridge_at[ks->nbridges] = at;
			ks->bridges[ks->nbridges].ifspec = text;
			ks->bridges[ks->nbridges++].line = line;
			return true;
		}
		bool lan = tok_is(p, "lan");
		if (!lan && !tok_is(p, "dhcp"))
			return parser_expected(p, "'lan', 'dhcp' or 'bridge' after 'allow'");
		if (lan ? ks->allow_lan : ks->allow_dhcp)
			return parser_error(p, &at, "'allow %s' given twice", lan ? "lan" : "dhcp");
		parser_next(p);
		char *extra = NULL;
		if (lan && !at_end(p) && p->tok.type != TOK_RBRACE &&
		    !parse_exception_addrs(p, "allow lan", &extra))
			return false;
		if (!end_of_setting(p, &at, &line)) {
			free(extra);
			return false;
		}
		if (lan) {
			ks->allow_lan = true;
			ks->lan_extra = extra;
			ks->allow_lan_line = line;
			kp->lan_at = at;
		} else {
			ks->allow_dhcp = true;
			ks->allow_dhcp_line = line;
			kp->dhcp_at = at;
		}
	} else {
		if (p->tok.type != TOK_WORD)
			return parser_expected(p, "tunnel, endpoint, dns or allow");
		struct strbuf sb = { 0 };
		sb_put_quoted_excerpt(&sb, p->tok.text, p->tok.len, 40);
		parser_error(p, &at, "unknown killswitch setting '%s' (expected tunnel, endpoint, dns or allow)",
			 sb.buf ? sb.buf : "");
		sb_free(&sb);
		return false;
	}
	return true;
}

static void format_endpoint_rule(struct strbuf *sb, const struct killswitch_endpoint *e)
{
	sb_puts(sb, "pass out");
	if (e->proto)
		sb_printf(sb, " proto %s", proto_print_name(e->proto));
	else if (e->ports)
		sb_puts(sb, " proto { tcp udp }");
	sb_printf(sb, " to %s", e->addrs);
	if (e->ports)
		sb_puts(sb, e->ports);
	format_owner(sb, e->has_user, e->uid, e->user_name, e->has_mark, e->mark);
}

/* generated_rule() of the text in sb (sb is emptied). */
static bool generated_from(struct parser *p, struct strbuf *sb, const struct loc *at,
			   const char *file, int line)
{
	char *text = sb_steal(sb);
	bool ok;

	if (!text) {
		parser_oom(p);
		return false;
	}
	ok = generated_rule(p, text, at, file, line);
	free(text);
	return ok;
}

/* Expands the preset into rules, in the order of rules.md. */
static bool expand_killswitch(struct parser *p, struct ks_parse *kp)
{
	static const char *const dhcp[] = {
		"pass out inet proto udp from any port 68 to any port 67",
		"pass in inet proto udp from any port 67 to any port 68",
		"pass out inet6 proto udp from fe80::/10 port 546 to { ff02::1:2 ff05::1:3 } port 547",
		"pass in inet6 proto udp from fe80::/10 port 547 to fe80::/10 port 546",
	};
	static const char *const lan[] = {
		"pass out to { 10.0.0.0/8 172.16.0.0/12 192.168.0.0/16 169.254.0.0/16 fe80::/10 fc00::/7 }",
		"pass in from { 10.0.0.0/8 172.16.0.0/12 192.168.0.0/16 169.254.0.0/16 fe80::/10 fc00::/7 }",
		"pass out to { 224.0.0.0/24 239.0.0.0/8 255.255.255.255 ff01::/16 ff02::/16 ff03::/16 ff04::/16 ff05::/16 }",
	};
	/* Neighbour discovery to and from any address: an advertisement to
	 * the host's global address is what keeps an IPv6 gateway (and so an
	 * IPv6 endpoint) reachable. The stack itself discards ND whose hop
	 * limit is not 255 (RFC 4861 7.1.2), so none of it comes from off
	 * link. ND to the tunnel's own addresses on another interface was
	 * dropped by step 2. */
	static const char *const nd[] = {
		"pass inet6 proto icmp6 icmp6-type { nd-router-solicit nd-router-advert "
		"nd-neighbor-solicit nd-neighbor-advert nd-redirect }",
		"pass out inet6 proto icmp6 from { fe80::/10 ::/128 } to { ff02::2 ff02::16 } "
		"icmp6-type { mld-listener-report mld-listener-done mld2-listener-report }",
	};
	struct killswitch *ks = kp->ks;
	const char *file = ks->file;
	struct strbuf tun = { 0 }, tun_neg = { 0 }, sb = { 0 };
	bool ok = true;
	size_t before = p->rs->nrules;

	format_ifmatch(&tun, &ks->tunnel);
	struct ifmatch neg = ks->tunnel;
	neg.negate = true;
	format_ifmatch(&tun_neg, &neg);
	if (tun.oom || tun_neg.oom) {
		parser_oom(p);
		ok = false;
		goto out;
	}
	ks->first_rule = p->rs->nrules;
	/* 1. loopback */
	ok = generated_rule(p, "pass on type loopback all", &kp->at, file, ks->line);
	/* 2. CVE-2019-14899: no answer of any kind, before every pass. */
	if (ok) {
		sb_printf(&sb, "block drop in on %s to (%s)", tun_neg.buf, tun.buf);
		ok = generated_from(p, &sb, &kp->tunnel_at, file, ks->tunnel_line);
	}
	/* 3. IPv6 on-link control, then DHCP */
	for (size_t i = 0; ok && i < 2; i++)
		ok = generated_rule(p, nd[i], &kp->at, file, ks->line);
	for (size_t i = 0; ok && ks->allow_dhcp && i < 4; i++)
		ok = generated_rule(p, dhcp[i], &kp->dhcp_at, file, ks->allow_dhcp_line);
	/* 4. endpoints */
	for (size_t i = 0; ok && i < ks->nendpoints; i++) {
		format_endpoint_rule(&sb, &ks->endpoints[i]);
		ok = generated_from(p, &sb, &kp->endpoint_at[i], file, ks->endpoints[i].line);
	}
	/* 5. DNS */
	if (ok && ks->dns_text) {
		sb_printf(&sb, "pass out on %s proto { tcp udp } to %s port 53", tun.buf, ks->dns_text);
		ok = generated_from(p, &sb, &kp->dns_at, file, ks->dns_line) &&
		     generated_rule(p, "reject out proto { tcp udp } to any port 53", &kp->dns_at,
				    file, ks->dns_line);
	}
	/* 6. the tunnel */
	if (ok) {
		sb_printf(&sb, "pass out on %s all", tun.buf);
		ok = generated_from(p, &sb, &kp->tunnel_at, file, ks->tunnel_line);
	}
	/* 7. bridges: in from the guests (their forwarded traffic is then
	 * decided on its way out, where only the tunnel and the LAN rules pass
	 * it), and the host to its guests. */
	for (size_t i = 0; ok && i < ks->nbridges; i++) {
		sb_printf(&sb, "pass in on %s all", ks->bridges[i].ifspec);
		ok = generated_from(p, &sb, &kp->bridge_at[i], file, ks->bridges[i].line);
		if (ok) {
			sb_printf(&sb, "pass out on %s all", ks->bridges[i].ifspec);
			ok = generated_from(p, &sb, &kp->bridge_at[i], file, ks->bridges[i].line);
		}
	}
	/* 8. LAN */
	for (size_t i = 0; ok && ks->allow_lan && i < 3; i++)
		ok = generated_rule(p, lan[i], &kp->lan_at, file, ks->allow_lan_line);
	if (ok && ks->lan_extra) {
		sb_printf(&sb, "pass out to %s", ks->lan_extra);
		ok = generated_from(p, &sb, &kp->lan_at, file, ks->allow_lan_line);
		if (ok) {
			sb_printf(&sb, "pass in from %s", ks->lan_extra);
			ok = generated_from(p, &sb, &kp->lan_at, file, ks->allow_lan_line);
		}
	}
	ks->nrules = p->rs->nrules - before;
out:
	sb_free(&tun);
	sb_free(&tun_neg);
	sb_free(&sb);
	return ok;
}

bool parse_killswitch(struct parser *p)
{
	struct ks_parse kp = { 0 };
	bool ok = true;

	kp.at = p->tok.loc;
	kp.ks = calloc(1, sizeof(*kp.ks));
	if (!kp.ks) {
		parser_oom(p);
		return false;
	}
	if (p->rs->killswitch) {
		parser_error(p, &kp.at, "only one killswitch block is allowed (the first is at %s:%d)",
			 p->rs->killswitch->file, p->rs->killswitch->line);
		ok = false;
	}
	parser_next(p);
	if (p->tok.type != TOK_LBRACE) {
		killswitch_free(kp.ks);
		return parser_expected(p, "'{' after 'killswitch'");
	}
	parser_next(p);
	if (!statement_origin(p, &kp.at, &kp.ks->file, &kp.ks->line)) {
		killswitch_free(kp.ks);
		return false;
	}
	/* Inside the block: one setting per line, until the closing '}'. */
	for (;;) {
		while (p->tok.type == TOK_NEWLINE)
			parser_next(p);
		if (p->tok.type == TOK_RBRACE) {
			parser_next(p);
			break;
		}
		if (p->tok.type == TOK_EOF) {
			parser_error(p, &kp.at, "unterminated killswitch block: missing '}'");
			ok = false;
			break;
		}
		if (p->stop) {
			ok = false;
			break;
		}
		if (!parse_killswitch_item(p, &kp)) {
			ok = false;
			parser_recover(p, 1);
			if (p->depth == 0)
				break; /* the block was closed on the bad line */
		}
	}
	if (ok && !at_end(p))
		ok = parser_expected(p, "end of line after '}'");
	if (ok && !kp.ks->tunnel.count)
		ok = parser_error(p, &kp.at, "killswitch needs a 'tunnel' line naming the VPN interface");
	if (ok)
		ok = expand_killswitch(p, &kp);
	free(kp.endpoint_at);
	free(kp.bridge_at);
	if (!ok) {
		killswitch_free(kp.ks);
		return false;
	}
	p->rs->killswitch = kp.ks;
	return true;
}
