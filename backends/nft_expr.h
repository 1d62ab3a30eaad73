/* The nf_tables expressions ifwall's rules are made of, one builder each,
 * for every table it writes (nft_linearize.c, divert_table.c). Each adds
 * one expression to the rule and returns false when it could not be
 * allocated (the rule keeps what was added before; free the rule). */
#ifndef IFWALL_BACKENDS_NFT_EXPR_H
#define IFWALL_BACKENDS_NFT_EXPR_H

#include <stdbool.h>
#include <stdint.h>

struct nftnl_rule;
struct nftnl_expr;

/* Adds e (NULL: false); the rule owns it. */
bool nft_expr_add(struct nftnl_rule *r, struct nftnl_expr *e);

/* dreg = meta key / ct key; the _set forms store sreg into the key. */
bool nft_expr_meta(struct nftnl_rule *r, uint32_t key, uint32_t dreg);
bool nft_expr_meta_set(struct nftnl_rule *r, uint32_t key, uint32_t sreg);
bool nft_expr_ct(struct nftnl_rule *r, uint32_t key, uint32_t dreg);
bool nft_expr_ct_set(struct nftnl_rule *r, uint32_t key, uint32_t sreg);
/* dreg = len bytes at offset of the header base (NFT_PAYLOAD_*). */
bool nft_expr_payload(struct nftnl_rule *r, uint32_t base, uint32_t offset,
		      uint32_t len, uint32_t dreg);
/* sreg OP data (len bytes); the rule stops unless it holds. */
bool nft_expr_cmp(struct nftnl_rule *r, uint32_t sreg, uint32_t op,
		  const void *data, uint32_t len);
/* sreg in [from, to] (NFT_RANGE_EQ) or not (NFT_RANGE_NEQ). */
bool nft_expr_range(struct nftnl_rule *r, uint32_t sreg, uint32_t op,
		    const void *from, const void *to, uint32_t len);
/* reg = (reg & mask) ^ xor, on len bytes. */
bool nft_expr_bitwise(struct nftnl_rule *r, uint32_t reg, const void *mask,
		      const void *xor, uint32_t len);
/* dreg = the byte order of sreg's len bytes changed (NFT_BYTEORDER_*), in
 * units of size bytes. */
bool nft_expr_byteorder(struct nftnl_rule *r, uint32_t sreg, uint32_t dreg,
			uint32_t op, uint32_t len, uint32_t size);
/* sreg in set (set_id: the set added in the same batch; 0 for none). */
bool nft_expr_lookup(struct nftnl_rule *r, uint32_t sreg, const char *set,
		     uint32_t set_id, bool invert);
/* Adds or updates (NFT_DYNSET_OP_*) key sreg in set; timeout_ms 0: the
 * set's own. */
bool nft_expr_dynset(struct nftnl_rule *r, uint32_t sreg, uint32_t op, const char *set,
		     uint32_t set_id, uint64_t timeout_ms);
/* dreg = data (len bytes). */
bool nft_expr_immediate(struct nftnl_rule *r, uint32_t dreg, const void *data,
			uint32_t len);
/* The verdict (NF_ACCEPT, NFT_JUMP ...); chain for a jump or goto. */
bool nft_expr_verdict(struct nftnl_rule *r, int verdict, const char *chain);
bool nft_expr_reject(struct nftnl_rule *r, uint32_t type, uint8_t code);
/* dreg = the fib lookup's result (NFT_FIB_RESULT_*) for flags. */
bool nft_expr_fib(struct nftnl_rule *r, uint32_t flags, uint32_t result, uint32_t dreg);
/* dreg = the local socket's key (NFT_SOCKET_*) at level. */
bool nft_expr_socket(struct nftnl_rule *r, uint32_t key, uint32_t level, uint32_t dreg);
bool nft_expr_counter(struct nftnl_rule *r);
bool nft_expr_log(struct nftnl_rule *r, const char *prefix, uint16_t group);
/* At most rate per unit seconds, burst (NFT_LIMIT_PKTS: packets). */
bool nft_expr_limit(struct nftnl_rule *r, uint64_t rate, uint64_t unit, uint32_t burst,
		    uint32_t type);

#endif
