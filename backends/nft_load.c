/* The load transaction: the plan as one nf_tables batch (nft_linearize.c
 * makes its objects, nft_batch.c sends it and maps a refusal back to the
 * rule, set or chain), and the other transactions on table inet ifwall:
 * the refill of '(IFSPEC)' and cgroup sets, and 'flush'.
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
#include "backends/iftable.h"
#include "backends/nft_batch.h"
#include "backends/nft_linearize.h"
#include "backends/nft_list.h"
#include "backends/nft_nl.h"
#include "backends/nft_owner.h"
#include "backends/nft_plan.h"
#include "backends/nft_recheck.h"
#include "backends/nft_table.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What a batch message is about (nft_batch_entry's kind). */
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


/* A writer of plan set ps's elements (set index i) into b. */
static struct nft_elems elems_of(struct nft_batch *b, struct netlink *nl,
				 const struct plan_set *ps, size_t i)
{
	return (struct nft_elems){ .b = b, .nl = nl, .table = NFT_TABLE, .set = ps->name,
				   .set_id = ps->id, .kind = OBJ_ELEMENTS, .index = i };
}

/* --- building the load batch ----------------------------------------------- */

static bool chain_keepable(const struct nft_existing_chain *e, const struct plan_chain *c)
{
	if (e->base != c->base)
		return false;
	if (!c->base)
		return true;
	return e->hook == (uint32_t)c->hook && e->prio == 0 && !strcmp(e->type, "filter");
}

static const struct nft_existing_set *find_set(const struct nft_existing *ex,
					       const char *name)
{
	for (size_t i = 0; i < ex->nsets; i++)
		if (!strcmp(ex->sets[i].name, name))
			return &ex->sets[i];
	return NULL;
}

/* A named set of the plan that the kernel already has, identical. */
static bool set_keepable(const struct nft_existing *ex, const struct plan_set *s)
{
	const struct nft_existing_set *e;
	struct nft_set_shape sh;

	/* '(IFSPEC)' sets are always replaced: a refresh changes their
	 * elements but not the digest in their user data. */
	if (s->anonymous || s->ifaddr || !(e = find_set(ex, s->name)))
		return false;
	/* 'ifwall table' changed it since its digest was written: a load
	 * restores the table from the rule file. */
	char edited[NFT_TABLE_SET_NAME_MAX];
	if (find_set(ex, nft_table_edited_name(s->name, edited, sizeof(edited))))
		return false;
	sh = nft_set_shape(s);
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
static void delete_state_elements(struct nft_batch *b, struct netlink *nl,
				  const struct nft_plan *plan,
				  const struct nft_state_elems *blocked)
{
	size_t state = 0;

	for (size_t i = 0; i < plan->nsets; i++)
		if (plan->sets[i].kind == SETKIND_STATE)
			state = i;
	for (size_t i = 0; i < blocked->n && !b->failed; i += NFT_ELEMS_PER_MESSAGE) {
		struct nftnl_set *s = nft_set_named(PLAN_STATE_SET);
		for (size_t k = i; s && k < blocked->n && k < i + NFT_ELEMS_PER_MESSAGE; k++) {
			struct nftnl_set_elem *e = nftnl_set_elem_alloc();
			if (!e) {
				b->failed = -ENOMEM;
				break;
			}
			nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, blocked->keys[k],
					   NFT_STATE_KEY_LEN);
			nftnl_set_elem_add(s, e);
		}
		nft_batch_add(b, nl, NFT_MSG_DELSETELEM, NFPROTO_INET, 0,
			      OBJ_DELETE_ELEMENTS, state, PLAN_STATE_SET, s);
	}
}

/* Whether the existing table must be deleted and created again to carry
 * table_flags: the kernel lets a table become owned only when it is an
 * orphan (persist without owner), and never changes its persist flag. */
static bool table_needs_recreate(const struct nft_existing *ex, uint32_t table_flags)
{
	uint32_t have = ex->table_flags & (NFT_TABLE_F_OWNER | NFT_TABLE_F_PERSIST);

	if (!ex->table || table_flags == NFT_TABLE_FLAGS_KEEP || have == table_flags)
		return false;
	if ((table_flags & NFT_TABLE_F_OWNER) && (table_flags & NFT_TABLE_F_PERSIST) &&
	    have == NFT_TABLE_F_PERSIST)
		return false; /* adoption of an orphan */
	return !(have & NFT_TABLE_F_OWNER); /* another owner's: the kernel refuses */
}

static int build_load_batch(struct nft_batch *b, struct netlink *nl,
			    const struct nft_plan *plan,
			    const struct nft_existing *ex_read, uint32_t genid,
			    uint32_t table_flags, const struct nft_state_elems *blocked,
			    struct nft_load_stats *stats)
{
	struct nft_existing none = { 0 };
	const struct nft_existing *ex = ex_read;

	if (nft_batch_begin(b, nl, genid) < 0)
		return -ENOMEM;

	/* table: create or keep; one that cannot take the flags asked for is
	 * replaced in the same transaction (no moment without it) */
	if (table_needs_recreate(ex_read, table_flags)) {
		nft_batch_add(b, nl, NFT_MSG_DELTABLE, NFPROTO_INET, 0, OBJ_DELETE_TABLE,
			      0, NFT_TABLE, nft_table_named(NFPROTO_INET, NFT_TABLE));
		ex = &none;
	}
	struct nftnl_table *table = nft_table_named(NFPROTO_INET, NFT_TABLE);
	if (table && table_flags != NFT_TABLE_FLAGS_KEEP)
		nftnl_table_set_u32(table, NFTNL_TABLE_FLAGS, table_flags);
	nft_batch_add(b, nl, NFT_MSG_NEWTABLE, NFPROTO_INET, NLM_F_CREATE, OBJ_TABLE,
		      0, NFT_TABLE, table);

	if (ex->table) {
		/* flush every rule of the table */
		struct nftnl_rule *r = nftnl_rule_alloc();
		if (r) {
			nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
			nftnl_rule_set_str(r, NFTNL_RULE_TABLE, NFT_TABLE);
		}
		nft_batch_add(b, nl, NFT_MSG_DELRULE, NFPROTO_INET, 0, OBJ_FLUSH, 0,
			      NFT_TABLE, r);
		/* sets the plan does not keep (anonymous ones went with
		 * their rules) */
		for (size_t i = 0; i < ex->nsets; i++) {
			const struct nft_existing_set *es = &ex->sets[i];
			const struct plan_set *ps;
			if (es->flags & NFT_SET_ANONYMOUS)
				continue;
			ps = plan_find_set(plan, es->name);
			if (ps && set_keepable(ex, ps))
				continue;
			nft_batch_add(b, nl, NFT_MSG_DELSET, NFPROTO_INET, 0, OBJ_DELETE_SET,
				      i, es->name, nft_set_named(es->name));
		}
		/* chains the plan does not keep */
		for (size_t i = 0; i < ex->nchains; i++) {
			const struct nft_existing_chain *ec = &ex->chains[i];
			bool keep = false;
			for (int c = 0; c < CHAIN_COUNT; c++)
				if (!strcmp(plan->chains[c].name, ec->name))
					keep = chain_keepable(ec, &plan->chains[c]);
			if (keep)
				continue;
			nft_batch_add(b, nl, NFT_MSG_DELCHAIN, NFPROTO_INET, 0,
				      OBJ_DELETE_CHAIN, i, ec->name, nft_chain_named(ec->name));
		}
	}
	if (b->failed)
		return b->failed;

	/* chains, in the order 'compile' prints them (all exist before any
	 * rule jumps to them; the transaction makes the order invisible) */
	for (int k = 0; k < CHAIN_COUNT; k++) {
		int i = plan_chain_order[k];
		const struct plan_chain *pc = &plan->chains[i];
		struct nftnl_chain *c = nft_chain_named(pc->name);
		if (c && pc->base) {
			nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, (uint32_t)pc->hook);
			nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, 0);
			nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "filter");
			nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY,
					    pc->policy_accept ? NF_ACCEPT : NF_DROP);
		}
		nft_batch_add(b, nl, NFT_MSG_NEWCHAIN, NFPROTO_INET, NLM_F_CREATE,
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
		nft_batch_add(b, nl, NFT_MSG_NEWSET, NFPROTO_INET, NLM_F_CREATE,
			      OBJ_SET, i, ps->name, nft_linearize_set(ps));
		if (ps->kind != SETKIND_STATE) {
			struct nft_elems w = elems_of(b, nl, ps, i);
			nft_linearize_elements(&w, ps);
		}
		if (b->failed)
			return b->failed;
	}

	/* rules */
	for (size_t i = 0; i < plan->nrules; i++) {
		nft_batch_add(b, nl, NFT_MSG_NEWRULE, NFPROTO_INET,
			      NLM_F_CREATE | NLM_F_APPEND, OBJ_RULE, i, NULL,
			      nft_linearize_rule(plan, &plan->rules[i]));
		if (b->failed)
			return b->failed;
	}

	/* (a table created again has a new, empty @state) */
	if (blocked && ex->table)
		delete_state_elements(b, nl, plan, blocked);
	if (b->failed)
		return b->failed;
	return nft_batch_end(b, nl);
}
static void describe_failure(const struct nft_plan *plan, const struct nft_batch *b,
			     const struct nft_batch_acks *st, int rc,
			     struct nft_error *err)
{
	char extra[300] = "";

	if (st->extack[0])
		snprintf(extra, sizeof(extra), " (%s)", st->extack);
	if (st->first_error == SIZE_MAX) {
		if (rc == -ETIMEDOUT)
			nft_set_error(err, rc, "the kernel did not acknowledge every message "
				      "of the batch (%zu of %zu)", st->acked, b->nentries);
		else
			nft_set_error(err, rc, "the kernel refused the batch: %s%s",
				      strerror(-rc), extra);
		return;
	}
	const struct nft_batch_entry *e = &b->entries[st->first_error];
	switch ((enum batch_object)e->kind) {
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
			      e->kind == OBJ_ELEMENTS ? " (elements)" : "",
			      strerror(-rc), extra);
		return;
	case OBJ_CHAIN:
		nft_set_error(err, rc, "the kernel refused chain %s: %s%s", e->name,
			      strerror(-rc), extra);
		return;
	default:
		nft_set_error(err, rc, "the kernel refused %s %s: %s%s",
			      e->kind == OBJ_TABLE ? "table" :
			      e->kind == OBJ_FLUSH ? "flushing table" :
			      e->kind == OBJ_DELETE_SET ? "deleting set" :
			      e->kind == OBJ_DELETE_CHAIN ? "deleting chain" :
			      e->kind == OBJ_DELETE_TABLE ? "deleting table" :
			      e->kind == OBJ_DELETE_ELEMENTS ? "deleting flow state of set" :
			      "message",
			      e->name, strerror(-rc), extra);
		return;
	}
}

static void build_state_elem_filter(struct nlmsghdr *nlh, const void *data)
{
	(void)data;
	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, NFT_TABLE);
	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, PLAN_STATE_SET);
}

/* The elements of the kept @state whose flows the new rules block, into
 * *blocked. Returns 0 or -errno (then nothing is re-checked). */
static int recheck_flows(struct netlink *nl, const struct nft_plan *plan,
			 const struct nft_existing *ex, struct nft_state_elems *blocked,
			 struct nft_load_stats *stats)
{
	struct nft_state_elems elems = { 0 };
	const struct plan_set *state = plan_find_set(plan, PLAN_STATE_SET);
	size_t checked = 0;
	int rc = -EINTR;

	if (!ex->table || !state || !set_keepable(ex, state))
		return 0; /* a new @state: no flow has state */
	for (int attempt = 1; attempt <= NFT_CONCURRENT_ATTEMPTS && rc == -EINTR; attempt++) {
		nft_state_elems_clear(&elems);
		rc = nft_nl_request(nl, NFT_MSG_GETSETELEM, NFPROTO_INET, NLM_F_DUMP,
				    build_state_elem_filter, NULL, NULL, 0,
				    nft_state_elems_cb(), &elems);
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

static int plan_load_on(struct netlink *nl, const struct nft_plan *plan,
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
	for (int attempt = 1; attempt <= NFT_CONCURRENT_ATTEMPTS; attempt++) {
		struct nft_existing ex;
		struct nft_batch b;
		struct nft_batch_acks st;
		uint32_t genid;

		memset(&ex, 0, sizeof(ex));
		rc = nft_generation_read(nl, &genid);
		if (rc == 0)
			rc = nft_existing_read(nl, &ex);
		if ((rc == -EAGAIN || rc == -ESRCH) && attempt < NFT_CONCURRENT_ATTEMPTS) {
			/* a reply that never came (receive timeout) or a late
			 * one of the last attempt: read again */
			nft_existing_free(&ex);
			nft_retry_backoff(attempt);
			continue;
		}
		if (rc < 0) {
			if (rc == -EINTR)
				nft_set_error(err, rc, "cannot read table inet %s: the nftables "
					      "rule set kept changing while it was read (%d "
					      "attempts); another program is changing it, try "
					      "again", NFT_TABLE, NFT_CONCURRENT_ATTEMPTS);
			else
				nft_set_error(err, rc, "cannot read table inet %s: %s",
					      NFT_TABLE, strerror(-rc));
			nft_existing_free(&ex);
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
			nft_batch_free(&b);
			nft_existing_free(&ex);
			break;
		}
		if (stats) {
			stats->messages = b.nentries;
			stats->bytes = b.len;
		}
		rc = nft_batch_send(&b, nl, &st);
		if (rc < 0)
			describe_failure(plan, &b, &st, rc, err);
		bool retry = rc == -ERESTART || rc == -EAGAIN ||
			     (rc < 0 && st.first_error != SIZE_MAX &&
			      (rc == -ENOENT || rc == -EEXIST || rc == -EBUSY) &&
			      b.entries[st.first_error].kind != OBJ_RULE);
		nft_batch_free(&b);
		nft_existing_free(&ex);
		if (!retry)
			break;
		if (attempt == NFT_CONCURRENT_ATTEMPTS) {
			nft_set_error(err, rc, "the nftables rule set kept changing between "
				      "reading table inet %s and replacing it (%d attempts); "
				      "another program is changing it, try again", NFT_TABLE,
				      NFT_CONCURRENT_ATTEMPTS);
			break;
		}
		nft_retry_backoff(attempt);
	}
	return rc;
}

int nft_plan_load(const struct nft_plan *plan, struct nft_load_stats *stats,
		  struct nft_error *err)
{
	struct netlink nl;
	int rc;

	if ((rc = nft_nl_open(&nl, err)) < 0)
		return rc;
	rc = plan_load_on(&nl, plan, NFT_TABLE_FLAGS_KEEP, stats, err);
	netlink_close(&nl);
	return rc;
}

int nft_plan_load_socket(struct mnl_socket *sock, uint32_t *seq,
			 const struct nft_plan *plan, uint32_t table_flags,
			 struct nft_load_stats *stats, struct nft_error *err)
{
	struct netlink nl;
	int rc;

	netlink_attach(&nl, sock, *seq);
	rc = plan_load_on(&nl, plan, table_flags, stats, err);

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
static int build_refill_batch(struct nft_batch *b, struct netlink *nl,
			      const struct nft_plan *plan, bool ifaddr, bool cgroup)
{
	struct nlmsghdr *nlh;

	if (nft_batch_begin(b, nl, 0) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < plan->nsets && !b->failed; i++) {
		const struct plan_set *ps = &plan->sets[i];
		if (!(ifaddr && ps->ifaddr) && !(cgroup && ps->kind == SETKIND_CGROUP))
			continue;
		/* DELSETELEM without elements: every element of the set */
		nlh = nft_batch_message(b, nl, NFT_MSG_DELSETELEM, NFPROTO_INET, 0,
					OBJ_DELETE_ELEMENTS, i, ps->name);
		if (!nlh)
			break;
		mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, NFT_TABLE);
		mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, ps->name);
		nft_batch_message_end(b, nlh);
		struct nft_elems w = elems_of(b, nl, ps, i);
		nft_linearize_elements(&w, ps);
	}
	if (b->failed)
		return b->failed;
	return nft_batch_end(b, nl);
}

/* The refill batch sent on nl: built, sent, failures described. */
static int refill_on(struct netlink *nl, const struct nft_plan *plan, bool ifaddr_sets,
		     bool cgroup_sets, struct nft_error *err)
{
	struct nft_batch b;
	struct nft_batch_acks st;
	int rc;

	rc = build_refill_batch(&b, nl, plan, ifaddr_sets, cgroup_sets);
	if (rc < 0) {
		nft_set_error(err, rc, "cannot build the batch: %s", strerror(-rc));
	} else {
		rc = nft_batch_send(&b, nl, &st);
		if (rc < 0)
			describe_failure(plan, &b, &st, rc, err);
	}
	nft_batch_free(&b);
	return rc;
}

int nft_plan_refill_socket(struct mnl_socket *sock, uint32_t *seq,
			   const struct nft_plan *plan, bool ifaddr_sets, bool cgroup_sets,
			   struct nft_error *err)
{
	struct netlink nl;
	int rc;

	netlink_attach(&nl, sock, *seq);
	if (err)
		memset(err, 0, sizeof(*err));
	rc = refill_on(&nl, plan, ifaddr_sets, cgroup_sets, err);
	*seq = nl.seq;
	return rc;
}

int nft_ifaddr_sets_refresh(struct nft_plan *plan, const struct ifaddr_table *ifaddrs,
			    size_t *changed, struct nft_error *err)
{
	struct netlink nl;
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
	if ((rc = nft_nl_open(&nl, err)) < 0)
		return rc;
	rc = refill_on(&nl, plan, true, false, err);
	netlink_close(&nl);
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

static int flush_on(struct netlink *nlp, size_t *deleted, struct nft_error *err)
{
	struct netlink nl = *nlp;
	struct table_list list = { 0 };
	struct nft_batch b;
	struct nft_batch_acks st;
	int rc;

	if (err)
		memset(err, 0, sizeof(*err));
	if (deleted)
		*deleted = 0;
	for (int attempt = 1; attempt <= NFT_CONCURRENT_ATTEMPTS; attempt++) {
		memset(&list, 0, sizeof(list));
		rc = nft_nl_request(&nl, NFT_MSG_GETTABLE, NFPROTO_UNSPEC, NLM_F_DUMP,
				    NULL, NULL, NULL, 0, table_list_cb, &list);
		if (rc != -EINTR)
			break;
		nft_retry_backoff(attempt);
	}
	if (rc < 0) {
		nlp->seq = nl.seq;
		return nft_set_error(err, rc, "cannot list tables: %s", strerror(-rc));
	}
	nlp->seq = nl.seq;
	if (list.n == 0)
		return 0;
	if (nft_batch_begin(&b, &nl, 0) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < list.n; i++) {
		nft_batch_add(&b, &nl, NFT_MSG_DELTABLE, (uint16_t)list.items[i].family,
			      0, OBJ_DELETE_TABLE, i, list.items[i].name,
			      nft_table_named(list.items[i].family, list.items[i].name));
		if (b.failed)
			break;
	}
	rc = nft_batch_end(&b, &nl);
	if (rc == 0) {
		rc = nft_batch_send(&b, &nl, &st);
		if (rc < 0)
			describe_failure(NULL, &b, &st, rc, err);
		else if (deleted)
			*deleted = list.n;
	}
	nft_batch_free(&b);
	nlp->seq = nl.seq;
	return rc;
}

int nft_flush(size_t *deleted, struct nft_error *err)
{
	struct netlink nl;
	int rc;

	if (deleted)
		*deleted = 0;
	if ((rc = nft_nl_open(&nl, err)) < 0)
		return rc;
	rc = flush_on(&nl, deleted, err);
	netlink_close(&nl);
	return rc;
}

int nft_flush_socket(struct mnl_socket *sock, uint32_t *seq, size_t *deleted,
		     struct nft_error *err)
{
	struct netlink nl;
	int rc;

	netlink_attach(&nl, sock, *seq);
	rc = flush_on(&nl, deleted, err);

	*seq = nl.seq;
	return rc;
}
