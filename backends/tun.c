/* The tun backend: set-up, the packet loop and teardown (see tun.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <linux/capability.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>

#include "backends/backend.h"
#include "backends/control.h"
#include "backends/iftable.h"
#include "backends/caps.h"
#include "backends/forwarding_state.h"
#include "backends/route.h"
#include "backends/tun.h"
#include "filter/logline.h"
#include "backends/tun_coalesce.h"
#include "filter/json.h"

/* Packets read from one device before looking at the other (fairness). */
#define TUN_BATCH 64
/* Route cache: direct-mapped, invalidated wholesale by a generation bump
 * whenever the host's links, addresses, routes or policy rules change. */
#define EGRESS_SLOTS 4096
#define EXPIRE_INTERVAL_NS 1000000000ull
/* Both devices carry a virtio-net header before each packet and take the
 * same offloads (so a header read from one is valid on the other and goes
 * along unchanged): checksums left to do, TCP segmentation (with ECN) and,
 * where the kernel has it (6.2), UDP segmentation. A stack hands over
 * 64 KiB segments that cost one read, one decision (their headers are the
 * flow's) and one write, and are cut into packets only where they leave
 * the host or the client, as wireguard-go and virtio devices do. */
#define VNET_HDR_LEN ((int)sizeof(struct virtio_net_hdr))
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#define TUN_F_USO6 0x40
#endif
#define TUN_OFFLOADS (TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN)
#define TUN_OFFLOADS_USO (TUN_F_USO4 | TUN_F_USO6)

struct egress_entry {
	uint32_t generation;     /* 0: empty */
	uint8_t family;
	uint8_t remote[16], local[16];
	int ifindex;             /* < 0: no route (cached too) */
	char ifname[IFW_IFNAMSIZ];
	enum iftype type;
};

/* One client prefix: the host side takes its first address, the client
 * the second. */
struct client_net {
	struct ifw_prefix prefix;
	struct ifw_addr host, client;
};

struct tun_backend {
	struct backend base;             /* the contract: backend.h */
	struct tun_options opts;         /* the caller's, copied */
	const struct tun_options *o;     /* &opts */
	struct backend_error error;      /* what failed last */
	const char *client_ifname, *host_ifname;
	struct client_net nets[TUN_MAX_PREFIXES];
	size_t nnets;
	int orig_netns, client_netns;
	/* The record of the forwarding sysctls turned on ('' when none). */
	char forwarding_file[256];
	int client_fd, host_fd;          /* the TUN devices */
	unsigned client_offloads, host_offloads; /* TUN_F_* each accepted */
	int client_ifindex, host_ifindex;
	struct route_socket *rt;         /* host namespace requests */
	struct route_socket *monitor;    /* host namespace route changes */
	struct iftable *interfaces;      /* host namespace links and addresses */

	/* The set in force as the packet path reads it: base.rs, the
	 * backend's own reference. */
	const struct ruleset *rs;
	struct flow_table *flows;

	uint32_t generation;
	struct egress_entry egress[EGRESS_SLOTS];
	struct tun_stats stats;
	/* A virtio-net header, then the IP packet. */
	uint8_t packet[VNET_HDR_LEN + 65536];
	uint8_t answer[VNET_HDR_LEN + TUN_REJECT_MAX];
	/* Passed UDP datagrams of one flow not written yet, and where they
	 * go (batched writes, see tun_coalesce.h); written before any other
	 * packet to that device and at the end of each batch of reads. */
	bool merge_udp;                  /* both devices take USO packets */
	int pending_fd;
	struct udp_coalesce pending;
};

/* Describes a failure in be->error (with strerror(err) when err is not 0)
 * and returns -err: 'return set_error(be, errno, ...)'. err is read twice:
 * a plain value (errno, -ret, a constant). */
#define set_error(be, err, ...) backend_error_set(&(be)->error, -(err), (err), __VA_ARGS__)

/* --- one packet ----------------------------------------------------------- */

static void apply_context(struct packet *p, const struct tun_packet_context *ctx)
{
	p->dir = ctx->dir;
	snprintf(p->ifname, sizeof(p->ifname), "%s", ctx->ifname);
	p->iftype = ctx->iftype;
	p->ifaddrs = ctx->ifaddrs;
}

enum verdict tun_decide_packet(struct flow_table *ft, const struct ruleset *rs,
			       const uint8_t *data, size_t len,
			       const struct tun_packet_context *ctx,
			       struct tun_decided *out)
{
	memset(out, 0, sizeof(*out));
	out->status = packet_decode(data, len, &out->packet);
	if (out->status != DECODE_OK) {
		out->decision.verdict = VERDICT_BLOCK;
		return VERDICT_BLOCK;
	}
	apply_context(&out->packet, ctx);
	out->decision = flow_table_packet(ft, rs, &out->packet, ctx->now, &out->flow);
	return out->decision.verdict;
}

/* --- the host's egress interface for a remote address ------------------------ */

static uint32_t address_hash(uint8_t family, const uint8_t *remote, const uint8_t *local)
{
	uint32_t h = 2166136261u ^ family;
	size_t n = family == 4 ? 4 : 16;

	for (size_t i = 0; i < n; i++)
		h = (h ^ remote[i]) * 16777619u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ local[i]) * 16777619u;
	return h ^ (h >> 15);
}

static const struct iftable_interface *link_lookup(struct tun_backend *be, int ifindex)
{
	const struct iftable_interface *link = iftable_lookup(be->interfaces, ifindex);

	if (!link && iftable_process(be->interfaces) > 0) {
		/* A link the notifications had not told us about yet. */
		be->generation++;
		link = iftable_lookup(be->interfaces, ifindex);
	}
	return link;
}

/* The interface the host routes remote through, for traffic between it and
 * the client address local; NULL when there is no route. */
static const struct egress_entry *egress_lookup(struct tun_backend *be,
						const struct ifw_addr *remote,
						const struct ifw_addr *local)
{
	struct egress_entry *e = &be->egress[address_hash(remote->family, remote->a, local->a) %
					     EGRESS_SLOTS];
	const struct iftable_interface *link;
	int oif;

	if (e->generation == be->generation && e->family == remote->family &&
	    !memcmp(e->remote, remote->a, 16) && !memcmp(e->local, local->a, 16))
		return e->ifindex < 0 ? NULL : e;

	/* As the host would forward a packet from the client arriving on
	 * the host device (policy rules on iif and source apply); failing
	 * that, as the host itself would send it. */
	be->stats.route_lookups++;
	oif = route_lookup(be->rt, remote, local, be->host_ifindex);
	if (oif < 0) {
		be->stats.route_lookups++;
		oif = route_lookup(be->rt, remote, NULL, 0);
	}
	link = oif > 0 ? link_lookup(be, oif) : NULL;

	e->generation = be->generation;
	e->family = remote->family;
	memcpy(e->remote, remote->a, 16);
	memcpy(e->local, local->a, 16);
	if (!link) {
		e->ifindex = -1;
		return NULL;
	}
	e->ifindex = oif;
	memcpy(e->ifname, link->name, sizeof(e->ifname));
	e->type = link->type;
	return e;
}

/* --- logging ---------------------------------------------------------------- */

static void log_decision(const struct tun_backend *be, const struct packet *p,
			 const struct decision *d)
{
	struct log_record r;

	log_record_from_packet(&r, "tun", p, d);
	log_record_write_json(be->base.io.log, &r);
}

/* --- the packet loop --------------------------------------------------------- */

/* One thread and one queue per device. Several queues (IFF_MULTI_QUEUE)
 * would not make one flow faster: the kernel steers a flow to a queue by
 * its symmetric hash, so a bulk transfer or a UDP stream stays on one
 * queue however many there are. Many flows would gain, but the flow table
 * is not thread-safe, and sharding it by queue is not exact: non-first
 * fragments hash on the addresses alone and ICMP errors on the reporting
 * router's address, so they reach another queue than the flow they belong
 * to, whose state they need. What costs per packet is the system calls and
 * the host's forwarding of each packet; offloads remove both for TCP and
 * UDP segmentation packets, and batched writes (tun_coalesce.h) do it for
 * runs of small datagrams. What remains for bulk traffic is copying each
 * byte out of one device and into the other. */

static bool write_frame(int fd, const uint8_t *data, size_t len)
{
	ssize_t n;

	do
		n = write(fd, data, len);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)len;
}

static void write_packet(struct tun_backend *be, int fd, const uint8_t *data, size_t len)
{
	if (!write_frame(fd, data, len))
		be->stats.write_errors++;
}

static void flush_pending(struct tun_backend *be)
{
	struct udp_coalesce *c = &be->pending;
	size_t len = udp_coalesce_finish(c);

	if (!len)
		return;
	if (!write_frame(be->pending_fd, c->frame, len))
		be->stats.write_errors += c->count;
	else if (c->count > 1)
		be->stats.udp_merged += c->count;
	udp_coalesce_reset(c);
}

/* Writes a passed frame to fd: at once, or held back while it extends a
 * run of UDP datagrams that can go out as one write. */
static void forward(struct tun_backend *be, int fd, const uint8_t *frame, size_t len)
{
	if (be->merge_udp) {
		if (be->pending.count && be->pending_fd == fd &&
		    udp_coalesce_add(&be->pending, frame, len))
			return;
		flush_pending(be);
		if (udp_coalesce_add(&be->pending, frame, len)) {
			be->pending_fd = fd;
			return;
		}
	}
	write_packet(be, fd, frame, len);
}

/* Decides one packet read from the client (from_client) or host device
 * (frame: virtio-net header and IP packet) and carries the verdict out. */
static void handle_packet(struct tun_backend *be, const uint8_t *frame, size_t frame_len,
			  bool from_client, uint64_t now)
{
	const uint8_t *data = frame + VNET_HDR_LEN;
	size_t len = frame_len - VNET_HDR_LEN;
	const struct egress_entry *egress;
	const struct ifw_addr *remote, *local;
	const struct flow *flow = NULL;
	struct decision d;
	struct packet p;
	size_t n;

	memset(&p, 0, sizeof(p));
	if (packet_decode(data, len, &p) != DECODE_OK) {
		be->stats.undecodable++;
		return;
	}
	remote = from_client ? &p.dst : &p.src;
	local = from_client ? &p.src : &p.dst;
	if (p.has_inner && p.inner.dst.family == p.family) {
		/* An ICMP error (say "fragmentation needed" from a router, the
		 * host itself included) about a packet of some flow: checked
		 * on the interface that flow uses, so it is related to it. */
		remote = from_client ? &p.inner.src : &p.inner.dst;
		local = from_client ? &p.inner.dst : &p.inner.src;
	}
	egress = egress_lookup(be, remote, local);
	if (!egress) {
		be->stats.no_route++;
		return;
	}
	p.dir = from_client ? DIR_OUT : DIR_IN;
	memcpy(p.ifname, egress->ifname, sizeof(p.ifname));
	p.iftype = egress->type;
	p.ifaddrs = iftable_ifaddrs(be->interfaces);

	d = flow_table_packet(be->flows, be->rs, &p, now, &flow);
	if (be->base.io.log && (!flow || flow->packets == 1))
		log_decision(be, &p, &d);

	switch (d.verdict) {
	case VERDICT_PASS:
		be->stats.passed++;
		/* With its header: offload state (segmentation, checksum
		 * still to do) goes along with the packet. */
		forward(be, from_client ? be->host_fd : be->client_fd, frame, frame_len);
		break;
	case VERDICT_REJECT:
		be->stats.rejected++;
		n = tun_reject_build(data, len, be->answer + VNET_HDR_LEN,
				     sizeof(be->answer) - VNET_HDR_LEN);
		if (n) /* a plain packet: zero header, no offloads */
			write_packet(be, from_client ? be->client_fd : be->host_fd,
				     be->answer, VNET_HDR_LEN + n);
		break;
	case VERDICT_BLOCK:
	default:
		be->stats.blocked++;
		break;
	}
}

/* Reads up to TUN_BATCH packets from one device. Returns 0, or -errno when
 * the device broke. */
static int pump(struct tun_backend *be, bool from_client, uint64_t now)
{
	int fd = from_client ? be->client_fd : be->host_fd;
	int ret = 0;

	for (int i = 0; i < TUN_BATCH; i++) {
		ssize_t n = read(fd, be->packet, sizeof(be->packet));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				ret = -errno;
			break;
		}
		if (from_client)
			be->stats.from_client++;
		else
			be->stats.from_host++;
		if (n <= VNET_HDR_LEN) {
			be->stats.undecodable++;
			continue;
		}
		handle_packet(be, be->packet, (size_t)n, from_client, now);
	}
	flush_pending(be);
	return ret;
}

/* --- the rule set in force ------------------------------------------------- */

static int tun_set_ruleset_impl(struct backend *base, const struct ruleset *rs,
				struct backend_error *err)
{
	struct tun_backend *be = (struct tun_backend *)base;
	size_t changed;

	if (!rs)
		return backend_error_set(err, -EINVAL, 0, "no rule set");
	/* Flows point at rules of the set in force: re-check them against
	 * the new one before the old one goes. */
	changed = flow_table_recheck(be->flows, rs);
	be->rs = rs;
	backend_swap_ruleset(&be->base, rs);
	return changed > 0x7fffffff ? 0x7fffffff : (int)changed;
}

int tun_set_ruleset(struct tun_backend *be, const struct ruleset *rs,
		    struct backend_error *err)
{
	return tun_set_ruleset_impl(&be->base, rs, err);
}

static void reload_rules(struct tun_backend *be)
{
	backend_call_reload(&be->base, &be->stats.reloads, &be->stats.reload_failures);
}

static int packet_loop(struct tun_backend *be, const struct backend_stop *stop)
{
	struct backend_signals sig;
	uint64_t last_expire = backend_now_ns();
	bool signal_ready = false;
	int ret;

	ret = backend_signals_begin(&sig, stop, &be->error);
	if (ret < 0)
		return ret;
	for (;;) {
		unsigned signals = backend_signals_take(&sig, signal_ready);
		if (signals & BACKEND_SIGNAL_STOP)
			break;
		if (signals & BACKEND_SIGNAL_RELOAD)
			reload_rules(be);
		struct pollfd fds[6] = {
			{ .fd = be->client_fd, .events = POLLIN },
			{ .fd = be->host_fd, .events = POLLIN },
			{ .fd = route_socket_fd(be->monitor), .events = POLLIN },
			{ .fd = iftable_fd(be->interfaces), .events = POLLIN },
			{ .fd = be->o->control ? control_server_fd(be->o->control) : -1,
			  .events = POLLIN },
			{ .fd = backend_signals_fd(&sig), .events = POLLIN },
		};
		uint64_t now;
		int n;

		n = backend_signals_wait(&sig, fds, 6, 1000);
		signal_ready = n > 0 && fds[5].revents & POLLIN;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			set_error(be, errno, "waiting for packets");
			break;
		}
		now = backend_now_ns();
		/* Routes, links or addresses changed (or we lost track):
		 * forget every cached route, so each flow's next packet is
		 * looked up again and decided anew if it moved. */
		if (fds[2].revents && route_monitor_drain(be->monitor) != 0)
			be->generation++;
		if (fds[3].revents && iftable_process(be->interfaces) != 0)
			be->generation++;
		if (fds[4].revents & POLLIN)
			control_server_serve(be->o->control);
		if ((fds[0].revents | fds[1].revents) & (POLLERR | POLLHUP | POLLNVAL)) {
			ret = -ENODEV;
			set_error(be, 0, "%s disappeared",
				  fds[0].revents & (POLLERR | POLLHUP | POLLNVAL) ?
				  be->client_ifname : be->host_ifname);
			break;
		}
		if (fds[0].revents & POLLIN)
			ret = pump(be, true, now);
		if (!ret && fds[1].revents & POLLIN)
			ret = pump(be, false, now);
		if (be->base.io.log) /* once per batch, not per line */
			fflush(be->base.io.log);
		if (ret < 0) {
			set_error(be, -ret, "reading from the TUN devices");
			break;
		}
		if (now - last_expire >= EXPIRE_INTERVAL_NS) {
			flow_table_expire(be->flows, now);
			last_expire = now;
		}
	}
	backend_signals_end(&sig);
	return ret;
}

/* --- set-up and teardown ------------------------------------------------------ */


/* Opens a TUN device named name in the current namespace; it must not
 * exist yet (TUNSETIFF would otherwise attach to a persistent one).
 * *offloads gets the TUN_F_* flags it took. */
static int tun_create(const char *name, int *ifindex, unsigned *offloads)
{
	struct ifreq ifr;
	int fd, err;

	if (if_nametoindex(name))
		return -EEXIST;
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI | IFF_VNET_HDR;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0 ||
	    ioctl(fd, TUNSETVNETHDRSZ, &(int){ VNET_HDR_LEN }) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	/* The kernel refuses the whole set when it lacks one: try without
	 * UDP segmentation (before 6.2), then without any (packets just come
	 * one by one). */
	*offloads = TUN_OFFLOADS | TUN_OFFLOADS_USO;
	if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)*offloads) < 0) {
		*offloads = TUN_OFFLOADS;
		if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)*offloads) < 0)
			*offloads = 0;
	}
	*ifindex = (int)if_nametoindex(name);
	if (*ifindex <= 0) {
		err = -errno;
		close(fd);
		return err ? err : -ENODEV;
	}
	return fd;
}

/* Adds n to an address (host order arithmetic on the low bytes). */
static struct ifw_addr address_plus(const struct ifw_addr *base, unsigned n)
{
	struct ifw_addr a = *base;
	int last = base->family == 4 ? 3 : 15;

	for (int i = last; i >= 0 && n; i--) {
		unsigned v = a.a[i] + n;

		a.a[i] = (uint8_t)v;
		n = v >> 8;
	}
	return a;
}

/* Addresses, link up and (client side) the default routes on one device. */
static int configure_link(struct tun_backend *be, struct route_socket *rt,
			  int ifindex, const char *name, bool client_side)
{
	int ret;

	ret = route_link_disable_ipv6_autoconf(rt, ifindex);
	if (ret < 0 && ret != -EAFNOSUPPORT && ret != -EOPNOTSUPP) {
		set_error(be, -ret, "turning off IPv6 autoconfiguration on %s", name);
		return ret;
	}
	for (size_t i = 0; i < be->nnets; i++) {
		const struct client_net *net = &be->nets[i];

		ret = route_addr_add(rt, ifindex, client_side ? &net->client : &net->host,
				     net->prefix.len);
		if (ret < 0) {
			set_error(be, -ret, "adding an address to %s", name);
			return ret;
		}
	}
	ret = route_link_set_up(rt, ifindex, true, be->o->mtu ? be->o->mtu : TUN_DEFAULT_MTU);
	if (ret < 0) {
		set_error(be, -ret, "setting %s up", name);
		return ret;
	}
	for (size_t i = 0; client_side && i < be->nnets; i++) {
		struct ifw_prefix any = { .addr = { .family = be->nets[i].prefix.addr.family } };

		ret = route_add(rt, ifindex, &any);
		if (ret == -EEXIST) {
			set_error(be, 0, "the client namespace %s already has a default route",
				  be->o->netns);
			return ret;
		}
		if (ret < 0) {
			set_error(be, -ret, "adding the default route through %s", name);
			return ret;
		}
	}
	return 0;
}

/* Creates the client device inside the client namespace and configures it
 * there; the device's file descriptor keeps working from the host. */
static int setup_client(struct tun_backend *be)
{
	struct route_socket *rt = NULL;
	int ret, fd;

	if (setns(be->client_netns, CLONE_NEWNET) < 0) {
		return set_error(be, errno, "entering network namespace %s", be->o->netns);
	}
	fd = tun_create(be->client_ifname, &be->client_ifindex, &be->client_offloads);
	if (fd < 0) {
		ret = fd;
		if (ret == -EEXIST)
			set_error(be, 0, "%s already exists in namespace %s",
				  be->client_ifname, be->o->netns);
		else
			set_error(be, -ret, "creating %s in namespace %s",
				  be->client_ifname, be->o->netns);
		goto back;
	}
	be->client_fd = fd;
	rt = route_socket_open();
	if (!rt) {
		ret = -errno;
		set_error(be, errno, "opening rtnetlink in namespace %s", be->o->netns);
		goto back;
	}
	ret = configure_link(be, rt, be->client_ifindex, be->client_ifname, true);
back:
	route_socket_free(rt);
	if (setns(be->orig_netns, CLONE_NEWNET) < 0) {
		/* Cannot happen for a namespace we were in; refuse to go on
		 * in the wrong one. */
		return set_error(be, errno, "returning to the host network namespace");
	}
	return ret;
}

static int open_netns(const char *name)
{
	char path[256];

	if (strchr(name, '/'))
		snprintf(path, sizeof(path), "%s", name);
	else
		snprintf(path, sizeof(path), "/var/run/netns/%s", name);
	return open(path, O_RDONLY | O_CLOEXEC);
}

static void teardown(struct tun_backend *be)
{
	if (be->forwarding_file[0])
		forwarding_release(be->forwarding_file);
	/* The devices are not persistent: closing them deletes them, and
	 * their addresses and routes with them. */
	if (be->client_fd >= 0)
		close(be->client_fd);
	if (be->host_fd >= 0)
		close(be->host_fd);
	be->client_fd = be->host_fd = -1;
	route_socket_free(be->monitor);
	route_socket_free(be->rt);
	be->monitor = be->rt = NULL;
	iftable_free(be->interfaces);
	be->interfaces = NULL;
	if (be->client_netns >= 0)
		close(be->client_netns);
	if (be->orig_netns >= 0)
		close(be->orig_netns);
	be->client_netns = be->orig_netns = -1;
	flow_table_free(be->flows);
	be->flows = NULL;
}

int tun_prefixes_check(const struct ifw_prefix *prefixes, size_t n,
		       char *error, size_t error_size)
{
	bool seen[2] = { false, false };
	char text[64];

	if (n > TUN_MAX_PREFIXES) {
		snprintf(error, error_size, "at most one IPv4 and one IPv6 prefix");
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		const struct ifw_prefix *p = &prefixes[i];
		unsigned max = p->addr.family == 4 ? 30 : 126;
		bool *family_seen = &seen[p->addr.family == 6];

		ifw_prefix_format(p, text, sizeof(text));
		if (p->len > max) {
			snprintf(error, error_size, "prefix %s is too small: it needs room "
				 "for two addresses (at most /%u)", text, max);
			return -EINVAL;
		}
		if (*family_seen) {
			snprintf(error, error_size, "prefix %s: at most one IPv4 and one IPv6 prefix", text);
			return -EINVAL;
		}
		*family_seen = true;
	}
	return 0;
}

static int set_prefixes(struct tun_backend *be)
{
	const struct tun_options *o = be->o;
	struct ifw_prefix fallback;
	const struct ifw_prefix *prefixes = o->prefixes;
	size_t n = o->nprefixes;
	char error[128];

	if (!n) {
		ifw_prefix_parse(TUN_DEFAULT_PREFIX, &fallback);
		prefixes = &fallback;
		n = 1;
	}
	if (tun_prefixes_check(prefixes, n, error, sizeof(error)) < 0) {
		set_error(be, 0, "%s", error);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		struct client_net *net = &be->nets[i];

		net->prefix = prefixes[i];
		net->host = address_plus(&prefixes[i].addr, 1);
		net->client = address_plus(&prefixes[i].addr, 2);
	}
	be->nnets = n;
	return 0;
}

static int setup(struct tun_backend *be)
{
	const struct tun_options *o = be->o;
	int ret;

	if (!o->netns || !*o->netns) {
		set_error(be, 0, "no client network namespace given");
		return -EINVAL;
	}
	ret = set_prefixes(be);
	if (ret < 0)
		return ret;

	be->flows = flow_table_new(o->limits);
	if (!be->flows) {
		set_error(be, ENOMEM, "creating the flow table");
		return -ENOMEM;
	}
	be->orig_netns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (be->orig_netns < 0) {
		return set_error(be, errno, "opening /proc/self/ns/net");
	}
	be->client_netns = open_netns(o->netns);
	if (be->client_netns < 0) {
		return set_error(be, errno, "opening network namespace %s", o->netns);
	}
	be->rt = route_socket_open();
	be->monitor = be->rt ? route_monitor_open() : NULL;
	if (!be->monitor) {
		return set_error(be, errno, "opening rtnetlink");
	}
	ret = iftable_open(&be->interfaces, IFTABLE_WATCH);
	if (ret < 0) {
		set_error(be, -ret, "reading the interfaces");
		return ret;
	}

	ret = tun_create(be->host_ifname, &be->host_ifindex, &be->host_offloads);
	if (ret < 0) {
		if (ret == -EEXIST)
			set_error(be, 0, "%s already exists", be->host_ifname);
		else
			set_error(be, -ret, "creating %s", be->host_ifname);
		return ret;
	}
	be->host_fd = ret;
	ret = setup_client(be);
	if (ret < 0)
		return ret;
	ret = configure_link(be, be->rt, be->host_ifindex, be->host_ifname, false);
	if (ret < 0)
		return ret;
	/* Offloads must match for headers to pass unchanged; a kernel that
	 * has UDP segmentation also takes USO packets written to a device. */
	if (be->client_offloads != be->host_offloads) {
		set_error(be, 0, "%s and %s took different offloads", be->client_ifname,
			  be->host_ifname);
		return -EOPNOTSUPP;
	}
	be->merge_udp = (be->host_offloads & TUN_OFFLOADS_USO) == TUN_OFFLOADS_USO;

	/* The originals are remembered on disk, so that after a kill -9
	 * the next run still puts back what the host had. */
	const char *forwarding[TUN_MAX_PREFIXES];
	char why[300];
	for (size_t i = 0; i < be->nnets; i++)
		forwarding[i] = be->nets[i].prefix.addr.family == 4 ?
			"/proc/sys/net/ipv4/ip_forward" :
			"/proc/sys/net/ipv6/conf/all/forwarding";
	ret = forwarding_acquire(o->state_dir, forwarding, be->nnets, be->forwarding_file,
				 sizeof(be->forwarding_file), why, sizeof(why));
	if (ret < 0) {
		be->forwarding_file[0] = '\0';
		set_error(be, 0, "%s", why);
		return ret;
	}
	/* Route notifications from our own set-up are already in the
	 * monitor: nothing is cached yet, so they need no attention. */
	return 0;
}

static int tun_run_impl(struct backend *base, const struct backend_stop *stop,
			struct backend_error *err);
static void tun_free_impl(struct backend *base);

static const struct backend_ops tun_ops = {
	.set_ruleset = tun_set_ruleset_impl,
	.run = tun_run_impl,
	.free = tun_free_impl,
};

/* The caller's error from be->error (returns its code). */
static int report(const struct tun_backend *be, struct backend_error *err, int ret)
{
	if (ret >= 0)
		return ret;
	return backend_error_set(err, ret, 0, "%s",
				 be->error.message[0] ? be->error.message : strerror(-ret));
}

int tun_open(struct tun_backend **out, const struct tun_options *o,
	     struct backend_error *err)
{
	struct tun_backend *be = calloc(1, sizeof(*be));
	char prefix[64], host[64], client[64];
	int ret;

	backend_error_clear(err);
	*out = NULL;
	if (!be)
		return backend_error_set(err, -ENOMEM, ENOMEM, "starting the tun backend");
	be->base.ops = &tun_ops;
	be->base.name = "tun";
	be->base.io = o->io;
	be->opts = *o;
	be->o = &be->opts;
	be->client_ifname = o->client_ifname ? o->client_ifname : TUN_DEFAULT_CLIENT_IFNAME;
	be->host_ifname = o->host_ifname ? o->host_ifname : TUN_DEFAULT_HOST_IFNAME;
	be->orig_netns = be->client_netns = be->client_fd = be->host_fd = -1;
	be->generation = 1;

	ret = setup(be);
	if (ret == 0 && !o->keep_capabilities) {
		static const int keep[] = { CAP_NET_ADMIN };
		char why[160];
		ret = caps_keep_only(keep, 1, why, sizeof(why));
		if (ret < 0)
			set_error(be, 0, "%s", why);
	}
	if (ret < 0) {
		report(be, err, ret);
		tun_free(be);
		return ret;
	}
	for (size_t i = 0; i < be->nnets; i++)
		backend_message(&be->base, "tun: %s %s in namespace %s <-> %s %s (prefix %s)",
			be->client_ifname,
			ifw_addr_format(&be->nets[i].client, client, sizeof(client)),
			o->netns, be->host_ifname,
			ifw_addr_format(&be->nets[i].host, host, sizeof(host)),
			ifw_prefix_format(&be->nets[i].prefix, prefix, sizeof(prefix)));
	*out = be;
	return 0;
}

static int tun_run_impl(struct backend *base, const struct backend_stop *stop,
			struct backend_error *err)
{
	struct tun_backend *be = (struct tun_backend *)base;

	backend_error_clear(err);
	memset(&be->error, 0, sizeof(be->error));
	if (!be->rs)
		return backend_error_set(err, -EINVAL, 0, "no rule set in force");
	return report(be, err, packet_loop(be, stop));
}

int tun_run(struct tun_backend *be, const struct backend_stop *stop,
	    struct backend_error *err)
{
	return tun_run_impl(&be->base, stop, err);
}

void tun_get_stats(const struct tun_backend *be, struct tun_stats *out)
{
	*out = be->stats;
}

struct backend *tun_backend(struct tun_backend *be)
{
	return be ? &be->base : NULL;
}

static void tun_free_impl(struct backend *base)
{
	tun_free((struct tun_backend *)base);
}

void tun_free(struct tun_backend *be)
{
	if (!be)
		return;
	teardown(be);
	ruleset_free(be->base.rs);
	free(be);
}
