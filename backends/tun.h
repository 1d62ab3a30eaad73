/* The tun backend: ifwall as the only path between a client network
 * namespace and the host, through two TUN devices (backends.md, "tun").
 *
 *   [client netns]  app -> default route -> ifw0 (TUN)
 *                                             |  engine, both directions
 *   [host]          ifw1 (TUN) <- route for the client prefix, forwarding
 *
 * Client traffic is decided as 'out' on the interface the host would route
 * it through (an rtnetlink route lookup per new destination, cached until
 * routing changes); traffic toward the client as 'in' on the interface the
 * host routes its source through, which for replies is the same one.
 *
 * The per-packet pieces (tun_decide_packet, tun_reject_build) do not depend
 * on the devices, so a userspace VPN client's own packet loop can use them. */
#ifndef IFWALL_BACKENDS_TUN_H
#define IFWALL_BACKENDS_TUN_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "filter/addr.h"
#include "filter/engine.h"
#include "rules/ruleset.h"

/* Client prefixes: at most one IPv4 (up to /30) and one IPv6 (up to /126).
 * In each, the host side takes the first address and the client the
 * second: 100.64.0.1 and 100.64.0.2 for the default, which is used when
 * none is given. The client gets a default route per family through its
 * device; families without a prefix have no route out of the client. */
#define TUN_DEFAULT_PREFIX "100.64.0.0/30"
#define TUN_MAX_PREFIXES 2
#define TUN_DEFAULT_CLIENT_IFNAME "ifw0"
#define TUN_DEFAULT_HOST_IFNAME "ifw1"
#define TUN_DEFAULT_MTU 1500

struct tun_options {
	const char *netns;          /* client namespace: a name under
				     * /var/run/netns, or a path; required */
	struct ifw_prefix prefixes[TUN_MAX_PREFIXES];
	size_t nprefixes;           /* 0: TUN_DEFAULT_PREFIX */
	const char *client_ifname;  /* NULL: "ifw0" (created in the client netns) */
	const char *host_ifname;    /* NULL: "ifw1" */
	unsigned mtu;               /* 0: TUN_DEFAULT_MTU */
	const struct flow_limits *limits; /* NULL: the engine's defaults */
	/* After set-up the calling thread keeps only CAP_NET_ADMIN (the
	 * teardown restores the forwarding sysctls): every other capability
	 * is dropped, the bounding set too, and no_new_privs is set. true:
	 * leave the capabilities alone (a library user that needs them). */
	bool keep_capabilities;
	/* JSON lines: one per flow decision (time, verdict, dir, iface,
	 * proto, endpoints, rule) and one per reload. NULL: none. */
	FILE *log;
	/* Human-readable events: setup done, reload results with the rule
	 * file's diagnostics, teardown. NULL: none. */
	FILE *messages;
	/* Reload: when set, called instead of parsing rules_path here; it
	 * returns the new rule set (handed over to the backend), or NULL to
	 * keep the one in force (the callback reports why). */
	struct ruleset *(*reload)(void *ctx);
	void *reload_ctx;
	/* Where the forwarding sysctls' original values are remembered across
	 * crashes (see backends/forwarding_state.h). NULL: /run/ifwall. */
	const char *state_dir;
	/* Served between packets ('ifwall table' and 'ifwall status' reach the
	 * process through it); NULL: none. Caller-owned. While
	 * tun_backend_run runs, *running (when not NULL) is its backend, for
	 * the control handlers (tun_backend_table_change); NULL after. */
	struct control_server *control;
	struct tun_backend **running;
	/* On failure, what failed ("creating ifw1: Operation not permitted").
	 * Caller-owned; may be NULL. */
	char *error;
	size_t error_size;
};

/* Counters of one run, filled when tun_backend_run returns. */
struct tun_stats {
	uint64_t from_client, from_host;  /* packets read */
	uint64_t passed, blocked, rejected;
	uint64_t undecodable;             /* dropped: not a valid IP packet */
	uint64_t no_route;                /* dropped: the host has no route */
	uint64_t write_errors;
	uint64_t udp_merged;              /* datagrams written merged with
					   * others as one USO packet */
	uint64_t route_lookups;           /* rtnetlink round trips */
	uint64_t reloads, reload_failures;
};

/* Sets the path up, runs the packet loop until *stop becomes non-zero, then
 * tears everything down (devices, addresses, routes, the forwarding sysctls
 * it changed). SIGHUP/SIGTERM/SIGINT are blocked while packets are handled
 * and delivered only while waiting, so the caller's handlers (which just
 * set *stop and *reload) are seen at once. When *reload becomes non-zero,
 * the rules are loaded again (o->reload, or else rules_path parsed here
 * with the diagnostics going to o->messages): a new set replaces the old
 * one and existing flows are re-checked against it; on error the old set
 * stays. rs stays the caller's; the backend frees only the sets it loaded
 * itself. stats may be NULL.
 *
 * Returns 0 after *stop, or -errno when setting up failed (nothing is left
 * behind) or the path broke (a device disappeared); o->error says what. */
int tun_backend_run(const struct ruleset *rs, const char *rules_path,
		    const struct tun_options *o, volatile sig_atomic_t *stop,
		    volatile sig_atomic_t *reload, struct tun_stats *stats);

/* Checks client prefixes as tun_backend_run would (room for two addresses,
 * at most one per family), so a CLI can report a usage error before doing
 * anything. Returns 0, or -EINVAL with the reason in error. */
/* 'ifwall table' on the running backend (for its control socket, called
 * from the packet loop between packets): table 'name' of the rule set in
 * force changed by op (ruleset_table_change) and swapped in like a reload
 * without parsing; flows re-checked. Returns 0, -ESRCH, -EINVAL, -ENOMEM;
 * on error the rule set in force is unchanged. */
struct tun_backend;
/* The rule set in force. */
const struct ruleset *tun_backend_rules(const struct tun_backend *be);
int tun_backend_table_change(struct tun_backend *be, const char *name,
			     enum addrset_op op, const struct ifw_prefix *p, size_t n,
			     size_t *changed);

int tun_prefixes_check(const struct ifw_prefix *prefixes, size_t n,
		       char *error, size_t error_size);

/* --- one packet, for any userspace packet loop ------------------------------ */

struct tun_packet_context {
	unsigned dir;                /* DIR_OUT: from the client; DIR_IN: toward it */
	const char *ifname;          /* the host interface the packet is checked on */
	enum iftype iftype;
	const struct ifaddr_table *ifaddrs; /* NULL: unknown */
	uint64_t now;                /* nanoseconds, monotonic */
};

struct tun_decided {
	enum decode_status status;   /* not DECODE_OK: dropped undecided */
	struct packet packet;        /* the decoded packet with its context */
	struct decision decision;
	const struct flow *flow;     /* valid until the next call; may be NULL */
};

/* Decodes one IP packet and decides it with state. Returns the verdict
 * (VERDICT_BLOCK for a packet that could not be decoded); *out tells the
 * rest. No allocation beyond what the flow table does for a new flow. */
enum verdict tun_decide_packet(struct flow_table *ft, const struct ruleset *rs,
			       const uint8_t *data, size_t len,
			       const struct tun_packet_context *ctx,
			       struct tun_decided *out);

/* Writes into out the answer 'reject' gives to the IP packet pkt, addressed
 * back to its sender: a TCP RST for TCP, an ICMP "administratively
 * prohibited" unreachable (ICMPv6 type 1 code 1) otherwise. Returns its
 * length, or 0 when no answer is due (a RST, an ICMP error, a non-first
 * fragment, a multicast or broadcast packet, a malformed packet, or out
 * shorter than TUN_REJECT_MAX). */
#define TUN_REJECT_MAX 1280
size_t tun_reject_build(const uint8_t *pkt, size_t len, uint8_t *out, size_t size);

#endif
