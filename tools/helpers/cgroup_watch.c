/* Test helper: drives backends/cgroup.h's watch as a resident process
 * would. cgroup_watch PATTERN...: prints "ready" and the ids of each
 * pattern, then one line "change I N REALTIME_NS ids..." whenever pattern
 * I's ids change (tests/kernel/cgroup measure a new cgroup's latency with it). */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backends/cgroup.h"

static void print_ids(const struct cgroup_ids *ids)
{
	for (size_t k = 0; k < ids->count; k++)
		printf(" %" PRIu64, ids->ids[k]);
	printf("\n");
}

int main(int argc, char **argv)
{
	char mount[4096];
	struct cgroup_watch *w;
	size_t n = (size_t)(argc - 1);
	bool *changed = calloc(n ? n : 1, sizeof(*changed));
	int rc = cgroup2_mount(mount, sizeof(mount));

	if (rc == 0)
		rc = cgroup_watch_open(&w, mount, (const char *const *)argv + 1, n);
	if (rc < 0 || !changed) {
		fprintf(stderr, "cgroup_watch: %s\n", strerror(rc < 0 ? -rc : ENOMEM));
		return 1;
	}
	printf("ready %s\n", mount);
	for (size_t i = 0; i < n; i++) {
		printf("ids %zu", i);
		print_ids(cgroup_watch_ids(w, i));
	}
	fflush(stdout);
	for (;;) {
		struct pollfd p = { .fd = cgroup_watch_fd(w), .events = POLLIN };
		if (poll(&p, 1, -1) < 0 && errno != EINTR)
			break;
		rc = cgroup_watch_process(w, changed);
		if (rc < 0) {
			fprintf(stderr, "cgroup_watch: %s\n", strerror(-rc));
			break;
		}
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		for (size_t i = 0; i < n; i++) {
			if (!changed[i])
				continue;
			const struct cgroup_ids *ids = cgroup_watch_ids(w, i);
			printf("change %zu %zu %lld%09ld", i, ids->count, (long long)ts.tv_sec, ts.tv_nsec);
			print_ids(ids);
		}
		fflush(stdout);
	}
	cgroup_watch_free(w);
	free(changed);
	return 1;
}
