/* ifwall run --backend divert|tun [...] RULES: a userspace packet path in
 * the foreground. SIGHUP reloads RULES atomically, SIGTERM exits. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"
#include "backends/divert.h"
#include "backends/tun.h"
#include "rules/ruleset.h"
#include "backends/control.h"
#include "tools/run_control.h"
#include "tools/cli.h"
#include "tools/run_nft.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: %s run --backend nft [--watch] [--max-errors N] RULES\n"
		"       %s run --backend divert [--queue N] [--fail-open] [--log FILE|-]\n"
		"              [--max-errors N] RULES\n"
		"       %s run --backend tun --netns NAME [--prefix CIDR] [--log FILE|-]\n"
		"              [--max-errors N] RULES\n"
		"Decides live traffic in userspace, in the foreground. SIGHUP reloads\n"
		"RULES atomically (a file with errors keeps the current rules); SIGTERM\n"
		"or SIGINT exits; divert leaves its table (new flows dropped: fail closed).\n"
		"nft: loads RULES into table inet ifwall and holds it: owned by this\n"
		"  process (table flags owner and persist) so no other process can change\n"
		"  or delete it; where the kernel lacks those flags, or with --watch, the\n"
		"  table is watched and restored within milliseconds of any change by\n"
		"  another process. SIGTERM exits and leaves the table (fail closed); a\n"
		"  new run adopts it. 'ifwall load' and 'ifwall flush' reach this process\n"
		"  through its control socket (root only, under /run/ifwall).\n"
		"divert: new flows go to NFQUEUE N (default 0) before their first packet\n"
		"  leaves or is delivered; passed flows then stay in the kernel. Without\n"
		"  --fail-open, new flows are dropped while nobody listens: the table\n"
		"  inet ifwall_divert stays after any stop until 'ifwall flush' (or the\n"
		"  next run, which takes it over); with --fail-open a clean stop removes\n"
		"  it. A change another process makes to the table is undone at once and\n"
		"  reported. At most 65536 flows are kept in memory (the oldest idle ones\n"
		"  make room).\n"
		"tun: ifwall is the only path between ifw0, put into the client network\n"
		"  namespace NAME as its default route, and ifw1 here; client traffic is\n"
		"  decided as 'out' on the interface this host routes it through. --prefix\n"
		"  (default " TUN_DEFAULT_PREFIX "; once per address family) gives this side\n"
		"  its first address and the client the second.\n"
		"--log: one JSON line per verdict (time, verdict, dir, iface, proto, src,\n"
		"  sport, dst, dport, rule) to FILE, or stdout with '-'.\n"
		"--max-errors N: print the first N errors of RULES, then count the rest\n"
		"  (default %d; 0: all).\n",
		prog, prog, prog, CLI_DEFAULT_MAX_ERRORS);
}

struct run_args {
	const char *backend;
	const char *rules;
	const char *log;
	unsigned long queue;
	bool fail_open;
	bool watch;
	const char *netns;
	const char *prefix[TUN_MAX_PREFIXES + 1]; /* one more, to complain */
	size_t nprefixes;
};

static bool parse_number(const char *text, unsigned long max, unsigned long *out)
{
	char *end;

	errno = 0;
	unsigned long v = strtoul(text, &end, 0);
	if (errno || end == text || *end || v > max || text[0] == '-')
		return false;
	*out = v;
	return true;
}

/* Returns EXIT_OK to go on, or the exit code (-1: help printed). */
static int parse_args(int argc, char **argv, struct run_args *a)
{
	for (int i = 1; i < argc; i++) {
		int taken = cli_max_errors_option("run", argc, argv, &i);
		if (taken < 0)
			return EXIT_USAGE;
		if (taken)
			continue;
		const char *arg = argv[i];
		const char *eq = !strncmp(arg, "--", 2) ? strchr(arg, '=') : NULL;
		char name[16];
		/* --option=value, as well as --option value */
		if (eq && (size_t)(eq - arg) < sizeof(name)) {
			memcpy(name, arg, (size_t)(eq - arg));
			name[eq - arg] = '\0';
			arg = name;
		} else {
			eq = NULL;
		}
		const char *value = eq ? eq + 1 : i + 1 < argc ? argv[i + 1] : NULL;
		bool takes_value = !strcmp(arg, "--backend") || !strcmp(arg, "--queue") ||
				   !strcmp(arg, "--log") ||
				   !strcmp(arg, "--netns") || !strcmp(arg, "--prefix");

		if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
			usage(stdout);
			return -1;
		}
		if ((takes_value && (!value || !*value)) || (eq && !takes_value)) {
			cli_error("run", takes_value ? "%s needs a value" : "%s takes no value",
				  arg);
			return EXIT_USAGE;
		}
		if (!strcmp(arg, "--backend")) {
			a->backend = value;
		} else if (!strcmp(arg, "--queue")) {
			if (!parse_number(value, 65535, &a->queue)) {
				cli_error("run", "--queue: '%s' is not a queue number (0-65535)", value);
				return EXIT_USAGE;
			}
		} else if (!strcmp(arg, "--log")) {
			a->log = value;
		} else if (!strcmp(arg, "--netns")) {
			a->netns = value;
		} else if (!strcmp(arg, "--prefix")) {
			if (a->nprefixes < sizeof(a->prefix) / sizeof(a->prefix[0]))
				a->prefix[a->nprefixes++] = value;
		} else if (!strcmp(arg, "--fail-open")) {
			a->fail_open = true;
			continue;
		} else if (!strcmp(arg, "--watch")) {
			a->watch = true;
			continue;
		} else if (arg[0] == '-' && arg[1]) {
			cli_error("run", "unknown option '%s'", arg);
			usage(stderr);
			return EXIT_USAGE;
		} else if (a->rules) {
			cli_error("run", "one rule file only ('%s' and '%s')", a->rules, arg);
			return EXIT_USAGE;
		} else {
			a->rules = arg;
			continue;
		}
		if (!eq)
			i++; /* the value was the next argument */
	}
	if (!a->backend) {
		cli_error("run", "--backend nft|divert|tun is required");
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(a->backend, "divert") && strcmp(a->backend, "tun") &&
	    strcmp(a->backend, "nft")) {
		cli_error("run", "unknown backend '%s' (nft, divert or tun)", a->backend);
		return EXIT_USAGE;
	}
	if (!strcmp(a->backend, "nft") && (a->log || a->queue || a->fail_open || a->netns ||
					   a->nprefixes)) {
		cli_error("run", "--backend nft takes only --watch and --max-errors "
			  "('ifwall log' shows what its rules log)");
		return EXIT_USAGE;
	}
	if (strcmp(a->backend, "nft") && a->watch) {
		cli_error("run", "--watch is for --backend nft");
		return EXIT_USAGE;
	}
	if (!a->rules) {
		cli_error("run", "missing RULES file");
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(a->backend, "tun") && !a->netns) {
		cli_error("run", "--backend tun needs --netns NAME");
		return EXIT_USAGE;
	}
	if (strcmp(a->backend, "tun") && (a->netns || a->nprefixes)) {
		cli_error("run", "--netns and --prefix are for --backend tun");
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

/* Parses the rule file, printing its diagnostics. NULL on error; then
 * *status (when not NULL) gets the exit status. */
static struct ruleset *load_rules(const char *path, int *status)
{
	struct diag_list diags = { 0 };
	struct ruleset *rs = ruleset_from_file(path, &diags);

	if (status)
		*status = rs ? EXIT_OK : cli_rule_file_status(&diags);
	if (rs && ruleset_check_trust(rs, DIAG_ERROR, &diags)) {
		ruleset_free(rs);
		rs = NULL;
		if (status)
			*status = EXIT_USAGE;
		fprintf(stderr, "%s run: refusing rule files an unprivileged user could change\n", prog);
	}
	cli_print_diags("run", &diags);
	diag_list_clear(&diags);
	return rs;
}

/* SIGHUP: the rule file read again and set on the running backend
 * (backend_reload: its diagnostics printed as at the start). */
static void print_reload_diags(void *ctx, const struct diag_list *diags)
{
	cli_print_diags("run", diags);
}

static void run_reload_init(struct backend_reload_source *r, const char *path)
{
	*r = (struct backend_reload_source){
		.file = {
			.path = path,
			.check_trust = true,
			.print_diags = print_reload_diags,
		},
	};
}

static volatile sig_atomic_t run_stop, run_reload_asked;

static void run_signal(int sig)
{
	if (sig == SIGHUP)
		run_reload_asked = 1;
	else
		run_stop = 1;
}

/* SIGHUP reloads, SIGTERM and SIGINT stop: the handlers only set the flags
 * the backend's loop reads (struct backend_stop). */
static void run_signals_install(struct backend_stop *stop)
{
	struct sigaction sa = { .sa_handler = run_signal };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	stop->stop = &run_stop;
	stop->reload = &run_reload_asked;
}

static const char *kind_name(enum divert_queue_kind kind)
{
	return kind == DIVERT_QUEUE_EXPR ? "nft queue expression"
					 : "xtables NFQUEUE target";
}

/* The 'table' command on the running backend (either one). */
static const struct ruleset *backend_rules_of(void *be) { return backend_ruleset(be); }
static int backend_change(void *be, const char *name, enum addrset_op op,
			  const struct ifw_prefix *p, size_t n, size_t *changed)
{
	return backend_table_change(be, name, op, p, n, changed);
}

/* The control socket of a userspace backend: 'ifwall table' and 'ifwall
 * status' reach the process through it. NULL (and a warning) when it
 * cannot be opened: the backend runs without it. */
static struct control_server *open_control(const char *backend, struct run_table_target *t)
{
	struct control_server *s = NULL;
	pid_t other = 0;
	int rc = control_server_open(&s, backend, &other);

	if (rc < 0) {
		if (rc == -EADDRINUSE)
			cli_error("run", "warning: another 'ifwall run --backend %s' (pid %ld) has "
				  "the control socket; 'ifwall table' reaches that one", backend,
				  (long)other);
		else
			cli_error("run", "warning: no control socket (%s): 'ifwall table' cannot "
				  "reach this process", strerror(-rc));
		return NULL;
	}
	control_server_add(s, "table", run_table_handler, t);
	return s;
}

static int run_divert(const struct run_args *a, const struct ruleset *rs, FILE *log)
{
	struct backend_reload_source reload;
	struct divert_options opts = {
		.queue = (uint16_t)a->queue,
		.fail_open = a->fail_open,
		.io = { .log = log, .messages = stderr, .reload = backend_reload_source, .reload_ctx = &reload },
	};
	struct backend_stop stop;
	struct backend_error err;
	struct divert *d;
	struct run_table_target target = { .rules = backend_rules_of, .change = backend_change };

	run_reload_init(&reload, a->rules);
	run_signals_install(&stop);
	opts.control = open_control("divert", &target);
	int r = divert_open(&d, &opts, &err);
	if (r == 0)
		r = divert_set_ruleset(d, rs, &err);
	if (r < 0) {
		cli_error("run", "%s", err.message);
		divert_free(d);
		control_server_free(opts.control);
		return EXIT_SYSTEM;
	}
	reload.backend = target.backend = divert_backend(d);
	unsigned queues = divert_queue_count(d);
	char more[48] = "";
	if (queues > 1)
		snprintf(more, sizeof(more), "to %lu, one per CPU; ", a->queue + queues - 1);
	fprintf(stderr, "%s run: divert on NFQUEUE %lu (%s%s)%s, table inet ifwall_divert; ready\n",
		prog, a->queue, more, kind_name(divert_queue_kind_used(d)),
		a->fail_open ? ", fail-open" : "");
	r = divert_run(d, &stop, &err);
	struct divert_stats st;
	divert_get_stats(d, &st);
	divert_free(d);
	control_server_free(opts.control);
	fprintf(stderr, "%s run: %llu packets decided: %llu passed, %llu blocked, %llu rejected; "
		"%llu verdict messages; %zu flows; %llu reloads (%llu failed); "
		"table restored %llu times\n",
		prog, (unsigned long long)st.packets, (unsigned long long)st.passed,
		(unsigned long long)st.blocked, (unsigned long long)st.rejected,
		(unsigned long long)st.verdict_messages, st.flows,
		(unsigned long long)st.reloads, (unsigned long long)st.reload_failures,
		(unsigned long long)st.table_restores);
	if (a->fail_open)
		fprintf(stderr, "%s run: --fail-open: table inet ifwall_divert removed\n", prog);
	else
		fprintf(stderr, "%s run: table inet ifwall_divert stays: new flows are dropped "
			"until 'ifwall flush' or the next 'ifwall run --backend divert'\n", prog);
	if (r < 0) {
		cli_error("run", "%s", err.message);
		return EXIT_SYSTEM;
	}
	return EXIT_OK;
}

/* --prefix values: one IPv4 and one IPv6 at most, with room for two
 * addresses each. Returns EXIT_OK or EXIT_USAGE. */
static int tun_prefixes(const struct run_args *a, struct tun_options *opts)
{
	char err[160];

	if (a->nprefixes > TUN_MAX_PREFIXES) {
		cli_error("run", "--prefix: at most one IPv4 and one IPv6 prefix");
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < a->nprefixes; i++) {
		int r = ifw_prefix_parse(a->prefix[i], &opts->prefixes[i]);

		if (r < 0) {
			cli_error("run", "--prefix: '%s' is not a prefix (%s)", a->prefix[i],
				  r == -EDOM ? "host bits set" : "malformed");
			return EXIT_USAGE;
		}
	}
	opts->nprefixes = a->nprefixes;
	if (tun_prefixes_check(opts->prefixes, opts->nprefixes, err, sizeof(err)) < 0) {
		cli_error("run", "--prefix: %s", err);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

static int run_tun(const struct run_args *a, const struct ruleset *rs, FILE *log)
{
	struct backend_reload_source reload;
	struct tun_options opts = {
		.netns = a->netns,
		.io = { .log = log, .messages = stderr, .reload = backend_reload_source, .reload_ctx = &reload },
	};
	struct run_table_target target = { .rules = backend_rules_of, .change = backend_change };
	struct tun_backend *be = NULL;
	struct tun_stats st = { 0 };
	struct backend_stop stop;
	struct backend_error err;
	int r;

	r = tun_prefixes(a, &opts);
	if (r != EXIT_OK)
		return r;
	run_reload_init(&reload, a->rules);
	run_signals_install(&stop);
	opts.control = open_control("tun", &target);
	r = tun_open(&be, &opts, &err);
	if (r == 0)
		r = tun_set_ruleset(be, rs, &err);
	if (r == 0) {
		reload.backend = target.backend = tun_backend(be);
		r = tun_run(be, &stop, &err);
		tun_get_stats(be, &st);
	}
	tun_free(be);
	control_server_free(opts.control);
	if (r == 0 || st.from_client || st.from_host)
		fprintf(stderr, "%s run: %llu packets from the client, %llu toward it: %llu passed, "
		"%llu blocked, %llu rejected, %llu without route, %llu undecodable; "
		"%llu route lookups; %llu reloads (%llu failed); "
		"%llu UDP datagrams written merged\n",
		prog, (unsigned long long)st.from_client, (unsigned long long)st.from_host,
		(unsigned long long)st.passed, (unsigned long long)st.blocked,
		(unsigned long long)st.rejected, (unsigned long long)st.no_route,
		(unsigned long long)st.undecodable, (unsigned long long)st.route_lookups,
		(unsigned long long)st.reloads, (unsigned long long)st.reload_failures,
		(unsigned long long)st.udp_merged);
	if (r < 0) {
		cli_error("run", "%s", err.message);
		return EXIT_SYSTEM;
	}
	return EXIT_OK;
}

/* A packet read from a TUN device has no local socket, so a 'cgroup'
 * rule could never match there: refused, each rule located, rather than
 * silently never matching. */
static bool tun_refuse_cgroup(const struct ruleset *rs)
{
	struct diag_list diags = { 0 };

	for (size_t i = 0; i < rs->nrules; i++)
		if (rs->rules[i].cgroup)
			diag_add_rule(&diags, DIAG_ERROR, &rs->rules[i],
				      "the tun backend cannot match 'cgroup': a packet read "
				      "from a TUN device has no local socket (use nft or divert)");
	if (!diags.count)
		return false;
	cli_print_diags("run", &diags);
	diag_list_clear(&diags);
	cli_error("run", "refusing rules the tun backend cannot enforce");
	return true;
}

int cmd_run(int argc, char **argv)
{
	struct run_args a = { 0 };
	int code = parse_args(argc, argv, &a);

	if (code == -1)
		return EXIT_OK;
	if (code != EXIT_OK)
		return code;
	if (!strcmp(a.backend, "nft"))
		return run_nft(a.rules, a.watch);
	int status;
	struct ruleset *rs = load_rules(a.rules, &status);
	if (!rs)
		return status;
	if (!strcmp(a.backend, "tun") && tun_refuse_cgroup(rs)) {
		ruleset_free(rs);
		return EXIT_USAGE;
	}
	FILE *log = NULL;
	if (a.log && !strcmp(a.log, "-")) {
		log = stdout;
	} else if (a.log) {
		log = fopen(a.log, "a");
		if (!log) {
			cli_error("run", "opening log %s: %s", a.log, strerror(errno));
			ruleset_free(rs);
			return EXIT_SYSTEM;
		}
	}
	if (!strcmp(a.backend, "tun"))
		code = run_tun(&a, rs, log);
	else
		code = run_divert(&a, rs, log);
	/* The backend held its own reference while it ran. */
	ruleset_free(rs);
	if (log && log != stdout)
		fclose(log);
	return code;
}
