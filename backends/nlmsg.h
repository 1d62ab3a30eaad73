/* A guard for netlink datagrams before libmnl walks them. */
#ifndef IFWALL_BACKENDS_NLMSG_H
#define IFWALL_BACKENDS_NLMSG_H

#include <stddef.h>

/* The length of buf's prefix made of whole netlink messages: each header
 * complete, its nlmsg_len at least a header and within what is left of the
 * datagram. libmnl's mnl_nlmsg_ok() compares nlmsg_len as a signed int, so
 * a message claiming 2^31 bytes or more passes it, and mnl_cb_run() or
 * mnl_attr_parse() then read far past the buffer. Every datagram from the
 * kernel goes through this before libmnl sees it; what follows a malformed
 * message is dropped. */
size_t nlmsg_valid_prefix(const void *buf, size_t len);

#endif
