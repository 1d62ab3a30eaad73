/* Test helper: what a resident owner of table inet ifwall does for
 * '(IFSPEC)'. Compiles RULES (already loaded with 'ifwall load RULES'),
 * then brings the table's '(IFSPEC)' sets up to date with
 * nft_ifaddr_sets_refresh(): once, or with --watch SECONDS again after
 * every burst of rtnetlink address changes until SIGTERM/SIGINT or the
 * time is up. Prints "refreshed N" after each refresh that sent something
 * and "ready" once the first refresh is done. Exit 0, 2 usage or invalid
 * RULES, 3 an error. */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backends/iftable.h"
#include "backends/nft.h"
#include "rules/ruleset.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int refresh(struct nft_plan *plan, const struct iftable *t)
{
	struct nft_error err;
	size_t changed = 0;
	int rc = nft_ifaddr_sets_refresh(plan, iftable_ifaddrs(t), &changed, &err);

	if (rc < 0) {
		fprintf(stderr, "refresh: %s\n", err.message);
		return rc;
	}
	if (changed)
		printf("refreshed %zu\n", changed);
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	struct diag_list diags = { 0 };
	struct nft_plan *plan = NULL;
	struct iftable *t = NULL;
	struct nft_error err;
	long seconds = -1;
	const char *file;
	int status = 3, rc;

	if (argc == 4 && !strcmp(argv[1], "--watch")) {
		seconds = strtol(argv[2], NULL, 10);
		file = argv[3];
	} else if (argc == 2) {
		file = argv[1];
	} else {
		fprintf(stderr, "usage: ifaddr_refresh [--watch SECONDS] RULES\n");
		return 2;
	}
	struct ruleset *rs = ruleset_from_file(file, &diags);
	diag_list_clear(&diags);
	if (!rs) {
		fprintf(stderr, "%s: invalid or unreadable\n", file);
		return 2;
	}
	if (nft_plan_build(rs, &plan, &err) < 0) {
		fprintf(stderr, "%s\n", err.message);
		ruleset_free(rs);
		return 2;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	rc = iftable_open(&t, seconds >= 0 ? IFTABLE_WATCH : 0);
	if (rc < 0) {
		fprintf(stderr, "iftable_open: %s\n", strerror(-rc));
		goto out;
	}
	/* The plan's sets start empty, so the first refresh always sends
	 * (unless no interface holds a matching address). */
	if (refresh(plan, t) < 0)
		goto out;
	printf("ready\n");
	fflush(stdout);
	time_t end = time(NULL) + (seconds > 0 ? seconds : 0);
	while (!stop && seconds >= 0 && time(NULL) < end) {
		struct pollfd pfd = { .fd = iftable_fd(t), .events = POLLIN };
		if (poll(&pfd, 1, 200) <= 0)
			continue;
		if ((rc = iftable_process(t)) < 0) {
			fprintf(stderr, "iftable_process: %s\n", strerror(-rc));
			goto out;
		}
		if (rc > 0 && refresh(plan, t) < 0)
			goto out;
	}
	status = 0;
out:
	iftable_free(t);
	nft_plan_free(plan);
	ruleset_free(rs);
	return status;
}
