/* The parser: tokens -> validated, expanded struct ruleset.
 *
 * Statements are parsed one at a time; an error is reported with its
 * location and the parser skips to the next statement, so one run reports
 * every error of a file and its includes. This file holds the statements
 * (macros, tables, includes, set), the files read, recovery and the entry
 * points; the values of criteria are in criteria.c, a rule and its
 * validation in rule.c, the killswitch preset in killswitch.c. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rules/parser.h"
#include "filter/engine.h" /* rule_index_new: the compiled matcher */

/* --- tokens ------------------------------------------------------------------ */

void parser_next(struct parser *p)
{
	if (p->tok.type != TOK_EOF || p->tok.loc.src)
		p->prev_loc = p->tok.loc;
	p->tok = lexer_next(p->lx);
	if (p->tok.type == TOK_LBRACE)
		p->depth++;
	else if (p->tok.type == TOK_RBRACE && p->depth > 0)
		p->depth--;
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
	if (loc && loc->macro > 0 && (size_t)loc->macro <= p->macros.count) {
		const struct macro *m = &p->macros.items[loc->macro - 1];
		diag_add(p->diags, DIAG_NOTE, &m->loc, "in expansion of macro '%s' defined here",
			 m->name);
	}
	if (++p->errors >= MAX_ERRORS) {
		diag_add(p->diags, DIAG_NOTE, loc, "too many errors; stopping");
		p->stop = true;
	}
}

__attribute__((format(printf, 3, 4)))
bool parser_error(struct parser *p, const struct loc *loc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verror(p, loc, fmt, ap);
	va_end(ap);
	return false;
}

/* Reports the current token as unexpected (or the lexical error it is). */
bool parser_expected(struct parser *p, const char *what)
{
	struct strbuf sb = { 0 };

	if (p->tok.type == TOK_ERROR)
		return parser_error(p, &p->tok.loc, "%s", p->tok.error);
	describe_tok(&p->tok, &sb);
	parser_error(p, &p->tok.loc, "expected %s, got %s", what, sb.buf ? sb.buf : "?");
	sb_free(&sb);
	return false;
}

void parser_oom(struct parser *p)
{
	if (!p->stop)
		diag_add(p->diags, DIAG_ERROR, NULL, "out of memory");
	p->errors++;
	p->stop = true;
}

/* The word that starts a statement other than a macro definition. */
static bool is_statement_keyword(const struct token *t)
{
	static const char *const keywords[] = { "pass", "block", "reject", "table",
		"set", "include", "killswitch" };

	for (size_t i = 0; t->type == TOK_WORD && i < sizeof(keywords) / sizeof(keywords[0]); i++)
		if (t->len == strlen(keywords[i]) && !memcmp(t->text, keywords[i], t->len))
			return true;
	return false;
}

/* Skips to the end of the statement: a newline at brace depth <= depth, or
 * a newline followed by a word that starts a statement or by anything
 * unindented other than '}' (a missing '}', or garbage with a stray '{'). */
void parser_recover(struct parser *p, int depth)
{
	p->list_nesting = 0; /* a list left by an error */
	if (p->resync) {
		/* The current token starts the next statement. */
		p->resync = false;
		return;
	}
	while (p->tok.type != TOK_EOF) {
		if (p->tok.type == TOK_NEWLINE) {
			if (p->depth <= depth)
				return;
			struct token nx = lexer_peek(p->lx);
			/* Unindented text that cannot continue a list: garbage
			 * after a stray '{'. */
			if (depth == 0 && nx.loc.col == 1 && nx.type != TOK_RBRACE &&
			    nx.type != TOK_NEWLINE && nx.type != TOK_EOF &&
			    nx.type != TOK_WORD && nx.type != TOK_TABLE &&
			    nx.type != TOK_BANG && nx.type != TOK_COMMA) {
				p->depth = 0;
				return;
			}
			if (is_statement_keyword(&nx)) {
				p->depth = depth;
				return;
			}
		}
		parser_next(p);
	}
}

static bool starts_statement(struct parser *p)
{
	return is_statement_keyword(&p->tok) ||
	       (p->tok.type == TOK_WORD && lexer_peek(p->lx).type == TOK_EQUALS);
}

/* Skips the separators inside a { } list. Returns 1 at an item, 0 at the
 * closing '}', -1 (reported) when the list is not closed: end of file, or
 * a statement at the start of a line (the '}' was forgotten; parsing goes
 * on with that statement). */
int parser_list_skip(struct parser *p, const struct loc *open)
{
	bool newline = false;

	for (;; parser_next(p)) {
		if (p->tok.type == TOK_NEWLINE || p->tok.type == TOK_COMMA) {
			newline |= p->tok.type == TOK_NEWLINE;
		} else if (p->tok.type == TOK_LBRACE) {
			/* A list inside a list adds its items, as in pf: it
			 * is how a list macro is extended, '{ $lan 10.9.0.1 }'. */
			p->list_nesting++;
		} else if (p->tok.type == TOK_RBRACE && p->list_nesting > 0) {
			p->list_nesting--;
		} else {
			break;
		}
	}
	if (p->tok.type == TOK_RBRACE)
		return 0;
	if (p->tok.type == TOK_EOF) {
		parser_error(p, open, "unterminated list: missing '}'");
		p->list_nesting = 0;
		return -1;
	}
	if (newline && p->tok.loc.col == 1 && starts_statement(p)) {
		parser_error(p, open, "unterminated list: missing '}'");
		p->depth -= p->depth > p->list_nesting ? p->list_nesting + 1 : p->depth;
		p->list_nesting = 0;
		p->resync = true;
		return -1;
	}
	return 1;
}

bool parser_duplicate(struct parser *p, bool seen)
{
	if (!seen)
		return false;
	struct strbuf sb = { 0 };
	sb_put_quoted_excerpt(&sb, p->tok.text, p->tok.len, 40);
	parser_error(p, &p->tok.loc, "'%s' given twice", sb.buf ? sb.buf : "");
	sb_free(&sb);
	return true;
}

bool parser_option_once(struct parser *p, bool *seen)
{
	if (parser_duplicate(p, *seen))
		return false;
	*seen = true;
	parser_next(p);
	return true;
}

/* --- ownership helpers ------------------------------------------------------ */

const char *parser_intern_file(struct parser *p, const char *name, size_t len)
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
static void record_source(struct parser *p, const char *path, struct rs_trust *trust)
{
	struct ruleset *rs = p->rs;
	struct rs_source *grown = realloc(rs->sources, (rs->nsources + 1) * sizeof(*grown));
	char *copy = strdup(path);

	if (!grown || !copy) {
		if (grown)
			rs->sources = grown;
		free(copy);
		rs_trust_clear(trust);
		parser_oom(p);
		return;
	}
	rs->sources = grown;
	/* The trust record (its 'where') is handed over. */
	rs->sources[rs->nsources++] = (struct rs_source){ copy, *trust };
	memset(trust, 0, sizeof(*trust));
}

/* A new anonymous address set owned by the rule set. */
struct addrset *parser_new_set(struct parser *p)
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

void rule_free_contents(struct rule *r)
{
	ifmatch_free_items(&r->on);
	free(r->protos);
	free(r->types);
	free(r->sport.ranges);
	free(r->dport.ranges);
	free(r->user_name);
	free(r->cgroup);
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

struct ruleset *ruleset_ref(const struct ruleset *rs)
{
	struct ruleset *r = (struct ruleset *)rs;

	if (r)
		__atomic_add_fetch(&r->refs, 1, __ATOMIC_ACQ_REL);
	return r;
}

void ruleset_free(struct ruleset *rs)
{
	if (!rs)
		return;
	if (rs->shared) {
		/* Other references to this derived set: the last one frees it. */
		if (__atomic_fetch_sub(&rs->refs, 1, __ATOMIC_ACQ_REL) > 0)
			return;
		ruleset_derived_free(rs);
		return;
	}
	/* Derived rule sets or other references still use it: the last of
	 * them frees it. */
	if (__atomic_fetch_sub(&rs->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	rule_index_free(rs->index);
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
	for (size_t i = 0; i < rs->nsources; i++) {
		free(rs->sources[i].path);
		rs_trust_clear(&rs->sources[i].trust);
	}
	free(rs->sources);
	for (size_t i = 0; i < rs->nsets; i++)
		addrset_free(rs->sets[i]);
	free(rs->sets);
	free(rs);
}

/* --- numbers, names ------------------------------------------------------- */

char *unescape_string(const char *s, size_t n)
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

/* --- statements --------------------------------------------------------------- */

static bool valid_macro_name(const struct token *t)
{
	if (t->len == 0 || !(isalpha((unsigned char)t->text[0]) || t->text[0] == '_'))
		return false;
	for (size_t i = 0; i < t->len; i++)
		if (!isalnum((unsigned char)t->text[i]) && t->text[i] != '_')
			return false;
	return true;
}

/* A quoted '{', '}' or ',' in a macro value: list punctuation, as in pf
 * (other strings keep their quotes, so a macro can hold 'label "TEXT"'). */
static bool is_list_punctuation(const struct token *t)
{
	for (size_t i = 0; i < t->len; i++)
		if (t->text[i] != '{' && t->text[i] != '}' && t->text[i] != ',' &&
		    t->text[i] != ' ' && t->text[i] != '\t')
			return false;
	return t->len > 0;
}

/* NAME = "VALUE" | NAME = tokens to the end of the line */
static bool parse_macro(struct parser *p)
{
	struct token name = p->tok;
	struct strbuf sb = { 0 };

	if (!valid_macro_name(&name))
		return parser_error(p, &name.loc, "invalid macro name (letters, digits and '_')");
	const struct macro *old = macro_lookup(&p->macros, name.text, name.len);
	if (old) {
		struct strbuf nb = { 0 };
		sb_putn(&nb, name.text, name.len);
		parser_error(p, &name.loc, "macro '%s' is already defined at %s:%d",
			 nb.buf ? nb.buf : "", old->loc.src->name, old->loc.line);
		sb_free(&nb);
		return false;
	}
	int depth0 = p->depth;
	parser_next(p);
	parser_next(p);
	struct token after = lexer_peek(p->lx);
	if (p->tok.type == TOK_STRING && (after.type == TOK_NEWLINE || after.type == TOK_EOF)) {
		char *v = unescape_string(p->tok.text, p->tok.len);
		if (!v) {
			parser_oom(p);
			return false;
		}
		sb.buf = v;
		parser_next(p);
	} else {
		/* An unquoted value: the tokens up to the end of the line (lists
		 * may span lines), kept as text to lex again at each use. */
		while (!(at_end(p) && p->depth == depth0) && p->tok.type != TOK_EOF) {
			if (p->tok.type == TOK_ERROR || p->tok.type == TOK_EQUALS) {
				sb_free(&sb);
				return parser_expected(p, "a macro value");
			}
			if (sb.len)
				sb_putc(&sb, ' ');
			if (p->tok.type == TOK_STRING && is_list_punctuation(&p->tok)) {
				/* pf's idiom: all_ifs = "{" $ext_if lo0 "}" */
				sb_putn(&sb, p->tok.text, p->tok.len);
			} else if (p->tok.type == TOK_STRING) {
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
			parser_next(p);
		}
		if (!sb.len) {
			sb_free(&sb);
			return parser_error(p, &p->tok.loc, "expected a value after '='");
		}
	}
	if (!at_end(p)) {
		sb_free(&sb);
		return parser_expected(p, "end of line");
	}
	char *value = sb_steal(&sb);
	char *mname = strndup(name.text, name.len);
	if (!value || !mname ||
	    grow_array(&p->macros.items, &p->macros.cap, p->macros.count,
		       sizeof(*p->macros.items)) < 0) {
		free(value);
		free(mname);
		parser_oom(p);
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
/* Reads a whole file, opened through trusted_open() (*trust says who
 * could change it; cleared on error). Returns 0 or -errno. */
static int read_file(const char *path, bool regular_only, char **text, size_t *len,
		     struct stat *st, struct rs_trust *trust)
{
	int fd = trusted_open(path, O_RDONLY, trust);
	FILE *f = fd >= 0 ? fdopen(fd, "rb") : NULL;
	struct strbuf sb = { 0 };
	char buf[65536];
	size_t n;

	if (!f) {
		int err = fd < 0 ? fd : -errno;
		if (fd >= 0)
			close(fd);
		rs_trust_clear(trust);
		return err;
	}
	if (fstat(fileno(f), st) < 0 || (regular_only && !S_ISREG(st->st_mode))) {
		int err = S_ISDIR(st->st_mode) ? -EISDIR : -EINVAL;
		fclose(f);
		rs_trust_clear(trust);
		return err;
	}
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		sb_putn(&sb, buf, n);
		if (sb.len > MAX_FILE_SIZE) {
			fclose(f);
			sb_free(&sb);
			rs_trust_clear(trust);
			return -EFBIG;
		}
	}
	int err = ferror(f) ? -errno : 0;
	fclose(f);
	if (err == 0 && !sb.buf)
		sb_putn(&sb, "", 0);
	if (err || sb.oom) {
		sb_free(&sb);
		rs_trust_clear(trust);
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

/* Why a file could not be read; buf holds at least 64 bytes. strerror_r:
 * parsing may run in several threads at once. */
/* The diagnostic just added for a file read_file() could not read keeps
 * its errno, so callers tell "no permission" (exit 3) from a bad file. */
static void mark_sys_errno(struct diag_list *diags, int err)
{
	if (diags && diags->count && err < 0)
		diags->items[diags->count - 1].sys_errno = -err;
}

static const char *file_error(int err, char *buf, size_t size)
{
	if (err == -EINVAL)
		return "not a regular file";
	if (err == -EFBIG)
		return "file too large";
	return strerror_r(-err, buf, size);
}

static bool parse_include(struct parser *p)
{
	struct loc at = p->tok.loc;
	const struct src *cur = at.src;

	parser_next(p);
	if (p->tok.type != TOK_STRING)
		return parser_expected(p, "a quoted file name after 'include'");
	struct loc path_at = p->tok.loc;
	char *rel = unescape_string(p->tok.text, p->tok.len);
	parser_next(p);
	if (!rel) {
		parser_oom(p);
		return false;
	}
	if (!at_end(p)) {
		free(rel);
		return parser_expected(p, "end of line");
	}
	/* Relative to the including file; a rule set from a string includes
	 * relative to the current directory. */
	char *path = resolve_path(cur->parent || !p->top_is_string ? cur : NULL, rel);
	free(rel);
	if (!path) {
		parser_oom(p);
		return false;
	}
	if (p->nstack >= MAX_INCLUDE_DEPTH) {
		parser_error(p, &path_at, "includes nested too deeply (more than %d)", MAX_INCLUDE_DEPTH);
		free(path);
		return false;
	}
	char *text = NULL;
	size_t len = 0;
	struct stat st;
	struct rs_trust trust;
	int err = read_file(path, true, &text, &len, &st, &trust);
	if (err) {
		char why[128];
		parser_error(p, &path_at, "cannot include '%s': %s", path,
			     file_error(err, why, sizeof(why)));
		mark_sys_errno(p->diags, err);
		free(path);
		return false;
	}
	for (int i = 0; i < p->nstack; i++) {
		if (p->stack[i].has_id && p->stack[i].dev == st.st_dev && p->stack[i].ino == st.st_ino) {
			parser_error(p, &path_at, "include cycle: '%s' is already being read", path);
			free(path);
			free(text);
			rs_trust_clear(&trust);
			return false;
		}
	}
	record_source(p, path, &trust);
	struct src *src = new_src(p, path, text, len, cur, at.line);
	if (!src) {
		parser_oom(p);
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
		parser_oom(p);
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
		parser_oom(p);
		return false;
	}
	struct rs_trust trust;
	int err = read_file(path, false, &text, &len, &st, &trust);
	if (err) {
		char why[128];
		parser_error(p, at, "cannot read table file '%s': %s", path,
			     file_error(err, why, sizeof(why)));
		mark_sys_errno(p->diags, err);
		free(path);
		return false;
	}
	record_source(p, path, &trust);
	struct src *src = new_src(p, path, text, len, at->src, at->line);
	if (!src) {
		parser_oom(p);
		return false;
	}
	size_t pos = 0, line_start = 0;
	int line = 1;
	/* A UTF-8 byte order mark, as in rule files (lexer_init). */
	if (len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3))
		pos = line_start = 3;
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
		t.loc = (struct loc){ .src = src, .line = line, .col = (int)(start - line_start) + 1,
				      .span = (int)(pos - start), .line_start = line_start };
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

	parser_next(p);
	if (p->tok.type != TOK_TABLE)
		return parser_expected(p, "a table name <NAME> after 'table'");
	const struct rs_table *old = parser_find_table(p, p->tok.text, p->tok.len);
	if (old) {
		struct strbuf sb = { 0 };
		sb_putn(&sb, p->tok.text, p->tok.len);
		parser_error(p, &p->tok.loc, "table <%s> is already defined at %s:%d",
			 sb.buf ? sb.buf : "", old->file, old->line);
		sb_free(&sb);
		return false;
	}
	struct rs_table t = { .line = at.line };
	t.name = tok_strdup(&p->tok);
	t.set = addrset_new();
	t.file = parser_intern_file(p, at.src->name, strlen(at.src->name));
	if (!t.name || !t.set || !t.file) {
		free(t.name);
		addrset_free(t.set);
		parser_oom(p);
		return false;
	}
	parser_next(p);
	while (ok && (tok_is(p, "persist") || tok_is(p, "const") || tok_is(p, "counters")))
		parser_next(p);
	while (ok && !at_end(p)) {
		if (p->tok.type == TOK_LBRACE) {
			struct loc open = p->tok.loc;
			any_body = true;
			parser_next(p);
			for (;;) {
				int more = parser_list_skip(p, &open);
				if (more < 0) {
					ok = false;
					break;
				}
				if (more == 0) {
					parser_next(p);
					break;
				}
				struct ifw_prefix pfx;
				if (p->tok.type == TOK_BANG) {
					ok = parser_error(p, &p->tok.loc, "table entries cannot be negated");
					parser_next(p);
					continue;
				}
				if (p->tok.type != TOK_WORD) {
					ok = parser_expected(p, "an address");
					break;
				}
				if (!parse_prefix_tok(p, &pfx)) {
					/* Report every bad entry of the table. */
					ok = false;
					parser_next(p);
					continue;
				}
				if (!add_table_prefix(p, t.set, &pfx)) {
					ok = false;
					break;
				}
			}
		} else if (tok_is(p, "file")) {
			any_body = true;
			parser_next(p);
			if (p->tok.type != TOK_STRING) {
				ok = parser_expected(p, "a quoted file name after 'file'");
				break;
			}
			char *rel = unescape_string(p->tok.text, p->tok.len);
			struct loc fat = p->tok.loc;
			parser_next(p);
			if (!rel) {
				parser_oom(p);
				ok = false;
				break;
			}
			ok = load_table_file(p, t.set, &fat, rel);
			free(rel);
		} else {
			ok = parser_expected(p, "'{' or 'file' in the table definition");
		}
	}
	if (ok && !any_body)
		ok = parser_error(p, &at, "table needs contents: '{ ADDR ... }' or 'file \"PATH\"'");
	/* A table with errors is still defined (the rule set is discarded
	 * anyway), so rules using it do not report it unknown as well. */
	if (addrset_finish(t.set) < 0 ||
	    grow_array(&rs->tables, &p->tables_cap, rs->ntables, sizeof(*rs->tables)) < 0) {
		free(t.name);
		addrset_free(t.set);
		parser_oom(p);
		return false;
	}
	rs->tables[rs->ntables++] = t;
	return ok;
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
		return parser_expected(p, "block, drop, reject or pass after 'set default'");
	parser_next(p);
	return true;
}

static bool parse_set(struct parser *p)
{
	struct loc at = p->tok.loc;
	struct ruleset *rs = p->rs;

	parser_next(p);
	if (tok_is(p, "default")) {
		unsigned dir = DIR_BOTH;
		enum default_verdict v = DEFAULT_BLOCK;
		parser_next(p);
		if (tok_is(p, "in") || tok_is(p, "out")) {
			dir = tok_is(p, "in") ? DIR_IN : DIR_OUT;
			parser_next(p);
		}
		if (!parse_default_value(p, &v))
			return false;
		bool log = tok_is(p, "log");
		if (log)
			parser_next(p);
		if (!at_end(p))
			return parser_expected(p, log ? "end of line" : "'log' or end of line");
		if (dir & DIR_IN) {
			rs->default_in = v;
			rs->default_in_log = log;
			rs->default_in_explicit = true;
		}
		if (dir & DIR_OUT) {
			rs->default_out = v;
			rs->default_out_log = log;
			rs->default_out_explicit = true;
		}
		if (!rs->default_explicit)
			p->set_default_loc = loc_join(&at, &p->prev_loc);
		rs->default_explicit = true;
	} else if (tok_is(p, "block-policy")) {
		parser_next(p);
		if (tok_is(p, "drop"))
			rs->block_policy = BLOCK_POLICY_DROP;
		else if (tok_is(p, "reject"))
			rs->block_policy = BLOCK_POLICY_REJECT;
		else
			return parser_expected(p, "drop or reject after 'set block-policy'");
		parser_next(p);
		if (!at_end(p))
			return parser_expected(p, "end of line");
		rs->block_policy_explicit = true;
	} else if (tok_is(p, "skip")) {
		struct ifmatch m;
		struct loc span;
		parser_next(p);
		if (!tok_is(p, "on"))
			return parser_expected(p, "'on' after 'set skip'");
		parser_next(p);
		if (!parse_ifspec(p, &m, &span))
			return false;
		if (!at_end(p)) {
			ifmatch_free_items(&m);
			return parser_expected(p, "end of line");
		}
		if (rs->skip.count && (m.negate || rs->skip.negate)) {
			ifmatch_free_items(&m);
			return parser_error(p, &span, "a negated 'set skip' cannot be combined with another");
		}
		size_t cap = rs->skip.count;
		for (size_t i = 0; i < m.count; i++)
			if (!parser_push_ifitem(p, &rs->skip, &cap, &m.items[i])) {
				ifmatch_free_items(&m);
				return false;
			}
		rs->skip.negate = m.negate;
		ifmatch_free_items(&m);
		if (!p->skip_loc.src)
			p->skip_loc = loc_join(&at, &p->prev_loc);
	} else {
		return parser_expected(p, "default, block-policy or skip after 'set'");
	}
	return true;
}

static bool parse_statement(struct parser *p)
{
	if (p->tok.type == TOK_ERROR)
		return parser_error(p, &p->tok.loc, "%s", p->tok.error);
	if (p->tok.type != TOK_WORD)
		return parser_expected(p, "a statement");
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
	parser_error(p, &p->tok.loc, "unknown statement '%s' (expected pass, block, reject, "
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
	lx.macro_tokens = &p->macro_tokens;
	p->lx = &lx;
	p->depth = 0;
	memset(&p->tok, 0, sizeof(p->tok));
	parser_next(p);
	while (p->tok.type != TOK_EOF && !p->stop) {
		if (p->tok.type == TOK_NEWLINE) {
			parser_next(p);
			continue;
		}
		if (p->tok.type == TOK_RBRACE) {
			parser_error(p, &p->tok.loc, "unexpected '}'");
			parser_next(p);
			parser_recover(p, 0);
			continue;
		}
		p->resync = false;
		if (!parse_statement(p))
			parser_recover(p, 0);
	}
	p->lx = saved_lx;
	p->tok = saved_tok;
	p->prev_loc = saved_prev;
	p->depth = saved_depth;
}

/* --- entry points ------------------------------------------------------------ */

/* trust: of the file (handed over; NULL for a string). */
static struct ruleset *parse_top(char *name, char *text, size_t len, bool has_id,
				 const struct stat *st, struct rs_trust *trust, bool is_string,
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
	if (!is_string && trust)
		record_source(&p, name, trust);
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
	rs->index = rule_index_new(rs);
	return rs;
}

struct ruleset *ruleset_from_file(const char *path, struct diag_list *diags)
{
	char *text = NULL, *name;
	size_t len = 0;
	struct stat st;
	struct rs_trust trust;

	if (!path)
		return NULL;
	int err = read_file(path, false, &text, &len, &st, &trust);
	if (err) {
		char why[128];
		diag_add_file(diags, DIAG_ERROR, path, "cannot read rule file: %s",
			      file_error(err, why, sizeof(why)));
		mark_sys_errno(diags, err);
		return NULL;
	}
	name = strdup(path);
	if (!name) {
		free(text);
		rs_trust_clear(&trust);
		return NULL;
	}
	struct ruleset *rs = parse_top(name, text, len, S_ISREG(st.st_mode), &st, &trust,
				       false, diags);
	rs_trust_clear(&trust);
	return rs;
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
	return parse_top(n, copy, len, false, &st, NULL, true, diags);
}
