/* rtnetlink through libmnl, for the tun backend: configure links, addresses
 * and routes, ask the kernel which interface a destination is routed
 * through, and learn when routing changes. (The interfaces themselves,
 * names, types and addresses, are backends/iftable.h's.)
 *
 * A struct route_socket talks to the network namespace it was opened in
 * (netlink sockets are bound to their namespace at creation), so a backend
 * opens one per namespace it configures. Every function returns 0 (or a
 * non-negative value where said) or -errno as the kernel gave it; nothing
 * prints. Each socket owns its receive buffer: no allocation per call. */
#ifndef IFWALL_BACKENDS_ROUTE_H
#define IFWALL_BACKENDS_ROUTE_H

#include <stdbool.h>
#include <stdint.h>

#include "filter/addr.h"

struct route_socket;

/* A request socket in the calling thread's current network namespace.
 * NULL with errno set on failure. */
struct route_socket *route_socket_open(void);
/* Accepts NULL. */
void route_socket_free(struct route_socket *s);

/* --- configuration --------------------------------------------------------- */

/* Sets a link up or down, and its MTU when mtu is not 0. */
int route_link_set_up(struct route_socket *s, int ifindex, bool up, unsigned mtu);
/* Stops the kernel from giving the link an IPv6 link-local address (and so
 * from sending router solicitations and MLD reports through it). -EAFNOSUPPORT
 * when the kernel has no IPv6. */
int route_link_disable_ipv6_autoconf(struct route_socket *s, int ifindex);

/* Assigns addr/len to a link (the kernel then adds the prefix route).
 * -EEXIST when it is already there. */
int route_addr_add(struct route_socket *s, int ifindex,
		   const struct ifw_addr *addr, uint8_t len);

/* A route to dst through the link (no gateway: point-to-point), main table.
 * -EEXIST when a route to dst is already there. */
int route_add(struct route_socket *s, int ifindex, const struct ifw_prefix *dst);

/* --- lookups ---------------------------------------------------------------- */

/* The interface the kernel would send a packet to dst through. With iif > 0
 * the lookup is the one for a packet from src arriving on iif (forwarding,
 * so policy rules on iif and source apply); otherwise for a packet the host
 * sends (src may be NULL). Returns the outgoing interface index (the
 * loopback's for local destinations), or -ENETUNREACH, -EHOSTUNREACH, ... */
int route_lookup(struct route_socket *s, const struct ifw_addr *dst,
		 const struct ifw_addr *src, int iif);
/* Parses the kernel's answer to a route lookup (len bytes of one
 * datagram): the output interface index, -ENETUNREACH when it names none,
 * or -errno for a malformed or error message. (route_lookup's parser; for
 * tests and the fuzzer.) */
int route_parse_lookup_reply(const void *buf, size_t len);

/* --- change notifications ------------------------------------------------------ */

/* A socket subscribed to route and policy-rule changes of the current
 * namespace (links and addresses: see backends/iftable.h). Non-blocking: poll its fd, then drain it. NULL with
 * errno set on failure. */
struct route_socket *route_monitor_open(void);
int route_socket_fd(const struct route_socket *s);
/* Reads every pending notification. Returns 1 when anything changed (or
 * notifications were lost), 0 when nothing was pending, -errno on error. */
int route_monitor_drain(struct route_socket *s);

#endif
