/* Packet descriptions: the tcpdump-like text 'ifwall query' takes (cli.md)
 *
 *   DIR on IF [iftype TYPE] PROTO SRC > DST [type ICMPTYPE] [user UID] [mark N]
 *     [cgroup PATH]
 *
 * ('iftype TYPE' may instead be among the trailing options; tcp and udp
 * need both ports) parsed into a struct packet the engine can decide. Pure text in, packet
 * out: nothing is printed, nothing is looked up beyond user names. */
#ifndef IFWALL_FILTER_PKTDESC_H
#define IFWALL_FILTER_PKTDESC_H

#include "filter/engine.h"

struct pktdesc_error {
	int col;              /* 1-based column of the offending token */
	char message[160];
};

/* Fills *out from text. Returns 0, or -EINVAL with err (when not NULL) set
 * to a message and the column where the problem starts; *out is then
 * unspecified. Any input is safe, including empty and very long ones. */
int pktdesc_parse(const char *text, struct packet *out,
		  struct pktdesc_error *err);

#endif
