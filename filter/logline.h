/* One logged verdict, as every backend writes it: the divert and tun
 * backends' --log and 'ifwall log' (nft, from NFLOG) share these fields
 * and this writer, so one JSON schema covers them all:
 *
 *   {"time":"2024-05-01T12:00:00.123456Z","backend":"nft","verdict":"block",
 *    "dir":"out","iface":"eth0","proto":"udp","src":"192.168.1.2",
 *    "sport":5353,"dst":"8.8.8.8","dport":53,"rule":"/etc/ifwall/ifwall.rules:7",
 *    "text":"block out log proto udp to any port 53"}
 *
 * proto is "tcp", "udp", "icmp", "icmp6" or the number as a string; sport
 * and dport are null for protocols without ports; "icmp_type" is added for
 * ICMP; rule is "FILE:LINE", "default" or "skip"; text is the rule's
 * canonical text or null; "uid" is added when known.
 *
 * The userspace backends (divert, tun) also log each reload of their rules
 * (SIGHUP), with the same "time" and "backend" and no "verdict":
 *
 *   {"time":"2024-05-01T12:00:00.123456Z","backend":"divert","event":"reload",
 *    "rules":"/etc/ifwall/ifwall.rules","ok":true,"flows_changed":3} */
#ifndef IFWALL_FILTER_LOGLINE_H
#define IFWALL_FILTER_LOGLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "filter/addr.h"

struct packet;
struct decision;

struct log_record {
	struct timespec time;   /* CLOCK_REALTIME */
	const char *backend;    /* "nft", "divert", "tun" */
	const char *verdict;    /* "pass", "block", "reject" (or "?") */
	unsigned dir;           /* DIR_IN / DIR_OUT */
	const char *iface;
	uint8_t proto;
	struct ifw_addr src, dst;
	bool has_ports;
	uint16_t sport, dport;
	bool has_icmp;
	uint8_t icmp_type;
	char rule[512];         /* "FILE:LINE", "default", "skip" */
	const char *text;       /* NULL when none */
	bool has_uid;
	uint32_t uid;
};

/* Fills r from a decoded packet and (optionally) the engine's decision;
 * time is now. p must outlive r (iface points into it). */
void log_record_from_packet(struct log_record *r, const char *backend,
			    const struct packet *p, const struct decision *d);
/* One JSON line. */
void log_record_write_json(FILE *out, const struct log_record *r);
/* One reload event line (see above); rules may be NULL (null). */
void log_reload_write_json(FILE *out, const char *backend, const char *rules, bool ok,
			   size_t flows_changed);
/* One human line: "TIME VERDICT DIR IFACE PROTO SRC[:PORT] > DST[:PORT] RULE". */
void log_record_write_text(FILE *out, const struct log_record *r);

#endif
