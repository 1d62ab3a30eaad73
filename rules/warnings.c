/* Warnings of a valid rule set: rules shadowed by an earlier rule, and
 * holes in a kill switch. The shadow check is sound but simple: a rule is
 * reported only when every criterion of an earlier rule is a superset of
 * its own, so an earlier rule surely decides all its packets. */
#include <string.h>

#include "filter/cgroup_path.h"
#include "rules/internal.h"

/* Beyond this many rule pairs the shadow check stops (keeps check fast on
 * generated rule sets). */
#define MAX_SHADOW_PAIRS 4000000u

bool ifitem_is_loopback(const struct ifitem *it)
{
	if (it->kind == IFITEM_TYPE)
		return it->type == IFTYPE_LOOPBACK;
	if (it->kind == IFITEM_NAME || it->kind == IFITEM_PREFIX)
		return iftype_from_name(it->name) == IFTYPE_LOOPBACK;
	return false;
}

/* Every interface x matches is matched by y. */
static bool ifitem_covers(const struct ifitem *y, const struct ifitem *x)
{
	switch (y->kind) {
	case IFITEM_ANY:
		return true;
	case IFITEM_NAME:
		return x->kind == IFITEM_NAME && !strcmp(x->name, y->name);
	case IFITEM_PREFIX:
		return (x->kind == IFITEM_NAME || x->kind == IFITEM_PREFIX) &&
		       !strncmp(x->name, y->name, strlen(y->name));
	case IFITEM_TYPE:
		return x->kind == IFITEM_TYPE && x->type == y->type;
	}
	return false;
}

/* No interface matches both. */
static bool ifitem_disjoint(const struct ifitem *a, const struct ifitem *b)
{
	if (a->kind == IFITEM_ANY || b->kind == IFITEM_ANY ||
	    a->kind == IFITEM_TYPE || b->kind == IFITEM_TYPE)
		return a->kind == IFITEM_TYPE && b->kind == IFITEM_TYPE && a->type != b->type;
	size_t la = strlen(a->name), lb = strlen(b->name);
	if (a->kind == IFITEM_NAME && b->kind == IFITEM_NAME)
		return strcmp(a->name, b->name) != 0;
	if (a->kind == IFITEM_PREFIX && b->kind == IFITEM_PREFIX)
		return strncmp(a->name, b->name, la < lb ? la : lb) != 0;
	const struct ifitem *pre = a->kind == IFITEM_PREFIX ? a : b;
	const struct ifitem *name = a->kind == IFITEM_PREFIX ? b : a;
	return strncmp(name->name, pre->name, strlen(pre->name)) != 0;
}

static bool covered_by_any(const struct ifitem *x, const struct ifmatch *m)
{
	for (size_t i = 0; i < m->count; i++)
		if (ifitem_covers(&m->items[i], x))
			return true;
	return false;
}

/* a matches every interface b matches. */
static bool ifmatch_superset(const struct ifmatch *a, const struct ifmatch *b)
{
	if (a->count == 0)
		return true;
	if (!a->negate)
		for (size_t i = 0; i < a->count; i++)
			if (a->items[i].kind == IFITEM_ANY)
				return true;
	if (b->count == 0)
		return false;
	if (!a->negate && !b->negate) {
		for (size_t i = 0; i < b->count; i++)
			if (!covered_by_any(&b->items[i], a))
				return false;
		return true;
	}
	if (a->negate && b->negate) {
		for (size_t i = 0; i < a->count; i++)
			if (!covered_by_any(&a->items[i], b))
				return false;
		return true;
	}
	if (a->negate && !b->negate) {
		for (size_t i = 0; i < b->count; i++)
			for (size_t j = 0; j < a->count; j++)
				if (!ifitem_disjoint(&b->items[i], &a->items[j]))
					return false;
		return true;
	}
	return false;
}

static bool ifmatch_equal(const struct ifmatch *a, const struct ifmatch *b)
{
	return ifmatch_superset(a, b) && ifmatch_superset(b, a);
}

static bool addr_superset(const struct addrmatch *a, const struct addrmatch *b)
{
	if (!a->set && !a->ifaddr)
		return true;
	if (a->ifaddr || b->ifaddr)
		return a->ifaddr && b->ifaddr && a->negate == b->negate &&
		       ifmatch_equal(a->ifaddr, b->ifaddr);
	if (!b->set)
		return false;
	if (!a->negate && !b->negate)
		return addrset_is_subset(b->set, a->set);
	if (a->negate && b->negate) {
		/* A negated set matches only the families it has entries of. */
		for (int f = 4; f <= 6; f += 2)
			if (addrset_has_family(b->set, f) && !addrset_has_family(a->set, f))
				return false;
		return addrset_is_subset(a->set, b->set);
	}
	return false;
}

static bool range_inside(const struct portrange *x, const struct portrange *y)
{
	return x->lo >= y->lo && x->hi <= y->hi;
}

static bool range_inside_any(const struct portrange *x, const struct portmatch *m)
{
	for (size_t i = 0; i < m->count; i++)
		if (range_inside(x, &m->ranges[i]))
			return true;
	return false;
}

static bool ports_superset(const struct portmatch *a, const struct portmatch *b)
{
	if (a->count == 0)
		return true;
	if (b->count == 0)
		return false;
	if (!a->negate && !b->negate) {
		for (size_t i = 0; i < b->count; i++)
			if (!range_inside_any(&b->ranges[i], a))
				return false;
		return true;
	}
	if (a->negate && b->negate) {
		for (size_t i = 0; i < a->count; i++)
			if (!range_inside_any(&a->ranges[i], b))
				return false;
		return true;
	}
	if (a->negate && !b->negate) {
		for (size_t i = 0; i < b->count; i++)
			for (size_t j = 0; j < a->count; j++)
				if (b->ranges[i].lo <= a->ranges[j].hi &&
				    a->ranges[j].lo <= b->ranges[i].hi)
					return false;
		return true;
	}
	return false;
}

static bool values_superset(const uint8_t *a, size_t na, const uint8_t *b, size_t nb)
{
	if (na == 0)
		return true;
	if (nb == 0)
		return false;
	for (size_t i = 0; i < nb; i++)
		if (!memchr(a, b[i], na))
			return false;
	return true;
}

/* Earlier rule a matches every packet later rule b matches. */
static bool rule_subsumes(const struct rule *a, const struct rule *b)
{
	if ((a->dir & b->dir) != b->dir)
		return false;
	if (a->family && a->family != b->family)
		return false;
	if (!ifmatch_superset(&a->on, &b->on))
		return false;
	if (!values_superset(a->protos, a->nprotos, b->protos, b->nprotos))
		return false;
	if (a->ntypes && (!b->ntypes || a->icmp6 != b->icmp6 ||
			  !values_superset(a->types, a->ntypes, b->types, b->ntypes)))
		return false;
	if (a->has_user && (!b->has_user || a->uid != b->uid))
		return false;
	if (a->has_mark && (!b->has_mark || a->mark != b->mark))
		return false;
	if (a->cgroup && (!b->cgroup || !cgroup_pattern_covers(a->cgroup, b->cgroup)))
		return false;
	return ports_superset(&a->sport, &b->sport) &&
	       ports_superset(&a->dport, &b->dport) &&
	       addr_superset(&a->from, &b->from) &&
	       addr_superset(&a->to, &b->to);
}

/* Every interface the rule can match is a tunnel of the kill switch. */
static bool inside_tunnel(const struct ifmatch *on, const struct ifmatch *tunnel)
{
	if (on->count == 0 || on->negate)
		return false;
	for (size_t i = 0; i < on->count; i++) {
		const struct ifitem *it = &on->items[i];
		if (covered_by_any(it, tunnel))
			continue;
		/* 'tunnel type tunnel' covers names that are tunnels by name. */
		bool by_type = false;
		for (size_t j = 0; j < tunnel->count; j++)
			if (tunnel->items[j].kind == IFITEM_TYPE &&
			    tunnel->items[j].type == IFTYPE_TUNNEL &&
			    (it->kind == IFITEM_NAME || it->kind == IFITEM_PREFIX) &&
			    iftype_from_name(it->name) == IFTYPE_TUNNEL)
				by_type = true;
		if (!by_type)
			return false;
	}
	return true;
}

static bool loopback_only(const struct ifmatch *on)
{
	if (on->count == 0 || on->negate)
		return false;
	for (size_t i = 0; i < on->count; i++)
		if (!ifitem_is_loopback(&on->items[i]))
			return false;
	return true;
}

/* The verdict a rule gives, with block following the policy. */
static int effective_action(const struct ruleset *rs, const struct rule *r)
{
	if (r->action == ACTION_RETURN ||
	    (r->action == ACTION_BLOCK && rs->block_policy == BLOCK_POLICY_REJECT))
		return ACTION_REJECT;
	if (r->action == ACTION_BLOCK)
		return ACTION_DROP;
	return (int)r->action;
}

void ruleset_warn(const struct ruleset *rs, const struct loc *rule_locs,
		  const struct loc *set_default_loc, const struct loc *skip_loc,
		  struct diag_list *diags)
{
	const struct killswitch *ks = rs->killswitch;
	size_t pairs = 0;

	if (ks && rs->default_explicit && set_default_loc)
		diag_add(diags, DIAG_WARNING, set_default_loc,
			 "'set default' overrides the killswitch default (out reject, in drop)");
	if (ks && skip_loc && !loopback_only(&rs->skip))
		diag_add(diags, DIAG_WARNING, skip_loc,
			 "traffic on skipped interfaces is not filtered: a hole in the kill switch");
	for (size_t j = 0; j < rs->nrules; j++) {
		const struct rule *b = &rs->rules[j];
		for (size_t i = 0; i < j && pairs < MAX_SHADOW_PAIRS; i++, pairs++) {
			const struct rule *a = &rs->rules[i];
			/* A preset rule overridden by a user rule with another
			 * verdict changes what the kill switch does; one with
			 * the same verdict is harmless. */
			if (b->origin != ORIGIN_USER &&
			    (a->origin != ORIGIN_USER || effective_action(rs, a) == effective_action(rs, b)))
				continue;
			if (rule_subsumes(a, b)) {
				if (b->origin == ORIGIN_USER)
					diag_add(diags, DIAG_WARNING, &rule_locs[j],
						 "rule is shadowed by the rule at %s:%d", a->file, a->line);
				else
					diag_add(diags, DIAG_WARNING, &rule_locs[j],
						 "killswitch rule '%s' is shadowed by the rule at %s:%d",
						 b->text, a->file, a->line);
				break;
			}
		}
		if (b->origin != ORIGIN_USER)
			continue;
		if (!ks || b->action != ACTION_PASS ||
		    inside_tunnel(&b->on, &ks->tunnel) || loopback_only(&b->on))
			continue;
		if (b->dir & DIR_OUT)
			diag_add(diags, DIAG_WARNING, &rule_locs[j],
				 "passes traffic outside the tunnel: a hole in the kill switch");
		else
			diag_add(diags, DIAG_WARNING, &rule_locs[j],
				 "passes traffic in outside the tunnel; its replies leave outside "
				 "the tunnel: a hole in the kill switch");
	}
}
