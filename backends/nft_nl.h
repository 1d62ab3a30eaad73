/* What every nf_tables netlink user of ifwall shares (nft_load.c: the
 * load transaction; nft_list.c: the listing; nft_table.c: 'ifwall table';
 * nft_owner.c: the owned table; nft_foreign.c, nft_recheck.c,
 * divert_table.c): the error value, one request on the socket layer of
 * netlink.h, and the parsing of attributes received from the kernel. Every
 * attribute is checked; a malformed message or attribute is skipped,
 * never trusted. */
#ifndef IFWALL_BACKENDS_NFT_NL_H
#define IFWALL_BACKENDS_NFT_NL_H

#include <libmnl/libmnl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backends/nft.h"
#include "backends/netlink.h"

/* The options of every socket that sends nf_tables batches: the kernel's
 * message for an error, without the request echoed back. */
#define NFT_NL_BATCH_OPTIONS (NETLINK_OPT_EXT_ACK | NETLINK_OPT_CAP_ACK)

/* Opens the one-shot socket of a command (a load, a listing, 'ifwall
 * table'): batch options and the receive timeout. Returns 0 or -errno,
 * said in *err. */
int nft_nl_open(struct netlink *nl, struct nft_error *err);

/* Fills *err (when not NULL) with code and the message; returns code
 * (backend_error_set without an errno text). */
#define nft_set_error(err, code, ...) backend_error_set((err), (code), 0, __VA_ARGS__)

/* One nf_tables request on nl with the next sequence number: the header
 * (type, family, flags), then build(nlh, arg) adds the attributes (build
 * may be NULL). cb sees every answer, received into buf (NULL: see
 * netlink_talk()). Returns what netlink_talk() returns. */
int nft_nl_request(struct netlink *nl, uint16_t type, uint16_t family, uint16_t flags,
		   void (*build)(struct nlmsghdr *, const void *), const void *arg,
		   void *buf, size_t size, mnl_cb_t cb, void *data);

/* nf_tables notifications read for the changes others make to one table
 * (run mcast group NFNLGRP_NFTABLES): nft_watch_cb over each message. */
struct nft_watch {
	const char *table;          /* of family inet */
	uint32_t self;              /* the port id of our own changes */
	bool kernel_elements;       /* set elements the kernel changes (pid 0,
				     * expiry) count as changes */
	bool foreign;               /* someone else changed the table */
	bool unended;               /* ... in a transaction whose end (its
				     * NEWGEN) is not read yet */
	uint32_t pid;               /* the process that did, 0: not known */
	char comm[32];              /* and its name */
};
int nft_watch_cb(const struct nlmsghdr *nlh, void *data);
/* Reads the queued notifications into w (buf: room for one datagram).
 * A foreign change whose transaction has not ended yet (the commit still
 * sending its notifications) is waited for, up to 250 ms, so that one
 * change is seen once, with its process. *lost: notifications were
 * dropped (ENOBUFS). Returns the datagrams read, or -errno. */
int nft_watch_receive(struct mnl_socket *sock, void *buf, size_t size,
		      struct nft_watch *w, bool *lost);

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
