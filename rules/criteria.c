/* The values of rule criteria: interfaces, addresses, ports, protocols,
 * ICMP types, users and marks. Lists are flattened here: an address list
 * becomes one address set, a negated list one negated criterion. */
#include <ctype.h>
#include <errno.h>
#include <pwd.h>
#include <stdlib.h>

#include "rules/parser.h"

static bool word_is_number(const struct token *t)
{
	uint64_t v;

	return t->type == TOK_WORD && ifw_parse_number(t->text, t->len, UINT64_MAX, &v) == 0;
}

/* --- lists ------------------------------------------------------------------ */

/* Reads one list item at the current token. negated: it was written
 * '!ITEM'; at: where it starts (with the '!'). */
typedef bool (*list_item_fn)(struct parser *p, bool negated, const struct loc *at,
			     void *ctx);

/* The '{ ... }' list at the current token, each item read by item(). With
 * negate, items may be written '!ITEM', all of them or none: '{ !a !b }' is
 * '!{ a b }' (*negate set; start: where the criterion began, for a double
 * negation). Without (NULL), a '!' is left to item(). empty: the error for
 * '{ }'. */
static bool parse_list(struct parser *p, const struct loc *start, bool *negate,
		       const char *empty, list_item_fn item, void *ctx)
{
	struct loc open = p->tok.loc;
	size_t negated = 0, plain = 0;

	parser_next(p);
	for (;;) {
		int more = parser_list_skip(p, &open);
		if (more < 0)
			return false;
		if (more == 0)
			break;
		struct loc item_loc = p->tok.loc;
		bool neg = false;
		if (negate && p->tok.type == TOK_BANG) {
			neg = true;
			parser_next(p);
		}
		if (!item(p, neg, &item_loc, ctx))
			return false;
		if (neg ? plain : negated) {
			struct loc l = loc_join(&item_loc, &p->prev_loc);
			return parser_error(p, &l, "a list cannot mix negated and plain items");
		}
		neg ? negated++ : plain++;
	}
	if (negated + plain == 0)
		return parser_error(p, &open, "%s", empty);
	if (negated) {
		if (*negate)
			return parser_error(p, start, "double negation: write the list without '!'");
		*negate = true;
	}
	parser_next(p);
	return true;
}

/* --- interfaces ------------------------------------------------------------- */

static bool parse_ifitem(struct parser *p, struct ifitem *it)
{
	memset(it, 0, sizeof(*it));
	if (p->tok.type != TOK_WORD)
		return parser_expected(p, "an interface name");
	if (tok_is(p, "any")) {
		it->kind = IFITEM_ANY;
		parser_next(p);
		return true;
	}
	if (tok_is(p, "type")) {
		parser_next(p);
		if (p->tok.type != TOK_WORD ||
		    !iftype_from_type_name(p->tok.text, p->tok.len, &it->type))
			return parser_expected(p, "an interface type (loopback, tunnel or ether)");
		it->kind = IFITEM_TYPE;
		parser_next(p);
		return true;
	}
	const char *s = p->tok.text;
	size_t n = p->tok.len;
	bool prefix = n > 0 && s[n - 1] == '*';
	if (prefix)
		n--;
	bool ok = n > 0 && n < IFW_IFNAMSIZ;
	for (size_t i = 0; ok && i < n; i++)
		if (s[i] == '*' || s[i] == '/' || s[i] == ':' || !isgraph((unsigned char)s[i]))
			ok = false;
	if (!ok) {
		struct strbuf sb = { 0 };
		sb_put_quoted_excerpt(&sb, p->tok.text, p->tok.len, 40);
		if (n >= IFW_IFNAMSIZ)
			parser_error(p, &p->tok.loc, "interface name '%s' is too long (at most %d characters)",
				 sb.buf ? sb.buf : "", IFW_IFNAMSIZ - 1);
		else
			parser_error(p, &p->tok.loc, "invalid interface name '%s'", sb.buf ? sb.buf : "");
		sb_free(&sb);
		return false;
	}
	it->kind = prefix ? IFITEM_PREFIX : IFITEM_NAME;
	memcpy(it->name, s, n);
	it->name[n] = '\0';
	parser_next(p);
	return true;
}

bool parser_push_ifitem(struct parser *p, struct ifmatch *m, size_t *cap,
			const struct ifitem *it)
{
	if (grow_array(&m->items, cap, m->count, sizeof(*m->items)) < 0) {
		parser_oom(p);
		return false;
	}
	m->items[m->count++] = *it;
	return true;
}

struct ifitem_list {
	struct ifmatch *m;
	size_t cap;
};

static bool ifspec_item(struct parser *p, bool negated, const struct loc *at, void *ctx)
{
	struct ifitem_list *l = ctx;
	struct ifitem it;

	return parse_ifitem(p, &it) && parser_push_ifitem(p, l->m, &l->cap, &it);
}

/* IFSPEC: NAME | PREFIX* | any | type TYPE | !IFSPEC | { IFSPEC ... } */
bool parse_ifspec(struct parser *p, struct ifmatch *m, struct loc *span)
{
	struct loc start = p->tok.loc;
	struct ifitem_list list = { m, 0 };
	bool ok;

	memset(m, 0, sizeof(*m));
	if (p->tok.type == TOK_BANG) {
		m->negate = true;
		parser_next(p);
	}
	if (p->tok.type == TOK_LBRACE)
		ok = parse_list(p, &start, &m->negate, "empty interface list", ifspec_item, &list);
	else
		ok = ifspec_item(p, false, &start, &list);
	for (size_t i = 0; ok && m->negate && i < m->count; i++) {
		if (m->items[i].kind == IFITEM_ANY)
			ok = parser_error(p, &start, "'!any' can never match");
	}
	if (!ok) {
		ifmatch_free_items(m);
		return false;
	}
	*span = loc_join(&start, &p->prev_loc);
	return true;
}

/* --- addresses ----------------------------------------------------------------- */

/* Parses the address in token t (not consumed); reports errors at t. */
bool prefix_from_token(struct parser *p, const struct token *t,
			      struct ifw_prefix *out)
{
	char buf[80];
	struct strbuf sb = { 0 };
	int err;

	if (t->type != TOK_WORD)
		return parser_expected(p, "an address");
	if (t->len >= sizeof(buf)) {
		err = -EINVAL;
	} else {
		memcpy(buf, t->text, t->len);
		buf[t->len] = '\0';
		err = ifw_prefix_parse(buf, out);
	}
	if (!err)
		return true;
	sb_put_quoted_excerpt(&sb, t->text, t->len, 60);
	const char *text = sb.buf ? sb.buf : "";
	if (err == -EDOM) {
		/* Name the network the user probably meant. */
		struct ifw_prefix net;
		char *slash = strchr(buf, '/');
		char fmt[64];
		*slash = '\0';
		if (ifw_addr_parse(buf, &net.addr) == 0) {
			int len = atoi(slash + 1);
			net.len = (uint8_t)len;
			for (int bit = len; bit < 128; bit++)
				net.addr.a[bit / 8] &= (uint8_t)~(0x80 >> (bit % 8));
			ifw_prefix_format(&net, fmt, sizeof(fmt));
			parser_error(p, &t->loc, "'%s' has host bits set (did you mean %s?)", text, fmt);
		} else {
			parser_error(p, &t->loc, "'%s' has host bits set", text);
		}
	} else if (err == -ERANGE) {
		parser_error(p, &t->loc, "prefix length too long in '%s'", text);
	} else {
		parser_error(p, &t->loc, "invalid address '%s'", text);
	}
	sb_free(&sb);
	return false;
}

bool parse_prefix_tok(struct parser *p, struct ifw_prefix *out)
{
	if (!prefix_from_token(p, &p->tok, out))
		return false;
	parser_next(p);
	return true;
}

const struct rs_table *parser_find_table(const struct parser *p, const char *name,
					 size_t len)
{
	for (size_t i = 0; i < p->rs->ntables; i++)
		if (strlen(p->rs->tables[i].name) == len &&
		    !memcmp(p->rs->tables[i].name, name, len))
			return &p->rs->tables[i];
	return NULL;
}

static const struct rs_table *table_ref(struct parser *p)
{
	const struct rs_table *t = parser_find_table(p, p->tok.text, p->tok.len);

	if (!t) {
		struct strbuf sb = { 0 };
		sb_put_quoted_excerpt(&sb, p->tok.text, p->tok.len, 60);
		parser_error(p, &p->tok.loc, "unknown table <%s>", sb.buf ? sb.buf : "");
		sb_free(&sb);
		return NULL;
	}
	parser_next(p);
	return t;
}

struct addr_list {
	struct addrset *set;
	bool any;             /* 'any' is in the list: it matches every address */
};

static bool addr_item(struct parser *p, bool negated, const struct loc *at, void *ctx)
{
	struct addr_list *l = ctx;
	struct ifw_prefix pfx;

	if (tok_is(p, "any")) {
		if (negated)
			return parser_error(p, at, "'!any' can never match");
		l->any = true;
		parser_next(p);
		return true;
	}
	if (p->tok.type == TOK_TABLE) {
		const struct rs_table *t = table_ref(p);
		if (!t)
			return false;
		size_t n = addrset_prefix_count(t->set);
		for (size_t i = 0; i < n; i++)
			if (addrset_add(l->set, addrset_prefix(t->set, i)) < 0) {
				parser_oom(p);
				return false;
			}
		return true;
	}
	if (p->tok.type == TOK_LPAREN)
		return parser_error(p, at, "interface addresses '(IFSPEC)' cannot be part of a list");
	if (!parse_prefix_tok(p, &pfx))
		return false;
	if (addrset_add(l->set, &pfx) < 0) {
		parser_oom(p);
		return false;
	}
	return true;
}

/* ADDRS: any | ADDR | ADDR/LEN | <table> | (IFSPEC) | { ... } | !ADDRS */
bool parse_addrs(struct parser *p, struct addrmatch *m, struct loc *span,
			const char *after)
{
	struct loc start = p->tok.loc;
	struct ifw_prefix pfx;
	char what[64];

	memset(m, 0, sizeof(*m));
	snprintf(what, sizeof(what), "an address after '%s'", after);
	if (p->tok.type == TOK_BANG) {
		m->negate = true;
		parser_next(p);
	}
	if (tok_is(p, "any")) {
		if (m->negate)
			return parser_error(p, &start, "'!any' can never match");
		parser_next(p);
	} else if (p->tok.type == TOK_TABLE) {
		const struct rs_table *t = table_ref(p);
		if (!t)
			return false;
		m->table = t->name;
		m->set = t->set;
	} else if (p->tok.type == TOK_LPAREN) {
		struct ifmatch *ifm = calloc(1, sizeof(*ifm));
		struct loc ifspan;
		if (!ifm) {
			parser_oom(p);
			return false;
		}
		parser_next(p);
		if (!parse_ifspec(p, ifm, &ifspan)) {
			free(ifm);
			return false;
		}
		if (p->tok.type != TOK_RPAREN) {
			ifmatch_free_items(ifm);
			free(ifm);
			return parser_expected(p, "')'");
		}
		parser_next(p);
		m->ifaddr = ifm;
	} else if (p->tok.type == TOK_LBRACE) {
		struct addr_list list = { parser_new_set(p), false };
		if (!list.set) {
			parser_oom(p);
			return false;
		}
		if (!parse_list(p, &start, &m->negate, "empty address list", addr_item, &list))
			return false;
		if (addrset_finish(list.set) < 0) {
			parser_oom(p);
			return false;
		}
		if (!list.any)
			m->set = list.set;
	} else if (p->tok.type == TOK_WORD && !tok_is(p, "port")) {
		if (!parse_prefix_tok(p, &pfx))
			return false;
		struct addrset *set = parser_new_set(p);
		if (!set || addrset_add(set, &pfx) < 0 || addrset_finish(set) < 0) {
			parser_oom(p);
			return false;
		}
		m->set = set;
	} else {
		return parser_expected(p, what);
	}
	*span = loc_join(&start, &p->prev_loc);
	return true;
}

/* --- ports, protocols, types ------------------------------------------------ */

/* A port: a number, or a well-known service name as pf accepts them. */
static int port_value(const char *s, size_t n, uint64_t *out)
{
	int err = ifw_parse_number(s, n, 65535, out);
	int port;

	if (err == -EINVAL && (port = service_port(s, n)) >= 0) {
		*out = (uint64_t)port;
		return 0;
	}
	return err;
}

static bool parse_port_value(struct parser *p, struct portrange *r)
{
	const char *s = p->tok.text;
	size_t n = p->tok.len;
	const char *colon;
	uint64_t lo = 0, hi = 0;
	struct strbuf sb = { 0 };
	int e1, e2 = 0;

	if (p->tok.type != TOK_WORD)
		return parser_expected(p, "a port number");
	colon = memchr(s, ':', n);
	e1 = port_value(s, colon ? (size_t)(colon - s) : n, &lo);
	hi = lo;
	if (colon)
		e2 = port_value(colon + 1, n - (size_t)(colon + 1 - s), &hi);
	sb_put_quoted_excerpt(&sb, s, n, 40);
	const char *text = sb.buf ? sb.buf : "";
	bool ok = false;
	if (e1 == -EINVAL || e2 == -EINVAL)
		parser_error(p, &p->tok.loc, "invalid port '%s' (a number, a service name or a range N:M)",
			     text);
	else if (e1 == -ERANGE || e2 == -ERANGE)
		parser_error(p, &p->tok.loc, "port '%s' out of range (0-65535)", text);
	else if (lo > hi)
		parser_error(p, &p->tok.loc, "empty port range '%s' (%u > %u)", text,
			     (unsigned)lo, (unsigned)hi);
	else
		ok = true;
	sb_free(&sb);
	if (!ok)
		return false;
	r->lo = (uint16_t)lo;
	r->hi = (uint16_t)hi;
	parser_next(p);
	return true;
}

struct port_list {
	struct portmatch *m;
	size_t cap;
};

static bool port_item(struct parser *p, bool negated, const struct loc *at, void *ctx)
{
	struct port_list *l = ctx;
	struct portrange r;

	if (!parse_port_value(p, &r))
		return false;
	if (grow_array(&l->m->ranges, &l->cap, l->m->count, sizeof(*l->m->ranges)) < 0) {
		parser_oom(p);
		return false;
	}
	l->m->ranges[l->m->count++] = r;
	return true;
}

/* PORTS: N | N:M | !PORTS | { ... } */
bool parse_ports(struct parser *p, struct portmatch *m, struct loc *span)
{
	struct loc start = p->tok.loc;
	struct port_list list = { m, 0 };

	if (p->tok.type == TOK_BANG) {
		m->negate = true;
		parser_next(p);
	}
	if (p->tok.type == TOK_LBRACE) {
		if (!parse_list(p, &start, &m->negate, "empty port list", port_item, &list))
			return false;
	} else if (!port_item(p, false, &start, &list)) {
		return false;
	}
	*span = loc_join(&start, &p->prev_loc);
	return true;
}

bool parse_proto_value(struct parser *p, uint8_t *out)
{
	uint64_t v;
	char name[32];

	if (p->tok.type != TOK_WORD)
		return parser_expected(p, "a protocol");
	int err = ifw_parse_number(p->tok.text, p->tok.len, 255, &v);
	if (err == -ERANGE)
		return parser_error(p, &p->tok.loc, "protocol number out of range (0-255)");
	if (err) {
		if (p->tok.len >= sizeof(name)) {
			v = (uint64_t)-1;
		} else {
			memcpy(name, p->tok.text, p->tok.len);
			name[p->tok.len] = '\0';
			int n = proto_from_name(name);
			v = n < 0 ? (uint64_t)-1 : (uint64_t)n;
		}
		if (v == (uint64_t)-1) {
			struct strbuf sb = { 0 };
			sb_put_quoted_excerpt(&sb, p->tok.text, p->tok.len, 40);
			parser_error(p, &p->tok.loc, "unknown protocol '%s'", sb.buf ? sb.buf : "");
			sb_free(&sb);
			return false;
		}
	}
	*out = (uint8_t)v;
	parser_next(p);
	return true;
}

/* A list of small numbers: protocols or ICMP types. */
typedef bool (*value_fn)(struct parser *p, uint8_t *out, bool icmp6);

static bool parse_proto_fn(struct parser *p, uint8_t *out, bool icmp6)
{
	(void)icmp6;
	return parse_proto_value(p, out);
}

static bool parse_icmp_type_fn(struct parser *p, uint8_t *out, bool icmp6)
{
	uint64_t v;
	char name[40];

	if (p->tok.type != TOK_WORD)
		return parser_expected(p, icmp6 ? "an ICMPv6 type" : "an ICMP type");
	int err = ifw_parse_number(p->tok.text, p->tok.len, 255, &v);
	if (err == -ERANGE)
		return parser_error(p, &p->tok.loc, "ICMP type out of range (0-255)");
	if (err) {
		int n = -1;
		if (p->tok.len < sizeof(name)) {
			memcpy(name, p->tok.text, p->tok.len);
			name[p->tok.len] = '\0';
			n = icmp_type_from_name(name, icmp6);
		}
		if (n < 0) {
			struct strbuf sb = { 0 };
			sb_put_quoted_excerpt(&sb, p->tok.text, p->tok.len, 40);
			parser_error(p, &p->tok.loc, "unknown %s type '%s'", icmp6 ? "icmp6" : "icmp",
				 sb.buf ? sb.buf : "");
			sb_free(&sb);
			return false;
		}
		v = (uint64_t)n;
	}
	*out = (uint8_t)v;
	parser_next(p);
	return true;
}

struct value_list {
	value_fn fn;
	bool icmp6;
	const char *what;
	uint8_t **values;
	size_t *count, cap;
};

static bool value_item(struct parser *p, bool negated, const struct loc *at, void *ctx)
{
	struct value_list *l = ctx;
	uint8_t v;

	if (p->tok.type == TOK_BANG)
		return parser_error(p, &p->tok.loc, "%s cannot be negated", l->what);
	if (!l->fn(p, &v, l->icmp6))
		return false;
	if (grow_array(l->values, &l->cap, *l->count, 1) < 0) {
		parser_oom(p);
		return false;
	}
	(*l->values)[(*l->count)++] = v;
	return true;
}

static bool parse_value_list(struct parser *p, value_fn fn, bool icmp6,
			     uint8_t **values, size_t *count, struct loc *span,
			     const char *what)
{
	struct loc start = p->tok.loc;
	struct value_list list = { fn, icmp6, what, values, count, 0 };

	if (p->tok.type == TOK_LBRACE) {
		if (!parse_list(p, &start, NULL, "empty list", value_item, &list))
			return false;
	} else if (!value_item(p, false, &start, &list)) {
		return false;
	}
	*span = loc_join(&start, &p->prev_loc);
	return true;
}

static bool parse_user(struct parser *p, uint32_t *uid, char **name)
{
	uint64_t v;

	if (p->tok.type != TOK_WORD)
		return parser_expected(p, "a user name or uid");
	if (ifw_parse_number(p->tok.text, p->tok.len, UINT32_MAX - 1, &v) == 0) {
		*uid = (uint32_t)v;
		*name = NULL;
		parser_next(p);
		return true;
	}
	if (word_is_number(&p->tok))
		return parser_error(p, &p->tok.loc, "uid out of range");
	char *n = tok_strdup(&p->tok);
	if (!n) {
		parser_oom(p);
		return false;
	}
	struct passwd pw, *res = NULL;
	char buf[4096];
	if (getpwnam_r(n, &pw, buf, sizeof(buf), &res) != 0 || !res) {
		struct strbuf sb = { 0 };
		sb_put_quoted_excerpt(&sb, p->tok.text, p->tok.len, 40);
		parser_error(p, &p->tok.loc, "unknown user '%s'", sb.buf ? sb.buf : "");
		sb_free(&sb);
		free(n);
		return false;
	}
	*uid = (uint32_t)res->pw_uid;
	*name = n;
	parser_next(p);
	return true;
}

static bool parse_mark(struct parser *p, uint32_t *mark)
{
	uint64_t v;

	if (p->tok.type != TOK_WORD)
		return parser_expected(p, "a mark number");
	int err = ifw_parse_number(p->tok.text, p->tok.len, UINT32_MAX, &v);
	if (err == -ERANGE)
		return parser_error(p, &p->tok.loc, "mark out of range (at most 0xffffffff)");
	if (err) {
		struct strbuf sb = { 0 };
		sb_put_quoted_excerpt(&sb, p->tok.text, p->tok.len, 40);
		parser_error(p, &p->tok.loc, "invalid mark '%s' (a number, decimal or 0x hex)",
			 sb.buf ? sb.buf : "");
		sb_free(&sb);
		return false;
	}
	*mark = (uint32_t)v;
	parser_next(p);
	return true;
}

bool parse_user_option(struct parser *p, bool *has, uint32_t *uid, char **name)
{
	return parser_option_once(p, has) && parse_user(p, uid, name);
}

bool parse_mark_option(struct parser *p, bool *has, uint32_t *mark)
{
	return parser_option_once(p, has) && parse_mark(p, mark);
}

bool parse_protos(struct parser *p, uint8_t **protos, size_t *count, struct loc *span)
{
	return parse_value_list(p, parse_proto_fn, false, protos, count, span, "proto");
}

bool parse_icmp_types(struct parser *p, bool icmp6, uint8_t **types, size_t *count,
		      struct loc *span)
{
	return parse_value_list(p, parse_icmp_type_fn, icmp6, types, count, span,
				icmp6 ? "icmp6-type" : "icmp-type");
}
