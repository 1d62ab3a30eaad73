/* The rule language's contract: text in (ruleset_from_file), the rule set
 * of filter/ruleset.h out, with every problem as a located diagnostic; the
 * canonical printer; the killswitch block as written.
 *
 * Everything is owned by the struct ruleset and freed by ruleset_free(). */
#ifndef IFWALL_RULES_RULESET_H
#define IFWALL_RULES_RULESET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "filter/addr.h"
#include "filter/names.h"
#include "filter/ruleset.h"

/* The killswitch block as written, kept for the canonical (unexpanded)
 * printer and for warnings. */
struct killswitch_endpoint {
	char *addrs;          /* canonical text of its ADDRS (address, list, <table>) */
	char *ports;          /* canonical " port PORTS", NULL when none */
	uint8_t proto;        /* 0: any, else IPPROTO_UDP / IPPROTO_TCP */
	bool has_user;
	uint32_t uid;
	char *user_name;
	bool has_mark;
	uint32_t mark;
	int line;             /* line of its 'endpoint' statement */
};

struct killswitch {
	struct ifmatch tunnel;
	size_t nendpoints;
	struct killswitch_endpoint *endpoints;
	struct addrmatch dns; /* set == NULL: no dns line */
	char *dns_text;       /* canonical text of the dns ADDRS */
	bool allow_lan;
	char *lan_extra;      /* 'allow lan ADDRS': canonical ADDRS, or NULL */
	bool allow_dhcp;
	size_t nbridges;      /* 'allow bridge IFSPEC' lines */
	struct killswitch_bridge {
		char *ifspec;     /* canonical IFSPEC */
		int line;
	} *bridges;
	const char *file;
	int line;
	size_t first_rule;    /* index of its first expanded rule */
	size_t nrules;        /* number of expanded rules */
	/* Lines of the statements inside the block (0 when absent). */
	int tunnel_line, dns_line, allow_lan_line, allow_dhcp_line;
};

/* What opening a file found about who could change it (rules/trust.c). */
struct rs_trust {
	const char *why;      /* NULL: only root can change it; else the reason */
	char *where;          /* the directory or link why is about; NULL: the file */
	unsigned uid, mode;   /* of that component */
};

struct rs_source {
	char *path;
	struct rs_trust trust;
};

/* Diagnostics: values with locations; rules/ never prints on its own. */
enum diag_severity {
	DIAG_ERROR,
	DIAG_WARNING,
	DIAG_NOTE,
};

struct diag {
	enum diag_severity severity;
	char *file;           /* NULL for diagnostics without a location */
	int line, col;        /* 1-based; col 0 when unknown */
	int span;             /* characters under the caret, >= 1 */
	char *message;
	char *source_line;    /* the line's text, NULL when unknown */
	char *include_chain;  /* "In file included from a.rules:3:" lines, or NULL */
	/* Column of the caret within source_line (1-based): equals col unless
	 * a very long line was cut to an excerpt around the column. */
	int source_col;
	/* A file that could not be read (the rule file, an include, a table
	 * file): its errno (EACCES, ENOENT, ...); 0 for other problems. */
	int sys_errno;
};

struct diag_list {
	size_t count;
	size_t errors;
	size_t warnings;
	struct diag *items;
};

/* Parses, validates and expands a rule file. Returns the rule set, or NULL
 * when there was any error (all of them appended to diags) or -ENOMEM.
 * Warnings are appended to diags in both cases. diags may be NULL. */
struct ruleset *ruleset_from_file(const char *path, struct diag_list *diags);
/* The same from text in memory; 'name' is used in locations and includes
 * are resolved relative to the current directory. */
struct ruleset *ruleset_from_string(const char *name, const char *text,
				    size_t len, struct diag_list *diags);
void ruleset_free(struct ruleset *rs);
/* Another reference to rs (parsed or made by ruleset_table_change), for a
 * holder that must not depend on its caller keeping rs: each reference is
 * released with its own ruleset_free(), and the rule set goes with the
 * last one. Thread-safe (the count is atomic). Returns rs; NULL for NULL. */
struct ruleset *ruleset_ref(const struct ruleset *rs);

/* The table named name (without <>), or NULL. */
const struct rs_table *ruleset_find_table(const struct ruleset *rs, const char *name);
/* A new rule set equal to rs but for table 'name', changed by op (see
 * addrset_change() in filter/addr.h; *changed may be NULL): what a running
 * userspace backend swaps in, like a reload but without parsing, for
 * 'ifwall table'. Rules that name the table ('to <name>', 'endpoint
 * <name>') follow the new content; a table inside a list ('{ <name>
 * 10.0.0.1 }') was copied into the list when the file was parsed and does
 * not. rs is not modified and may be freed before or after *out; flows
 * decided by rs must be re-checked against *out (flow_table_recheck) before
 * rs is freed. Returns 0, -ESRCH (no such table), -EINVAL, -ENOMEM; *out is
 * NULL on error. */
int ruleset_table_change(const struct ruleset *rs, const char *name,
			 enum addrset_op op, const struct ifw_prefix *p, size_t n,
			 struct ruleset **out, size_t *changed);

/* Rule files an unprivileged user could have changed: not owned by root, or
 * writable by group or others. Appends one diagnostic of severity sev per
 * such file (load and run refuse them: DIAG_ERROR; check warns:
 * DIAG_WARNING). Returns how many files were found. */
size_t ruleset_check_trust(const struct ruleset *rs, enum diag_severity sev,
			   struct diag_list *diags);

/* Canonical printer: a valid rule file that parses back to the same output.
 * expand=false folds the killswitch rules back into the killswitch block.
 * Each rule is followed by a comment with its FILE:LINE. */
int ruleset_print(FILE *out, const struct ruleset *rs, bool expand);

/* gcc-style: "FILE:LINE:COL: error: MESSAGE", the source line and a caret
 * line under the span, include chains before. */
void diag_list_print(FILE *out, const struct diag_list *diags);
/* JSON array of {severity,file,line,col,message}. */
void diag_list_print_json(FILE *out, const struct diag_list *diags);
void diag_list_clear(struct diag_list *diags);
/* The errno of the first file that could not be read, or 0. */
int diag_list_sys_errno(const struct diag_list *diags);
/* Appends a diagnostic located at rule r's FILE:LINE (the source line is
 * read back from the file; the caret spans the statement). For the later
 * stages (a backend's limit) that know a rule but not its columns.
 * Returns 0 or -ENOMEM. */
int diag_add_rule(struct diag_list *diags, enum diag_severity sev,
		  const struct rule *r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* "block", "pass", "reject" or "drop", as in 'set default'. */
const char *default_verdict_name(enum default_verdict v);

#endif
