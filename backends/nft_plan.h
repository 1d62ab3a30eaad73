/* The nft backend's intermediate form (internal to backends/nft*.c).
 *
 * nft_plan_build() (nft_plan.c) turns a rule set into a plan: the chains,
 * the sets and the kernel rules of table 'inet ifwall', each rule a short
 * list of matches and statements close to nft's own vocabulary. Two
 * emitters read the same plan, so what 'load' sends and what 'compile'
 * prints cannot drift apart:
 *   nft_linearize.c  the plan as libnftnl objects, which nft_load.c sends
 *                    as one nf_tables batch (nft_batch.c);
 *   nft_script.c     the plan as an nft script for review ('nft -f').
 */
#ifndef IFWALL_BACKENDS_NFT_PLAN_H
#define IFWALL_BACKENDS_NFT_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backends/nft.h"
#include "filter/addr.h"
#include "rules/ruleset.h"

enum plan_chain_id {
	CHAIN_INPUT = 0,      /* base, hook input: 'in' rules on iifname */
	CHAIN_FORWARD,        /* base, hook forward: jump forward_in, then 'out' rules on oifname */
	CHAIN_OUTPUT,         /* base, hook output: 'out' rules on oifname */
	CHAIN_FORWARD_IN,     /* 'in' rules for forwarded packets; pass = return */
	CHAIN_PASS_IN,        /* record (ct id . iifname) in @state, accept */
	CHAIN_PASS_OUT,       /* record (ct id . oifname) in @state, accept */
	CHAIN_PASS_FORWARD_IN,/* record (ct id . iifname) in @state, return */
	CHAIN_REJECT,         /* tcp reset for TCP, icmpx admin-prohibited otherwise */
	CHAIN_COUNT
};

struct plan_chain {
	const char *name;
	bool base;
	int hook;             /* NF_INET_LOCAL_IN, ... (base chains) */
	bool policy_accept;   /* base chains: policy accept, else drop */
};

enum plan_set_kind {
	SETKIND_ADDR4,        /* ipv4_addr, interval */
	SETKIND_ADDR6,        /* ipv6_addr, interval */
	SETKIND_PORT,         /* inet_service, interval */
	SETKIND_L4PROTO,      /* inet_proto */
	SETKIND_ARPHRD,       /* meta iiftype/oiftype values, host order */
	SETKIND_ICMP,         /* icmp type */
	SETKIND_ICMP6,        /* icmpv6 type */
	SETKIND_STATE,        /* dynamic: ct id . ifname */
	SETKIND_CGROUP,       /* cgroup v2 ids (8 bytes, host order), see cgroup below */
};

struct plan_value_range {
	uint32_t lo, hi;      /* inclusive, host order */
};

struct plan_set {
	char name[64];        /* named sets; anonymous ones get "__set%d" */
	enum plan_set_kind kind;
	bool anonymous;
	/* ADDR4/ADDR6: the merged ranges of this family of addrs. */
	const struct addrset *addrs;
	/* ADDR4/ADDR6 of a table: its name (kernel set user data, so 'ifwall
	 * table NAME' finds the sets); NULL for other sets. */
	const char *table;
	/* Other kinds: values (ranges only for PORT). */
	size_t nvalues;
	struct plan_value_range *values;
	/* CGROUP: the named set 'cgroup_N' of rule N's 'cgroup' pattern: the
	 * ids of the cgroups it names at its level, filled on this host by
	 * nft_plan_resolve_cgroups (nft_cgroup.c), empty until then. */
	const struct rule *cgroup_rule;
	size_t nids;
	uint64_t *ids;
	uint32_t id;          /* transaction id (NFTA_SET_ID), from 1 */
	uint64_t digest;      /* content digest, lets 'load' keep an unchanged set */
	/* '(IFSPEC)' sets (ADDR4/ADDR6, named PLAN_IFADDR_SET_PREFIX...):
	 * the addresses of the interface table whose owner ifspec matches
	 * (the engine's test, filter/match.c), != ifspec_negate (the address
	 * criterion's '!'); ifspec NULL: every address of the table (the kill
	 * switch guard, see nft.h). addrs points at owned, which
	 * nft_plan_set_ifaddrs() fills; never kept by 'load'. */
	bool ifaddr;
	const struct ifmatch *ifspec;
	bool ifspec_negate;
	unsigned ifaddr_number; /* N of ifaddr_N_v4 */
	struct addrset *owned;
};

enum plan_match_kind {
	MATCH_IFNAME,         /* meta iifname/oifname ==/!= name (prefix: first bytes only) */
	MATCH_IFTYPE,         /* meta iiftype/oiftype ==/!= value, or in set */
	MATCH_NFPROTO,        /* meta nfproto ipv4|ipv6 */
	MATCH_L4PROTO,        /* meta l4proto ==/!= value, or in set */
	MATCH_ADDR,           /* ip/ip6 saddr/daddr ==/!= prefix, or in set */
	MATCH_PORT,           /* th sport/dport ==/!= value or range, or in set */
	MATCH_ICMP_TYPE,      /* icmp/icmpv6 type == value, or in set */
	MATCH_SKUID,          /* meta skuid == value */
	MATCH_MARK,           /* meta mark == value */
	MATCH_CGROUP,         /* socket cgroupv2 level value @set */
	MATCH_FIB_LOCAL_OTHER_IF, /* fib daddr type local, fib daddr . iif type != local */
	MATCH_CT_REPLY,       /* ct direction reply */
	MATCH_STATE,          /* ct id . iifname/oifname @state */
	MATCH_CT_RELATED,     /* ct state related */
	MATCH_CT_UNCONFIRMED, /* ct status & confirmed == 0 (a flow's first packet) */
	MATCH_CT_EXPIRATION_LE, /* ct expiration <= value seconds */
};

struct plan_match {
	enum plan_match_kind kind;
	bool negate;
	bool out;             /* IFNAME, IFTYPE, STATE: oif side */
	bool dst;             /* ADDR, PORT: destination */
	int family;           /* NFPROTO, ADDR, ICMP_TYPE: 4 or 6 */
	char ifname[IFW_IFNAMSIZ + 1];
	bool prefix;          /* IFNAME: compare strlen(ifname) bytes only */
	uint32_t value, value_hi; /* single value or PORT range (host order) */
	struct ifw_prefix addr;   /* ADDR without set, unless addr_range */
	bool addr_range;          /* ADDR: a single range that is no prefix */
	struct ifw_range range;
	int set;              /* index into plan->sets, -1 for none */
};

enum plan_verdict {
	PLAN_CONTINUE = 0,    /* no verdict: evaluation continues */
	PLAN_ACCEPT,
	PLAN_DROP,
	PLAN_RETURN,
	PLAN_JUMP,
	PLAN_GOTO,
};

enum plan_rule_role {
	ROLE_INTERNAL = 0,    /* state, reject helper, forward plumbing */
	ROLE_SKIP,            /* 'set skip on' */
	ROLE_USER,            /* a rule of the file */
	ROLE_DEFAULT,         /* the rule set's default for a direction */
};

enum plan_reject {
	REJECT_NONE = 0,
	REJECT_TCP_RESET,
	REJECT_ICMPX_ADMIN,
};

#define PLAN_MAX_MATCHES 32

struct plan_rule {
	enum plan_chain_id chain;
	size_t nmatches;
	struct plan_match matches[PLAN_MAX_MATCHES];
	bool counter;
	bool log;             /* NFLOG group PLAN_LOG_GROUP with log_prefix */
	bool log_limit;       /* preceded by 'limit rate PLAN_LOG_RATE/second' */
	char log_prefix[128];
	bool state_update;    /* update @state { ct id . (i|o)ifname } */
	bool state_update_out;
	const char *state_update_ifname; /* ... or this constant name */
	uint32_t state_timeout;  /* seconds the element lives, 0: the set's */
	enum plan_reject reject;
	enum plan_verdict verdict;
	enum plan_chain_id target; /* JUMP, GOTO */
	enum plan_rule_role role;
	const struct rule *rule;   /* ROLE_USER */
	unsigned default_dir;      /* ROLE_DEFAULT: DIR_IN or DIR_OUT */
};

struct nft_plan {
	const struct ruleset *rs;
	struct plan_chain chains[CHAIN_COUNT];
	size_t nsets, sets_cap;
	struct plan_set *sets;
	size_t nrules, rules_cap;
	struct plan_rule *rules;
	size_t nifaddr_sets;  /* sets with ifaddr set */
	bool ifaddrs_filled;  /* nft_plan_set_ifaddrs() has run */
	bool ifaddrs_stale;   /* a refresh failed: the kernel's may differ */
};

extern const char *const plan_chain_names[CHAIN_COUNT];

/* The digest of a set's contents (nft_plan.c), for sets filled later. */
void plan_set_digest(struct plan_set *s);
/* The order chains are created and printed in. */
extern const enum plan_chain_id plan_chain_order[CHAIN_COUNT];

/* Logging ('log' rules and defaults): the NFLOG group 'ifwall log' reads,
 * and the rate each logging rule may log at (packets per second, burst);
 * beyond it packets are decided without being logged. */
#define PLAN_LOG_GROUP 27
#define PLAN_LOG_RATE 20
#define PLAN_LOG_BURST 100

/* Name of the dynamic set that binds flows to interfaces. */
#define PLAN_STATE_SET "state"
/* '(IFSPEC)' sets: ifaddr_N_v4 / ifaddr_N_v6 per distinct IFSPEC (and
 * '!'), ifaddr_all_v4 / ifaddr_all_v6 for the kill switch guard. A table
 * whose name starts so gets a numbered set name instead. */
#define PLAN_IFADDR_SET_PREFIX "ifaddr_"
/* Its default element timeout (seconds; every update gives its own) and
 * size (see nft.h, "State", for why these values). */
#define PLAN_STATE_TIMEOUT 2592000
#define PLAN_STATE_SIZE 1048576
/* An element's timeout follows its flow's conntrack timeout: a packet that
 * finds 'ct expiration' at most plan_state_buckets[i] seconds sets the
 * element to live plan_state_buckets[i] + 1 seconds; beyond the last
 * bucket, PLAN_STATE_TIMEOUT. A flow's first packet (conntrack entry not
 * yet confirmed, its expiration not readable) gets the protocol's initial
 * conntrack timeout, plus one second. */
extern const uint32_t plan_state_buckets[];
extern const size_t plan_state_bucket_count;
#define PLAN_STATE_FIRST_TCP 121      /* nf_conntrack_tcp_timeout_syn_sent 120 */
#define PLAN_STATE_FIRST_DGRAM 31     /* udp, icmp, icmpv6: 30 */
#define PLAN_STATE_FIRST_OTHER 601    /* nf_conntrack_generic_timeout 600 */
#define PLAN_STATE_REJECT 10          /* the answer to a rejected packet */

/* ARPHRD values of the 'tunnel' interface type: the non-Ethernet
 * point-to-point devices. */
extern const uint16_t plan_tunnel_arphrd[];
extern const size_t plan_tunnel_arphrd_count;

/* Rule user data (NFTA_RULE_USERDATA) types. COMMENT is nft's own (shown
 * by 'nft list' as comment "..."); the others are ifwall's and ignored by
 * nft. */
enum {
	PLAN_UDATA_COMMENT = 0,    /* "FILE:LINE", "default in", ... */
	PLAN_UDATA_INDEX = 0xf0,   /* u32: rule index in the rule set */
	PLAN_UDATA_TEXT = 0xf1,    /* canonical rule text (may be cut short) */
	PLAN_UDATA_ROLE = 0xf2,    /* u32: enum plan_rule_role */
	PLAN_UDATA_DIR = 0xf3,     /* u32: DIR_IN / DIR_OUT of a default rule */
};

/* The comment of a rule ("FILE:LINE", "default in", "skip"), at most 127
 * characters; returns buf. */
const char *plan_rule_comment(const struct plan_rule *r, char *buf, size_t size);

#endif
