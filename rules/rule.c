/* One rule: its options in any order, the checks that make a rule an
 * error (criteria that can never match), its canonical text and origin. */
#include <stdlib.h>

#include "filter/cgroup_path.h"
#include "rules/parser.h"

/* UTF-8 without control characters (labels end up in JSON and nft). */
static bool valid_label(const char *text, size_t n)
{
	const unsigned char *s = (const unsigned char *)text;

	for (size_t i = 0; i < n;) {
		size_t len;
		if (s[i] < 0x20 || s[i] == 0x7f)
			return false;
		if (s[i] < 0x80)
			len = 1;
		else if (s[i] >= 0xc2 && s[i] <= 0xdf)
			len = 2;
		else if (s[i] >= 0xe0 && s[i] <= 0xef)
			len = 3;
		else if (s[i] >= 0xf0 && s[i] <= 0xf4)
			len = 4;
		else
			return false;
		if (i + len > n)
			return false;
		for (size_t k = 1; k < len; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
		/* Overlong 3-byte forms, surrogates, code points above U+10FFFF. */
		if ((s[i] == 0xe0 && s[i + 1] < 0xa0) || (s[i] == 0xed && s[i + 1] >= 0xa0) ||
		    (s[i] == 0xf0 && s[i + 1] < 0x90) || (s[i] == 0xf4 && s[i + 1] >= 0x90))
			return false;
		i += len;
	}
	return true;
}

/* --- rules ----------------------------------------------------------------- */

static bool all_protos(const struct rule *r, int a, int b)
{
	if (r->nprotos == 0)
		return false;
	for (size_t i = 0; i < r->nprotos; i++)
		if (r->protos[i] != a && r->protos[i] != b)
			return false;
	return true;
}

/* Families (1 << 4: IPv4, 1 << 6: IPv6) an address criterion can match. A
 * set speaks only for the families it has entries of, negated or not (as
 * the engine matches); an empty set (an empty table) for none in
 * particular. */
static unsigned addr_families(const struct addrmatch *m)
{
	unsigned fams = 0;

	if (m->ifaddr || !m->set || addrset_prefix_count(m->set) == 0)
		return (1u << 4) | (1u << 6);
	for (int f = 4; f <= 6; f += 2) {
		if (addrset_has_family(m->set, f) &&
		    !(m->negate && addrset_covers_family(m->set, f)))
			fams |= 1u << f;
	}
	return fams;
}

static const char *fam_only(unsigned fams)
{
	return fams == (1u << 4) ? "IPv4" : "IPv6";
}

/* The checks that make a rule an error: criteria that can never match. */
static bool validate_rule(struct parser *p, const struct rule *r,
			  const struct rule_locs *L)
{
	bool ok = true;

	if (r->sport.count || r->dport.count) {
		const struct loc *at = r->sport.count ? &L->sport : &L->dport;
		if (!all_protos(r, 6, 17)) {
			parser_error(p, at, "port needs proto tcp or udp");
			ok = false;
		}
	}
	if (r->ntypes) {
		const char *kw = r->icmp6 ? "icmp6-type" : "icmp-type";
		if (!all_protos(r, r->icmp6 ? 58 : 1, r->icmp6 ? 58 : 1)) {
			parser_error(p, &L->types, "%s needs proto %s", kw, r->icmp6 ? "icmp6" : "icmp");
			return false;
		}
		if (r->family == (r->icmp6 ? 4u : 6u)) {
			parser_error(p, &L->types, "rule can never match: %s with %s", kw,
				 r->icmp6 ? "inet" : "inet6");
			return false;
		}
	}
	if (all_protos(r, 1, 1) && r->family == 6) {
		parser_error(p, &L->proto, "rule can never match: proto icmp with inet6 (use icmp6)");
		return false;
	}
	if (all_protos(r, 58, 58) && r->family == 4) {
		parser_error(p, &L->proto, "rule can never match: proto icmp6 with inet (use icmp)");
		return false;
	}
	if (!ok)
		return false;

	unsigned fams = (1u << 4) | (1u << 6);
	if (r->family)
		fams = 1u << r->family;
	else if (all_protos(r, 1, 1))
		fams = 1u << 4;
	else if (all_protos(r, 58, 58))
		fams = 1u << 6;
	unsigned from = addr_families(&r->from), to = addr_families(&r->to);
	if (!from || !to) {
		parser_error(p, from ? &L->to : &L->from,
			 "rule can never match: the negated set covers every address");
		return false;
	}
	const char *fam_kw = r->family == 4 ? "inet" : r->family == 6 ? "inet6" :
			     all_protos(r, 1, 1) ? "proto icmp" : "proto icmp6";
	if (!(fams & from)) {
		parser_error(p, &L->from, "rule can never match: %s with only %s addresses",
			 fam_kw, fam_only(from));
		return false;
	}
	if (!(fams & to)) {
		parser_error(p, &L->to, "rule can never match: %s with only %s addresses",
			 fam_kw, fam_only(to));
		return false;
	}
	if (!(from & to)) {
		parser_error(p, &L->to,
			 "rule can never match: 'from' has only %s addresses and 'to' only %s addresses",
			 fam_only(from), fam_only(to));
		return false;
	}
	return true;
}

/* Parses one rule from the action word to the end of the statement. */
static bool parse_rule(struct parser *p, struct rule *r, struct rule_locs *L)
{
	bool seen_dir = false, seen_on = false, seen_fam = false,
	     seen_proto = false, seen_all = false, seen_from = false,
	     seen_to = false, seen_types = false, seen_label = false,
	     seen_cgroup = false;

	memset(r, 0, sizeof(*r));
	memset(L, 0, sizeof(*L));
	r->quick_state = true;
	r->dir = DIR_BOTH;
	L->action = p->tok.loc;
	if (tok_is(p, "pass"))
		r->action = ACTION_PASS;
	else if (tok_is(p, "block"))
		r->action = ACTION_BLOCK;
	else
		r->action = ACTION_REJECT;
	parser_next(p);
	/* pf's 'block drop' / 'block return': the effect whatever the
	 * block-policy (a word, not a rule option: 'block drop in ...'). */
	if (r->action == ACTION_BLOCK && (tok_is(p, "drop") || tok_is(p, "return"))) {
		r->action = tok_is(p, "drop") ? ACTION_DROP : ACTION_RETURN;
		parser_next(p);
	}

	while (!at_end(p) && p->tok.type != TOK_RBRACE) {
		struct loc kw = p->tok.loc;
		if (p->tok.type != TOK_WORD)
			return parser_expected(p, "a rule option");
		if (tok_is(p, "quick")) {
			parser_next(p); /* pf habit: every rule is quick here */
		} else if (tok_is(p, "in") || tok_is(p, "out")) {
			if (seen_dir)
				return parser_error(p, &kw, "direction given twice");
			seen_dir = true;
			r->dir = tok_is(p, "in") ? DIR_IN : DIR_OUT;
			parser_next(p);
		} else if (tok_is(p, "log")) {
			if (!parser_option_once(p, &r->log))
				return false;
		} else if (tok_is(p, "on")) {
			if (!parser_option_once(p, &seen_on))
				return false;
			if (!parse_ifspec(p, &r->on, &L->on))
				return false;
			L->on = loc_join(&kw, &p->prev_loc);
		} else if (tok_is(p, "inet") || tok_is(p, "inet6")) {
			if (seen_fam)
				return parser_error(p, &kw, "address family given twice");
			seen_fam = true;
			r->family = tok_is(p, "inet") ? 4 : 6;
			L->family = p->tok.loc;
			parser_next(p);
		} else if (tok_is(p, "proto")) {
			if (!parser_option_once(p, &seen_proto))
				return false;
			if (!parse_protos(p, &r->protos, &r->nprotos, &L->proto))
				return false;
			L->proto = loc_join(&kw, &p->prev_loc);
		} else if (tok_is(p, "all")) {
			if (parser_duplicate(p, seen_all))
				return false;
			if (seen_from || seen_to)
				return parser_error(p, &kw, "'all' cannot be combined with 'from' or 'to'");
			seen_all = true;
			L->all = kw;
			parser_next(p);
		} else if (tok_is(p, "from") || tok_is(p, "to")) {
			bool is_from = tok_is(p, "from");
			if (parser_duplicate(p, is_from ? seen_from : seen_to))
				return false;
			if (seen_all)
				return parser_error(p, &kw, "'all' cannot be combined with 'from' or 'to'");
			*(is_from ? &seen_from : &seen_to) = true;
			struct addrmatch *am = is_from ? &r->from : &r->to;
			struct loc *al = is_from ? &L->from : &L->to;
			parser_next(p);
			if (tok_is(p, "port")) {
				*al = kw;
			} else {
				if (!parse_addrs(p, am, al, is_from ? "from" : "to"))
					return false;
			}
			if (tok_is(p, "port")) {
				struct loc pkw = p->tok.loc;
				struct loc *pl = is_from ? &L->sport : &L->dport;
				parser_next(p);
				if (!parse_ports(p, is_from ? &r->sport : &r->dport, pl))
					return false;
				*pl = loc_join(&pkw, &p->prev_loc);
			}
		} else if (tok_is(p, "port")) {
			return parser_error(p, &kw, "'port' must follow 'from ADDRS' or 'to ADDRS'");
		} else if (tok_is(p, "icmp-type") || tok_is(p, "icmp6-type")) {
			r->icmp6 = tok_is(p, "icmp6-type");
			if (!parser_option_once(p, &seen_types))
				return false;
			if (!parse_icmp_types(p, r->icmp6, &r->types, &r->ntypes, &L->types))
				return false;
			L->types = loc_join(&kw, &p->prev_loc);
		} else if (tok_is(p, "user")) {
			if (!parse_user_option(p, &r->has_user, &r->uid, &r->user_name))
				return false;
			L->user = loc_join(&kw, &p->prev_loc);
		} else if (tok_is(p, "mark")) {
			if (!parse_mark_option(p, &r->has_mark, &r->mark))
				return false;
			L->mark = loc_join(&kw, &p->prev_loc);
		} else if (tok_is(p, "cgroup")) {
			if (!parser_option_once(p, &seen_cgroup))
				return false;
			if (p->tok.type != TOK_STRING)
				return parser_expected(p, "a quoted cgroup path");
			char *path = unescape_string(p->tok.text, p->tok.len);
			if (!path) {
				parser_oom(p);
				return false;
			}
			size_t bad;
			const char *why = cgroup_pattern_check(path, strlen(path), &bad);
			if (why) {
				free(path);
				return parser_error(p, &p->tok.loc, "%s", why);
			}
			cgroup_pattern_normalize(path);
			r->cgroup = path;
			L->cgroup = loc_join(&kw, &p->tok.loc);
			parser_next(p);
		} else if (tok_is(p, "label")) {
			if (!parser_option_once(p, &seen_label))
				return false;
			if (p->tok.type != TOK_STRING)
				return parser_expected(p, "a quoted label text");
			if (p->tok.len > MAX_LABEL)
				return parser_error(p, &p->tok.loc, "label too long (at most %d bytes)", MAX_LABEL);
			if (!valid_label(p->tok.text, p->tok.len))
				return parser_error(p, &p->tok.loc,
						"a label must be UTF-8 text without control characters");
			r->label = unescape_string(p->tok.text, p->tok.len);
			if (!r->label) {
				parser_oom(p);
				return false;
			}
			L->label = loc_join(&kw, &p->tok.loc);
			parser_next(p);
		} else {
			struct strbuf sb = { 0 };
			sb_put_quoted_excerpt(&sb, p->tok.text, p->tok.len, 40);
			parser_error(p, &kw, "unknown rule option '%s'", sb.buf ? sb.buf : "");
			sb_free(&sb);
			return false;
		}
	}
	if (!L->from.src)
		L->from = L->action;
	if (!L->to.src)
		L->to = L->action;
	return true;
}

/* The origin of the statement that just ended: a '# FILE:LINE' marker on
 * its line, else where it was read. */
bool statement_origin(struct parser *p, const struct loc *at,
			     const char **file, int *line)
{
	if (at_end(p) && p->tok.marker.present) {
		*file = parser_intern_file(p, p->tok.marker.path, p->tok.marker.path_len);
		*line = p->tok.marker.line;
	} else {
		*file = parser_intern_file(p, at->src->name, strlen(at->src->name));
		*line = at->line;
	}
	if (!*file) {
		parser_oom(p);
		return false;
	}
	return true;
}

/* Appends a parsed, validated rule; takes its contents. */
static bool append_rule(struct parser *p, struct rule *r, const struct loc *at)
{
	struct ruleset *rs = p->rs;

	r->text = rule_format(r);
	if (!r->text ||
	    grow_array(&rs->rules, &p->rules_cap, rs->nrules, sizeof(*rs->rules)) < 0 ||
	    grow_array(&p->rule_locs, &p->rule_locs_cap, rs->nrules, sizeof(*p->rule_locs)) < 0) {
		rule_free_contents(r);
		parser_oom(p);
		return false;
	}
	r->index = rs->nrules;
	p->rule_locs[rs->nrules] = *at;
	rs->rules[rs->nrules++] = *r;
	return true;
}

bool parse_rule_statement(struct parser *p)
{
	struct rule r;
	struct rule_locs L;

	if (!parse_rule(p, &r, &L) || !validate_rule(p, &r, &L)) {
		rule_free_contents(&r);
		return false;
	}
	if (!at_end(p)) {
		rule_free_contents(&r);
		return parser_expected(p, "end of line");
	}
	r.origin = ORIGIN_USER;
	if (!statement_origin(p, &L.action, &r.file, &r.line)) {
		rule_free_contents(&r);
		return false;
	}
	struct loc whole = loc_join(&L.action, &p->prev_loc);
	return append_rule(p, &r, &whole);
}

/* A rule generated by the killswitch preset: parsed from text, located at
 * the killswitch line that produced it. */
bool generated_rule(struct parser *p, const char *text, const struct loc *at,
			   const char *file, int line)
{
	struct lexer lx, *saved_lx = p->lx;
	struct token saved_tok = p->tok;
	struct loc saved_prev = p->prev_loc;
	int saved_depth = p->depth;
	struct rule r;
	struct rule_locs L;
	bool ok;

	lexer_init_fixed(&lx, text, strlen(text), at, &p->macros);
	lx.macro_tokens = &p->macro_tokens;
	p->lx = &lx;
	p->depth = 0;
	parser_next(p);
	ok = parse_rule(p, &r, &L) && validate_rule(p, &r, &L);
	if (ok && p->tok.type != TOK_EOF)
		ok = parser_error(p, at, "internal error: bad generated rule '%s'", text);
	p->lx = saved_lx;
	p->tok = saved_tok;
	p->prev_loc = saved_prev;
	p->depth = saved_depth;
	if (!ok) {
		rule_free_contents(&r);
		return false;
	}
	r.origin = ORIGIN_KILLSWITCH;
	r.file = file;
	r.line = line;
	return append_rule(p, &r, at);
}
