/* ifwall run --backend nft [--watch] RULES: table inet ifwall held by this
 * process. Owned (owner|persist flags) where the kernel has them, else
 * watched and restored (nft_owner.h). Serves the control socket
 * RUNDIR/nft.sock (control.h); SIGHUP reloads; SIGTERM exits leaving the
 * table in the kernel (fail closed). */
#include <errno.h>
#include <linux/capability.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "backends/caps.h"
#include "backends/cgroup.h"
#include "backends/iftable.h"
#include "backends/control.h"
#include "backends/nft_owner.h"
#include "backends/runstate.h"
#include "rules/ruleset.h"
#include "tools/cli.h"
#include "tools/nft_common.h"
#include "tools/run_control.h"
#include "tools/run_nft.h"
#include "tools/sdnotify.h"

struct nft_runner {
	struct nft_owner *owner;
	struct control_server *control;
	char rules[PATH_MAX];
	struct ruleset *rs;
	struct nft_plan *plan;
	time_t applied;
	/* Kept current while the process runs: the addresses of '(IFSPEC)'
	 * (rtnetlink notifications) and the ids of 'cgroup' patterns (inotify
	 * on the cgroup v2 hierarchy), written into the table's sets. */
	struct iftable *interfaces;
	struct cgroup_watch *cgroups;
	bool watch_forced;
	bool exit_requested;
	unsigned long reloads, restores;
};

static const char *mode_detail(const struct nft_runner *r)
{
	if (nft_owner_mode(r->owner) == NFT_OWNER_OWNED)
		return "owned by this process (table flags owner, persist): no other "
		       "process can change or delete it";
	return r->watch_forced
		? "not owned (--watch): watching nf_tables notifications, restoring "
		  "the table when another process changes it"
		: "not owned (this kernel lacks the owner/persist table flags): watching "
		  "nf_tables notifications, restoring the table when another process "
		  "changes it";
}

static void record_state(const struct nft_runner *r)
{
	struct runstate st = { .applied = (long long)r->applied, .pid = (long)getpid() };

	snprintf(st.backend, sizeof(st.backend), "nft");
	snprintf(st.mode, sizeof(st.mode), "%s", nft_owner_mode_name(nft_owner_mode(r->owner)));
	snprintf(st.rules, sizeof(st.rules), "%s", r->rules);
	int rc = runstate_write(&st);
	if (rc < 0)
		cli_error("run", "cannot record the state for 'ifwall status': %s", strerror(-rc));
}

static void absolute_path(const char *path, char *out, size_t size)
{
	char buf[PATH_MAX];

	if (realpath(path, buf))
		snprintf(out, size, "%s", buf);
	else
		snprintf(out, size, "%s", path);
}

/* Parses and applies path. Messages (diagnostics, kernel errors) go to
 * stderr as 'cmd' would print them. Returns an exit code; on success the
 * runner holds the new rules and the old are freed. */
/* The cgroup watch for the patterns of the plan in force (none: closed). */
static void watch_cgroups(struct nft_runner *r)
{
	size_t n = nft_plan_cgroup_count(r->plan);
	const char **patterns = n ? calloc(n, sizeof(*patterns)) : NULL;
	char mount[4096];
	int rc;

	cgroup_watch_free(r->cgroups);
	r->cgroups = NULL;
	if (!n)
		return;
	for (size_t i = 0; patterns && i < n; i++)
		patterns[i] = nft_plan_cgroup(r->plan, i, NULL, NULL)->cgroup;
	if (!patterns)
		rc = -ENOMEM;
	else if ((rc = cgroup2_mount(mount, sizeof(mount))) == 0)
		rc = cgroup_watch_open(&r->cgroups, mount, patterns, n);
	free(patterns);
	if (rc < 0)
		cli_error("run", "warning: cannot watch the cgroup hierarchy (%s): a cgroup "
			  "created from now on matches only after a reload", strerror(-rc));
}

/* New or removed cgroups: the id sets written again. */
static void cgroups_changed(struct nft_runner *r)
{
	struct nft_error err;
	int rc = cgroup_watch_process(r->cgroups, NULL);

	if (rc <= 0)
		return;
	if (nft_plan_resolve_cgroups(r->plan, &err) < 0 ||
	    nft_owner_refill(r->owner, r->plan, false, true, &err) < 0)
		nft_cli_error("run", &err);
}

/* Interface addresses changed: the '(IFSPEC)' sets written again when
 * their contents change. */
static void interfaces_changed(struct nft_runner *r)
{
	struct nft_error err;
	size_t changed = 0;

	if (iftable_process(r->interfaces) <= 0 || !nft_plan_ifaddr_set_count(r->plan))
		return;
	if (nft_plan_set_ifaddrs(r->plan, iftable_ifaddrs(r->interfaces), &changed) < 0 ||
	    !changed)
		return;
	if (nft_owner_refill(r->owner, r->plan, true, false, &err) < 0)
		nft_cli_error("run", &err);
}

static int apply_file(struct nft_runner *r, const char *cmd, const char *path)
{
	struct ruleset *rs;
	struct nft_plan *plan;
	struct nft_error err;
	struct nft_load_stats stats;
	int status = nft_cli_prepare(cmd, path, &rs, &plan);

	if (status != EXIT_OK)
		return status;
	int rc = nft_owner_apply(r->owner, plan, &stats, &err);
	if (rc < 0) {
		nft_cli_error(cmd, &err);
		if (rc == -EPERM) {
			struct nft_table_info info;
			if (nft_table_info_read(&info, NULL) == 0 && (info.flags & NFT_TABLE_F_OWNER))
				cli_error(cmd, "table inet ifwall is owned by another process "
					  "(netlink port id %u, normally its pid)", info.owner);
			else
				cli_error(cmd, "nftables needs root (CAP_NET_ADMIN)");
		}
		if (r->plan)
			cli_error(cmd, "the previous rule set is unchanged");
		nft_plan_free(plan);
		ruleset_free(rs);
		return EXIT_SYSTEM;
	}
	nft_plan_free(r->plan);
	ruleset_free(r->rs);
	r->plan = plan;
	r->rs = rs;
	r->applied = time(NULL);
	watch_cgroups(r);
	/* addresses that changed between reading them and the load */
	if (r->interfaces && nft_plan_ifaddr_set_count(plan)) {
		size_t changed = 0;
		if (nft_plan_set_ifaddrs(plan, iftable_ifaddrs(r->interfaces), &changed) == 0 &&
		    changed && nft_owner_refill(r->owner, plan, true, false, &err) < 0)
			nft_cli_error(cmd, &err);
	}
	if (path != r->rules)
		absolute_path(path, r->rules, sizeof(r->rules));
	record_state(r);
	return EXIT_OK;
}

static int reload(struct nft_runner *r, const char *cmd, const char *path)
{
	sd_notifyf("RELOADING=1");
	int code = apply_file(r, cmd, path ? path : r->rules);
	if (code == EXIT_OK) {
		r->reloads++;
		fprintf(stderr, "%s run: loaded %s (%zu rules)\n", prog, r->rules, r->rs->nrules);
	} else {
		fprintf(stderr, "%s run: load of %s failed; keeping the previous rules\n", prog,
			path ? path : r->rules);
	}
	sd_notifyf("READY=1\nSTATUS=%s %s, table inet ifwall %s", code == EXIT_OK ? "enforcing" :
		   "reload failed, enforcing the previous rules of", r->rules,
		   nft_owner_mode_name(nft_owner_mode(r->owner)));
	return code;
}

/* --- control socket handlers ------------------------------------------------ */

/* Runs fn with stderr captured, and sends what it wrote as err lines. */
static int with_captured_stderr(struct control_reply *reply,
				int (*fn)(struct nft_runner *, const char *),
				struct nft_runner *r, const char *arg)
{
	FILE *capture = tmpfile();
	int saved = -1, code;

	fflush(stderr);
	if (capture && (saved = dup(2)) >= 0)
		dup2(fileno(capture), 2);
	code = fn(r, arg);
	fflush(stderr);
	if (saved >= 0) {
		dup2(saved, 2);
		close(saved);
	}
	if (capture) {
		char line[4096];
		rewind(capture);
		while (fgets(line, sizeof(line), capture)) {
			line[strcspn(line, "\n")] = '\0';
			control_reply_err(reply, "%s", line);
		}
		fclose(capture);
	}
	return code;
}

static int do_load(struct nft_runner *r, const char *path)
{
	return reload(r, "load", path);
}

static int do_reload(struct nft_runner *r, const char *unused)
{
	(void)unused;
	return reload(r, "load", NULL);
}

static int handle_load(void *ctx, int argc, char **argv, struct control_reply *reply)
{
	if (argc != 2 || argv[1][0] != '/') {
		control_reply_err(reply, "usage: load ABSOLUTE-PATH");
		return EXIT_USAGE;
	}
	return with_captured_stderr(reply, do_load, ctx, argv[1]);
}

static int handle_reload(void *ctx, int argc, char **argv, struct control_reply *reply)
{
	(void)argv;
	if (argc != 1) {
		control_reply_err(reply, "usage: reload");
		return EXIT_USAGE;
	}
	return with_captured_stderr(reply, do_reload, ctx, NULL);
}

static int handle_status(void *ctx, int argc, char **argv, struct control_reply *reply)
{
	struct nft_runner *r = ctx;

	(void)argc;
	(void)argv;
	control_reply_out(reply, "backend nft");
	control_reply_out(reply, "mode %s", nft_owner_mode_name(nft_owner_mode(r->owner)));
	control_reply_out(reply, "pid %ld", (long)getpid());
	control_reply_out(reply, "portid %u", nft_owner_portid(r->owner));
	control_reply_out(reply, "rules %s", r->rules);
	control_reply_out(reply, "applied %lld", (long long)r->applied);
	control_reply_out(reply, "reloads %lu", r->reloads);
	control_reply_out(reply, "restores %lu", r->restores);
	return EXIT_OK;
}

/* 'ifwall table' on the owned table: only this process's socket may change
 * it (run_control.c's handler; 'show' reads the kernel, not this process). */
static int owned_table_change(void *owner, const char *name, enum addrset_op op,
			      const struct ifw_prefix *p, size_t n, size_t *changed)
{
	struct nft_error err;
	int rc = nft_owner_table_change(owner, name, op, p, n, changed, &err);

	if (rc < 0 && err.message[0])
		fprintf(stderr, "%s run: table <%s>: %s\n", prog, name, err.message);
	return rc;
}

static int handle_flush(void *ctx, int argc, char **argv, struct control_reply *reply)
{
	struct nft_runner *r = ctx;
	struct nft_error err;
	size_t deleted;

	(void)argv;
	if (argc != 1) {
		control_reply_err(reply, "usage: flush");
		return EXIT_USAGE;
	}
	int rc = nft_owner_flush(r->owner, &deleted, &err);
	if (rc < 0) {
		control_reply_err(reply, "%s flush: %s", prog, err.message);
		return EXIT_SYSTEM;
	}
	runstate_remove();
	control_reply_err(reply, "%s flush: removed %zu table%s; ifwall run (pid %ld) exits",
			  prog, deleted, deleted == 1 ? "" : "s", (long)getpid());
	fprintf(stderr, "%s run: flushed through the control socket; exiting\n", prog);
	r->exit_requested = true;
	return EXIT_OK;
}

/* --- the loop ------------------------------------------------------------------ */

static int loop(struct nft_runner *r, int sigfd)
{
	for (;;) {
		struct pollfd p[5] = {
			{ .fd = sigfd, .events = POLLIN },
			{ .fd = control_server_fd(r->control), .events = POLLIN },
			{ .fd = nft_owner_watch_fd(r->owner), .events = POLLIN },
			{ .fd = r->interfaces ? iftable_fd(r->interfaces) : -1, .events = POLLIN },
			{ .fd = r->cgroups ? cgroup_watch_fd(r->cgroups) : -1, .events = POLLIN },
		};
		if (poll(p, 5, -1) < 0) {
			if (errno == EINTR)
				continue;
			cli_error("run", "poll: %s", strerror(errno));
			return EXIT_SYSTEM;
		}
		if (p[2].revents & POLLIN) {
			struct nft_owner_event ev;
			struct nft_error err;
			if (nft_owner_watch_event(r->owner, &ev, &err) < 0) {
				nft_cli_error("run", &err);
				cli_error("run", "could not restore table inet ifwall");
			} else if (ev.restored) {
				r->restores++;
				if (ev.by_pid)
					fprintf(stderr, "%s run: table inet ifwall changed by pid %u (%s); "
						"restored in %.1f ms\n", prog, ev.by_pid,
						ev.by_name[0] ? ev.by_name : "?", ev.latency_ms);
				else
					fprintf(stderr, "%s run: table inet ifwall changed by another "
						"process; restored in %.1f ms\n", prog, ev.latency_ms);
			}
		}
		if (p[3].revents & POLLIN)
			interfaces_changed(r);
		if (p[4].revents & POLLIN)
			cgroups_changed(r);
		if (p[1].revents & POLLIN) {
			control_server_serve(r->control);
			if (r->exit_requested)
				return EXIT_OK;
		}
		if (p[0].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(sigfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
				continue;
			if (si.ssi_signo == SIGHUP) {
				reload(r, "run", NULL);
				continue;
			}
			sd_notifyf("STOPPING=1");
			fprintf(stderr, "%s run: exiting on signal %u; table inet ifwall stays in the "
				"kernel (fail closed)%s\n", prog, si.ssi_signo,
				nft_owner_mode(r->owner) == NFT_OWNER_OWNED
					? ", unowned until the next 'ifwall run'" : "");
			return EXIT_OK;
		}
	}
}

int run_nft(const char *rules, bool watch)
{
	struct nft_runner r = { .watch_forced = watch };
	struct nft_error err;
	sigset_t mask;
	pid_t other = 0;
	int code, rc, sigfd;

	absolute_path(rules, r.rules, sizeof(r.rules));
	/* the owner's socket first: the process's first netlink socket gets its
	 * pid as port id, so the table's owner id is this pid */
	if ((rc = nft_owner_open(&r.owner, watch, &err)) < 0) {
		nft_cli_error("run", &err);
		return EXIT_SYSTEM;
	}
	rc = control_server_open(&r.control, "nft", &other);
	if (rc == -EADDRINUSE) {
		cli_error("run", "ifwall run --backend nft is already running (pid %ld); "
			  "'ifwall load RULES' changes its rules", (long)other);
		nft_owner_free(r.owner);
		return EXIT_SYSTEM;
	}
	if (rc < 0) {
		cli_error("run", "cannot open the control socket: %s", strerror(-rc));
		nft_owner_free(r.owner);
		return EXIT_SYSTEM;
	}
	control_server_add(r.control, "status", handle_status, &r);
	control_server_add(r.control, "load", handle_load, &r);
	control_server_add(r.control, "reload", handle_reload, &r);
	control_server_add(r.control, "flush", handle_flush, &r);
	struct run_table_target table_target = { .backend = r.owner,
						 .change = owned_table_change };
	control_server_add(r.control, "table", run_table_handler, &table_target);

	sigemptyset(&mask);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sigfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sigfd < 0) {
		cli_error("run", "signalfd: %s", strerror(errno));
		control_server_free(r.control);
		nft_owner_free(r.owner);
		return EXIT_SYSTEM;
	}

	/* before the first load, so no address change falls between */
	if ((rc = iftable_open(&r.interfaces, IFTABLE_WATCH)) < 0)
		cli_error("run", "warning: cannot watch the interfaces (%s): '(IFSPEC)' keeps "
			  "the addresses of the load", strerror(-rc));
	code = apply_file(&r, "run", r.rules);
	if (code == EXIT_OK) {
		/* set up: keep only what netlink needs (the run directory and
		 * the state file are root's own, no DAC override needed) */
		const int keep[] = { CAP_NET_ADMIN };
		char why[256];
		if (caps_keep_only(keep, 1, why, sizeof(why)) < 0)
			cli_error("run", "could not drop capabilities (%s); going on", why);
	}
	if (code == EXIT_OK) {
		fprintf(stderr, "%s run: table inet ifwall loaded from %s (%zu rules), %s; "
			"control socket %s; ready\n", prog, r.rules, r.rs->nrules, mode_detail(&r),
			control_server_path(r.control));
		sd_notifyf("READY=1\nSTATUS=enforcing %s, table inet ifwall %s\nMAINPID=%ld",
			   r.rules, nft_owner_mode_name(nft_owner_mode(r.owner)), (long)getpid());
		code = loop(&r, sigfd);
	}
	close(sigfd);
	control_server_free(r.control);
	nft_owner_free(r.owner);  /* an owned table becomes an orphan and stays */
	nft_plan_free(r.plan);
	ruleset_free(r.rs);
	iftable_free(r.interfaces);
	cgroup_watch_free(r.cgroups);
	return code;
}
