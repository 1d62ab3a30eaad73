/* nft backend: the rule set enforced by the kernel, through libnftnl and
 * libmnl (no nft binary, no text round trip).
 *
 * Layout of table 'inet ifwall' (what 'ifwall compile' prints):
 *
 *   chain input    hook input,   policy = default in   'in' rules, iifname
 *   chain output   hook output,  policy = default out  'out' rules, oifname
 *   chain forward  hook forward, policy = default out  jump forward_in, then
 *                                                      'out' rules, oifname
 *   chain forward_in   'in' rules for forwarded packets (pass = return, so
 *                      the packet goes on to the egress check)
 *   chain pass_in / pass_out / pass_forward_in
 *                      record the flow's interface, then accept (return)
 *   chain reject_packet  tcp reset for TCP, icmpx admin-prohibited otherwise
 *   set state          dynamic, 'ct id . ifname' of every passed packet
 *   sets NAME_v4 / NAME_v6  one interval set per table and family, shared by
 *                      every rule naming the table; other lists are
 *                      anonymous sets. A table a rule names gets both
 *                      sets, empty ones included, and its name in their
 *                      user data: 'ifwall table' changes them at run time
 *                      (nft_table.h). A negated table ('to !<t>') keeps
 *                      the families it had at load time until the next
 *                      load (see table_addr_state in nft_plan.c).
 *
 * Each base chain starts with the state check, then 'set skip on' (accept),
 * then the rules in file order (first match wins: every rule ends in a
 * verdict), then a counted rule applying the default (a reject default is
 * policy drop plus a final reject rule). Every rule of the file carries a
 * counter and user data: nft's comment "FILE:LINE" plus ifwall's own
 * records (rule index, canonical text), which 'show' and error messages
 * read.
 *
 * State (if-bound, as the spec asks): a packet passed by a rule (or a
 * pass default) on interface X adds 'ct id . X' to @state. A packet in the
 * reply direction of its conntrack entry is accepted when 'ct id . its
 * interface' is in @state. Packets in the original direction are always
 * evaluated against the rules, so a reload takes effect on their next
 * packet; replies of an outgoing flow ride on the state only on the
 * interface the flow passed on (a reply to a wg0 flow injected on eth0 is
 * evaluated as new, and the killswitch drops it). A forwarded flow records
 * both its interfaces. Limits: packets conntrack does not track (or
 * untracked by another table) never match the state and are always
 * evaluated; ct id is a 32-bit hash, so a new flow could in principle
 * collide with a stale entry of a dead one (entries time out after 5 days
 * idle, refreshed by every passed packet); @state holds at most 262144
 * entries, and a flow that finds it full gets no reply state (fail closed).
 * @state is kept across reloads, so established flows survive a 'load'.
 *
 * reject: chain reject_packet records the flow on the arrival interface and
 * on lo before answering, so the TCP reset or ICMP error (the kernel
 * attaches it to the rejected flow, in its reply direction) leaves through
 * the output chain like any reply, even under a blocking 'out' default
 * (tests/nft/t_traffic.sh: nft-reject-answers). A kernel that does not
 * attach its ICMP errors to the flow would have them evaluated by the
 * output rules as ordinary packets.
 *
 * '(IFSPEC)' (addresses of interfaces) is compiled only in the form the
 * killswitch uses, 'block|reject in on !TUN to (TUN)', as
 *   iifname != TUN  fib daddr type local  fib daddr . iif type != local
 * i.e. "addressed to a local address that is not on the arrival
 * interface". That is stricter than the engine's exact meaning (it also
 * drops packets for another non-tunnel interface's address arriving on the
 * wrong interface), never looser. Other uses are refused at compile time.
 *
 * Interface types: loopback = ARPHRD_LOOPBACK; tunnel = the ARPHRD values
 * of plan_tunnel_arphrd (none/wireguard/tun, ppp, ipip, ip6tnl, gre, sit,
 * ...); ether = every other type (the engine's "else ether"). */
#ifndef IFWALL_BACKENDS_NFT_H
#define IFWALL_BACKENDS_NFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "rules/ruleset.h"

#define NFT_TABLE "ifwall"

/* A problem, with the rule it is about when there is one. */
struct nft_error {
	int code;              /* -errno; 0 when none */
	const char *file;      /* rule origin (owned by the rule set), or NULL */
	int line;
	const char *rule_text; /* canonical text, or NULL */
	char message[512];
};

struct nft_plan;

/* Compiles rs into a plan. Returns 0, -ENOTSUP for a rule the kernel form
 * cannot express (err names it), or -ENOMEM. rs must outlive the plan. */
int nft_plan_build(const struct ruleset *rs, struct nft_plan **out,
		   struct nft_error *err);
void nft_plan_free(struct nft_plan *plan);

/* Number of kernel rules in the plan. */
size_t nft_plan_rule_count(const struct nft_plan *plan);

/* Prints the plan as an nft script that 'nft -f' loads into the same table
 * (it replaces any previous table inet ifwall). Returns 0 or -EIO. */
int nft_plan_print(FILE *out, const struct nft_plan *plan);

struct nft_load_stats {
	size_t messages;         /* in the batch */
	size_t bytes;            /* batch size */
	size_t sets_kept;        /* named sets reused unchanged */
};

/* Replaces table inet ifwall with the plan in one kernel transaction and
 * checks every acknowledgement. On failure nothing was changed; a message
 * the kernel refused is mapped back to its rule (err->file/line). Returns 0
 * or -errno. stats may be NULL. */
int nft_plan_load(const struct nft_plan *plan, struct nft_load_stats *stats, struct nft_error *err);

/* Deletes table inet ifwall and every other ifwall table (named "ifwall",
 * "ifwall_*" or "ifwall-*", any family) in one transaction; nothing else.
 * *deleted gets how many (0 when none existed, which is success). */
int nft_flush(size_t *deleted, struct nft_error *err);

/* The installed rule set read back from the kernel. */
enum nft_entry_kind {
	NFT_ENTRY_RULE = 0,      /* a rule of the file */
	NFT_ENTRY_SKIP,          /* 'set skip on' */
	NFT_ENTRY_DEFAULT_IN,
	NFT_ENTRY_DEFAULT_OUT,
};

struct nft_entry {
	enum nft_entry_kind kind;
	long index;              /* rule index, -1 when unknown */
	char *origin;            /* "FILE:LINE" (RULE), NULL otherwise */
	char *text;              /* canonical text, NULL when not recorded */
	char *verdict;           /* "accept", "drop", "reject", "return", ... */
	char chains[96];         /* "input forward_in" */
	size_t kernel_rules;     /* kernel rules merged into this entry */
	uint64_t packets, bytes;
};

struct nft_listing {
	bool present;            /* table inet ifwall exists */
	char policy_input[8], policy_output[8], policy_forward[8];
	size_t kernel_rules;     /* all rules of the table */
	size_t nsets;
	size_t nentries;
	struct nft_entry *entries; /* rules in file order, then skip, defaults */
};

/* Reads table inet ifwall. Returns 0 (listing->present false when there
 * is no table) or -errno. */
int nft_listing_read(struct nft_listing **out, struct nft_error *err);
void nft_listing_free(struct nft_listing *listing);
/* The parsers of nft_listing_read over netlink messages already received
 * (len bytes, as one datagram; for tests and the fuzzer): rule messages
 * into a listing (present set), and table, chain, set and generation
 * messages read as when ifwall looks at its table (*chains and *sets get
 * how many of table inet ifwall's it found). Malformed messages are
 * skipped. Return 0 or -errno (-ENOMEM). */
int nft_listing_parse(struct nft_listing **out, const void *buf, size_t len);
int nft_table_state_parse(const void *buf, size_t len, size_t *chains, size_t *sets);

#endif
