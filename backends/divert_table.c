/* The nftables table of the divert backend, 'inet ifwall_divert', built
 * with libnftnl and sent as one batch (one kernel transaction). It holds
 * the set 'passed' of (conntrack id . interface name) keys: a flow that
 * passed on an interface. The backend's per-flow state is kept in
 * conntrack labels (DIVERT_LABEL_*), never in the conntrack mark, which
 * other tools overwrite whole (wg-quick: 'ct mark set meta mark'). In each
 * of the input, output and forward chains (IF is iifname on input, oifname
 * on output, both on forward):
 *
 *  -2. output and forward only: oiftype != loopback and ct state invalid:
 *      drop (conntrack cannot place it in a flow, so no flow decision
 *      applies to it; what leaves the host fails closed).
 *  -1. ct state untracked (input: or invalid, arriving on an interface
 *      other than loopback: ICMP errors that belong to no flow, packets
 *      conntrack refused): meta mark |= PKT_NOCT; queue. Without a
 *      conntrack entry there is no fast path: each such packet is decided
 *      by the engine and answered with a final verdict (accept or drop).
 *      (Loopback input keeps its invalid packets: the ICMP errors the
 *      kernel's reject sends to a local socket are invalid, and loopback
 *      cannot carry anything in from outside.)
 *   0. ct label PASSED and ct id . IF @passed: accept  (the kernel fast
 *      path; PASSED guards against conntrack id collisions, see divert.h)
 *   1. ct label QUEUED and meta mark & (PKT_PASS|PKT_REJECT) == PKT_PASS:
 *        add ct id . IF to @passed
 *   2. the same match: meta mark &= ~PKT_MASK; ct label set PASSED; accept
 *   3. ... == PKT_REJECT and tcp: reject with tcp reset
 *   4. ... == PKT_REJECT: reject with icmpx admin-prohibited
 *   5. ct state new,established and ct direction reply:
 *        meta mark |= PKT_REPLY; ct label set QUEUED; queue num N[-M fanout] [bypass]
 *   6. ct state new,established: ct label set QUEUED; queue num N[-M fanout] [bypass]
 *
 * Rules 1-4 act on packets coming back from userspace with NF_REPEAT; 1 and
 * 2 are apart so that a full set costs only the fast path, never the
 * verdict. Keys carry the interface, so a flow that moves to another
 * interface (a routing change) is queued and decided again. Labels can
 * only be set from nftables, so QUEUED stays once set; a conntrack entry
 * made before any table used labels has none, and its verdict comes back
 * to the queue with the verdict bits still on: userspace then answers
 * with a final verdict (see divert.c).
 *
 * ICMP echo is decided in the chains output_echo and prerouting_echo (raw
 * priority, see chains[] below) and skipped by the others. */
#include "backends/divert_internal.h"
#include "backends/nft_batch.h"
#include "backends/nft_expr.h"
#include "backends/nft_nl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tuple_common.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/xt_NFQUEUE.h>

#define PASSED_SET "passed"
#define PASSED_SET_ID 1
/* ct id (4 bytes) . interface name (16 bytes), in 32-bit registers. */
#define PASSED_KEY_LEN 20
#define PASSED_SET_SIZE 262144
#define PASSED_TIMEOUT_MS (24u * 3600 * 1000)

/* Rule kinds, in chain order below. */
enum rule_kind {
	RULE_DROP_INVALID,
	RULE_QUEUE_UNTRACKED,   /* output, forward: untracked */
	RULE_QUEUE_INVALID_IN,  /* input: invalid, off loopback */
	RULE_FAST_PATH,
	RULE_REMEMBER,
	RULE_PASS,
	RULE_REJECT_TCP,
	RULE_REJECT_OTHER,
	RULE_QUEUE_REPLY,
	RULE_QUEUE,
	/* ICMP echo (request and reply) going out: decided before conntrack */
	RULE_ECHO4_PASS, RULE_ECHO6_PASS,
	RULE_ECHO4_REJECT, RULE_ECHO6_REJECT,
	RULE_ECHO4_QUEUE, RULE_ECHO6_QUEUE,
	RULE_ECHO4_SKIP, RULE_ECHO6_SKIP,
	RULE_NONE,
};

#define MAIN_RULES RULE_FAST_PATH, RULE_REMEMBER, RULE_PASS, RULE_REJECT_TCP, \
	RULE_REJECT_OTHER, RULE_QUEUE_REPLY, RULE_QUEUE

#define ECHO_RULES RULE_ECHO4_PASS, RULE_ECHO6_PASS, RULE_ECHO4_REJECT, \
	RULE_ECHO6_REJECT, RULE_ECHO4_QUEUE, RULE_ECHO6_QUEUE

/* ICMP echo has chains of its own on output and prerouting, before
 * conntrack (raw priority): conntrack cannot merge two unconfirmed entries
 * of one ICMP tuple, so echoes sent back to back would all but one be
 * dropped if they were queued with their entries unconfirmed. Decided
 * before conntrack, they reach it one after the other. (At prerouting the
 * backend asks the kernel's routing where the packet goes.) */
static const struct {
	const char *name;
	uint32_t hook;
	int priority;
	enum rule_kind rules[12];
} chains[] = {
	{ "output_echo", NF_INET_LOCAL_OUT, -300, { ECHO_RULES, RULE_NONE } },
	{ "prerouting_echo", NF_INET_PRE_ROUTING, -300, { ECHO_RULES, RULE_NONE } },
	{ "input", NF_INET_LOCAL_IN, DIVERT_CHAIN_PRIORITY,
	  { RULE_ECHO4_SKIP, RULE_ECHO6_SKIP, RULE_QUEUE_UNTRACKED,
	    RULE_QUEUE_INVALID_IN, MAIN_RULES, RULE_NONE } },
	{ "output", NF_INET_LOCAL_OUT, DIVERT_CHAIN_PRIORITY,
	  { RULE_ECHO4_SKIP, RULE_ECHO6_SKIP, RULE_DROP_INVALID, RULE_QUEUE_UNTRACKED,
	    MAIN_RULES, RULE_NONE } },
	{ "forward", NF_INET_FORWARD, DIVERT_CHAIN_PRIORITY,
	  { RULE_ECHO4_SKIP, RULE_ECHO6_SKIP, RULE_DROP_INVALID, RULE_QUEUE_UNTRACKED,
	    MAIN_RULES, RULE_NONE } },
};

/* --- expressions --------------------------------------------------------- */

/* Each helper returns false on ENOMEM (the rule then owns what was added).
 * The expressions are nft_expr.h's. */

/* The two expressions that move a key between the packet and a register. */
enum key_source { KEY_META, KEY_CT };

static bool load(struct nftnl_rule *r, enum key_source src, uint32_t key, uint32_t dreg)
{
	return src == KEY_META ? nft_expr_meta(r, key, dreg) : nft_expr_ct(r, key, dreg);
}

/* The same on 32 bits in host order (marks, ct state). */
static bool bitwise(struct nftnl_rule *r, uint32_t reg, uint32_t mask, uint32_t xor)
{
	return nft_expr_bitwise(r, reg, &mask, &xor, sizeof(uint32_t));
}

/* meta mark = (meta mark & mask) ^ xor */
static bool update_mark(struct nftnl_rule *r, uint32_t mask, uint32_t xor)
{
	return nft_expr_meta(r, NFT_META_MARK, NFT_REG_1) &&
	       bitwise(r, NFT_REG_1, mask, xor) &&
	       nft_expr_meta_set(r, NFT_META_MARK, NFT_REG_1);
}

/* key & mask OP value */
static bool match_masked(struct nftnl_rule *r, enum key_source src, uint32_t key,
			 uint32_t op, uint32_t mask, uint32_t value)
{
	return load(r, src, key, NFT_REG_1) && bitwise(r, NFT_REG_1, mask, 0) &&
	       nft_expr_cmp(r, NFT_REG_1, op, &value, sizeof(value));
}

/* meta l4proto == proto */
static bool match_l4proto(struct nftnl_rule *r, uint8_t proto)
{
	return load(r, KEY_META, NFT_META_L4PROTO, NFT_REG_1) &&
	       nft_expr_cmp(r, NFT_REG_1, NFT_CMP_EQ, &proto, sizeof(proto));
}

static bool verdict(struct nftnl_rule *r, int code)
{
	return nft_expr_verdict(r, code, NULL);
}

/* Queues first..first+total-1: by the CPU the packet is on (the queue of
 * its CPU's worker) when there are several. */
static bool queue(struct nftnl_rule *r, enum divert_queue_kind kind,
		  const struct divert_queues *qs)
{
	bool fanout = qs->total > 1;

	struct nftnl_expr *e;

	if (kind == DIVERT_QUEUE_EXPR) {
		e = nftnl_expr_alloc("queue");
		if (e) {
			nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_NUM, qs->first);
			nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_TOTAL, qs->total);
			nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_FLAGS,
					   (qs->fail_open ? NFT_QUEUE_FLAG_BYPASS : 0) |
					   (fanout ? NFT_QUEUE_FLAG_CPU_FANOUT : 0));
		}
		return nft_expr_add(r, e);
	}
	/* xtables NFQUEUE revision 3 through nft_compat; the expression
	 * takes ownership of the info block. */
	struct xt_NFQ_info_v3 *info = calloc(1, sizeof(*info));
	e = nftnl_expr_alloc("target");
	if (!e || !info) {
		free(info);
		nftnl_expr_free(e);
		return false;
	}
	info->queuenum = qs->first;
	info->queues_total = qs->total;
	info->flags = (qs->fail_open ? NFQ_FLAG_BYPASS : 0) | (fanout ? NFQ_FLAG_CPU_FANOUT : 0);
	nftnl_expr_set_str(e, NFTNL_EXPR_TG_NAME, "NFQUEUE");
	nftnl_expr_set_u32(e, NFTNL_EXPR_TG_REV, 3);
	nftnl_expr_set(e, NFTNL_EXPR_TG_INFO, info, sizeof(*info));
	return nft_expr_add(r, e);
}

/* meta mark & PKT_MASK == value */
static bool match_packet_mark(struct nftnl_rule *r, uint32_t value)
{
	return match_masked(r, KEY_META, NFT_META_MARK, NFT_CMP_EQ, DIVERT_PKT_MASK, value);
}

/* The conntrack labels with one bit set, laid out as the kernel's label
 * bitmap (an array of unsigned long, bit n of the labels at bit n % BITS
 * of word n / BITS). */
#define LABELS_LEN 16
static void label_bits(unsigned bit, uint8_t out[LABELS_LEN])
{
	unsigned long words[LABELS_LEN / sizeof(unsigned long)] = { 0 };
	const unsigned word_bits = 8 * sizeof(unsigned long);

	words[bit / word_bits] |= 1ul << (bit % word_bits);
	memcpy(out, words, LABELS_LEN);
}

/* ct label BIT */
static bool match_label(struct nftnl_rule *r, unsigned bit)
{
	uint8_t mask[LABELS_LEN], zero[LABELS_LEN] = { 0 };

	label_bits(bit, mask);
	return load(r, KEY_CT, NFT_CT_LABELS, NFT_REG_1) &&
	       nft_expr_bitwise(r, NFT_REG_1, mask, zero, LABELS_LEN) &&
	       nft_expr_cmp(r, NFT_REG_1, NFT_CMP_NEQ, zero, LABELS_LEN);
}

/* ct label set BIT: adds the bit (nftables cannot clear labels). On a
 * conntrack entry without labels (made before any table used them) the
 * kernel does nothing. */
static bool set_label(struct nftnl_rule *r, unsigned bit)
{
	uint8_t bits[LABELS_LEN];

	label_bits(bit, bits);
	return nft_expr_immediate(r, NFT_REG_1, bits, LABELS_LEN) &&
	       nft_expr_ct_set(r, NFT_CT_LABELS, NFT_REG_1);
}

/* ct label QUEUED and meta mark & PKT_MASK == value */
static bool match_verdict_mark(struct nftnl_rule *r, uint32_t value)
{
	return match_label(r, DIVERT_LABEL_QUEUED) && match_packet_mark(r, value);
}

/* ICMP echo request or reply (v4: types 0 and 8; v6: 128 and 129) */
static bool match_icmp_echo(struct nftnl_rule *r, bool v6)
{
	uint8_t mask = v6 ? 0xfe : 0xf7, want = v6 ? 0x80 : 0x00, zero = 0;

	return match_l4proto(r, v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP) &&
	       nft_expr_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1, NFT_REG_1) &&
	       nft_expr_bitwise(r, NFT_REG_1, &mask, &zero, 1) &&
	       nft_expr_cmp(r, NFT_REG_1, NFT_CMP_EQ, &want, 1);
}

/* The set 'passed': looked up, or added to (dynset). */
static bool passed_set_expr(struct nftnl_rule *r, bool add)
{
	if (add)
		return nft_expr_dynset(r, NFT_REG32_00, NFT_DYNSET_OP_ADD, PASSED_SET,
				       PASSED_SET_ID, 0);
	return nft_expr_lookup(r, NFT_REG32_00, PASSED_SET, PASSED_SET_ID, false);
}

/* For each interface side the chain's hook has (input: in, output: out,
 * forward: both): key = ct id . IIFNAME or OIFNAME, then the set lookup
 * (every side must be in the set) or addition. */
static bool passed_set_per_side(struct nftnl_rule *r, uint32_t hook, bool add)
{
	static const struct {
		uint32_t skip_hook, ifname;
	} sides[] = {
		{ NF_INET_LOCAL_OUT, NFT_META_IIFNAME },
		{ NF_INET_LOCAL_IN, NFT_META_OIFNAME },
	};

	for (size_t i = 0; i < sizeof(sides) / sizeof(sides[0]); i++) {
		if (hook == sides[i].skip_hook)
			continue;
		if (!load(r, KEY_CT, NFT_CT_ID, NFT_REG32_00) ||
		    !load(r, KEY_META, sides[i].ifname, NFT_REG32_01) ||
		    !passed_set_expr(r, add))
			return false;
	}
	return true;
}

static bool build_rule(struct nftnl_rule *r, enum rule_kind kind, uint32_t hook,
		       enum divert_queue_kind qkind, const struct divert_queues *qs)
{
	switch (kind) {
	case RULE_DROP_INVALID: {
		uint16_t loopback = ARPHRD_LOOPBACK; /* the kernel's own answers to itself */
		return load(r, KEY_META, NFT_META_OIFTYPE, NFT_REG_1) &&
		       nft_expr_cmp(r, NFT_REG_1, NFT_CMP_NEQ, &loopback, sizeof(loopback)) &&
		       match_masked(r, KEY_CT, NFT_CT_STATE, NFT_CMP_NEQ,
				    NF_CT_STATE_INVALID_BIT, 0) &&
		       verdict(r, NF_DROP);
	}
	case RULE_QUEUE_UNTRACKED:
		return match_masked(r, KEY_CT, NFT_CT_STATE, NFT_CMP_NEQ,
				    NF_CT_STATE_UNTRACKED_BIT, 0) &&
		       update_mark(r, ~DIVERT_PKT_NOCT, DIVERT_PKT_NOCT) &&
		       queue(r, qkind, qs);
	case RULE_QUEUE_INVALID_IN: {
		uint16_t loopback = ARPHRD_LOOPBACK;
		return load(r, KEY_META, NFT_META_IIFTYPE, NFT_REG_1) &&
		       nft_expr_cmp(r, NFT_REG_1, NFT_CMP_NEQ, &loopback, sizeof(loopback)) &&
		       match_masked(r, KEY_CT, NFT_CT_STATE, NFT_CMP_NEQ,
				    NF_CT_STATE_INVALID_BIT, 0) &&
		       update_mark(r, ~DIVERT_PKT_NOCT, DIVERT_PKT_NOCT) &&
		       queue(r, qkind, qs);
	}
	case RULE_FAST_PATH:
		return match_label(r, DIVERT_LABEL_PASSED) &&
		       passed_set_per_side(r, hook, false) && verdict(r, NF_ACCEPT);
	case RULE_REMEMBER:
		return match_verdict_mark(r, DIVERT_PKT_PASS) &&
		       passed_set_per_side(r, hook, true);
	case RULE_PASS:
		return match_verdict_mark(r, DIVERT_PKT_PASS) &&
		       update_mark(r, ~DIVERT_PKT_MASK, 0) &&
		       set_label(r, DIVERT_LABEL_PASSED) &&
		       verdict(r, NF_ACCEPT);
	case RULE_REJECT_TCP:
		return match_verdict_mark(r, DIVERT_PKT_REJECT) &&
		       match_l4proto(r, IPPROTO_TCP) &&
		       nft_expr_reject(r, NFT_REJECT_TCP_RST, 0);
	case RULE_REJECT_OTHER:
		return match_verdict_mark(r, DIVERT_PKT_REJECT) &&
		       nft_expr_reject(r, NFT_REJECT_ICMPX_UNREACH, NFT_REJECT_ICMPX_ADMIN_PROHIBITED);
	case RULE_ECHO4_PASS:
	case RULE_ECHO6_PASS:
		return match_icmp_echo(r, kind == RULE_ECHO6_PASS) &&
		       match_packet_mark(r, DIVERT_PKT_PASS) &&
		       update_mark(r, ~DIVERT_PKT_MASK, 0) && verdict(r, NF_ACCEPT);
	case RULE_ECHO4_REJECT:
	case RULE_ECHO6_REJECT:
		return match_icmp_echo(r, kind == RULE_ECHO6_REJECT) &&
		       match_packet_mark(r, DIVERT_PKT_REJECT) &&
		       nft_expr_reject(r, NFT_REJECT_ICMPX_UNREACH, NFT_REJECT_ICMPX_ADMIN_PROHIBITED);
	case RULE_ECHO4_QUEUE:
	case RULE_ECHO6_QUEUE:
		return match_icmp_echo(r, kind == RULE_ECHO6_QUEUE) &&
		       queue(r, qkind, qs);
	case RULE_ECHO4_SKIP: /* decided in output_echo */
	case RULE_ECHO6_SKIP:
		return match_icmp_echo(r, kind == RULE_ECHO6_SKIP) && verdict(r, NF_ACCEPT);
	case RULE_NONE:
		return false;
	case RULE_QUEUE_REPLY:
	case RULE_QUEUE: {
		uint8_t reply = IP_CT_DIR_REPLY;
		bool ok = match_masked(r, KEY_CT, NFT_CT_STATE, NFT_CMP_NEQ,
				       NF_CT_STATE_BIT(IP_CT_NEW) |
				       NF_CT_STATE_BIT(IP_CT_ESTABLISHED), 0);
		/* A packet of a flow's reply direction says so, so that a flow
		 * userspace does not know (older than ifwall, or forgotten
		 * since) is decided as its first packet was. */
		if (ok && kind == RULE_QUEUE_REPLY)
			ok = load(r, KEY_CT, NFT_CT_DIRECTION, NFT_REG_1) &&
			     nft_expr_cmp(r, NFT_REG_1, NFT_CMP_EQ, &reply, sizeof(reply)) &&
			     update_mark(r, ~DIVERT_PKT_REPLY, DIVERT_PKT_REPLY);
		return ok && set_label(r, DIVERT_LABEL_QUEUED) && queue(r, qkind, qs);
	}
	}
	return false;
}

/* --- the batch ----------------------------------------------------------- */

/* A batch on the table's socket; each message records what it does (the
 * entry's name), to name a refusal. */
struct batch {
	struct nft_batch b;
	struct netlink *nl;
};

/* Adds obj (NULL: out of memory); returns 0 or how the batch failed. */
static int batch_add(struct batch *bt, uint16_t type, uint16_t flags, const char *what,
		     void *obj)
{
	nft_batch_add(&bt->b, bt->nl, type, NFPROTO_INET, flags, 0, 0, what, obj);
	return bt->b.failed;
}

/* The table's user data names the process that runs it, so that a second
 * 'ifwall run --backend divert' (on another queue) does not take it over
 * while the first still answers; a crashed owner's table is replaced. */
#define OWNER_TAG "ifwall-divert pid="

static int table_msg(struct batch *bt, uint16_t type, uint16_t flags)
{
	struct nftnl_table *t = nftnl_table_alloc();
	char owner[48];

	if (!t)
		return -ENOMEM;
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, DIVERT_TABLE_NAME);
	nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_INET);
	if (type == NFT_MSG_NEWTABLE) {
		snprintf(owner, sizeof(owner), OWNER_TAG "%d", (int)getpid());
		nftnl_table_set_data(t, NFTNL_TABLE_USERDATA, owner, (uint32_t)strlen(owner));
	}
	return batch_add(bt, type, flags,
			 type == NFT_MSG_DELTABLE ? "deleting the table" : "creating the table", t);
}

static int chain_msg(struct batch *bt, const char *name, uint32_t hook, int priority)
{
	struct nftnl_chain *c = nftnl_chain_alloc();

	if (!c)
		return -ENOMEM;
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, DIVERT_TABLE_NAME);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
	nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "filter");
	nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, hook);
	nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, priority);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
	return batch_add(bt, NFT_MSG_NEWCHAIN, NLM_F_CREATE, "creating a base chain", c);
}

static int rule_msg(struct batch *bt, const char *chain, uint32_t hook, enum rule_kind kind,
		    enum divert_queue_kind qkind, const struct divert_queues *qs)
{
	static const char *what[] = {
		[RULE_DROP_INVALID] = "adding the rule dropping invalid packets",
		[RULE_QUEUE_UNTRACKED] = "adding the queue rule for untracked packets",
		[RULE_QUEUE_INVALID_IN] = "adding the queue rule for packets of no flow",
		[RULE_FAST_PATH] = "adding the fast path rule",
		[RULE_REMEMBER] = "adding the rule that remembers passed flows",
		[RULE_PASS] = "adding the pass rule",
		[RULE_REJECT_TCP] = "adding the TCP reject rule (nft_reject)",
		[RULE_REJECT_OTHER] = "adding the ICMP reject rule (nft_reject)",
		[RULE_QUEUE] = "adding the queue rule",
		[RULE_QUEUE_REPLY] = "adding the queue rule for reply packets",
		[RULE_ECHO4_PASS] = "adding the ICMP echo rules",
		[RULE_ECHO6_PASS] = "adding the ICMP echo rules",
		[RULE_ECHO4_REJECT] = "adding the ICMP echo rules",
		[RULE_ECHO6_REJECT] = "adding the ICMP echo rules",
		[RULE_ECHO4_QUEUE] = "adding the ICMP echo rules",
		[RULE_ECHO6_QUEUE] = "adding the ICMP echo rules",
		[RULE_ECHO4_SKIP] = "adding the ICMP echo rules",
		[RULE_ECHO6_SKIP] = "adding the ICMP echo rules",
		[RULE_NONE] = NULL,
	};
	struct nftnl_rule *r = nftnl_rule_alloc();

	if (!r)
		return -ENOMEM;
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, DIVERT_TABLE_NAME);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	if (!build_rule(r, kind, hook, qkind, qs)) {
		nftnl_rule_free(r);
		return -ENOMEM;
	}
	return batch_add(bt, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND, what[kind], r);
}

/* NFT_MSG_NEWSET creates the set; NFT_MSG_DELSETELEM without elements
 * empties it. */
static int passed_set_msg(struct batch *bt, uint16_t type)
{
	struct nftnl_set *set = nftnl_set_alloc();

	if (!set)
		return -ENOMEM;
	nftnl_set_set_str(set, NFTNL_SET_TABLE, DIVERT_TABLE_NAME);
	nftnl_set_set_str(set, NFTNL_SET_NAME, PASSED_SET);
	nftnl_set_set_u32(set, NFTNL_SET_FAMILY, NFPROTO_INET);
	if (type != NFT_MSG_NEWSET)
		return batch_add(bt, type, 0, "emptying the set of passed flows", set);
	nftnl_set_set_u32(set, NFTNL_SET_ID, PASSED_SET_ID);
	nftnl_set_set_u32(set, NFTNL_SET_KEY_LEN, PASSED_KEY_LEN);
	nftnl_set_set_u32(set, NFTNL_SET_FLAGS, NFT_SET_TIMEOUT | NFT_SET_EVAL);
	nftnl_set_set_u64(set, NFTNL_SET_TIMEOUT, PASSED_TIMEOUT_MS);
	nftnl_set_set_u32(set, NFTNL_SET_DESC_SIZE, PASSED_SET_SIZE);
	return batch_add(bt, type, NLM_F_CREATE, "creating the set of passed flows", set);
}

/* The table's sockets: batches go through one socket kept open, so the
 * notifications of the backend's own changes carry its port id and can be
 * told from everyone else's; the other socket receives nf_tables
 * notifications. */
struct divert_table {
	struct netlink batch_nl;
	struct mnl_socket *watch_nl;
	struct divert_queues queues;
	enum divert_queue_kind kind; /* as installed */
	bool installed;
};

static int batch_init(struct batch *bt, struct divert_table *t)
{
	bt->nl = &t->batch_nl;
	return nft_batch_begin(&bt->b, bt->nl, 0);
}

/* Ends, sends and frees the batch; r is how building it went (not 0: the
 * batch is only freed). */
static int batch_complete(struct batch *bt, int r, char *err, size_t errlen)
{
	struct nft_batch_acks acks;

	if (r == 0 && (r = nft_batch_end(&bt->b, bt->nl)) == 0 &&
	    (r = nft_batch_send(&bt->b, bt->nl, &acks)) < 0) {
		if (acks.first_error != SIZE_MAX)
			snprintf(err, errlen, "the kernel refused %s: %s",
				 bt->b.entries[acks.first_error].name, strerror(-r));
		else if (r == -ETIMEDOUT)
			snprintf(err, errlen, "the kernel did not answer every message of "
				 "the nftables batch");
		else
			snprintf(err, errlen, "the kernel refused the batch: %s", strerror(-r));
	}
	nft_batch_free(&bt->b);
	return r;
}

/* add table; delete table; add table: replaces whatever was there, and
 * works whether it was there or not. */
static int batch_replace_table(struct batch *bt, bool recreate)
{
	int r = table_msg(bt, NFT_MSG_NEWTABLE, NLM_F_CREATE);

	if (r == 0)
		r = table_msg(bt, NFT_MSG_DELTABLE, 0);
	if (r == 0 && recreate)
		r = table_msg(bt, NFT_MSG_NEWTABLE, NLM_F_CREATE);
	return r;
}

static int install(struct divert_table *t, enum divert_queue_kind kind,
		   char *err, size_t errlen)
{
	struct batch bt;
	int r = batch_init(&bt, t);

	if (r == 0)
		r = batch_replace_table(&bt, true);
	if (r == 0)
		r = passed_set_msg(&bt, NFT_MSG_NEWSET);
	for (size_t c = 0; r == 0 && c < sizeof(chains) / sizeof(chains[0]); c++) {
		r = chain_msg(&bt, chains[c].name, chains[c].hook, chains[c].priority);
		for (size_t i = 0; r == 0 && chains[c].rules[i] != RULE_NONE; i++)
			r = rule_msg(&bt, chains[c].name, chains[c].hook, chains[c].rules[i],
				     kind, &t->queues);
	}
	if (r < 0)
		snprintf(err, errlen, "building the nftables batch: %s", strerror(-r));
	return batch_complete(&bt, r, err, errlen);
}

/* --- reading the table back ---------------------------------------------- */

static void build_table_name(struct nlmsghdr *nlh, const void *type)
{
	/* a table names itself in NFTA_TABLE_NAME; rules name it in
	 * NFTA_RULE_TABLE */
	mnl_attr_put_strz(nlh, *(const uint16_t *)type == NFT_MSG_GETTABLE ? NFTA_TABLE_NAME
									  : NFTA_RULE_TABLE,
			  DIVERT_TABLE_NAME);
}

/* One request (a get or a dump) about the table on a socket of its own;
 * cb sees each answer. Returns 0, or -errno (-ENOENT: no such table). */
static int nft_request(uint16_t type, uint16_t flags, mnl_cb_t cb, void *data)
{
	char buf[16384];
	struct netlink nl;
	int r = netlink_open(&nl, NETLINK_NETFILTER, 0);

	if (r == 0)
		r = nft_nl_request(&nl, type, NFPROTO_INET, flags | NLM_F_ACK, build_table_name,
				   &type, buf, sizeof(buf), cb, data);
	netlink_close(&nl);
	return r;
}

/* Every nf_tables object names its table in attribute 1 (a table, its
 * own name); a rule names its chain in attribute 2. */
static bool attr_is(const struct nft_attrs *t, unsigned type, const char *text)
{
	const char *v = nft_attr_str(t, type);

	return v && !strcmp(v, text);
}

/* Read with libmnl: nftnl_table_nlmsg_parse() exits the process on a
 * malformed attribute. */
static int owner_cb(const struct nlmsghdr *nlh, void *data)
{
	int *pid = data;
	struct nft_attrs t;
	const struct nlattr *userdata;
	char text[48];

	*pid = 0; /* the table exists */
	if (!nft_message_attrs(nlh, &t, NULL) || !(userdata = t.a[NFTA_TABLE_USERDATA]))
		return MNL_CB_OK;
	/* not NUL-terminated (table_msg() writes it so) */
	uint16_t len = mnl_attr_get_payload_len(userdata);
	if (len < sizeof(text)) {
		memcpy(text, mnl_attr_get_payload(userdata), len);
		text[len] = '\0';
		if (!strncmp(text, OWNER_TAG, strlen(OWNER_TAG)))
			*pid = atoi(text + strlen(OWNER_TAG));
	}
	return MNL_CB_OK;
}

/* The pid the table names (0: none), or -ENOENT without a table. */
static int table_owner_tag(void)
{
	int pid = -ENOENT;
	int r = nft_request(NFT_MSG_GETTABLE, 0, owner_cb, &pid);

	return r < 0 ? r : pid;
}

/* Whether pid is an ifwall process in this network namespace (the table
 * is per namespace; pids are not). */
static bool ifwall_here(int pid)
{
	char path[64], comm[32] = "";
	struct stat mine, theirs;
	bool ok;

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	FILE *f = fopen(path, "r");
	ok = f && fgets(comm, sizeof(comm), f) && !strncmp(comm, "ifwall", 6);
	if (f)
		fclose(f);
	snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
	/* Unreadable (no ptrace access): the comm check alone decides. */
	if (ok && stat("/proc/self/ns/net", &mine) == 0 && stat(path, &theirs) == 0)
		ok = mine.st_ino == theirs.st_ino && mine.st_dev == theirs.st_dev;
	return ok;
}

/* The pid of a live ifwall process (not this one) that runs the existing
 * table, or 0; -ENOENT without a table; other -errno. */
static int live_owner(void)
{
	int pid = table_owner_tag();

	if (pid <= 0)
		return pid;
	if (pid == getpid() || !ifwall_here(pid))
		return 0; /* gone (a crash, a stop), or the number was reused */
	return pid;
}

int divert_table_state(int *owner)
{
	int r = live_owner();

	*owner = r > 0 ? r : 0;
	if (r == -ENOENT)
		return 0;
	return r < 0 ? r : 1;
}

struct rule_count {
	unsigned counts[sizeof(chains) / sizeof(chains[0])];
	unsigned foreign; /* rules in chains of someone else's */
};

static int rule_count_cb(const struct nlmsghdr *nlh, void *data)
{
	struct rule_count *rc = data;
	struct nft_attrs t;

	if (!nft_message_attrs(nlh, &t, NULL) || !attr_is(&t, 1, DIVERT_TABLE_NAME))
		return MNL_CB_OK;
	for (size_t c = 0; c < sizeof(chains) / sizeof(chains[0]); c++) {
		if (attr_is(&t, 2, chains[c].name)) {
			rc->counts[c]++;
			return MNL_CB_OK;
		}
	}
	rc->foreign++;
	return MNL_CB_OK;
}

int divert_table_verify(struct divert_table *t, char *why, size_t whylen)
{
	int pid = table_owner_tag();

	if (pid == -ENOENT) {
		snprintf(why, whylen, "the table is gone");
		return 1;
	}
	if (pid < 0)
		return pid;
	if (pid != getpid()) {
		snprintf(why, whylen, "the table was replaced (it names pid %d)", pid);
		return 1;
	}
	struct rule_count rc = { { 0 }, 0 };
	int r = nft_request(NFT_MSG_GETRULE, NLM_F_DUMP, rule_count_cb, &rc);
	if (r < 0)
		return r;
	for (size_t c = 0; c < sizeof(chains) / sizeof(chains[0]); c++) {
		unsigned want = 0;
		while (chains[c].rules[want] != RULE_NONE)
			want++;
		if (rc.counts[c] != want) {
			snprintf(why, whylen, "chain %s has %u rules instead of %u",
				 chains[c].name, rc.counts[c], want);
			return 1;
		}
	}
	if (rc.foreign) {
		snprintf(why, whylen, "%u rules were added in other chains", rc.foreign);
		return 1;
	}
	(void)t;
	return 0;
}

/* --- notifications ------------------------------------------------------- */

int divert_table_changed(struct divert_table *t, struct divert_table_change *by)
{
	/* The kernel's own set element changes (expiry) are not changes. */
	struct nft_watch w = { .table = DIVERT_TABLE_NAME, .self = t->batch_nl.portid };
	char buf[65536];
	bool lost = false; /* notifications were lost: look at the table */
	int r;

	memset(by, 0, sizeof(*by));
	r = nft_watch_receive(t->watch_nl, buf, sizeof(buf), &w, &lost);
	if (r < 0)
		return r;
	by->pid = (int)w.pid;
	snprintf(by->comm, sizeof(by->comm), "%s", w.comm);
	if (!t->installed)
		return 0;
	if (!w.foreign && lost) {
		char why[128];
		r = divert_table_verify(t, why, sizeof(why));
		if (r != 0)
			return r < 0 ? r : 1;
	}
	return w.foreign ? 1 : 0;
}

int divert_table_watch_fd(const struct divert_table *t)
{
	return mnl_socket_get_fd(t->watch_nl);
}

/* --- the table's life ---------------------------------------------------- */

int divert_table_open(struct divert_table **out, const struct divert_queues *qs,
		      char *err, size_t errlen)
{
	struct divert_table *t = calloc(1, sizeof(*t));
	int e;

	*out = NULL;
	if (!t) {
		snprintf(err, errlen, "%s", strerror(ENOMEM));
		return -ENOMEM;
	}
	t->queues = *qs;
	if ((e = netlink_open(&t->batch_nl, NETLINK_NETFILTER, NFT_NL_BATCH_OPTIONS)) < 0 ||
	    !(t->watch_nl = netlink_socket_open(NETLINK_NETFILTER, 0, 0, &e)) ||
	    (e = netlink_socket_join(t->watch_nl, NFNLGRP_NFTABLES)) < 0) {
		snprintf(err, errlen, "opening netfilter netlink sockets: %s", strerror(-e));
		divert_table_free(t);
		return e;
	}
	netlink_socket_rcvbuf(t->watch_nl, 1 << 20);
	*out = t;
	return 0;
}

void divert_table_free(struct divert_table *t)
{
	if (!t)
		return;
	netlink_close(&t->batch_nl);
	netlink_socket_close(t->watch_nl);
	free(t);
}

static void owner_text(char *buf, size_t len, int owner)
{
	snprintf(buf, len, "table inet " DIVERT_TABLE_NAME " belongs to a running "
		 "'ifwall run --backend divert' (pid %d)", owner);
}

int divert_table_owner_text(char *buf, size_t len)
{
	int owner = live_owner();

	if (owner <= 0)
		return 0;
	owner_text(buf, len, owner);
	return owner;
}

int divert_table_install(struct divert_table *t, enum divert_queue_kind kind,
			 enum divert_queue_kind *used, bool *existed,
			 char *err, size_t errlen)
{
	int r;
	int owner = live_owner();

	if (owner > 0) {
		owner_text(err, errlen, owner);
		size_t n = strlen(err);
		snprintf(err + n, errlen - n, "; stop it first");
		return -EBUSY;
	}
	if (existed)
		*existed = owner != -ENOENT;

	if (kind == DIVERT_QUEUE_AUTO) {
		/* Kernels built without nft_queue refuse the expression type
		 * (ENOENT, or EOPNOTSUPP); the whole batch is then void. */
		r = install(t, DIVERT_QUEUE_EXPR, err, errlen);
		if (r == 0) {
			kind = DIVERT_QUEUE_EXPR;
			goto done;
		}
		if (r != -ENOENT && r != -EOPNOTSUPP)
			return r;
		kind = DIVERT_QUEUE_XT_TARGET;
	}
	r = install(t, kind, err, errlen);
	if (r < 0)
		return r;
done:
	t->kind = kind;
	t->installed = true;
	if (used)
		*used = kind;
	return 0;
}

int divert_table_restore(struct divert_table *t, char *err, size_t errlen)
{
	return divert_table_install(t, t->kind, NULL, NULL, err, errlen);
}

int divert_table_remove(struct divert_table *t, char *err, size_t errlen)
{
	struct batch bt;
	int r = batch_init(&bt, t);

	if (r == 0)
		r = batch_replace_table(&bt, false);
	r = batch_complete(&bt, r, err, errlen);
	if (r == 0)
		t->installed = false;
	return r;
}

int divert_table_forget_passed(struct divert_table *t, char *err, size_t errlen)
{
	struct batch bt;
	int r = batch_init(&bt, t);

	if (r == 0)
		r = passed_set_msg(&bt, NFT_MSG_DELSETELEM);
	return batch_complete(&bt, r, err, errlen);
}
