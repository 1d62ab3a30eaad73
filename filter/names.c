/* Names of interface types, protocols and ICMP / ICMPv6 types. */
#include <string.h>

#include "filter/names.h"

enum iftype iftype_from_name(const char *name)
{
	/* Not tap*: a TAP device carries Ethernet frames (cli.md). */
	static const char *const tunnels[] = { "wg", "tun", "ppp", "utun" };

	if (!name)
		return IFTYPE_ETHER;
	if (!strncmp(name, "lo", 2))
		return IFTYPE_LOOPBACK;
	for (size_t i = 0; i < sizeof(tunnels) / sizeof(tunnels[0]); i++)
		if (!strncmp(name, tunnels[i], strlen(tunnels[i])))
			return IFTYPE_TUNNEL;
	return IFTYPE_ETHER;
}

const char *iftype_name(enum iftype type)
{
	switch (type) {
	case IFTYPE_LOOPBACK: return "loopback";
	case IFTYPE_TUNNEL: return "tunnel";
	case IFTYPE_ETHER: return "ether";
	}
	return "ether";
}

bool iftype_from_type_name(const char *word, size_t len, enum iftype *type)
{
	static const enum iftype types[] = { IFTYPE_LOOPBACK, IFTYPE_TUNNEL, IFTYPE_ETHER };

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		const char *name = iftype_name(types[i]);
		if (strlen(name) == len && !memcmp(name, word, len)) {
			*type = types[i];
			return true;
		}
	}
	return false;
}

struct name_number {
	const char *name;
	int number;
};

/* Canonical name first for each number; aliases (pf and nft spellings)
 * after it. */
static const struct name_number protocols[] = {
	{ "icmp", 1 }, { "igmp", 2 }, { "ipencap", 4 }, { "ipip", 4 },
	{ "tcp", 6 }, { "udp", 17 }, { "ipv6", 41 }, { "gre", 47 },
	{ "esp", 50 }, { "ah", 51 }, { "icmp6", 58 }, { "ipv6-icmp", 58 },
	{ "icmpv6", 58 }, { "ospf", 89 }, { "pim", 103 }, { "vrrp", 112 },
	{ "l2tp", 115 }, { "sctp", 132 }, { "udplite", 136 },
};

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

/* The number of the len bytes at name in table t; -1 when not there. */
static int number_of(const struct name_number *t, size_t n, const char *name, size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(t[i].name) == len && !memcmp(t[i].name, name, len))
			return t[i].number;
	return -1;
}

int proto_from_name(const char *name)
{
	return number_of(protocols, COUNT(protocols), name, strlen(name));
}

const char *proto_print_name(int proto)
{
	/* The canonical name is the first of its number in the table. */
	for (size_t i = 0; i < COUNT(protocols); i++)
		if (protocols[i].number == proto)
			return protocols[i].name;
	return NULL;
}

static const struct name_number icmp4_types[] = {
	{ "echo-reply", 0 }, { "echorep", 0 },
	{ "unreach", 3 }, { "destination-unreachable", 3 }, { "dest-unreach", 3 },
	{ "source-quench", 4 }, { "squench", 4 },
	{ "redirect", 5 }, { "redir", 5 },
	{ "alternate-host", 6 }, { "althost", 6 },
	{ "echo-request", 8 }, { "echoreq", 8 },
	{ "router-advert", 9 }, { "routeradv", 9 }, { "router-advertisement", 9 },
	{ "router-solicit", 10 }, { "routersol", 10 }, { "router-solicitation", 10 },
	{ "time-exceeded", 11 }, { "timex", 11 },
	{ "param-problem", 12 }, { "paramprob", 12 }, { "parameter-problem", 12 },
	{ "timestamp", 13 }, { "timereq", 13 }, { "timestamp-request", 13 },
	{ "timestamp-reply", 14 }, { "timerep", 14 },
	{ "info-request", 15 }, { "inforeq", 15 },
	{ "info-reply", 16 }, { "inforep", 16 },
	{ "mask-request", 17 }, { "maskreq", 17 }, { "address-mask-request", 17 },
	{ "mask-reply", 18 }, { "maskrep", 18 }, { "address-mask-reply", 18 },
	{ "traceroute", 30 }, { "trace", 30 },
	{ "photuris", 40 },
};

static const struct name_number icmp6_types[] = {
	{ "unreach", 1 }, { "destination-unreachable", 1 }, { "dest-unreach", 1 },
	{ "packet-too-big", 2 }, { "toobig", 2 },
	{ "time-exceeded", 3 }, { "timex", 3 },
	{ "param-problem", 4 }, { "paramprob", 4 }, { "parameter-problem", 4 },
	{ "echo-request", 128 }, { "echoreq", 128 },
	{ "echo-reply", 129 }, { "echorep", 129 },
	{ "mld-listener-query", 130 }, { "listqry", 130 }, { "groupqry", 130 },
	{ "mld-listener-report", 131 }, { "listenrep", 131 }, { "grouprep", 131 },
	{ "mld-listener-done", 132 }, { "mld-listener-reduction", 132 },
	{ "listendone", 132 }, { "groupterm", 132 },
	{ "nd-router-solicit", 133 }, { "routersol", 133 }, { "router-solicit", 133 },
	{ "nd-router-advert", 134 }, { "routeradv", 134 }, { "router-advert", 134 },
	{ "nd-neighbor-solicit", 135 }, { "neighbrsol", 135 }, { "neighbor-solicit", 135 },
	{ "nd-neighbor-advert", 136 }, { "neighbradv", 136 }, { "neighbor-advert", 136 },
	{ "nd-redirect", 137 }, { "redir", 137 }, { "redirect", 137 },
	{ "router-renumbering", 138 }, { "routrrenum", 138 },
	{ "node-info-query", 139 }, { "fqdnreq", 139 },
	{ "node-info-reply", 140 }, { "fqdnrep", 140 },
	{ "ind-neighbor-solicit", 141 }, { "ind-neighbor-advert", 142 },
	{ "mld2-listener-report", 143 }, { "mld2-report", 143 },
};

int icmp_type_from_name(const char *name, bool icmp6)
{
	if (!name)
		return -1;
	if (icmp6)
		return number_of(icmp6_types, COUNT(icmp6_types), name, strlen(name));
	return number_of(icmp4_types, COUNT(icmp4_types), name, strlen(name));
}

const char *icmp_type_name(int type, bool icmp6)
{
	const struct name_number *t = icmp6 ? icmp6_types : icmp4_types;
	size_t n = icmp6 ? COUNT(icmp6_types) : COUNT(icmp4_types);

	for (size_t i = 0; i < n; i++)
		if (t[i].number == type)
			return t[i].name; /* the first entry is the canonical name */
	return NULL;
}

static const struct name_number services[] = {
	{ "ftp-data", 20 }, { "ftp", 21 }, { "ssh", 22 }, { "telnet", 23 },
	{ "smtp", 25 }, { "domain", 53 }, { "bootps", 67 }, { "bootpc", 68 },
	{ "tftp", 69 }, { "http", 80 }, { "www", 80 }, { "kerberos", 88 },
	{ "pop3", 110 }, { "sunrpc", 111 }, { "auth", 113 }, { "ident", 113 },
	{ "ntp", 123 }, { "imap", 143 },
	{ "snmp", 161 }, { "bgp", 179 }, { "ldap", 389 }, { "https", 443 },
	{ "microsoft-ds", 445 }, { "isakmp", 500 }, { "submissions", 465 },
	{ "syslog", 514 }, { "dhcpv6-client", 546 }, { "dhcpv6-server", 547 },
	{ "submission", 587 }, { "ldaps", 636 }, { "domain-s", 853 },
	{ "imaps", 993 }, { "pop3s", 995 }, { "openvpn", 1194 },
	{ "ipsec-nat-t", 4500 }, { "mdns", 5353 }, { "http-alt", 8080 },
};

int service_port(const char *name, size_t len)
{
	return number_of(services, COUNT(services), name, len);
}
