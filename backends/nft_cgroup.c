/* The nft backend's 'cgroup' sets: filled with the ids of the cgroups each
 * rule's pattern names on this host (see nft.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/cgroup.h"
#include "backends/nft.h"
#include "backends/nft_plan.h"

int nft_plan_resolve_cgroups(struct nft_plan *plan, struct nft_error *err)
{
	char mount[4096];
	bool any = false;
	int rc;

	memset(err, 0, sizeof(*err));
	for (size_t i = 0; i < plan->nsets; i++)
		any |= plan->sets[i].kind == SETKIND_CGROUP;
	if (!any)
		return 0;
	rc = cgroup2_mount(mount, sizeof(mount));
	if (rc < 0) {
		err->code = rc;
		snprintf(err->message, sizeof(err->message),
			 "'cgroup' rules: %s", rc == -ENOENT ?
			 "no cgroup v2 hierarchy is mounted (/proc/self/mountinfo)" : strerror(-rc));
		return rc;
	}
	for (size_t i = 0; i < plan->nsets; i++) {
		struct plan_set *s = &plan->sets[i];
		struct cgroup_ids ids = { 0 };
		if (s->kind != SETKIND_CGROUP)
			continue;
		rc = cgroup_resolve(mount, s->cgroup_rule->cgroup, &ids);
		if (rc < 0) {
			err->code = rc;
			err->file = s->cgroup_rule->file;
			err->line = s->cgroup_rule->line;
			err->rule_text = s->cgroup_rule->text;
			snprintf(err->message, sizeof(err->message), "resolving cgroup \"%.200s\" under %.200s: %s",
				 s->cgroup_rule->cgroup, mount, strerror(-rc));
			return rc;
		}
		free(s->ids);
		s->ids = ids.ids;
		s->nids = ids.count;
		plan_set_digest(s);
	}
	return 0;
}

size_t nft_plan_cgroup_count(const struct nft_plan *plan)
{
	size_t n = 0;

	for (size_t i = 0; i < plan->nsets; i++)
		n += plan->sets[i].kind == SETKIND_CGROUP;
	return n;
}

const struct rule *nft_plan_cgroup(const struct nft_plan *plan, size_t i,
				   const char **set_name, size_t *nids)
{
	for (size_t k = 0; k < plan->nsets; k++) {
		const struct plan_set *s = &plan->sets[k];
		if (s->kind != SETKIND_CGROUP || i--)
			continue;
		if (set_name)
			*set_name = s->name;
		if (nids)
			*nids = s->nids;
		return s->cgroup_rule;
	}
	return NULL;
}
