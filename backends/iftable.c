/* Interface table over rtnetlink (libmnl). See iftable.h. */
#include "backends/iftable.h"
#include "backends/netlink.h"
#include "backends/nlmsg.h"
#include "filter/grow.h"

#include <errno.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>

/* Newer than glibc's net/if_arp.h (values from linux/if_arp.h). */
#ifndef ARPHRD_RAWIP
#define ARPHRD_RAWIP 519
#endif
#ifndef ARPHRD_IP6GRE
#define ARPHRD_IP6GRE 823
#endif

/* A growable array of interfaces sorted by index. */
struct ifvec {
	struct iftable_interface *items;
	size_t count, cap;
};

struct iftable {
	struct mnl_socket *dump_nl;  /* requests and their answers */
	struct mnl_socket *watch_nl; /* notifications; NULL without WATCH */
	uint32_t seq;
	struct ifvec ifs;
	struct ifaddr_table *ifaddrs;
	/* Names whose addresses are in ifaddrs, to forget them on change. */
	char (*fed)[IFW_IFNAMSIZ];
	size_t nfed;
	uint64_t generation;
	char buf[64 * 1024];
};

/* --- the interface array ------------------------------------------------- */

static void interface_clear(struct iftable_interface *ifc)
{
	free(ifc->addrs);
	ifc->addrs = NULL;
	ifc->naddrs = 0;
}

static void ifvec_clear(struct ifvec *v)
{
	for (size_t i = 0; i < v->count; i++)
		interface_clear(&v->items[i]);
	free(v->items);
	v->items = NULL;
	v->count = v->cap = 0;
}

/* Position of index, or where it would be inserted. */
static size_t ifvec_position(const struct ifvec *v, int index, bool *found)
{
	size_t lo = 0, hi = v->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v->items[mid].index < index)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < v->count && v->items[lo].index == index;
	return lo;
}

static struct iftable_interface *ifvec_find(const struct ifvec *v, int index)
{
	bool found;
	size_t pos = ifvec_position(v, index, &found);

	return found ? &v->items[pos] : NULL;
}

/* Returns the entry for index, inserting a zeroed one if needed; NULL on
 * ENOMEM. */
static struct iftable_interface *ifvec_get_or_insert(struct ifvec *v, int index)
{
	bool found;
	size_t pos = ifvec_position(v, index, &found);

	if (found)
		return &v->items[pos];
	if (grow_array(&v->items, &v->cap, v->count, sizeof(*v->items)) < 0)
		return NULL;
	memmove(&v->items[pos + 1], &v->items[pos],
		(v->count - pos) * sizeof(v->items[0]));
	v->count++;
	memset(&v->items[pos], 0, sizeof(v->items[pos]));
	v->items[pos].index = index;
	return &v->items[pos];
}

static void ifvec_remove(struct ifvec *v, int index)
{
	bool found;
	size_t pos = ifvec_position(v, index, &found);

	if (!found)
		return;
	interface_clear(&v->items[pos]);
	memmove(&v->items[pos], &v->items[pos + 1],
		(v->count - pos - 1) * sizeof(v->items[0]));
	v->count--;
}

static bool addr_equal(const struct iftable_addr *a, const struct iftable_addr *b)
{
	return a->prefix_len == b->prefix_len &&
	       a->addr.family == b->addr.family &&
	       memcmp(a->addr.a, b->addr.a, sizeof(a->addr.a)) == 0;
}

/* Returns 1 when added, 0 when already there, -ENOMEM. */
static int interface_add_addr(struct iftable_interface *ifc,
			      const struct iftable_addr *addr)
{
	for (size_t i = 0; i < ifc->naddrs; i++)
		if (addr_equal(&ifc->addrs[i], addr))
			return 0;
	struct iftable_addr *addrs = realloc(ifc->addrs, (ifc->naddrs + 1) * sizeof(*addrs));
	if (!addrs)
		return -ENOMEM;
	addrs[ifc->naddrs++] = *addr;
	ifc->addrs = addrs;
	return 1;
}

/* Returns 1 when removed, 0 when it was not there. */
static int interface_remove_addr(struct iftable_interface *ifc,
				 const struct iftable_addr *addr)
{
	for (size_t i = 0; i < ifc->naddrs; i++) {
		if (addr_equal(&ifc->addrs[i], addr)) {
			memmove(&ifc->addrs[i], &ifc->addrs[i + 1],
				(ifc->naddrs - i - 1) * sizeof(ifc->addrs[0]));
			ifc->naddrs--;
			return 1;
		}
	}
	return 0;
}

/* --- types and flags ----------------------------------------------------- */

enum iftype iftype_from_arphrd(unsigned short arphrd, unsigned flags)
{
	switch (arphrd) {
	case ARPHRD_LOOPBACK:
		return IFTYPE_LOOPBACK;
	case ARPHRD_NONE:     /* tun, wireguard */
	case ARPHRD_PPP:
	case ARPHRD_TUNNEL:   /* ipip */
	case ARPHRD_TUNNEL6:  /* ip6tnl */
	case ARPHRD_IPGRE:
	case ARPHRD_IP6GRE:
	case ARPHRD_SIT:
	case ARPHRD_RAWIP:
	case ARPHRD_VOID:
		return IFTYPE_TUNNEL;
	case ARPHRD_ETHER:
	case ARPHRD_IEEE80211:
		return IFTYPE_ETHER;
	default:
		/* Other non-Ethernet point-to-point links are tunnels too. */
		return (flags & IFF_POINTOPOINT) ? IFTYPE_TUNNEL : IFTYPE_ETHER;
	}
}

static const struct {
	unsigned bit;
	const char *name;
} flag_names[] = {
	{ IFF_UP, "UP" },
	{ IFF_BROADCAST, "BROADCAST" },
	{ IFF_DEBUG, "DEBUG" },
	{ IFF_LOOPBACK, "LOOPBACK" },
	{ IFF_POINTOPOINT, "POINTOPOINT" },
	{ IFF_NOTRAILERS, "NOTRAILERS" },
	{ IFF_RUNNING, "RUNNING" },
	{ IFF_NOARP, "NOARP" },
	{ IFF_PROMISC, "PROMISC" },
	{ IFF_ALLMULTI, "ALLMULTI" },
	{ IFF_MASTER, "MASTER" },
	{ IFF_SLAVE, "SLAVE" },
	{ IFF_MULTICAST, "MULTICAST" },
	{ IFF_PORTSEL, "PORTSEL" },
	{ IFF_AUTOMEDIA, "AUTOMEDIA" },
	{ IFF_DYNAMIC, "DYNAMIC" },
	{ 1u << 16, "LOWER_UP" },
	{ 1u << 17, "DORMANT" },
	{ 1u << 18, "ECHO" },
};

const char *iftable_flags_format(unsigned flags, const char *sep, char *buf,
				 size_t size)
{
	size_t used = 0;

	if (size == 0)
		return buf;
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(flag_names) / sizeof(flag_names[0]); i++) {
		if (!(flags & flag_names[i].bit))
			continue;
		int n = snprintf(buf + used, size - used, "%s%s",
				 used ? sep : "", flag_names[i].name);
		if (n < 0 || (size_t)n >= size - used)
			break;
		used += (size_t)n;
	}
	return buf;
}

/* --- message parsing ----------------------------------------------------- */

struct link_attrs {
	const char *name;
	const char *kind;
};

static int link_attr_cb(const struct nlattr *attr, void *data)
{
	struct link_attrs *la = data;

	switch (mnl_attr_get_type(attr)) {
	case IFLA_IFNAME:
		if (mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) >= 0)
			la->name = mnl_attr_get_str(attr);
		break;
	case IFLA_LINKINFO: {
		const struct nlattr *nested;
		mnl_attr_for_each_nested(nested, attr) {
			if (mnl_attr_get_type(nested) == IFLA_INFO_KIND &&
			    mnl_attr_validate(nested, MNL_TYPE_NUL_STRING) >= 0)
				la->kind = mnl_attr_get_str(nested);
		}
		break;
	}
	}
	return MNL_CB_OK;
}

/* Applies RTM_NEWLINK / RTM_DELLINK. Returns 1 when something changed, 0
 * when not, -errno. */
static int apply_link(struct ifvec *v, const struct nlmsghdr *nlh)
{
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	struct link_attrs la = { 0 };

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*ifi)))
		return 0;
	if (nlh->nlmsg_type == RTM_DELLINK) {
		if (!ifvec_find(v, ifi->ifi_index))
			return 0;
		ifvec_remove(v, ifi->ifi_index);
		return 1;
	}
	mnl_attr_parse(nlh, sizeof(*ifi), link_attr_cb, &la);
	if (!la.name)
		return 0;
	struct iftable_interface *ifc = ifvec_get_or_insert(v, ifi->ifi_index);
	if (!ifc)
		return -ENOMEM;
	struct iftable_interface before = *ifc;
	snprintf(ifc->name, sizeof(ifc->name), "%s", la.name);
	if (la.kind)
		snprintf(ifc->kind, sizeof(ifc->kind), "%s", la.kind);
	ifc->arphrd = ifi->ifi_type;
	ifc->flags = ifi->ifi_flags;
	ifc->type = iftype_from_arphrd(ifi->ifi_type, ifi->ifi_flags);
	return memcmp(&before, ifc, sizeof(before)) != 0;
}

struct addr_attrs {
	const struct nlattr *address, *local;
};

static int addr_attr_cb(const struct nlattr *attr, void *data)
{
	struct addr_attrs *aa = data;

	switch (mnl_attr_get_type(attr)) {
	case IFA_ADDRESS:
		aa->address = attr;
		break;
	case IFA_LOCAL:
		aa->local = attr;
		break;
	}
	return MNL_CB_OK;
}

/* Applies RTM_NEWADDR / RTM_DELADDR. Returns 1 when something changed. */
static int apply_addr(struct ifvec *v, const struct nlmsghdr *nlh)
{
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	struct addr_attrs aa = { 0 };
	struct iftable_addr addr = { 0 };
	size_t want;

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*ifa)))
		return 0;
	if (ifa->ifa_family == AF_INET) {
		addr.addr.family = 4;
		want = 4;
	} else if (ifa->ifa_family == AF_INET6) {
		addr.addr.family = 6;
		want = 16;
	} else {
		return 0;
	}
	mnl_attr_parse(nlh, sizeof(*ifa), addr_attr_cb, &aa);
	/* On point-to-point links IFA_ADDRESS is the peer; IFA_LOCAL is ours. */
	const struct nlattr *attr = aa.local ? aa.local : aa.address;
	if (!attr || mnl_attr_get_payload_len(attr) < want)
		return 0;
	memcpy(addr.addr.a, mnl_attr_get_payload(attr), want);
	addr.prefix_len = ifa->ifa_prefixlen;

	struct iftable_interface *ifc = ifvec_find(v, (int)ifa->ifa_index);
	if (!ifc)
		return 0; /* its link message comes first; a race is fixed by it */
	if (nlh->nlmsg_type == RTM_DELADDR)
		return interface_remove_addr(ifc, &addr);
	return interface_add_addr(ifc, &addr);
}

struct apply_ctx {
	struct ifvec *v;
	int changed;
	int err;
};

static int apply_cb(const struct nlmsghdr *nlh, void *data)
{
	struct apply_ctx *ctx = data;
	int r = 0;

	switch (nlh->nlmsg_type) {
	case RTM_NEWLINK:
	case RTM_DELLINK:
		r = apply_link(ctx->v, nlh);
		break;
	case RTM_NEWADDR:
	case RTM_DELADDR:
		r = apply_addr(ctx->v, nlh);
		break;
	}
	if (r < 0) {
		ctx->err = r;
		return MNL_CB_ERROR;
	}
	ctx->changed += r;
	return MNL_CB_OK;
}

/* --- sockets ------------------------------------------------------------- */

/* Sends one dump request and applies every answer to v. */
static int dump_into(struct iftable *t, struct ifvec *v, uint16_t type,
		     size_t header_size)
{
	char req[256];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(req);
	struct apply_ctx ctx = { .v = v };
	int r;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = ++t->seq;
	/* ifinfomsg and ifaddrmsg both start with the family byte. */
	unsigned char *family = mnl_nlmsg_put_extra_header(nlh, header_size);
	*family = AF_UNSPEC;
	r = netlink_talk(t->dump_nl, nlh, t->buf, sizeof(t->buf), apply_cb, &ctx);
	return r < 0 && ctx.err ? ctx.err : r;
}

static int dump_all(struct iftable *t, struct ifvec *v)
{
	int r = dump_into(t, v, RTM_GETLINK, sizeof(struct ifinfomsg));

	if (r == 0)
		r = dump_into(t, v, RTM_GETADDR, sizeof(struct ifaddrmsg));
	return r;
}

/* Brings t->ifaddrs in line with the interfaces, in place: the engine's
 * flow table keeps the pointer. */
static int sync_ifaddrs(struct iftable *t)
{
	for (size_t i = 0; i < t->nfed; i++)
		ifaddr_table_remove_interface(t->ifaddrs, t->fed[i]);
	t->nfed = 0;
	if (t->ifs.count) {
		char (*fed)[IFW_IFNAMSIZ] = realloc(t->fed, t->ifs.count * sizeof(*fed));
		if (!fed)
			return -ENOMEM;
		t->fed = fed;
	}
	for (size_t i = 0; i < t->ifs.count; i++) {
		const struct iftable_interface *ifc = &t->ifs.items[i];
		memcpy(t->fed[t->nfed++], ifc->name, IFW_IFNAMSIZ);
		for (size_t j = 0; j < ifc->naddrs; j++)
			if (ifaddr_table_add(t->ifaddrs, ifc->name, &ifc->addrs[j].addr) < 0)
				return -ENOMEM;
	}
	return 0;
}

int iftable_refresh(struct iftable *t)
{
	struct ifvec fresh = { 0 };
	int r = dump_all(t, &fresh);

	if (r < 0) {
		ifvec_clear(&fresh);
		return r;
	}
	ifvec_clear(&t->ifs);
	t->ifs = fresh;
	t->generation++;
	return sync_ifaddrs(t);
}

int iftable_open(struct iftable **out, unsigned flags)
{
	struct iftable *t = calloc(1, sizeof(*t));
	int r;

	*out = NULL;
	if (!t)
		return -ENOMEM;
	t->seq = (uint32_t)time(NULL);
	t->ifaddrs = ifaddr_table_new();
	if (!t->ifaddrs) {
		free(t);
		return -ENOMEM;
	}
	if (!(t->dump_nl = netlink_socket_open(NETLINK_ROUTE, 0, 0, &r)))
		goto fail;
	if (flags & IFTABLE_WATCH) {
		/* Subscribe before dumping, so no change falls between the two:
		 * changes queued meanwhile are applied after the dump, in order. */
		unsigned groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR;
		if (!(t->watch_nl = netlink_socket_open(NETLINK_ROUTE, groups, 0, &r)))
			goto fail;
		netlink_socket_rcvbuf(t->watch_nl, 1 << 20);
	}
	r = iftable_refresh(t);
	if (r < 0)
		goto fail;
	*out = t;
	return 0;
fail:
	iftable_free(t);
	return r;
}

struct iftable *iftable_new_detached(void)
{
	struct iftable *t = calloc(1, sizeof(*t));

	if (t && !(t->ifaddrs = ifaddr_table_new())) {
		free(t);
		t = NULL;
	}
	return t;
}

int iftable_apply_messages(struct iftable *t, const void *buf, size_t len)
{
	struct apply_ctx ctx = { .v = &t->ifs };
	int r = mnl_cb_run(buf, nlmsg_valid_prefix(buf, len), 0, 0, apply_cb, &ctx);

	if (r < 0 && ctx.err)
		return ctx.err;
	if (ctx.changed == 0)
		return 0;
	t->generation++;
	r = sync_ifaddrs(t);
	return r < 0 ? r : ctx.changed;
}

void iftable_free(struct iftable *t)
{
	if (!t)
		return;
	netlink_socket_close(t->dump_nl);
	netlink_socket_close(t->watch_nl);
	ifvec_clear(&t->ifs);
	ifaddr_table_free(t->ifaddrs);
	free(t->fed);
	free(t);
}

int iftable_fd(const struct iftable *t)
{
	return t->watch_nl ? mnl_socket_get_fd(t->watch_nl) : -1;
}

int iftable_process(struct iftable *t)
{
	struct apply_ctx ctx = { .v = &t->ifs };
	bool resync = false;

	if (!t->watch_nl)
		return 0;
	/* Drain first, rebuild once; lost notifications: read it all again. */
	int n = netlink_receive_queued(t->watch_nl, t->buf, sizeof(t->buf), apply_cb, &ctx,
				       &resync);
	if (n < 0)
		return n;
	if (ctx.err)
		return ctx.err;
	if (resync) {
		int r = iftable_refresh(t);
		return r < 0 ? r : ctx.changed + 1;
	}
	if (ctx.changed == 0)
		return 0;
	t->generation++;
	int r = sync_ifaddrs(t);
	return r < 0 ? r : ctx.changed;
}

size_t iftable_count(const struct iftable *t)
{
	return t->ifs.count;
}

const struct iftable_interface *iftable_at(const struct iftable *t, size_t i)
{
	return i < t->ifs.count ? &t->ifs.items[i] : NULL;
}

const struct iftable_interface *iftable_lookup(const struct iftable *t, int index)
{
	return ifvec_find(&t->ifs, index);
}

const struct ifaddr_table *iftable_ifaddrs(const struct iftable *t)
{
	return t->ifaddrs;
}

uint64_t iftable_generation(const struct iftable *t)
{
	return t->generation;
}
