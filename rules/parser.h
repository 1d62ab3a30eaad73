/* The parser's shared state and helpers, for the files of the parsing
 * stage (parser.c: statements and files; criteria.c: the values of rule
 * criteria; rule.c: one rule, its validation; killswitch.c: the preset).
 * Not part of the contract in rules/ruleset.h. */
#ifndef IFWALL_RULES_PARSER_H
#define IFWALL_RULES_PARSER_H

#include <string.h>
#include <sys/types.h>

#include "filter/number.h"
#include "rules/lexer.h"

#define MAX_ERRORS 10000 /* "all errors in one run"; the cap only bounds memory on garbage */
#define MAX_INCLUDE_DEPTH 16          /* as in nftables */
#define MAX_FILE_SIZE (256u << 20)    /* rule, include and table files */
#define MAX_LABEL 255                 /* bytes; nft comments hold 255 */

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
	size_t macro_tokens;     /* budget of macro expansion, see lexer.h */
	struct src *sources;
	struct lexer *lx;
	struct token tok;        /* current token */
	struct loc prev_loc;     /* location of the last consumed token */
	int depth;               /* '{' nesting up to the current token */
	int list_nesting;        /* lists open inside the list being read */
	struct include_frame stack[MAX_INCLUDE_DEPTH + 1];
	int nstack;
	size_t rules_cap, tables_cap, sets_cap, files_cap;
	struct loc *rule_locs;   /* where each rule was written */
	size_t rule_locs_cap;
	struct loc set_default_loc;
	struct loc skip_loc;
	bool top_is_string;
	bool resync;             /* parser_recover() must not skip: at a statement */
};

/* Where each criterion of a rule was written, for error spans. */
struct rule_locs {
	struct loc action, on, family, proto, all, from, sport, to, dport,
		types, user, mark, cgroup, label;
};

/* --- tokens (parser.c) ------------------------------------------------------- */

void parser_next(struct parser *p);

static inline bool tok_is(const struct parser *p, const char *word)
{
	return p->tok.type == TOK_WORD && p->tok.len == strlen(word) &&
	       !memcmp(p->tok.text, word, p->tok.len);
}

static inline bool at_end(const struct parser *p)
{
	return p->tok.type == TOK_NEWLINE || p->tok.type == TOK_EOF;
}

static inline char *tok_strdup(const struct token *t)
{
	return strndup(t->text, t->len);
}

/* The span from a to the end of b when both are on one line. */
static inline struct loc loc_join(const struct loc *a, const struct loc *b)
{
	struct loc l = *a;

	if (a->src == b->src && a->line == b->line && b->col >= a->col &&
	    b->line_start == a->line_start)
		l.span = b->col + b->span - a->col;
	return l;
}

/* --- diagnostics and recovery (parser.c) ------------------------------------ */

/* Report an error at loc; always return false (so 'return parser_error(...)'). */
bool parser_error(struct parser *p, const struct loc *loc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* "expected WHAT, got TOKEN" at the current token (or its lexical error). */
bool parser_expected(struct parser *p, const char *what);
void parser_oom(struct parser *p);
/* Reports "'X' given twice" at the current token when seen. */
bool parser_duplicate(struct parser *p, bool seen);
/* At an option's keyword: reports it when *seen, else sets *seen and moves
 * past the keyword. */
bool parser_option_once(struct parser *p, bool *seen);
/* Skips to the end of the statement (see parser.c). */
void parser_recover(struct parser *p, int depth);
/* Inside { }: 1 at an item, 0 at the '}', -1 (reported) when unclosed. */
int parser_list_skip(struct parser *p, const struct loc *open);

/* --- ownership and small values (parser.c) ------------------------------------ */

const char *parser_intern_file(struct parser *p, const char *name, size_t len);
/* A new anonymous address set owned by the rule set; NULL when out of memory. */
struct addrset *parser_new_set(struct parser *p);
const struct rs_table *parser_find_table(const struct parser *p, const char *name,
					 size_t len);
/* A string token's contents with \" and \\ unescaped (malloc'd). */
char *unescape_string(const char *s, size_t n);
void rule_free_contents(struct rule *r);

/* --- criteria (criteria.c) ---------------------------------------------------- */

bool parser_push_ifitem(struct parser *p, struct ifmatch *m, size_t *cap,
			const struct ifitem *it);
bool parse_ifspec(struct parser *p, struct ifmatch *m, struct loc *span);
/* Parses the address in token t (not consumed); reports errors at t. */
bool prefix_from_token(struct parser *p, const struct token *t, struct ifw_prefix *out);
bool parse_prefix_tok(struct parser *p, struct ifw_prefix *out);
bool parse_addrs(struct parser *p, struct addrmatch *m, struct loc *span,
		 const char *after);
bool parse_ports(struct parser *p, struct portmatch *m, struct loc *span);
bool parse_proto_value(struct parser *p, uint8_t *out);
bool parse_protos(struct parser *p, uint8_t **protos, size_t *count, struct loc *span);
bool parse_icmp_types(struct parser *p, bool icmp6, uint8_t **types, size_t *count,
		      struct loc *span);
/* The 'user' / 'mark' option at its keyword ("given twice" when *has). */
bool parse_user_option(struct parser *p, bool *has, uint32_t *uid, char **name);
bool parse_mark_option(struct parser *p, bool *has, uint32_t *mark);

/* --- rules (rule.c) ------------------------------------------------------------ */

/* The origin of the statement that just ended: a '# FILE:LINE' marker on
 * its line, else where it was read. */
bool statement_origin(struct parser *p, const struct loc *at, const char **file,
		      int *line);
/* A rule statement, from its action word to the end of the line. */
bool parse_rule_statement(struct parser *p);
/* A rule generated from text (the killswitch preset), located at 'at'. */
bool generated_rule(struct parser *p, const char *text, const struct loc *at,
		    const char *file, int line);

/* --- killswitch (killswitch.c) ---------------------------------------------- */

bool parse_killswitch(struct parser *p);
void killswitch_free(struct killswitch *ks);

#endif
