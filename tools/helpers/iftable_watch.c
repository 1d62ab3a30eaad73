/* Test helper: prints the interface table, then again after every burst of
 * rtnetlink changes, until SIGTERM/SIGINT or the given number of seconds.
 * Each snapshot: "update N changes=M" then one line per interface
 * "INDEX NAME TYPE FLAGS ADDR..." and "end". */
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backends/iftable.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void print_table(const struct iftable *t, unsigned update, int changes)
{
	char flags[256], text[INET6_ADDRSTRLEN];

	printf("update %u changes=%d\n", update, changes);
	for (size_t i = 0; i < iftable_count(t); i++) {
		const struct iftable_interface *ifc = iftable_at(t, i);
		printf("%d %s %s %s", ifc->index, ifc->name, iftype_name(ifc->type),
		       iftable_flags_format(ifc->flags, ",", flags, sizeof(flags)));
		for (size_t j = 0; j < ifc->naddrs; j++) {
			const struct iftable_addr *a = &ifc->addrs[j];
			inet_ntop(a->addr.family == 4 ? AF_INET : AF_INET6, a->addr.a,
				  text, sizeof(text));
			const char *owner = ifaddr_table_owner(iftable_ifaddrs(t), &a->addr);
			printf(" %s/%u%s", text, a->prefix_len,
			       owner && !strcmp(owner, ifc->name) ? "" : "(!owner)");
		}
		putchar('\n');
	}
	printf("end\n");
	fflush(stdout);
}

int main(int argc, char **argv)
{
	int seconds = argc > 1 ? atoi(argv[1]) : 30;
	struct iftable *t;
	unsigned update = 0;

	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	int r = iftable_open(&t, IFTABLE_WATCH);
	if (r < 0) {
		fprintf(stderr, "iftable_open: %s\n", strerror(-r));
		return 3;
	}
	print_table(t, update++, 0);
	time_t end = time(NULL) + seconds;
	while (!stop && time(NULL) < end) {
		struct pollfd pfd = { .fd = iftable_fd(t), .events = POLLIN };
		if (poll(&pfd, 1, 200) <= 0)
			continue;
		r = iftable_process(t);
		if (r < 0) {
			fprintf(stderr, "iftable_process: %s\n", strerror(-r));
			iftable_free(t);
			return 3;
		}
		if (r > 0)
			print_table(t, update++, r);
	}
	iftable_free(t);
	return 0;
}
