/* pcap replay backend: link layer -> struct packet -> flow table. */
#include "backends/replay.h"
#include "backends/capture.h"
#include "filter/grow.h"

#include <errno.h>
#include <pcap/pcap.h> /* DLT_ values */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef DLT_LINUX_SLL2
#define DLT_LINUX_SLL2 276
#endif
#ifndef DLT_IPV4
#define DLT_IPV4 228
#endif
#ifndef DLT_IPV6
#define DLT_IPV6 229
#endif

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86dd
#define ETHERTYPE_VLAN 0x8100
#define ETHERTYPE_QINQ 0x88a8
#define ETHERTYPE_QINQ_OLD 0x9100
#define ETHERTYPE_PPPOE_SESSION 0x8864
#define PPP_IPV4 0x0021
#define PPP_IPV6 0x0057
#define MAX_VLAN_TAGS 8
#define PACKET_OUTGOING 4
#define IPPROTO_UDP_NUMBER 17

/* Packets decoded ahead of their decision (a power of two, more than
 * PIPELINE_LAG). */
#define PIPELINE_SIZE 8u
#define PIPELINE_LAG 4u
/* Scratch space for frames cut short by the capture's snap length. */
#define SCRATCH_SIZE 65536
/* Interface names by index, direct-mapped. */
#define IFCACHE_SLOTS 256

struct ifcache_slot {
	bool valid;
	uint32_t index;
	char name[IFW_IFNAMSIZ];
	enum iftype type;
};

struct replay {
	const struct ruleset *rs;
	struct replay_config cfg;
	char iface[IFW_IFNAMSIZ];
	enum iftype iface_type;
	struct flow_table *flows;
	struct ifaddr_table *ifaddrs;
	struct replay_stats stats;
	uint64_t now;
	struct ifcache_slot ifcache[IFCACHE_SLOTS];
	uint8_t *scratch;
	struct packet packet; /* replay_frame()'s */
	/* Decoded, not yet decided: pending_count from pending_head on. */
	struct pending_packet {
		struct packet packet;
		uint64_t ts_ns;
		struct flow_prefetch prefetch;
	} pending[PIPELINE_SIZE];
	unsigned pending_head, pending_count;
	bool out_of_memory;
	/* Without on_flow_end: flows that already left the table, in the
	 * order they ended. */
	struct replay_flow_list ended;
};

/* Where the IP packet is inside a frame, and what the link header says. */
struct link_info {
	const uint8_t *ip;
	size_t iplen;
	unsigned dir;        /* 0: the header has no direction */
	bool has_index;
	uint32_t index;
};

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

/* The flow as reported: its first decision (the flow table keeps it beside
 * the latest), and the facts beside it. */
static void flow_as_reported(const struct replay *r, struct flow *f,
			     struct replay_flow_info *info)
{
	f->verdict = f->first_verdict;
	f->rule = f->first_rule;
	info->leaked = f->flagged;
	info->skipped = r->rs->skip.count &&
			ifmatch_matches(&r->rs->skip, f->ifname,
					iftype_from_name(f->ifname));
}

int replay_flow_list_add(struct replay_flow_list *l, const struct flow *f,
			 const struct replay_flow_info *info)
{
	if (grow_array(&l->items, &l->capacity, l->count, sizeof(*l->items)) < 0)
		return -ENOMEM;
	l->items[l->count++] = (struct replay_flow_record){ *f, *info };
	return 0;
}

void replay_flow_list_clear(struct replay_flow_list *l)
{
	free(l->items);
	memset(l, 0, sizeof(*l));
}

/* The flow table's end callback: a flow leaves the table. */
static void flow_ended(const struct flow *ended, void *ctx)
{
	struct replay *r = ctx;
	struct replay_flow_info info;
	struct flow f = *ended;

	flow_as_reported(r, &f, &info);
	if (r->cfg.on_flow_end)
		r->cfg.on_flow_end(&f, &info, r->cfg.on_flow_end_ctx);
	else if (replay_flow_list_add(&r->ended, &f, &info) < 0)
		r->out_of_memory = true;
}

struct replay *replay_new(const struct ruleset *rs, const struct replay_config *cfg)
{
	struct replay *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->rs = rs;
	r->cfg = *cfg;
	snprintf(r->iface, sizeof(r->iface), "%s", cfg->iface ? cfg->iface : "eth0");
	r->iface_type = iftype_from_name(r->iface);
	r->flows = flow_table_new(&cfg->limits);
	r->ifaddrs = ifaddr_table_new();
	r->scratch = malloc(SCRATCH_SIZE);
	if (!r->flows || !r->ifaddrs || !r->scratch) {
		replay_free(r);
		return NULL;
	}
	for (size_t i = 0; i < cfg->nifaddrs; i++) {
		if (ifaddr_table_add(r->ifaddrs, cfg->ifaddrs[i].name, &cfg->ifaddrs[i].addr) < 0) {
			replay_free(r);
			return NULL;
		}
	}
	flow_table_set_end_callback(r->flows, flow_ended, r);
	return r;
}

void replay_free(struct replay *r)
{
	if (!r)
		return;
	if (r->flows) {
		/* The live flows are not reported now: that is
		 * replay_foreach_flow()'s job, if the caller wants them. */
		flow_table_set_end_callback(r->flows, NULL, NULL);
		flow_table_free(r->flows);
	}
	ifaddr_table_free(r->ifaddrs);
	free(r->scratch);
	replay_flow_list_clear(&r->ended);
	free(r);
}

bool replay_linktype_supported(int linktype)
{
	switch (linktype) {
	case DLT_LINUX_SLL2:
	case DLT_LINUX_SLL:
	case DLT_EN10MB:
	case DLT_RAW:
	case DLT_IPV4:
	case DLT_IPV6:
	case DLT_NULL:
	case DLT_LOOP:
		return true;
	default:
		return false;
	}
}

/* The IP packet after a link header whose protocol field says ethertype
 * and whose payload starts at off. 802.1Q / 802.1ad tags (TCI, then the
 * inner ethertype) are skipped, and PPPoE sessions (a DSL uplink) opened. */
static enum decode_status ip_after_ethertype(const uint8_t *f, size_t caplen,
					     uint16_t ethertype, size_t off,
					     struct link_info *li)
{
	for (int tags = 0; ethertype == ETHERTYPE_VLAN || ethertype == ETHERTYPE_QINQ ||
			   ethertype == ETHERTYPE_QINQ_OLD; tags++) {
		if (tags == MAX_VLAN_TAGS)
			return DECODE_MALFORMED;
		if (off + 4 > caplen)
			return DECODE_TRUNCATED;
		ethertype = be16(f + off + 2);
		off += 4;
	}
	if (ethertype == ETHERTYPE_PPPOE_SESSION) {
		/* ver/type, code, session id, length, then the PPP protocol:
		 * two bytes, or one when compressed (its low bit is set). */
		uint16_t ppp;
		if (off + 7 > caplen)
			return DECODE_TRUNCATED;
		if (f[off + 6] & 1) {
			ppp = f[off + 6];
			off += 7;
		} else {
			if (off + 8 > caplen)
				return DECODE_TRUNCATED;
			ppp = be16(f + off + 6);
			off += 8;
		}
		if (ppp != PPP_IPV4 && ppp != PPP_IPV6)
			return DECODE_NOT_IP;
	} else if (ethertype != ETHERTYPE_IPV4 && ethertype != ETHERTYPE_IPV6) {
		return DECODE_NOT_IP;
	}
	if (off >= caplen)
		return DECODE_TRUNCATED;
	li->ip = f + off;
	li->iplen = caplen - off;
	return DECODE_OK;
}

/* BSD loopback: the address family, in the writer's byte order (NULL) or
 * network order (LOOP). AF_INET6 differs between systems. */
static bool null_family_is_ip(const uint8_t *f)
{
	uint32_t le = le32(f), be = be32(f);
	uint32_t af = (le & 0xffff0000u) == 0 ? le : be;

	switch (af) {
	case 2:                           /* AF_INET everywhere */
	case 10:                          /* Linux AF_INET6 */
	case 24:                          /* NetBSD, OpenBSD */
	case 28:                          /* FreeBSD, DragonFly */
	case 30:                          /* macOS */
		return true;
	default:
		return false;
	}
}

static enum decode_status link_decode(int linktype, const uint8_t *f,
				      size_t caplen, struct link_info *li)
{
	memset(li, 0, sizeof(*li));
	switch (linktype) {
	case DLT_LINUX_SLL2:
		/* proto(2) reserved(2) ifindex(4) hatype(2) pkttype(1) halen(1) addr(8) */
		if (caplen < 20)
			return DECODE_TRUNCATED;
		li->has_index = true;
		li->index = be32(f + 4);
		li->dir = f[10] == PACKET_OUTGOING ? DIR_OUT : DIR_IN;
		return ip_after_ethertype(f, caplen, be16(f), 20, li);
	case DLT_LINUX_SLL:
		/* pkttype(2) hatype(2) halen(2) addr(8) proto(2) */
		if (caplen < 16)
			return DECODE_TRUNCATED;
		li->dir = be16(f) == PACKET_OUTGOING ? DIR_OUT : DIR_IN;
		return ip_after_ethertype(f, caplen, be16(f + 14), 16, li);
	case DLT_EN10MB:
		if (caplen < 14)
			return DECODE_TRUNCATED;
		return ip_after_ethertype(f, caplen, be16(f + 12), 14, li);
	case DLT_RAW:
	case DLT_IPV4:
	case DLT_IPV6:
		if (caplen == 0)
			return DECODE_TRUNCATED;
		li->ip = f;
		li->iplen = caplen;
		return DECODE_OK;
	case DLT_NULL:
	case DLT_LOOP:
		if (caplen < 4)
			return DECODE_TRUNCATED;
		if (!null_family_is_ip(f))
			return DECODE_NOT_IP;
		if (caplen == 4)
			return DECODE_TRUNCATED;
		li->ip = f + 4;
		li->iplen = caplen - 4;
		return DECODE_OK;
	default:
		return DECODE_NOT_IP;
	}
}

/* Interface name and type of an index, "ifN" when --ifmap has none. */
static const struct ifcache_slot *interface_of_index(struct replay *r, uint32_t index)
{
	struct ifcache_slot *slot = &r->ifcache[index % IFCACHE_SLOTS];

	if (slot->valid && slot->index == index)
		return slot;
	slot->valid = true;
	slot->index = index;
	snprintf(slot->name, sizeof(slot->name), "if%u", index);
	for (size_t i = 0; i < r->cfg.nifmap; i++) {
		if (r->cfg.ifmap[i].index == index) {
			snprintf(slot->name, sizeof(slot->name), "%s", r->cfg.ifmap[i].name);
			break;
		}
	}
	slot->type = iftype_from_name(slot->name);
	return slot;
}

static bool is_local(const struct replay *r, const struct ifw_addr *a)
{
	for (size_t i = 0; i < r->cfg.nlocal; i++)
		if (ifw_prefix_contains(&r->cfg.local[i], a))
			return true;
	return false;
}

static unsigned direction_from_local(const struct replay *r, const struct packet *p)
{
	if (r->cfg.nlocal == 0 || is_local(r, &p->src))
		return DIR_OUT;
	if (is_local(r, &p->dst))
		return DIR_IN;
	return DIR_OUT;
}

/* A source worth learning as an interface address: not unspecified,
 * multicast or broadcast. */
static bool is_unicast(const struct ifw_addr *a)
{
	static const uint8_t zero[16];

	if (a->family == 4)
		return memcmp(a->a, zero, 4) != 0 && a->a[0] < 224;
	return memcmp(a->a, zero, 16) != 0 && a->a[0] != 0xff;
}

static void learn_interface_address(struct replay *r, const struct packet *p)
{
	const char *owner;

	if (!is_unicast(&p->src))
		return;
	/* The first interface seen sending from an address keeps it. */
	owner = ifaddr_table_owner(r->ifaddrs, &p->src);
	if (owner)
		return;
	if (r->stats.learned_addrs >= REPLAY_MAX_LEARNED_ADDRS) {
		r->stats.unlearned_addrs++;
		return;
	}
	if (ifaddr_table_add(r->ifaddrs, p->ifname, &p->src) < 0)
		r->out_of_memory = true;
	else
		r->stats.learned_addrs++;
}

/* Snap-length cut: the headers say more bytes than were captured. Decode a
 * copy whose length fields say what is there, so the headers that were
 * captured are still used; the original length is kept for accounting. */
static const uint8_t *fit_lengths(struct replay *r, const uint8_t *ip,
				  size_t *iplen, uint32_t *declared)
{
	size_t n = *iplen < SCRATCH_SIZE ? *iplen : SCRATCH_SIZE;
	uint8_t *s = r->scratch;

	size_t udp = 0;

	*declared = 0;
	memcpy(s, ip, n);
	if (n >= 20 && (s[0] >> 4) == 4) {
		*declared = be16(s + 2);
		if (*declared > n)
			put16(s + 2, n);
		if (s[9] == IPPROTO_UDP_NUMBER && !(be16(s + 6) & 0x3fff))
			udp = (size_t)(s[0] & 0x0f) * 4;
	} else if (n >= 40 && (s[0] >> 4) == 6) {
		uint32_t payload = be16(s + 4);
		*declared = payload ? 40 + payload : 0;
		if (payload && 40 + payload > n)
			put16(s + 4, n - 40);
		if (s[6] == IPPROTO_UDP_NUMBER)
			udp = 40;
	}
	/* UDP's length field covers the datagram too. */
	if (udp && udp + 8 <= n && be16(s + udp + 4) > n - udp)
		put16(s + udp + 4, n - udp);
	*iplen = n;
	return s;
}

static void record_skipped_leak(struct replay *r, const char *ifname)
{
	struct replay_stats *st = &r->stats;
	size_t n = st->nskipped_leak_ifnames;

	st->skipped_leaks++;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(st->skipped_leak_ifnames[i], ifname))
			return;
	if (n < sizeof(st->skipped_leak_ifnames) / sizeof(st->skipped_leak_ifnames[0])) {
		memcpy(st->skipped_leak_ifnames[n], ifname, IFW_IFNAMSIZ);
		st->nskipped_leak_ifnames++;
	}
}

static void count_skipped(struct replay *r, enum decode_status st)
{
	switch (st) {
	case DECODE_TRUNCATED: r->stats.truncated++; break;
	case DECODE_MALFORMED: r->stats.malformed++; break;
	default: r->stats.not_ip++; break;
	}
}

/* One frame on ifname (unless its link header has an index) whose
 * direction is dir (0: from the link header or cfg.local), decoded into p
 * (context fields included) but not decided. */
static enum decode_status frame_packet(struct replay *r, int linktype,
				       const uint8_t *frame, size_t caplen,
				       size_t wirelen, const char *ifname,
				       enum iftype iftype, unsigned dir,
				       struct packet *p)
{
	struct link_info li;
	uint32_t declared = 0;
	bool cut = wirelen > caplen;
	enum decode_status st;

	r->stats.frames++;
	st = link_decode(linktype, frame, caplen, &li);
	if (st != DECODE_OK) {
		count_skipped(r, st);
		return st;
	}
	if (cut)
		li.ip = fit_lengths(r, li.ip, &li.iplen, &declared);

	/* packet_decode() sets every layer 3/4 field; the owner fields stay
	 * unknown (zeroed in replay_new) and the rest is set below. */
	st = packet_decode(li.ip, li.iplen, p);
	if (st != DECODE_OK) {
		count_skipped(r, st);
		return st;
	}
	if (cut && declared > p->len)
		p->len = declared;

	if (li.has_index) {
		const struct ifcache_slot *slot = interface_of_index(r, li.index);
		memcpy(p->ifname, slot->name, sizeof(p->ifname));
		p->iftype = slot->type;
	} else {
		memcpy(p->ifname, ifname, sizeof(p->ifname));
		p->iftype = iftype;
	}
	p->dir = dir ? dir : li.dir ? li.dir : direction_from_local(r, p);
	p->ifaddrs = r->ifaddrs;
	return DECODE_OK;
}

/* Decides a decoded packet captured at ts_ns, with state. */
static void decide_packet(struct replay *r, const struct packet *p, uint64_t ts_ns,
			  const struct flow_prefetch *pf)
{
	struct decision d;

	/* Capture clocks may step back (and files follow each other): the
	 * flow table's clock only moves forward. */
	if (ts_ns > r->now)
		r->now = ts_ns;

	flow_table_packet_ahead(r->flows, r->rs, p, r->now, NULL, pf, &d);
	r->stats.evictions = flow_table_evictions(r->flows);
	r->stats.packets++;
	r->stats.bytes += p->len;
	if (d.skipped) {
		r->stats.skipped++;
		r->stats.passed++;
		if (p->dir == DIR_OUT && r->cfg.leaks &&
		    ifmatch_matches(r->cfg.leaks, p->ifname, p->iftype))
			record_skipped_leak(r, p->ifname);
	} else if (d.verdict == VERDICT_PASS) {
		r->stats.passed++;
		if (p->dir == DIR_OUT) {
			if (flow_table_last_began(r->flows))
				learn_interface_address(r, p);
			if (r->cfg.leaks &&
			    ifmatch_matches(r->cfg.leaks, p->ifname, p->iftype))
				flow_table_flag_last(r->flows);
		}
	} else {
		r->stats.blocked++;
	}
}

/* The pipeline: frames are decoded PIPELINE_LAG packets ahead of their
 * decision. When a packet is decoded its flow's slot is prefetched,
 * PIPELINE_LAG / 2 packets later its entry, and PIPELINE_LAG packets later
 * it is decided with the key made for the prefetch; so the flow table's
 * cache misses overlap the work on the packets before it. Decisions keep
 * the frames' order. */
static void pipeline_decide_oldest(struct replay *r)
{
	struct pending_packet *pp = &r->pending[r->pending_head % PIPELINE_SIZE];

	decide_packet(r, &pp->packet, pp->ts_ns, &pp->prefetch);
	r->pending_head++;
	r->pending_count--;
}

static void pipeline_drain(struct replay *r)
{
	while (r->pending_count)
		pipeline_decide_oldest(r);
}

static void feed_frame(struct replay *r, int linktype, const uint8_t *frame,
		       size_t caplen, size_t wirelen, uint64_t ts_ns,
		       const char *ifname, enum iftype iftype, unsigned dir)
{
	unsigned at = (r->pending_head + r->pending_count) % PIPELINE_SIZE;
	struct pending_packet *pp = &r->pending[at];

	if (frame_packet(r, linktype, frame, caplen, wirelen, ifname, iftype, dir,
			 &pp->packet) != DECODE_OK)
		return;
	pp->ts_ns = ts_ns;
	flow_table_prefetch(r->flows, &pp->packet, &pp->prefetch);
	if (r->pending_count >= PIPELINE_LAG / 2)
		flow_table_prefetch_entry(r->flows,
					  &r->pending[(at + PIPELINE_SIZE - PIPELINE_LAG / 2) %
						      PIPELINE_SIZE].prefetch);
	r->pending_count++;
	if (r->pending_count > PIPELINE_LAG)
		pipeline_decide_oldest(r);
}

enum decode_status replay_frame(struct replay *r, int linktype,
				const uint8_t *frame, size_t caplen,
				size_t wirelen, uint64_t ts_ns)
{
	enum decode_status st = frame_packet(r, linktype, frame, caplen, wirelen,
					     r->iface, r->iface_type, 0, &r->packet);

	if (st == DECODE_OK)
		decide_packet(r, &r->packet, ts_ns, NULL);
	return st;
}

/* A capture being replayed: its next frame, and the interface of frames
 * that name none. */
struct source {
	struct capture *capture;
	struct capture_frame frame;
	bool live;               /* frame holds the next frame */
	char ifname[IFW_IFNAMSIZ];
	enum iftype iftype;
};

static void decide_source_frame(struct replay *r, const struct source *s)
{
	const struct capture_frame *f = &s->frame;
	const struct capture_interface *ci = f->iface;

	if (ci->name[0])
		feed_frame(r, ci->linktype, f->data, f->caplen, f->wirelen, f->ts_ns,
			   ci->name, ci->type, f->dir);
	else
		feed_frame(r, ci->linktype, f->data, f->caplen, f->wirelen, f->ts_ns,
			   s->ifname, s->iftype, f->dir);
}

/* Reads the source's next frame: 0, or capture_next()'s error. */
static int advance(struct replay *r, struct source *s, char *err, size_t errsize)
{
	int rc = capture_next(s->capture, &s->frame, err, errsize);

	s->live = rc == 1;
	if (rc < 0 || (rc == 0 && capture_warning(s->capture)))
		r->stats.read_errors++;
	return rc < 0 ? rc : 0;
}

int replay_captures(struct replay *r, const struct replay_input *inputs, size_t n,
		    char *err, size_t errsize)
{
	struct source *src = calloc(n ? n : 1, sizeof(*src));
	int rc = 0;

	if (err && errsize)
		err[0] = '\0';
	if (!src) {
		snprintf(err, errsize, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		const char *name = inputs[i].ifname ? inputs[i].ifname : r->iface;
		src[i].capture = inputs[i].capture;
		snprintf(src[i].ifname, sizeof(src[i].ifname), "%s", name);
		src[i].iftype = iftype_from_name(src[i].ifname);
	}
	/* Every capture's first frame before any is decided. */
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = advance(r, &src[i], err, errsize);
	if (n == 1) {
		while (rc == 0 && src[0].live) {
			decide_source_frame(r, &src[0]);
			rc = advance(r, &src[0], err, errsize);
		}
	}
	while (rc == 0 && n > 1) {
		/* The earliest frame; on a tie, the first capture's. */
		struct source *next = NULL;
		for (size_t i = 0; i < n; i++)
			if (src[i].live && (!next || src[i].frame.ts_ns < next->frame.ts_ns))
				next = &src[i];
		if (!next)
			break;
		decide_source_frame(r, next);
		rc = advance(r, next, err, errsize);
	}
	/* What was read is decided, also when a capture failed. */
	pipeline_drain(r);
	free(src);
	return rc;
}

int replay_file(struct replay *r, const char *path, char *err, size_t errsize)
{
	struct replay_input in = { 0 };
	int rc = capture_open(path, replay_linktype_supported, &in.capture, err, errsize);

	if (rc < 0)
		return rc;
	rc = replay_captures(r, &in, 1, err, errsize);
	if (rc == 0 && capture_warning(in.capture))
		snprintf(err, errsize, "%s", capture_warning(in.capture));
	capture_close(in.capture);
	return rc;
}

const struct replay_stats *replay_stats(const struct replay *r)
{
	return &r->stats;
}

/* Live flows as reported, in creation order. */
struct live_visit {
	struct replay *r;
	replay_flow_fn fn;
	void *ctx;
};

static void visit_live(const struct flow *live, void *ctx)
{
	struct live_visit *v = ctx;
	struct replay_flow_info info;
	struct flow f = *live;

	flow_as_reported(v->r, &f, &info);
	v->fn(&f, &info, v->ctx);
}

/* Ended and live flows together, to be sorted by creation order. */
struct flow_collection {
	struct replay *r;
	struct replay_flow_record *items;
	size_t count;
};

static void collect_live(const struct flow *live, void *ctx)
{
	struct flow_collection *c = ctx;
	struct replay_flow_record *e = &c->items[c->count++];

	e->flow = *live;
	flow_as_reported(c->r, &e->flow, &e->info);
}

static int compare_flow_id(const void *a, const void *b)
{
	const struct replay_flow_record *x = a, *y = b;

	return x->flow.id < y->flow.id ? -1 : x->flow.id > y->flow.id;
}

int replay_foreach_flow(struct replay *r, replay_flow_fn fn, void *ctx)
{
	struct live_visit v = { .r = r, .fn = fn, .ctx = ctx };
	struct flow_collection all = { .r = r };
	size_t total;

	if (r->cfg.on_flow_end) {
		flow_table_foreach(r->flows, visit_live, &v);
		return r->out_of_memory ? -ENOMEM : 0;
	}
	if (r->out_of_memory)
		return -ENOMEM;
	total = r->ended.count + flow_table_count(r->flows);
	all.items = malloc((total ? total : 1) * sizeof(*all.items));
	if (!all.items)
		return -ENOMEM;
	if (r->ended.count)
		memcpy(all.items, r->ended.items, r->ended.count * sizeof(*all.items));
	all.count = r->ended.count;
	flow_table_foreach(r->flows, collect_live, &all);
	if (all.count)
		qsort(all.items, all.count, sizeof(*all.items), compare_flow_id);
	for (size_t i = 0; i < all.count; i++)
		fn(&all.items[i].flow, &all.items[i].info, ctx);
	free(all.items);
	return 0;
}
