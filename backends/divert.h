/* The divert backend: the Linux counterpart of a divert socket.
 *
 * ifwall's own table 'inet ifwall_divert' (input, output and forward hooks,
 * priority -140: after conntrack and mangle, before NAT and every filter
 * table) sends to NFQUEUE every tracked packet whose flow has not passed on
 * the packet's interface(s): in practice the first packet of every new
 * flow, and the next packet of a flow that moved to another interface,
 * that existed before the start, or after a reload. The engine decides it
 * with the interface from the queue message before it leaves or is
 * delivered, so nothing of a blocked connection is ever on the wire.
 * There is one queue per CPU (the queue rules' CPU fanout), each read by a
 * thread pinned to its CPU; the threads share the flow table under a lock.
 * Verdicts:
 *   pass    NF_REPEAT with packet mark bit DIVERT_PKT_PASS: the chain runs
 *           again, labels the conntrack entry DIVERT_LABEL_PASSED, adds
 *           (conntrack id . interface name) to the table's set
 *           'passed' (later packets of the flow on that interface stay in
 *           the kernel: one set lookup; entries last 24 h, at most 262144:
 *           past that a flow is decided again, from the flow table),
 *           restores the packet mark, accepts;
 *   reject  NF_REPEAT with DIVERT_PKT_REJECT: the kernel's reject
 *           expression answers (TCP RST; ICMP/ICMPv6 administratively
 *           prohibited otherwise), no raw socket in userspace;
 *   block   NF_DROP.
 * Verdict marks are only honoured on conntrack entries labelled
 * DIVERT_LABEL_QUEUED, which the queue rule sets just before queueing.
 * The backend's per-flow state is in conntrack labels, never in the
 * conntrack mark (other tools copy the whole packet mark into it). A
 * reload empties 'passed', so every flow meets the new rules on its next
 * packet (known passed flows pass again from the flow table).
 *
 * With nobody listening, queued packets are dropped (fail closed) unless
 * the table was installed with fail_open (NFQUEUE bypass). The table
 * stays when the process stops, cleanly or not (fail closed): only
 * 'ifwall flush' removes it, or a clean stop with fail_open. A new
 * divert_open() replaces it. While the process runs, the table names it
 * (table user data): divert_table_state() tells the other commands, and
 * a change another process makes to the table is undone at once (nf_tables
 * notifications, and a check every few seconds) and reported.
 *
 * Packets without a flow (untracked; invalid ones arriving on an interface
 * other than loopback, such as ICMP errors that belong to no flow) are
 * queued too and get a final verdict: nothing bypasses the engine. Packets
 * conntrack relates to a known flow (ICMP errors, the RSTs reject sends)
 * are not queued; invalid packets leaving (output, forward) are dropped.
 *
 * ICMP echo is queued from chains of its own at raw priority (output and
 * prerouting), before conntrack: conntrack cannot merge two unconfirmed
 * entries of one ICMP tuple, so echoes sent back to back (ping bursts)
 * would otherwise all but one be dropped while the first waits in the
 * queue. At prerouting the egress interface of a forwarded echo comes from
 * a route lookup. Every ICMP echo packet goes through the engine (no fast
 * path); UDP and TCP do not need this (UDP duplicates are merged). */
#ifndef IFWALL_BACKENDS_DIVERT_H
#define IFWALL_BACKENDS_DIVERT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "backends/backend.h"
#include "filter/engine.h"
#include "rules/ruleset.h"

/* The conntrack label bits (of 128) the backend uses per flow, and,
 * transiently between a verdict and the chain run that acts on it, the
 * packet mark bits (DIVERT_PKT_*), chosen clear of common VPN marks
 * (WireGuard 0xca6c, Mullvad 0x6d6f6c65 and 0xf41). */
#define DIVERT_LABEL_QUEUED 126 /* a packet of it was queued */
/* The flow passed on some interface. The fast path asks for it as well as
 * for (conntrack id . interface) in 'passed': conntrack ids are 32-bit
 * hashes, so with many passed flows a new flow's id can equal one in the
 * set (about passed x new / 2^32 times: once in a 150,000-SYN flood), and
 * without this bit that new flow would pass unseen (fail open). */
#define DIVERT_LABEL_PASSED 127
#define DIVERT_PKT_PASS 0x80000000u   /* verdict: pass */
#define DIVERT_PKT_REJECT 0x10000000u /* verdict: reject */
#define DIVERT_PKT_REPLY 0x02000000u  /* queued: reply direction of its flow */
#define DIVERT_PKT_NOCT 0x04000000u   /* queued: no conntrack entry */
#define DIVERT_PKT_VERDICT (DIVERT_PKT_PASS | DIVERT_PKT_REJECT)
#define DIVERT_PKT_MASK (DIVERT_PKT_VERDICT | DIVERT_PKT_REPLY | DIVERT_PKT_NOCT)

enum divert_queue_kind {
	DIVERT_QUEUE_AUTO = 0,  /* queue expression if the kernel has it */
	DIVERT_QUEUE_EXPR,      /* nft 'queue' (nft_queue) */
	DIVERT_QUEUE_XT_TARGET, /* xtables NFQUEUE rev 3 through nft_compat */
};

struct divert_options {
	uint16_t queue;             /* the first NFQUEUE number */
	/* Queues queue..queue+queues-1, one thread each; new flows go to
	 * the queue of the CPU they are seen on. 0: one per CPU (at most
	 * 64, and no number past 65535). */
	unsigned queues;
	bool fail_open;             /* bypass when nobody listens */
	enum divert_queue_kind queue_kind;
	struct backend_io io;       /* log, messages, reload (backend.h) */
	struct flow_limits limits;  /* flow table bounds */
	bool keep_capabilities;     /* do not drop capabilities after setup */
	/* Served between packets by divert_run ('ifwall table' and 'ifwall
	 * status' reach the process through it); NULL: none. Caller-owned. */
	struct control_server *control;
};

struct divert_stats {
	uint64_t packets;          /* queued packets decided */
	uint64_t passed, blocked, rejected;
	uint64_t undecodable;      /* dropped: not IP or malformed */
	uint64_t lost;             /* messages the kernel could not deliver */
	uint64_t verdict_messages; /* netlink verdict messages sent */
	uint64_t reloads, reload_failures;
	uint64_t table_restores;   /* the table put back after another process changed it */
	size_t flows;
};

struct divert;
struct backend_error;
struct backend_stop;

/* The backend contract of backends/backend.h: open, set_ruleset, run, free.
 *
 * divert_open sets everything up: interface table, queue socket, the nft
 * table, then drops every capability but CAP_NET_ADMIN. Returns 0 or
 * -errno with err set; on error nothing is left installed. */
int divert_open(struct divert **out, const struct divert_options *opts,
		struct backend_error *err);
/* Puts rs in force; the caller keeps rs (the backend takes its own
 * reference). The first set also prepares what 'cgroup' criteria need;
 * later ones re-check the flows against rs and send fast-pathed flows
 * through the engine once more. Returns the number of flows whose verdict
 * changed, or -errno with err set (the set in force stays). */
int divert_set_ruleset(struct divert *d, const struct ruleset *rs,
		       struct backend_error *err);
/* Decides queued packets until the stop condition (returns 0) or a fatal
 * error (-errno with err set); -EINVAL when no rule set was set. */
int divert_run(struct divert *d, const struct backend_stop *stop,
	       struct backend_error *err);
/* Frees everything. The table stays (fail closed) unless it was installed
 * with fail_open, or no rule set was ever set and there was no table
 * before divert_open. Accepts NULL. */
void divert_free(struct divert *d);
/* The handle as a struct backend (backend.h). */
struct backend *divert_backend(struct divert *d);

/* The queue kind the kernel accepted. */
enum divert_queue_kind divert_queue_kind_used(const struct divert *d);
/* How many queues (and threads) it listens on, from opts->queue. */
unsigned divert_queue_count(const struct divert *d);
void divert_get_stats(const struct divert *d, struct divert_stats *out);

/* Table inet ifwall_divert in this network namespace: returns 1 when it
 * exists, with *owner the pid of the live 'ifwall run --backend divert'
 * that runs it (0: none, the table is left from a stop or a crash and
 * drops new flows), 0 when there is no table, or -errno. */
int divert_table_state(int *owner);

#endif
