/* Names of the rule language's vocabulary, shared by rule files, packet
 * descriptions and printers: interface types, protocols, ICMP/ICMPv6 types
 * and well-known service ports. */
#ifndef IFWALL_FILTER_NAMES_H
#define IFWALL_FILTER_NAMES_H

#include <stdbool.h>
#include <stddef.h>

#include "filter/ruleset.h"

/* Interface type guessed from a name: lo* loopback; wg*, tun*, ppp*, utun*
 * tunnel; else ether (tap* included: a TAP device is Ethernet). */
enum iftype iftype_from_name(const char *name);
const char *iftype_name(enum iftype type);
/* The type the len bytes at word name (loopback, tunnel, ether): true and
 * *type set, or false. */
bool iftype_from_type_name(const char *word, size_t len, enum iftype *type);

/* Names of ICMP / ICMPv6 types: returns the number, or -1 if unknown. */
int icmp_type_from_name(const char *name, bool icmp6);
/* NULL when the number has no name. */
const char *icmp_type_name(int type, bool icmp6);

/* Protocol by name ("tcp", "ipv6-icmp", ...); -1 when unknown. */
int proto_from_name(const char *name);
/* Canonical printing name (tcp, udp, icmp, icmp6, gre, esp, ...); NULL
 * for a number without a name. */
const char *proto_print_name(int proto);
/* Port of a well-known service name ("ssh", "domain", "https", ...), the
 * same on tcp and udp; -1 when unknown. Built in, not /etc/services, so a
 * rule file means the same on every host. */
int service_port(const char *name, size_t len);

#endif
