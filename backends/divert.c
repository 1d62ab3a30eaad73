/* The divert backend: queued packets -> engine -> verdicts. See divert.h. */
#include "backends/divert.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/capability.h>
#include <linux/netfilter.h>

#include "backends/divert_internal.h"
#include "backends/iftable.h"
#include "backends/route.h"
#include "filter/json.h"

/* Packets handled per wakeup before verdicts are sent and the other
 * sockets get a turn. */
#define DIVERT_BURST 256
/* How long the loop keeps polling without sleeping after it decided packets:
 * at most this much CPU per burst of new flows. */
#define DIVERT_BUSY_POLL_NS 50000u

struct divert {
	struct divert_options opts;
	struct ruleset *rs;
	struct iftable *ift;
	struct route_socket *routes; /* where ICMP echo at prerouting goes */
	struct nfqueue *q;
	struct flow_table *ft;
	enum divert_queue_kind kind;
	bool table_installed;
	struct divert_stats stats;
	uint64_t last_expire;
};

static uint64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* --- capabilities -------------------------------------------------------- */

/* Keeps only CAP_NET_ADMIN (queue verdicts, the table, conntrack marks):
 * the bounding set loses everything else, then the process's sets. */
static int drop_capabilities(char *err, size_t errlen)
{
	for (int cap = 0; cap <= 63; cap++) {
		if (cap == CAP_NET_ADMIN)
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno == EINVAL)
			break; /* past the last capability this kernel knows */
	}
	struct __user_cap_header_struct header = {
		.version = _LINUX_CAPABILITY_VERSION_3,
		.pid = 0,
	};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = { { 0 } };
	data[CAP_TO_INDEX(CAP_NET_ADMIN)].effective = CAP_TO_MASK(CAP_NET_ADMIN);
	data[CAP_TO_INDEX(CAP_NET_ADMIN)].permitted = CAP_TO_MASK(CAP_NET_ADMIN);
	if (syscall(SYS_capset, &header, data) < 0) {
		snprintf(err, errlen, "dropping capabilities: %s", strerror(errno));
		return -errno;
	}
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	return 0;
}

static bool has_net_admin(void)
{
	struct __user_cap_header_struct header = {
		.version = _LINUX_CAPABILITY_VERSION_3,
		.pid = 0,
	};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = { { 0 } };

	if (syscall(SYS_capget, &header, data) < 0)
		return true; /* let the kernel say */
	return data[CAP_TO_INDEX(CAP_NET_ADMIN)].effective & CAP_TO_MASK(CAP_NET_ADMIN);
}

/* --- logging ------------------------------------------------------------- */

static const char *proto_name(uint8_t proto, char *buf, size_t size)
{
	switch (proto) {
	case 6: return "tcp";
	case 17: return "udp";
	case 1: return "icmp";
	case 58: return "icmp6";
	}
	snprintf(buf, size, "%u", proto);
	return buf;
}

static void log_decision(FILE *out, const struct packet *p,
			 const struct decision *dec)
{
	char when[40], src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN], num[8];
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	inet_ntop(p->family == 4 ? AF_INET : AF_INET6, p->src.a, src, sizeof(src));
	inet_ntop(p->family == 4 ? AF_INET : AF_INET6, p->dst.a, dst, sizeof(dst));
	fprintf(out, "{\"time\":\"%s.%06ldZ\",\"verdict\":\"%s\",\"dir\":\"%s\",\"iface\":",
		when, ts.tv_nsec / 1000, verdict_name(dec->verdict),
		p->dir == DIR_IN ? "in" : "out");
	json_string(out, p->ifname);
	fprintf(out, ",\"proto\":\"%s\",\"src\":\"%s\",", proto_name(p->proto, num, sizeof(num)), src);
	if (p->has_ports)
		fprintf(out, "\"sport\":%u,", p->sport);
	else
		fputs("\"sport\":null,", out);
	fprintf(out, "\"dst\":\"%s\",", dst);
	if (p->has_ports)
		fprintf(out, "\"dport\":%u,", p->dport);
	else
		fputs("\"dport\":null,", out);
	if (p->has_icmp)
		fprintf(out, "\"icmp_type\":%u,", p->icmp_type);
	if (dec->skipped) {
		fputs("\"rule\":\"skip\",\"text\":null", out);
	} else if (dec->rule) {
		fprintf(out, "\"rule\":");
		char where[512];
		snprintf(where, sizeof(where), "%s:%d", dec->rule->file, dec->rule->line);
		json_string(out, where);
		fputs(",\"text\":", out);
		json_string(out, dec->rule->text);
	} else {
		fputs("\"rule\":\"default\",\"text\":null", out);
	}
	if (p->has_uid)
		fprintf(out, ",\"uid\":%u", p->uid);
	fputs("}\n", out);
}

/* --- deciding a queued packet -------------------------------------------- */

/* Names the interface of ifindex into p (name and type from the interface
 * table, refreshed once when the index is unknown). */
static void set_interface(struct divert *d, struct packet *p, uint32_t ifindex)
{
	const struct iftable_interface *ifc = iftable_lookup(d->ift, (int)ifindex);

	if (!ifc && iftable_process(d->ift) >= 0)
		ifc = iftable_lookup(d->ift, (int)ifindex);
	if (!ifc && iftable_refresh(d->ift) == 0)
		ifc = iftable_lookup(d->ift, (int)ifindex);
	if (ifc) {
		memcpy(p->ifname, ifc->name, sizeof(p->ifname));
		p->iftype = ifc->type;
	} else {
		snprintf(p->ifname, sizeof(p->ifname), "if%u", ifindex);
		p->iftype = iftype_from_name(p->ifname);
	}
	p->ifaddrs = iftable_ifaddrs(d->ift);
}

/* A packet of its conntrack entry's reply direction, on an interface
 * where the flow table may not know the flow (it started before ifwall,
 * or was forgotten while the kernel fast-pathed it): the flow is first
 * decided as its first packet was, the opposite way. A known flow just
 * passes or stays blocked from its state. */
static void decide_original_direction(struct divert *d, const struct packet *p,
				      uint64_t now)
{
	struct packet first = *p;

	first.dir = p->dir == DIR_IN ? DIR_OUT : DIR_IN;
	first.src = p->dst;
	first.dst = p->src;
	first.sport = p->dport;
	first.dport = p->sport;
	first.tcp_flags = 0x10; /* ACK: neither opening nor closing */
	first.len = 0;          /* the local socket (uid) is the same one */
	flow_table_packet(d->ft, d->rs, &first, now, NULL);
}

static struct decision decide_step(struct divert *d, struct packet *p, unsigned dir,
				   uint32_t ifindex, bool reply, uint64_t now)
{
	p->dir = dir;
	set_interface(d, p, ifindex);
	if (reply && p->has_ports && !p->fragment)
		decide_original_direction(d, p, now);
	struct decision dec = flow_table_packet(d->ft, d->rs, p, now, NULL);
	if (d->opts.log)
		log_decision(d->opts.log, p, &dec);
	return dec;
}

static int handle_packet(struct divert *d, const struct nfqueue_packet *qp, uint64_t now)
{
	struct packet p;
	struct decision dec = { .verdict = VERDICT_BLOCK };

	memset(&p, 0, sizeof(p));
	d->stats.packets++;
	if (!qp->payload || packet_decode(qp->payload, qp->len, &p) != DECODE_OK) {
		d->stats.undecodable++;
		d->stats.blocked++;
		return nfqueue_verdict(d->q, qp->id, NF_DROP, false, 0);
	}
	bool reply = qp->mark & DIVERT_PKT_REPLY;
	p.has_mark = true; /* live: the mark is always known */
	p.mark = qp->mark & ~DIVERT_PKT_REPLY; /* the packet's own mark */
	p.has_uid = qp->has_uid;
	p.uid = qp->uid;

	switch (qp->hook) {
	case NF_INET_LOCAL_OUT:
		dec = decide_step(d, &p, DIR_OUT, qp->outdev, reply, now);
		break;
	case NF_INET_LOCAL_IN:
		dec = decide_step(d, &p, DIR_IN, qp->indev, reply, now);
		break;
	case NF_INET_PRE_ROUTING: {
		/* ICMP echo, before routing: 'in' on the ingress interface,
		 * then, when the kernel would forward it, 'out' on the egress
		 * one. */
		int out = route_lookup(d->routes, &p.dst, &p.src, (int)qp->indev);
		const struct iftable_interface *ifc = out > 0 ? iftable_lookup(d->ift, out) : NULL;
		dec = decide_step(d, &p, DIR_IN, qp->indev, reply, now);
		if (out > 0 && !(ifc && ifc->type == IFTYPE_LOOPBACK) &&
		    dec.verdict == VERDICT_PASS)
			dec = decide_step(d, &p, DIR_OUT, (uint32_t)out, reply, now);
		break;
	}
	default:
		/* Forwarded: 'in' on the ingress interface, then 'out' on the
		 * egress one; both must pass. */
		if (qp->indev)
			dec = decide_step(d, &p, DIR_IN, qp->indev, reply, now);
		if (qp->outdev && (!qp->indev || dec.verdict == VERDICT_PASS))
			dec = decide_step(d, &p, DIR_OUT, qp->outdev, reply, now);
		break;
	}

	uint32_t mark = qp->mark & ~DIVERT_PKT_MASK;
	switch (dec.verdict) {
	case VERDICT_PASS:
		d->stats.passed++;
		return nfqueue_verdict(d->q, qp->id, NF_REPEAT, true, mark | DIVERT_PKT_PASS);
	case VERDICT_REJECT:
		d->stats.rejected++;
		return nfqueue_verdict(d->q, qp->id, NF_REPEAT, true, mark | DIVERT_PKT_REJECT);
	case VERDICT_BLOCK:
	default:
		d->stats.blocked++;
		return nfqueue_verdict(d->q, qp->id, NF_DROP, false, 0);
	}
}

/* Handles what is queued, up to a burst, then sends the verdicts. */
static int drain_queue(struct divert *d, char *err, size_t errlen)
{
	struct nfqueue_packet qp;
	uint64_t now = monotonic_ns();
	int r = 0;

	for (int i = 0; i < DIVERT_BURST; i++) {
		r = nfqueue_receive(d->q, &qp);
		if (r == -ENOBUFS) {
			/* The kernel dropped messages (and their packets). */
			d->stats.lost++;
			continue;
		}
		if (r <= 0)
			break;
		r = handle_packet(d, &qp, now);
		if (r < 0)
			break;
	}
	if (r >= 0)
		r = nfqueue_flush(d->q);
	if (r < 0) {
		snprintf(err, errlen, "NFQUEUE %u: %s", d->opts.queue, strerror(-r));
		return r;
	}
	if (d->opts.log)
		fflush(d->opts.log);
	return 0;
}

/* --- reload -------------------------------------------------------------- */

/* The rule set in force becomes next (taken): flows are re-checked against
 * it, and those the kernel fast-paths come back through the engine once,
 * so a flow the new rules block is blocked from its next packet. */
static void swap_rules(struct divert *d, struct ruleset *next)
{
	char err[256];
	struct ruleset *old = d->rs;

	d->rs = next;
	flow_table_recheck(d->ft, next);
	ruleset_free(old);
	divert_table_forget_passed(err, sizeof(err));
}

static void reload(struct divert *d)
{
	char err[256];

	if (!d->opts.reload)
		return;
	struct ruleset *fresh = d->opts.reload(d->opts.reload_ctx);
	if (!fresh) {
		d->stats.reload_failures++;
		return;
	}
	swap_rules(d, fresh);
	d->stats.reloads++;
	(void)err;
}

int divert_table_change(struct divert *d, const char *name, enum addrset_op op,
			const struct ifw_prefix *p, size_t n, size_t *changed)
{
	struct ruleset *next = NULL;
	int rc = ruleset_table_change(d->rs, name, op, p, n, &next, changed);

	if (rc < 0)
		return rc;
	swap_rules(d, next);
	return 0;
}

/* --- setup and the loop -------------------------------------------------- */

int divert_open(struct divert **out, const struct divert_options *opts,
		struct ruleset *rs, char *err, size_t errlen)
{
	struct divert *d = calloc(1, sizeof(*d));
	int r;

	*out = NULL;
	if (!d) {
		ruleset_free(rs);
		snprintf(err, errlen, "%s", strerror(ENOMEM));
		return -ENOMEM;
	}
	d->opts = *opts;
	d->rs = rs;
	if (!has_net_admin()) {
		r = -EPERM;
		snprintf(err, errlen, "the divert backend needs CAP_NET_ADMIN (run it as root)");
		goto fail;
	}
	d->ft = flow_table_new(&opts->limits);
	if (!d->ft) {
		r = -ENOMEM;
		snprintf(err, errlen, "creating the flow table: %s", strerror(ENOMEM));
		goto fail;
	}
	r = iftable_open(&d->ift, IFTABLE_WATCH);
	if (r < 0) {
		snprintf(err, errlen, "reading interfaces with rtnetlink: %s", strerror(-r));
		goto fail;
	}
	d->routes = route_socket_open();
	if (!d->routes) {
		r = -errno;
		snprintf(err, errlen, "opening rtnetlink for route lookups: %s", strerror(errno));
		goto fail;
	}
	struct nfqueue_options qopts = {
		.queue = opts->queue,
		.copy_range = 0xffff,
		.max_len = 4096,
		.fail_open = opts->fail_open,
		.rcvbuf = 4 << 20,
	};
	/* Listen before the table exists, so no packet waits for nobody. */
	r = nfqueue_open(&d->q, &qopts, err, errlen);
	if (r < 0)
		goto fail;
	r = divert_table_install(opts->queue, opts->fail_open, opts->queue_kind,
				 &d->kind, err, errlen);
	if (r < 0)
		goto fail;
	d->table_installed = true;
	if (!opts->keep_capabilities) {
		r = drop_capabilities(err, errlen);
		if (r < 0)
			goto fail;
	}
	*out = d;
	return 0;
fail:
	divert_free(d);
	return r;
}

int divert_run(struct divert *d, char *err, size_t errlen)
{
	sigset_t mask, old;
	int r = 0;

	sigemptyset(&mask);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	if (sigprocmask(SIG_BLOCK, &mask, &old) < 0) {
		snprintf(err, errlen, "blocking signals: %s", strerror(errno));
		return -errno;
	}
	int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		r = -errno;
		snprintf(err, errlen, "signalfd: %s", strerror(errno));
		goto out;
	}
	d->last_expire = monotonic_ns();
	uint64_t spin_until = 0;
	for (;;) {
		struct pollfd pfd[3] = {
			{ .fd = sfd, .events = POLLIN },
			{ .fd = iftable_fd(d->ift), .events = POLLIN },
			{ .fd = nfqueue_fd(d->q), .events = POLLIN },
		};
		int ready;
		/* Right after traffic, poll without sleeping for a moment: waking
		 * a sleeping process on another CPU costs tens of microseconds
		 * (more on virtual machines), and new flows come in bursts. */
		do
			ready = poll(pfd, 3, 0);
		while (ready == 0 && monotonic_ns() < spin_until);
		if (ready == 0)
			ready = poll(pfd, 3, 1000);
		if (ready < 0 && errno != EINTR) {
			r = -errno;
			snprintf(err, errlen, "poll: %s", strerror(errno));
			break;
		}
		if (pfd[0].revents & POLLIN) {
			struct signalfd_siginfo si;
			bool stop = false;
			while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGHUP)
					reload(d);
				else
					stop = true;
			}
			if (stop)
				break;
		}
		/* Interface changes first: a packet may name a new interface. */
		if (pfd[1].revents & POLLIN) {
			r = iftable_process(d->ift);
			if (r < 0) {
				snprintf(err, errlen, "rtnetlink: %s", strerror(-r));
				break;
			}
			r = 0;
		}
		if (pfd[2].revents & (POLLIN | POLLERR)) {
			uint64_t before = d->stats.packets;
			r = drain_queue(d, err, errlen);
			if (r < 0)
				break;
			if (d->stats.packets != before)
				spin_until = monotonic_ns() + DIVERT_BUSY_POLL_NS;
		}
		uint64_t now = monotonic_ns();
		if (now - d->last_expire >= 1000000000u) {
			flow_table_expire(d->ft, now);
			d->last_expire = now;
		}
	}
	close(sfd);
out:
	sigprocmask(SIG_SETMASK, &old, NULL);
	return r;
}

enum divert_queue_kind divert_queue_kind_used(const struct divert *d)
{
	return d->kind;
}

void divert_get_stats(const struct divert *d, struct divert_stats *out)
{
	*out = d->stats;
	out->verdict_messages = d->q ? nfqueue_messages_sent(d->q) : 0;
	out->flows = d->ft ? flow_table_count(d->ft) : 0;
}

void divert_free(struct divert *d)
{
	char err[256];

	if (!d)
		return;
	if (d->table_installed)
		divert_table_remove(err, sizeof(err));
	nfqueue_free(d->q);
	route_socket_free(d->routes);
	iftable_free(d->ift);
	flow_table_free(d->ft);
	ruleset_free(d->rs);
	free(d);
}
