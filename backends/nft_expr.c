/* See nft_expr.h. */
#include "backends/nft_expr.h"

#include <stdio.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <linux/netfilter/nf_tables.h>

bool nft_expr_add(struct nftnl_rule *r, struct nftnl_expr *e)
{
	if (!e)
		return false;
	nftnl_rule_add_expr(r, e);
	return true;
}

/* meta and ct: a key moved between the packet and a register. */
static bool key_expr(struct nftnl_rule *r, const char *name, uint16_t key_attr,
		     uint16_t reg_attr, uint32_t key, uint32_t reg)
{
	struct nftnl_expr *e = nftnl_expr_alloc(name);

	if (e) {
		nftnl_expr_set_u32(e, key_attr, key);
		nftnl_expr_set_u32(e, reg_attr, reg);
	}
	return nft_expr_add(r, e);
}

bool nft_expr_meta(struct nftnl_rule *r, uint32_t key, uint32_t dreg)
{
	return key_expr(r, "meta", NFTNL_EXPR_META_KEY, NFTNL_EXPR_META_DREG, key, dreg);
}

bool nft_expr_meta_set(struct nftnl_rule *r, uint32_t key, uint32_t sreg)
{
	return key_expr(r, "meta", NFTNL_EXPR_META_KEY, NFTNL_EXPR_META_SREG, key, sreg);
}

bool nft_expr_ct(struct nftnl_rule *r, uint32_t key, uint32_t dreg)
{
	return key_expr(r, "ct", NFTNL_EXPR_CT_KEY, NFTNL_EXPR_CT_DREG, key, dreg);
}

bool nft_expr_ct_set(struct nftnl_rule *r, uint32_t key, uint32_t sreg)
{
	return key_expr(r, "ct", NFTNL_EXPR_CT_KEY, NFTNL_EXPR_CT_SREG, key, sreg);
}

bool nft_expr_payload(struct nftnl_rule *r, uint32_t base, uint32_t offset,
		      uint32_t len, uint32_t dreg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("payload");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
	}
	return nft_expr_add(r, e);
}

bool nft_expr_cmp(struct nftnl_rule *r, uint32_t sreg, uint32_t op,
		  const void *data, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("cmp");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, sreg);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
		nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
	}
	return nft_expr_add(r, e);
}

bool nft_expr_range(struct nftnl_rule *r, uint32_t sreg, uint32_t op,
		    const void *from, const void *to, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("range");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_RANGE_SREG, sreg);
		nftnl_expr_set_u32(e, NFTNL_EXPR_RANGE_OP, op);
		nftnl_expr_set(e, NFTNL_EXPR_RANGE_FROM_DATA, from, len);
		nftnl_expr_set(e, NFTNL_EXPR_RANGE_TO_DATA, to, len);
	}
	return nft_expr_add(r, e);
}

bool nft_expr_bitwise(struct nftnl_rule *r, uint32_t reg, const void *mask,
		      const void *xor, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("bitwise");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, reg);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, reg);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask, len);
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, xor, len);
	}
	return nft_expr_add(r, e);
}

bool nft_expr_byteorder(struct nftnl_rule *r, uint32_t sreg, uint32_t dreg,
			uint32_t op, uint32_t len, uint32_t size)
{
	struct nftnl_expr *e = nftnl_expr_alloc("byteorder");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_SREG, sreg);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_DREG, dreg);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_OP, op);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_LEN, len);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_SIZE, size);
	}
	return nft_expr_add(r, e);
}

bool nft_expr_lookup(struct nftnl_rule *r, uint32_t sreg, const char *set,
		     uint32_t set_id, bool invert)
{
	struct nftnl_expr *e = nftnl_expr_alloc("lookup");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, sreg);
		nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set);
		if (set_id)
			nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, set_id);
		if (invert)
			nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, NFT_LOOKUP_F_INV);
	}
	return nft_expr_add(r, e);
}

bool nft_expr_dynset(struct nftnl_rule *r, uint32_t sreg, uint32_t op, const char *set,
		     uint32_t set_id, uint64_t timeout_ms)
{
	struct nftnl_expr *e = nftnl_expr_alloc("dynset");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_SREG_KEY, sreg);
		nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_OP, op);
		nftnl_expr_set_str(e, NFTNL_EXPR_DYNSET_SET_NAME, set);
		if (set_id)
			nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_SET_ID, set_id);
		if (timeout_ms)
			nftnl_expr_set_u64(e, NFTNL_EXPR_DYNSET_TIMEOUT, timeout_ms);
	}
	return nft_expr_add(r, e);
}

bool nft_expr_immediate(struct nftnl_rule *r, uint32_t dreg, const void *data,
			uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("immediate");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, dreg);
		nftnl_expr_set(e, NFTNL_EXPR_IMM_DATA, data, len);
	}
	return nft_expr_add(r, e);
}

bool nft_expr_verdict(struct nftnl_rule *r, int verdict, const char *chain)
{
	struct nftnl_expr *e = nftnl_expr_alloc("immediate");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)verdict);
		if (chain)
			nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, chain);
	}
	return nft_expr_add(r, e);
}

bool nft_expr_reject(struct nftnl_rule *r, uint32_t type, uint8_t code)
{
	struct nftnl_expr *e = nftnl_expr_alloc("reject");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_REJECT_TYPE, type);
		nftnl_expr_set_u8(e, NFTNL_EXPR_REJECT_CODE, code);
	}
	return nft_expr_add(r, e);
}

bool nft_expr_fib(struct nftnl_rule *r, uint32_t flags, uint32_t result, uint32_t dreg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("fib");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_FLAGS, flags);
		nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_RESULT, result);
		nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_DREG, dreg);
	}
	return nft_expr_add(r, e);
}

bool nft_expr_socket(struct nftnl_rule *r, uint32_t key, uint32_t level, uint32_t dreg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("socket");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_SOCKET_KEY, key);
		nftnl_expr_set_u32(e, NFTNL_EXPR_SOCKET_LEVEL, level);
		nftnl_expr_set_u32(e, NFTNL_EXPR_SOCKET_DREG, dreg);
	}
	return nft_expr_add(r, e);
}

bool nft_expr_counter(struct nftnl_rule *r)
{
	return nft_expr_add(r, nftnl_expr_alloc("counter"));
}

bool nft_expr_log(struct nftnl_rule *r, const char *prefix, uint16_t group)
{
	struct nftnl_expr *e = nftnl_expr_alloc("log");

	if (e) {
		nftnl_expr_set_str(e, NFTNL_EXPR_LOG_PREFIX, prefix);
		nftnl_expr_set_u16(e, NFTNL_EXPR_LOG_GROUP, group);
	}
	return nft_expr_add(r, e);
}

bool nft_expr_limit(struct nftnl_rule *r, uint64_t rate, uint64_t unit, uint32_t burst,
		    uint32_t type)
{
	struct nftnl_expr *e = nftnl_expr_alloc("limit");

	if (e) {
		nftnl_expr_set_u64(e, NFTNL_EXPR_LIMIT_RATE, rate);
		nftnl_expr_set_u64(e, NFTNL_EXPR_LIMIT_UNIT, unit);
		nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_BURST, burst);
		nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_TYPE, type);
		nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_FLAGS, 0);
	}
	return nft_expr_add(r, e);
}
