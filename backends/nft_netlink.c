/* The plan as one nfnetlink batch (libnftnl + libmnl), the acknowledgements
 * checked one by one, and the read-back for 'show' and 'flush'.
 *
 * A load is one kernel transaction:
 *   add table inet ifwall            (creates it, or keeps it)
 *   flush its rules                  (when it existed)
 *   delete its chains and sets that the new plan does not keep
 *   add chains (existing base chains are kept: only the policy changes,
 *     so the hooks never see a moment without the table's rules)
 *   add sets and their elements (a named set whose content digest is
 *     unchanged is kept as it is; @state is kept so flows survive)
 *   add rules
 * Either all of it commits or none of it does. */
#include "backends/nft_nl.h"
#include "backends/nft_owner.h"
#include "backends/iftable.h"
#include "backends/nft_plan.h"
#include "backends/nft_recheck.h"
#include "backends/nft_table.h"
#include "backends/nlmsg.h"
#include "filter/grow.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/gen.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <net/if.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif
#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif

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

/* nft's user data for 'typeof ct id . iifname' (key byte order, then the
 * typeof description: concat of ct(key id, no direction) and
 * meta(key iifname)), so that 'nft list' shows the state set as written. */
static const uint8_t state_set_udata[] = {
	0x00, 0x04, 0x00, 0x00, 0x00, 0x00,
	0x03, 0x2e,
	  0x00, 0x04, 0x0d, 0x00, 0x00, 0x00,
	  0x01, 0x26,
	    0x00, 0x14,
	      0x00, 0x04, 0x0c, 0x00, 0x00, 0x00,
	      0x01, 0x0c,
		0x00, 0x04, 0x17, 0x00, 0x00, 0x00,
		0x01, 0x04, 0xff, 0xff, 0xff, 0xff,
	    0x01, 0x0e,
	      0x00, 0x04, 0x09, 0x00, 0x00, 0x00,
	      0x01, 0x06,
		0x00, 0x04, 0x06, 0x00, 0x00, 0x00,
};

#define ELEMS_PER_MESSAGE 1024
#define MESSAGE_ROOM (256 * 1024)

/* --- errors ---------------------------------------------------------------- */


/* --- the socket ------------------------------------------------------------ */

struct nl {
	struct mnl_socket *sock;
	uint32_t portid;
	uint32_t seq;
};

static int nl_open(struct nl *nl, struct nft_error *err)
{
	int one = 1;

	memset(nl, 0, sizeof(*nl));
	nl->sock = mnl_socket_open(NETLINK_NETFILTER);
	if (!nl->sock)
		return nft_set_error(err, -errno, "cannot open a netfilter netlink socket: %s",
				 strerror(errno));
	if (mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
		int e = errno;
		mnl_socket_close(nl->sock);
		nl->sock = NULL;
		return nft_set_error(err, -e, "cannot bind the netlink socket: %s",
				 strerror(e));
	}
	mnl_socket_setsockopt(nl->sock, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(nl->sock, NETLINK_CAP_ACK, &one, sizeof(one));
	nft_nl_recv_timeout(nl->sock);
	nl->portid = mnl_socket_get_portid(nl->sock);
	nl->seq = (uint32_t)time(NULL);
	return 0;
}

static void nl_close(struct nl *nl)
{
	if (nl->sock)
		mnl_socket_close(nl->sock);
	nl->sock = NULL;
}

static void set_buffer_sizes(struct nl *nl, size_t send, size_t recv)
{
	int fd = mnl_socket_get_fd(nl->sock);
	int s = send > INT32_MAX / 2 ? INT32_MAX / 2 : (int)send;
	int r = recv > INT32_MAX / 2 ? INT32_MAX / 2 : (int)recv;

	/* FORCE needs CAP_NET_ADMIN, which a load needs anyway. */
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &s, sizeof(s)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &s, sizeof(s));
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &r, sizeof(r)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &r, sizeof(r));
}

/* Reads the remaining messages of dump seq up to its end. */
static void dump_drain(struct nl *nl, char *buf, size_t size, uint32_t seq)
{
	for (int reads = 0; reads < 100000; reads++) {
		ssize_t n = recv(mnl_socket_get_fd(nl->sock), buf, size, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		int left = (int)nlmsg_valid_prefix(buf, (size_t)n);
		for (const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
		     mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left))
			if (nlh->nlmsg_seq == seq && (nlh->nlmsg_type == NLMSG_DONE ||
						      nlh->nlmsg_type == NLMSG_ERROR))
				return;
		if (left == (int)n)
			return; /* nothing valid: give up */
	}
}

/* Sleeps before attempt number 'attempt' (from 1) of an operation that
 * met a concurrent change: 2, 4, 8 ... ms up to 256 ms, with jitter so
 * that competing loads do not retry in step. */
static void retry_backoff(int attempt)
{
	long ms = 1L << (attempt < 8 ? attempt : 8);
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ms += (ts.tv_nsec / 1000) % (ms + 1);
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* How often an operation is tried when the rule set keeps changing under
 * it (a dump interrupted, a batch refused for a changed generation). */
#define CONCURRENT_ATTEMPTS 20

/* A dump request: 'build' fills the request, 'cb' sees every answer.
 * Returns -EINTR when the kernel marked the dump interrupted (the caller
 * resets what cb collected and dumps again). */
static int nl_dump(struct nl *nl, uint16_t type, uint16_t family,
		   void (*build)(struct nlmsghdr *, void *), void *build_data,
		   mnl_cb_t cb, void *cb_data)
{
	char *buf = malloc(MNL_SOCKET_BUFFER_SIZE * 4);
	struct nlmsghdr *nlh;
	uint32_t seq = ++nl->seq;
	int ret;

	if (!buf)
		return -ENOMEM;
	nlh = nftnl_nlmsg_build_hdr(buf, type, family, NLM_F_DUMP, seq);
	if (build)
		build(nlh, build_data);
	if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) < 0) {
		ret = -errno;
		free(buf);
		return ret;
	}
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl->sock, buf, MNL_SOCKET_BUFFER_SIZE * 4);
		if (n < 0) {
			ret = errno == EINTR ? 0 : -errno;
			if (ret == 0)
				continue;
			break;
		}
		ret = mnl_cb_run(buf, nlmsg_valid_prefix(buf, (size_t)n), seq, nl->portid, cb, cb_data);
		if (ret < 0) {
			ret = nlmsg_error();
			/* NLM_F_DUMP_INTR: the table changed during the dump,
			 * so what was read is inconsistent. Read the rest of
			 * the answer away (the socket is used again) and let
			 * the caller start over. */
			if (ret == -EINTR)
				dump_drain(nl, buf, MNL_SOCKET_BUFFER_SIZE * 4, seq);
			break;
		}
		if (ret == MNL_CB_STOP) {
			ret = 0;
			break;
		}
	}
	free(buf);
	return ret;
}

/* --- what the table holds now ---------------------------------------------- */

struct existing_chain {
	char name[64];
	bool base;
	uint32_t hook;
	int32_t prio;
	char type[16];
	bool has_policy;
	uint32_t policy;
};

struct existing_set {
	char name[64];
	uint32_t flags, key_type, key_len;
	bool has_digest;
	uint64_t digest;
};

struct existing {
	bool table;
	uint32_t table_flags;    /* NFT_TABLE_F_* of table inet ifwall */
	uint32_t table_owner;    /* owner's netlink port id (NFT_TABLE_F_OWNER) */
	size_t nchains, nsets;
	struct existing_chain *chains;
	struct existing_set *sets;
};

/* --- reading the kernel's answers -----------------------------------------
 * libnftnl's message parsers exit() the process on an attribute of an
 * unexpected size ("kernel ABI is broken") and copy strings that may lack
 * their NUL, and its user-data walk trusts the lengths it reads. The
 * answers ifwall reads are taken apart here with libmnl instead: every
 * attribute is checked, and a message or attribute that is malformed is
 * skipped, never trusted. */

static bool str_is(const char *s, const char *want)
{
	return s && !strcmp(s, want);
}

/* User data as nftnl_udata writes it: (type u8, length u8, value)*. Calls
 * cb for each record that fits; stops at the first that does not. */
static void udata_walk(const struct nlattr *a,
		       void (*cb)(uint8_t type, const uint8_t *v, uint8_t len, void *data),
		       void *data)
{
	if (!a)
		return;
	const uint8_t *p = mnl_attr_get_payload(a);
	size_t left = mnl_attr_get_payload_len(a);

	while (left >= 2 && (size_t)p[1] + 2 <= left) {
		cb(p[0], p + 2, p[1], data);
		left -= (size_t)p[1] + 2;
		p += (size_t)p[1] + 2;
	}
}

static void existing_free(struct existing *e)
{
	free(e->chains);
	free(e->sets);
	memset(e, 0, sizeof(*e));
}

static void build_table_filter(struct nlmsghdr *nlh, void *data)
{
	(void)data;
	mnl_attr_put_strz(nlh, NFTA_TABLE_NAME, NFT_TABLE);
}

static int table_cb(const struct nlmsghdr *nlh, void *data)
{
	struct existing *e = data;
	struct nft_attrs t;
	uint8_t family;

	if (nft_message_attrs(nlh, &t, &family) && family == NFPROTO_INET &&
	    str_is(nft_attr_str(&t, NFTA_TABLE_NAME), NFT_TABLE)) {
		e->table = true;
		(void)nft_attr_u32(&t, NFTA_TABLE_FLAGS, &e->table_flags);
		(void)nft_attr_u32(&t, NFTA_TABLE_OWNER, &e->table_owner);
	}
	return MNL_CB_OK;
}

static void build_chain_filter(struct nlmsghdr *nlh, void *data)
{
	(void)data;
	mnl_attr_put_strz(nlh, NFTA_CHAIN_TABLE, NFT_TABLE);
}

static int chain_cb(const struct nlmsghdr *nlh, void *data)
{
	struct existing *e = data;
	struct existing_chain *n;
	struct nft_attrs c, hook;
	const char *name, *type;
	uint32_t hooknum, prio = 0;

	if (!nft_message_attrs(nlh, &c, NULL) ||
	    !str_is(nft_attr_str(&c, NFTA_CHAIN_TABLE), NFT_TABLE) ||
	    !(name = nft_attr_str(&c, NFTA_CHAIN_NAME)))
		return MNL_CB_OK;
	n = realloc(e->chains, (e->nchains + 1) * sizeof(*n));
	if (!n)
		return MNL_CB_ERROR;
	e->chains = n;
	n = &e->chains[e->nchains++];
	memset(n, 0, sizeof(*n));
	snprintf(n->name, sizeof(n->name), "%s", name);
	if (nft_nested_attrs(c.a[NFTA_CHAIN_HOOK], &hook) &&
	    nft_attr_u32(&hook, NFTA_HOOK_HOOKNUM, &hooknum)) {
		n->base = true;
		n->hook = hooknum;
		(void)nft_attr_u32(&hook, NFTA_HOOK_PRIORITY, &prio);
		n->prio = (int32_t)prio;
		if ((type = nft_attr_str(&c, NFTA_CHAIN_TYPE)))
			snprintf(n->type, sizeof(n->type), "%s", type);
		if (nft_attr_u32(&c, NFTA_CHAIN_POLICY, &n->policy))
			n->has_policy = true;
	}
	return MNL_CB_OK;
}

static void build_set_filter(struct nlmsghdr *nlh, void *data)
{
	(void)data;
	mnl_attr_put_strz(nlh, NFTA_SET_TABLE, NFT_TABLE);
}

static void udata_digest_cb(uint8_t type, const uint8_t *v, uint8_t len, void *data)
{
	struct existing_set *s = data;

	if (type == SET_UDATA_DIGEST && len == sizeof(uint64_t)) {
		memcpy(&s->digest, v, sizeof(uint64_t));
		s->has_digest = true;
	}
}

static int set_cb(const struct nlmsghdr *nlh, void *data)
{
	struct existing *e = data;
	struct existing_set *n;
	struct nft_attrs t;
	const char *name;

	if (!nft_message_attrs(nlh, &t, NULL) ||
	    !str_is(nft_attr_str(&t, NFTA_SET_TABLE), NFT_TABLE) ||
	    !(name = nft_attr_str(&t, NFTA_SET_NAME)))
		return MNL_CB_OK;
	n = realloc(e->sets, (e->nsets + 1) * sizeof(*n));
	if (!n)
		return MNL_CB_ERROR;
	e->sets = n;
	n = &e->sets[e->nsets++];
	memset(n, 0, sizeof(*n));
	snprintf(n->name, sizeof(n->name), "%s", name);
	(void)nft_attr_u32(&t, NFTA_SET_FLAGS, &n->flags);
	(void)nft_attr_u32(&t, NFTA_SET_KEY_TYPE, &n->key_type);
	(void)nft_attr_u32(&t, NFTA_SET_KEY_LEN, &n->key_len);
	udata_walk(t.a[NFTA_SET_USERDATA], udata_digest_cb, n);
	return MNL_CB_OK;
}

static int existing_read_once(struct nl *nl, struct existing *e)
{
	int rc;

	memset(e, 0, sizeof(*e));
	rc = nl_dump(nl, NFT_MSG_GETTABLE, NFPROTO_INET, build_table_filter, NULL,
		     table_cb, e);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0 || !e->table)
		return rc;
	rc = nl_dump(nl, NFT_MSG_GETCHAIN, NFPROTO_INET, build_chain_filter, NULL,
		     chain_cb, e);
	if (rc == 0)
		rc = nl_dump(nl, NFT_MSG_GETSET, NFPROTO_INET, build_set_filter, NULL,
			     set_cb, e);
	return rc == -ENOENT ? 0 : rc;
}

/* Reads the table, again when a concurrent change interrupted a dump. */
static int existing_read(struct nl *nl, struct existing *e)
{
	int rc = -EINTR;

	for (int attempt = 1; attempt <= CONCURRENT_ATTEMPTS && rc == -EINTR; attempt++) {
		if (attempt > 1) {
			existing_free(e);
			retry_backoff(attempt);
		}
		rc = existing_read_once(nl, e);
	}
	return rc;
}

static int gen_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nft_attrs t;

	if (nft_message_attrs(nlh, &t, NULL))
		(void)nft_attr_u32(&t, NFTA_GEN_ID, data);
	return MNL_CB_OK;
}

/* The rule-set generation: the batch carries it, and the kernel refuses the
 * batch (ERESTART) when anything changed since, so what we read of the
 * table is what the batch replaces. */
static int generation_read(struct nl *nl, uint32_t *genid)
{
	char buf[8192];
	uint32_t seq = ++nl->seq;
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETGEN, AF_UNSPEC,
						     0, seq);
	ssize_t n;

	*genid = 0;
	if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	n = mnl_socket_recvfrom(nl->sock, buf, sizeof(buf));
	if (n < 0)
		return -errno;
	if (mnl_cb_run(buf, nlmsg_valid_prefix(buf, (size_t)n), seq, nl->portid, gen_cb, genid) < 0)
		return nlmsg_error();
	return 0;
}

/* --- the batch ------------------------------------------------------------- */

enum batch_object {
	OBJ_OTHER = 0,
	OBJ_TABLE,
	OBJ_FLUSH,
	OBJ_DELETE_CHAIN,
	OBJ_DELETE_SET,
	OBJ_CHAIN,
	OBJ_SET,
	OBJ_ELEMENTS,
	OBJ_RULE,
	OBJ_DELETE_TABLE,
	OBJ_DELETE_ELEMENTS,
};

struct batch_entry {
	enum batch_object object;
	size_t index;           /* plan chain / set / rule */
	char name[64];          /* deleted objects */
};

struct batch {
	char *buf;
	size_t len, cap;
	uint32_t first_seq;     /* seq of the first acknowledged message */
	size_t nentries, entries_cap;
	struct batch_entry *entries;
	int failed;             /* -ENOMEM while building */
};

static void batch_free(struct batch *b)
{
	free(b->buf);
	free(b->entries);
	memset(b, 0, sizeof(*b));
}

/* Room for one more message of up to MESSAGE_ROOM bytes at the tail. */
static char *batch_tail(struct batch *b)
{
	if (b->cap - b->len < MESSAGE_ROOM) {
		size_t cap = b->cap ? b->cap * 2 : 4 * MESSAGE_ROOM;
		char *n = realloc(b->buf, cap);
		if (!n) {
			b->failed = -ENOMEM;
			return NULL;
		}
		memset(n + b->cap, 0, cap - b->cap);
		b->buf = n;
		b->cap = cap;
	}
	return b->buf + b->len;
}

static void batch_commit_message(struct batch *b, struct nlmsghdr *nlh)
{
	b->len += NLMSG_ALIGN(nlh->nlmsg_len);
}

/* Starts an acknowledged message; records what it is about. */
static struct nlmsghdr *batch_message(struct batch *b, struct nl *nl,
				      uint16_t type, uint16_t family,
				      uint16_t flags, enum batch_object object,
				      size_t index, const char *name)
{
	char *tail = batch_tail(b);
	uint32_t seq = ++nl->seq;

	if (!tail)
		return NULL;
	if (grow_array(&b->entries, &b->entries_cap, b->nentries,
		       sizeof(*b->entries)) < 0) {
		b->failed = -ENOMEM;
		return NULL;
	}
	if (b->nentries == 0)
		b->first_seq = seq;
	struct batch_entry *e = &b->entries[b->nentries++];
	memset(e, 0, sizeof(*e));
	e->object = object;
	e->index = index;
	if (name)
		snprintf(e->name, sizeof(e->name), "%s", name);
	return nftnl_nlmsg_build_hdr(tail, type, family, flags | NLM_F_ACK, seq);
}

/* Appends an acknowledged message carrying obj, the libnftnl object the
 * entry's kind names (a table, chain, set, set's elements or rule), and
 * frees obj. A NULL obj (its allocation failed) fails the batch. */
static void batch_object(struct batch *b, struct nl *nl, uint16_t type,
			 uint16_t family, uint16_t flags, enum batch_object object,
			 size_t index, const char *name, void *obj)
{
	struct nlmsghdr *nlh;

	if (!obj) {
		b->failed = -ENOMEM;
		return;
	}
	nlh = batch_message(b, nl, type, family, flags, object, index, name);
	switch (object) {
	case OBJ_TABLE:
	case OBJ_DELETE_TABLE:
		if (nlh)
			nftnl_table_nlmsg_build_payload(nlh, obj);
		nftnl_table_free(obj);
		break;
	case OBJ_CHAIN:
	case OBJ_DELETE_CHAIN:
		if (nlh)
			nftnl_chain_nlmsg_build_payload(nlh, obj);
		nftnl_chain_free(obj);
		break;
	case OBJ_SET:
	case OBJ_DELETE_SET:
		if (nlh)
			nftnl_set_nlmsg_build_payload(nlh, obj);
		nftnl_set_free(obj);
		break;
	case OBJ_ELEMENTS:
	case OBJ_DELETE_ELEMENTS:
		if (nlh)
			nftnl_set_elems_nlmsg_build_payload(nlh, obj);
		nftnl_set_free(obj);
		break;
	case OBJ_FLUSH:
	case OBJ_RULE:
		if (nlh)
			nftnl_rule_nlmsg_build_payload(nlh, obj);
		nftnl_rule_free(obj);
		break;
	case OBJ_OTHER:
		break;
	}
	if (nlh)
		batch_commit_message(b, nlh);
}

/* A table, or a chain or set of ifwall's table, named for a message. */
static struct nftnl_table *table_named(uint32_t family, const char *name)
{
	struct nftnl_table *t = nftnl_table_alloc();

	if (t) {
		nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, family);
		nftnl_table_set_str(t, NFTNL_TABLE_NAME, name);
	}
	return t;
}

static struct nftnl_chain *chain_named(const char *name)
{
	struct nftnl_chain *c = nftnl_chain_alloc();

	if (c) {
		nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
		nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, NFT_TABLE);
		nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
	}
	return c;
}

static struct nftnl_set *set_named(const char *name)
{
	struct nftnl_set *s = nftnl_set_alloc();

	if (s) {
		nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
		nftnl_set_set_str(s, NFTNL_SET_TABLE, NFT_TABLE);
		nftnl_set_set_str(s, NFTNL_SET_NAME, name);
	}
	return s;
}

/* --- expressions ----------------------------------------------------------- */

static void add_expr(struct nftnl_rule *r, struct nftnl_expr *e)
{
	nftnl_rule_add_expr(r, e);
}

static void expr_meta(struct nftnl_rule *r, uint32_t key, uint32_t dreg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("meta");

	nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, dreg);
	add_expr(r, e);
}

static void expr_cmp(struct nftnl_rule *r, uint32_t op, const void *data,
		     uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("cmp");

	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
	nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
	add_expr(r, e);
}

static void expr_payload(struct nftnl_rule *r, uint32_t base, uint32_t offset,
			 uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("payload");

	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
	add_expr(r, e);
}

static void expr_bitwise_mask(struct nftnl_rule *r, const uint8_t *mask,
			      uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("bitwise");
	uint8_t zero[16] = { 0 };

	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask, len);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, zero, len);
	add_expr(r, e);
}

static void expr_lookup(struct nftnl_rule *r, const struct plan_set *s,
			uint32_t sreg, bool invert)
{
	struct nftnl_expr *e = nftnl_expr_alloc("lookup");

	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, sreg);
	nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, s->name);
	if (s->anonymous)
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, s->id);
	if (invert)
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, NFT_LOOKUP_F_INV);
	add_expr(r, e);
}

static void expr_range(struct nftnl_rule *r, bool negate, const void *from,
		       const void *to, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("range");

	nftnl_expr_set_u32(e, NFTNL_EXPR_RANGE_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_RANGE_OP, negate ? NFT_RANGE_NEQ : NFT_RANGE_EQ);
	nftnl_expr_set(e, NFTNL_EXPR_RANGE_FROM_DATA, from, len);
	nftnl_expr_set(e, NFTNL_EXPR_RANGE_TO_DATA, to, len);
	add_expr(r, e);
}

static void expr_ct(struct nftnl_rule *r, uint32_t key, uint32_t dreg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("ct");

	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, dreg);
	add_expr(r, e);
}

static void expr_fib_type(struct nftnl_rule *r, uint32_t flags)
{
	struct nftnl_expr *e = nftnl_expr_alloc("fib");

	nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_FLAGS, flags);
	nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_RESULT, NFT_FIB_RESULT_ADDRTYPE);
	nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_DREG, NFT_REG_1);
	add_expr(r, e);
}

static void expr_state_key(struct nftnl_rule *r, bool out)
{
	expr_ct(r, NFT_CT_ID, NFT_REG_1);
	expr_meta(r, out ? NFT_META_OIFNAME : NFT_META_IIFNAME, NFT_REG32_01);
}

static void expr_state_update(struct nftnl_rule *r, bool out, const char *ifname,
			      uint32_t timeout)
{
	struct nftnl_expr *e = nftnl_expr_alloc("dynset");

	if (ifname) {
		char name[IFNAMSIZ] = { 0 };
		struct nftnl_expr *imm = nftnl_expr_alloc("immediate");
		memcpy(name, ifname, strnlen(ifname, IFNAMSIZ - 1));
		expr_ct(r, NFT_CT_ID, NFT_REG_1);
		nftnl_expr_set_u32(imm, NFTNL_EXPR_IMM_DREG, NFT_REG32_01);
		nftnl_expr_set(imm, NFTNL_EXPR_IMM_DATA, name, IFNAMSIZ);
		add_expr(r, imm);
	} else {
		expr_state_key(r, out);
	}
	nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_SREG_KEY, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_OP, NFT_DYNSET_OP_UPDATE);
	nftnl_expr_set_str(e, NFTNL_EXPR_DYNSET_SET_NAME, PLAN_STATE_SET);
	if (timeout)
		nftnl_expr_set_u64(e, NFTNL_EXPR_DYNSET_TIMEOUT, (uint64_t)timeout * 1000);
	add_expr(r, e);
}

static void expr_counter(struct nftnl_rule *r)
{
	add_expr(r, nftnl_expr_alloc("counter"));
}

static void expr_log(struct nftnl_rule *r, const char *prefix)
{
	struct nftnl_expr *e = nftnl_expr_alloc("log");

	nftnl_expr_set_str(e, NFTNL_EXPR_LOG_PREFIX, prefix);
	nftnl_expr_set_u16(e, NFTNL_EXPR_LOG_GROUP, PLAN_LOG_GROUP);
	add_expr(r, e);
}

static void expr_limit(struct nftnl_rule *r)
{
	struct nftnl_expr *e = nftnl_expr_alloc("limit");

	nftnl_expr_set_u64(e, NFTNL_EXPR_LIMIT_RATE, PLAN_LOG_RATE);
	nftnl_expr_set_u64(e, NFTNL_EXPR_LIMIT_UNIT, 1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_BURST, PLAN_LOG_BURST);
	nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_TYPE, NFT_LIMIT_PKTS);
	nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_FLAGS, 0);
	add_expr(r, e);
}

static void expr_reject(struct nftnl_rule *r, uint32_t type, uint8_t code)
{
	struct nftnl_expr *e = nftnl_expr_alloc("reject");

	nftnl_expr_set_u32(e, NFTNL_EXPR_REJECT_TYPE, type);
	nftnl_expr_set_u8(e, NFTNL_EXPR_REJECT_CODE, code);
	add_expr(r, e);
}

static void expr_verdict(struct nftnl_rule *r, int verdict, const char *chain)
{
	struct nftnl_expr *e = nftnl_expr_alloc("immediate");

	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)verdict);
	if (chain)
		nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, chain);
	add_expr(r, e);
}

/* --- plan rule -> kernel rule ---------------------------------------------- */

static void add_value_match(struct nftnl_rule *r, const struct nft_plan *plan,
			    const struct plan_match *m, uint32_t len)
{
	uint8_t data[4];

	if (m->set >= 0) {
		expr_lookup(r, &plan->sets[m->set], NFT_REG_1, m->negate);
		return;
	}
	switch (len) {
	case 1:
		data[0] = (uint8_t)m->value;
		break;
	case 2: {
		uint16_t v = (uint16_t)m->value;
		memcpy(data, &v, 2);
		break;
	}
	default:
		memcpy(data, &m->value, 4);
		len = 4;
		break;
	}
	expr_cmp(r, m->negate ? NFT_CMP_NEQ : NFT_CMP_EQ, data, len);
}

static void add_addr_match(struct nftnl_rule *r, const struct nft_plan *plan,
			   const struct plan_match *m)
{
	uint32_t size = m->family == 4 ? 4 : 16;
	uint32_t offset = m->family == 4 ? (m->dst ? 16 : 12) : (m->dst ? 24 : 8);

	if (m->set >= 0) {
		expr_payload(r, NFT_PAYLOAD_NETWORK_HEADER, offset, size);
		expr_lookup(r, &plan->sets[m->set], NFT_REG_1, m->negate);
		return;
	}
	uint32_t op = m->negate ? NFT_CMP_NEQ : NFT_CMP_EQ;
	if (m->addr_range) {
		expr_payload(r, NFT_PAYLOAD_NETWORK_HEADER, offset, size);
		expr_range(r, m->negate, m->range.lo, m->range.hi, size);
		return;
	}
	if (m->addr.len % 8 == 0) {
		uint32_t bytes = m->addr.len / 8;
		if (bytes == 0)
			bytes = size; /* /0 never gets here; be safe */
		expr_payload(r, NFT_PAYLOAD_NETWORK_HEADER, offset, bytes);
		expr_cmp(r, op, m->addr.addr.a, bytes);
		return;
	}
	uint8_t mask[16] = { 0 };
	for (unsigned i = 0; i < m->addr.len; i++)
		mask[i / 8] |= (uint8_t)(0x80 >> (i % 8));
	expr_payload(r, NFT_PAYLOAD_NETWORK_HEADER, offset, size);
	expr_bitwise_mask(r, mask, size);
	expr_cmp(r, op, m->addr.addr.a, size);
}

static void add_match(struct nftnl_rule *r, const struct nft_plan *plan,
		      const struct plan_match *m)
{
	switch (m->kind) {
	case MATCH_IFNAME: {
		char name[IFNAMSIZ] = { 0 };
		memcpy(name, m->ifname, strnlen(m->ifname, IFNAMSIZ));
		expr_meta(r, m->out ? NFT_META_OIFNAME : NFT_META_IIFNAME, NFT_REG_1);
		expr_cmp(r, m->negate ? NFT_CMP_NEQ : NFT_CMP_EQ, name,
			 m->prefix ? (uint32_t)strnlen(name, IFNAMSIZ) : IFNAMSIZ);
		return;
	}
	case MATCH_IFTYPE:
		expr_meta(r, m->out ? NFT_META_OIFTYPE : NFT_META_IIFTYPE, NFT_REG_1);
		add_value_match(r, plan, m, 2);
		return;
	case MATCH_NFPROTO: {
		uint8_t v = m->family == 4 ? NFPROTO_IPV4 : NFPROTO_IPV6;
		expr_meta(r, NFT_META_NFPROTO, NFT_REG_1);
		expr_cmp(r, NFT_CMP_EQ, &v, 1);
		return;
	}
	case MATCH_L4PROTO:
		expr_meta(r, NFT_META_L4PROTO, NFT_REG_1);
		add_value_match(r, plan, m, 1);
		return;
	case MATCH_ADDR:
		add_addr_match(r, plan, m);
		return;
	case MATCH_PORT: {
		expr_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, m->dst ? 2 : 0, 2);
		if (m->set >= 0) {
			expr_lookup(r, &plan->sets[m->set], NFT_REG_1, m->negate);
		} else if (m->value == m->value_hi) {
			uint16_t v = htons((uint16_t)m->value);
			expr_cmp(r, m->negate ? NFT_CMP_NEQ : NFT_CMP_EQ, &v, 2);
		} else {
			uint16_t lo = htons((uint16_t)m->value);
			uint16_t hi = htons((uint16_t)m->value_hi);
			expr_range(r, m->negate, &lo, &hi, 2);
		}
		return;
	}
	case MATCH_ICMP_TYPE:
		expr_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1);
		add_value_match(r, plan, m, 1);
		return;
	case MATCH_SKUID:
		expr_meta(r, NFT_META_SKUID, NFT_REG_1);
		add_value_match(r, plan, m, 4);
		return;
	case MATCH_MARK:
		expr_meta(r, NFT_META_MARK, NFT_REG_1);
		add_value_match(r, plan, m, 4);
		return;
	case MATCH_CGROUP: {
		/* The id of the local socket's cgroup ancestor at the
		 * pattern's level (no socket, or a shallower cgroup: no
		 * match), looked up in the rule's set. */
		struct nftnl_expr *e = nftnl_expr_alloc("socket");
		nftnl_expr_set_u32(e, NFTNL_EXPR_SOCKET_KEY, NFT_SOCKET_CGROUPV2);
		nftnl_expr_set_u32(e, NFTNL_EXPR_SOCKET_LEVEL, m->value);
		nftnl_expr_set_u32(e, NFTNL_EXPR_SOCKET_DREG, NFT_REG_1);
		add_expr(r, e);
		expr_lookup(r, &plan->sets[m->set], NFT_REG_1, false);
		return;
	}
	case MATCH_FIB_LOCAL_OTHER_IF: {
		uint32_t local = RTN_LOCAL;
		expr_fib_type(r, NFTA_FIB_F_DADDR);
		expr_cmp(r, NFT_CMP_EQ, &local, 4);
		expr_fib_type(r, NFTA_FIB_F_DADDR | NFTA_FIB_F_IIF);
		expr_cmp(r, NFT_CMP_NEQ, &local, 4);
		return;
	}
	case MATCH_CT_REPLY: {
		uint8_t reply = 1; /* IP_CT_DIR_REPLY */
		expr_ct(r, NFT_CT_DIRECTION, NFT_REG_1);
		expr_cmp(r, NFT_CMP_EQ, &reply, 1);
		return;
	}
	case MATCH_CT_RELATED:
	case MATCH_CT_UNCONFIRMED: {
		/* ct state related: the state bit of IP_CT_RELATED;
		 * ct status & confirmed == 0: IPS_CONFIRMED (host order). */
		bool related = m->kind == MATCH_CT_RELATED;
		uint32_t bit = related ? 0x04 : 0x08, zero = 0;
		expr_ct(r, related ? NFT_CT_STATE : NFT_CT_STATUS, NFT_REG_1);
		expr_bitwise_mask(r, (const uint8_t *)&bit, 4);
		expr_cmp(r, related ? NFT_CMP_NEQ : NFT_CMP_EQ, &zero, 4);
		return;
	}
	case MATCH_CT_EXPIRATION_LE: {
		/* milliseconds, host order; compared big-endian as nft does */
		struct nftnl_expr *e = nftnl_expr_alloc("byteorder");
		uint32_t ms = htonl(m->value * 1000);
		expr_ct(r, NFT_CT_EXPIRATION, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_DREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_OP, NFT_BYTEORDER_HTON);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_LEN, 4);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_SIZE, 4);
		add_expr(r, e);
		expr_cmp(r, NFT_CMP_LTE, &ms, 4);
		return;
	}
	case MATCH_STATE: {
		const struct plan_set *state = NULL;
		for (size_t i = 0; i < plan->nsets; i++)
			if (plan->sets[i].kind == SETKIND_STATE)
				state = &plan->sets[i];
		expr_state_key(r, m->out);
		if (state)
			expr_lookup(r, state, NFT_REG_1, false);
		return;
	}
	}
}

static void rule_udata(struct nftnl_rule *nr, const struct plan_rule *r)
{
	struct nftnl_udata_buf *u = nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN);
	char comment[256];

	if (!u)
		return;
	if (plan_rule_comment(r, comment, sizeof(comment)))
		nftnl_udata_put_strz(u, PLAN_UDATA_COMMENT, comment);
	nftnl_udata_put_u32(u, PLAN_UDATA_ROLE, (uint32_t)r->role);
	if (r->role == ROLE_DEFAULT)
		nftnl_udata_put_u32(u, PLAN_UDATA_DIR, r->default_dir);
	if (r->role == ROLE_USER) {
		nftnl_udata_put_u32(u, PLAN_UDATA_INDEX, (uint32_t)r->rule->index);
		if (r->rule->text) {
			/* What is left of the 256 bytes, minus the header and NUL. */
			long room = (long)NFT_USERDATA_MAXLEN -
				    (long)nftnl_udata_buf_len(u) - 3;
			char text[256];
			if (room > 255 - 1)
				room = 255 - 1;
			if (room > 4) {
				size_t len = strlen(r->rule->text);
				if ((long)len > room) {
					memcpy(text, r->rule->text, (size_t)room - 3);
					memcpy(text + room - 3, "...", 4);
				} else {
					memcpy(text, r->rule->text, len + 1);
				}
				nftnl_udata_put_strz(u, PLAN_UDATA_TEXT, text);
			}
		}
	}
	nftnl_rule_set_data(nr, NFTNL_RULE_USERDATA, nftnl_udata_buf_data(u),
			    nftnl_udata_buf_len(u));
	nftnl_udata_buf_free(u);
}

static struct nftnl_rule *kernel_rule(const struct nft_plan *plan,
				      const struct plan_rule *r)
{
	struct nftnl_rule *nr = nftnl_rule_alloc();

	if (!nr)
		return NULL;
	nftnl_rule_set_u32(nr, NFTNL_RULE_FAMILY, NFPROTO_INET);
	nftnl_rule_set_str(nr, NFTNL_RULE_TABLE, NFT_TABLE);
	nftnl_rule_set_str(nr, NFTNL_RULE_CHAIN, plan_chain_names[r->chain]);
	for (size_t i = 0; i < r->nmatches; i++)
		add_match(nr, plan, &r->matches[i]);
	if (r->state_update)
		expr_state_update(nr, r->state_update_out, r->state_update_ifname,
				  r->state_timeout);
	if (r->counter)
		expr_counter(nr);
	if (r->log_limit)
		expr_limit(nr);
	if (r->log)
		expr_log(nr, r->log_prefix);
	if (r->reject == REJECT_TCP_RESET)
		expr_reject(nr, NFT_REJECT_TCP_RST, 0);
	else if (r->reject == REJECT_ICMPX_ADMIN)
		expr_reject(nr, NFT_REJECT_ICMPX_UNREACH,
			    NFT_REJECT_ICMPX_ADMIN_PROHIBITED);
	switch (r->verdict) {
	case PLAN_CONTINUE:
		break;
	case PLAN_ACCEPT:
		expr_verdict(nr, NF_ACCEPT, NULL);
		break;
	case PLAN_DROP:
		expr_verdict(nr, NF_DROP, NULL);
		break;
	case PLAN_RETURN:
		expr_verdict(nr, NFT_RETURN, NULL);
		break;
	case PLAN_JUMP:
		expr_verdict(nr, NFT_JUMP, plan_chain_names[r->target]);
		break;
	case PLAN_GOTO:
		expr_verdict(nr, NFT_GOTO, plan_chain_names[r->target]);
		break;
	}
	rule_udata(nr, r);
	return nr;
}

/* --- sets ------------------------------------------------------------------ */

struct set_shape {
	uint32_t flags, key_type, key_len, byteorder;
};

static struct set_shape set_shape(const struct plan_set *s)
{
	struct set_shape sh = { 0 };

	switch (s->kind) {
	case SETKIND_ADDR4:
		sh = (struct set_shape){ NFT_SET_INTERVAL, NFT_TYPE_IPADDR, 4, 2 };
		break;
	case SETKIND_ADDR6:
		sh = (struct set_shape){ NFT_SET_INTERVAL, NFT_TYPE_IP6ADDR, 16, 2 };
		break;
	case SETKIND_PORT:
		sh = (struct set_shape){ NFT_SET_INTERVAL, NFT_TYPE_INET_SERVICE, 2, 2 };
		break;
	case SETKIND_L4PROTO:
		sh = (struct set_shape){ 0, NFT_TYPE_INET_PROTOCOL, 1, 1 };
		break;
	case SETKIND_ARPHRD:
		sh = (struct set_shape){ 0, NFT_TYPE_ARPHRD, 2, 1 };
		break;
	case SETKIND_ICMP:
		sh = (struct set_shape){ 0, NFT_TYPE_ICMP_TYPE, 1, 2 };
		break;
	case SETKIND_ICMP6:
		sh = (struct set_shape){ 0, NFT_TYPE_ICMP6_TYPE, 1, 2 };
		break;
	case SETKIND_CGROUP:
		sh = (struct set_shape){ 0, NFT_TYPE_CGROUPV2, 8, 1 };
		break;
	case SETKIND_STATE:
		sh = (struct set_shape){ NFT_SET_TIMEOUT | NFT_SET_EVAL,
					 (NFT_TYPE_INTEGER << NFT_TYPE_BITS) | NFT_TYPE_IFNAME,
					 4 + IFNAMSIZ, 0 };
		break;
	}
	if (s->anonymous)
		sh.flags |= NFT_SET_ANONYMOUS | NFT_SET_CONSTANT;
	return sh;
}

static struct nftnl_set *set_header(const struct plan_set *s)
{
	struct nftnl_set *ns = nftnl_set_alloc();

	if (!ns)
		return NULL;
	nftnl_set_set_str(ns, NFTNL_SET_TABLE, NFT_TABLE);
	nftnl_set_set_str(ns, NFTNL_SET_NAME, s->name);
	nftnl_set_set_u32(ns, NFTNL_SET_FAMILY, NFPROTO_INET);
	nftnl_set_set_u32(ns, NFTNL_SET_ID, s->id);
	return ns;
}

static struct nftnl_set *kernel_set(const struct plan_set *s)
{
	struct nftnl_set *ns = set_header(s);
	struct set_shape sh = set_shape(s);

	if (!ns)
		return NULL;
	nftnl_set_set_u32(ns, NFTNL_SET_FLAGS, sh.flags);
	nftnl_set_set_u32(ns, NFTNL_SET_KEY_TYPE, sh.key_type);
	nftnl_set_set_u32(ns, NFTNL_SET_KEY_LEN, sh.key_len);
	if (s->kind == SETKIND_STATE) {
		nftnl_set_set_u64(ns, NFTNL_SET_TIMEOUT, (uint64_t)PLAN_STATE_TIMEOUT * 1000);
		nftnl_set_set_u32(ns, NFTNL_SET_DESC_SIZE, PLAN_STATE_SIZE);
		uint8_t udata[sizeof(state_set_udata) + 2 + sizeof(uint64_t)];
		memcpy(udata, state_set_udata, sizeof(state_set_udata));
		udata[sizeof(state_set_udata)] = SET_UDATA_DIGEST;
		udata[sizeof(state_set_udata) + 1] = sizeof(uint64_t);
		memcpy(udata + sizeof(state_set_udata) + 2, &s->digest, sizeof(uint64_t));
		nftnl_set_set_data(ns, NFTNL_SET_USERDATA, udata, sizeof(udata));
		return ns;
	}
	struct nftnl_udata_buf *u = nftnl_udata_buf_alloc(64);
	if (u) {
		nftnl_udata_put_u32(u, SET_UDATA_KEYBYTEORDER, sh.byteorder);
		if (!s->anonymous)
			nftnl_udata_put(u, SET_UDATA_DIGEST, sizeof(s->digest), &s->digest);
		if (s->table && strlen(s->table) < 255)
			nftnl_udata_put_strz(u, SET_UDATA_TABLE, s->table);
		nftnl_set_set_data(ns, NFTNL_SET_USERDATA, nftnl_udata_buf_data(u),
				   nftnl_udata_buf_len(u));
		nftnl_udata_buf_free(u);
	}
	return ns;
}

/* Appends set elements, ELEMS_PER_MESSAGE per NEWSETELEM message. */
struct elem_writer {
	struct batch *b;
	struct nl *nl;
	const struct plan_set *set;
	size_t set_index;
	struct nftnl_set *cur;
	size_t count;
};

static void elem_flush(struct elem_writer *w)
{
	if (!w->cur)
		return;
	batch_object(w->b, w->nl, NFT_MSG_NEWSETELEM, NFPROTO_INET, NLM_F_CREATE,
		     OBJ_ELEMENTS, w->set_index, NULL, w->cur);
	w->cur = NULL;
	w->count = 0;
}

static void elem_add(struct elem_writer *w, const void *key, uint32_t len,
		     bool interval_end)
{
	struct nftnl_set_elem *e;

	if (w->b->failed)
		return;
	if (!w->cur) {
		w->cur = set_header(w->set);
		if (!w->cur) {
			w->b->failed = -ENOMEM;
			return;
		}
	}
	e = nftnl_set_elem_alloc();
	if (!e) {
		w->b->failed = -ENOMEM;
		return;
	}
	nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key, len);
	if (interval_end)
		nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_FLAGS, NFT_SET_ELEM_INTERVAL_END);
	nftnl_set_elem_add(w->cur, e);
	if (++w->count == ELEMS_PER_MESSAGE)
		elem_flush(w);
}

/* Big-endian increment; returns false on overflow (hi was the maximum). */
static bool increment(uint8_t *a, size_t len)
{
	for (size_t i = len; i-- > 0;) {
		if (++a[i] != 0)
			return true;
	}
	return false;
}

static void write_elements(struct elem_writer *w)
{
	const struct plan_set *s = w->set;

	if (s->addrs) {
		int family = s->kind == SETKIND_ADDR4 ? 4 : 6;
		uint32_t len = family == 4 ? 4 : 16;
		size_t n = addrset_range_count(s->addrs);
		bool first = true;
		for (size_t i = 0; i < n; i++) {
			const struct ifw_range *r = addrset_range(s->addrs, i);
			uint8_t zero[16] = { 0 }, end[16];
			if (r->family != family)
				continue;
			/* As nft does: an interval end at 0 before a first
			 * interval that does not start there. */
			if (first && memcmp(r->lo, zero, len) != 0)
				elem_add(w, zero, len, true);
			first = false;
			elem_add(w, r->lo, len, false);
			memcpy(end, r->hi, len);
			if (increment(end, len))
				elem_add(w, end, len, true);
		}
	} else if (s->kind == SETKIND_CGROUP) {
		for (size_t i = 0; i < s->nids; i++)
			elem_add(w, &s->ids[i], 8, false);
	} else if (s->kind == SETKIND_PORT) {
		for (size_t i = 0; i < s->nvalues; i++) {
			uint16_t lo = htons((uint16_t)s->values[i].lo);
			if (i == 0 && s->values[i].lo != 0) {
				uint16_t zero = 0;
				elem_add(w, &zero, 2, true);
			}
			elem_add(w, &lo, 2, false);
			if (s->values[i].hi < 65535) {
				uint16_t end = htons((uint16_t)(s->values[i].hi + 1));
				elem_add(w, &end, 2, true);
			}
		}
	} else {
		uint32_t len = set_shape(s).key_len;
		for (size_t i = 0; i < s->nvalues; i++) {
			for (uint32_t v = s->values[i].lo;; v++) {
				uint8_t key[4];
				if (len == 1) {
					key[0] = (uint8_t)v;
				} else {
					uint16_t v16 = (uint16_t)v;
					memcpy(key, &v16, 2);
				}
				elem_add(w, key, len, false);
				if (v == s->values[i].hi)
					break;
			}
		}
	}
	elem_flush(w);
}

/* --- building the load batch ----------------------------------------------- */

static bool chain_keepable(const struct existing_chain *e, const struct plan_chain *c)
{
	if (e->base != c->base)
		return false;
	if (!c->base)
		return true;
	return e->hook == (uint32_t)c->hook && e->prio == 0 && !strcmp(e->type, "filter");
}

static const struct existing_set *find_set(const struct existing *ex,
					   const char *name)
{
	for (size_t i = 0; i < ex->nsets; i++)
		if (!strcmp(ex->sets[i].name, name))
			return &ex->sets[i];
	return NULL;
}

/* A named set of the plan that the kernel already has, identical. */
static bool set_keepable(const struct existing *ex, const struct plan_set *s)
{
	const struct existing_set *e;
	struct set_shape sh;

	/* '(IFSPEC)' sets are always replaced: a refresh changes their
	 * elements but not the digest in their user data. */
	if (s->anonymous || s->ifaddr || !(e = find_set(ex, s->name)))
		return false;
	/* 'ifwall table' changed it since its digest was written: a load
	 * restores the table from the rule file. */
	char edited[NFT_TABLE_SET_NAME_MAX];
	if (find_set(ex, nft_table_edited_name(s->name, edited, sizeof(edited))))
		return false;
	sh = set_shape(s);
	if (e->flags != sh.flags || e->key_type != sh.key_type ||
	    e->key_len != sh.key_len)
		return false;
	return e->has_digest && e->digest == s->digest;
}

static const struct plan_set *plan_find_set(const struct nft_plan *plan,
					    const char *name)
{
	for (size_t i = 0; i < plan->nsets; i++)
		if (!plan->sets[i].anonymous && !strcmp(plan->sets[i].name, name))
			return &plan->sets[i];
	return NULL;
}

/* Deletes the @state elements of flows the new rules block. */
static void delete_state_elements(struct batch *b, struct nl *nl,
				  const struct nft_plan *plan,
				  const struct nft_state_elems *blocked)
{
	size_t state = 0;

	for (size_t i = 0; i < plan->nsets; i++)
		if (plan->sets[i].kind == SETKIND_STATE)
			state = i;
	for (size_t i = 0; i < blocked->n && !b->failed; i += ELEMS_PER_MESSAGE) {
		struct nftnl_set *s = set_named(PLAN_STATE_SET);
		for (size_t k = i; s && k < blocked->n && k < i + ELEMS_PER_MESSAGE; k++) {
			struct nftnl_set_elem *e = nftnl_set_elem_alloc();
			if (!e) {
				b->failed = -ENOMEM;
				break;
			}
			nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, blocked->keys[k],
					   NFT_STATE_KEY_LEN);
			nftnl_set_elem_add(s, e);
		}
		batch_object(b, nl, NFT_MSG_DELSETELEM, NFPROTO_INET, 0,
			     OBJ_DELETE_ELEMENTS, state, PLAN_STATE_SET, s);
	}
}

/* Whether the existing table must be deleted and created again to carry
 * table_flags: the kernel lets a table become owned only when it is an
 * orphan (persist without owner), and never changes its persist flag. */
static bool table_needs_recreate(const struct existing *ex, uint32_t table_flags)
{
	uint32_t have = ex->table_flags & (NFT_TABLE_F_OWNER | NFT_TABLE_F_PERSIST);

	if (!ex->table || table_flags == NFT_TABLE_FLAGS_KEEP || have == table_flags)
		return false;
	if ((table_flags & NFT_TABLE_F_OWNER) && (table_flags & NFT_TABLE_F_PERSIST) &&
	    have == NFT_TABLE_F_PERSIST)
		return false; /* adoption of an orphan */
	return !(have & NFT_TABLE_F_OWNER); /* another owner's: the kernel refuses */
}

static int build_load_batch(struct batch *b, struct nl *nl,
			    const struct nft_plan *plan,
			    const struct existing *ex_read, uint32_t genid,
			    uint32_t table_flags, const struct nft_state_elems *blocked,
			    struct nft_load_stats *stats)
{
	struct nlmsghdr *nlh;
	char *tail;
	struct existing none = { 0 };
	const struct existing *ex = ex_read;

	memset(b, 0, sizeof(*b));
	if (!(tail = batch_tail(b)))
		return -ENOMEM;
	nlh = nftnl_batch_begin(tail, ++nl->seq);
	if (genid)
		mnl_attr_put_u32(nlh, NFNL_BATCH_GENID, htonl(genid));
	batch_commit_message(b, nlh);

	/* table: create or keep; one that cannot take the flags asked for is
	 * replaced in the same transaction (no moment without it) */
	if (table_needs_recreate(ex_read, table_flags)) {
		batch_object(b, nl, NFT_MSG_DELTABLE, NFPROTO_INET, 0, OBJ_DELETE_TABLE,
			     0, NFT_TABLE, table_named(NFPROTO_INET, NFT_TABLE));
		ex = &none;
	}
	struct nftnl_table *table = table_named(NFPROTO_INET, NFT_TABLE);
	if (table && table_flags != NFT_TABLE_FLAGS_KEEP)
		nftnl_table_set_u32(table, NFTNL_TABLE_FLAGS, table_flags);
	batch_object(b, nl, NFT_MSG_NEWTABLE, NFPROTO_INET, NLM_F_CREATE, OBJ_TABLE,
		     0, NFT_TABLE, table);

	if (ex->table) {
		/* flush every rule of the table */
		struct nftnl_rule *r = nftnl_rule_alloc();
		if (r) {
			nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
			nftnl_rule_set_str(r, NFTNL_RULE_TABLE, NFT_TABLE);
		}
		batch_object(b, nl, NFT_MSG_DELRULE, NFPROTO_INET, 0, OBJ_FLUSH, 0,
			     NFT_TABLE, r);
		/* sets the plan does not keep (anonymous ones went with
		 * their rules) */
		for (size_t i = 0; i < ex->nsets; i++) {
			const struct existing_set *es = &ex->sets[i];
			const struct plan_set *ps;
			if (es->flags & NFT_SET_ANONYMOUS)
				continue;
			ps = plan_find_set(plan, es->name);
			if (ps && set_keepable(ex, ps))
				continue;
			batch_object(b, nl, NFT_MSG_DELSET, NFPROTO_INET, 0, OBJ_DELETE_SET,
				     i, es->name, set_named(es->name));
		}
		/* chains the plan does not keep */
		for (size_t i = 0; i < ex->nchains; i++) {
			const struct existing_chain *ec = &ex->chains[i];
			bool keep = false;
			for (int c = 0; c < CHAIN_COUNT; c++)
				if (!strcmp(plan->chains[c].name, ec->name))
					keep = chain_keepable(ec, &plan->chains[c]);
			if (keep)
				continue;
			batch_object(b, nl, NFT_MSG_DELCHAIN, NFPROTO_INET, 0,
				     OBJ_DELETE_CHAIN, i, ec->name, chain_named(ec->name));
		}
	}
	if (b->failed)
		return b->failed;

	/* chains, in the order 'compile' prints them (all exist before any
	 * rule jumps to them; the transaction makes the order invisible) */
	for (int k = 0; k < CHAIN_COUNT; k++) {
		int i = plan_chain_order[k];
		const struct plan_chain *pc = &plan->chains[i];
		struct nftnl_chain *c = chain_named(pc->name);
		if (c && pc->base) {
			nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, (uint32_t)pc->hook);
			nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, 0);
			nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "filter");
			nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY,
					    pc->policy_accept ? NF_ACCEPT : NF_DROP);
		}
		batch_object(b, nl, NFT_MSG_NEWCHAIN, NFPROTO_INET, NLM_F_CREATE,
			     OBJ_CHAIN, (size_t)i, pc->name, c);
	}
	if (b->failed)
		return b->failed;

	/* sets and elements */
	for (size_t i = 0; i < plan->nsets; i++) {
		const struct plan_set *ps = &plan->sets[i];
		if (ex->table && set_keepable(ex, ps)) {
			if (stats)
				stats->sets_kept++;
			continue;
		}
		batch_object(b, nl, NFT_MSG_NEWSET, NFPROTO_INET, NLM_F_CREATE,
			     OBJ_SET, i, ps->name, kernel_set(ps));
		if (ps->kind != SETKIND_STATE) {
			struct elem_writer w = { .b = b, .nl = nl, .set = ps, .set_index = i };
			write_elements(&w);
		}
		if (b->failed)
			return b->failed;
	}

	/* rules */
	for (size_t i = 0; i < plan->nrules; i++) {
		batch_object(b, nl, NFT_MSG_NEWRULE, NFPROTO_INET,
			     NLM_F_CREATE | NLM_F_APPEND, OBJ_RULE, i, NULL,
			     kernel_rule(plan, &plan->rules[i]));
		if (b->failed)
			return b->failed;
	}

	/* (a table created again has a new, empty @state) */
	if (blocked && ex->table)
		delete_state_elements(b, nl, plan, blocked);
	if (b->failed)
		return b->failed;

	if (!(tail = batch_tail(b)))
		return -ENOMEM;
	nlh = nftnl_batch_end(tail, ++nl->seq);
	batch_commit_message(b, nlh);
	return b->failed;
}

/* --- sending and acknowledgements ------------------------------------------ */

struct ack_state {
	const struct batch *b;
	uint8_t *acked;          /* per entry */
	size_t nacked;
	size_t first_error;      /* entry index, or SIZE_MAX */
	int error;
	char extack[256];
	bool unmatched_error;    /* an error about no message of ours */
	int unmatched_code;
};

static int extack_cb(const struct nlattr *attr, void *data)
{
	struct ack_state *st = data;

	if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
	    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) >= 0 && !st->extack[0])
		snprintf(st->extack, sizeof(st->extack), "%s", mnl_attr_get_str(attr));
	return MNL_CB_OK;
}

static void ack_one(struct ack_state *st, const struct nlmsghdr *nlh)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	uint32_t seq = e->msg.nlmsg_seq;
	size_t idx;

	if (nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(*e))
		return;
	if (seq < st->b->first_seq || seq - st->b->first_seq >= st->b->nentries) {
		if (e->error) {
			st->unmatched_error = true;
			st->unmatched_code = e->error;
		}
		return;
	}
	idx = seq - st->b->first_seq;
	if (!st->acked[idx]) {
		st->acked[idx] = 1;
		st->nacked++;
	}
	if (e->error && idx < st->first_error) {
		st->first_error = idx;
		st->error = e->error;
		st->extack[0] = 0;
		if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
			size_t off = sizeof(*e);
			if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
				off += e->msg.nlmsg_len >= sizeof(e->msg) ?
				       e->msg.nlmsg_len - sizeof(e->msg) : nlh->nlmsg_len;
			if (off <= nlh->nlmsg_len - NLMSG_HDRLEN)
				mnl_attr_parse(nlh, (unsigned)off, extack_cb, st);
		}
	}
}

/* Sends the batch and reads every acknowledgement. Returns 0 when every
 * message was acknowledged without error. */
static int batch_send(struct nl *nl, const struct batch *b, struct ack_state *st)
{
	int fd = mnl_socket_get_fd(nl->sock);
	size_t rbuf_size = 1 << 20;
	char *rbuf;
	ssize_t n;
	int waited = 0;

	st->b = b;
	st->first_error = SIZE_MAX;
	st->acked = calloc(b->nentries ? b->nentries : 1, 1);
	rbuf = malloc(rbuf_size);
	if (!st->acked || !rbuf) {
		free(rbuf);
		return -ENOMEM;
	}
	set_buffer_sizes(nl, b->len + 65536, b->nentries * 2048 + (1 << 20));
	n = mnl_socket_sendto(nl->sock, b->buf, b->len);
	if (n < 0 || (size_t)n != b->len) {
		int e = n < 0 ? -errno : -EMSGSIZE;
		free(rbuf);
		return e;
	}
	while (st->nacked < b->nentries && !st->unmatched_error) {
		n = recv(fd, rbuf, rbuf_size, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				struct pollfd p = { .fd = fd, .events = POLLIN };
				if (waited >= 5000)
					break;
				if (poll(&p, 1, 100) == 0)
					waited += 100;
				continue;
			}
			int e = -errno;
			free(rbuf);
			return e;
		}
		int left = (int)nlmsg_valid_prefix(rbuf, (size_t)n);
		for (const struct nlmsghdr *nlh = (const struct nlmsghdr *)rbuf;
		     mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
			if (nlh->nlmsg_type == NLMSG_ERROR)
				ack_one(st, nlh);
		}
	}
	free(rbuf);
	if (st->first_error != SIZE_MAX)
		return st->error;
	if (st->unmatched_error)
		return st->unmatched_code;
	if (st->nacked < b->nentries)
		return -ETIMEDOUT;
	return 0;
}

static void describe_failure(const struct nft_plan *plan, const struct batch *b,
			     const struct ack_state *st, int rc,
			     struct nft_error *err)
{
	char extra[300] = "";

	if (st->extack[0])
		snprintf(extra, sizeof(extra), " (%s)", st->extack);
	if (st->first_error == SIZE_MAX) {
		if (rc == -ETIMEDOUT)
			nft_set_error(err, rc, "the kernel did not acknowledge every message "
				  "of the batch (%zu of %zu)", st->nacked, b->nentries);
		else
			nft_set_error(err, rc, "the kernel refused the batch: %s%s",
				  strerror(-rc), extra);
		return;
	}
	const struct batch_entry *e = &b->entries[st->first_error];
	switch (e->object) {
	case OBJ_RULE: {
		const struct plan_rule *r = &plan->rules[e->index];
		if (r->role == ROLE_USER) {
			nft_set_error(err, rc, "the kernel refused the rule: %s%s",
				  strerror(-rc), extra);
			err->file = r->rule->file;
			err->line = r->rule->line;
			err->rule_text = r->rule->text;
		} else {
			char c[64];
			nft_set_error(err, rc, "the kernel refused %s rule in chain %s: %s%s",
				  plan_rule_comment(r, c, sizeof(c)) ? c : "a helper",
				  plan_chain_names[r->chain], strerror(-rc), extra);
		}
		return;
	}
	case OBJ_SET:
	case OBJ_ELEMENTS:
		nft_set_error(err, rc, "the kernel refused set %s%s: %s%s",
			  plan->sets[e->index].name,
			  e->object == OBJ_ELEMENTS ? " (elements)" : "",
			  strerror(-rc), extra);
		return;
	case OBJ_CHAIN:
		nft_set_error(err, rc, "the kernel refused chain %s: %s%s", e->name,
			  strerror(-rc), extra);
		return;
	default:
		nft_set_error(err, rc, "the kernel refused %s %s: %s%s",
			  e->object == OBJ_TABLE ? "table" :
			  e->object == OBJ_FLUSH ? "flushing table" :
			  e->object == OBJ_DELETE_SET ? "deleting set" :
			  e->object == OBJ_DELETE_CHAIN ? "deleting chain" :
			  e->object == OBJ_DELETE_TABLE ? "deleting table" :
			  e->object == OBJ_DELETE_ELEMENTS ? "deleting flow state of set" :
			  "message",
			  e->name, strerror(-rc), extra);
		return;
	}
}

static void build_state_elem_filter(struct nlmsghdr *nlh, void *data)
{
	(void)data;
	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, NFT_TABLE);
	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, PLAN_STATE_SET);
}

/* The elements of the kept @state whose flows the new rules block, into
 * *blocked. Returns 0 or -errno (then nothing is re-checked). */
static int recheck_flows(struct nl *nl, const struct nft_plan *plan,
			 const struct existing *ex, struct nft_state_elems *blocked,
			 struct nft_load_stats *stats)
{
	struct nft_state_elems elems = { 0 };
	const struct plan_set *state = plan_find_set(plan, PLAN_STATE_SET);
	size_t checked = 0;
	int rc = -EINTR;

	if (!ex->table || !state || !set_keepable(ex, state))
		return 0; /* a new @state: no flow has state */
	for (int attempt = 1; attempt <= CONCURRENT_ATTEMPTS && rc == -EINTR; attempt++) {
		nft_state_elems_clear(&elems);
		rc = nl_dump(nl, NFT_MSG_GETSETELEM, NFPROTO_INET, build_state_elem_filter,
			     NULL, nft_state_elems_cb(), &elems);
	}
	if (rc == 0)
		rc = nft_recheck_state(plan->rs, &elems, blocked, &checked);
	nft_state_elems_clear(&elems);
	if (stats && rc == 0) {
		stats->flows_checked = checked;
		stats->flows_blocked = blocked->n;
	}
	return rc;
}

static int plan_load_on(struct nl *nl, const struct nft_plan *plan,
			uint32_t table_flags, struct nft_load_stats *stats,
			struct nft_error *err)
{
	int rc = 0;

	if (err)
		memset(err, 0, sizeof(*err));
	if (stats)
		memset(stats, 0, sizeof(*stats));
	if (plan->nifaddr_sets && !plan->ifaddrs_filled)
		return nft_set_error(err, -EINVAL, "the interface address sets of '(IFSPEC)' "
				 "were not filled (nft_plan_read_ifaddrs)");
	/* Another program may change the rule set between our read and our
	 * commit; the kernel then refuses the batch (generation changed).
	 * Read again and retry. */
	for (int attempt = 1; attempt <= CONCURRENT_ATTEMPTS; attempt++) {
		struct existing ex;
		struct batch b;
		struct ack_state st;

		uint32_t genid;

		memset(&st, 0, sizeof(st));
		memset(&ex, 0, sizeof(ex));
		rc = generation_read(nl, &genid);
		if (rc == 0)
			rc = existing_read(nl, &ex);
		if ((rc == -EAGAIN || rc == -ESRCH) && attempt < CONCURRENT_ATTEMPTS) {
			/* a reply that never came (receive timeout) or a late
			 * one of the last attempt: read again */
			existing_free(&ex);
			retry_backoff(attempt);
			continue;
		}
		if (rc < 0) {
			if (rc == -EINTR)
				nft_set_error(err, rc, "cannot read table inet %s: the nftables "
					  "rule set kept changing while it was read (%d "
					  "attempts); another program is changing it, try "
					  "again", NFT_TABLE, CONCURRENT_ATTEMPTS);
			else
				nft_set_error(err, rc, "cannot read table inet %s: %s",
					  NFT_TABLE, strerror(-rc));
			existing_free(&ex);
			break;
		}
		if (stats)
			stats->sets_kept = 0;
		struct nft_state_elems blocked = { 0 };
		int recheck = recheck_flows(nl, plan, &ex, &blocked, stats);
		if (stats)
			stats->recheck_error = recheck;
		rc = build_load_batch(&b, nl, plan, &ex, genid, table_flags, &blocked, stats);
		nft_state_elems_clear(&blocked);
		if (rc < 0) {
			nft_set_error(err, rc, "cannot build the batch: %s", strerror(-rc));
			batch_free(&b);
			existing_free(&ex);
			break;
		}
		if (stats) {
			stats->messages = b.nentries;
			stats->bytes = b.len;
		}
		rc = batch_send(nl, &b, &st);
		if (rc < 0)
			describe_failure(plan, &b, &st, rc, err);
		bool retry = rc == -ERESTART || rc == -EAGAIN ||
			     (rc < 0 && st.first_error != SIZE_MAX &&
			      (rc == -ENOENT || rc == -EEXIST || rc == -EBUSY) &&
			      b.entries[st.first_error].object != OBJ_RULE);
		free(st.acked);
		batch_free(&b);
		existing_free(&ex);
		if (!retry)
			break;
		if (attempt == CONCURRENT_ATTEMPTS) {
			nft_set_error(err, rc, "the nftables rule set kept changing between "
				  "reading table inet %s and replacing it (%d attempts); "
				  "another program is changing it, try again", NFT_TABLE,
				  CONCURRENT_ATTEMPTS);
			break;
		}
		retry_backoff(attempt);
	}
	return rc;
}

int nft_plan_load(const struct nft_plan *plan, struct nft_load_stats *stats,
		  struct nft_error *err)
{
	struct nl nl;
	int rc;

	if ((rc = nl_open(&nl, err)) < 0)
		return rc;
	rc = plan_load_on(&nl, plan, NFT_TABLE_FLAGS_KEEP, stats, err);
	nl_close(&nl);
	return rc;
}

int nft_plan_load_socket(struct mnl_socket *sock, uint32_t *seq,
			 const struct nft_plan *plan, uint32_t table_flags,
			 struct nft_load_stats *stats, struct nft_error *err)
{
	struct nl nl = { .sock = sock, .portid = mnl_socket_get_portid(sock), .seq = *seq };
	int rc = plan_load_on(&nl, plan, table_flags, stats, err);

	*seq = nl.seq;
	return rc;
}

/* --- '(IFSPEC)' sets -------------------------------------------------------- */

int nft_plan_read_ifaddrs(struct nft_plan *plan, size_t *changed)
{
	struct iftable *t = NULL;
	int rc;

	if (changed)
		*changed = 0;
	if (!plan)
		return -EINVAL;
	if (plan->nifaddr_sets == 0) {
		plan->ifaddrs_filled = true;
		return 0;
	}
	if ((rc = iftable_open(&t, 0)) < 0)
		return rc;
	rc = nft_plan_set_ifaddrs(plan, iftable_ifaddrs(t), changed);
	iftable_free(t);
	return rc;
}

/* Flush and refill every '(IFSPEC)' set (ifaddr) and every cgroup id set
 * (cgroup) of the plan, as one transaction. */
static int build_refill_batch(struct batch *b, struct nl *nl, const struct nft_plan *plan,
			      bool ifaddr, bool cgroup)
{
	struct nlmsghdr *nlh;
	char *tail;

	memset(b, 0, sizeof(*b));
	if (!(tail = batch_tail(b)))
		return -ENOMEM;
	nlh = nftnl_batch_begin(tail, ++nl->seq);
	batch_commit_message(b, nlh);
	for (size_t i = 0; i < plan->nsets && !b->failed; i++) {
		const struct plan_set *ps = &plan->sets[i];
		if (!(ifaddr && ps->ifaddr) && !(cgroup && ps->kind == SETKIND_CGROUP))
			continue;
		/* DELSETELEM without elements: every element of the set */
		nlh = batch_message(b, nl, NFT_MSG_DELSETELEM, NFPROTO_INET, 0,
				    OBJ_DELETE_ELEMENTS, i, ps->name);
		if (!nlh)
			break;
		mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, NFT_TABLE);
		mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, ps->name);
		batch_commit_message(b, nlh);
		struct elem_writer w = { .b = b, .nl = nl, .set = ps, .set_index = i };
		write_elements(&w);
	}
	if (b->failed)
		return b->failed;
	if (!(tail = batch_tail(b)))
		return -ENOMEM;
	nlh = nftnl_batch_end(tail, ++nl->seq);
	batch_commit_message(b, nlh);
	return b->failed;
}

/* The refill batch sent on nl: built, sent, failures described. */
static int refill_on(struct nl *nl, const struct nft_plan *plan, bool ifaddr_sets,
		     bool cgroup_sets, struct nft_error *err)
{
	struct batch b;
	struct ack_state st;
	int rc;

	memset(&st, 0, sizeof(st));
	rc = build_refill_batch(&b, nl, plan, ifaddr_sets, cgroup_sets);
	if (rc < 0) {
		nft_set_error(err, rc, "cannot build the batch: %s", strerror(-rc));
	} else {
		rc = batch_send(nl, &b, &st);
		if (rc < 0)
			describe_failure(plan, &b, &st, rc, err);
	}
	free(st.acked);
	batch_free(&b);
	return rc;
}

int nft_plan_refill_socket(struct mnl_socket *sock, uint32_t *seq,
			   const struct nft_plan *plan, bool ifaddr_sets, bool cgroup_sets,
			   struct nft_error *err)
{
	struct nl nl = { .sock = sock, .portid = mnl_socket_get_portid(sock), .seq = *seq };
	int rc;

	if (err)
		memset(err, 0, sizeof(*err));
	rc = refill_on(&nl, plan, ifaddr_sets, cgroup_sets, err);
	*seq = nl.seq;
	return rc;
}

int nft_ifaddr_sets_refresh(struct nft_plan *plan, const struct ifaddr_table *ifaddrs,
			    size_t *changed, struct nft_error *err)
{
	struct nl nl;
	size_t n = 0;
	int rc;

	if (err)
		memset(err, 0, sizeof(*err));
	if (changed)
		*changed = 0;
	if (!plan)
		return nft_set_error(err, -EINVAL, "no plan");
	if (plan->nifaddr_sets == 0)
		return 0;
	if ((rc = nft_plan_set_ifaddrs(plan, ifaddrs, &n)) < 0)
		return nft_set_error(err, rc, "cannot compute the interface address sets: %s",
				 strerror(-rc));
	if (changed)
		*changed = n;
	if (n == 0 && !plan->ifaddrs_stale)
		return 0;
	/* From here until success the kernel may hold other contents. */
	plan->ifaddrs_stale = true;
	if ((rc = nl_open(&nl, err)) < 0)
		return rc;
	rc = refill_on(&nl, plan, true, false, err);
	nl_close(&nl);
	if (rc == 0)
		plan->ifaddrs_stale = false;
	return rc;
}

/* --- flush ----------------------------------------------------------------- */

struct table_list {
	size_t n;
	struct { char name[64]; uint32_t family; } items[64];
};

static bool is_ifwall_table(const char *name)
{
	size_t len = strlen(NFT_TABLE);

	return name && !strncmp(name, NFT_TABLE, len) &&
	       (name[len] == 0 || name[len] == '_' || name[len] == '-');
}

static int table_list_cb(const struct nlmsghdr *nlh, void *data)
{
	struct table_list *l = data;
	struct nft_attrs t;
	uint8_t family;
	const char *name;

	if (nft_message_attrs(nlh, &t, &family) &&
	    is_ifwall_table(name = nft_attr_str(&t, NFTA_TABLE_NAME)) &&
	    l->n < sizeof(l->items) / sizeof(l->items[0])) {
		snprintf(l->items[l->n].name, sizeof(l->items[l->n].name), "%s", name);
		l->items[l->n].family = family;
		l->n++;
	}
	return MNL_CB_OK;
}

static int flush_on(struct nl *nlp, size_t *deleted, struct nft_error *err)
{
	struct nl nl = *nlp;
	struct table_list list = { 0 };
	struct batch b;
	struct ack_state st;
	char *tail;
	int rc;

	if (err)
		memset(err, 0, sizeof(*err));
	if (deleted)
		*deleted = 0;
	for (int attempt = 1; attempt <= CONCURRENT_ATTEMPTS; attempt++) {
		memset(&list, 0, sizeof(list));
		rc = nl_dump(&nl, NFT_MSG_GETTABLE, NFPROTO_UNSPEC, NULL, NULL,
			     table_list_cb, &list);
		if (rc != -EINTR)
			break;
		retry_backoff(attempt);
	}
	if (rc < 0) {
		nlp->seq = nl.seq;
		return nft_set_error(err, rc, "cannot list tables: %s", strerror(-rc));
	}
	nlp->seq = nl.seq;
	if (list.n == 0)
		return 0;
	memset(&b, 0, sizeof(b));
	memset(&st, 0, sizeof(st));
	if (!(tail = batch_tail(&b)))
		return -ENOMEM;
	batch_commit_message(&b, nftnl_batch_begin(tail, ++nl.seq));
	for (size_t i = 0; i < list.n; i++) {
		batch_object(&b, &nl, NFT_MSG_DELTABLE, (uint16_t)list.items[i].family,
			     0, OBJ_DELETE_TABLE, i, list.items[i].name,
			     table_named(list.items[i].family, list.items[i].name));
		if (b.failed)
			break;
	}
	if (rc == 0 && (tail = batch_tail(&b)))
		batch_commit_message(&b, nftnl_batch_end(tail, ++nl.seq));
	if (rc == 0 && b.failed)
		rc = b.failed;
	if (rc == 0) {
		rc = batch_send(&nl, &b, &st);
		if (rc < 0)
			describe_failure(NULL, &b, &st, rc, err);
		else if (deleted)
			*deleted = list.n;
	}
	free(st.acked);
	batch_free(&b);
	nlp->seq = nl.seq;
	return rc;
}

int nft_flush(size_t *deleted, struct nft_error *err)
{
	struct nl nl;
	int rc;

	if (deleted)
		*deleted = 0;
	if ((rc = nl_open(&nl, err)) < 0)
		return rc;
	rc = flush_on(&nl, deleted, err);
	nl_close(&nl);
	return rc;
}

int nft_flush_socket(struct mnl_socket *sock, uint32_t *seq, size_t *deleted,
		     struct nft_error *err)
{
	struct nl nl = { .sock = sock, .portid = mnl_socket_get_portid(sock), .seq = *seq };
	int rc = flush_on(&nl, deleted, err);

	*seq = nl.seq;
	return rc;
}

/* --- read back (show) ------------------------------------------------------ */

struct listing_ctx {
	struct nft_listing *l;
	size_t cap;
	int error;
};

struct rule_udata {
	const char *comment;
	const char *text;
	bool has_index, has_role, has_dir;
	uint32_t index, role, dir;
};

static void rule_udata_cb(uint8_t type, const uint8_t *value, uint8_t len, void *data)
{
	struct rule_udata *u = data;
	const char *v = (const char *)value;
	uint32_t n;

	if (len == 4)
		memcpy(&n, value, 4);
	switch (type) {
	case PLAN_UDATA_COMMENT:
		if (len && v[len - 1] == 0)
			u->comment = v;
		break;
	case PLAN_UDATA_TEXT:
		if (len && v[len - 1] == 0)
			u->text = v;
		break;
	case PLAN_UDATA_INDEX:
		if (len == 4) {
			u->index = n;
			u->has_index = true;
		}
		break;
	case PLAN_UDATA_ROLE:
		if (len == 4) {
			u->role = n;
			u->has_role = true;
		}
		break;
	case PLAN_UDATA_DIR:
		if (len == 4) {
			u->dir = n;
			u->has_dir = true;
		}
		break;
	}
}

struct rule_exprs {
	bool counter;
	uint64_t packets, bytes;
	char verdict[48];
};

/* One element of NFTA_RULE_EXPRESSIONS: counters, the verdict. */
static void rule_expr(const struct nlattr *elem, struct rule_exprs *x)
{
	struct nft_attrs e, d, data, verdict;
	const char *name;
	uint64_t v64;
	uint32_t code;

	if (!nft_nested_attrs(elem, &e) || !(name = nft_attr_str(&e, NFTA_EXPR_NAME)))
		return;
	if (!strcmp(name, "counter")) {
		x->counter = true;
		if (nft_nested_attrs(e.a[NFTA_EXPR_DATA], &d)) {
			if (nft_attr_u64(&d, NFTA_COUNTER_PACKETS, &v64))
				x->packets += v64;
			if (nft_attr_u64(&d, NFTA_COUNTER_BYTES, &v64))
				x->bytes += v64;
		}
	} else if (!strcmp(name, "immediate") &&
		   nft_nested_attrs(e.a[NFTA_EXPR_DATA], &d) &&
		   nft_nested_attrs(d.a[NFTA_IMMEDIATE_DATA], &data) &&
		   nft_nested_attrs(data.a[NFTA_DATA_VERDICT], &verdict) &&
		   nft_attr_u32(&verdict, NFTA_VERDICT_CODE, &code)) {
		int v = (int)code;
		const char *chain = nft_attr_str(&verdict, NFTA_VERDICT_CHAIN);
		if (!chain)
			chain = "";
		switch (v) {
		case NF_ACCEPT: snprintf(x->verdict, sizeof(x->verdict), "accept"); break;
		case NF_DROP: snprintf(x->verdict, sizeof(x->verdict), "block"); break;
		case NFT_RETURN: snprintf(x->verdict, sizeof(x->verdict), "return"); break;
		case NFT_JUMP:
		case NFT_GOTO:
			if (!strncmp(chain, "pass_", 5))
				snprintf(x->verdict, sizeof(x->verdict), "pass");
			else if (!strcmp(chain, plan_chain_names[CHAIN_REJECT]))
				snprintf(x->verdict, sizeof(x->verdict), "reject");
			else
				snprintf(x->verdict, sizeof(x->verdict), "%s %.40s",
					 v == NFT_JUMP ? "jump" : "goto", chain);
			break;
		}
	} else if (!strcmp(name, "reject")) {
		snprintf(x->verdict, sizeof(x->verdict), "reject");
	}
}

static struct nft_entry *entry_for(struct listing_ctx *c, enum nft_entry_kind kind,
				   long index, const char *origin)
{
	struct nft_listing *l = c->l;

	for (size_t i = l->nentries; i-- > 0;) {
		struct nft_entry *e = &l->entries[i];
		if (e->kind != kind)
			continue;
		if (kind == NFT_ENTRY_RULE) {
			if (index >= 0 ? e->index == index
				       : (e->index < 0 && origin && e->origin &&
					  !strcmp(e->origin, origin)))
				return e;
		} else {
			return e;
		}
	}
	if (grow_array(&l->entries, &c->cap, l->nentries, sizeof(*l->entries)) < 0)
		return NULL;
	struct nft_entry *e = &l->entries[l->nentries++];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->index = index;
	if (origin && !(e->origin = strdup(origin)))
		return NULL;
	return e;
}

/* True when word is one of the space-separated words of list. */
static bool word_listed(const char *list, const char *word)
{
	size_t len = strlen(word);

	if (len == 0)
		return true; /* nothing to add */
	for (const char *p = list; (p = strstr(p, word)); p += len)
		if ((p == list || p[-1] == ' ') && (p[len] == ' ' || p[len] == 0))
			return true;
	return false;
}

static struct nft_foreign *foreign_add(struct nft_listing *l, const char *kind)
{
	if (grow_array(&l->foreign, &l->foreign_cap, l->nforeign, sizeof(*l->foreign)) < 0)
		return NULL;
	struct nft_foreign *f = &l->foreign[l->nforeign++];
	memset(f, 0, sizeof(*f));
	snprintf(f->kind, sizeof(f->kind), "%s", kind);
	return f;
}

static int listing_rule_cb(const struct nlmsghdr *nlh, void *data)
{
	struct listing_ctx *c = data;
	struct rule_udata u = { 0 };
	struct rule_exprs x = { 0 };
	struct nft_attrs r;
	const struct nlattr *elem;
	const char *chain;
	enum nft_entry_kind kind;
	struct nft_entry *e;

	if (!nft_message_attrs(nlh, &r, NULL) ||
	    !str_is(nft_attr_str(&r, NFTA_RULE_TABLE), NFT_TABLE) ||
	    !(chain = nft_attr_str(&r, NFTA_RULE_CHAIN)))
		return MNL_CB_OK;
	c->l->kernel_rules++;
	udata_walk(r.a[NFTA_RULE_USERDATA], rule_udata_cb, &u);
	if (r.a[NFTA_RULE_EXPRESSIONS] &&
	    mnl_attr_validate(r.a[NFTA_RULE_EXPRESSIONS], MNL_TYPE_NESTED) >= 0)
		mnl_attr_for_each_nested(elem, r.a[NFTA_RULE_EXPRESSIONS])
			if (mnl_attr_get_type(elem) == NFTA_LIST_ELEM)
				rule_expr(elem, &x);
	/* Without ifwall's records (a table loaded from 'compile' output),
	 * the comment tells the kind. */
	if (u.has_role) {
		kind = u.role == ROLE_USER ? NFT_ENTRY_RULE :
		       u.role == ROLE_SKIP ? NFT_ENTRY_SKIP :
		       u.role == ROLE_DEFAULT ? (u.has_dir && u.dir == DIR_IN
						 ? NFT_ENTRY_DEFAULT_IN
						 : NFT_ENTRY_DEFAULT_OUT)
					      : (enum nft_entry_kind)-1;
	} else if (u.comment) {
		kind = !strcmp(u.comment, "default in") ? NFT_ENTRY_DEFAULT_IN :
		       !strcmp(u.comment, "default out") ? NFT_ENTRY_DEFAULT_OUT :
		       !strcmp(u.comment, "skip") ? NFT_ENTRY_SKIP : NFT_ENTRY_RULE;
	} else {
		kind = (enum nft_entry_kind)-1;
	}
	if ((int)kind < 0 && !u.has_role) {
		/* No ifwall record at all: someone else's rule. */
		struct nft_foreign *f = foreign_add(c->l, "rule");
		uint64_t handle = 0;
		if (!f) {
			c->error = -ENOMEM;
			return MNL_CB_ERROR;
		}
		snprintf(f->chain, sizeof(f->chain), "%s", chain);
		if (nft_attr_u64(&r, NFTA_RULE_HANDLE, &handle))
			f->handle = handle;
		snprintf(f->verdict, sizeof(f->verdict), "%s", x.verdict);
		f->packets = x.packets;
		f->bytes = x.bytes;
		return MNL_CB_OK;
	}
	if ((int)kind < 0)
		return MNL_CB_OK;
	e = entry_for(c, kind, u.has_index ? (long)u.index : -1,
		      kind == NFT_ENTRY_RULE ? u.comment : NULL);
	if (!e) {
		c->error = -ENOMEM;
		return MNL_CB_ERROR;
	}
	if (!e->text && u.text)
		e->text = strdup(u.text);
	if (!e->verdict && x.verdict[0])
		e->verdict = strdup(x.verdict);
	if (!word_listed(e->chains, chain)) {
		size_t len = strlen(e->chains);
		snprintf(e->chains + len, sizeof(e->chains) - len, "%s%s",
			 len ? " " : "", chain);
	}
	e->kernel_rules++;
	e->packets += x.packets;
	e->bytes += x.bytes;
	return MNL_CB_OK;
}

static void build_rule_filter(struct nlmsghdr *nlh, void *data)
{
	(void)data;
	mnl_attr_put_strz(nlh, NFTA_RULE_TABLE, NFT_TABLE);
}

static int entry_order(const void *a, const void *b)
{
	const struct nft_entry *x = a, *y = b;

	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	if (x->index != y->index)
		return x->index < y->index ? -1 : 1;
	if (x->origin && y->origin)
		return strcmp(x->origin, y->origin);
	return 0;
}

int nft_listing_read(struct nft_listing **out, struct nft_error *err)
{
	struct nl nl;
	struct existing ex;
	struct nft_listing *l;
	struct listing_ctx c = { 0 };
	int rc;

	*out = NULL;
	if (err)
		memset(err, 0, sizeof(*err));
	if ((rc = nl_open(&nl, err)) < 0)
		return rc;
	l = calloc(1, sizeof(*l));
	if (!l) {
		nl_close(&nl);
		return -ENOMEM;
	}
	rc = existing_read(&nl, &ex);
	if (rc == 0 && ex.table) {
		l->present = true;
		l->nsets = 0;
		for (size_t i = 0; i < ex.nsets; i++)
			l->nsets += !(ex.sets[i].flags & NFT_SET_ANONYMOUS);
		for (size_t i = 0; i < ex.nchains; i++) {
			const struct existing_chain *ec = &ex.chains[i];
			char *dst = !strcmp(ec->name, "input") ? l->policy_input :
				    !strcmp(ec->name, "output") ? l->policy_output :
				    !strcmp(ec->name, "forward") ? l->policy_forward : NULL;
			if (dst && ec->has_policy)
				snprintf(dst, sizeof(l->policy_input), "%s",
					 ec->policy == NF_ACCEPT ? "accept" : "drop");
		}
		for (size_t i = 0; i < ex.nchains && rc == 0; i++) {
			bool ours = false;
			for (int k = 0; k < CHAIN_COUNT; k++)
				ours |= !strcmp(ex.chains[i].name, plan_chain_names[k]);
			struct nft_foreign *f = ours ? NULL : foreign_add(l, "chain");
			if (!ours && !f)
				rc = -ENOMEM;
			else if (f)
				snprintf(f->chain, sizeof(f->chain), "%s", ex.chains[i].name);
		}
		for (size_t i = 0; i < ex.nsets && rc == 0; i++) {
			const struct existing_set *es = &ex.sets[i];
			if ((es->flags & NFT_SET_ANONYMOUS) || es->has_digest)
				continue;
			struct nft_foreign *f = foreign_add(l, "set");
			if (!f)
				rc = -ENOMEM;
			else
				snprintf(f->name, sizeof(f->name), "%s", es->name);
		}
		c.l = l;
		for (int attempt = 1; rc == 0 && attempt <= CONCURRENT_ATTEMPTS; attempt++) {
			rc = nl_dump(&nl, NFT_MSG_GETRULE, NFPROTO_INET, build_rule_filter,
				     NULL, listing_rule_cb, &c);
			if (c.error)
				rc = c.error;
			if (rc != -EINTR || attempt == CONCURRENT_ATTEMPTS)
				break;
			/* interrupted: forget what was read, read again */
			for (size_t i = 0; i < l->nentries; i++) {
				free(l->entries[i].origin);
				free(l->entries[i].text);
				free(l->entries[i].verdict);
			}
			l->nentries = 0;
			l->kernel_rules = 0;
			while (l->nforeign && !strcmp(l->foreign[l->nforeign - 1].kind, "rule"))
				l->nforeign--;
			rc = 0;
			retry_backoff(attempt);
		}
	}
	existing_free(&ex);
	nl_close(&nl);
	if (rc < 0) {
		nft_set_error(err, rc, "cannot read table inet %s: %s", NFT_TABLE,
			  strerror(-rc));
		nft_listing_free(l);
		return rc;
	}
	if (l->nentries)
		qsort(l->entries, l->nentries, sizeof(l->entries[0]), entry_order);
	*out = l;
	return 0;
}

int nft_listing_parse(struct nft_listing **out, const void *buf, size_t len)
{
	struct listing_ctx c = { 0 };
	int rc;

	*out = NULL;
	if (!(c.l = calloc(1, sizeof(*c.l))))
		return -ENOMEM;
	c.l->present = true;
	errno = 0;
	rc = mnl_cb_run(buf, nlmsg_valid_prefix(buf, len), 0, 0, listing_rule_cb, &c);
	if (c.error) {
		nft_listing_free(c.l);
		return c.error;
	}
	if (rc < 0 && errno == ENOMEM) {
		nft_listing_free(c.l);
		return -ENOMEM;
	}
	if (c.l->nentries)
		qsort(c.l->entries, c.l->nentries, sizeof(c.l->entries[0]), entry_order);
	*out = c.l;
	return 0;
}

int nft_table_state_parse(const void *buf, size_t len, size_t *chains, size_t *sets)
{
	struct existing e;
	mnl_cb_t cbs[] = { table_cb, chain_cb, set_cb, gen_cb };
	uint32_t genid = 0;
	int rc = 0;

	memset(&e, 0, sizeof(e));
	/* Every message through every reader, as if each dump answered it. */
	for (size_t i = 0; i < sizeof(cbs) / sizeof(cbs[0]); i++) {
		void *data = cbs[i] == gen_cb ? (void *)&genid : (void *)&e;
		errno = 0;
		if (mnl_cb_run(buf, nlmsg_valid_prefix(buf, len), 0, 0, cbs[i], data) < 0 && errno == ENOMEM)
			rc = -ENOMEM;
	}
	*chains = e.nchains;
	*sets = e.nsets;
	existing_free(&e);
	return rc;
}

void nft_listing_free(struct nft_listing *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->nentries; i++) {
		free(l->entries[i].origin);
		free(l->entries[i].text);
		free(l->entries[i].verdict);
	}
	free(l->entries);
	free(l->foreign);
	free(l);
}
