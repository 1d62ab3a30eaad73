/* The divert backend: queued packets -> engine -> verdicts. See divert.h. */
#include "backends/backend.h"
#include "backends/control.h"
#include "backends/divert.h"
#include "filter/logline.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/capability.h>
#include <linux/netfilter.h>

#include "backends/cgroup.h"
#include "backends/divert_internal.h"
#include "backends/sockdiag.h"
#include "backends/iftable.h"
#include "backends/route.h"
#include "filter/json.h"

/* Packets handled per wakeup before verdicts are sent and the other
 * sockets get a turn. */
#define DIVERT_BURST 256
/* How long a worker that could not be pinned to its CPU keeps polling
 * without sleeping after it decided packets: at most this much CPU per
 * burst of new flows. A pinned worker sleeps at once: the process whose
 * packet it decides waits on the same CPU, so waking it is cheap and
 * spinning would only keep that process from running. */
#define DIVERT_BUSY_POLL_NS 50000u
/* Flows expired per hold of the lock (the workers wait meanwhile): about
 * 100 us; the rest in the next turns of the loop, without sleeping. */
#define DIVERT_EXPIRE_SLICE 1024
/* At most this many queues (and worker threads), one per CPU. */
#define DIVERT_MAX_QUEUES 64
/* How often the table is read back and compared with what was installed,
 * besides the notifications (which can be lost). */
#define DIVERT_VERIFY_NS 5000000000ull

/* One queue and the thread that reads it. The queue rules send each new
 * flow to the queue of the CPU it was seen on (CPU fanout), and the worker
 * of that queue runs on that CPU: the program that opened the flow sleeps
 * there waiting for its first packet, so the worker runs in its stead
 * without a wake-up across CPUs, and the verdict's re-injected packet (and
 * what answers it) is handled where its socket lives. */
struct divert_worker {
	struct divert *d;
	struct nfqueue *q;
	pthread_t thread;
	bool started;
	bool pinned;                   /* runs only on its queue's CPUs */
	int r;                         /* 0, or why it stopped: -errno */
	char err[256];
};

struct divert {
	struct backend base;           /* the contract: backend.h */
	/* Held by a worker while it decides a burst, and by the main loop
	 * while it changes what workers read (rule set, flows, interfaces,
	 * log); recursive: a reload inside it sets a rule set. */
	pthread_mutex_t lock;
	bool lock_made;
	struct divert_worker *workers;
	unsigned nworkers;
	struct divert_queues queues;
	int stop_fd;                   /* eventfd: readable when workers stop */
	int failed_fd;                 /* eventfd: a worker stopped on an error */
	struct divert_options opts;
	/* The set in force as the packet path reads it: base.rs, the
	 * backend's own reference. */
	const struct ruleset *rs;
	struct iftable *ift;
	struct route_socket *routes; /* where ICMP echo at prerouting goes */
	struct flow_table *ft;
	struct divert_table *table;
	enum divert_queue_kind kind;
	bool table_installed;
	bool table_existed;            /* there was one before divert_open */
	struct divert_stats stats;
	uint64_t last_expire, last_verify;
	bool expire_more;              /* the last slice may have left some */
	/* 'cgroup' criteria: a queued packet carries no cgroup, so the
	 * socket's is asked of the kernel (sock_diag) and named by searching
	 * the directories the rules' patterns live in. ncgroup_dirs == 0:
	 * no rule has one, nothing is looked up. */
	int diag_fd;
	struct cgroup_names *cgroup_names;
	char **cgroup_dirs;
	size_t ncgroup_dirs;
};

/* --- cgroups ------------------------------------------------------------- */

static void cgroup_dirs_free(struct divert *d)
{
	for (size_t i = 0; i < d->ncgroup_dirs; i++)
		free(d->cgroup_dirs[i]);
	free(d->cgroup_dirs);
	d->cgroup_dirs = NULL;
	d->ncgroup_dirs = 0;
}

/* The directories (relative to the cgroup2 mount) that hold the cgroups of
 * rs's patterns, each once. Returns 0 or -errno. */
static int cgroup_dirs_set(struct divert *d, const struct ruleset *rs)
{
	cgroup_dirs_free(d);
	if (d->cgroup_names)
		cgroup_names_forget(d->cgroup_names);
	for (size_t i = 0; i < rs->nrules; i++) {
		const char *pat = rs->rules[i].cgroup;
		if (!pat)
			continue;
		const char *slash = strrchr(pat, '/');
		size_t len = slash ? (size_t)(slash - pat) : 0;
		bool dup = false;
		for (size_t k = 0; k < d->ncgroup_dirs && !dup; k++)
			dup = strlen(d->cgroup_dirs[k]) == len && !strncmp(d->cgroup_dirs[k], pat, len);
		if (dup)
			continue;
		char **n = realloc(d->cgroup_dirs, (d->ncgroup_dirs + 1) * sizeof(*n));
		if (!n)
			return -ENOMEM;
		d->cgroup_dirs = n;
		if (!(n[d->ncgroup_dirs] = strndup(pat, len)))
			return -ENOMEM;
		d->ncgroup_dirs++;
	}
	return 0;
}

/* Opens what cgroup lookups need when rs has 'cgroup' criteria. */
static int cgroup_setup(struct divert *d, const struct ruleset *rs, char *err, size_t errlen)
{
	char mount[4096];
	int r = cgroup_dirs_set(d, rs);

	if (r < 0 || !d->ncgroup_dirs || d->cgroup_names)
		return r;
	r = cgroup2_mount(mount, sizeof(mount));
	if (r == 0)
		r = cgroup_names_open(&d->cgroup_names, mount);
	if (r == 0 && (d->diag_fd = sockdiag_open()) < 0)
		r = d->diag_fd;
	if (r < 0)
		snprintf(err, errlen, "'cgroup' rules: %s", r == -ENOENT ?
			 "no cgroup v2 hierarchy is mounted (/proc/self/mountinfo)" : strerror(-r));
	return r;
}

/* The cgroup of the local socket of a TCP or UDP packet. Left unknown when
 * there is no socket (forwarded, a reset for a closed port) or the lookup
 * fails, so a 'cgroup' rule does not match it. */
static void cgroup_of_packet(struct divert *d, struct packet *p, bool local_is_src)
{
	uint64_t id;
	const char *path;

	if (!d->ncgroup_dirs || !d->cgroup_names || !p->has_ports || p->fragment ||
	    (p->proto != 6 && p->proto != 17))
		return;
	int r = sockdiag_cgroup_id(d->diag_fd, p->family, p->proto,
				   local_is_src ? &p->src : &p->dst,
				   local_is_src ? p->sport : p->dport,
				   local_is_src ? &p->dst : &p->src,
				   local_is_src ? p->dport : p->sport, &id);
	if (r < 0)
		return;
	r = cgroup_names_lookup(d->cgroup_names, id, (const char *const *)d->cgroup_dirs,
				d->ncgroup_dirs, &path);
	if (r == -ENOENT) {
		/* Known, and outside every directory a pattern names: no
		 * 'cgroup' rule matches it, as none matches the root. */
		p->has_cgroup = true;
		p->cgroup[0] = '\0';
	} else if (r == 0 && strlen(path) < sizeof(p->cgroup)) {
		p->has_cgroup = true;
		strcpy(p->cgroup, path);
	}
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

static void log_decision(FILE *out, const struct packet *p,
			 const struct decision *dec)
{
	struct log_record r;

	log_record_from_packet(&r, "divert", p, dec);
	log_record_write_json(out, &r);
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
	if (d->base.io.log)
		log_decision(d->base.io.log, p, &dec);
	return dec;
}

static int handle_packet(struct divert *d, struct nfqueue *q, const struct nfqueue_packet *qp,
			 uint64_t now)
{
	struct packet p;
	struct decision dec = { .verdict = VERDICT_BLOCK };

	memset(&p, 0, sizeof(p));
	d->stats.packets++;
	if (!qp->payload || packet_decode(qp->payload, qp->len, &p) != DECODE_OK) {
		d->stats.undecodable++;
		d->stats.blocked++;
		return nfqueue_verdict(q, qp->id, NF_DROP, false, 0);
	}
	bool reply = qp->mark & DIVERT_PKT_REPLY;
	p.has_mark = true; /* live: the mark is always known */
	p.mark = qp->mark & ~DIVERT_PKT_MASK; /* the packet's own mark */
	p.has_uid = qp->has_uid;
	p.uid = qp->uid;
	if (qp->hook == NF_INET_LOCAL_OUT || qp->hook == NF_INET_LOCAL_IN)
		cgroup_of_packet(d, &p, qp->hook == NF_INET_LOCAL_OUT);

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
	/* No conntrack entry (untracked, or no flow), or a verdict the chain
	 * could not act on (an entry without labels, made before any table
	 * used them; or a mark someone else set): the chain would queue it
	 * again, so the verdict is final here. A reject is a drop then. */
	bool final = qp->mark & (DIVERT_PKT_NOCT | DIVERT_PKT_VERDICT);
	switch (dec.verdict) {
	case VERDICT_PASS:
		d->stats.passed++;
		if (final)
			return nfqueue_verdict(q, qp->id, NF_ACCEPT, true, mark);
		return nfqueue_verdict(q, qp->id, NF_REPEAT, true, mark | DIVERT_PKT_PASS);
	case VERDICT_REJECT:
		d->stats.rejected++;
		if (final)
			return nfqueue_verdict(q, qp->id, NF_DROP, false, 0);
		return nfqueue_verdict(q, qp->id, NF_REPEAT, true, mark | DIVERT_PKT_REJECT);
	case VERDICT_BLOCK:
	default:
		d->stats.blocked++;
		return nfqueue_verdict(q, qp->id, NF_DROP, false, 0);
	}
}

/* Handles what is queued on w's queue, up to a burst, then sends the
 * verdicts (outside the lock: sending them runs what the re-injected
 * packets set off). Returns how many packets it decided, or -errno with
 * w->err set. */
static int drain_queue(struct divert_worker *w)
{
	struct divert *d = w->d;
	struct nfqueue_packet qp;
	int r = 0, decided = 0;

	pthread_mutex_lock(&d->lock);
	uint64_t now = backend_now_ns();
	for (int i = 0; i < DIVERT_BURST; i++) {
		r = nfqueue_receive(w->q, &qp);
		if (r == -ENOBUFS) {
			/* The kernel dropped messages (and their packets). */
			d->stats.lost++;
			continue;
		}
		if (r <= 0)
			break;
		decided++;
		r = handle_packet(d, w->q, &qp, now);
		if (r < 0)
			break;
	}
	if (d->base.io.log && decided)
		fflush(d->base.io.log);
	pthread_mutex_unlock(&d->lock);
	if (r >= 0)
		r = nfqueue_flush(w->q);
	if (r < 0) {
		snprintf(w->err, sizeof(w->err), "NFQUEUE %u: %s", nfqueue_number(w->q),
			 strerror(-r));
		return r;
	}
	return decided;
}

/* Keeps w on the CPUs whose packets the fanout sends to its queue (CPU c
 * goes to queue first + c % total), among those the process may use. */
static void pin_worker(struct divert_worker *w, unsigned index)
{
	cpu_set_t allowed, mine;
	unsigned total = w->d->queues.total;
	int count = 0;

	if (total < 2 || sched_getaffinity(0, sizeof(allowed), &allowed) < 0)
		return;
	CPU_ZERO(&mine);
	for (unsigned c = index; c < CPU_SETSIZE; c += total) {
		if (CPU_ISSET(c, &allowed)) {
			CPU_SET(c, &mine);
			count++;
		}
	}
	w->pinned = count > 0 && sched_setaffinity(0, sizeof(mine), &mine) == 0;
}

static void *worker_main(void *arg)
{
	struct divert_worker *w = arg;
	struct divert *d = w->d;
	uint64_t spin_until = 0;

	pin_worker(w, (unsigned)(w - d->workers));
	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = nfqueue_fd(w->q), .events = POLLIN },
			{ .fd = d->stop_fd, .events = POLLIN },
		};
		/* Packets received past the last burst are handled without
		 * sleeping: poll() does not see them. */
		if (!nfqueue_buffered(w->q)) {
			int ready;
			do
				ready = poll(pfd, 2, 0);
			while (ready == 0 && backend_now_ns() < spin_until);
			if (ready == 0)
				ready = poll(pfd, 2, -1);
			if (ready < 0) {
				if (errno == EINTR)
					continue;
				w->r = -errno;
				snprintf(w->err, sizeof(w->err), "poll: %s", strerror(errno));
				break;
			}
		}
		if (pfd[1].revents & POLLIN)
			break;
		if (!(pfd[0].revents & (POLLIN | POLLERR)) && !nfqueue_buffered(w->q))
			continue;
		int n = drain_queue(w);
		if (n < 0) {
			w->r = n;
			break;
		}
		if (n > 0 && !w->pinned)
			spin_until = backend_now_ns() + DIVERT_BUSY_POLL_NS;
	}
	if (w->r < 0) {
		uint64_t one = 1;
		if (write(d->failed_fd, &one, sizeof(one)) < 0) {
			/* The counter cannot overflow: ignored. */
		}
	}
	return NULL;
}

/* Stops and joins the workers that run. */
static void stop_workers(struct divert *d)
{
	uint64_t one = 1;

	if (write(d->stop_fd, &one, sizeof(one)) < 0) {
		/* An eventfd write of 1 does not fail. */
	}
	for (unsigned i = 0; i < d->nworkers; i++) {
		if (d->workers[i].started)
			pthread_join(d->workers[i].thread, NULL);
		d->workers[i].started = false;
	}
	/* Readable no more: a later divert_run starts them again. */
	uint64_t v;
	if (read(d->stop_fd, &v, sizeof(v)) < 0) {
		/* Nothing to read. */
	}
}

static int start_workers(struct divert *d, char *err, size_t errlen)
{
	for (unsigned i = 0; i < d->nworkers; i++) {
		struct divert_worker *w = &d->workers[i];
		w->r = 0;
		w->err[0] = '\0';
		int rc = pthread_create(&w->thread, NULL, worker_main, w);
		if (rc != 0) {
			stop_workers(d);
			snprintf(err, errlen, "starting the thread of NFQUEUE %u: %s",
				 nfqueue_number(w->q), strerror(rc));
			return -rc;
		}
		w->started = true;
	}
	return 0;
}

/* --- the table under watch ---------------------------------------------- */

/* Puts the table back after someone else changed it (what: how). A table
 * that cannot be put back is fatal: the process would filter nothing. */
static int restore_table(struct divert *d, const char *what, char *err, size_t errlen)
{
	char why[256];
	int r = divert_table_restore(d->table, why, sizeof(why));

	if (r < 0) {
		snprintf(err, errlen, "table inet ifwall_divert %s and cannot be restored: %s",
			 what, why);
		return r;
	}
	d->stats.table_restores++;
	backend_message(&d->base, "table inet ifwall_divert %s; restored it", what);
	return 0;
}

/* Compares the table in the kernel with what was installed and restores
 * it when it differs. */
static int verify_table(struct divert *d, char *err, size_t errlen)
{
	char why[160], what[200];
	int r = divert_table_verify(d->table, why, sizeof(why));

	d->last_verify = backend_now_ns();
	if (r <= 0)
		return 0; /* intact, or unreadable for now (tried again later) */
	snprintf(what, sizeof(what), "was changed (%s)", why);
	return restore_table(d, what, err, errlen);
}

/* Reads nf_tables notifications; restores the table when another process
 * changed it. */
static int watch_table(struct divert *d, char *err, size_t errlen)
{
	struct divert_table_change by;
	char what[128];
	int r = divert_table_changed(d->table, &by);

	if (r <= 0)
		return 0;
	if (by.pid > 0)
		snprintf(what, sizeof(what), "was changed by pid %d (%s)", by.pid,
			 by.comm[0] ? by.comm : "?");
	else
		snprintf(what, sizeof(what), "was changed by another process");
	return restore_table(d, what, err, errlen);
}

/* --- the rule set in force ---------------------------------------------- */

/* rs is put in force: flows are re-checked against it, and those the kernel
 * fast-paths come back through the engine once, so a flow the new rules
 * block is blocked from its next packet. */
static int divert_set_ruleset_impl(struct backend *be, const struct ruleset *rs,
				   struct backend_error *err)
{
	struct divert *d = (struct divert *)be;
	char why[256];
	size_t changed = 0;
	int r;

	if (!rs)
		return backend_error_set(err, -EINVAL, 0, "no rule set");
	pthread_mutex_lock(&d->lock);
	r = cgroup_setup(d, rs, why, sizeof(why));
	if (r < 0) {
		/* The first set: refused. Later ones are kept; their cgroup
		 * rules never match. */
		if (!d->rs) {
			pthread_mutex_unlock(&d->lock);
			return backend_error_set(err, r, 0, "%s", why);
		}
		d->stats.reload_failures++;
	}
	bool swap = d->rs != NULL;
	if (swap)
		changed = flow_table_recheck(d->ft, rs);
	d->rs = rs;
	backend_swap_ruleset(&d->base, rs);
	if (swap)
		divert_table_forget_passed(d->table, why, sizeof(why));
	pthread_mutex_unlock(&d->lock);
	return changed > 0x7fffffff ? 0x7fffffff : (int)changed;
}

int divert_set_ruleset(struct divert *d, const struct ruleset *rs,
		       struct backend_error *err)
{
	return divert_set_ruleset_impl(&d->base, rs, err);
}

static int reload(struct divert *d, char *err, size_t errlen)
{
	pthread_mutex_lock(&d->lock);
	backend_call_reload(&d->base, &d->stats.reloads, &d->stats.reload_failures);
	pthread_mutex_unlock(&d->lock);
	/* A reload also puts back a table someone changed. */
	return verify_table(d, err, errlen);
}

/* --- setup and the loop -------------------------------------------------- */

static int divert_run_impl(struct backend *be, const struct backend_stop *stop,
			   struct backend_error *err);
static void divert_free_impl(struct backend *be);

static const struct backend_ops divert_ops = {
	.set_ruleset = divert_set_ruleset_impl,
	.run = divert_run_impl,
	.free = divert_free_impl,
};

/* One queue per CPU (the fanout takes cpu % total), or opts->queues. */
static uint16_t queue_count(const struct divert_options *opts)
{
	long n = opts->queues ? (long)opts->queues : sysconf(_SC_NPROCESSORS_CONF);

	if (n < 1)
		n = 1;
	if (n > DIVERT_MAX_QUEUES)
		n = DIVERT_MAX_QUEUES;
	if (n > 65536 - (long)opts->queue)
		n = 65536 - (long)opts->queue;
	return (uint16_t)n;
}

int divert_open(struct divert **out, const struct divert_options *opts,
		struct backend_error *err)
{
	struct divert *d = calloc(1, sizeof(*d));
	char why[512] = "";
	int r;

	backend_error_clear(err);
	*out = NULL;
	if (!d)
		return backend_error_set(err, -ENOMEM, ENOMEM, "starting the divert backend");
	d->base.ops = &divert_ops;
	d->base.name = "divert";
	d->base.io = opts->io;
	d->opts = *opts;
	d->diag_fd = -1;
	d->stop_fd = d->failed_fd = -1;
	pthread_mutexattr_t attr;
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	r = pthread_mutex_init(&d->lock, &attr);
	pthread_mutexattr_destroy(&attr);
	if (r != 0) {
		free(d);
		return backend_error_set(err, -r, r, "starting the divert backend");
	}
	d->lock_made = true;
	if (!has_net_admin()) {
		r = -EPERM;
		snprintf(why, sizeof(why), "the divert backend needs CAP_NET_ADMIN (run it as root)");
		goto fail;
	}
	d->ft = flow_table_new(&opts->limits);
	if (!d->ft) {
		r = -ENOMEM;
		snprintf(why, sizeof(why), "creating the flow table: %s", strerror(ENOMEM));
		goto fail;
	}
	r = iftable_open(&d->ift, IFTABLE_WATCH);
	if (r < 0) {
		snprintf(why, sizeof(why), "reading interfaces with rtnetlink: %s", strerror(-r));
		goto fail;
	}
	d->routes = route_socket_open();
	if (!d->routes) {
		r = -errno;
		snprintf(why, sizeof(why), "opening rtnetlink for route lookups: %s", strerror(errno));
		goto fail;
	}
	d->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	d->failed_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->stop_fd < 0 || d->failed_fd < 0) {
		r = -errno;
		snprintf(why, sizeof(why), "eventfd: %s", strerror(errno));
		goto fail;
	}
	d->queues = (struct divert_queues){
		.first = opts->queue, .total = queue_count(opts), .fail_open = opts->fail_open,
	};
	d->workers = calloc(d->queues.total, sizeof(*d->workers));
	if (!d->workers) {
		r = -ENOMEM;
		snprintf(why, sizeof(why), "allocating the queues: %s", strerror(ENOMEM));
		goto fail;
	}
	/* Listen before the table exists, so no packet waits for nobody. */
	for (unsigned i = 0; i < d->queues.total; i++) {
		struct nfqueue_options qopts = {
			.queue = (uint16_t)(opts->queue + i),
			.copy_range = 0xffff,
			.max_len = 4096,
			.fail_open = opts->fail_open,
			.rcvbuf = 4 << 20,
		};
		d->workers[i].d = d;
		r = nfqueue_open(&d->workers[i].q, &qopts, why, sizeof(why));
		if (r < 0) {
			/* Held: by the running instance when it has the table. */
			char owner[160];
			size_t n = strlen(why);
			if ((r == -EBUSY || r == -EPERM) &&
			    divert_table_owner_text(owner, sizeof(owner)) > 0)
				snprintf(why + n, sizeof(why) - n, "; %s", owner);
			goto fail;
		}
		d->nworkers = i + 1;
	}
	r = divert_table_open(&d->table, &d->queues, why, sizeof(why));
	if (r < 0)
		goto fail;
	r = divert_table_install(d->table, opts->queue_kind, &d->kind, &d->table_existed,
				 why, sizeof(why));
	if (r < 0)
		goto fail;
	d->table_installed = true;
	if (!opts->keep_capabilities) {
		r = drop_capabilities(why, sizeof(why));
		if (r < 0)
			goto fail; /* divert_free removes a table that was not there before */
	}
	*out = d;
	return 0;
fail:
	divert_free(d);
	return backend_error_set(err, r, 0, "%s", why);
}

int divert_run(struct divert *d, const struct backend_stop *stop,
	       struct backend_error *err)
{
	return divert_run_impl(&d->base, stop, err);
}

static int divert_run_impl(struct backend *be, const struct backend_stop *stop,
			   struct backend_error *errp)
{
	struct divert *d = (struct divert *)be;
	struct backend_signals sig;
	char err[512] = "";
	const size_t errlen = sizeof(err);
	int r = 0;

	backend_error_clear(errp);
	if (!d->rs)
		return backend_error_set(errp, -EINVAL, 0, "no rule set in force");
	r = backend_signals_begin(&sig, stop, errp);
	if (r < 0)
		return r;
	d->last_expire = d->last_verify = backend_now_ns();
	/* The workers decide the queued packets; this loop keeps what they
	 * read current (interfaces, rule set, flows) and the table in place.
	 * Signals stay blocked in the workers (they are started with this
	 * thread's mask): this loop receives them. */
	r = start_workers(d, err, errlen);
	for (; r == 0;) {
		struct pollfd pfd[5] = {
			{ .fd = backend_signals_fd(&sig), .events = POLLIN },
			{ .fd = iftable_fd(d->ift), .events = POLLIN },
			{ .fd = d->failed_fd, .events = POLLIN },
			{ .fd = divert_table_watch_fd(d->table), .events = POLLIN },
			{ .fd = d->opts.control ? control_server_fd(d->opts.control) : -1,
			  .events = POLLIN },
		};
		int ready = backend_signals_wait(&sig, pfd, 5, d->expire_more ? 0 : 1000);
		if (ready < 0 && errno != EINTR) {
			r = -errno;
			snprintf(err, errlen, "poll: %s", strerror(errno));
			break;
		}
		unsigned signals = backend_signals_take(&sig, ready > 0 && pfd[0].revents & POLLIN);
		if (signals & BACKEND_SIGNAL_RELOAD) {
			r = reload(d, err, errlen);
			if (r < 0)
				break;
		}
		if (signals & BACKEND_SIGNAL_STOP)
			break;
		if (ready < 0)
			continue; /* interrupted: the revents are not set */
		if (pfd[2].revents & POLLIN) {
			for (unsigned i = 0; i < d->nworkers; i++) {
				if (d->workers[i].r < 0) {
					r = d->workers[i].r;
					snprintf(err, errlen, "%s", d->workers[i].err);
					break;
				}
			}
			if (r < 0)
				break;
		}
		/* The table first (the queue threads go on deciding meanwhile:
		 * packets queued by the old table keep their verdicts). */
		if (pfd[3].revents & (POLLIN | POLLERR)) {
			r = watch_table(d, err, errlen);
			if (r < 0)
				break;
		}
		if (pfd[1].revents & POLLIN) {
			pthread_mutex_lock(&d->lock);
			r = iftable_process(d->ift);
			pthread_mutex_unlock(&d->lock);
			if (r < 0) {
				snprintf(err, errlen, "rtnetlink: %s", strerror(-r));
				break;
			}
			r = 0;
		}
		if (pfd[4].revents & POLLIN) {
			pthread_mutex_lock(&d->lock);
			control_server_serve(d->opts.control);
			pthread_mutex_unlock(&d->lock);
		}
		uint64_t now = backend_now_ns();
		if (d->expire_more || now - d->last_expire >= 1000000000u) {
			pthread_mutex_lock(&d->lock);
			size_t n = flow_table_expire_some(d->ft, now, DIVERT_EXPIRE_SLICE);
			pthread_mutex_unlock(&d->lock);
			d->expire_more = n == DIVERT_EXPIRE_SLICE;
			if (!d->expire_more)
				d->last_expire = now;
		}
		if (now - d->last_verify >= DIVERT_VERIFY_NS) {
			r = verify_table(d, err, errlen);
			if (r < 0)
				break;
		}
	}
	stop_workers(d);
	uint64_t v;
	if (read(d->failed_fd, &v, sizeof(v)) < 0) {
		/* No worker failed. */
	}
	backend_signals_end(&sig);
	return r < 0 ? backend_error_set(errp, r, 0, "%s", err) : 0;
}

enum divert_queue_kind divert_queue_kind_used(const struct divert *d)
{
	return d->kind;
}

unsigned divert_queue_count(const struct divert *d)
{
	return d->queues.total;
}

void divert_get_stats(const struct divert *d, struct divert_stats *out)
{
	*out = d->stats;
	out->verdict_messages = 0;
	for (unsigned i = 0; i < d->nworkers; i++)
		out->verdict_messages += nfqueue_messages_sent(d->workers[i].q);
	out->flows = d->ft ? flow_table_count(d->ft) : 0;
}

static void divert_free_impl(struct backend *be)
{
	divert_free((struct divert *)be);
}

struct backend *divert_backend(struct divert *d)
{
	return d ? &d->base : NULL;
}

void divert_free(struct divert *d)
{
	char err[256];

	if (!d)
		return;
	/* Fail closed: the table stays, and with nobody listening new flows
	 * are dropped, until 'ifwall flush' or the next divert_open(). Only a
	 * fail-open table (which would let them pass anyway) goes, or one
	 * this process installed but never enforced a rule set with (a
	 * failed start leaves nothing new behind). */
	if (d->table_installed && (d->opts.fail_open || (!d->rs && !d->table_existed)))
		divert_table_remove(d->table, err, sizeof(err));
	divert_table_free(d->table);
	for (unsigned i = 0; i < d->nworkers; i++)
		nfqueue_free(d->workers[i].q);
	free(d->workers);
	if (d->stop_fd >= 0)
		close(d->stop_fd);
	if (d->failed_fd >= 0)
		close(d->failed_fd);
	if (d->lock_made)
		pthread_mutex_destroy(&d->lock);
	route_socket_free(d->routes);
	iftable_free(d->ift);
	flow_table_free(d->ft);
	ruleset_free(d->base.rs);
	cgroup_dirs_free(d);
	cgroup_names_free(d->cgroup_names);
	if (d->diag_fd >= 0)
		close(d->diag_fd);
	free(d);
}
