/* Interface address table for '(IFSPEC)' criteria: address -> interface
 * name, a uthash keyed by the whole struct ifw_addr. */
#include "filter/engine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter/hash.h"

_Static_assert(sizeof(struct ifw_addr) <= IFW_HASH_MAX_KEY, "addresses are hash keys");

struct ifaddr_entry {
	struct ifw_addr addr; /* key */
	char ifname[IFW_IFNAMSIZ];
	UT_hash_handle hh;
};

struct ifaddr_table {
	struct ifaddr_entry *by_addr;
};

/* Keys hash every byte, so the unused bytes of an IPv4 address must be
 * zero whatever the caller left there. */
static struct ifw_addr canonical(const struct ifw_addr *a)
{
	struct ifw_addr c;

	memset(&c, 0, sizeof(c));
	c.family = a->family;
	memcpy(c.a, a->a, a->family == 4 ? 4 : 16);
	return c;
}

struct ifaddr_table *ifaddr_table_new(void)
{
	ifw_hash_init();
	return calloc(1, sizeof(struct ifaddr_table));
}

void ifaddr_table_free(struct ifaddr_table *t)
{
	struct ifaddr_entry *e, *tmp;

	if (!t)
		return;
	HASH_ITER(hh, t->by_addr, e, tmp) {
		HASH_DEL(t->by_addr, e);
		free(e);
	}
	free(t);
}

int ifaddr_table_add(struct ifaddr_table *t, const char *ifname,
		     const struct ifw_addr *addr)
{
	struct ifw_addr key;
	struct ifaddr_entry *e;

	if (!t || !ifname || !addr || (addr->family != 4 && addr->family != 6))
		return -EINVAL;
	key = canonical(addr);
	HASH_FIND(hh, t->by_addr, &key, sizeof(key), e);
	if (!e) {
		e = calloc(1, sizeof(*e));
		if (!e)
			return -ENOMEM;
		e->addr = key;
		ifw_hash_oom = false;
		HASH_ADD(hh, t->by_addr, addr, sizeof(e->addr), e);
		if (ifw_hash_oom) {
			free(e);
			return -ENOMEM;
		}
	}
	/* An address moved to another interface belongs to the latest. */
	snprintf(e->ifname, sizeof(e->ifname), "%s", ifname);
	return 0;
}

void ifaddr_table_remove_interface(struct ifaddr_table *t, const char *ifname)
{
	struct ifaddr_entry *e, *tmp;

	if (!t || !ifname)
		return;
	HASH_ITER(hh, t->by_addr, e, tmp) {
		if (strncmp(e->ifname, ifname, IFW_IFNAMSIZ) == 0) {
			HASH_DEL(t->by_addr, e);
			free(e);
		}
	}
}

const char *ifaddr_table_owner(const struct ifaddr_table *t,
			       const struct ifw_addr *addr)
{
	struct ifw_addr key;
	struct ifaddr_entry *e;

	if (!t || !addr || (addr->family != 4 && addr->family != 6))
		return NULL;
	key = canonical(addr);
	HASH_FIND(hh, t->by_addr, &key, sizeof(key), e);
	return e ? e->ifname : NULL;
}

int ifaddr_table_foreach(const struct ifaddr_table *t,
			 int (*fn)(const struct ifw_addr *addr, const char *ifname,
				   void *ctx),
			 void *ctx)
{
	const struct ifaddr_entry *e;

	if (!t)
		return 0;
	for (e = t->by_addr; e; e = e->hh.next) {
		int rc = fn(&e->addr, e->ifname, ctx);
		if (rc)
			return rc;
	}
	return 0;
}
