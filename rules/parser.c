/* The parser: tokens -> validated, expanded struct ruleset.
 *
 * Statements are parsed one at a time; an error is reported with its
 * location and the parser skips to the next statement, so one run reports
 * every error of a file and its includes. Lists, macros, tables and the
 * killswitch preset are expanded here into the plain criteria of
 * rules/ruleset.h; the killswitch rules are generated as rule text and
 * parsed like any other rule (with the location of the killswitch line that
 * produced them). */
#include <ctype.h>
#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rules/lexer.h"

#define MAX_ERRORS 10000 /* "all errors in one run"; the cap only bounds memory on garbage */
#define MAX_INCLUDE_DEPTH 16
#define MAX_FILE_SIZE (256u << 20)
#define MAX_LABEL 255

struct include_frame {
	dev_t dev;
	ino_t ino;
	bool has_id;
};

struct parser {
	struct ruleset *rs;
	struct diag_list *diags;
	size_t errors;
	bool stop;               /* too many errors, or out of memory */
	struct macro_table macros;
	struct src *sources;
	struct lexer *lx;
	struct token tok;        /* current token */
	struct loc prev_loc;     /* location of the last consumed token */
	int depth;               /* '{' nesting up to the current token */
	struct include_frame stack[MAX_INCLUDE_DEPTH + 1];
	int nstack;
	size_t rules_cap, tables_cap, sets_cap, files_cap;
	struct loc *rule_locs;   /* where each rule was written */
	size_t rule_locs_cap;
	struct loc set_default_loc;
	struct loc skip_loc;
	struct loc killswitch_loc;
	bool top_is_string;
	bool resync;             /* recover() must not skip: at a statement */
};

/* Where each criterion of a rule was written, for error spans. */
struct rule_locs {
	struct loc action, on, family, proto, all, from, sport, to, dport,
		types, user, mark, label;
};

/* --- tokens ------------------------------------------------------------------ */

static void next(struct parser *p)
{
	if (p->tok.type != TOK_EOF || p->tok.loc.src)
		p->prev_loc = p->tok.loc;
	p->tok = lexer_next(p->lx);
	if (p->tok.type == TOK_LBRACE)
		p->depth++;
	else if (p->tok.type == TOK_RBRACE && p->depth > 0)
		p->depth--;
}

static bool tok_is(const struct parser *p, const char *word)
{
	return p->tok.type == TOK_WORD && p->tok.len == strlen(word) &&
	       !memcmp(p->tok.text, word, p->tok.len);
}

static bool at_end(const struct parser *p)
{
	return p->tok.type == TOK_NEWLINE || p->tok.type == TOK_EOF;
}

static char *tok_strdup(const struct token *t)
{
	return strndup(t->text, t->len);
}

/* The span from a to the end of b when both are on one line. */
static struct loc loc_join(const struct loc *a, const struct loc *b)
{
	struct loc l = *a;

	if (a->src == b->src && a->line == b->line && b->col >= a->col &&
	    b->line_start == a->line_start)
		l.span = b->col + b->span - a->col;
	return l;
}

/* Describes the current token for "expected X, got Y" messages. */
static void describe_tok(const struct token *t, struct strbuf *sb)
{
	switch (t->type) {
	case TOK_EOF: sb_puts(sb, "end of file"); return;
	case TOK_NEWLINE: sb_puts(sb, "end of line"); return;
	case TOK_STRING: sb_puts(sb, "a string"); return;
	case TOK_TABLE:
		sb_puts(sb, "'<");
		sb_put_quoted_excerpt(sb, t->text, t->len, 40);
		sb_puts(sb, ">'");
		return;
	case TOK_ERROR: sb_puts(sb, "an invalid token"); return;
	default:
		sb_putc(sb, '\'');
		sb_put_quoted_excerpt(sb, t->text, t->len, 40);
		sb_putc(sb, '\'');
	}
}

/* --- diagnostics ------------------------------------------------------------- */

static void verror(struct parser *p, const struct loc *loc, const char *fmt, va_list ap)
{
	if (p->stop)
		return;
	if (diag_addv(p->diags, DIAG_ERROR, loc, fmt, ap) < 0)
		p->stop = true;
	if (++p->errors >= MAX_ERRORS) {
		diag_add(p->diags, DIAG_NOTE, loc, "too many errors; stopping");
		p->stop = true;
	}
}

__attribute__((format(printf, 3, 4)))
static bool error_at(struct parser *p, const struct loc *loc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verror(p, loc, fmt, ap);
	va_end(ap);
	return false;
}

/* Reports the current token as unexpected (or the lexical error it is). */
static bool error_expected(struct parser *p, const char *what)
{
	struct strbuf sb = { 0 };

	if (p->tok.type == TOK_ERROR)
		return error_at(p, &p->tok.loc, "%s", p->tok.error);
	describe_tok(&p->tok, &sb);
	error_at(p, &p->tok.loc, "expected %s, got %s", what, sb.buf ? sb.buf : "?");
	sb_free(&sb);
	return false;
}

static void oom(struct parser *p)
{
	if (!p->stop)
		diag_add(p->diags, DIAG_ERROR, NULL, "out of memory");
	p->errors++;
	p->stop = true;
}

/* Skips to the end of the statement: a newline at brace depth <= depth, or
 * a newline followed by a word that starts a statement or by anything
 * unindented other than '}' (a missing '}', or garbage with a stray '{'). */
static void recover(struct parser *p, int depth)
{
	if (p->resync) {
		/* The current token starts the next statement. */
		p->resync = false;
		return;
	}
	static const char *const starts[] = { "pass", "block", "reject", "table",
		"set", "include", "killswitch" };

	while (p->tok.type != TOK_EOF) {
		if (p->tok.type == TOK_NEWLINE) {
			if (p->depth <= depth)
				return;
			struct token nx = lexer_peek(p->lx);
			if (depth == 0 && nx.loc.col == 1 && nx.type != TOK_RBRACE &&
			    nx.type != TOK_NEWLINE && nx.type != TOK_EOF) {
				p->depth = 0;
				return;
			}
			for (size_t i = 0; i < sizeof(starts) / sizeof(starts[0]); i++) {
				if (nx.type == TOK_WORD && nx.len == strlen(starts[i]) &&
				    !memcmp(nx.text, starts[i], nx.len)) {
					p->depth = depth;
					return;
				}
			}
		}
		next(p);
	}
}

static bool starts_statement(struct parser *p)
{
	static const char *const starts[] = { "pass", "block", "reject", "table",
		"set", "include", "killswitch" };

	if (p->tok.type != TOK_WORD)
		return false;
	for (size_t i = 0; i < sizeof(starts) / sizeof(starts[0]); i++)
		if (tok_is(p, starts[i]))
			return true;
	return lexer_peek(p->lx).type == TOK_EQUALS;
}

/* Skips the separators inside a { } list. Returns 1 at an item, 0 at the
 * closing '}', -1 (reported) when the list is not closed: end of file, or
 * a statement at the start of a line (the '}' was forgotten; parsing goes
 * on with that statement). */
static int list_skip(struct parser *p, const struct loc *open)
{
	bool newline = false;

	while (p->tok.type == TOK_NEWLINE || p->tok.type == TOK_COMMA) {
		newline |= p->tok.type == TOK_NEWLINE;
		next(p);
	}
	if (p->tok.type == TOK_RBRACE)
		return 0;
	if (p->tok.type == TOK_EOF) {
		error_at(p, open, "unterminated list: missing '}'");
		return -1;
	}
	if (newline && p->tok.loc.col == 1 && starts_statement(p)) {
		error_at(p, open, "unterminated list: missing '}'");
		if (p->depth > 0)
			p->depth--;
		p->resync = true;
		return -1;
	}
	return 1;
}

/* --- ownership helpers ------------------------------------------------------ */

static const char *intern_file(struct parser *p, const char *name, size_t len)
{
	struct ruleset *rs = p->rs;

	for (size_t i = 0; i < rs->nfiles; i++)
		if (strlen(rs->files[i]) == len && !memcmp(rs->files[i], name, len))
			return rs->files[i];
	if (grow_array(&rs->files, &p->files_cap, rs->nfiles, sizeof(*rs->files)) < 0)
		return NULL;
	char *copy = strndup(name, len);
	if (!copy)
		return NULL;
	rs->files[rs->nfiles++] = copy;
	return copy;
}

/* Remembers a file read for the rule set, for ruleset_check_trust(). */
static void record_source(struct parser *p, const char *path, const struct stat *st)
{
	struct ruleset *rs = p->rs;
	struct rs_source *grown = realloc(rs->sources, (rs->nsources + 1) * sizeof(*grown));
	char *copy = strdup(path);

	if (!grown || !copy) {
		if (grown)
			rs->sources = grown;
		free(copy);
		oom(p);
		return;
	}
	rs->sources = grown;
	rs->sources[rs->nsources++] = (struct rs_source){ copy, st->st_uid, st->st_mode };
}

/* A new anonymous address set owned by the rule set. */
static struct addrset *new_set(struct parser *p)
{
	struct ruleset *rs = p->rs;
	struct addrset *set;

	if (grow_array(&rs->sets, &p->sets_cap, rs->nsets, sizeof(*rs->sets)) < 0)
		return NULL;
	set = addrset_new();
	if (set)
		rs->sets[rs->nsets++] = set;
	return set;
}

void ifmatch_free_items(struct ifmatch *m)
{
	free(m->items);
	m->items = NULL;
	m->count = 0;
}

int ifmatch_copy(struct ifmatch *dst, const struct ifmatch *src)
{
	*dst = *src;
	dst->items = NULL;
	if (src->count) {
		dst->items = malloc(src->count * sizeof(*dst->items));
		if (!dst->items)
			return -ENOMEM;
		memcpy(dst->items, src->items, src->count * sizeof(*dst->items));
	}
	return 0;
}

static void rule_free_contents(struct rule *r)
{
	ifmatch_free_items(&r->on);
	free(r->protos);
	free(r->types);
	free(r->sport.ranges);
	free(r->dport.ranges);
	free(r->user_name);
	free(r->label);
	free(r->text);
	if (r->from.ifaddr) {
		ifmatch_free_items((struct ifmatch *)r->from.ifaddr);
		free((void *)r->from.ifaddr);
	}
	if (r->to.ifaddr) {
		ifmatch_free_items((struct ifmatch *)r->to.ifaddr);
		free((void *)r->to.ifaddr);
	}
	memset(r, 0, sizeof(*r));
}

static void killswitch_free(struct killswitch *ks)
{
	if (!ks)
		return;
	ifmatch_free_items(&ks->tunnel);
	for (size_t i = 0; i < ks->nendpoints; i++)
		free(ks->endpoints[i].user_name);
	free(ks->endpoints);
	free(ks->dns_text);
	free(ks);
}

void ruleset_free(struct ruleset *rs)
{
	if (!rs)
		return;
	for (size_t i = 0; i < rs->nrules; i++)
		rule_free_contents(&rs->rules[i]);
	free(rs->rules);
	ifmatch_free_items(&rs->skip);
	for (size_t i = 0; i < rs->ntables; i++) {
		free(rs->tables[i].name);
		addrset_free(rs->tables[i].set);
	}
	free(rs->tables);
	killswitch_free(rs->killswitch);
	for (size_t i = 0; i < rs->nfiles; i++)
		free(rs->files[i]);
	free(rs->files);
	for (size_t i = 0; i < rs->nsources; i++)
		free(rs->sources[i].path);
	free(rs->sources);
	for (size_t i = 0; i < rs->nsets; i++)
		addrset_free(rs->sets[i]);
	free(rs->sets);
	free(rs);
}

/* --- numbers, names ------------------------------------------------------- */

/* Decimal or 0x hex; -EINVAL when not a number, -ERANGE above max. */
static int parse_uint(const char *s, size_t n, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	int base = 10;
	size_t i = 0;

	if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		i = 2;
	}
	if (i == n)
		return -EINVAL;
	for (; i < n; i++) {
		int d;
		unsigned char c = (unsigned char)s[i];
		if (isdigit(c))
			d = c - '0';
		else if (base == 16 && isxdigit(c))
			d = tolower(c) - 'a' + 10;
		else
			return -EINVAL;
		if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base)
			v = UINT64_MAX; /* saturate: still reported as too big */
		else
			v = v * (uint64_t)base + (uint64_t)d;
	}
	if (v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

static bool word_is_number(const struct token *t)
{
	uint64_t v;

	return t->type == TOK_WORD && parse_uint(t->text, t->len, UINT64_MAX, &v) == 0;
}

static char *unescape_string(const char *s, size_t n)
{
	char *out = malloc(n + 1);
	size_t j = 0;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\\' && i + 1 < n && (s[i + 1] == '"' || s[i + 1] == '\\'))
			i++;
		out[j++] = s[i];
	}
	out[j] = '\0';
	return out;
}

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

/* --- interfaces ------------------------------------------------------------- */

static bool parse_ifitem(struct parser *p, struct ifitem *it)
{
	memset(it, 0, sizeof(*it));
	if (p->tok.type != TOK_WORD)
		return error_expected(p, "an interface name");
	if (tok_is(p, "any")) {
		it->kind = IFITEM_ANY;
		next(p);
		return true;
	}
	if (tok_is(p, "type")) {
		next(p);
		if (tok_is(p, "loopback"))
			it->type = IFTYPE_LOOPBACK;
		else if (tok_is(p, "tunnel"))
			it->type = IFTYPE_TUNNEL;
		else if (tok_is(p, "ether"))
			it->type = IFTYPE_ETHER;
		else
			return error_expected(p, "an interface type (loopback, tunnel or ether)");
		it->kind = IFITEM_TYPE;
		next(p);
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
			error_at(p, &p->tok.loc, "interface name '%s' is too long (at most %d characters)",
				 sb.buf ? sb.buf : "", IFW_IFNAMSIZ - 1);
		else
			error_at(p, &p->tok.loc, "invalid interface name '%s'", sb.buf ? sb.buf : "");
		sb_free(&sb);
		return false;
	}
	it->kind = prefix ? IFITEM_PREFIX : IFITEM_NAME;
	memcpy(it->name, s, n);
	it->name[n] = '\0';
	next(p);
	return true;
}

static bool push_ifitem(struct parser *p, struct ifmatch *m, size_t *cap,
			const struct ifitem *it)
{
	if (grow_array(&m->items, cap, m->count, sizeof(*m->items)) < 0) {
		oom(p);
		return false;
	}
	m->items[m->count++] = *it;
	return true;
}

/* IFSPEC: NAME | PREFIX* | any | type TYPE | !IFSPEC | { IFSPEC ... } */
static bool parse_ifspec(struct parser *p, struct ifmatch *m, struct loc *span)
{
	struct loc start = p->tok.loc;
	size_t cap = 0;
	struct ifitem it;

	memset(m, 0, sizeof(*m));
	if (p->tok.type == TOK_BANG) {
		m->negate = true;
		next(p);
	}
	if (p->tok.type == TOK_LBRACE) {
		struct loc open = p->tok.loc;
		size_t negated = 0, plain = 0;
		next(p);
		for (;;) {
			int more = list_skip(p, &open);
			if (more < 0)
				goto fail;
			if (more == 0)
				break;
			struct loc item_loc = p->tok.loc;
			bool neg = false;
			if (p->tok.type == TOK_BANG) {
				neg = true;
				next(p);
			}
			if (!parse_ifitem(p, &it))
				goto fail;
			if (neg ? plain : negated) {
				struct loc l = loc_join(&item_loc, &p->prev_loc);
				error_at(p, &l, "a list cannot mix negated and plain items");
				goto fail;
			}
			neg ? negated++ : plain++;
			if (!push_ifitem(p, m, &cap, &it))
				goto fail;
		}
		if (m->count == 0) {
			error_at(p, &open, "empty interface list");
			goto fail;
		}
		if (negated) {
			if (m->negate) {
				error_at(p, &start, "double negation: write the list without '!'");
				goto fail;
			}
			m->negate = true;
		}
		next(p);
	} else {
		if (!parse_ifitem(p, &it))
			goto fail;
		if (!push_ifitem(p, m, &cap, &it))
			goto fail;
	}
	if (m->negate) {
		for (size_t i = 0; i < m->count; i++) {
			if (m->items[i].kind == IFITEM_ANY) {
				error_at(p, &start, "'!any' can never match");
				goto fail;
			}
		}
	}
	*span = loc_join(&start, &p->prev_loc);
	return true;
fail:
	ifmatch_free_items(m);
	return false;
}

/* --- addresses ----------------------------------------------------------------- */

/* Parses the address in token t (not consumed); reports errors at t. */
static bool prefix_from_token(struct parser *p, const struct token *t,
			      struct ifw_prefix *out)
{
	char buf[80];
	struct strbuf sb = { 0 };
	int err;

	if (t->type != TOK_WORD)
		return error_expected(p, "an address");
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
			error_at(p, &t->loc, "'%s' has host bits set (did you mean %s?)", text, fmt);
		} else {
			error_at(p, &t->loc, "'%s' has host bits set", text);
		}
	} else if (err == -ERANGE) {
		error_at(p, &t->loc, "prefix length too long in '%s'", text);
	} else {
		error_at(p, &t->loc, "invalid address '%s'", text);
	}
	sb_free(&sb);
	return false;
}

static bool parse_prefix_tok(struct parser *p, struct ifw_prefix *out)
{
	if (!prefix_from_token(p, &p->tok, out))
		return false;
	next(p);
	return true;
}

static const struct rs_table *find_table(const struct parser *p, const char *name,
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
	const struct rs_table *t = find_table(p, p->tok.text, p->tok.len);

	if (!t) {
		struct strbuf sb = { 0 };
		sb_put_quoted_excerpt(&sb, p->tok.text, p->tok.len, 60);
		error_at(p, &p->tok.loc, "unknown table <%s>", sb.buf ? sb.buf : "");
		sb_free(&sb);
		return NULL;
	}
	next(p);
	return t;
}

/* ADDRS: any | ADDR | ADDR/LEN | <table> | (IFSPEC) | { ... } | !ADDRS */
static bool parse_addrs(struct parser *p, struct addrmatch *m, struct loc *span,
			const char *after)
{
	struct loc start = p->tok.loc;
	struct ifw_prefix pfx;
	char what[64];

	memset(m, 0, sizeof(*m));
	snprintf(what, sizeof(what), "an address after '%s'", after);
	if (p->tok.type == TOK_BANG) {
		m->negate = true;
		next(p);
	}
	if (tok_is(p, "any")) {
		if (m->negate)
			return error_at(p, &start, "'!any' can never match");
		next(p);
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
			oom(p);
			return false;
		}
		next(p);
		if (!parse_ifspec(p, ifm, &ifspan)) {
			free(ifm);
			return false;
		}
		if (p->tok.type != TOK_RPAREN) {
			ifmatch_free_items(ifm);
			free(ifm);
			return error_expected(p, "')'");
		}
		next(p);
		m->ifaddr = ifm;
	} else if (p->tok.type == TOK_LBRACE) {
		struct loc open = p->tok.loc;
		size_t negated = 0, plain = 0;
		bool any = false;
		struct addrset *set = new_set(p);
		if (!set) {
			oom(p);
			return false;
		}
		next(p);
		for (;;) {
			int more = list_skip(p, &open);
			if (more < 0)
				return false;
			if (more == 0)
				break;
			struct loc item_loc = p->tok.loc;
			bool neg = false;
			if (p->tok.type == TOK_BANG) {
				neg = true;
				next(p);
			}
			if (tok_is(p, "any")) {
				if (neg)
					return error_at(p, &item_loc, "'!any' can never match");
				any = true;
				next(p);
			} else if (p->tok.type == TOK_TABLE) {
				const struct rs_table *t = table_ref(p);
				if (!t)
					return false;
				size_t n = addrset_prefix_count(t->set);
				for (size_t i = 0; i < n; i++)
					if (addrset_add(set, addrset_prefix(t->set, i)) < 0) {
						oom(p);
						return false;
					}
			} else if (p->tok.type == TOK_LPAREN) {
				return error_at(p, &item_loc,
						"interface addresses '(IFSPEC)' cannot be part of a list");
			} else {
				if (!parse_prefix_tok(p, &pfx))
					return false;
				if (addrset_add(set, &pfx) < 0) {
					oom(p);
					return false;
				}
			}
			if (neg ? plain : negated) {
				struct loc l = loc_join(&item_loc, &p->prev_loc);
				return error_at(p, &l, "a list cannot mix negated and plain items");
			}
			neg ? negated++ : plain++;
		}
		if (negated + plain == 0)
			return error_at(p, &open, "empty address list");
		if (negated) {
			if (m->negate)
				return error_at(p, &start, "double negation: write the list without '!'");
			m->negate = true;
		}
		next(p);
		if (addrset_finish(set) < 0) {
			oom(p);
			return false;
		}
		if (!any)
			m->set = set;
	} else if (p->tok.type == TOK_WORD && !tok_is(p, "port")) {
		if (!parse_prefix_tok(p, &pfx))
			return false;
		struct addrset *set = new_set(p);
		if (!set || addrset_add(set, &pfx) < 0 || addrset_finish(set) < 0) {
			oom(p);
			return false;
		}
		m->set = set;
	} else {
		return error_expected(p, what);
	}
	*span = loc_join(&start, &p->prev_loc);
	return true;
}

/* --- ports, protocols, types ------------------------------------------------ */

static bool parse_port_value(struct parser *p, struct portrange *r)
{
	const char *s = p->tok.text;
	size_t n = p->tok.len;
	const char *colon;
	uint64_t lo, hi;
	struct strbuf sb = { 0 };
	int e1, e2 = 0;

	if (p->tok.type != TOK_WORD)
		return error_expected(p, "a port number");
	colon = memchr(s, ':', n);
	e1 = parse_uint(s, colon ? (size_t)(colon - s) : n, 65535, &lo);
	hi = lo;
	if (colon && !e1)
		e2 = parse_uint(colon + 1, n - (size_t)(colon + 1 - s), 65535, &hi);
	else if (colon)
		e2 = parse_uint(colon + 1, n - (size_t)(colon + 1 - s), 65535, &hi);
	sb_put_quoted_excerpt(&sb, s, n, 40);
	const char *text = sb.buf ? sb.buf : "";
	bool ok = false;
	if (e1 == -EINVAL || e2 == -EINVAL)
		error_at(p, &p->tok.loc, "invalid port '%s' (a number or a range N:M)", text);
	else if (e1 == -ERANGE || e2 == -ERANGE)
		error_at(p, &p->tok.loc, "port '%s' out of range (0-65535)", text);
	else if (lo > hi)
		error_at(p, &p->tok.loc, "empty port range '%s' (%u > %u)", text,
			 (unsigned)lo, (unsigned)hi);
	else
		ok = true;
	sb_free(&sb);
	if (!ok)
		return false;
	r->lo = (uint16_t)lo;
	r->hi = (uint16_t)hi;
	next(p);
	return true;
}

static bool push_port(struct parser *p, struct portmatch *m, size_t *cap,
		      const struct portrange *r)
{
	if (grow_array(&m->ranges, cap, m->count, sizeof(*m->ranges)) < 0) {
		oom(p);
		return false;
	}
	m->ranges[m->count++] = *r;
	return true;
}

/* PORTS: N | N:M | !PORTS | { ... } */
static bool parse_ports(struct parser *p, struct portmatch *m, struct loc *span)
{
	struct loc start = p->tok.loc;
	struct portrange r;
	size_t cap = 0;

	if (p->tok.type == TOK_BANG) {
		m->negate = true;
		next(p);
	}
	if (p->tok.type == TOK_LBRACE) {
		struct loc open = p->tok.loc;
		size_t negated = 0, plain = 0;
		next(p);
		for (;;) {
			int more = list_skip(p, &open);
			if (more < 0)
				return false;
			if (more == 0)
				break;
			struct loc item_loc = p->tok.loc;
			bool neg = false;
			if (p->tok.type == TOK_BANG) {
				neg = true;
				next(p);
			}
			if (!parse_port_value(p, &r) || !push_port(p, m, &cap, &r))
				return false;
			if (neg ? plain : negated) {
				struct loc l = loc_join(&item_loc, &p->prev_loc);
				return error_at(p, &l, "a list cannot mix negated and plain items");
			}
			neg ? negated++ : plain++;
		}
		if (m->count == 0)
			return error_at(p, &open, "empty port list");
		if (negated) {
			if (m->negate)
				return error_at(p, &start, "double negation: write the list without '!'");
			m->negate = true;
		}
		next(p);
	} else {
		if (!parse_port_value(p, &r) || !push_port(p, m, &cap, &r))
			return false;
	}
	*span = loc_join(&start, &p->prev_loc);
	return true;
}

static bool parse_proto_value(struct parser *p, uint8_t *out)
{
	uint64_t v;
	char name[32];

	if (p->tok.type != TOK_WORD)
		return error_expected(p, "a protocol");
	int err = parse_uint(p->tok.text, p->tok.len, 255, &v);
	if (err == -ERANGE)
		return error_at(p, &p->tok.loc, "protocol number out of range (0-255)");
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
			error_at(p, &p->tok.loc, "unknown protocol '%s'", sb.buf ? sb.buf : "");
			sb_free(&sb);
			return false;
		}
	}
	*out = (uint8_t)v;
	next(p);
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
		return error_expected(p, icmp6 ? "an ICMPv6 type" : "an ICMP type");
	int err = parse_uint(p->tok.text, p->tok.len, 255, &v);
	if (err == -ERANGE)
		return error_at(p, &p->tok.loc, "ICMP type out of range (0-255)");
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
			error_at(p, &p->tok.loc, "unknown %s type '%s'", icmp6 ? "icmp6" : "icmp",
				 sb.buf ? sb.buf : "");
			sb_free(&sb);
			return false;
		}
		v = (uint64_t)n;
	}
	*out = (uint8_t)v;
	next(p);
	return true;
}

static bool parse_value_list(struct parser *p, value_fn fn, bool icmp6,
			     uint8_t **values, size_t *count, struct loc *span,
			     const char *what)
{
	struct loc start = p->tok.loc;
	size_t cap = 0;
	uint8_t v;

	if (p->tok.type == TOK_BANG)
		return error_at(p, &p->tok.loc, "%s cannot be negated", what);
	if (p->tok.type == TOK_LBRACE) {
		struct loc open = p->tok.loc;
		next(p);
		for (;;) {
			int more = list_skip(p, &open);
			if (more < 0)
				return false;
			if (more == 0)
				break;
			if (p->tok.type == TOK_BANG)
				return error_at(p, &p->tok.loc, "%s cannot be negated", what);
			if (!fn(p, &v, icmp6))
				return false;
			if (grow_array(values, &cap, *count, 1) < 0) {
				oom(p);
				return false;
			}
			(*values)[(*count)++] = v;
		}
		if (*count == 0)
			return error_at(p, &open, "empty list");
		next(p);
	} else {
		if (!fn(p, &v, icmp6))
			return false;
		*values = malloc(1);
		if (!*values) {
			oom(p);
			return false;
		}
		(*values)[0] = v;
		*count = 1;
	}
	*span = loc_join(&start, &p->prev_loc);
	return true;
}

static bool parse_user(struct parser *p, uint32_t *uid, char **name)
{
	uint64_t v;

	if (p->tok.type != TOK_WORD)
		return error_expected(p, "a user name or uid");
	if (parse_uint(p->tok.text, p->tok.len, UINT32_MAX - 1, &v) == 0) {
		*uid = (uint32_t)v;
		*name = NULL;
		next(p);
		return true;
	}
	if (word_is_number(&p->tok))
		return error_at(p, &p->tok.loc, "uid out of range");
	char *n = tok_strdup(&p->tok);
	if (!n) {
		oom(p);
		return false;
	}
	struct passwd pw, *res = NULL;
	char buf[4096];
	if (getpwnam_r(n, &pw, buf, sizeof(buf), &res) != 0 || !res) {
		struct strbuf sb = { 0 };
		sb_put_quoted_excerpt(&sb, p->tok.text, p->tok.len, 40);
		error_at(p, &p->tok.loc, "unknown user '%s'", sb.buf ? sb.buf : "");
		sb_free(&sb);
		free(n);
		return false;
	}
	*uid = (uint32_t)res->pw_uid;
	*name = n;
	next(p);
	return true;
}

static bool parse_mark(struct parser *p, uint32_t *mark)
{
	uint64_t v;

	if (p->tok.type != TOK_WORD)
		return error_expected(p, "a mark number");
	int err = parse_uint(p->tok.text, p->tok.len, UINT32_MAX, &v);
	if (err == -ERANGE)
		return error_at(p, &p->tok.loc, "mark out of range (at most 0xffffffff)");
	if (err) {
		struct strbuf sb = { 0 };
		sb_put_quoted_excerpt(&sb, p->tok.text, p->tok.len, 40);
		error_at(p, &p->tok.loc, "invalid mark '%s' (a number, decimal or 0x hex)",
			 sb.buf ? sb.buf : "");
		sb_free(&sb);
		return false;
	}
	*mark = (uint32_t)v;
	next(p);
	return true;
}

/* --- rules ----------------------------------------------------------------- */

static bool duplicate(struct parser *p, bool seen)
{
	if (!seen)
		return false;
	struct strbuf sb = { 0 };
	sb_put_quoted_excerpt(&sb, p->tok.text, p->tok.len, 40);
	error_at(p, &p->tok.loc, "'%s' given twice", sb.buf ? sb.buf : "");
	sb_free(&sb);
	return true;
}

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
			error_at(p, at, "port needs proto tcp or udp");
			ok = false;
		}
	}
	if (r->ntypes) {
		const char *kw = r->icmp6 ? "icmp6-type" : "icmp-type";
		if (!all_protos(r, r->icmp6 ? 58 : 1, r->icmp6 ? 58 : 1)) {
			error_at(p, &L->types, "%s needs proto %s", kw, r->icmp6 ? "icmp6" : "icmp");
			return false;
		}
		if (r->family == (r->icmp6 ? 4u : 6u)) {
			error_at(p, &L->types, "rule can never match: %s with %s", kw,
				 r->icmp6 ? "inet" : "inet6");
			return false;
		}
	}
	if (all_protos(r, 1, 1) && r->family == 6) {
		error_at(p, &L->proto, "rule can never match: proto icmp with inet6 (use icmp6)");
		return false;
	}
	if (all_protos(r, 58, 58) && r->family == 4) {
		error_at(p, &L->proto, "rule can never match: proto icmp6 with inet (use icmp)");
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
		error_at(p, from ? &L->to : &L->from,
			 "rule can never match: the negated set covers every address");
		return false;
	}
	const char *fam_kw = r->family == 4 ? "inet" : r->family == 6 ? "inet6" :
			     all_protos(r, 1, 1) ? "proto icmp" : "proto icmp6";
	if (!(fams & from)) {
		error_at(p, &L->from, "rule can never match: %s with only %s addresses",
			 fam_kw, fam_only(from));
		return false;
	}
	if (!(fams & to)) {
		error_at(p, &L->to, "rule can never match: %s with only %s addresses",
			 fam_kw, fam_only(to));
		return false;
	}
	if (!(from & to)) {
		error_at(p, &L->to,
			 "rule can never match: 'from' has only %s addresses and 'to' only %s addresses",
			 fam_only(from), fam_only(to));
		return false;
	}
	return true;
}

/* Parses one rule from the action word to the end of the statement. */
static bool parse_rule(struct parser *p, struct rule *r, struct rule_locs *L)
{
	bool seen_dir = false, seen_log = false, seen_on = false, seen_fam = false,
	     seen_proto = false, seen_all = false, seen_from = false,
	     seen_to = false, seen_types = false, seen_user = false,
	     seen_mark = false, seen_label = false;

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
	next(p);

	while (!at_end(p) && p->tok.type != TOK_RBRACE) {
		struct loc kw = p->tok.loc;
		if (p->tok.type != TOK_WORD)
			return error_expected(p, "a rule option");
		if (tok_is(p, "quick")) {
			next(p); /* pf habit: every rule is quick here */
		} else if (tok_is(p, "in") || tok_is(p, "out")) {
			if (seen_dir)
				return error_at(p, &kw, "direction given twice");
			seen_dir = true;
			r->dir = tok_is(p, "in") ? DIR_IN : DIR_OUT;
			next(p);
		} else if (tok_is(p, "log")) {
			if (duplicate(p, seen_log))
				return false;
			seen_log = r->log = true;
			next(p);
		} else if (tok_is(p, "on")) {
			if (duplicate(p, seen_on))
				return false;
			seen_on = true;
			next(p);
			if (!parse_ifspec(p, &r->on, &L->on))
				return false;
			L->on = loc_join(&kw, &p->prev_loc);
		} else if (tok_is(p, "inet") || tok_is(p, "inet6")) {
			if (seen_fam)
				return error_at(p, &kw, "address family given twice");
			seen_fam = true;
			r->family = tok_is(p, "inet") ? 4 : 6;
			L->family = p->tok.loc;
			next(p);
		} else if (tok_is(p, "proto")) {
			if (duplicate(p, seen_proto))
				return false;
			seen_proto = true;
			next(p);
			if (!parse_value_list(p, parse_proto_fn, false, &r->protos,
					      &r->nprotos, &L->proto, "proto"))
				return false;
			L->proto = loc_join(&kw, &p->prev_loc);
		} else if (tok_is(p, "all")) {
			if (duplicate(p, seen_all))
				return false;
			if (seen_from || seen_to)
				return error_at(p, &kw, "'all' cannot be combined with 'from' or 'to'");
			seen_all = true;
			L->all = kw;
			next(p);
		} else if (tok_is(p, "from") || tok_is(p, "to")) {
			bool is_from = tok_is(p, "from");
			if (duplicate(p, is_from ? seen_from : seen_to))
				return false;
			if (seen_all)
				return error_at(p, &kw, "'all' cannot be combined with 'from' or 'to'");
			*(is_from ? &seen_from : &seen_to) = true;
			struct addrmatch *am = is_from ? &r->from : &r->to;
			struct loc *al = is_from ? &L->from : &L->to;
			next(p);
			if (tok_is(p, "port")) {
				*al = kw;
			} else {
				if (!parse_addrs(p, am, al, is_from ? "from" : "to"))
					return false;
			}
			if (tok_is(p, "port")) {
				struct loc pkw = p->tok.loc;
				struct loc *pl = is_from ? &L->sport : &L->dport;
				next(p);
				if (!parse_ports(p, is_from ? &r->sport : &r->dport, pl))
					return false;
				*pl = loc_join(&pkw, &p->prev_loc);
			}
		} else if (tok_is(p, "port")) {
			return error_at(p, &kw, "'port' must follow 'from ADDRS' or 'to ADDRS'");
		} else if (tok_is(p, "icmp-type") || tok_is(p, "icmp6-type")) {
			if (duplicate(p, seen_types))
				return false;
			seen_types = true;
			r->icmp6 = tok_is(p, "icmp6-type");
			next(p);
			if (!parse_value_list(p, parse_icmp_type_fn, r->icmp6, &r->types,
					      &r->ntypes, &L->types, "icmp-type"))
				return false;
			L->types = loc_join(&kw, &p->prev_loc);
		} else if (tok_is(p, "user")) {
			if (duplicate(p, seen_user))
				return false;
			seen_user = r->has_user = true;
			next(p);
			if (!parse_user(p, &r->uid, &r->user_name))
				return false;
			L->user = loc_join(&kw, &p->prev_loc);
		} else if (tok_is(p, "mark")) {
			if (duplicate(p, seen_mark))
				return false;
			seen_mark = r->has_mark = true;
			next(p);
			if (!parse_mark(p, &r->mark))
				return false;
			L->mark = loc_join(&kw, &p->prev_loc);
		} else if (tok_is(p, "label")) {
			if (duplicate(p, seen_label))
				return false;
			seen_label = true;
			next(p);
			if (p->tok.type != TOK_STRING)
				return error_expected(p, "a quoted label text");
			if (p->tok.len > MAX_LABEL)
				return error_at(p, &p->tok.loc, "label too long (at most %d bytes)", MAX_LABEL);
			if (!valid_label(p->tok.text, p->tok.len))
				return error_at(p, &p->tok.loc,
						"a label must be UTF-8 text without control characters");
			r->label = unescape_string(p->tok.text, p->tok.len);
			if (!r->label) {
				oom(p);
				return false;
			}
			L->label = loc_join(&kw, &p->tok.loc);
			next(p);
		} else {
			struct strbuf sb = { 0 };
			sb_put_quoted_excerpt(&sb, p->tok.text, p->tok.len, 40);
			error_at(p, &kw, "unknown rule option '%s'", sb.buf ? sb.buf : "");
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
static bool statement_origin(struct parser *p, const struct loc *at,
			     const char **file, int *line)
{
	if (at_end(p) && p->tok.marker.present) {
		*file = intern_file(p, p->tok.marker.path, p->tok.marker.path_len);
		*line = p->tok.marker.line;
	} else {
		*file = intern_file(p, at->src->name, strlen(at->src->name));
		*line = at->line;
	}
	if (!*file) {
		oom(p);
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
		oom(p);
		return false;
	}
	r->index = rs->nrules;
	p->rule_locs[rs->nrules] = *at;
	rs->rules[rs->nrules++] = *r;
	return true;
}

static bool parse_rule_statement(struct parser *p)
{
	struct rule r;
	struct rule_locs L;

	if (!parse_rule(p, &r, &L) || !validate_rule(p, &r, &L)) {
		rule_free_contents(&r);
		return false;
	}
	if (!at_end(p)) {
		rule_free_contents(&r);
		return error_expected(p, "end of line");
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
static bool generated_rule(struct parser *p, const char *text, const struct loc *at,
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
	p->lx = &lx;
	p->depth = 0;
	next(p);
	ok = parse_rule(p, &r, &L) && validate_rule(p, &r, &L);
	if (ok && p->tok.type != TOK_EOF)
		ok = error_at(p, at, "internal error: bad generated rule '%s'", text);
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

/* --- killswitch ----------------------------------------------------------------- */

struct ks_parse {
	struct killswitch *ks;
	size_t endpoints_cap;
	struct loc at, tunnel_at, dns_at, lan_at, dhcp_at;
	struct loc *endpoint_at;
};

static bool parse_endpoint(struct parser *p, struct killswitch_endpoint *e)
{
	bool seen_port = false, seen_proto = false, seen_user = false, seen_mark = false;
	uint64_t v;

	memset(e, 0, sizeof(*e));
	if (!parse_prefix_tok(p, &e->addr))
		return false;
	while (!at_end(p) && p->tok.type != TOK_RBRACE) {
		if (tok_is(p, "port")) {
			if (duplicate(p, seen_port))
				return false;
			seen_port = e->has_port = true;
			next(p);
			if (p->tok.type != TOK_WORD)
				return error_expected(p, "a port number");
			int err = parse_uint(p->tok.text, p->tok.len, 65535, &v);
			if (err == -ERANGE || (!err && v == 0))
				return error_at(p, &p->tok.loc, "endpoint port out of range (1-65535)");
			if (err)
				return error_at(p, &p->tok.loc, "invalid endpoint port (one number)");
			e->port = (uint16_t)v;
			next(p);
		} else if (tok_is(p, "proto")) {
			if (duplicate(p, seen_proto))
				return false;
			seen_proto = true;
			next(p);
			struct loc at = p->tok.loc;
			if (!parse_proto_value(p, &e->proto))
				return false;
			if (e->proto != 6 && e->proto != 17)
				return error_at(p, &at, "endpoint proto must be udp or tcp");
		} else if (tok_is(p, "user")) {
			if (duplicate(p, seen_user))
				return false;
			seen_user = e->has_user = true;
			next(p);
			if (!parse_user(p, &e->uid, &e->user_name))
				return false;
		} else if (tok_is(p, "mark")) {
			if (duplicate(p, seen_mark))
				return false;
			seen_mark = e->has_mark = true;
			next(p);
			if (!parse_mark(p, &e->mark))
				return false;
		} else {
			return error_expected(p, "port, proto, user or mark");
		}
	}
	return true;
}

static bool parse_killswitch_item(struct parser *p, struct ks_parse *kp)
{
	struct killswitch *ks = kp->ks;
	struct loc at = p->tok.loc;
	const char *file;
	int line;

	if (tok_is(p, "tunnel")) {
		if (ks->tunnel.count)
			return error_at(p, &at, "'tunnel' given twice");
		struct loc span;
		next(p);
		struct loc spec_at = p->tok.loc;
		if (!parse_ifspec(p, &ks->tunnel, &span))
			return false;
		bool bad = ks->tunnel.negate;
		for (size_t i = 0; i < ks->tunnel.count; i++)
			bad |= ks->tunnel.items[i].kind == IFITEM_ANY;
		if (bad) {
			ifmatch_free_items(&ks->tunnel);
			return error_at(p, &spec_at,
					"the tunnel must name interfaces (not 'any' or a negation)");
		}
		kp->tunnel_at = at;
		if (!at_end(p) && p->tok.type != TOK_RBRACE)
			return error_expected(p, "end of line");
		if (!statement_origin(p, &at, &file, &line))
			return false;
		ks->tunnel_line = line;
	} else if (tok_is(p, "endpoint")) {
		struct killswitch_endpoint e;
		next(p);
		if (!parse_endpoint(p, &e)) {
			free(e.user_name);
			return false;
		}
		if (!statement_origin(p, &at, &file, &line) ||
		    grow_array(&ks->endpoints, &kp->endpoints_cap, ks->nendpoints,
			       sizeof(*ks->endpoints)) < 0 ||
		    !(kp->endpoint_at = realloc(kp->endpoint_at,
						kp->endpoints_cap * sizeof(*kp->endpoint_at)))) {
			free(e.user_name);
			oom(p);
			return false;
		}
		e.line = line;
		kp->endpoint_at[ks->nendpoints] = at;
		ks->endpoints[ks->nendpoints++] = e;
	} else if (tok_is(p, "dns")) {
		if (ks->dns_text)
			return error_at(p, &at, "'dns' given twice");
		struct loc span;
		next(p);
		struct loc addr_at = p->tok.loc;
		if (!parse_addrs(p, &ks->dns, &span, "dns"))
			return false;
		if (ks->dns.negate || ks->dns.ifaddr || !ks->dns.set) {
			if (ks->dns.ifaddr) {
				ifmatch_free_items((struct ifmatch *)ks->dns.ifaddr);
				free((void *)ks->dns.ifaddr);
			}
			memset(&ks->dns, 0, sizeof(ks->dns));
			return error_at(p, &addr_at, "dns needs the addresses of the resolvers");
		}
		struct strbuf sb = { 0 };
		format_addrmatch(&sb, &ks->dns);
		free(ks->dns_text); /* a second 'dns' after an error on the first */
		ks->dns_text = sb_steal(&sb);
		if (!ks->dns_text) {
			oom(p);
			return false;
		}
		if (!at_end(p) && p->tok.type != TOK_RBRACE)
			return error_expected(p, "end of line");
		if (!statement_origin(p, &at, &file, &line))
			return false;
		ks->dns_line = line;
		kp->dns_at = at;
	} else if (tok_is(p, "allow")) {
		next(p);
		bool lan = tok_is(p, "lan");
		if (!lan && !tok_is(p, "dhcp"))
			return error_expected(p, "'lan' or 'dhcp' after 'allow'");
		if (lan ? ks->allow_lan : ks->allow_dhcp)
			return error_at(p, &at, "'allow %s' given twice", lan ? "lan" : "dhcp");
		next(p);
		if (!at_end(p) && p->tok.type != TOK_RBRACE)
			return error_expected(p, "end of line");
		if (!statement_origin(p, &at, &file, &line))
			return false;
		if (lan) {
			ks->allow_lan = true;
			ks->allow_lan_line = line;
			kp->lan_at = at;
		} else {
			ks->allow_dhcp = true;
			ks->allow_dhcp_line = line;
			kp->dhcp_at = at;
		}
	} else {
		if (p->tok.type != TOK_WORD)
			return error_expected(p, "tunnel, endpoint, dns or allow");
		struct strbuf sb = { 0 };
		sb_put_quoted_excerpt(&sb, p->tok.text, p->tok.len, 40);
		error_at(p, &at, "unknown killswitch setting '%s' (expected tunnel, endpoint, dns or allow)",
			 sb.buf ? sb.buf : "");
		sb_free(&sb);
		return false;
	}
	return true;
}

static void format_endpoint_rule(struct strbuf *sb, const struct killswitch_endpoint *e)
{
	char addr[64];

	sb_puts(sb, "pass out");
	if (e->proto)
		sb_printf(sb, " proto %s", proto_print_name(e->proto));
	else if (e->has_port)
		sb_puts(sb, " proto { tcp udp }");
	sb_printf(sb, " to %s", ifw_prefix_format(&e->addr, addr, sizeof(addr)));
	if (e->has_port)
		sb_printf(sb, " port %u", e->port);
	if (e->has_user) {
		if (e->user_name)
			sb_printf(sb, " user %s", e->user_name);
		else
			sb_printf(sb, " user %u", e->uid);
	}
	if (e->has_mark)
		sb_printf(sb, " mark 0x%x", e->mark);
}

/* Expands the preset into rules, in the order of design.md. */
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
		oom(p);
		ok = false;
		goto out;
	}
	ks->first_rule = p->rs->nrules;
	ok = generated_rule(p, "pass on type loopback all", &kp->at, file, ks->line);
	for (size_t i = 0; ok && ks->allow_dhcp && i < 4; i++)
		ok = generated_rule(p, dhcp[i], &kp->dhcp_at, file, ks->allow_dhcp_line);
	ok = ok && generated_rule(p, "pass inet6 proto icmp6 to { fe80::/10 ff02::/16 } icmp6-type "
				  "{ nd-router-solicit nd-router-advert nd-neighbor-solicit "
				  "nd-neighbor-advert nd-redirect }", &kp->at, file, ks->line);
	for (size_t i = 0; ok && i < ks->nendpoints; i++) {
		format_endpoint_rule(&sb, &ks->endpoints[i]);
		char *text = sb_steal(&sb);
		ok = text && generated_rule(p, text, &kp->endpoint_at[i], file, ks->endpoints[i].line);
		free(text);
	}
	if (ok && ks->dns_text) {
		sb_printf(&sb, "pass out on %s proto { tcp udp } to %s port 53", tun.buf, ks->dns_text);
		char *text = sb_steal(&sb);
		ok = text && generated_rule(p, text, &kp->dns_at, file, ks->dns_line) &&
		     generated_rule(p, "reject out proto { tcp udp } to any port 53", &kp->dns_at,
				    file, ks->dns_line);
		free(text);
	}
	if (ok) {
		sb_printf(&sb, "block in on %s to (%s)", tun_neg.buf, tun.buf);
		char *text = sb_steal(&sb);
		ok = text && generated_rule(p, text, &kp->tunnel_at, file, ks->tunnel_line);
		free(text);
	}
	if (ok) {
		sb_printf(&sb, "pass out on %s all", tun.buf);
		char *text = sb_steal(&sb);
		ok = text && generated_rule(p, text, &kp->tunnel_at, file, ks->tunnel_line);
		free(text);
	}
	for (size_t i = 0; ok && ks->allow_lan && i < 3; i++)
		ok = generated_rule(p, lan[i], &kp->lan_at, file, ks->allow_lan_line);
	ks->nrules = p->rs->nrules - before;
out:
	sb_free(&tun);
	sb_free(&tun_neg);
	sb_free(&sb);
	return ok;
}

static bool parse_killswitch(struct parser *p)
{
	struct ks_parse kp = { 0 };
	bool ok = true;

	kp.at = p->tok.loc;
	kp.ks = calloc(1, sizeof(*kp.ks));
	if (!kp.ks) {
		oom(p);
		return false;
	}
	if (p->rs->killswitch) {
		error_at(p, &kp.at, "only one killswitch block is allowed (the first is at %s:%d)",
			 p->rs->killswitch->file, p->rs->killswitch->line);
		ok = false;
	}
	next(p);
	if (p->tok.type != TOK_LBRACE) {
		killswitch_free(kp.ks);
		return error_expected(p, "'{' after 'killswitch'");
	}
	next(p);
	if (!statement_origin(p, &kp.at, &kp.ks->file, &kp.ks->line)) {
		killswitch_free(kp.ks);
		return false;
	}
	/* Inside the block: one setting per line, until the closing '}'. */
	for (;;) {
		while (p->tok.type == TOK_NEWLINE)
			next(p);
		if (p->tok.type == TOK_RBRACE) {
			next(p);
			break;
		}
		if (p->tok.type == TOK_EOF) {
			error_at(p, &kp.at, "unterminated killswitch block: missing '}'");
			ok = false;
			break;
		}
		if (p->stop) {
			ok = false;
			break;
		}
		if (!parse_killswitch_item(p, &kp)) {
			ok = false;
			recover(p, 1);
			if (p->depth == 0)
				break; /* the block was closed on the bad line */
		}
	}
	if (ok && !at_end(p))
		ok = error_expected(p, "end of line after '}'");
	if (ok && !kp.ks->tunnel.count)
		ok = error_at(p, &kp.at, "killswitch needs a 'tunnel' line naming the VPN interface");
	if (ok)
		ok = expand_killswitch(p, &kp);
	free(kp.endpoint_at);
	if (!ok) {
		killswitch_free(kp.ks);
		return false;
	}
	p->rs->killswitch = kp.ks;
	p->killswitch_loc = kp.at;
	return true;
}

/* --- other statements --------------------------------------------------------- */

static bool valid_macro_name(const struct token *t)
{
	if (t->len == 0 || !(isalpha((unsigned char)t->text[0]) || t->text[0] == '_'))
		return false;
	for (size_t i = 0; i < t->len; i++)
		if (!isalnum((unsigned char)t->text[i]) && t->text[i] != '_')
			return false;
	return true;
}

/* NAME = "VALUE" | NAME = tokens to the end of the line */
static bool parse_macro(struct parser *p)
{
	struct token name = p->tok;
	struct strbuf sb = { 0 };

	if (!valid_macro_name(&name))
		return error_at(p, &name.loc, "invalid macro name (letters, digits and '_')");
	const struct macro *old = macro_lookup(&p->macros, name.text, name.len);
	if (old) {
		struct strbuf nb = { 0 };
		sb_putn(&nb, name.text, name.len);
		error_at(p, &name.loc, "macro '%s' is already defined at %s:%d",
			 nb.buf ? nb.buf : "", old->loc.src->name, old->loc.line);
		sb_free(&nb);
		return false;
	}
	int depth0 = p->depth;
	next(p);
	next(p);
	if (p->tok.type == TOK_STRING && lexer_peek(p->lx).type != TOK_WORD) {
		char *v = unescape_string(p->tok.text, p->tok.len);
		if (!v) {
			oom(p);
			return false;
		}
		sb.buf = v;
		next(p);
	} else {
		/* An unquoted value: the tokens up to the end of the line (lists
		 * may span lines), kept as text to lex again at each use. */
		while (!(at_end(p) && p->depth == depth0) && p->tok.type != TOK_EOF) {
			if (p->tok.type == TOK_ERROR || p->tok.type == TOK_EQUALS) {
				sb_free(&sb);
				return error_expected(p, "a macro value");
			}
			if (sb.len)
				sb_putc(&sb, ' ');
			if (p->tok.type == TOK_STRING) {
				sb_putc(&sb, '"');
				sb_putn(&sb, p->tok.text, p->tok.len);
				sb_putc(&sb, '"');
			} else if (p->tok.type == TOK_TABLE) {
				sb_putc(&sb, '<');
				sb_putn(&sb, p->tok.text, p->tok.len);
				sb_putc(&sb, '>');
			} else if (p->tok.type != TOK_NEWLINE) {
				sb_putn(&sb, p->tok.text, p->tok.len);
			}
			next(p);
		}
		if (!sb.len) {
			sb_free(&sb);
			return error_at(p, &p->tok.loc, "expected a value after '='");
		}
	}
	if (!at_end(p)) {
		sb_free(&sb);
		return error_expected(p, "end of line");
	}
	char *value = sb_steal(&sb);
	char *mname = strndup(name.text, name.len);
	if (!value || !mname ||
	    grow_array(&p->macros.items, &p->macros.cap, p->macros.count,
		       sizeof(*p->macros.items)) < 0) {
		free(value);
		free(mname);
		oom(p);
		return false;
	}
	p->macros.items[p->macros.count++] = (struct macro){ mname, value, name.loc };
	return true;
}

static char *resolve_path(const struct src *from, const char *path)
{
	char *out = NULL;

	if (path[0] == '/' || !from)
		return strdup(path);
	const char *slash = strrchr(from->name, '/');
	if (!slash)
		return strdup(path);
	if (asprintf(&out, "%.*s/%s", (int)(slash - from->name), from->name, path) < 0)
		return NULL;
	return out;
}

/* Reads a whole file. Returns 0 or -errno. */
static int read_file(const char *path, bool regular_only, char **text, size_t *len,
		     struct stat *st)
{
	FILE *f = fopen(path, "rb");
	struct strbuf sb = { 0 };
	char buf[65536];
	size_t n;

	if (!f)
		return -errno;
	if (fstat(fileno(f), st) < 0 || (regular_only && !S_ISREG(st->st_mode))) {
		int err = S_ISDIR(st->st_mode) ? -EISDIR : -EINVAL;
		fclose(f);
		return err;
	}
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		sb_putn(&sb, buf, n);
		if (sb.len > MAX_FILE_SIZE) {
			fclose(f);
			sb_free(&sb);
			return -EFBIG;
		}
	}
	int err = ferror(f) ? -errno : 0;
	fclose(f);
	if (err == 0 && !sb.buf)
		sb_putn(&sb, "", 0);
	if (err || sb.oom) {
		sb_free(&sb);
		return err ? err : -ENOMEM;
	}
	*len = sb.len;
	*text = sb.buf;
	return 0;
}

static struct src *new_src(struct parser *p, char *name, char *text, size_t len,
			   const struct src *parent, int parent_line)
{
	struct src *s = calloc(1, sizeof(*s));
	struct strbuf sb = { 0 };

	if (!s) {
		free(name);
		free(text);
		return NULL;
	}
	s->name = name;
	s->text = text;
	s->len = len;
	s->parent = parent;
	s->parent_line = parent_line;
	int line = parent_line;
	for (const struct src *up = parent; up; up = up->parent) {
		sb_printf(&sb, "%s %s:%d%s", up == parent ? "In file included from" :
			  "                 from", up->name, line, up->parent ? ",\n" : ":\n");
		line = up->parent_line;
	}
	if (sb.len)
		s->include_chain = sb_steal(&sb);
	s->next = p->sources;
	p->sources = s;
	return s;
}

static void parse_source(struct parser *p, const struct src *src);

static const char *file_error(int err)
{
	if (err == -EINVAL)
		return "not a regular file";
	if (err == -EFBIG)
		return "file too large";
	return strerror(-err);
}

static bool parse_include(struct parser *p)
{
	struct loc at = p->tok.loc;
	const struct src *cur = at.src;

	next(p);
	if (p->tok.type != TOK_STRING)
		return error_expected(p, "a quoted file name after 'include'");
	struct loc path_at = p->tok.loc;
	char *rel = unescape_string(p->tok.text, p->tok.len);
	next(p);
	if (!rel) {
		oom(p);
		return false;
	}
	if (!at_end(p)) {
		free(rel);
		return error_expected(p, "end of line");
	}
	/* Relative to the including file; a rule set from a string includes
	 * relative to the current directory. */
	char *path = resolve_path(cur->parent || !p->top_is_string ? cur : NULL, rel);
	free(rel);
	if (!path) {
		oom(p);
		return false;
	}
	if (p->nstack >= MAX_INCLUDE_DEPTH) {
		error_at(p, &path_at, "includes nested too deeply (more than %d)", MAX_INCLUDE_DEPTH);
		free(path);
		return false;
	}
	char *text = NULL;
	size_t len = 0;
	struct stat st;
	int err = read_file(path, true, &text, &len, &st);
	if (err) {
		error_at(p, &path_at, "cannot include '%s': %s", path, file_error(err));
		free(path);
		return false;
	}
	for (int i = 0; i < p->nstack; i++) {
		if (p->stack[i].has_id && p->stack[i].dev == st.st_dev && p->stack[i].ino == st.st_ino) {
			error_at(p, &path_at, "include cycle: '%s' is already being read", path);
			free(path);
			free(text);
			return false;
		}
	}
	record_source(p, path, &st);
	struct src *src = new_src(p, path, text, len, cur, at.line);
	if (!src) {
		oom(p);
		return false;
	}
	p->stack[p->nstack++] = (struct include_frame){ st.st_dev, st.st_ino, true };
	parse_source(p, src);
	p->nstack--;
	return true;
}

static bool add_table_prefix(struct parser *p, struct addrset *set, const struct ifw_prefix *pfx)
{
	if (addrset_add(set, pfx) < 0) {
		oom(p);
		return false;
	}
	return true;
}

/* Reads 'file "PATH"': one address per line, '#' comments. Errors are
 * located in the table file. */
static bool load_table_file(struct parser *p, struct addrset *set, const struct loc *at,
			    const char *rel)
{
	char *path = resolve_path(at->src, rel);
	char *text = NULL;
	size_t len = 0;
	struct stat st;
	bool ok = true;

	if (!path) {
		oom(p);
		return false;
	}
	int err = read_file(path, false, &text, &len, &st);
	if (err) {
		error_at(p, at, "cannot read table file '%s': %s", path, file_error(err));
		free(path);
		return false;
	}
	record_source(p, path, &st);
	struct src *src = new_src(p, path, text, len, at->src, at->line);
	if (!src) {
		oom(p);
		return false;
	}
	size_t pos = 0, line_start = 0;
	int line = 1;
	while (pos < len && !p->stop) {
		char c = text[pos];
		if (c == '\n') {
			line++;
			line_start = ++pos;
			continue;
		}
		if (c == ' ' || c == '\t' || c == '\r' || c == ',') {
			pos++;
			continue;
		}
		if (c == '#') {
			const char *nl = memchr(text + pos, '\n', len - pos);
			pos = nl ? (size_t)(nl - text) : len;
			continue;
		}
		size_t start = pos;
		while (pos < len && text[pos] != '\n' && text[pos] != ' ' && text[pos] != '\t' &&
		       text[pos] != '\r' && text[pos] != '#' && text[pos] != ',')
			pos++;
		struct token t = { .type = TOK_WORD, .text = text + start, .len = pos - start };
		t.loc = (struct loc){ src, line, (int)(start - line_start) + 1, (int)(pos - start),
				      line_start };
		struct ifw_prefix pfx;
		if (!prefix_from_token(p, &t, &pfx)) {
			ok = false;
			continue;
		}
		if (!add_table_prefix(p, set, &pfx))
			return false;
	}
	return ok;
}

/* table <NAME> { ADDR ... } | table <NAME> file "PATH" (repeatable) */
static bool parse_table(struct parser *p)
{
	struct loc at = p->tok.loc;
	struct ruleset *rs = p->rs;
	bool ok = true, any_body = false;

	next(p);
	if (p->tok.type != TOK_TABLE)
		return error_expected(p, "a table name <NAME> after 'table'");
	const struct rs_table *old = find_table(p, p->tok.text, p->tok.len);
	if (old) {
		struct strbuf sb = { 0 };
		sb_putn(&sb, p->tok.text, p->tok.len);
		error_at(p, &p->tok.loc, "table <%s> is already defined at %s:%d",
			 sb.buf ? sb.buf : "", old->file, old->line);
		sb_free(&sb);
		return false;
	}
	struct rs_table t = { .line = at.line };
	t.name = tok_strdup(&p->tok);
	t.set = addrset_new();
	t.file = intern_file(p, at.src->name, strlen(at.src->name));
	if (!t.name || !t.set || !t.file) {
		free(t.name);
		addrset_free(t.set);
		oom(p);
		return false;
	}
	next(p);
	while (ok && (tok_is(p, "persist") || tok_is(p, "const") || tok_is(p, "counters")))
		next(p);
	while (ok && !at_end(p)) {
		if (p->tok.type == TOK_LBRACE) {
			struct loc open = p->tok.loc;
			any_body = true;
			next(p);
			for (;;) {
				int more = list_skip(p, &open);
				if (more < 0) {
					ok = false;
					break;
				}
				if (more == 0) {
					next(p);
					break;
				}
				struct ifw_prefix pfx;
				if (p->tok.type == TOK_BANG) {
					ok = error_at(p, &p->tok.loc, "table entries cannot be negated");
					break;
				}
				if (!parse_prefix_tok(p, &pfx) || !add_table_prefix(p, t.set, &pfx)) {
					ok = false;
					break;
				}
			}
		} else if (tok_is(p, "file")) {
			any_body = true;
			next(p);
			if (p->tok.type != TOK_STRING) {
				ok = error_expected(p, "a quoted file name after 'file'");
				break;
			}
			char *rel = unescape_string(p->tok.text, p->tok.len);
			struct loc fat = p->tok.loc;
			next(p);
			if (!rel) {
				oom(p);
				ok = false;
				break;
			}
			ok = load_table_file(p, t.set, &fat, rel);
			free(rel);
		} else {
			ok = error_expected(p, "'{' or 'file' in the table definition");
		}
	}
	if (ok && !any_body)
		ok = error_at(p, &at, "table needs contents: '{ ADDR ... }' or 'file \"PATH\"'");
	if (ok && addrset_finish(t.set) < 0) {
		oom(p);
		ok = false;
	}
	if (ok && grow_array(&rs->tables, &p->tables_cap, rs->ntables, sizeof(*rs->tables)) < 0) {
		oom(p);
		ok = false;
	}
	if (!ok) {
		free(t.name);
		addrset_free(t.set);
		return false;
	}
	rs->tables[rs->ntables++] = t;
	return true;
}

static bool parse_default_value(struct parser *p, enum default_verdict *v)
{
	if (tok_is(p, "block"))
		*v = DEFAULT_BLOCK;
	else if (tok_is(p, "pass"))
		*v = DEFAULT_PASS;
	else if (tok_is(p, "drop"))
		*v = DEFAULT_DROP;
	else if (tok_is(p, "reject"))
		*v = DEFAULT_REJECT;
	else
		return error_expected(p, "block or pass after 'set default'");
	next(p);
	return true;
}

static bool parse_set(struct parser *p)
{
	struct loc at = p->tok.loc;
	struct ruleset *rs = p->rs;

	next(p);
	if (tok_is(p, "default")) {
		unsigned dir = DIR_BOTH;
		enum default_verdict v = DEFAULT_BLOCK;
		next(p);
		if (tok_is(p, "in") || tok_is(p, "out")) {
			dir = tok_is(p, "in") ? DIR_IN : DIR_OUT;
			next(p);
		}
		if (!parse_default_value(p, &v))
			return false;
		if (!at_end(p))
			return error_expected(p, "end of line");
		if (dir & DIR_IN) {
			rs->default_in = v;
			rs->default_in_explicit = true;
		}
		if (dir & DIR_OUT) {
			rs->default_out = v;
			rs->default_out_explicit = true;
		}
		if (!rs->default_explicit)
			p->set_default_loc = loc_join(&at, &p->prev_loc);
		rs->default_explicit = true;
	} else if (tok_is(p, "block-policy")) {
		next(p);
		if (tok_is(p, "drop"))
			rs->block_policy = BLOCK_POLICY_DROP;
		else if (tok_is(p, "reject"))
			rs->block_policy = BLOCK_POLICY_REJECT;
		else
			return error_expected(p, "drop or reject after 'set block-policy'");
		next(p);
		if (!at_end(p))
			return error_expected(p, "end of line");
		rs->block_policy_explicit = true;
	} else if (tok_is(p, "skip")) {
		struct ifmatch m;
		struct loc span;
		next(p);
		if (!tok_is(p, "on"))
			return error_expected(p, "'on' after 'set skip'");
		next(p);
		if (!parse_ifspec(p, &m, &span))
			return false;
		if (!at_end(p)) {
			ifmatch_free_items(&m);
			return error_expected(p, "end of line");
		}
		if (rs->skip.count && (m.negate || rs->skip.negate)) {
			ifmatch_free_items(&m);
			return error_at(p, &span, "a negated 'set skip' cannot be combined with another");
		}
		size_t cap = rs->skip.count;
		for (size_t i = 0; i < m.count; i++)
			if (!push_ifitem(p, &rs->skip, &cap, &m.items[i])) {
				ifmatch_free_items(&m);
				return false;
			}
		rs->skip.negate = m.negate;
		ifmatch_free_items(&m);
		if (!p->skip_loc.src)
			p->skip_loc = loc_join(&at, &p->prev_loc);
	} else {
		return error_expected(p, "default, block-policy or skip after 'set'");
	}
	return true;
}

static bool parse_statement(struct parser *p)
{
	if (p->tok.type == TOK_ERROR)
		return error_at(p, &p->tok.loc, "%s", p->tok.error);
	if (p->tok.type != TOK_WORD)
		return error_expected(p, "a statement");
	if (lexer_peek(p->lx).type == TOK_EQUALS)
		return parse_macro(p);
	if (tok_is(p, "table"))
		return parse_table(p);
	if (tok_is(p, "include"))
		return parse_include(p);
	if (tok_is(p, "set"))
		return parse_set(p);
	if (tok_is(p, "killswitch"))
		return parse_killswitch(p);
	if (tok_is(p, "pass") || tok_is(p, "block") || tok_is(p, "reject"))
		return parse_rule_statement(p);
	struct strbuf sb = { 0 };
	sb_put_quoted_excerpt(&sb, p->tok.text, p->tok.len, 40);
	error_at(p, &p->tok.loc, "unknown statement '%s' (expected pass, block, reject, "
		 "table, set, include, killswitch or NAME = VALUE)", sb.buf ? sb.buf : "");
	sb_free(&sb);
	return false;
}

static void parse_source(struct parser *p, const struct src *src)
{
	struct lexer lx, *saved_lx = p->lx;
	struct token saved_tok = p->tok;
	struct loc saved_prev = p->prev_loc;
	int saved_depth = p->depth;

	lexer_init(&lx, src, &p->macros);
	p->lx = &lx;
	p->depth = 0;
	memset(&p->tok, 0, sizeof(p->tok));
	next(p);
	while (p->tok.type != TOK_EOF && !p->stop) {
		if (p->tok.type == TOK_NEWLINE) {
			next(p);
			continue;
		}
		if (p->tok.type == TOK_RBRACE) {
			error_at(p, &p->tok.loc, "unexpected '}'");
			next(p);
			recover(p, 0);
			continue;
		}
		p->resync = false;
		if (!parse_statement(p))
			recover(p, 0);
	}
	p->lx = saved_lx;
	p->tok = saved_tok;
	p->prev_loc = saved_prev;
	p->depth = saved_depth;
}

/* --- entry points ------------------------------------------------------------ */

static struct ruleset *parse_top(char *name, char *text, size_t len, bool has_id,
				 const struct stat *st, bool is_string,
				 struct diag_list *diags)
{
	struct diag_list local = { 0 };
	struct parser p = { .diags = diags ? diags : &local, .top_is_string = is_string };
	struct ruleset *rs = calloc(1, sizeof(*rs));
	struct src *src;

	if (!rs) {
		free(name);
		free(text);
		return NULL;
	}
	p.rs = rs;
	src = new_src(&p, name, text, len, NULL, 0);
	if (!src) {
		free(rs);
		return NULL;
	}
	if (has_id)
		p.stack[0] = (struct include_frame){ st->st_dev, st->st_ino, true };
	if (!is_string)
		record_source(&p, name, st);
	p.nstack = 1;
	parse_source(&p, src);

	if (rs->killswitch) {
		if (!rs->default_in_explicit)
			rs->default_in = DEFAULT_DROP;
		if (!rs->default_out_explicit)
			rs->default_out = DEFAULT_REJECT;
	}
	if (p.errors == 0)
		ruleset_warn(rs, p.rule_locs, p.set_default_loc.src ? &p.set_default_loc : NULL,
			     p.skip_loc.src ? &p.skip_loc : NULL, p.diags);

	for (size_t i = 0; i < p.macros.count; i++) {
		free(p.macros.items[i].name);
		free(p.macros.items[i].value);
	}
	free(p.macros.items);
	free(p.rule_locs);
	while (p.sources) {
		struct src *s = p.sources;
		p.sources = s->next;
		free(s->name);
		free(s->text);
		free(s->include_chain);
		free(s);
	}
	diag_list_clear(&local);
	if (p.errors) {
		ruleset_free(rs);
		return NULL;
	}
	return rs;
}

struct ruleset *ruleset_from_file(const char *path, struct diag_list *diags)
{
	char *text = NULL, *name;
	size_t len = 0;
	struct stat st;

	if (!path)
		return NULL;
	int err = read_file(path, false, &text, &len, &st);
	if (err) {
		diag_add_file(diags, DIAG_ERROR, path, "cannot read rule file: %s",
			      err == -EINVAL ? "not a regular file" : file_error(err));
		return NULL;
	}
	name = strdup(path);
	if (!name) {
		free(text);
		return NULL;
	}
	return parse_top(name, text, len, S_ISREG(st.st_mode), &st, false, diags);
}

struct ruleset *ruleset_from_string(const char *name, const char *text,
				    size_t len, struct diag_list *diags)
{
	char *copy = malloc(len + 1);
	char *n = strdup(name ? name : "<string>");
	struct stat st = { 0 };

	if (!copy || !n) {
		free(copy);
		free(n);
		return NULL;
	}
	if (len)
		memcpy(copy, text, len);
	copy[len] = '\0';
	return parse_top(n, copy, len, false, &st, true, diags);
}
