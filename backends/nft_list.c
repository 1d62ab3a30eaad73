/* Table inet ifwall read back: what it holds (for a load to replace,
 * see nft_list.h) and the listing for 'show' (nft.h), taken apart with
 * libmnl.
 *
 * libnftnl's message parsers exit() the process on an attribute of an
 * unexpected size ("kernel ABI is broken") and copy strings that may lack
 * their NUL, and its user-data walk trusts the lengths it reads. The
 * answers ifwall reads are taken apart here with libmnl instead: every
 * attribute is checked, and a message or attribute that is malformed is
 * skipped, never trusted. */
#include "backends/nft_list.h"
#include "backends/nft_linearize.h"
#include "backends/nft_nl.h"
#include "backends/nlmsg.h"
#include "filter/grow.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

void nft_retry_backoff(int attempt)
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

void nft_existing_free(struct nft_existing *e)
{
	free(e->chains);
	free(e->sets);
	memset(e, 0, sizeof(*e));
}

static void build_table_filter(struct nlmsghdr *nlh, const void *data)
{
	(void)data;
	mnl_attr_put_strz(nlh, NFTA_TABLE_NAME, NFT_TABLE);
}

static int table_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nft_existing *e = data;
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

static void build_chain_filter(struct nlmsghdr *nlh, const void *data)
{
	(void)data;
	mnl_attr_put_strz(nlh, NFTA_CHAIN_TABLE, NFT_TABLE);
}

static int chain_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nft_existing *e = data;
	struct nft_existing_chain *n;
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

static void build_set_filter(struct nlmsghdr *nlh, const void *data)
{
	(void)data;
	mnl_attr_put_strz(nlh, NFTA_SET_TABLE, NFT_TABLE);
}

static void udata_digest_cb(uint8_t type, const uint8_t *v, uint8_t len, void *data)
{
	struct nft_existing_set *s = data;

	if (type == SET_UDATA_DIGEST && len == sizeof(uint64_t)) {
		memcpy(&s->digest, v, sizeof(uint64_t));
		s->has_digest = true;
	}
}

static int set_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nft_existing *e = data;
	struct nft_existing_set *n;
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

static int existing_read_once(struct netlink *nl, struct nft_existing *e)
{
	int rc;

	memset(e, 0, sizeof(*e));
	rc = nft_nl_request(nl, NFT_MSG_GETTABLE, NFPROTO_INET, NLM_F_DUMP,
			    build_table_filter, NULL, NULL, 0, table_cb, e);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0 || !e->table)
		return rc;
	rc = nft_nl_request(nl, NFT_MSG_GETCHAIN, NFPROTO_INET, NLM_F_DUMP,
			    build_chain_filter, NULL, NULL, 0, chain_cb, e);
	if (rc == 0)
		rc = nft_nl_request(nl, NFT_MSG_GETSET, NFPROTO_INET, NLM_F_DUMP,
				    build_set_filter, NULL, NULL, 0, set_cb, e);
	return rc == -ENOENT ? 0 : rc;
}

int nft_existing_read(struct netlink *nl, struct nft_existing *e)
{
	int rc = -EINTR;

	for (int attempt = 1; attempt <= NFT_CONCURRENT_ATTEMPTS && rc == -EINTR; attempt++) {
		if (attempt > 1) {
			nft_existing_free(e);
			nft_retry_backoff(attempt);
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

int nft_generation_read(struct netlink *nl, uint32_t *genid)
{
	*genid = 0;
	return nft_nl_request(nl, NFT_MSG_GETGEN, AF_UNSPEC, NLM_F_ACK, NULL, NULL, NULL, 0,
			      gen_cb, genid);
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

static void build_rule_filter(struct nlmsghdr *nlh, const void *data)
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
	struct netlink nl;
	struct nft_existing ex;
	struct nft_listing *l;
	struct listing_ctx c = { 0 };
	int rc;

	*out = NULL;
	if (err)
		memset(err, 0, sizeof(*err));
	if ((rc = nft_nl_open(&nl, err)) < 0)
		return rc;
	l = calloc(1, sizeof(*l));
	if (!l) {
		netlink_close(&nl);
		return -ENOMEM;
	}
	rc = nft_existing_read(&nl, &ex);
	if (rc == 0 && ex.table) {
		l->present = true;
		l->nsets = 0;
		for (size_t i = 0; i < ex.nsets; i++)
			l->nsets += !(ex.sets[i].flags & NFT_SET_ANONYMOUS);
		for (size_t i = 0; i < ex.nchains; i++) {
			const struct nft_existing_chain *ec = &ex.chains[i];
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
			const struct nft_existing_set *es = &ex.sets[i];
			if ((es->flags & NFT_SET_ANONYMOUS) || es->has_digest)
				continue;
			struct nft_foreign *f = foreign_add(l, "set");
			if (!f)
				rc = -ENOMEM;
			else
				snprintf(f->name, sizeof(f->name), "%s", es->name);
		}
		c.l = l;
		for (int attempt = 1; rc == 0 && attempt <= NFT_CONCURRENT_ATTEMPTS; attempt++) {
			rc = nft_nl_request(&nl, NFT_MSG_GETRULE, NFPROTO_INET, NLM_F_DUMP,
					    build_rule_filter, NULL, NULL, 0, listing_rule_cb, &c);
			if (c.error)
				rc = c.error;
			if (rc != -EINTR || attempt == NFT_CONCURRENT_ATTEMPTS)
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
			nft_retry_backoff(attempt);
		}
	}
	nft_existing_free(&ex);
	netlink_close(&nl);
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
	struct nft_existing e;
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
	nft_existing_free(&e);
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
