/* The backend contract (backends/backend.h) from the outside, for
 * t_backend_contract.sh: the same calls on divert and on tun, with real
 * traffic, and the rule sets' ownership checked by the sanitizers of a
 * SAN build (a backend that freed a caller's rule set shows up as a
 * use-after-free or a double free; one that kept a reference too many, as
 * a leak).
 *
 *   backend_contract_test divert RELOAD_RULES LOG
 *       in a network namespace of its own, with lo up; the run reads its
 *       signals through a signalfd
 *   backend_contract_test tun CLIENT_NETNS RELOAD_RULES LOG STATE_DIR
 *       in the host namespace: a route to 10.9.0.0/24, CLIENT_NETNS empty;
 *       the run stops and reloads on flags the signal handlers set
 *   backend_contract_test failed-open
 *       opens that fail, and the old libifwall entry points' ownership
 *
 * Prints PASS/FAIL lines; exits 1 when a case failed. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "backends/backend.h"
#include "backends/caps.h"
#include "backends/divert.h"
#include "backends/tun.h"
#include "filter/engine.h"
#include "filter/pktdesc.h"
#include "rules/ruleset.h"
#include "tools/lib/ifwall.h"

static int failures;

#define CHECK(name, cond, ...) do {                                  \
		if (cond) {                                          \
			printf("PASS %s\n", name);                   \
		} else {                                             \
			printf("FAIL %s: ", name);                   \
			printf(__VA_ARGS__);                         \
			printf("\n");                                \
			failures++;                                  \
		}                                                    \
		fflush(stdout);                                      \
	} while (0)

static struct ruleset *parse(const char *text)
{
	struct diag_list diags = { 0 };
	struct ruleset *rs = ruleset_from_string("contract.rules", text, strlen(text), &diags);

	if (!rs)
		diag_list_print(stderr, &diags);
	diag_list_clear(&diags);
	return rs;
}

/* The caller's rule set is still whole: it decides a packet as written. */
static const char *decide(const struct ruleset *rs, const char *description)
{
	struct packet p;

	memset(&p, 0, sizeof(p));
	if (pktdesc_parse(description, &p, NULL) < 0)
		return "unparsable";
	return verdict_name(ruleset_decide(rs, &p).verdict);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* --- traffic while a backend runs ------------------------------------------ */

struct traffic {
	const char *netns;          /* NULL: this namespace */
	const char *dst;
	pthread_t runner;           /* the thread in backend_run */
};

/* The flags of a run with stop flags, set by the handlers as 'ifwall run'
 * sets them. */
static volatile sig_atomic_t stop_flag, reload_flag;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		reload_flag = 1;
	else
		stop_flag = 1;
}

static void send_udp(const char *dst, int port)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0)
		return;
	inet_pton(AF_INET, dst, &to.sin_addr);
	sendto(fd, "x", 1, 0, (struct sockaddr *)&to, sizeof(to));
	close(fd);
}

/* Two datagrams (ports 9 and 10), SIGHUP (a reload), one more (port 11),
 * then SIGTERM, each signal to the thread running the backend. */
static void *traffic_thread(void *arg)
{
	struct traffic *t = arg;

	if (t->netns) {
		char path[256];
		snprintf(path, sizeof(path), "/var/run/netns/%s", t->netns);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || setns(fd, CLONE_NEWNET) < 0)
			fprintf(stderr, "setns %s: %s\n", t->netns, strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	sleep_ms(500);
	send_udp(t->dst, 9);
	send_udp(t->dst, 10);
	sleep_ms(300);
	pthread_kill(t->runner, SIGHUP);
	sleep_ms(500);
	send_udp(t->dst, 11);
	sleep_ms(300);
	pthread_kill(t->runner, SIGTERM);
	return NULL;
}


static const char rules_first[] =
	"pass out proto udp to any port 9\n"
	"block out proto udp to any port 10\n"
	"pass all\n";
static const char rules_second[] =
	"pass out proto udp to any port 9\n"
	"pass out proto udp to any port 10\n"
	"block out proto udp to any port 11\n"
	"pass all\n";

/* One backend through the contract: open, set (the caller frees its
 * first set at once), set again (the caller keeps its second set past
 * the backend's end), run with traffic and a reload, free. */
static void contract(const char *name, struct backend *be, const struct backend_stop *stop,
		     struct traffic *t, struct backend_reload_source *rctx)
{
	struct backend_error err = { 0 };
	char case_name[64];
	pthread_t thread;
	int rc;

	struct ruleset *first = parse(rules_first);
	struct ruleset *second = parse(rules_second);
	if (!first || !second) {
		CHECK("parse", 0, "the test's rules do not parse");
		exit(1);
	}
	rctx->backend = be;

	snprintf(case_name, sizeof(case_name), "%s-run-without-rules", name);
	rc = backend_run(be, stop, &err);
	CHECK(case_name, rc == -EINVAL && err.code == -EINVAL && err.message[0],
	      "run before set_ruleset: %d (%s)", rc, err.message);

	snprintf(case_name, sizeof(case_name), "%s-set-first", name);
	rc = backend_set_ruleset(be, first, &err);
	CHECK(case_name, rc >= 0, "%d (%s)", rc, err.message);
	/* The caller lets go at once: the backend's own reference keeps it. */
	ruleset_free(first);
	snprintf(case_name, sizeof(case_name), "%s-set-rejects-null", name);
	rc = backend_set_ruleset(be, NULL, &err);
	CHECK(case_name, rc == -EINVAL && backend_ruleset(be), "%d", rc);

	/* The traffic thread's first datagrams meet 'second' (set below);
	 * the reload puts the file's rules in force. */
	snprintf(case_name, sizeof(case_name), "%s-set-second", name);
	rc = backend_set_ruleset(be, second, &err);
	CHECK(case_name, rc >= 0 && backend_ruleset(be) != NULL, "%d (%s)", rc, err.message);

	t->runner = pthread_self();
	pthread_create(&thread, NULL, traffic_thread, t);
	snprintf(case_name, sizeof(case_name), "%s-run-stops", name);
	rc = backend_run(be, stop, &err);
	pthread_join(thread, NULL);
	CHECK(case_name, rc == 0, "%d (%s)", rc, err.message);
	/* The reload replaced 'second' in the backend; the caller's own
	 * reference goes now (the backend must have released its one). */
	ruleset_free(second);
}

static int run_divert(const char *reload_rules, const char *log_path)
{
	struct traffic t = { .dst = "127.0.0.1" };
	/* No flags: the run reads SIGHUP and SIGTERM through a signalfd. */
	struct backend_stop stop = { .stop = NULL };
	struct backend_reload_source rctx = { .file = { .path = reload_rules } };
	FILE *log = fopen(log_path, "w");
	struct divert_options o = {
		.queue = 4711,
		.io = { .log = log, .messages = stderr, .reload = backend_reload_source, .reload_ctx = &rctx },
		.keep_capabilities = true,
	};
	struct backend_error err;
	struct divert_stats st;
	struct divert *d;

	int rc = divert_open(&d, &o, &err);
	CHECK("divert-open", rc == 0, "%d (%s)", rc, err.message);
	if (rc < 0)
		return 1;
	/* 'second' is parsed again here to keep it past divert_free. */
	struct ruleset *kept = parse(rules_second);
	contract("divert", divert_backend(d), &stop, &t, &rctx);
	rc = divert_set_ruleset(d, kept, &err);
	CHECK("divert-set-after-run", rc >= 0, "%d (%s)", rc, err.message);
	divert_get_stats(d, &st);
	CHECK("divert-decided-traffic", st.packets >= 3 && st.reloads == 1,
	      "%llu packets, %llu reloads", (unsigned long long)st.packets,
	      (unsigned long long)st.reloads);
	divert_free(d);
	/* Still the caller's: whole, and freed by the caller alone. */
	const char *v = decide(kept, "out on eth0 udp 10.0.0.1:5000 > 10.0.0.2:10");
	CHECK("divert-caller-owns-after-free", !strcmp(v, "pass"), "decided %s", v);
	ruleset_free(kept);
	fclose(log);
	return failures ? 1 : 0;
}

static int run_tun(const char *netns, const char *reload_rules, const char *log_path,
		   const char *state_dir)
{
	struct traffic t = { .netns = netns, .dst = "10.9.0.2" };
	/* Flags the handlers set. */
	struct backend_stop stop = { .stop = &stop_flag, .reload = &reload_flag };
	struct backend_reload_source rctx = { .file = { .path = reload_rules } };
	FILE *log = fopen(log_path, "w");
	struct tun_options o = {
		.netns = netns,
		.io = { .log = log, .messages = stderr, .reload = backend_reload_source, .reload_ctx = &rctx },
		.keep_capabilities = true,
		.state_dir = state_dir,
	};
	struct backend_error err;
	struct tun_stats st;
	struct tun_backend *be;

	int rc = tun_open(&be, &o, &err);
	CHECK("tun-open", rc == 0, "%d (%s)", rc, err.message);
	if (rc < 0)
		return 1;
	struct ruleset *kept = parse(rules_second);
	contract("tun", tun_backend(be), &stop, &t, &rctx);
	rc = tun_set_ruleset(be, kept, &err);
	CHECK("tun-set-after-run", rc >= 0, "%d (%s)", rc, err.message);
	tun_get_stats(be, &st);
	CHECK("tun-decided-traffic", st.from_client >= 3 && st.reloads == 1,
	      "%llu from the client, %llu reloads", (unsigned long long)st.from_client,
	      (unsigned long long)st.reloads);
	tun_free(be);
	const char *v = decide(kept, "out on eth0 udp 10.0.0.1:5000 > 10.0.0.2:10");
	CHECK("tun-caller-owns-after-free", !strcmp(v, "pass"), "decided %s", v);
	ruleset_free(kept);
	fclose(log);
	return failures ? 1 : 0;
}

/* --- opens that fail --------------------------------------------------------- */

static int failed_open(void)
{
	struct backend_error err;
	struct ruleset *rs = parse(rules_first);
	int rc;

	/* tun: a client namespace that does not exist. */
	struct tun_options to = { .netns = "ifwall-contract-no-such-netns", .keep_capabilities = true };
	struct tun_backend *tb = (struct tun_backend *)&rc; /* must come back NULL */
	rc = tun_open(&tb, &to, &err);
	CHECK("tun-failed-open", rc < 0 && !tb && err.code == rc && strstr(err.message, "no-such-netns"),
	      "%d (%s)", rc, err.message);
	tun_free(tb);

	/* divert without CAP_NET_ADMIN (in a child: the capabilities go). */
	pid_t child = fork();
	if (child == 0) {
		char why[128];
		struct divert_options dop = { .queue = 4712, .keep_capabilities = true };
		struct divert *d = (struct divert *)&rc;
		if (caps_keep_only(NULL, 0, why, sizeof(why)) < 0)
			_exit(3);
		int r = divert_open(&d, &dop, &err);
		_exit(r == -EPERM && !d && err.code == -EPERM && err.message[0] ? 0 : 1);
	}
	int status = 0;
	waitpid(child, &status, 0);
	CHECK("divert-failed-open", WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "child status %d", status);

	/* The rule set never left the caller. */
	const char *v = decide(rs, "out on eth0 udp 10.0.0.1:5000 > 10.0.0.2:10");
	CHECK("failed-open-caller-owns", !strcmp(v, "block"), "decided %s", v);
	ruleset_free(rs);

	/* libifwall keeps its 0.1 contracts: ifw_tun_run leaves rs with the
	 * caller, also on error; ifw_divert_run consumes it in every case (a
	 * leak or a double free would show under the sanitizers). */
	struct ifw_ruleset *pub = NULL;
	struct ifw_error e;
	static volatile sig_atomic_t never;
	rc = ifw_ruleset_from_string("pub.rules", rules_first, strlen(rules_first), &pub, NULL);
	struct ifw_tun_options pto = { .netns = "ifwall-contract-no-such-netns" };
	rc = rc < 0 ? rc : ifw_tun_run(pub, &pto, &never, NULL, NULL, &e);
	struct ifw_decision dec;
	int drc = ifw_decide_description(pub, "out on eth0 udp 10.0.0.1:5000 > 10.0.0.2:10", &dec);
	CHECK("ifw-tun-run-failed-caller-owns", rc < 0 && e.code == rc && drc == 0 &&
	      dec.verdict == IFW_BLOCK, "run %d (%s), decide %d", rc, e.message, drc);
	ifw_ruleset_free(pub);
	rc = ifw_ruleset_from_string("pub.rules", rules_first, strlen(rules_first), &pub, NULL);
	struct ifw_divert_options pdo = { .queue = 70000 };
	rc = rc < 0 ? rc : ifw_divert_run(pub, &pdo, NULL, &e); /* consumes pub */
	CHECK("ifw-divert-run-failed-consumes", rc == -EINVAL && e.code == -EINVAL, "%d (%s)",
	      rc, e.message);
	return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (argc == 4 && !strcmp(argv[1], "divert"))
		return run_divert(argv[2], argv[3]);
	if (argc == 6 && !strcmp(argv[1], "tun"))
		return run_tun(argv[2], argv[3], argv[4], argv[5]);
	if (argc == 2 && !strcmp(argv[1], "failed-open"))
		return failed_open();
	fprintf(stderr, "usage: %s divert RELOAD_RULES LOG | tun NETNS RELOAD_RULES LOG STATE_DIR"
		" | failed-open\n", argv[0]);
	return 2;
}
