/* The rule set as the engine evaluates it: validated, expanded and
 * immutable. rules/ builds it from text (rules/ruleset.h: parsing,
 * printing, diagnostics, the killswitch block as written); filter/ and
 * every backend read it. No syntax survives here: macros are substituted,
 * lists are flattened, the killswitch preset is expanded into ordinary
 * rules (marked with their origin so the printer can fold them back). */
#ifndef IFWALL_FILTER_RULESET_H
#define IFWALL_FILTER_RULESET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "filter/addr.h"

/* Defined by rules/ (rules/ruleset.h): the killswitch block as written and
 * the files read; the engine never looks inside. */
struct killswitch;
struct rs_source;

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
	/* 'cgroup "PATH"': cgroup v2 path pattern relative to the hierarchy's
	 * root, without leading or trailing '/', possibly ending in '*'
	 * (filter/cgroup_path.h); NULL when none. Live only, like user. */
	char *cgroup;
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
	/* A rule set made by ruleset_table_change() shares everything with
	 * the parsed rule set 'shared' but its rules and tables arrays and the
	 * table sets it changed (table_owned[i]: tables[i].set is its own).
	 * A parsed rule set counts the derived ones alive in 'refs' and is
	 * freed by whichever of them and its own ruleset_free() comes last.
	 * 'refs' also counts the extra references ruleset_ref() hands out
	 * (on a parsed or a derived set), each released by a ruleset_free(). */
	struct ruleset *shared;
	bool *table_owned;
	long refs;
};

#endif
