/* The cgroup of a local socket, asked of the kernel by the packet's
 * addresses (sock_diag, NETLINK_SOCK_DIAG): what the divert backend needs
 * for 'cgroup' criteria, since a queued packet carries no cgroup. */
#ifndef IFWALL_BACKENDS_SOCKDIAG_H
#define IFWALL_BACKENDS_SOCKDIAG_H

#include <stdint.h>

#include "filter/addr.h"

/* A sock_diag socket in the caller's network namespace: fd or -errno. */
int sockdiag_open(void);
/* The cgroup v2 id of the TCP or UDP socket with these local and remote
 * endpoints (ports in host order; an unconnected UDP socket bound to the
 * local port is found too). Returns 0, -ENOENT when there is no such
 * socket, or -errno. */
int sockdiag_cgroup_id(int fd, uint8_t family, uint8_t proto,
		       const struct ifw_addr *local, uint16_t lport,
		       const struct ifw_addr *remote, uint16_t rport,
		       uint64_t *id);

#endif
