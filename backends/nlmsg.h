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
 * message is dropped.
 * The last message may end unaligned (nfqueue's packet payload is not
 * padded), and libmnl looks for attributes up to the aligned end: receive
 * buffers must be a multiple of 4 bytes long, so those up to 3 bytes are
 * still inside them (parsers check what they use against nlmsg_len). */
size_t nlmsg_valid_prefix(const void *buf, size_t len);

/* -errno after a failed mnl_cb_run(): libmnl sets errno from an error
 * message's code as the kernel wrote it, so a malformed one can leave 0, a
 * negative value or INT_MIN there. Returns -errno for 1..4095, else -EPROTO. */
int nlmsg_error(void);

#endif
