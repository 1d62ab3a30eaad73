/* The interface table: every network interface of the current network
 * namespace (index, name, type, flags, addresses), dumped with rtnetlink and
 * kept current from link and address notifications.
 *
 * Notifications arrive on their own socket (iftable_fd()); when it is
 * readable, iftable_process() drains every pending message before it
 * touches the derived state, so a burst of changes (a VPN coming up with
 * its addresses and routes) costs one rebuild. If the kernel reports lost
 * notifications (ENOBUFS), the table re-dumps everything.
 *
 * The table also keeps an ifaddr_table (filter/engine.h) current, so
 * '(IFSPEC)' address criteria work on live traffic. Nothing here prints. */
#ifndef IFWALL_BACKENDS_IFTABLE_H
#define IFWALL_BACKENDS_IFTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "filter/addr.h"
#include "filter/engine.h"
#include "rules/ruleset.h"

/* One address of an interface as the kernel reports it (the host address
 * with the length of its network, e.g. 10.0.0.2/24). */
struct iftable_addr {
	struct ifw_addr addr;
	uint8_t prefix_len;
};

struct iftable_interface {
	int index;
	char name[IFW_IFNAMSIZ];
	char kind[16];         /* IFLA_INFO_KIND ("veth", "wireguard"), or "" */
	unsigned short arphrd; /* ARPHRD_* link type */
	enum iftype type;      /* from arphrd, see iftype_from_arphrd() */
	unsigned flags;        /* IFF_* */
	size_t naddrs;
	struct iftable_addr *addrs;
};

struct iftable;

enum {
	IFTABLE_WATCH = 1 << 0, /* subscribe to notifications (iftable_fd) */
};

/* Opens rtnetlink, subscribes (with IFTABLE_WATCH) and dumps links and
 * addresses. Returns 0 and the table in *out, or -errno (nothing allocated
 * is left behind). */
int iftable_open(struct iftable **out, unsigned flags);
/* Closes the sockets and frees everything. Accepts NULL. */
void iftable_free(struct iftable *t);

/* Notification socket to poll for POLLIN; -1 without IFTABLE_WATCH. */
int iftable_fd(const struct iftable *t);
/* Drains every pending notification, applies them, then rebuilds the
 * address table once. Never blocks. Returns the number of messages that
 * changed the table (0: nothing pending or nothing changed), or -errno. */
int iftable_process(struct iftable *t);
/* Re-dumps links and addresses from the kernel. Returns 0 or -errno (the
 * previous contents are kept on error). */
int iftable_refresh(struct iftable *t);

/* A table with no sockets, filled only by iftable_apply_messages (tests,
 * the fuzzer). NULL when out of memory. Free with iftable_free. */
struct iftable *iftable_new_detached(void);
/* Applies rtnetlink link and address messages (len bytes, as one
 * datagram from the kernel) as iftable_process does. Returns the number
 * of messages that changed the table, or -errno. */
int iftable_apply_messages(struct iftable *t, const void *buf, size_t len);

/* Interfaces sorted by index. */
size_t iftable_count(const struct iftable *t);
const struct iftable_interface *iftable_at(const struct iftable *t, size_t i);
/* NULL when the index is unknown. */
const struct iftable_interface *iftable_lookup(const struct iftable *t,
						int index);
/* Addresses of every interface by name, for struct packet.ifaddrs. Updated
 * in place when addresses or names change: the pointer stays valid for the
 * life of the table (the flow table keeps it for re-checks). */
const struct ifaddr_table *iftable_ifaddrs(const struct iftable *t);
/* Incremented every time the table changes. */
uint64_t iftable_generation(const struct iftable *t);

/* The rule language's interface type of an ARPHRD_* link type, refined by
 * the IFF_* flags: loopback; tunnel for non-Ethernet point-to-point and
 * layer 3 devices (none: tun and wireguard, ppp, ipip, gre, sit, ip6tnl,
 * rawip); ether otherwise. */
enum iftype iftype_from_arphrd(unsigned short arphrd, unsigned flags);
/* Names of the IFF_* flags set in flags ("UP", "BROADCAST", ...), written
 * into buf separated by sep. Returns buf. */
const char *iftable_flags_format(unsigned flags, const char *sep, char *buf,
				 size_t size);

#endif
