/* The pcap replay backend: reads pcap / pcapng captures through libpcap,
 * turns each frame into a struct packet (interface, direction, timestamp
 * from the capture) and runs it through the engine's flow table, in file
 * order, with state. Nothing is printed: the caller gets statistics and
 * every flow at the end.
 *
 * Link types: LINUX_SLL2, LINUX_SLL, EN10MB (802.1Q / 802.1ad tags, PPPoE),
 * RAW / IPV4 / IPV6, NULL and LOOP. Frames that are truncated, malformed or
 * not IP are counted and skipped. The per-packet path does not allocate
 * (the flow table aside, which allocates per new flow). */
#ifndef IFWALL_BACKENDS_REPLAY_H
#define IFWALL_BACKENDS_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "filter/engine.h"
#include "rules/ruleset.h"

/* --ifmap: interface index -> name, for captures that carry an index. */
struct replay_ifname {
	uint32_t index;
	char name[IFW_IFNAMSIZ];
};

struct replay_config {
	const struct replay_ifname *ifmap; /* indexes without a name: "ifN" */
	size_t nifmap;
	const char *iface;                 /* captures without an index; NULL: "eth0" */
	/* Direction of frames whose link header has none: source in local ->
	 * out, destination in local -> in; nlocal == 0: everything is out. */
	const struct ifw_prefix *local;
	size_t nlocal;
	/* Flows with a packet that passed out on a matching interface are
	 * reported as leaks. NULL: no leak tracking. */
	const struct ifmatch *leaks;
	struct flow_limits limits;
};

struct replay_stats {
	uint64_t frames;      /* every frame read */
	uint64_t packets;     /* IP packets decided */
	uint64_t bytes;       /* IP bytes of those (original lengths) */
	uint64_t passed, blocked; /* packets by verdict (reject counts as blocked) */
	uint64_t truncated, malformed, not_ip; /* skipped frames */
	uint64_t read_errors; /* captures that ended with a read error */
	/* 'set skip on' interfaces: their packets pass unfiltered and make
	 * no flows. Those that went out on a --leaks interface are counted,
	 * with the first few interface names. */
	uint64_t skipped;
	uint64_t skipped_leaks;
	char skipped_leak_ifnames[4][IFW_IFNAMSIZ];
	size_t nskipped_leak_ifnames;
};

/* Extra facts about a flow, beside struct flow. */
struct replay_flow_info {
	bool leaked;          /* a packet passed out on a --leaks interface */
	bool skipped;         /* its interface is in 'set skip on' */
};

struct replay;

/* rs, and the arrays cfg points to, must outlive the replay (cfg itself is
 * copied). Returns NULL on -ENOMEM. */
struct replay *replay_new(const struct ruleset *rs, const struct replay_config *cfg);
void replay_free(struct replay *r);

/* Reads one capture file to its end. Returns 0 (a read error in the middle
 * of the file ends it early, counted in read_errors, message in err),
 * -EINVAL when the file cannot be opened as pcap/pcapng, or
 * -EPROTONOSUPPORT for an unsupported link type; err then says why (and
 * names the link type). */
int replay_file(struct replay *r, const char *path, char *err, size_t errsize);

/* True when the replay can read frames of this DLT_ link type. */
bool replay_linktype_supported(int linktype);

/* Decides one frame of a supported link type (also the fuzzing entry).
 * ts_ns is the capture time; wirelen the frame's original length. Returns
 * DECODE_OK when the frame was decided, else why it was skipped. */
enum decode_status replay_frame(struct replay *r, int linktype,
				const uint8_t *frame, size_t caplen,
				size_t wirelen, uint64_t ts_ns);

const struct replay_stats *replay_stats(const struct replay *r);

/* Calls fn with every flow seen so far (those that already ended and the
 * live ones), in creation order. Returns 0 or -ENOMEM. */
typedef void (*replay_flow_fn)(const struct flow *f,
			       const struct replay_flow_info *info, void *ctx);
int replay_foreach_flow(struct replay *r, replay_flow_fn fn, void *ctx);

#endif
