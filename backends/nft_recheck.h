/* Reload re-check of the nft backend's flow state (internal to
 * backends/nft*.c; see nft_recheck.c). */
#ifndef IFWALL_BACKENDS_NFT_RECHECK_H
#define IFWALL_BACKENDS_NFT_RECHECK_H

#include <libmnl/libmnl.h>
#include <net/if.h>
#include <stddef.h>
#include <stdint.h>

#include "rules/ruleset.h"

/* A key of @state: ct id (host order) . interface name. */
#define NFT_STATE_KEY_LEN (4 + IFNAMSIZ)

struct nft_state_elems {
	size_t n, cap;
	uint8_t (*keys)[NFT_STATE_KEY_LEN];
};

/* The callback that collects the elements of a GETSETELEM dump of @state
 * into a struct nft_state_elems (its data). */
mnl_cb_t nft_state_elems_cb(void);
/* The same over messages already received (tests, the fuzzer). Returns 0
 * or -ENOMEM. */
int nft_state_elems_parse(struct nft_state_elems *e, const void *buf, size_t len);
void nft_state_elems_clear(struct nft_state_elems *e);

/* Decides the flow of every element of elems against rs, on the element's
 * interface (conntrack's original tuple; the interfaces' addresses tell
 * whether it left or entered the host), and puts the keys of the flows rs
 * blocks into *blocked (cleared first). Elements without a conntrack entry
 * and those on lo are left alone; a flow that a pass rule with owner
 * criteria (not known from conntrack) could pass is kept. *checked gets the
 * number of flows decided. Returns 0 or -errno (conntrack or rtnetlink
 * could not be read; *blocked is then empty). */
int nft_recheck_state(const struct ruleset *rs, const struct nft_state_elems *elems,
		      struct nft_state_elems *blocked, size_t *checked);

#endif
