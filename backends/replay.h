/* The pcap replay backend: reads pcap / pcapng captures
 * (backends/capture.h), turns each frame into a struct packet (interface,
 * direction, timestamp from the capture) and runs it through the engine's
 * flow table, in timestamp order across the captures, with state. Nothing
 * is printed: the caller gets statistics, and the flows either all at the end (replay_foreach_flow) or streamed: each
 * flow as it leaves the engine's bounded table (config on_flow_end), then
 * the live ones at the end. Streamed, memory is bounded by the table's
 * limit (limits.max_flows), however many flows the captures hold.
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

/* Extra facts about a flow, beside struct flow. */
struct replay_flow_info {
	bool leaked;          /* a packet passed out on a --leaks interface */
	bool skipped;         /* its interface is in 'set skip on' */
};

/* A flow as reported: verdict and rule are those of its first packet
 * (first_verdict and first_rule of the flow table's entry, which also keeps
 * the latest decision: a blocked flow's replies are decided anew). f and
 * info are valid during the call only. */
typedef void (*replay_flow_fn)(const struct flow *f,
			       const struct replay_flow_info *info, void *ctx);

/* Flows kept as reported: the replay keeps the ended ones in a list (no
 * on_flow_end); a caller may keep those it wants to list later. */
struct replay_flow_record {
	struct flow flow;
	struct replay_flow_info info;
};

struct replay_flow_list {
	struct replay_flow_record *items;
	size_t count, capacity;
};

/* Appends a copy of f and info. Returns 0, or -ENOMEM (list unchanged). */
int replay_flow_list_add(struct replay_flow_list *l, const struct flow *f,
			 const struct replay_flow_info *info);
/* Frees the items; the list is empty again. */
void replay_flow_list_clear(struct replay_flow_list *l);

/* An address an interface holds (--ifaddr NAME=ADDR). */
struct replay_ifaddr {
	char name[IFW_IFNAMSIZ];
	struct ifw_addr addr;
};

struct replay_config {
	const struct replay_ifname *ifmap; /* indexes without a name: "ifN" */
	size_t nifmap;
	/* Interface addresses known before the first packet, for '(IFSPEC)'
	 * (a capture need not show the tunnel sending from its address before
	 * a probe to it arrives elsewhere). Addresses seen in traffic are
	 * learned on top; an address given here keeps its interface. */
	const struct replay_ifaddr *ifaddrs;
	size_t nifaddrs;
	const char *iface;                 /* captures without an index; NULL: "eth0" */
	/* Direction of frames whose link header has none: source in local ->
	 * out, destination in local -> in; nlocal == 0: everything is out. */
	const struct ifw_prefix *local;
	size_t nlocal;
	/* Flows with a packet that passed out on a matching interface are
	 * reported as leaks. NULL: no leak tracking. */
	const struct ifmatch *leaks;
	struct flow_limits limits;
	/* Streaming: when set, gets every flow as it leaves the flow table
	 * (idle timeout, eviction from a full table, replaced), from inside
	 * replay_captures() / replay_frame(); replay_foreach_flow() then reports
	 * only the flows still live. Per-flow state is then bounded by
	 * limits.max_flows. When NULL, ended flows are kept by the replay (memory
	 * grows with the number of flows) and replay_foreach_flow() reports all. */
	replay_flow_fn on_flow_end;
	void *on_flow_end_ctx;
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
	/* Flows pushed out of the full flow table (limits.max_flows). */
	uint64_t evictions;
	/* Interface addresses learned from passed traffic (for '(IFSPEC)'):
	 * at most REPLAY_MAX_LEARNED_ADDRS; first packets whose new source
	 * address was not learned because of that cap. */
	uint64_t learned_addrs, unlearned_addrs;
	char skipped_leak_ifnames[4][IFW_IFNAMSIZ];
	size_t nskipped_leak_ifnames;
};

/* Learned interface addresses are capped: a capture with endless source
 * addresses must not grow memory without bound. */
#define REPLAY_MAX_LEARNED_ADDRS 4096

struct replay;

/* rs, and the arrays cfg points to, must outlive the replay (cfg itself is
 * copied). Returns NULL on -ENOMEM. */
struct replay *replay_new(const struct ruleset *rs, const struct replay_config *cfg);
void replay_free(struct replay *r);

/* A capture to replay (backends/capture.h), and the interface of its
 * frames when neither the file nor the link header names one (FILE@IFNAME;
 * NULL: cfg.iface). */
struct capture;
struct replay_input {
	struct capture *capture;
	const char *ifname;
};

/* Replays the captures to their ends, merged by timestamp (ties keep the
 * order given), through the one engine and flow table. The first frame of
 * every capture is read before any frame is decided, so a capture that
 * cannot be read from its start fails before any flow is reported. Frames
 * are on the interface of the link header's index (LINUX_SLL2, named by
 * cfg.ifmap), else the one their pcapng interface block names, else the
 * input's ifname, else cfg.iface; their direction is that of the pcapng
 * packet flags, else of the link header, else from cfg.local. Returns 0 (a capture cut short in its last record
 * is read up to the cut, counted in read_errors, capture_warning() says
 * so), or capture_next()'s error with err saying why: -EINVAL for a
 * corrupt file, -EPROTONOSUPPORT for an unsupported link type, -errno for
 * a read error; read_errors counts it. */
int replay_captures(struct replay *r, const struct replay_input *inputs, size_t n,
		    char *err, size_t errsize);

/* Opens and replays one capture file ("-": standard input) to its end:
 * replay_captures() of one, with capture_open()'s errors. err is "" or,
 * when it returns 0, a warning that the file was cut short. */
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

/* Without on_flow_end: calls fn with every flow seen so far (those that
 * already ended and the live ones), in creation order. With on_flow_end:
 * with the live flows only, in creation order (the ended ones went to
 * on_flow_end). Returns 0, or -ENOMEM when memory ran out during the
 * replay (an ended flow or a learned interface address may then be
 * missing). */
int replay_foreach_flow(struct replay *r, replay_flow_fn fn, void *ctx);

#endif
