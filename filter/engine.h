/* The engine: a packet is decoded once into a descriptor, then decided
 * against a rule set, statelessly (ruleset_decide, used by 'query') or with
 * if-bound flow state (flow_table_packet, used by replay and the userspace
 * backends). */
#ifndef IFWALL_FILTER_ENGINE_H
#define IFWALL_FILTER_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "filter/addr.h"
#include "filter/cgroup_path.h"
#include "filter/names.h"
#include "filter/ruleset.h"

enum verdict {
	VERDICT_PASS = 0,
	VERDICT_BLOCK,  /* dropped silently */
	VERDICT_REJECT, /* dropped and answered with RST / ICMP unreachable */
};

const char *verdict_name(enum verdict v); /* "pass", "block", "reject" */

/* Addresses assigned to interfaces, for '(IFSPEC)' address criteria. Live
 * backends fill it from rtnetlink; replay learns it from traffic (the source
 * of a packet passing out on an interface). */
struct ifaddr_table;
struct ifaddr_table *ifaddr_table_new(void);
void ifaddr_table_free(struct ifaddr_table *t);
/* Records that ifname holds addr. Returns 0 or -ENOMEM. */
int ifaddr_table_add(struct ifaddr_table *t, const char *ifname,
		     const struct ifw_addr *addr);
/* Forgets every address of ifname. */
void ifaddr_table_remove_interface(struct ifaddr_table *t, const char *ifname);
/* Name of the interface holding addr, NULL when none is known. */
const char *ifaddr_table_owner(const struct ifaddr_table *t,
			       const struct ifw_addr *addr);
/* Calls fn for every address and its owner, in no particular order; stops
 * at the first non-zero return and returns it (0 when all were visited).
 * fn must not change the table. */
int ifaddr_table_foreach(const struct ifaddr_table *t,
			 int (*fn)(const struct ifw_addr *addr, const char *ifname,
				   void *ctx),
			 void *ctx);

/* Decoded packet plus the context the backend knows. */
struct packet {
	/* Layer 3 */
	uint8_t family;          /* 4 or 6 */
	uint8_t proto;           /* transport protocol after extension headers */
	struct ifw_addr src, dst;
	uint32_t len;            /* bytes of the IP packet */
	/* Fragments: fragment is set for any fragment; a non-first fragment
	 * has no transport header (has_ports and has_icmp are false). */
	bool fragment;
	bool first_fragment;
	uint32_t frag_id;
	/* Layer 4 */
	bool has_ports;          /* tcp, udp (and sctp, udplite) */
	uint16_t sport, dport;   /* host order */
	bool has_icmp;
	uint8_t icmp_type, icmp_code;
	uint16_t icmp_id;        /* echo identifier, host order */
	uint8_t tcp_flags;
	/* Context */
	unsigned dir;            /* DIR_IN or DIR_OUT */
	char ifname[IFW_IFNAMSIZ];
	enum iftype iftype;
	bool has_uid;
	uint32_t uid;
	bool has_mark;
	uint32_t mark;
	/* cgroup v2 path of the local socket's process, relative to the root
	 * ("" for the root cgroup); has_cgroup false: unknown, so a rule with
	 * 'cgroup' never matches. */
	bool has_cgroup;
	char cgroup[IFW_CGROUP_PATH_MAX];
	/* Interface addresses for '(IFSPEC)'; NULL: unknown, never matches. */
	const struct ifaddr_table *ifaddrs;
	/* ICMP/ICMPv6 errors (unreachable, packet too big, time exceeded,
	 * parameter problem, ...): the packet that caused the error, as its
	 * sender sent it, from the bytes the error quotes. The flow table
	 * passes an error related to a passed flow on the same interface by
	 * state (like conntrack's RELATED). Set by packet_decode(). */
	bool has_inner;
	struct packet_inner {
		uint8_t proto;
		struct ifw_addr src, dst;
		bool has_ports;
		uint16_t sport, dport;
		bool has_icmp;       /* quoted icmp echo: its type and id */
		uint8_t icmp_type;
		uint16_t icmp_id;
	} inner;
};

enum decode_status {
	DECODE_OK = 0,
	DECODE_TRUNCATED = -1,   /* shorter than its headers say */
	DECODE_MALFORMED = -2,   /* bad version, header length, ... */
	DECODE_NOT_IP = -3,
};

/* Decodes an IP packet (IPv4 or IPv6, by its version nibble) into p's layer
 * 3 and 4 fields; context fields are left as they were. Never reads past
 * len. */
enum decode_status packet_decode(const uint8_t *data, size_t len,
				 struct packet *p);

struct decision {
	enum verdict verdict;
	const struct rule *rule; /* NULL: the default decided (or 'skip') */
	bool skipped;            /* interface is in 'set skip on' */
};

/* Stateless first-match evaluation. Owner criteria (user, mark, cgroup) not known
 * in p never match. Uses rs->index when there is one. */
struct decision ruleset_decide(const struct ruleset *rs, const struct packet *p);
/* The same by trying every rule in order (the reference the index is
 * tested against). */
struct decision ruleset_decide_linear(const struct ruleset *rs,
				      const struct packet *p);

/* The compiled matcher of a rule set (filter/rule_index.c): rules bucketed
 * by interface name, direction, family, protocol and ports, runs of
 * destination sets as address groups, so a packet tries only the rules it
 * could match, in rule set order. Built once; read-only after, so threads
 * may share it. NULL when out of memory or when the rule set is too large
 * to index (the caller then scans). */
struct rule_index *rule_index_new(const struct ruleset *rs);
void rule_index_free(struct rule_index *ix);
/* The first rule of rs (which ix was built from) matching p, or NULL.
 * *indexed is false when the index cannot answer for p (a direction or
 * family outside the usual values, or rs is a copy with other rules): the
 * caller scans instead. */
const struct rule *rule_index_first_match(const struct rule_index *ix,
					  const struct ruleset *rs,
					  const struct packet *p, bool *indexed);
/* True when the rule's every criterion matches p. */
bool rule_matches(const struct rule *r, const struct packet *p);
bool ifmatch_matches(const struct ifmatch *m, const char *ifname,
		     enum iftype type);

/* --- flow table ---------------------------------------------------------- */

struct flow_limits {
	size_t max_flows;        /* 0: default 65536 */
	uint32_t tcp_timeout;    /* seconds idle; 0: default 3600 */
	uint32_t tcp_closed_timeout; /* after FIN/RST; 0: default 10 */
	uint32_t udp_timeout;    /* 0: default 60 */
	uint32_t icmp_timeout;   /* 0: default 30 */
	uint32_t other_timeout;  /* 0: default 60 */
};

/* A flow: the 5-tuple seen first (its direction defines src/dst) bound to
 * one interface. */
struct flow {
	uint8_t family, proto;
	unsigned dir;            /* direction of the first packet */
	struct ifw_addr src, dst;
	uint16_t sport, dport;   /* icmp: id in sport, type in dport */
	char ifname[IFW_IFNAMSIZ];
	enum verdict verdict;    /* the latest decision (see flow_table_packet) */
	const struct rule *rule; /* NULL: default */
	/* The decision of its first packet, which a report of the flow gives
	 * (a recheck decides the first packet anew under the new rules). */
	enum verdict first_verdict;
	const struct rule *first_rule;
	bool flagged;            /* flow_table_flag_last() */
	uint64_t packets, bytes;
	uint64_t first_seen, last_seen; /* nanoseconds, caller's clock */
	uint64_t id;             /* creation order */
};

struct flow_table;

struct flow_table *flow_table_new(const struct flow_limits *limits);
void flow_table_free(struct flow_table *ft);

/* Decides one packet with state. A packet of a known passed flow on the same
 * interface passes without rule evaluation; on another interface it is
 * decided as new. Non-first fragments follow the decision of their first
 * fragment, and are blocked when it is unknown. *flow (if not NULL) gets the
 * flow the packet was counted in (valid until the next call). now is in
 * nanoseconds.
 * A flow whose first packet was blocked is kept (for reporting): a packet
 * the rules cannot tell from that first one (same direction and owner) gets
 * the same verdict without evaluation; any other is decided anew, and if it
 * passes, a passed flow starting with it replaces the blocked one. An ICMP
 * error quoting a packet of a passed flow on the same interface passes by
 * that flow (like conntrack's RELATED). Rule pointers refer to the rule set
 * last given to flow_table_recheck() (or to the packet calls before it). */
struct decision flow_table_packet(struct flow_table *ft,
				  const struct ruleset *rs,
				  const struct packet *p, uint64_t now,
				  const struct flow **flow);

/* The flow the latest flow_table_packet() counted its packet in (none when
 * that packet made no flow, or the flow left the table since): true when
 * that packet was its first. */
bool flow_table_last_began(const struct flow_table *ft);
/* Flags that flow, for good (struct flow's flagged; replay marks the flows
 * that leaked). False when there is no such flow. */
bool flow_table_flag_last(struct flow_table *ft);

/* Loading ahead (optional hints; they change nothing): a caller that
 * decodes packets ahead of deciding them calls flow_table_prefetch() for a
 * packet some packets before flow_table_packet(), which starts loading the
 * slot of its flow, then flow_table_prefetch_entry() a packet or two later
 * (the slot is in cache by then), which starts loading the entry; so the
 * cache misses of a lookup overlap the decisions of the packets between. */
struct flow_prefetch {
	uint64_t key[5];         /* the table's key of the packet's flow */
	uint32_t hash;
	uint16_t ifindex;        /* of its interface name, when made */
	bool swapped, valid;
};
void flow_table_prefetch(struct flow_table *ft, const struct packet *p,
			 struct flow_prefetch *pf);
void flow_table_prefetch_entry(const struct flow_table *ft,
			       const struct flow_prefetch *pf);
/* flow_table_packet() into *d, of a packet p that flow_table_prefetch()
 * was given (unchanged since) with pf: the key made then is used, not made
 * again. pf NULL: made now. */
void flow_table_packet_ahead(struct flow_table *ft, const struct ruleset *rs,
			     const struct packet *p, uint64_t now,
			     const struct flow **flow,
			     const struct flow_prefetch *pf, struct decision *d);

/* After a rule set swap: re-decides every flow against rs; flows rs blocks
 * are blocked from their next packet on. Returns the number that changed. */
size_t flow_table_recheck(struct flow_table *ft, const struct ruleset *rs);

/* Drops flows idle past their timeout. Returns how many. */
size_t flow_table_expire(struct flow_table *ft, uint64_t now);
/* The same, at most max of them (oldest first): returns max when some may
 * be left. For a caller that holds a lock others wait for. */
size_t flow_table_expire_some(struct flow_table *ft, uint64_t now, size_t max);

typedef void (*flow_visit_fn)(const struct flow *f, void *ctx);
/* Called with every flow just before it leaves the table (idle timeout,
 * eviction when full, flow_table_free), so a reporter sees every flow while
 * memory stays bounded. */
void flow_table_set_end_callback(struct flow_table *ft, flow_visit_fn fn,
				 void *ctx);
size_t flow_table_count(const struct flow_table *ft);
uint64_t flow_table_evictions(const struct flow_table *ft);
/* Live flows in creation order. */
void flow_table_foreach(const struct flow_table *ft, flow_visit_fn fn, void *ctx);

#endif
