/* Tables of the loaded rule set, read and changed in the kernel (see
 * nft_table.h). Answers are taken apart with libmnl and checked attribute
 * by attribute, as in nft_netlink.c (libnftnl's parsers exit() on a
 * malformed attribute). */
#include "backends/nft_nl.h"
#include "backends/nft_table.h"
#include "backends/nlmsg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <libnftnl/set.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif

#define ELEMS_PER_MESSAGE 1024
#define NFT_TYPE_IPADDR 7
#define NFT_TYPE_IP6ADDR 8
/* Other ifwall tables whose presence means a running 'ifwall run' holds
 * the rule set (its rules are in its process, not in table inet ifwall). */
static const char *const run_tables[] = { "ifwall_divert", "ifwall_tun" };

const char *nft_table_edited_name(const char *set, char *buf, size_t size)
{
	snprintf(buf, size, "%s.edited", set);
	return buf;
}


/* --- netlink --------------------------------------------------------------- */

struct nl {
	struct mnl_socket *sock;
	uint32_t portid, seq;
	char *buf;                 /* receive buffer, RECV_SIZE bytes */
};

#define RECV_SIZE (MNL_SOCKET_BUFFER_SIZE * 4)

static int nl_open(struct nl *nl, struct nft_error *err)
{
	int one = 1;

	memset(nl, 0, sizeof(*nl));
	nl->buf = malloc(RECV_SIZE);
	if (!nl->buf)
		return nft_set_error(err, -ENOMEM, "out of memory");
	nl->sock = mnl_socket_open(NETLINK_NETFILTER);
	if (!nl->sock || mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
		int e = errno;
		if (nl->sock)
			mnl_socket_close(nl->sock);
		free(nl->buf);
		memset(nl, 0, sizeof(*nl));
		return nft_set_error(err, -e, "cannot open a netfilter netlink socket: %s",
				 strerror(e));
	}
	mnl_socket_setsockopt(nl->sock, NETLINK_EXT_ACK, &one, sizeof(one));
	nft_nl_recv_timeout(nl->sock);
	nl->portid = mnl_socket_get_portid(nl->sock);
	nl->seq = (uint32_t)time(NULL);
	return 0;
}

static void nl_close(struct nl *nl)
{
	if (nl->sock)
		mnl_socket_close(nl->sock);
	free(nl->buf);
	memset(nl, 0, sizeof(*nl));
}

/* One request (a dump when flags has NLM_F_DUMP); cb sees every answer.
 * Returns 0 or -errno (the kernel's answer for a failed request). */
static int nl_request(struct nl *nl, uint16_t type, uint16_t flags,
		      void (*build)(struct nlmsghdr *, const void *), const void *arg,
		      mnl_cb_t cb, void *data)
{
	char req[512];
	uint32_t seq = ++nl->seq;
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(req, type, NFPROTO_INET,
						     flags | NLM_F_ACK, seq);

	if (build)
		build(nlh, arg);
	if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl->sock, nl->buf, RECV_SIZE);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		int rc = mnl_cb_run(nl->buf, nlmsg_valid_prefix(nl->buf, (size_t)n), seq,
				    nl->portid, cb, data);
		if (rc < 0)
			return nlmsg_error();
		if (rc == MNL_CB_STOP)
			return 0;
	}
}

/* --- reading --------------------------------------------------------------- */

static void build_table_name(struct nlmsghdr *nlh, const void *name)
{
	mnl_attr_put_strz(nlh, NFTA_TABLE_NAME, name);
}

static int ignore_cb(const struct nlmsghdr *nlh, void *data)
{
	(void)nlh;
	(void)data;
	return MNL_CB_OK;
}

static int gen_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nft_attrs t;

	if (nft_message_attrs(nlh, &t, NULL))
		(void)nft_attr_u32(&t, NFTA_GEN_ID, data);
	return MNL_CB_OK;
}

/* The sets of table inet ifwall that hold tables. */
struct table_sets {
	const char *want;          /* the table asked for */
	char set[2][NFT_TABLE_SET_NAME_MAX]; /* [0] IPv4, [1] IPv6; "" none */
	char names[400];           /* every table found, for messages */
	bool malformed;
};

static void udata_table(const struct nlattr *a, char *out, size_t size)
{
	const uint8_t *p;
	size_t left;

	out[0] = 0;
	if (!a)
		return;
	p = mnl_attr_get_payload(a);
	left = mnl_attr_get_payload_len(a);
	while (left >= 2 && (size_t)p[1] + 2 <= left) {
		if (p[0] == NFT_TABLE_SET_UDATA && p[1] > 0 && p[1 + p[1]] == 0 &&
		    (size_t)p[1] <= size) {
			memcpy(out, p + 2, p[1]);
			return;
		}
		left -= (size_t)p[1] + 2;
		p += (size_t)p[1] + 2;
	}
}

static int set_cb(const struct nlmsghdr *nlh, void *data)
{
	struct table_sets *ts = data;
	struct nft_attrs t;
	const char *name, *table;
	char holds[256];
	uint32_t key_type = 0;

	if (!nft_message_attrs(nlh, &t, NULL) ||
	    !(table = nft_attr_str(&t, NFTA_SET_TABLE)) || strcmp(table, NFT_TABLE) != 0 ||
	    !(name = nft_attr_str(&t, NFTA_SET_NAME)))
		return MNL_CB_OK;
	udata_table(t.a[NFTA_SET_USERDATA], holds, sizeof(holds));
	if (!holds[0] || !nft_attr_u32(&t, NFTA_SET_KEY_TYPE, &key_type))
		return MNL_CB_OK;
	if (strcmp(holds, ts->want) != 0) {
		/* each table once, in the order met (v4 comes first) */
		char quoted[300];
		snprintf(quoted, sizeof(quoted), "<%s>", holds);
		if (!strstr(ts->names, quoted) &&
		    strlen(ts->names) + strlen(quoted) + 2 < sizeof(ts->names))
			snprintf(ts->names + strlen(ts->names),
				 sizeof(ts->names) - strlen(ts->names), "%s%s",
				 ts->names[0] ? " " : "", quoted);
		return MNL_CB_OK;
	}
	if (strlen(name) >= NFT_TABLE_SET_NAME_MAX - 8)
		return MNL_CB_OK;
	if (key_type == NFT_TYPE_IPADDR)
		snprintf(ts->set[0], sizeof(ts->set[0]), "%s", name);
	else if (key_type == NFT_TYPE_IP6ADDR)
		snprintf(ts->set[1], sizeof(ts->set[1]), "%s", name);
	return MNL_CB_OK;
}

static void build_set_filter(struct nlmsghdr *nlh, const void *arg)
{
	(void)arg;
	mnl_attr_put_strz(nlh, NFTA_SET_TABLE, NFT_TABLE);
}

/* Interval set elements as read: key and whether it ends an interval. */
struct elem {
	uint8_t key[16];
	bool end;
};

struct elem_list {
	int family;
	size_t n, cap;
	struct elem *e;
	int error;
};

static int elem_cb(const struct nlmsghdr *nlh, void *data)
{
	struct elem_list *l = data;
	struct nft_attrs t, item, key;
	const struct nlattr *nest = NULL, *pos;
	size_t len = l->family == 4 ? 4 : 16;

	if (!nft_message_attrs(nlh, &t, NULL) || !(nest = t.a[NFTA_SET_ELEM_LIST_ELEMENTS]))
		return MNL_CB_OK;
	mnl_attr_for_each_nested(pos, nest) {
		uint32_t flags = 0;
		const struct nlattr *v;
		if (mnl_attr_get_type(pos) != NFTA_LIST_ELEM || !nft_nested_attrs(pos, &item))
			continue;
		if (!nft_nested_attrs(item.a[NFTA_SET_ELEM_KEY], &key) ||
		    !(v = key.a[NFTA_DATA_VALUE]) || mnl_attr_get_payload_len(v) != len)
			continue;
		(void)nft_attr_u32(&item, NFTA_SET_ELEM_FLAGS, &flags);
		if (l->n == l->cap) {
			size_t cap = l->cap ? l->cap * 2 : 64;
			struct elem *g = realloc(l->e, cap * sizeof(*g));
			if (!g) {
				l->error = -ENOMEM;
				return MNL_CB_ERROR;
			}
			l->e = g;
			l->cap = cap;
		}
		memset(&l->e[l->n], 0, sizeof(l->e[l->n]));
		memcpy(l->e[l->n].key, mnl_attr_get_payload(v), len);
		l->e[l->n].end = flags & NFT_SET_ELEM_INTERVAL_END;
		l->n++;
	}
	return MNL_CB_OK;
}

static void build_elem_filter(struct nlmsghdr *nlh, const void *set)
{
	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, NFT_TABLE);
	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, set);
}

static int elem_cmp(const void *a, const void *b)
{
	const struct elem *x = a, *y = b;
	int c = memcmp(x->key, y->key, 16);

	/* at one key, an interval's end sorts before the next one's start */
	return c ? c : (int)y->end - (int)x->end;
}

static bool decrement(uint8_t *a, size_t len)
{
	for (size_t i = len; i-- > 0;)
		if (a[i]-- != 0)
			return true;
	return false;
}

/* Intervals from the elements: [start, next end - 1], or to the family's
 * last address when no end follows. Appends to *ranges. */
static int elems_to_ranges(struct elem_list *l, struct ifw_range **ranges,
			   size_t *nranges)
{
	size_t len = l->family == 4 ? 4 : 16;

	if (l->n)
		qsort(l->e, l->n, sizeof(*l->e), elem_cmp);
	for (size_t i = 0; i < l->n; i++) {
		if (l->e[i].end)
			continue;
		struct ifw_range r;
		memset(&r, 0, sizeof(r));
		r.family = (uint8_t)l->family;
		memcpy(r.lo, l->e[i].key, len);
		if (i + 1 < l->n && l->e[i + 1].end) {
			memcpy(r.hi, l->e[i + 1].key, len);
			if (!decrement(r.hi, len))
				continue;
			i++;
		} else {
			memset(r.hi, 0xff, len);
		}
		struct ifw_range *g = realloc(*ranges, (*nranges + 1) * sizeof(*g));
		if (!g)
			return -ENOMEM;
		*ranges = g;
		(*ranges)[(*nranges)++] = r;
	}
	return 0;
}

/* What 'table NAME' works on: the generation, the sets and their content. */
struct table_state {
	uint32_t genid;
	struct table_sets sets;
	struct addrset *content;
};

static int table_state_read(struct nl *nl, const char *name, struct table_state *st,
			    struct nft_error *err)
{
	struct ifw_range *ranges = NULL;
	size_t nranges = 0;
	int rc;

	memset(st, 0, sizeof(*st));
	st->sets.want = name;
	rc = nl_request(nl, NFT_MSG_GETGEN, 0, NULL, NULL, gen_cb, &st->genid);
	if (rc == 0)
		rc = nl_request(nl, NFT_MSG_GETTABLE, 0, build_table_name, NFT_TABLE,
				ignore_cb, NULL);
	if (rc == -ENOENT) {
		for (size_t i = 0; i < sizeof(run_tables) / sizeof(run_tables[0]); i++) {
			if (nl_request(nl, NFT_MSG_GETTABLE, 0, build_table_name,
				       run_tables[i], ignore_cb, NULL) == 0)
				return nft_set_error(err, -ENOENT,
					"the active rule set is held by a running 'ifwall run' "
					"(table inet %s); its tables are changed through its "
					"control socket (it does not answer)",
					run_tables[i]);
		}
		return nft_set_error(err, -ENOENT, "no active rule set: table inet %s is not "
				 "loaded ('ifwall load RULES' first)", NFT_TABLE);
	}
	if (rc < 0)
		return nft_set_error(err, rc, "cannot read table inet %s: %s", NFT_TABLE,
				 strerror(-rc));
	rc = nl_request(nl, NFT_MSG_GETSET, NLM_F_DUMP, build_set_filter, NULL,
			set_cb, &st->sets);
	if (rc < 0)
		return nft_set_error(err, rc, "cannot read the sets of table inet %s: %s",
				 NFT_TABLE, strerror(-rc));
	if (!st->sets.set[0][0] && !st->sets.set[1][0]) {
		if (st->sets.names[0])
			return nft_set_error(err, -ESRCH, "the active rule set has no table <%s> "
					 "(its tables: %s)", name, st->sets.names);
		return nft_set_error(err, -ESRCH, "the active rule set has no table <%s> "
				 "(it has no table that a rule uses)", name);
	}
	for (int f = 0; f < 2; f++) {
		struct elem_list l = { .family = f == 0 ? 4 : 6 };
		if (!st->sets.set[f][0])
			continue;
		rc = nl_request(nl, NFT_MSG_GETSETELEM, NLM_F_DUMP, build_elem_filter,
				st->sets.set[f], elem_cb, &l);
		if (rc == 0 && l.error)
			rc = l.error;
		if (rc == 0)
			rc = elems_to_ranges(&l, &ranges, &nranges);
		free(l.e);
		if (rc < 0) {
			free(ranges);
			return nft_set_error(err, rc, "cannot read set %s: %s", st->sets.set[f],
					 strerror(-rc));
		}
	}
	rc = addrset_from_ranges(ranges, nranges, &st->content);
	free(ranges);
	if (rc < 0)
		return nft_set_error(err, rc, "out of memory");
	return 0;
}

int nft_table_read(const char *name, struct addrset **out, struct nft_error *err)
{
	struct nl nl;
	struct table_state st;
	int rc;

	if (err)
		memset(err, 0, sizeof(*err));
	*out = NULL;
	if (!name || !*name)
		return nft_set_error(err, -EINVAL, "no table name");
	if ((rc = nl_open(&nl, err)) < 0)
		return rc;
	rc = table_state_read(&nl, name, &st, err);
	nl_close(&nl);
	if (rc == 0)
		*out = st.content;
	else
		addrset_free(st.content);
	return rc;
}

/* --- changing -------------------------------------------------------------- */

struct batch {
	char *buf;
	size_t len, cap;
	uint32_t first_seq, count;   /* acknowledged messages */
	int failed;
};

static struct nlmsghdr *batch_next(struct batch *b, struct nl *nl, uint16_t type,
				   uint16_t flags)
{
	size_t room = 256 * 1024;

	if (b->failed)
		return NULL;
	if (b->cap - b->len < room) {
		size_t cap = b->cap ? b->cap * 2 : 4 * room;
		char *g = realloc(b->buf, cap);
		if (!g) {
			b->failed = -ENOMEM;
			return NULL;
		}
		memset(g + b->cap, 0, cap - b->cap);
		b->buf = g;
		b->cap = cap;
	}
	uint32_t seq = ++nl->seq;
	if (b->count++ == 0)
		b->first_seq = seq;
	return nftnl_nlmsg_build_hdr(b->buf + b->len, type, NFPROTO_INET,
				     flags | NLM_F_ACK, seq);
}

static void batch_put_set(struct batch *b, struct nl *nl, uint16_t type,
			  uint16_t flags, struct nftnl_set *s, bool elements)
{
	struct nlmsghdr *nlh;

	if (!s) {
		b->failed = -ENOMEM;
		return;
	}
	nlh = batch_next(b, nl, type, flags);
	if (nlh) {
		if (elements)
			nftnl_set_elems_nlmsg_build_payload(nlh, s);
		else
			nftnl_set_nlmsg_build_payload(nlh, s);
		b->len += NLMSG_ALIGN(nlh->nlmsg_len);
	}
	nftnl_set_free(s);
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

struct elem_writer {
	struct batch *b;
	struct nl *nl;
	const char *set;
	struct nftnl_set *cur;
	size_t count;
};

static void elem_flush(struct elem_writer *w)
{
	if (w->cur)
		batch_put_set(w->b, w->nl, NFT_MSG_NEWSETELEM, NLM_F_CREATE, w->cur, true);
	w->cur = NULL;
	w->count = 0;
}

static void elem_add(struct elem_writer *w, const uint8_t *key, uint32_t len, bool end)
{
	struct nftnl_set_elem *e;

	if (w->b->failed)
		return;
	if (!w->cur && !(w->cur = set_named(w->set))) {
		w->b->failed = -ENOMEM;
		return;
	}
	if (!(e = nftnl_set_elem_alloc())) {
		w->b->failed = -ENOMEM;
		return;
	}
	nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key, len);
	if (end)
		nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_FLAGS, NFT_SET_ELEM_INTERVAL_END);
	nftnl_set_elem_add(w->cur, e);
	if (++w->count == ELEMS_PER_MESSAGE)
		elem_flush(w);
}

static bool increment(uint8_t *a, size_t len)
{
	for (size_t i = len; i-- > 0;)
		if (++a[i] != 0)
			return true;
	return false;
}

/* The family's ranges as interval elements, written as nft_netlink.c
 * writes a table at load time (an end at 0 before a first interval that
 * does not start there, as nft does). */
static void write_family(struct elem_writer *w, const struct addrset *set, int family)
{
	uint32_t len = family == 4 ? 4 : 16;
	size_t n = addrset_range_count(set);
	bool first = true;

	for (size_t i = 0; i < n; i++) {
		const struct ifw_range *r = addrset_range(set, i);
		uint8_t zero[16] = { 0 }, end[16];
		if (r->family != family)
			continue;
		if (first && memcmp(r->lo, zero, len) != 0)
			elem_add(w, zero, len, true);
		first = false;
		elem_add(w, r->lo, len, false);
		memcpy(end, r->hi, len);
		if (increment(end, len))
			elem_add(w, end, len, true);
	}
	elem_flush(w);
}

static struct nftnl_set *marker_set(const char *set)
{
	char name[NFT_TABLE_SET_NAME_MAX];
	struct nftnl_set *s = set_named(nft_table_edited_name(set, name, sizeof(name)));

	if (s) {
		nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, NFT_TYPE_IPADDR);
		nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, 4);
		nftnl_set_set_u32(s, NFTNL_SET_ID, 1);
	}
	return s;
}

static int build_change(struct batch *b, struct nl *nl, const struct table_state *st,
			const struct addrset *next)
{
	struct nlmsghdr *nlh;

	memset(b, 0, sizeof(*b));
	if (!(b->buf = calloc(1, 1 << 20)))
		return -ENOMEM;
	b->cap = 1 << 20;
	nlh = nftnl_batch_begin(b->buf, ++nl->seq);
	mnl_attr_put_u32(nlh, NFNL_BATCH_GENID, htonl(st->genid));
	b->len = NLMSG_ALIGN(nlh->nlmsg_len);
	for (int f = 0; f < 2; f++) {
		struct elem_writer w = { .b = b, .nl = nl, .set = st->sets.set[f] };
		if (!st->sets.set[f][0])
			continue;
		/* no elements: flushes the set */
		batch_put_set(b, nl, NFT_MSG_DELSETELEM, 0, set_named(st->sets.set[f]), true);
		write_family(&w, next, f == 0 ? 4 : 6);
		batch_put_set(b, nl, NFT_MSG_NEWSET, NLM_F_CREATE, marker_set(st->sets.set[f]),
			      false);
	}
	if (b->failed)
		return b->failed;
	if (b->cap - b->len < 64)
		return -ENOMEM;
	nlh = nftnl_batch_end(b->buf + b->len, ++nl->seq);
	b->len += NLMSG_ALIGN(nlh->nlmsg_len);
	return 0;
}

/* Sends the batch; reads acknowledgements until every message has one or
 * one is an error. Returns 0 or the first error. */
static int batch_send(struct nl *nl, const struct batch *b, char *extack, size_t size)
{
	int fd = mnl_socket_get_fd(nl->sock);
	uint32_t acked = 0;
	int waited = 0;

	extack[0] = 0;
	if (mnl_socket_sendto(nl->sock, b->buf, b->len) != (ssize_t)b->len)
		return errno ? -errno : -EMSGSIZE;
	while (acked < b->count) {
		ssize_t n = recv(fd, nl->buf, RECV_SIZE, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return -errno;
			struct pollfd p = { .fd = fd, .events = POLLIN };
			if (waited >= 5000)
				return -ETIMEDOUT;
			if (poll(&p, 1, 100) == 0)
				waited += 100;
			continue;
		}
		int left = (int)nlmsg_valid_prefix(nl->buf, (size_t)n);
		for (const struct nlmsghdr *nlh = (const struct nlmsghdr *)nl->buf;
		     mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
			const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
			if (nlh->nlmsg_type != NLMSG_ERROR ||
			    nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(*e))
				continue;
			if (e->error) {
				int code = e->error < 0 && e->error > -4096 ? e->error : -EPROTO;
				if ((nlh->nlmsg_flags & NLM_F_ACK_TLVS) &&
				    (nlh->nlmsg_flags & NLM_F_CAPPED)) {
					struct nft_attrs t;
					if (nft_attrs_parse(nlh, sizeof(*e), &t) &&
					    nft_attr_str(&t, NLMSGERR_ATTR_MSG))
						snprintf(extack, size, " (%s)",
							 nft_attr_str(&t, NLMSGERR_ATTR_MSG));
				}
				return code;
			}
			if (e->msg.nlmsg_seq - b->first_seq < b->count)
				acked++;
		}
	}
	return 0;
}

static int table_change_on(struct nl *nl, const char *name, enum addrset_op op,
			   const struct ifw_prefix *p, size_t n, size_t *changed,
			   struct nft_error *err);

static int change_checks(const char *name, enum addrset_op op, size_t *changed,
			 struct nft_error *err)
{
	if (err)
		memset(err, 0, sizeof(*err));
	if (changed)
		*changed = 0;
	if (!name || !*name)
		return nft_set_error(err, -EINVAL, "no table name");
	if (op < ADDRSET_ADD || op > ADDRSET_FLUSH)
		return nft_set_error(err, -EINVAL, "unknown table operation");
	return 0;
}

int nft_table_change(const char *name, enum addrset_op op,
		     const struct ifw_prefix *p, size_t n, size_t *changed,
		     struct nft_error *err)
{
	struct nl nl;
	int rc = change_checks(name, op, changed, err);

	if (rc < 0 || (rc = nl_open(&nl, err)) < 0)
		return rc;
	rc = table_change_on(&nl, name, op, p, n, changed, err);
	nl_close(&nl);
	return rc;
}

int nft_table_change_socket(struct mnl_socket *sock, uint32_t *seq, const char *name,
			    enum addrset_op op, const struct ifw_prefix *p, size_t n,
			    size_t *changed, struct nft_error *err)
{
	struct nl nl = { .sock = sock, .portid = mnl_socket_get_portid(sock), .seq = *seq };
	int rc = change_checks(name, op, changed, err);

	if (rc < 0)
		return rc;
	if (!(nl.buf = malloc(RECV_SIZE)))
		return nft_set_error(err, -ENOMEM, "out of memory");
	rc = table_change_on(&nl, name, op, p, n, changed, err);
	free(nl.buf);
	*seq = nl.seq;
	return rc;
}

static int table_change_on(struct nl *nlp, const char *name, enum addrset_op op,
			   const struct ifw_prefix *p, size_t n, size_t *changed,
			   struct nft_error *err)
{
	struct nl nl = *nlp;
	int rc = 0;

	/* The batch carries the generation read: if anything changed the rule
	 * set in between, the kernel refuses it (ERESTART); read again. */
	for (int attempt = 0; attempt < 5; attempt++) {
		struct table_state st;
		struct addrset *next = NULL;
		struct batch b = { 0 };
		char extack[300];

		rc = table_state_read(&nl, name, &st, err);
		if (rc == 0 && (rc = addrset_change(st.content, op, p, n, &next, changed)) < 0)
			nft_set_error(err, rc, "cannot compute the new content: %s", strerror(-rc));
		for (int f = 0; rc == 0 && f < 2; f++) {
			if (st.sets.set[f][0] || !addrset_has_family(next, f == 0 ? 4 : 6))
				continue;
			rc = nft_set_error(err, -EAFNOSUPPORT, "table <%s> has no IPv%d set in "
				       "the loaded rule set (loaded by an older ifwall: "
				       "load the rule file again)", name, f == 0 ? 4 : 6);
		}
		if (rc == 0 && (rc = build_change(&b, &nl, &st, next)) < 0)
			nft_set_error(err, rc, "cannot build the batch: %s", strerror(-rc));
		if (rc == 0 && (rc = batch_send(&nl, &b, extack, sizeof(extack))) < 0 &&
		    rc != -ERESTART)
			nft_set_error(err, rc, "the kernel refused the change of table <%s>: %s%s",
				  name, strerror(-rc), extack);
		free(b.buf);
		addrset_free(next);
		addrset_free(st.content);
		if (rc != -ERESTART)
			break;
		nft_set_error(err, rc, "the rule set kept changing while table <%s> was "
			  "being changed", name);
	}
	nlp->seq = nl.seq;
	return rc;
}
