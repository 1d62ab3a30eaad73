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

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "filter/addr.h"
#include "backends/backend.h"
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
	struct backend_io io;       /* log, messages, reload (backend.h) */
	/* Where the forwarding sysctls' original values are remembered across
	 * crashes (see backends/forwarding_state.h). NULL: /run/ifwall. */
	const char *state_dir;
	/* Served between packets ('ifwall table' and 'ifwall status' reach the
	 * process through it); NULL: none. Caller-owned. */
	struct control_server *control;
};

/* Counters of a run (tun_get_stats). */
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

struct tun_backend;
struct backend_error;
struct backend_stop;

/* The backend contract of backends/backend.h: open, set_ruleset, run, free.
 *
 * tun_open sets the path up (devices, addresses, routes, forwarding) and,
 * unless keep_capabilities, keeps only CAP_NET_ADMIN. o is copied; what
 * it points to (names, limits, the control server) must outlive the
 * backend. Returns 0, or -errno
 * with err set (nothing is left behind). */
int tun_open(struct tun_backend **out, const struct tun_options *o,
	     struct backend_error *err);
/* Puts rs in force; the caller keeps rs (the backend takes its own
 * reference). Existing flows are re-checked against it. Returns the number
 * of flows whose verdict changed, or -errno with err set. */
int tun_set_ruleset(struct tun_backend *be, const struct ruleset *rs,
		    struct backend_error *err);
/* Runs the packet loop until the stop condition (returns 0), or until the
 * path broke (a device disappeared: -errno with err set); -EINVAL when no
 * rule set was set. */
int tun_run(struct tun_backend *be, const struct backend_stop *stop,
	    struct backend_error *err);
/* Tears everything down (devices, addresses, routes, the forwarding
 * sysctls it changed). Accepts NULL. */
void tun_free(struct tun_backend *be);
/* The handle as a struct backend (backend.h). */
struct backend *tun_backend(struct tun_backend *be);
void tun_get_stats(const struct tun_backend *be, struct tun_stats *out);

/* Checks client prefixes as tun_open would (room for two addresses,
 * at most one per family), so a CLI can report a usage error before doing
 * anything. Returns 0, or -EINVAL with the reason in error. */
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
