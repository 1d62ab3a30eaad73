/* What every nf_tables netlink user of ifwall shares (nft_netlink.c: the
 * load transaction and the listing; nft_table.c: 'ifwall table';
 * nft_owner.c: the owned table): the error value and the parsing of
 * attributes received from the kernel. Every attribute is checked; a
 * malformed message or attribute is skipped, never trusted. */
#ifndef IFWALL_BACKENDS_NFT_NL_H
#define IFWALL_BACKENDS_NFT_NL_H

#include <libmnl/libmnl.h>
#include <stdbool.h>
#include <stdint.h>

#include "backends/nft.h"

/* A one-shot command's netlink socket never waits forever for a reply the
 * kernel will not send (a lost message, a dump cut short): a receive gives
 * up with EAGAIN after this many seconds, and the command fails, saying
 * so, instead of hanging (and holding the load lock). */
#define NFT_NL_RECV_TIMEOUT 10
void nft_nl_recv_timeout(struct mnl_socket *sock);

/* Fills *err (when not NULL) with code and the message; returns code. */
int nft_set_error(struct nft_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

struct nft_attrs {
	const struct nlattr *a[16]; /* by type; higher types are ignored */
};

/* The attributes after an nf_tables message's nfgenmsg (*family, when not
 * NULL, gets its family); false when the message is too short or its
 * attributes overrun it. */
bool nft_message_attrs(const struct nlmsghdr *nlh, struct nft_attrs *t, uint8_t *family);
/* The attributes after offset bytes of payload (an extended ack's). */
bool nft_attrs_parse(const struct nlmsghdr *nlh, unsigned offset, struct nft_attrs *t);
bool nft_nested_attrs(const struct nlattr *attr, struct nft_attrs *t);
/* NULL unless the attribute is there and NUL-terminated. */
const char *nft_attr_str(const struct nft_attrs *t, unsigned type);
/* false unless the attribute is there with the right size (host order). */
bool nft_attr_u32(const struct nft_attrs *t, unsigned type, uint32_t *v);
bool nft_attr_u64(const struct nft_attrs *t, unsigned type, uint64_t *v);

#endif
