/* rtnetlink requests for the tun backend, see route.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include "backends/route.h"
#include "backends/netlink.h"
#include "backends/nlmsg.h"

/* Large enough for any single reply we ask for (a link with its stats, a
 * route); dumps are not used. */
#define ROUTE_BUFFER_SIZE 32768

struct route_socket {
	struct mnl_socket *nl;
	unsigned seq;
	uint8_t buf[ROUTE_BUFFER_SIZE];
};

static struct route_socket *route_socket_new(unsigned groups)
{
	struct route_socket *s = calloc(1, sizeof(*s));
	int e;

	if (!s)
		return NULL;
	s->nl = netlink_socket_open(NETLINK_ROUTE, groups,
				    NETLINK_OPT_CLOEXEC | (groups ? NETLINK_OPT_NONBLOCK : 0), &e);
	if (!s->nl) {
		route_socket_free(s);
		errno = -e;
		return NULL;
	}
	s->seq = (unsigned)getpid() ^ 0x5a5a0000u;
	return s;
}

struct route_socket *route_socket_open(void)
{
	return route_socket_new(0);
}

void route_socket_free(struct route_socket *s)
{
	if (!s)
		return;
	netlink_socket_close(s->nl);
	free(s);
}

int route_socket_fd(const struct route_socket *s)
{
	return mnl_socket_get_fd(s->nl);
}

/* Sends one request with NLM_F_ACK and runs cb over the replies until the
 * acknowledgement. Returns 0 or the kernel's -errno. */
static int route_request(struct route_socket *s, struct nlmsghdr *nlh,
			 mnl_cb_t cb, void *data)
{
	nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = ++s->seq;
	return netlink_talk(s->nl, nlh, s->buf, sizeof(s->buf), cb, data);
}

static size_t addr_size(uint8_t family)
{
	return family == 4 ? 4 : 16;
}

static uint8_t addr_af(uint8_t family)
{
	return family == 4 ? AF_INET : AF_INET6;
}

/* --- configuration --------------------------------------------------------- */

static struct nlmsghdr *link_message(struct route_socket *s, uint16_t type,
				     uint16_t flags, int ifindex)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(s->buf);
	struct ifinfomsg *ifi;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = flags;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	return nlh;
}

int route_link_set_up(struct route_socket *s, int ifindex, bool up, unsigned mtu)
{
	struct nlmsghdr *nlh = link_message(s, RTM_NEWLINK, 0, ifindex);
	struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);

	ifi->ifi_change = IFF_UP;
	ifi->ifi_flags = up ? IFF_UP : 0;
	if (mtu)
		mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	return route_request(s, nlh, NULL, NULL);
}

int route_link_disable_ipv6_autoconf(struct route_socket *s, int ifindex)
{
	struct nlmsghdr *nlh = link_message(s, RTM_NEWLINK, 0, ifindex);
	struct nlattr *spec, *inet6;

	spec = mnl_attr_nest_start(nlh, IFLA_AF_SPEC);
	inet6 = mnl_attr_nest_start(nlh, AF_INET6);
	mnl_attr_put_u8(nlh, IFLA_INET6_ADDR_GEN_MODE, IN6_ADDR_GEN_MODE_NONE);
	mnl_attr_nest_end(nlh, inet6);
	mnl_attr_nest_end(nlh, spec);
	return route_request(s, nlh, NULL, NULL);
}

int route_addr_add(struct route_socket *s, int ifindex,
		   const struct ifw_addr *addr, uint8_t len)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(s->buf);
	struct ifaddrmsg *ifa;

	nlh->nlmsg_type = RTM_NEWADDR;
	nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = addr_af(addr->family);
	ifa->ifa_prefixlen = len;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = (unsigned)ifindex;
	/* No duplicate address detection on a link only we are on: the
	 * address is usable at once. */
	ifa->ifa_flags = addr->family == 6 ? IFA_F_NODAD : 0;
	mnl_attr_put(nlh, IFA_LOCAL, addr_size(addr->family), addr->a);
	mnl_attr_put(nlh, IFA_ADDRESS, addr_size(addr->family), addr->a);
	return route_request(s, nlh, NULL, NULL);
}

static struct nlmsghdr *route_message(struct route_socket *s, uint16_t type,
				      uint16_t flags, int ifindex,
				      const struct ifw_prefix *dst)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(s->buf);
	struct rtmsg *rtm;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = flags;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = addr_af(dst->addr.family);
	rtm->rtm_dst_len = dst->len;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = RTPROT_STATIC;
	rtm->rtm_scope = RT_SCOPE_LINK;
	rtm->rtm_type = RTN_UNICAST;
	if (dst->len)
		mnl_attr_put(nlh, RTA_DST, addr_size(dst->addr.family), dst->addr.a);
	mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)ifindex);
	return nlh;
}

int route_add(struct route_socket *s, int ifindex, const struct ifw_prefix *dst)
{
	return route_request(s, route_message(s, RTM_NEWROUTE,
					      NLM_F_CREATE | NLM_F_EXCL, ifindex, dst),
			     NULL, NULL);
}

/* --- lookups ---------------------------------------------------------------- */

struct lookup_reply {
	int oif;
	bool got;
};

static int lookup_attr(const struct nlattr *attr, void *data)
{
	struct lookup_reply *r = data;

	if (mnl_attr_get_type(attr) == RTA_OIF &&
	    mnl_attr_validate(attr, MNL_TYPE_U32) >= 0)
		r->oif = (int)mnl_attr_get_u32(attr);
	return MNL_CB_OK;
}

static int lookup_message(const struct nlmsghdr *nlh, void *data)
{
	struct lookup_reply *r = data;

	if (nlh->nlmsg_type != RTM_NEWROUTE)
		return MNL_CB_OK;
	r->got = true;
	mnl_attr_parse(nlh, sizeof(struct rtmsg), lookup_attr, r);
	return MNL_CB_OK;
}

int route_parse_lookup_reply(const void *buf, size_t len)
{
	struct lookup_reply reply = { .oif = -1 };

	errno = 0;
	if (mnl_cb_run(buf, nlmsg_valid_prefix(buf, len), 0, 0, lookup_message, &reply) < 0 && !reply.got)
		return nlmsg_error();
	if (!reply.got || reply.oif <= 0)
		return -ENETUNREACH;
	return reply.oif;
}

int route_lookup(struct route_socket *s, const struct ifw_addr *dst,
		 const struct ifw_addr *src, int iif)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(s->buf);
	struct lookup_reply reply = { .oif = -1 };
	size_t size = addr_size(dst->family);
	struct rtmsg *rtm;
	int ret;

	nlh->nlmsg_type = RTM_GETROUTE;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = addr_af(dst->family);
	rtm->rtm_dst_len = (unsigned char)(size * 8);
	mnl_attr_put(nlh, RTA_DST, size, dst->a);
	if (src && src->family == dst->family) {
		rtm->rtm_src_len = (unsigned char)(size * 8);
		mnl_attr_put(nlh, RTA_SRC, size, src->a);
	}
	if (iif > 0)
		mnl_attr_put_u32(nlh, RTA_IIF, (uint32_t)iif);
	ret = route_request(s, nlh, lookup_message, &reply);
	if (ret < 0)
		return ret;
	if (!reply.got || reply.oif <= 0)
		return -ENETUNREACH;
	return reply.oif;
}

/* --- change notifications ------------------------------------------------------ */

struct route_socket *route_monitor_open(void)
{
	unsigned groups = RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE;
	struct route_socket *s = route_socket_new(groups);
	unsigned rule_groups[] = { RTNLGRP_IPV4_RULE, RTNLGRP_IPV6_RULE };

	if (!s)
		return NULL;
	for (size_t i = 0; i < sizeof(rule_groups) / sizeof(rule_groups[0]); i++)
		/* Policy rules move flows too; a kernel without IPv6 rules
		 * refuses that group, which is harmless. */
		(void)netlink_socket_join(s->nl, rule_groups[i]);
	return s;
}

int route_monitor_drain(struct route_socket *s)
{
	/* Overrun: we lost some, so assume everything changed. */
	bool lost = false;
	int n = netlink_receive_queued(s->nl, s->buf, sizeof(s->buf), NULL, NULL, &lost);

	if (n < 0)
		return n;
	return n > 0 || lost ? 1 : 0;
}
