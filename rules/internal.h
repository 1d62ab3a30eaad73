/* Shared by the stages of rules/ (lexer, parser, expansion, printer,
 * warnings); not part of the contract in rules/ruleset.h. */
#ifndef IFWALL_RULES_INTERNAL_H
#define IFWALL_RULES_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "filter/grow.h"
#include "rules/ruleset.h"

/* --- growing strings ----------------------------------------------------- */

struct strbuf {
	char *buf;
	size_t len, cap;
	bool oom;             /* an allocation failed; buf holds what fitted */
};

void sb_putn(struct strbuf *sb, const char *s, size_t n);
void sb_puts(struct strbuf *sb, const char *s);
void sb_putc(struct strbuf *sb, char c);
void sb_printf(struct strbuf *sb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Returns the string (never NULL unless out of memory) and resets sb. */
char *sb_steal(struct strbuf *sb);
void sb_free(struct strbuf *sb);
/* Appends text quoted for a message: printable ASCII kept, the rest as
 * \xNN, cut after max bytes with "...". */
void sb_put_quoted_excerpt(struct strbuf *sb, const char *s, size_t n, size_t max);


/* --- opening files (trust.c) ---------------------------------------------- */

/* Opens path (flags as for open) by walking it from /, recording in *t
 * whether anyone but root could change the file or any directory or link
 * on the way. Returns the descriptor or -errno; *t is cleared on error. */
int trusted_open(const char *path, int flags, struct rs_trust *t);
void rs_trust_clear(struct rs_trust *t);

/* --- sources and locations ------------------------------------------------ */

/* A file (or string) being read. */
struct src {
	char *name;           /* as shown in messages */
	char *text;           /* contents, NUL-terminated, owned */
	size_t len;
	char *include_chain;  /* "In file included from ..." or NULL */
	const struct src *parent; /* the including file, NULL at the top */
	int parent_line;
	struct src *next;     /* all sources of one parse, for freeing */
};

struct loc {
	const struct src *src;
	int line, col, span;
	size_t line_start;    /* offset of the line in src->text */
	int macro;            /* 1 + index of the macro whose value this came
			       * from (the outermost), 0 when none */
};

/* Appends a diagnostic at loc (loc NULL or loc->src NULL: no location).
 * Returns 0 or -ENOMEM. */
int diag_add(struct diag_list *diags, enum diag_severity sev,
	     const struct loc *loc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
int diag_addv(struct diag_list *diags, enum diag_severity sev,
	      const struct loc *loc, const char *fmt, va_list ap);
/* A diagnostic naming only a file. */
int diag_add_file(struct diag_list *diags, enum diag_severity sev,
		  const char *file, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* --- names ---------------------------------------------------------------- */

/* (protocol, ICMP type, interface type and service names: filter/names.h) */

/* --- printing ------------------------------------------------------------- */

void format_ifmatch(struct strbuf *sb, const struct ifmatch *m);
void format_addrmatch(struct strbuf *sb, const struct addrmatch *m);
/* " port PORTS" */
void format_ports(struct strbuf *sb, const struct portmatch *m);
/* " user U mark 0xM", the parts that are set (rules and endpoints). */
void format_owner(struct strbuf *sb, bool has_user, uint32_t uid,
		  const char *user_name, bool has_mark, uint32_t mark);
/* The canonical one-line text of a rule; NULL when out of memory. */
char *rule_format(const struct rule *r);

/* --- warnings --------------------------------------------------------------- */

/* Where each rule of rs was written (for warning locations). */
void ruleset_warn(const struct ruleset *rs, const struct loc *rule_locs,
		  const struct loc *set_default_loc, const struct loc *skip_loc,
		  struct diag_list *diags);

/* Interface criteria helpers. */
bool ifitem_is_loopback(const struct ifitem *it);
void ifmatch_free_items(struct ifmatch *m);
/* Frees a rule set made by ruleset_table_change() (rules/table_edit.c). */
void ruleset_derived_free(struct ruleset *rs);
int ifmatch_copy(struct ifmatch *dst, const struct ifmatch *src);

#endif
