/* Tables of the loaded rule set, read and changed in the kernel (see
 * nft_table.h). Answers are taken apart with libmnl and checked attribute
 * by attribute, as in nft_list.c (libnftnl's parsers exit() on a
 * malformed attribute). */
#include "backends/nft_batch.h"
#include "backends/nft_linearize.h"
#include "backends/nft_list.h"
#include "backends/nft_nl.h"
#include "backends/nft_table.h"
#include "backends/nlmsg.h"
#include "filter/grow.h"

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

/* Other ifwall tables whose presence means a running 'ifwall run' holds
 * the rule set (its rules are in its process, not in table inet ifwall). */
static const char *const run_tables[] = { "ifwall_divert", "ifwall_tun" };

const char *nft_table_edited_name(const char *set, char *buf, size_t size)
{
	snprintf(buf, size, "%s.edited", set);
	return buf;
}


/* One acknowledged request (a dump when flags has NLM_F_DUMP); cb sees
 * every answer. Returns 0 or -errno (the kernel's answer for a failed
 * request). */
static int request(struct netlink *nl, uint16_t type, uint16_t flags,
		   void (*build)(struct nlmsghdr *, const void *), const void *arg,
		   mnl_cb_t cb, void *data)
{
	return nft_nl_request(nl, type, NFPROTO_INET, flags | NLM_F_ACK, build, arg, NULL, 0,
			      cb, data);
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
		if (grow_array(&l->e, &l->cap, l->n, sizeof(*l->e)) < 0) {
			l->error = -ENOMEM;
			return MNL_CB_ERROR;
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

static int table_state_read(struct netlink *nl, const char *name, struct table_state *st,
			    struct nft_error *err)
{
	struct ifw_range *ranges = NULL;
	size_t nranges = 0;
	int rc;

	memset(st, 0, sizeof(*st));
	st->sets.want = name;
	rc = nft_generation_read(nl, &st->genid);
	if (rc == 0)
		rc = request(nl, NFT_MSG_GETTABLE, 0, build_table_name, NFT_TABLE,
			     ignore_cb, NULL);
	if (rc == -ENOENT) {
		for (size_t i = 0; i < sizeof(run_tables) / sizeof(run_tables[0]); i++) {
			if (request(nl, NFT_MSG_GETTABLE, 0, build_table_name,
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
	rc = request(nl, NFT_MSG_GETSET, NLM_F_DUMP, build_set_filter, NULL,
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
		rc = request(nl, NFT_MSG_GETSETELEM, NLM_F_DUMP, build_elem_filter,
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
	struct netlink nl;
	struct table_state st;
	int rc;

	if (err)
		memset(err, 0, sizeof(*err));
	*out = NULL;
	if (!name || !*name)
		return nft_set_error(err, -EINVAL, "no table name");
	if ((rc = nft_nl_open(&nl, err)) < 0)
		return rc;
	rc = table_state_read(&nl, name, &st, err);
	netlink_close(&nl);
	if (rc == 0)
		*out = st.content;
	else
		addrset_free(st.content);
	return rc;
}

/* --- changing -------------------------------------------------------------- */

/* The marker set 'SET.edited' that tells a load the table was changed
 * since its content digest was written. */
static struct nftnl_set *marker_set(const char *set)
{
	char name[NFT_TABLE_SET_NAME_MAX];
	struct nftnl_set *s = nft_set_named(nft_table_edited_name(set, name, sizeof(name)));

	if (s) {
		nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, NFT_TYPE_IPADDR);
		nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, 4);
		nftnl_set_set_u32(s, NFTNL_SET_ID, 1);
	}
	return s;
}

/* The sets' content replaced by next's, written as the load writes a
 * table (nft_linearize.c), in a batch carrying the generation read. */
static int build_change(struct nft_batch *b, struct netlink *nl, const struct table_state *st,
			const struct addrset *next)
{
	if (nft_batch_begin(b, nl, st->genid) < 0)
		return -ENOMEM;
	for (int f = 0; f < 2; f++) {
		struct nft_elems w = { .b = b, .nl = nl, .table = NFT_TABLE,
				       .set = st->sets.set[f] };
		if (!st->sets.set[f][0])
			continue;
		/* no elements: flushes the set */
		nft_batch_add(b, nl, NFT_MSG_DELSETELEM, NFPROTO_INET, 0, 0, 0, NULL,
			      nft_set_named(st->sets.set[f]));
		nft_elems_add_ranges(&w, next, f == 0 ? 4 : 6);
		nft_elems_flush(&w);
		nft_batch_add(b, nl, NFT_MSG_NEWSET, NFPROTO_INET, NLM_F_CREATE, 0, 0, NULL,
			      marker_set(st->sets.set[f]));
	}
	if (b->failed)
		return b->failed;
	return nft_batch_end(b, nl);
}

static int table_change_on(struct netlink *nl, const char *name, enum addrset_op op,
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
	struct netlink nl;
	int rc = change_checks(name, op, changed, err);

	if (rc < 0 || (rc = nft_nl_open(&nl, err)) < 0)
		return rc;
	rc = table_change_on(&nl, name, op, p, n, changed, err);
	netlink_close(&nl);
	return rc;
}

int nft_table_change_socket(struct mnl_socket *sock, uint32_t *seq, const char *name,
			    enum addrset_op op, const struct ifw_prefix *p, size_t n,
			    size_t *changed, struct nft_error *err)
{
	struct netlink nl;
	int rc = change_checks(name, op, changed, err);

	if (rc < 0)
		return rc;
	netlink_attach(&nl, sock, *seq);
	rc = table_change_on(&nl, name, op, p, n, changed, err);
	*seq = nl.seq;
	return rc;
}

static int table_change_on(struct netlink *nlp, const char *name, enum addrset_op op,
			   const struct ifw_prefix *p, size_t n, size_t *changed,
			   struct nft_error *err)
{
	struct netlink nl = *nlp;
	int rc = 0;

	/* The batch carries the generation read: if anything changed the rule
	 * set in between, the kernel refuses it (ERESTART); read again. */
	for (int attempt = 0; attempt < 5; attempt++) {
		struct table_state st;
		struct addrset *next = NULL;
		struct nft_batch b = { 0 };
		struct nft_batch_acks acks;
		char extack[300] = "";

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
		if (rc == 0 && (rc = nft_batch_send(&b, &nl, &acks)) < 0 && rc != -ERESTART) {
			if (acks.extack[0])
				snprintf(extack, sizeof(extack), " (%s)", acks.extack);
			nft_set_error(err, rc, "the kernel refused the change of table <%s>: %s%s",
				      name, strerror(-rc), extack);
		}
		nft_batch_free(&b);
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
