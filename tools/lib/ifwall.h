/* libifwall: the ifwall rule engine for programs that embed it (a VPN
 * client's packet loop, a network manager). This is the only public header;
 * it is installed as <ifwall.h> and needs nothing else from ifwall.
 *
 *   #include <ifwall.h>      cc prog.c $(pkg-config --cflags --libs libifwall)
 *
 * Conventions, for every function below:
 * - A function that can fail returns an int: a negative errno value
 *   (-EINVAL, -ENOMEM, ...) on failure, 0 or a non-negative count on
 *   success; each function lists its errors. Functions that create an
 *   object return it through an out-parameter and set it to NULL on error.
 * - The library never prints on its own (only to a FILE * the caller hands
 *   it), never calls exit(), never raises signals and never installs
 *   signal handlers. Only the blocking loops (ifw_divert_run, ifw_tun_run)
 *   change the calling thread's signal mask while they run, as they say.
 * - Every handle is opaque and has exactly one *_free() function, which
 *   accepts NULL.
 * - Strings the library returns through a struct or a const char * belong
 *   to the object they came from and stay valid until it is freed. Strings
 *   returned through a char ** are the caller's, to release with free(3).
 * - Thread safety: a rule set (struct ifw_ruleset) and a diagnostics list
 *   are immutable once created; any number of threads may use them at the
 *   same time (ifw_decide*, ifw_ruleset_format, ifw_diags_*). Parsing
 *   (ifw_ruleset_from_*) may be called from several threads at once (the
 *   library serialises what is not reentrant inside it). A flow table is
 *   not locked: use one per thread, or serialise calls on it yourself.
 *   The nft functions may be called from any thread; each call uses its
 *   own netlink socket. The loops block the thread that calls them.
 *
 * Symbols are versioned (IFWALL_0.1); SONAME libifwall.so.0. */
#ifndef IFWALL_H
#define IFWALL_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define IFWALL_VERSION_MAJOR 0
#define IFWALL_VERSION_MINOR 1

/* Library version as "0.1.0"; never NULL. */
const char *ifw_version(void);

/* --- verdicts and directions --------------------------------------------- */

enum ifw_verdict {
	IFW_PASS = 0,
	IFW_BLOCK = 1,   /* dropped silently */
	IFW_REJECT = 2,  /* dropped and answered with TCP RST / ICMP unreachable */
};

enum ifw_dir {
	IFW_IN = 1,      /* entering the host through the interface */
	IFW_OUT = 2,     /* leaving the host through the interface */
};

/* "pass", "block", "reject"; NULL for a value outside the enum. */
const char *ifw_verdict_name(int verdict);

/* --- diagnostics (errors and warnings of a rule file, as data) ---------- */

enum ifw_severity {
	IFW_SEVERITY_ERROR = 0,
	IFW_SEVERITY_WARNING = 1,
	IFW_SEVERITY_NOTE = 2,
};

/* One diagnostic. Fields may be added at the end in later versions: never
 * allocate or copy this struct, use the pointer ifw_diags_get() returns. */
struct ifw_diag {
	int severity;            /* enum ifw_severity */
	const char *file;        /* NULL when the message has no location */
	int line;                /* 1-based, 0 when unknown */
	int col;                 /* 1-based, 0 when unknown */
	int span;                /* characters the problem covers, >= 1 */
	const char *message;     /* without location or severity prefix */
	const char *source_line; /* the text of the line, NULL when unknown */
};

struct ifw_diags;

/* Number of diagnostics, of errors, of warnings. A NULL list has none. */
size_t ifw_diags_count(const struct ifw_diags *diags);
size_t ifw_diags_errors(const struct ifw_diags *diags);
size_t ifw_diags_warnings(const struct ifw_diags *diags);
/* The i-th diagnostic in the order they were found; NULL when i is out of
 * range. Valid until ifw_diags_free(). */
const struct ifw_diag *ifw_diags_get(const struct ifw_diags *diags, size_t i);

enum {
	IFW_FORMAT_TEXT = 0,     /* gcc style, as 'ifwall check' prints it */
	IFW_FORMAT_JSON = 1,     /* JSON array of {severity,file,line,col,message} */
};
/* Formats every diagnostic into a new NUL-terminated string: with
 * IFW_FORMAT_TEXT "FILE:LINE:COL: error: MESSAGE", the source line and a
 * caret line under the span, include chains first. *text is set to a
 * string the caller frees with free(3) (an empty string when there is
 * nothing). Returns its length, -EINVAL (NULL text, unknown format) or
 * -ENOMEM (*text is then NULL). */
int ifw_diags_format(const struct ifw_diags *diags, int format, char **text);
void ifw_diags_free(struct ifw_diags *diags);

/* --- rule sets ----------------------------------------------------------- */

struct ifw_ruleset;

/* Parses, validates and expands a rule file (ifwall.rules(5)); includes and
 * table files are read relative to it. On success *rs is the rule set. If
 * diags is not NULL, *diags is set to the diagnostics (warnings on
 * success, errors and warnings on failure; an empty list when there are
 * none), to free with ifw_diags_free(), also on failure.
 * Returns 0; -EINVAL when the file has errors (*rs is NULL, the errors are in
 * *diags); -ENOENT, -EACCES, ... when the file cannot be opened (also
 * reported in *diags); -EFAULT when path or rs is NULL; -ENOMEM. */
int ifw_ruleset_from_file(const char *path, struct ifw_ruleset **rs,
			  struct ifw_diags **diags);
/* The same from text in memory. name is used in locations ("client.rules");
 * includes and table files are resolved relative to the current directory.
 * The text need not be NUL-terminated. Returns as ifw_ruleset_from_file
 * (-EINVAL when the text has errors). */
int ifw_ruleset_from_string(const char *name, const char *text, size_t len,
			    struct ifw_ruleset **rs, struct ifw_diags **diags);
void ifw_ruleset_free(struct ifw_ruleset *rs);

/* Number of rules after expansion (the killswitch preset counts as the
 * rules it expands to). 0 for NULL. */
size_t ifw_ruleset_rule_count(const struct ifw_ruleset *rs);

enum {
	IFW_FORMAT_EXPAND = 1,   /* print the killswitch preset as plain rules */
};
/* The canonical rule file, as 'ifwall check' prints it (each rule followed
 * by "  #@ FILE:LINE"); it parses back to the same text. flags: 0 or
 * IFW_FORMAT_EXPAND. *text is the caller's, to free(3). Returns its length,
 * -EINVAL (NULL argument, unknown flag) or -ENOMEM. */
int ifw_ruleset_format(const struct ifw_ruleset *rs, int flags, char **text);

/* --- tables changed at run time ------------------------------------------ */

/* A VPN client keeps its servers in a table of a rule file that never
 * changes ('endpoint <vpn_servers> port 51820 proto udp') and changes the
 * table as it connects and moves (ifwall-killswitch(7), "For VPN client
 * authors"). The same operations work on a rule set in memory (a client's
 * own packet loop: ifw_ruleset_table_*) and on the rule set loaded in the
 * kernel (ifw_nft_table_*). Addresses are "ADDR" or "ADDR/LEN", IPv4 or
 * IPv6; 0.0.0.0/0 and ::/0 are refused (-EINVAL), since a table holding
 * every address would open a kill switch. */
enum ifw_table_op {
	IFW_TABLE_ADD = 1,       /* the table plus the addresses */
	IFW_TABLE_DELETE = 2,    /* the table minus the addresses */
	IFW_TABLE_REPLACE = 3,   /* exactly the addresses (none: empty) */
	IFW_TABLE_FLUSH = 4,     /* empty (addresses ignored): for an endpoint
				  * table, the kill switch's blocked state */
};

/* The content of table 'table' (its name without <>) as text: one prefix a
 * line, merged and sorted (IPv4 first). *text is the caller's, to free(3).
 * Returns the number of prefixes; -ESRCH (no such table), -EFAULT, -ENOMEM. */
int ifw_ruleset_table_show(const struct ifw_ruleset *rs, const char *table,
			   char **text);
/* Returns how many of the n addresses are not wholly in the table (0: all
 * are); -ESRCH, -EINVAL (an address is malformed), -EFAULT. */
int ifw_ruleset_table_test(const struct ifw_ruleset *rs, const char *table,
			   const char *const *addrs, size_t n);
/* A new rule set, rs with table 'table' changed by op; rs itself never
 * changes (rule sets are immutable: threads deciding with rs go on safely).
 * Swap it in where rs was used, re-check your flows against it
 * (ifw_flow_table_recheck), then free rs: a flow the new table no longer
 * lets through is blocked from its next packet. Rules that name the table
 * follow it; a table written inside a list ('{ <t> 10.0.0.1 }') was copied
 * when the file was parsed and does not. *out is the caller's to free with
 * ifw_ruleset_free (before or after rs). Returns 0; -ESRCH, -EINVAL (bad
 * op or address), -EFAULT, -ENOMEM (*out NULL). */
int ifw_ruleset_table_change(const struct ifw_ruleset *rs, const char *table,
			     int op, const char *const *addrs, size_t n,
			     struct ifw_ruleset **out);

/* --- deciding packets ---------------------------------------------------- */

/* What decided a packet. Filled by the ifw_decide* functions and by
 * ifw_flow_table_packet; the strings belong to the rule set that decided
 * and are valid while it lives. */
struct ifw_decision {
	int verdict;             /* enum ifw_verdict: the effect on the packet */
	int rule;                /* index of the deciding rule, -1: default or skip */
	int skipped;             /* 1: the interface is in 'set skip on' */
	const char *file;        /* deciding rule's FILE, NULL for the default */
	int line;                /* its LINE, 0 for the default */
	const char *text;        /* its canonical text, NULL for the default */
};

/* Decides one raw IP packet (IPv4 or IPv6 by its version nibble, starting
 * at the IP header, as read from a TUN device without packet information)
 * statelessly: first match, the rule set's default when nothing matches.
 * dir is IFW_IN or IFW_OUT; ifname is the interface the packet enters or
 * leaves by (its type is guessed from the name: lo* loopback; wg*, tun*,
 * ppp*, utun* tunnel; else ether, tap* included). Owner criteria (user, mark, cgroup) are
 * unknown for raw packets and never match.
 * Returns 0 and fills *out; -EINVAL (bad dir, ifname NULL, empty or longer
 * than 15 bytes); -EFAULT (rs, packet or out NULL); -EBADMSG (truncated or
 * malformed packet); -EPROTONOSUPPORT (not IPv4 or IPv6). */
int ifw_decide(const struct ifw_ruleset *rs, const void *packet, size_t len,
	       int dir, const char *ifname, struct ifw_decision *out);

/* Decides a packet description, the syntax of 'ifwall query':
 *   "DIR on IF PROTO SRC > DST [type ICMPTYPE] [user UID] [mark N]
 *    [cgroup PATH]"
 * e.g. "out on eth0 udp 192.168.1.10:5353 > 8.8.8.8:53" (tcp and udp need
 * both ports). Returns 0 and fills *out; -EINVAL when the description is
 * invalid;
 * -EFAULT for a NULL argument. */
int ifw_decide_description(const struct ifw_ruleset *rs,
			   const char *description, struct ifw_decision *out);

/* --- flow state ---------------------------------------------------------- */

/* Flow state for a packet loop: a packet of a known passed flow on the same
 * interface passes without rule evaluation (replies included); on another
 * interface it is decided anew. Bounded: when full, the oldest idle flow is
 * evicted. */
struct ifw_flow_table;

/* max_flows: 0 for the default (65536). Returns 0, -EFAULT (ft NULL),
 * -ENOMEM. */
int ifw_flow_table_new(size_t max_flows, struct ifw_flow_table **ft);
void ifw_flow_table_free(struct ifw_flow_table *ft);

/* Decides one raw IP packet with state; arguments and errors as
 * ifw_decide. now_ns is the caller's monotonic clock in nanoseconds (for
 * idle timeouts), or 0 to let the library read CLOCK_MONOTONIC. Pass the
 * same rule set on every call until you swap it (see recheck). */
int ifw_flow_table_packet(struct ifw_flow_table *ft,
			  const struct ifw_ruleset *rs, const void *packet,
			  size_t len, int dir, const char *ifname,
			  uint64_t now_ns, struct ifw_decision *out);

/* After loading a new rule set: re-decides every flow against rs, so a flow
 * the new rules block is blocked from its next packet on. Call it before
 * freeing the old rule set (flows refer to its rules). Returns the number of
 * flows whose verdict changed, or -EFAULT. */
int ifw_flow_table_recheck(struct ifw_flow_table *ft,
			   const struct ifw_ruleset *rs);

/* Drops flows idle past their timeout (now_ns as above). Returns how many,
 * or -EFAULT. */
int ifw_flow_table_expire(struct ifw_flow_table *ft, uint64_t now_ns);

/* Live flows; 0 for NULL. */
size_t ifw_flow_table_count(const struct ifw_flow_table *ft);

/* --- nftables: the rule set in the kernel (needs CAP_NET_ADMIN) ---------- */

/* Details of a failure of the functions below. Caller-allocated; may be
 * NULL. file/line name the rule the problem is about (a rule the kernel
 * refused, a rule nftables cannot express) and point into the rule set, so
 * they are valid while it lives; NULL/0 when the problem is not about a
 * rule. */
struct ifw_error {
	int code;            /* the negative errno also returned; 0: none */
	const char *file;
	int line;
	char message[512];   /* what failed, "" when nothing did */
};

/* Replaces ifwall's table 'inet ifwall' with rs in one kernel transaction
 * (the 'ifwall load' of ifwall(8)). Other tables are never touched. The
 * rules stay in the kernel after the process exits; only ifw_nft_flush()
 * removes them. Returns 0; on error nothing was changed: -ENOTSUP (a rule
 * nftables cannot express), -EPERM (no CAP_NET_ADMIN), another -errno the
 * kernel gave (err names the refused rule), -EFAULT (rs NULL), -ENOMEM.
 * Concurrent calls are serialised by the kernel: the last one wins. */
int ifw_nft_apply(const struct ifw_ruleset *rs, struct ifw_error *err);

/* The nft script ifw_nft_apply() would load ('ifwall compile'); needs no
 * privileges and changes nothing. *text is the caller's, to free(3).
 * Returns its length, -ENOTSUP, -EFAULT or -ENOMEM. */
int ifw_nft_compile(const struct ifw_ruleset *rs, char **text,
		    struct ifw_error *err);

/* Deletes every table ifwall installed, and nothing else. Returns how many
 * tables were deleted (0 when there were none), or -EPERM, -errno. */
int ifw_nft_flush(struct ifw_error *err);

/* The active rule set read back from the kernel, with counters. */
struct ifw_nft_listing;

enum ifw_nft_entry_kind {
	IFW_NFT_RULE = 0,        /* a rule of the file */
	IFW_NFT_SKIP = 1,        /* 'set skip on' */
	IFW_NFT_DEFAULT_IN = 2,  /* the default, inbound */
	IFW_NFT_DEFAULT_OUT = 3, /* the default, outbound */
};

/* One entry; use the pointer ifw_nft_listing_get() returns (fields may be
 * added at the end). */
struct ifw_nft_entry {
	int kind;                /* enum ifw_nft_entry_kind */
	long rule;               /* rule index in the file, -1 when unknown */
	const char *origin;      /* "FILE:LINE" of a rule, else NULL */
	const char *text;        /* its canonical text, NULL when unknown */
	const char *verdict;     /* "pass", "block", "reject" (other nft
				  * verdicts as nft names them) */
	uint64_t packets, bytes;
};

/* Reads table inet ifwall. Returns 0 (an empty listing, present 0, when
 * ifwall has nothing installed), -EPERM, -errno, -EFAULT, -ENOMEM. */
int ifw_nft_show(struct ifw_nft_listing **listing, struct ifw_error *err);
/* 1 when ifwall's table is installed, else 0. */
int ifw_nft_listing_present(const struct ifw_nft_listing *listing);
size_t ifw_nft_listing_count(const struct ifw_nft_listing *listing);
/* NULL when i is out of range; valid until ifw_nft_listing_free(). */
const struct ifw_nft_entry *ifw_nft_listing_get(const struct ifw_nft_listing *listing,
						size_t i);
void ifw_nft_listing_free(struct ifw_nft_listing *listing);

/* Tables of the rule set loaded in the kernel ('ifwall table', ifwall(8)):
 * the same as the ifw_ruleset_table_* functions, on table inet ifwall. A
 * change is one kernel transaction on the table's sets, with no rule
 * reload: established flows keep flowing, and a packet the new content no
 * longer passes is decided by the rules at once. A later ifw_nft_apply() or
 * 'ifwall load' restores the table from the rule file. Errors: -ENOENT (no
 * rule set loaded; err says whether a running 'ifwall run' holds it),
 * -ESRCH (the loaded rule set has no such table that a rule uses; err lists
 * its tables), -EINVAL (bad op or address), -EPERM, another -errno the
 * kernel gave; on error nothing was changed. */
int ifw_nft_table_show(const char *table, char **text, struct ifw_error *err);
int ifw_nft_table_test(const char *table, const char *const *addrs, size_t n,
		       struct ifw_error *err);
int ifw_nft_table_change(const char *table, int op, const char *const *addrs,
			 size_t n, struct ifw_error *err);
/* The same on the rule set held by a running 'ifwall run --backend
 * BACKEND' ("nft", "divert" or "tun"), through its control socket (root
 * only): for divert and tun the rule set lives in that process, and a table
 * owned by 'run --backend nft' may only be changed by it (ifw_nft_table_change
 * goes there by itself). Returns 0; -ENOENT (no such process runs here),
 * -ESRCH (no such table), -EINVAL, -EACCES (not root), -EIO. */
int ifw_running_table_change(const char *backend, const char *table, int op,
			     const char *const *addrs, size_t n, struct ifw_error *err);

/* --- divert: userspace verdicts through NFQUEUE (needs CAP_NET_ADMIN) ---- */

/* The 'ifwall run --backend divert' path: ifwall's own table 'inet
 * ifwall_divert' queues the first packet of every new flow (input, output,
 * forward) to userspace; the engine decides it before it leaves or is
 * delivered; accepted flows then stay in the kernel. */
struct ifw_divert_options {
	unsigned queue;          /* the first NFQUEUE number, 0..65535: one
				  * queue per CPU from it (at most 64), each
				  * read by a thread pinned to its CPU; the
				  * log is written from those threads, one
				  * at a time */
	int fail_open;           /* 1: new flows pass while nobody reads the
				  * queue; 0: they are dropped (fail closed) */
	FILE *log;               /* one JSON line per verdict and per reload
				  * (the keys of ifw_tun_run's log); NULL: none */
	const char *reload_path; /* SIGHUP parses this rule file again (a
				  * file with errors keeps the old set);
				  * NULL: SIGHUP is ignored */
	FILE *messages;          /* where a failed reload's diagnostics, and
				  * the table restored after another process
				  * changed it, are written; NULL: nowhere */
	int drop_capabilities;   /* 1: after setup keep only CAP_NET_ADMIN
				  * (what 'ifwall run' does); 0: leave the
				  * process's capabilities alone */
	void (*ready)(void *ctx); /* called once set up, before the loop;
				   * NULL: not called */
	void *ready_ctx;
};

struct ifw_divert_stats {
	uint64_t packets;        /* queued packets decided */
	uint64_t passed, blocked, rejected;
	uint64_t undecodable;    /* dropped: not IP or malformed */
	uint64_t reloads, reload_failures;
};

/* Sets up the queue and the table, then decides queued packets until
 * SIGTERM or SIGINT. Blocks the calling thread while it runs. Signals:
 * SIGHUP, SIGTERM and SIGINT are blocked in the calling thread and read
 * through a signalfd while it runs (the previous mask is restored on
 * return); call it from the main thread, or block those signals in the
 * other threads. rs is consumed (freed) in every case (this function's
 * contract since 0.1; ifw_tun_run leaves it with the caller). The table stays
 * on return, as after a crash (fail closed: new flows are dropped until
 * 'ifwall flush' or the next run takes it over), unless fail_open was set
 * (then it is removed). While it runs, a change another process makes to
 * the table is undone and reported to messages. stats (may be NULL) gets
 * the counters.
 * Returns 0 after SIGTERM/SIGINT; -EFAULT (rs or o NULL), -EINVAL (queue
 * out of range), -EPERM, or another -errno when setting up failed (nothing
 * is left installed) or the queue broke; err says what. */
int ifw_divert_run(struct ifw_ruleset *rs, const struct ifw_divert_options *o,
		   struct ifw_divert_stats *stats, struct ifw_error *err);

/* --- tun: ifwall as the only path out of a network namespace ------------- */

/* The 'ifwall run --backend tun' path: two TUN devices, one moved into the
 * client namespace as its route out, the engine deciding every packet in
 * both directions on the interface the host would route it through. */
struct ifw_tun_options {
	const char *netns;         /* client namespace: a name under
				    * /var/run/netns, or a path; required */
	const char *prefixes;      /* client side, "100.64.0.0/30" or an IPv4
				    * and an IPv6 prefix separated by a comma;
				    * NULL: 100.64.0.0/30 */
	const char *client_ifname; /* NULL: "ifw0" */
	const char *host_ifname;   /* NULL: "ifw1" */
	unsigned mtu;              /* 0: 1500 */
	FILE *log;                 /* one JSON line per flow decision and per
				    * reload, the keys of divert's; NULL: none */
	FILE *messages;            /* human-readable events (set up, reloads
				    * with diagnostics, teardown); NULL: none */
	const char *reload_path;   /* *reload parses this rule file again (a
				    * file with errors keeps the old set);
				    * NULL: reloads are ignored */
};

struct ifw_tun_stats {
	uint64_t from_client, from_host; /* packets read */
	uint64_t passed, blocked, rejected;
	uint64_t undecodable;            /* dropped: not a valid IP packet */
	uint64_t no_route;               /* dropped: the host has no route */
	uint64_t reloads, reload_failures;
};

/* Sets the path up, runs the packet loop until *stop becomes non-zero, then
 * tears everything down (devices, addresses, routes, sysctls it changed).
 * Blocks the calling thread. The caller's signal handlers just set *stop
 * and *reload; SIGHUP, SIGTERM and SIGINT are blocked in the calling thread
 * while a packet is handled and delivered while it waits. When *reload is
 * set, reload_path is parsed again and flows are re-checked against the
 * new set. rs stays the caller's, also on error: the library holds a
 * reference of its own while it runs and frees nothing of the caller's.
 * stats may be NULL. Returns 0 after *stop; -EFAULT (rs, o, o->netns or stop NULL),
 * -EINVAL (bad prefixes), -EPERM, or another -errno when setting up failed
 * (nothing is left behind) or the path broke; err says what. */
int ifw_tun_run(const struct ifw_ruleset *rs, const struct ifw_tun_options *o,
		volatile sig_atomic_t *stop, volatile sig_atomic_t *reload,
		struct ifw_tun_stats *stats, struct ifw_error *err);

/* --- answering 'reject' in a packet loop ---------------------------------- */

#define IFW_REJECT_MAX 1280 /* room ifw_reject_build() needs */

/* Writes into out the answer a 'reject' verdict gives to the IP packet
 * packet, addressed back to its sender: a TCP RST for TCP, an ICMP/ICMPv6
 * "administratively prohibited" unreachable otherwise. Write it back where
 * the packet came from (the TUN device). Returns its length; 0 when no
 * answer is due (the packet is a RST, an ICMP error, a non-first fragment,
 * multicast or broadcast, or malformed); -EFAULT for NULL; -ENOBUFS when
 * size < IFW_REJECT_MAX. */
int ifw_reject_build(const void *packet, size_t len, void *out, size_t size);

#ifdef __cplusplus
}
#endif

#endif
