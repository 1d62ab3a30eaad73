/* The validated, expanded, immutable rule set: what rules/ produces and what
 * filter/ and every backend consume. No syntax survives here: macros are
 * substituted, lists are flattened, the killswitch preset is expanded into
 * ordinary rules (marked with their origin so the printer can fold them back).
 *
 * Everything is owned by the struct ruleset and freed by ruleset_free(). */
#ifndef IFWALL_RULES_RULESET_H
#define IFWALL_RULES_RULESET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "filter/addr.h"

#define IFW_IFNAMSIZ 16

enum rule_action {
	ACTION_PASS = 0,
	ACTION_BLOCK, /* follows the rule set's block_policy */
	ACTION_REJECT,
	ACTION_DROP,          /* 'block drop': silent, whatever block_policy */
	ACTION_RETURN,        /* 'block return': as reject, whatever block_policy */
};

/* Direction bits; a rule with neither given has both. */
enum {
	DIR_IN = 1,
	DIR_OUT = 2,
	DIR_BOTH = DIR_IN | DIR_OUT,
};

enum iftype {
	IFTYPE_ETHER = 0,
	IFTYPE_LOOPBACK,
	IFTYPE_TUNNEL,
};

/* One interface criterion. */
enum ifitem_kind {
	IFITEM_NAME,   /* exact name */
	IFITEM_PREFIX, /* 'wg*': name starts with 'name' */
	IFITEM_ANY,    /* every interface */
	IFITEM_TYPE,   /* 'type tunnel' */
};

struct ifitem {
	enum ifitem_kind kind;
	char name[IFW_IFNAMSIZ]; /* NAME, PREFIX (without '*') */
	enum iftype type;        /* TYPE */
};

/* Matches when any item matches, inverted when negate is set. Lists with
 * negated members are normalised by the parser: '!{a b}' is negate=true
 * over {a b}; a list mixing negated and plain members is an error.
 * count == 0 means "no criterion" (every interface). */
struct ifmatch {
	bool negate;
	size_t count;
	struct ifitem *items;
};

/* An address criterion: set == NULL means any. When the criterion is exactly
 * one named table, table names it (for nft named sets and for printing);
 * otherwise table is NULL and set is an anonymous set owned by the rule set. */
struct addrmatch {
	bool negate;
	const struct addrset *set;
	const char *table;
	/* '(IFSPEC)' (pf syntax): the addresses currently assigned to the
	 * interfaces IFSPEC matches. NULL otherwise; set is then NULL too.
	 * Only known on a live host, or when the backend supplies them (see
	 * struct ifaddr_table in filter/engine.h); unknown never matches. */
	const struct ifmatch *ifaddr;
};

struct portrange {
	uint16_t lo, hi; /* inclusive */
};

/* count == 0 means any port. */
struct portmatch {
	bool negate;
	size_t count;
	struct portrange *ranges;
};

enum rule_origin {
	ORIGIN_USER = 0,
	ORIGIN_KILLSWITCH,
};

struct rule {
	enum rule_action action;
	unsigned dir;         /* DIR_IN, DIR_OUT or DIR_BOTH */
	bool log;
	bool quick_state;     /* reserved: always true (first match, stateful) */
	struct ifmatch on;    /* count == 0: any interface */
	unsigned family;      /* 0: both, 4: inet, 6: inet6 */
	/* Protocols: nprotos == 0 means any. */
	size_t nprotos;
	uint8_t *protos;
	struct addrmatch from, to;
	struct portmatch sport, dport;
	/* ICMP types: ntypes == 0 means any; icmp6 tells which family's names. */
	size_t ntypes;
	uint8_t *types;
	bool icmp6;
	bool has_user;
	uint32_t uid;
	char *user_name;      /* as written, for printing; NULL when a number */
	bool has_mark;
	uint32_t mark;
	char *label;          /* NULL when none */

	/* Where it came from. */
	const char *file;     /* owned by the rule set */
	int line;
	enum rule_origin origin;
	char *text;           /* canonical text of this rule, one line */
	size_t index;         /* position in ruleset.rules */
};

struct rs_table {
	char *name;           /* without <> */
	struct addrset *set;
	const char *file;
	int line;
};

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

struct rs_source {
	char *path;
	unsigned uid;
	unsigned mode;
};

enum default_verdict {
	DEFAULT_BLOCK = 0,    /* follows block_policy */
	DEFAULT_PASS,
	DEFAULT_REJECT,
	DEFAULT_DROP,         /* always silent, whatever block_policy says */
};

enum block_policy {
	BLOCK_POLICY_DROP = 0,
	BLOCK_POLICY_REJECT,
};

struct rule_index; /* filter/engine.h */

struct ruleset {
	size_t nrules;
	struct rule *rules;
	/* The compiled matcher (filter/rule_index.c), built with the rule set
	 * by ruleset_from_*(); NULL (a rule set made by hand, or no memory
	 * for it): decisions scan the rules one by one, with the same result. */
	struct rule_index *index;
	/* Verdict when no rule matches, per direction. 'set default' sets both
	 * ('set default in|out' one); the killswitch sets out = REJECT,
	 * in = DROP for the directions 'set default' did not set. */
	enum default_verdict default_in, default_out;
	/* 'set default ... log': packets the default decides are logged. */
	bool default_in_log, default_out_log;
	bool default_explicit;    /* 'set default' was written */
	/* Per direction: 'set default [in|out] ...' was written for it. */
	bool default_in_explicit, default_out_explicit;
	bool block_policy_explicit; /* 'set block-policy' was written */
	enum block_policy block_policy;
	struct ifmatch skip;      /* 'set skip on': never filtered */
	size_t ntables;
	struct rs_table *tables;
	struct killswitch *killswitch; /* NULL when none */
	/* Everything else the rule set owns (file names, anonymous sets). */
	size_t nfiles;
	char **files;
	size_t nsets;
	struct addrset **sets;
	/* Every file read to build the rule set (the rule file, includes,
	 * table files), with the owner and mode it had when read. */
	size_t nsources;
	struct rs_source *sources;
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
/* Appends a diagnostic located at rule r's FILE:LINE (the source line is
 * read back from the file; the caret spans the statement). For the later
 * stages (a backend's limit) that know a rule but not its columns.
 * Returns 0 or -ENOMEM. */
int diag_add_rule(struct diag_list *diags, enum diag_severity sev,
		  const struct rule *r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Interface type guessed from a name: lo* loopback; wg*, tun*, ppp*, utun*
 * tunnel; else ether (tap* included: a TAP device is Ethernet). */
enum iftype iftype_from_name(const char *name);
const char *iftype_name(enum iftype type);
/* The type the len bytes at word name (loopback, tunnel, ether): true and
 * *type set, or false. */
bool iftype_from_type_name(const char *word, size_t len, enum iftype *type);
/* "block", "pass", "reject" or "drop", as in 'set default'. */
const char *default_verdict_name(enum default_verdict v);

/* Names of ICMP / ICMPv6 types: returns the number, or -1 if unknown. */
int icmp_type_from_name(const char *name, bool icmp6);
/* NULL when the number has no name. */
const char *icmp_type_name(int type, bool icmp6);

#endif
