/* Tables changed at run time: a rule set equal to another but for one
 * table's content, made without parsing (see ruleset_table_change() in
 * ruleset.h). The parsed rule set stays immutable; the new one shares it
 * (reference counted) and owns only what differs: its rules and tables
 * arrays (shallow copies whose set pointers are redirected) and the table
 * sets that are not the parsed ones. */
#include "rules/internal.h"
#include "rules/ruleset.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

const struct rs_table *ruleset_find_table(const struct ruleset *rs, const char *name)
{
	if (!rs || !name)
		return NULL;
	for (size_t i = 0; i < rs->ntables; i++)
		if (!strcmp(rs->tables[i].name, name))
			return &rs->tables[i];
	return NULL;
}

void ruleset_derived_free(struct ruleset *rs)
{
	for (size_t i = 0; i < rs->ntables; i++)
		if (rs->table_owned[i])
			addrset_free(rs->tables[i].set);
	free(rs->table_owned);
	free(rs->tables);
	free(rs->rules);
	ruleset_free(rs->shared);
	free(rs);
}

/* A copy of a finished set. */
static int addrset_clone(const struct addrset *set, struct addrset **out)
{
	return addrset_change(set, ADDRSET_ADD, NULL, 0, out, NULL);
}

static void redirect(struct addrmatch *m, const struct addrset *from,
		     const struct addrset *to)
{
	if (m->set == from)
		m->set = to;
}

int ruleset_table_change(const struct ruleset *rs, const char *name,
			 enum addrset_op op, const struct ifw_prefix *p, size_t n,
			 struct ruleset **out, size_t *changed)
{
	const struct rs_table *t;
	struct ruleset *d;
	size_t which;
	int rc;

	*out = NULL;
	if (changed)
		*changed = 0;
	if (!rs || !name)
		return -EINVAL;
	if (!(t = ruleset_find_table(rs, name)))
		return -ESRCH;
	which = (size_t)(t - rs->tables);
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	*d = *rs;
	d->refs = 0;
	d->shared = rs->shared ? rs->shared : (struct ruleset *)rs;
	d->rules = calloc(rs->nrules ? rs->nrules : 1, sizeof(*d->rules));
	d->tables = calloc(rs->ntables, sizeof(*d->tables));
	d->table_owned = calloc(rs->ntables, sizeof(*d->table_owned));
	if (!d->rules || !d->tables || !d->table_owned) {
		free(d->rules);
		free(d->tables);
		free(d->table_owned);
		free(d);
		return -ENOMEM;
	}
	memcpy(d->rules, rs->rules, rs->nrules * sizeof(*d->rules));
	memcpy(d->tables, rs->tables, rs->ntables * sizeof(*d->tables));
	__atomic_add_fetch(&d->shared->refs, 1, __ATOMIC_ACQ_REL);

	/* New sets: the changed table, and copies of the sets rs owns (rs may
	 * be freed first). Rules then point at them. */
	rc = 0;
	for (size_t i = 0; i < rs->ntables && rc == 0; i++) {
		struct addrset *set = NULL;
		if (i == which)
			rc = addrset_change(rs->tables[i].set, op, p, n, &set, changed);
		else if (rs->table_owned && rs->table_owned[i])
			rc = addrset_clone(rs->tables[i].set, &set);
		else
			continue;
		if (rc < 0)
			break;
		d->tables[i].set = set;
		d->table_owned[i] = true;
		for (size_t r = 0; r < d->nrules; r++) {
			redirect(&d->rules[r].from, rs->tables[i].set, set);
			redirect(&d->rules[r].to, rs->tables[i].set, set);
		}
	}
	if (rc < 0) {
		ruleset_derived_free(d);
		return rc;
	}
	*out = d;
	return 0;
}
