/* Reading table inet ifwall back (as nftables' listing): what the table
 * holds for a load to replace (nft_load.c) and for 'show' (nft_list.c),
 * and the rule-set generation. */
#ifndef IFWALL_BACKENDS_NFT_LIST_H
#define IFWALL_BACKENDS_NFT_LIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backends/netlink.h"

/* How often an operation is tried when the rule set keeps changing under
 * it (a dump interrupted, a batch refused for a changed generation). */
#define NFT_CONCURRENT_ATTEMPTS 20

/* Sleeps before attempt number 'attempt' (from 1) of an operation that
 * met a concurrent change: 2, 4, 8 ... ms up to 256 ms, with jitter so
 * that competing loads do not retry in step. */
void nft_retry_backoff(int attempt);

struct nft_existing_chain {
	char name[64];
	bool base;
	uint32_t hook;
	int32_t prio;
	char type[16];
	bool has_policy;
	uint32_t policy;
};

struct nft_existing_set {
	char name[64];
	uint32_t flags, key_type, key_len;
	bool has_digest;
	uint64_t digest;
};

/* What table inet ifwall holds now. */
struct nft_existing {
	bool table;
	uint32_t table_flags;    /* NFT_TABLE_F_* of table inet ifwall */
	uint32_t table_owner;    /* owner's netlink port id (NFT_TABLE_F_OWNER) */
	size_t nchains, nsets;
	struct nft_existing_chain *chains;
	struct nft_existing_set *sets;
};

/* Reads the table (none: e->table false), again when a concurrent change
 * interrupted a dump. Returns 0 or -errno (-EINTR: it kept changing). */
int nft_existing_read(struct netlink *nl, struct nft_existing *e);
void nft_existing_free(struct nft_existing *e);

/* The rule-set generation: a batch carrying it is refused (ERESTART) when
 * anything changed since, so what was read of the table is what the batch
 * replaces. Returns 0 or -errno. */
int nft_generation_read(struct netlink *nl, uint32_t *genid);

#endif
