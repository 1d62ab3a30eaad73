/* LD_PRELOAD shim for tests/kernel/nft/t_load.sh: makes the kernel genuinely refuse
 * one rule of an 'ifwall load' batch. Every kernel rule carries its FILE:LINE
 * in its user data; the rule whose user data holds $IFWALL_REFUSE_ORIGIN
 * gets an extra jump to a chain that does not exist, which nf_tables
 * rejects (ENOENT) when it checks the batch. The product has no such hook. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <linux/netfilter/nf_tables.h>
#include <stdint.h>
#include <stdio.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <stdlib.h>
#include <string.h>

typedef void build_payload_fn(struct nlmsghdr *nlh, struct nftnl_rule *r);

static int rule_has_origin(const struct nftnl_rule *r, const char *origin)
{
	uint32_t len = 0;
	const void *data;

	if (!nftnl_rule_is_set(r, NFTNL_RULE_USERDATA))
		return 0;
	data = nftnl_rule_get_data(r, NFTNL_RULE_USERDATA, &len);
	/* The origin is stored NUL-terminated: "r.rules:8" never hits ":80". */
	return data && memmem(data, len, origin, strlen(origin) + 1) != NULL;
}

void nftnl_rule_nlmsg_build_payload(struct nlmsghdr *nlh, struct nftnl_rule *r)
{
	static build_payload_fn *real;
	const char *origin = getenv("IFWALL_REFUSE_ORIGIN");

	if (!real)
		real = (build_payload_fn *)dlsym(RTLD_NEXT,
						 "nftnl_rule_nlmsg_build_payload");
	if (origin && *origin && rule_has_origin(r, origin)) {
		struct nftnl_expr *e = nftnl_expr_alloc("immediate");

		if (e) {
			nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
			nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, NFT_JUMP);
			nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN,
					   "ifwall-test-no-such-chain");
			nftnl_rule_add_expr(r, e);
		}
	}
	real(nlh, r);
}
