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
 *   sets ifaddr_N_v4 / ifaddr_N_v6, ifaddr_all_v4 / ifaddr_all_v6
 *                      the addresses of '(IFSPEC)' (see below)
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
 * pass default) on interface X goes to chain pass_*, which records
 * 'ct id . X' in @state. A packet in the reply direction of its conntrack
 * entry whose 'ct id . its interface' is in @state goes to the same pass
 * chain (refreshing the element) and is accepted. Packets in the original
 * direction are always evaluated against the rules, so a reload takes
 * effect on their next packet; replies ride on the state only on the
 * interface the flow passed on (a reply to a wg0 flow injected on eth0 is
 * evaluated as new, and the killswitch drops it). A forwarded flow
 * records both its interfaces. An ICMP error that conntrack relates to a
 * flow (RELATED; conntrack gives it the flow's ct id) is accepted when
 * that flow has state on the error's interface, in either direction: an
 * error about an inbound flow (frag-needed about a server's answer) comes
 * in the flow's original direction. Nothing is refreshed by it.
 *
 * Why a set that follows conntrack, and not state in conntrack itself:
 * a conntrack label or mark would die with the flow for free, but the
 * binding is "this flow passed on that interface", and comparing a stored
 * interface with the packet's needs a register-to-register comparison that
 * nft (the tool admins list the ruleset with, and 'compile' output) cannot
 * express, so 'nft list ruleset' would break; the ct mark is also
 * rewritten whole by wg-quick. So @state stays a set, and its elements
 * live as long as their flows: every packet that passes (first packet,
 * later original-direction packets, replies) sets its element's timeout
 * from its conntrack entry's remaining lifetime ('ct expiration', which
 * conntrack has just refreshed for this packet) rounded up to a bucket
 * (10 s, 30 s, 1, 2, 5, 10 min, 1 h, 1 d, 5 d, then 30 d) plus 1 s; a
 * flow's first packet, whose entry is not confirmed yet (its expiration
 * is not readable), gets its protocol's initial conntrack timeout (tcp
 * 121 s, udp/icmp 31 s, others 601 s) and the first answer corrects it.
 * A closed TCP connection's element goes within seconds of its entry
 * (CLOSE 10 s, TIME_WAIT 120 s); an established idle one lives its 5 days
 * as conntrack does. So @state holds about what conntrack holds
 * (nf_conntrack_max, 262144 here) plus the last bucket's slack of flows
 * that just ended. It is bounded at 1048576 elements (~100 MB at worst);
 * a SYN flood's half-open entries live about as long as conntrack's
 * SYN_RECV (60 s plus SYN-ACK retransmissions), so it takes a sustained
 * ~8000 new flows per second to fill it. Full, nothing turns into "block
 * everything" or "pass everything": established flows keep refreshing
 * their elements (an update of an existing element needs no room), a new
 * flow's packets still pass by their rules (the chain's last rule
 * accepts) but the new flow gets no reply state, so its replies are
 * evaluated by the rules, until elements expire (minutes, not days).
 * Limits: packets conntrack does not track (or untracked by another
 * table) never match the state and are always evaluated; ct id is a
 * 32-bit hash, so a new flow could in principle meet a stale element
 * during the second or so it outlives its flow; a timeout sysctl raised
 * above 30 days ends state before conntrack does (fail closed).
 * @state is kept across reloads (its shape is recorded in its user data;
 * a set of an older shape is replaced), so established flows survive a
 * 'load'.
 *
 * Reload (rules.md: existing flows are re-checked): before the swap,
 * 'load' reads @state's elements and the conntrack table (ctnetlink),
 * rebuilds each flow's first packet from its entry's original tuple, and
 * decides it with the engine against the new rule set on the element's
 * interface: 'out' when its source is an address of this host, 'in' when
 * its destination is, either side for a forwarded flow. The elements of
 * flows the new rules block are deleted in the same transaction as the
 * rule swap, so their replies are evaluated (and dropped) from the next
 * packet on; flows both rule sets allow keep their state. Owner criteria
 * (user, mark) are not in conntrack: a flow that a pass rule with owner
 * criteria could pass keeps its state (its original-direction packets are
 * still decided with the real owner). A flow that gets state between the
 * read and the commit (milliseconds) is not re-checked. When conntrack
 * cannot be read the load goes on and reports it (nft_load_stats).
 *
 * Concurrency: dumps the kernel marks interrupted (NLM_F_DUMP_INTR) and
 * batches refused because the rule set changed since it was read
 * (generation check, ERESTART) are retried up to 20 times with jittered
 * backoff (2 ms .. 256 ms); the CLI also serialises load and flush on
 * /run/ifwall/nft.lock.
 *
 * Foreign objects: 'show' lists rules without ifwall's user data, chains
 * ifwall does not make and named sets without its content record (a
 * table loaded with 'nft -f' from 'compile' output has none, so its
 * address sets show as foreign) as FOREIGN.
 *
 * reject: chain reject_packet records the flow on the arrival interface and
 * on lo before answering, so the TCP reset or ICMP error (the kernel
 * attaches it to the rejected flow, in its reply direction) leaves through
 * the output chain like any reply, even under a blocking 'out' default
 * (tests/kernel/nft/t_traffic.sh: nft-reject-answers). A kernel that does not
 * attach its ICMP errors to the flow would have them evaluated by the
 * output rules as ordinary packets.
 *
 * '(IFSPEC)' (the addresses the interfaces IFSPEC matches hold) is compiled
 * in every position (from, to, negated, pass or block, in or out) as a
 * lookup in a named set per distinct IFSPEC and family, ifaddr_N_v4 /
 * ifaddr_N_v6, that holds exactly the addresses the engine would match:
 * those of the interface address table (iftable_ifaddrs) whose owner the
 * IFSPEC matches (the owner's type guessed from its name, as the engine
 * does), or does not for '!(IFSPEC)'. So 'to (wg0)' is "to an address of
 * wg0", not the old "to a local address not on the arrival interface",
 * which also dropped a LAN peer reaching the host's eth0 address through
 * lan0 (issue 12 item 9) where query and divert passed it.
 *
 * The sets are a snapshot; the engine's table is live. Who keeps them
 * current:
 *   'load' (one-shot): filled from an rtnetlink dump when the file is
 *       compiled, just before the transaction; never refreshed after.
 *   a resident owner ('run --backend nft', tools/run_nft.c): on every
 *       rtnetlink address change, nft_plan_set_ifaddrs() and, when a set
 *       changed, nft_plan_refill_socket() on its owning socket: one
 *       transaction replacing the sets' elements (the cgroup id sets are
 *       kept current the same way from an inotify watch). A program that
 *       is not the owner of an owned table uses nft_ifaddr_sets_refresh()
 *       (tests/kernel/nft/t_ifaddr.sh drives it through
 *       tools/helpers/ifaddr_refresh: ~20 ms).
 *   'compile': the addresses when compiled (or --ifaddr), with a comment.
 * The window, for 'load' until the next load (and for the owner the
 * milliseconds between an address change and its refresh): an address
 * added after the snapshot is unknown to the sets, a removed one still in
 * them. The engine's rule "unknown never matches" would then let a probe
 * to a tunnel address that appeared after the load (a tunnel that comes up
 * after a boot-time load, or reconnects with another address) through any
 * pass after the kill switch's drop ('allow lan', 'allow bridge'). So the
 * kill switch form, 'block|drop|reject in on !TUN to (TUN)', gets a guard
 * rule after its exact rule:
 *   iifname != TUN  ip daddr != @ifaddr_all_v4  fib daddr type local
 *   fib daddr . iif type != local  drop
 * "to a local address no interface held at the snapshot, not on the
 * arrival interface": a new address may be the tunnel's, so it is treated
 * as one (fail closed). While the snapshot is current the guard matches
 * nothing the engine would pass (every local address is in @ifaddr_all;
 * only local routes that are no interface address, such as AnyIP
 * 'ip route add local', differ). In the window it is stricter than the
 * engine in one way only: a packet through one interface to an address
 * another non-tunnel interface got after the snapshot (eth0's DHCP lease
 * after a boot-time load, reached from lan0) is dropped until the next
 * load or refresh; the same address reached on its own interface passes.
 * Outside the kill switch form there is no guard: in the window a new
 * address does not match (a pass rule does not pass it, a block rule does
 * not block it), as the engine with an address it has not learned yet.
 * The '(IFSPEC)' sets are replaced by every load (a refresh changes their
 * elements but not the content digest in their user data), and
 * nft_plan_load() refuses a plan whose sets were never filled.
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

#include "backends/backend.h"
#include "rules/ruleset.h"

#define NFT_TABLE "ifwall"

/* A problem, with the rule it is about when there is one: the backends'
 * one error type (struct backend_error, backends/backend.h) under the name
 * the nf_tables files have used, so they need not all change at once. */
#define nft_error backend_error

struct nft_plan;

/* Compiles rs into a plan. Returns 0, -ENOTSUP for a rule the kernel form
 * cannot express (err names it), or -ENOMEM. rs must outlive the plan. */
int nft_plan_build(const struct ruleset *rs, struct nft_plan **out,
		   struct nft_error *err);
void nft_plan_free(struct nft_plan *plan);

/* 'cgroup "PATH"' rules: the kernel compares cgroup ids ('socket cgroupv2
 * level L', L the pattern's number of components, so the cgroup and
 * everything below it match), each rule against its named set
 * 'cgroup_N' (N: the rule's index) of the ids of the cgroups its pattern
 * names at level L. nft_plan_build leaves the sets empty; this fills them
 * from the host's cgroup v2 hierarchy as it is now (a one-shot 'load':
 * a cgroup created later matches only after the next load, or when a
 * resident process keeps the sets current with backends/cgroup.h's watch).
 * Rules with 'cgroup' are left out of the forward chains (no local
 * socket). Returns 0 or -errno with err set. */
int nft_plan_resolve_cgroups(struct nft_plan *plan, struct nft_error *err);
/* The plan's cgroup sets: how many, and the i-th one's rule, set name and
 * number of ids (NULL past the end). */
size_t nft_plan_cgroup_count(const struct nft_plan *plan);
const struct rule *nft_plan_cgroup(const struct nft_plan *plan, size_t i,
				   const char **set_name, size_t *nids);
struct ifaddr_table;
/* Fills the plan's '(IFSPEC)' sets (see "'(IFSPEC)'" above) from ifaddrs,
 * the engine's address table (iftable_ifaddrs() of a live interface table,
 * or one made by hand): each set gets exactly the addresses the engine
 * would match with that table. Pure computation. *changed (may be NULL)
 * gets how many sets' contents differ from before. Returns 0, or -ENOMEM
 * with the plan unchanged. A plan with such sets must be filled before
 * nft_plan_load() (which refuses it otherwise). */
int nft_plan_set_ifaddrs(struct nft_plan *plan, const struct ifaddr_table *ifaddrs,
			 size_t *changed);
/* The same from the host's interfaces now (an rtnetlink dump; needs no
 * privilege). Returns 0 or -errno (the plan unchanged). */
int nft_plan_read_ifaddrs(struct nft_plan *plan, size_t *changed);
/* How many '(IFSPEC)' sets the plan has (0: nothing to fill or refresh). */
size_t nft_plan_ifaddr_set_count(const struct nft_plan *plan);

/* Number of kernel rules in the plan. */
size_t nft_plan_rule_count(const struct nft_plan *plan);

/* Prints the plan as an nft script that 'nft -f' loads into the same table
 * (it replaces any previous table inet ifwall). Returns 0 or -EIO. */
int nft_plan_print(FILE *out, const struct nft_plan *plan);

struct nft_load_stats {
	size_t messages;         /* in the batch */
	size_t bytes;            /* batch size */
	size_t sets_kept;        /* named sets reused unchanged */
	size_t flows_checked;    /* flows with state re-decided by the new rules */
	size_t flows_blocked;    /* ... that they block: state removed */
	int recheck_error;       /* -errno when flows could not be re-checked
				    (conntrack unreadable); the load went on */
};

/* Replaces table inet ifwall with the plan in one kernel transaction and
 * checks every acknowledgement. On failure nothing was changed; a message
 * the kernel refused is mapped back to its rule (err->file/line). Returns 0
 * or -errno. stats may be NULL. */
int nft_plan_load(const struct nft_plan *plan, struct nft_load_stats *stats, struct nft_error *err);

/* Writes the current contents of the plan's '(IFSPEC)' sets (ifaddr_sets)
 * and cgroup id sets (cgroup_sets) into the loaded table in one
 * transaction, on a socket the caller keeps (the owner of an owned table:
 * 'run --backend nft' keeps them current as interfaces and cgroups come
 * and go). *seq is the socket's sequence number. Returns 0 or -errno. */
struct mnl_socket;
int nft_plan_refill_socket(struct mnl_socket *sock, uint32_t *seq,
			   const struct nft_plan *plan, bool ifaddr_sets, bool cgroup_sets,
			   struct nft_error *err);

/* Brings the '(IFSPEC)' sets of a loaded plan up to date: recomputes them
 * from ifaddrs (nft_plan_set_ifaddrs) and, when any content changed (or a
 * previous refresh failed), replaces the elements of every such set of
 * table inet ifwall in one kernel transaction (flush and add per set), so
 * a packet never sees a half-updated set. For the resident owner ('run
 * --backend nft'): call it with iftable_ifaddrs() of its IFTABLE_WATCH
 * table whenever iftable_process() reports changes, and after each load
 * of the plan. The table must hold this plan (the sets are found by
 * name). *changed (may be NULL) gets how many sets' contents changed; 0
 * sends nothing. Returns 0 or -errno with err filled; on failure the
 * kernel's sets are unchanged and the next call sends them again. */
int nft_ifaddr_sets_refresh(struct nft_plan *plan, const struct ifaddr_table *ifaddrs,
			    size_t *changed, struct nft_error *err);

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

/* Something in table inet ifwall that ifwall did not put there: a rule
 * without ifwall's user data, a chain ifwall does not make, a named set
 * without ifwall's content record. */
struct nft_foreign {
	char kind[8];            /* "rule", "chain", "set" */
	char chain[64];          /* rule: its chain; chain: its name */
	char name[64];           /* set: its name */
	uint64_t handle;         /* rule: its kernel handle */
	char verdict[48];        /* rule: "accept", "drop", "jump X", ... or "" */
	uint64_t packets, bytes; /* rule: its counter, when it has one */
};

struct nft_listing {
	bool present;            /* table inet ifwall exists */
	char policy_input[8], policy_output[8], policy_forward[8];
	size_t kernel_rules;     /* all rules of the table */
	size_t nsets;
	size_t nentries;
	struct nft_entry *entries; /* rules in file order, then skip, defaults */
	size_t nforeign, foreign_cap;
	struct nft_foreign *foreign; /* in kernel order: chains, sets, rules */
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
