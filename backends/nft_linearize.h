/* The plan as libnftnl objects (as nftables' netlink_linearize.c): a
 * plan rule as the kernel's rule, a plan set as the kernel's set and its
 * elements, and the table, chains and sets of table inet ifwall named
 * for a message. The load (nft_load.c) puts them in a batch; 'ifwall
 * table' (nft_table.c) writes sets' elements the same way. */
#ifndef IFWALL_BACKENDS_NFT_LINEARIZE_H
#define IFWALL_BACKENDS_NFT_LINEARIZE_H

#include <stdint.h>

#include "backends/nft_batch.h"
#include "backends/nft_plan.h"
#include "backends/nft_table.h"

/* nft's datatype numbers (set key types, so 'nft list' prints elements). */
enum {
	NFT_TYPE_INTEGER = 4,
	NFT_TYPE_IPADDR = 7,
	NFT_TYPE_IP6ADDR = 8,
	NFT_TYPE_INET_PROTOCOL = 12,
	NFT_TYPE_INET_SERVICE = 13,
	NFT_TYPE_ICMP_TYPE = 14,
	NFT_TYPE_ARPHRD = 21,
	NFT_TYPE_ICMP6_TYPE = 29,
	NFT_TYPE_IFNAME = 41,
	NFT_TYPE_CGROUPV2 = 46,
	NFT_TYPE_BITS = 6,
};

/* Set user data: nft's key byte order record, ifwall's content digest and
 * the name of the table a set holds (nft_table.h). */
enum {
	SET_UDATA_KEYBYTEORDER = 0,
	SET_UDATA_DIGEST = 0xf0,
	SET_UDATA_TABLE = NFT_TABLE_SET_UDATA,
};

/* The kernel's description of a plan set. */
struct nft_set_shape {
	uint32_t flags, key_type, key_len, byteorder;
};
struct nft_set_shape nft_set_shape(const struct plan_set *s);

/* Objects of table inet ifwall (a table of any family and name) named for
 * a message; NULL when out of memory. */
struct nftnl_table *nft_table_named(uint32_t family, const char *name);
struct nftnl_chain *nft_chain_named(const char *name);
struct nftnl_set *nft_set_named(const char *name);

/* NULL when out of memory. */
struct nftnl_rule *nft_linearize_rule(const struct nft_plan *plan, const struct plan_rule *r);
struct nftnl_set *nft_linearize_set(const struct plan_set *s);
/* The set's elements into w (whose set is s), flushed. */
void nft_linearize_elements(struct nft_elems *w, const struct plan_set *s);

#endif
