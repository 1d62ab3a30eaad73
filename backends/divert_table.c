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
 *        meta mark |= PKT_REPLY; ct label set QUEUED; queue num N [bypass]
 *   6. ct state new,established: ct label set QUEUED; queue num N [bypass]
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
#include "backends/nlmsg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <libnftnl/batch.h>
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

/* Each helper returns false on ENOMEM (the rule then owns what was added). */
static bool add_expr(struct nftnl_rule *r, struct nftnl_expr *e)
{
	if (!e)
		return false;
	nftnl_rule_add_expr(r, e);
	return true;
}

/* The two expressions that move a key between the packet and a register. */
enum key_source { KEY_META, KEY_CT };

static const struct {
	const char *name;
	uint16_t key, dreg, sreg;
} key_exprs[] = {
	[KEY_META] = { "meta", NFTNL_EXPR_META_KEY, NFTNL_EXPR_META_DREG, NFTNL_EXPR_META_SREG },
	[KEY_CT] = { "ct", NFTNL_EXPR_CT_KEY, NFTNL_EXPR_CT_DREG, NFTNL_EXPR_CT_SREG },
};

/* reg = key (store: key = reg) */
static bool key_expr(struct nftnl_rule *r, enum key_source src, uint32_t key,
		     uint32_t reg, bool store)
{
	struct nftnl_expr *e = nftnl_expr_alloc(key_exprs[src].name);

	if (e) {
		nftnl_expr_set_u32(e, key_exprs[src].key, key);
		nftnl_expr_set_u32(e, store ? key_exprs[src].sreg : key_exprs[src].dreg, reg);
	}
	return add_expr(r, e);
}

static bool load(struct nftnl_rule *r, enum key_source src, uint32_t key, uint32_t dreg)
{
	return key_expr(r, src, key, dreg, false);
}

/* reg = (reg & mask) ^ xor, on len bytes */
static bool bitwise_bytes(struct nftnl_rule *r, uint32_t reg, const void *mask,
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
	return add_expr(r, e);
}

/* The same on 32 bits in host order (marks, ct state). */
static bool bitwise(struct nftnl_rule *r, uint32_t reg, uint32_t mask, uint32_t xor)
{
	return bitwise_bytes(r, reg, &mask, &xor, sizeof(uint32_t));
}

/* meta mark = (meta mark & mask) ^ xor */
static bool update_mark(struct nftnl_rule *r, uint32_t mask, uint32_t xor)
{
	return key_expr(r, KEY_META, NFT_META_MARK, NFT_REG_1, false) &&
	       bitwise(r, NFT_REG_1, mask, xor) &&
	       key_expr(r, KEY_META, NFT_META_MARK, NFT_REG_1, true);
}

static bool cmp(struct nftnl_rule *r, uint32_t reg, uint32_t op,
		const void *data, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("cmp");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, reg);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
		nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
	}
	return add_expr(r, e);
}

/* key & mask OP value */
static bool match_masked(struct nftnl_rule *r, enum key_source src, uint32_t key,
			 uint32_t op, uint32_t mask, uint32_t value)
{
	return load(r, src, key, NFT_REG_1) && bitwise(r, NFT_REG_1, mask, 0) &&
	       cmp(r, NFT_REG_1, op, &value, sizeof(value));
}

/* meta l4proto == proto */
static bool match_l4proto(struct nftnl_rule *r, uint8_t proto)
{
	return load(r, KEY_META, NFT_META_L4PROTO, NFT_REG_1) &&
	       cmp(r, NFT_REG_1, NFT_CMP_EQ, &proto, sizeof(proto));
}

static bool verdict(struct nftnl_rule *r, int code)
{
	struct nftnl_expr *e = nftnl_expr_alloc("immediate");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)code);
	}
	return add_expr(r, e);
}

static bool reject(struct nftnl_rule *r, uint32_t type, uint8_t code)
{
	struct nftnl_expr *e = nftnl_expr_alloc("reject");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_REJECT_TYPE, type);
		nftnl_expr_set_u8(e, NFTNL_EXPR_REJECT_CODE, code);
	}
	return add_expr(r, e);
}

static bool queue(struct nftnl_rule *r, enum divert_queue_kind kind,
		  uint16_t num, bool fail_open)
{
	struct nftnl_expr *e;

	if (kind == DIVERT_QUEUE_EXPR) {
		e = nftnl_expr_alloc("queue");
		if (e) {
			nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_NUM, num);
			nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_TOTAL, 1);
			nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_FLAGS,
					   fail_open ? NFT_QUEUE_FLAG_BYPASS : 0);
		}
		return add_expr(r, e);
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
	info->queuenum = num;
	info->queues_total = 1;
	info->flags = fail_open ? NFQ_FLAG_BYPASS : 0;
	nftnl_expr_set_str(e, NFTNL_EXPR_TG_NAME, "NFQUEUE");
	nftnl_expr_set_u32(e, NFTNL_EXPR_TG_REV, 3);
	nftnl_expr_set(e, NFTNL_EXPR_TG_INFO, info, sizeof(*info));
	return add_expr(r, e);
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
	       bitwise_bytes(r, NFT_REG_1, mask, zero, LABELS_LEN) &&
	       cmp(r, NFT_REG_1, NFT_CMP_NEQ, zero, LABELS_LEN);
}

/* ct label set BIT: adds the bit (nftables cannot clear labels). On a
 * conntrack entry without labels (made before any table used them) the
 * kernel does nothing. */
static bool set_label(struct nftnl_rule *r, unsigned bit)
{
	uint8_t bits[LABELS_LEN];
	struct nftnl_expr *e = nftnl_expr_alloc("immediate");

	label_bits(bit, bits);
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_1);
		nftnl_expr_set(e, NFTNL_EXPR_IMM_DATA, bits, LABELS_LEN);
	}
	return add_expr(r, e) && key_expr(r, KEY_CT, NFT_CT_LABELS, NFT_REG_1, true);
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
	struct nftnl_expr *e;

	if (!match_l4proto(r, v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP))
		return false;
	e = nftnl_expr_alloc("payload");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, NFT_PAYLOAD_TRANSPORT_HEADER);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, 0);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, 1);
	}
	return add_expr(r, e) && bitwise_bytes(r, NFT_REG_1, &mask, &zero, 1) &&
	       cmp(r, NFT_REG_1, NFT_CMP_EQ, &want, 1);
}

/* The set 'passed': looked up, or added to (dynset). */
static bool passed_set_expr(struct nftnl_rule *r, bool add)
{
	struct nftnl_expr *e = nftnl_expr_alloc(add ? "dynset" : "lookup");

	if (!e)
		return false;
	if (add) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_SREG_KEY, NFT_REG32_00);
		nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_OP, NFT_DYNSET_OP_ADD);
		nftnl_expr_set_str(e, NFTNL_EXPR_DYNSET_SET_NAME, PASSED_SET);
		nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_SET_ID, PASSED_SET_ID);
	} else {
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG32_00);
		nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, PASSED_SET);
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, PASSED_SET_ID);
	}
	return add_expr(r, e);
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
		       enum divert_queue_kind qkind, uint16_t num, bool fail_open)
{
	switch (kind) {
	case RULE_DROP_INVALID: {
		uint16_t loopback = ARPHRD_LOOPBACK; /* the kernel's own answers to itself */
		return load(r, KEY_META, NFT_META_OIFTYPE, NFT_REG_1) &&
		       cmp(r, NFT_REG_1, NFT_CMP_NEQ, &loopback, sizeof(loopback)) &&
		       match_masked(r, KEY_CT, NFT_CT_STATE, NFT_CMP_NEQ,
				    NF_CT_STATE_INVALID_BIT, 0) &&
		       verdict(r, NF_DROP);
	}
	case RULE_QUEUE_UNTRACKED:
		return match_masked(r, KEY_CT, NFT_CT_STATE, NFT_CMP_NEQ,
				    NF_CT_STATE_UNTRACKED_BIT, 0) &&
		       update_mark(r, ~DIVERT_PKT_NOCT, DIVERT_PKT_NOCT) &&
		       queue(r, qkind, num, fail_open);
	case RULE_QUEUE_INVALID_IN: {
		uint16_t loopback = ARPHRD_LOOPBACK;
		return load(r, KEY_META, NFT_META_IIFTYPE, NFT_REG_1) &&
		       cmp(r, NFT_REG_1, NFT_CMP_NEQ, &loopback, sizeof(loopback)) &&
		       match_masked(r, KEY_CT, NFT_CT_STATE, NFT_CMP_NEQ,
				    NF_CT_STATE_INVALID_BIT, 0) &&
		       update_mark(r, ~DIVERT_PKT_NOCT, DIVERT_PKT_NOCT) &&
		       queue(r, qkind, num, fail_open);
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
		       reject(r, NFT_REJECT_TCP_RST, 0);
	case RULE_REJECT_OTHER:
		return match_verdict_mark(r, DIVERT_PKT_REJECT) &&
		       reject(r, NFT_REJECT_ICMPX_UNREACH, NFT_REJECT_ICMPX_ADMIN_PROHIBITED);
	case RULE_ECHO4_PASS:
	case RULE_ECHO6_PASS:
		return match_icmp_echo(r, kind == RULE_ECHO6_PASS) &&
		       match_packet_mark(r, DIVERT_PKT_PASS) &&
		       update_mark(r, ~DIVERT_PKT_MASK, 0) && verdict(r, NF_ACCEPT);
	case RULE_ECHO4_REJECT:
	case RULE_ECHO6_REJECT:
		return match_icmp_echo(r, kind == RULE_ECHO6_REJECT) &&
		       match_packet_mark(r, DIVERT_PKT_REJECT) &&
		       reject(r, NFT_REJECT_ICMPX_UNREACH, NFT_REJECT_ICMPX_ADMIN_PROHIBITED);
	case RULE_ECHO4_QUEUE:
	case RULE_ECHO6_QUEUE:
		return match_icmp_echo(r, kind == RULE_ECHO6_QUEUE) &&
		       queue(r, qkind, num, fail_open);
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
			     cmp(r, NFT_REG_1, NFT_CMP_EQ, &reply, sizeof(reply)) &&
			     update_mark(r, ~DIVERT_PKT_REPLY, DIVERT_PKT_REPLY);
		return ok && set_label(r, DIVERT_LABEL_QUEUED) && queue(r, qkind, num, fail_open);
	}
	}
	return false;
}

/* --- the batch ----------------------------------------------------------- */

struct batch {
	struct nftnl_batch *b;
	uint32_t seq, first_seq;
	/* What each message was, to name a refusal: index seq - first_seq. */
	const char *what[64];
	unsigned count;
};

static struct nlmsghdr *batch_msg(struct batch *bt, uint16_t type, uint16_t flags,
				  const char *what)
{
	if (bt->count < sizeof(bt->what) / sizeof(bt->what[0]))
		bt->what[bt->count] = what;
	bt->count++;
	return nftnl_nlmsg_build_hdr(nftnl_batch_buffer(bt->b), type, NFPROTO_INET,
				     flags | NLM_F_ACK, bt->seq++);
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
	struct nlmsghdr *nlh = batch_msg(bt, type, flags,
					 type == NFT_MSG_DELTABLE ? "deleting the table" : "creating the table");
	nftnl_table_nlmsg_build_payload(nlh, t);
	nftnl_table_free(t);
	nftnl_batch_update(bt->b);
	return 0;
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
	struct nlmsghdr *nlh = batch_msg(bt, NFT_MSG_NEWCHAIN, NLM_F_CREATE, "creating a base chain");
	nftnl_chain_nlmsg_build_payload(nlh, c);
	nftnl_chain_free(c);
	nftnl_batch_update(bt->b);
	return 0;
}

static int rule_msg(struct batch *bt, const char *chain, uint32_t hook, enum rule_kind kind,
		    enum divert_queue_kind qkind, uint16_t num, bool fail_open)
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
	if (!build_rule(r, kind, hook, qkind, num, fail_open)) {
		nftnl_rule_free(r);
		return -ENOMEM;
	}
	struct nlmsghdr *nlh = batch_msg(bt, NFT_MSG_NEWRULE,
					 NLM_F_CREATE | NLM_F_APPEND, what[kind]);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	nftnl_rule_free(r);
	nftnl_batch_update(bt->b);
	return 0;
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
	struct nlmsghdr *nlh;
	if (type == NFT_MSG_NEWSET) {
		nftnl_set_set_u32(set, NFTNL_SET_ID, PASSED_SET_ID);
		nftnl_set_set_u32(set, NFTNL_SET_KEY_LEN, PASSED_KEY_LEN);
		nftnl_set_set_u32(set, NFTNL_SET_FLAGS, NFT_SET_TIMEOUT | NFT_SET_EVAL);
		nftnl_set_set_u64(set, NFTNL_SET_TIMEOUT, PASSED_TIMEOUT_MS);
		nftnl_set_set_u32(set, NFTNL_SET_DESC_SIZE, PASSED_SET_SIZE);
		nlh = batch_msg(bt, type, NLM_F_CREATE, "creating the set of passed flows");
		nftnl_set_nlmsg_build_payload(nlh, set);
	} else {
		nlh = batch_msg(bt, type, 0, "emptying the set of passed flows");
		nftnl_set_elems_nlmsg_build_payload(nlh, set);
	}
	nftnl_set_free(set);
	nftnl_batch_update(bt->b);
	return 0;
}

/* The table's sockets: batches go through one socket kept open, so the
 * notifications of the backend's own changes carry its port id and can be
 * told from everyone else's; the other socket receives nf_tables
 * notifications. */
struct divert_table {
	struct mnl_socket *batch_nl;
	uint32_t batch_portid;
	struct mnl_socket *watch_nl;
	uint16_t queue;
	bool fail_open;
	enum divert_queue_kind kind; /* as installed */
	bool installed;
};

struct ack_ctx {
	struct batch *bt;
	unsigned answers;
	int err;
	const char *what;
};

static int ack_error_cb(const struct nlmsghdr *nlh, void *data)
{
	struct ack_ctx *ctx = data;
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*e)))
		return MNL_CB_ERROR;
	uint32_t i = e->msg.nlmsg_seq - ctx->bt->first_seq;
	if (i >= ctx->bt->count)
		return MNL_CB_OK; /* an answer to an earlier batch */
	ctx->answers++;
	if (e->error == 0)
		return MNL_CB_OK; /* an ack */
	if (ctx->err == 0) {
		ctx->err = e->error;
		ctx->what = i < sizeof(ctx->bt->what) / sizeof(ctx->bt->what[0]) ?
			    ctx->bt->what[i] : NULL;
	}
	return MNL_CB_OK;
}

/* Sends the batch and reads every answer: the kernel processes a batch
 * while we are in sendmsg, so all of them are queued when it returns. */
static int batch_send(struct mnl_socket *nl, struct batch *bt, char *err, size_t errlen)
{
	mnl_cb_t cbs[NLMSG_MIN_TYPE] = { 0 };
	struct ack_ctx ctx = { .bt = bt };
	char buf[16384];
	struct iovec *iov = NULL;
	int r = 0;

	cbs[NLMSG_ERROR] = ack_error_cb;
	/* Answers an earlier batch left unread (it stopped at an error). */
	while (recv(mnl_socket_get_fd(nl), buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
	int n = nftnl_batch_iovec_len(bt->b);
	iov = calloc((size_t)n, sizeof(*iov));
	if (!iov) {
		r = -ENOMEM;
		snprintf(err, errlen, "sending the nftables batch: %s", strerror(ENOMEM));
		goto out;
	}
	nftnl_batch_iovec(bt->b, iov, (uint32_t)n);
	struct sockaddr_nl snl = { .nl_family = AF_NETLINK };
	struct msghdr msg = {
		.msg_name = &snl, .msg_namelen = sizeof(snl),
		.msg_iov = iov, .msg_iovlen = (size_t)n,
	};
	if (sendmsg(mnl_socket_get_fd(nl), &msg, 0) < 0) {
		r = -errno;
		snprintf(err, errlen, "sending the nftables batch: %s", strerror(errno));
		goto out;
	}
	while (ctx.answers < bt->count && !ctx.err) {
		struct pollfd pfd = { .fd = mnl_socket_get_fd(nl), .events = POLLIN };
		if (poll(&pfd, 1, 1000) <= 0)
			break;
		ssize_t len = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (len < 0) {
			r = -errno;
			snprintf(err, errlen, "reading the kernel's answer: %s", strerror(errno));
			goto out;
		}
		mnl_cb_run2(buf, nlmsg_valid_prefix(buf, (size_t)len), 0, 0, NULL, &ctx, cbs, NLMSG_MIN_TYPE);
	}
	if (ctx.err) {
		r = ctx.err;
		snprintf(err, errlen, "the kernel refused %s: %s",
			 ctx.what ? ctx.what : "the batch", strerror(-ctx.err));
	}
out:
	free(iov);
	return r;
}

static int batch_init(struct batch *bt)
{
	memset(bt, 0, sizeof(*bt));
	bt->b = nftnl_batch_alloc(16384, 16384);
	if (!bt->b)
		return -ENOMEM;
	bt->seq = (uint32_t)time(NULL);
	nftnl_batch_begin(nftnl_batch_buffer(bt->b), bt->seq++);
	nftnl_batch_update(bt->b);
	bt->first_seq = bt->seq;
	return 0;
}

/* Ends, sends and frees the batch; r is how building it went (not 0: the
 * batch is only freed). */
static int batch_complete(struct divert_table *t, struct batch *bt, int r,
			  char *err, size_t errlen)
{
	if (r == 0) {
		nftnl_batch_end(nftnl_batch_buffer(bt->b), bt->seq++);
		nftnl_batch_update(bt->b);
		r = batch_send(t->batch_nl, bt, err, errlen);
	}
	if (bt->b)
		nftnl_batch_free(bt->b);
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
	int r = batch_init(&bt);

	if (r == 0)
		r = batch_replace_table(&bt, true);
	if (r == 0)
		r = passed_set_msg(&bt, NFT_MSG_NEWSET);
	for (size_t c = 0; r == 0 && c < sizeof(chains) / sizeof(chains[0]); c++) {
		r = chain_msg(&bt, chains[c].name, chains[c].hook, chains[c].priority);
		for (size_t i = 0; r == 0 && chains[c].rules[i] != RULE_NONE; i++)
			r = rule_msg(&bt, chains[c].name, chains[c].hook, chains[c].rules[i],
				     kind, t->queue, t->fail_open);
	}
	if (r < 0)
		snprintf(err, errlen, "building the nftables batch: %s", strerror(-r));
	return batch_complete(t, &bt, r, err, errlen);
}

/* --- reading the table back ---------------------------------------------- */

/* One request (a get or a dump) on a socket of its own; cb sees each
 * answer. Returns 0, or -errno (-ENOENT: no such table). */
static int nft_request(uint16_t type, uint16_t flags, mnl_cb_t cb, void *data)
{
	struct mnl_socket *nl = mnl_socket_open(NETLINK_NETFILTER);
	char buf[16384];
	int r = 0;

	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		r = -errno;
		goto out;
	}
	uint32_t seq = (uint32_t)time(NULL);
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(buf, type, NFPROTO_INET,
						     flags | NLM_F_ACK, seq);
	if (type == NFT_MSG_GETTABLE)
		mnl_attr_put_strz(nlh, NFTA_TABLE_NAME, DIVERT_TABLE_NAME);
	else
		mnl_attr_put_strz(nlh, NFTA_RULE_TABLE, DIVERT_TABLE_NAME);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		r = -errno;
		goto out;
	}
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (n < 0) {
			r = -errno;
			break;
		}
		int cr = mnl_cb_run(buf, nlmsg_valid_prefix(buf, (size_t)n), seq,
				    mnl_socket_get_portid(nl), cb, data);
		if (cr == MNL_CB_STOP)
			break;
		if (cr < 0) {
			r = nlmsg_error();
			break;
		}
	}
out:
	if (nl)
		mnl_socket_close(nl);
	return r;
}

/* The first attribute of type 1 (every nf_tables object names its table
 * there; for a table, its own name) and the rule's chain (type 2). */
struct object_attrs {
	const struct nlattr *table, *chain, *userdata;
};

static int object_attr_cb(const struct nlattr *attr, void *data)
{
	struct object_attrs *o = data;

	switch (mnl_attr_get_type(attr)) {
	case 1: o->table = attr; break;
	case 2: o->chain = attr; break;
	case NFTA_TABLE_USERDATA: o->userdata = attr; break;
	}
	return MNL_CB_OK;
}

static bool attr_is(const struct nlattr *attr, const char *text)
{
	size_t n = strlen(text);

	if (!attr || mnl_attr_get_payload_len(attr) < n)
		return false;
	const char *v = mnl_attr_get_payload(attr);
	return !memcmp(v, text, n) && (mnl_attr_get_payload_len(attr) == n || v[n] == '\0');
}

/* Read with libmnl: nftnl_table_nlmsg_parse() exits the process on a
 * malformed attribute. */
static int owner_cb(const struct nlmsghdr *nlh, void *data)
{
	int *pid = data;
	struct object_attrs o = { 0 };
	char text[48];

	*pid = 0; /* the table exists */
	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(struct nfgenmsg)) ||
	    mnl_attr_parse(nlh, sizeof(struct nfgenmsg), object_attr_cb, &o) < 0 ||
	    !o.userdata)
		return MNL_CB_OK;
	uint16_t len = mnl_attr_get_payload_len(o.userdata);
	if (len < sizeof(text)) {
		memcpy(text, mnl_attr_get_payload(o.userdata), len);
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
	struct object_attrs o = { 0 };

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(struct nfgenmsg)) ||
	    mnl_attr_parse(nlh, sizeof(struct nfgenmsg), object_attr_cb, &o) < 0)
		return MNL_CB_OK;
	if (!attr_is(o.table, DIVERT_TABLE_NAME))
		return MNL_CB_OK;
	for (size_t c = 0; c < sizeof(chains) / sizeof(chains[0]); c++) {
		if (attr_is(o.chain, chains[c].name)) {
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

struct watch_ctx {
	uint32_t own_portid;
	bool foreign;          /* someone else changed the table */
	bool attributed;       /* by->pid is the process that did */
	struct divert_table_change *by;
};

static int gen_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	uint16_t type = mnl_attr_get_type(attr);

	if (type <= NFTA_GEN_MAX)
		tb[type] = attr;
	return MNL_CB_OK;
}

static int watch_cb(const struct nlmsghdr *nlh, void *data)
{
	struct watch_ctx *w = data;
	uint16_t type = nlh->nlmsg_type;

	if (type >> 8 != NFNL_SUBSYS_NFTABLES ||
	    nlh->nlmsg_len < mnl_nlmsg_size(sizeof(struct nfgenmsg)))
		return MNL_CB_OK;
	type &= 0xff;
	if (type == NFT_MSG_NEWGEN) {
		/* Ends each transaction's notifications, naming its process. */
		const struct nlattr *tb[NFTA_GEN_MAX + 1] = { 0 };
		if (w->foreign && !w->attributed &&
		    mnl_attr_parse(nlh, sizeof(struct nfgenmsg), gen_attr_cb, tb) >= 0) {
			if (tb[NFTA_GEN_PROC_PID] &&
			    mnl_attr_get_payload_len(tb[NFTA_GEN_PROC_PID]) == 4)
				w->by->pid = (int)ntohl(mnl_attr_get_u32(tb[NFTA_GEN_PROC_PID]));
			if (tb[NFTA_GEN_PROC_NAME]) {
				uint16_t n = mnl_attr_get_payload_len(tb[NFTA_GEN_PROC_NAME]);
				if (n >= sizeof(w->by->comm))
					n = sizeof(w->by->comm) - 1;
				memcpy(w->by->comm, mnl_attr_get_payload(tb[NFTA_GEN_PROC_NAME]), n);
				w->by->comm[n] = '\0';
			}
			w->attributed = true;
		}
		return MNL_CB_OK;
	}
	const struct nfgenmsg *nfg = mnl_nlmsg_get_payload(nlh);
	struct object_attrs o = { 0 };
	if (nfg->nfgen_family != NFPROTO_INET || nlh->nlmsg_pid == w->own_portid ||
	    mnl_attr_parse(nlh, sizeof(*nfg), object_attr_cb, &o) < 0 ||
	    !attr_is(o.table, DIVERT_TABLE_NAME))
		return MNL_CB_OK;
	/* The kernel's own set element changes (expiry) are not changes. */
	if ((type == NFT_MSG_NEWSETELEM || type == NFT_MSG_DELSETELEM) && nlh->nlmsg_pid == 0)
		return MNL_CB_OK;
	w->foreign = true;
	return MNL_CB_OK;
}

int divert_table_changed(struct divert_table *t, struct divert_table_change *by)
{
	struct watch_ctx w = { .own_portid = t->batch_portid, .by = by };
	char buf[65536];
	bool lost = false;

	memset(by, 0, sizeof(*by));
	for (;;) {
		ssize_t n = recv(mnl_socket_get_fd(t->watch_nl), buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && errno == ENOBUFS) {
			lost = true; /* notifications were lost: look at the table */
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			break;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		mnl_cb_run(buf, nlmsg_valid_prefix(buf, (size_t)n), 0, 0, watch_cb, &w);
	}
	if (!t->installed)
		return 0;
	if (!w.foreign && lost) {
		char why[128];
		int r = divert_table_verify(t, why, sizeof(why));
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

int divert_table_open(struct divert_table **out, uint16_t queue, bool fail_open,
		      char *err, size_t errlen)
{
	struct divert_table *t = calloc(1, sizeof(*t));
	int group = NFNLGRP_NFTABLES, rcvbuf = 1 << 20;

	*out = NULL;
	if (!t) {
		snprintf(err, errlen, "%s", strerror(ENOMEM));
		return -ENOMEM;
	}
	t->queue = queue;
	t->fail_open = fail_open;
	t->batch_nl = mnl_socket_open(NETLINK_NETFILTER);
	t->watch_nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!t->batch_nl || !t->watch_nl ||
	    mnl_socket_bind(t->batch_nl, 0, MNL_SOCKET_AUTOPID) < 0 ||
	    mnl_socket_bind(t->watch_nl, 0, MNL_SOCKET_AUTOPID) < 0 ||
	    mnl_socket_setsockopt(t->watch_nl, NETLINK_ADD_MEMBERSHIP, &group, sizeof(group)) < 0) {
		int e = errno;
		snprintf(err, errlen, "opening netfilter netlink sockets: %s", strerror(e));
		divert_table_free(t);
		return -e;
	}
	setsockopt(mnl_socket_get_fd(t->watch_nl), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	t->batch_portid = mnl_socket_get_portid(t->batch_nl);
	*out = t;
	return 0;
}

void divert_table_free(struct divert_table *t)
{
	if (!t)
		return;
	if (t->batch_nl)
		mnl_socket_close(t->batch_nl);
	if (t->watch_nl)
		mnl_socket_close(t->watch_nl);
	free(t);
}

int divert_table_install(struct divert_table *t, enum divert_queue_kind kind,
			 enum divert_queue_kind *used, bool *existed,
			 char *err, size_t errlen)
{
	int r;
	int owner = live_owner();

	if (owner > 0) {
		snprintf(err, errlen, "table inet " DIVERT_TABLE_NAME " belongs to a running "
			 "'ifwall run --backend divert' (pid %d); stop it first", owner);
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
	int r = batch_init(&bt);

	if (r == 0)
		r = batch_replace_table(&bt, false);
	r = batch_complete(t, &bt, r, err, errlen);
	if (r == 0)
		t->installed = false;
	return r;
}

int divert_table_forget_passed(struct divert_table *t, char *err, size_t errlen)
{
	struct batch bt;
	int r = batch_init(&bt);

	if (r == 0)
		r = passed_set_msg(&bt, NFT_MSG_DELSETELEM);
	return batch_complete(t, &bt, r, err, errlen);
}
