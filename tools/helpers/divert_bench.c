/* Benchmark helper for tests/bench/b_divert.sh.
 *   divert_bench serve PORT                 accept (and later close), forever
 *   divert_bench latency ADDR PORT COUNT    sequential connects: p50/p99 us,
 *                                           connections per second
 *   divert_bench rate ADDR PORT SECONDS THREADS   connections per second
 *   divert_bench udpflows ADDR FIRST_PORT COUNT   one datagram per port
 * Connections are closed with a RST (SO_LINGER 0) so no TIME_WAIT piles up. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static struct sockaddr_in target(const char *addr, const char *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port)) };

	if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1) {
		fprintf(stderr, "bad address %s\n", addr);
		exit(2);
	}
	return sin;
}

static void close_hard(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

/* Returns the connect time in microseconds, or -1. */
static double connect_once(const struct sockaddr_in *sin)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	double start = now_us();
	int r = connect(fd, (const struct sockaddr *)sin, sizeof(*sin));
	double t = now_us() - start;
	int e = errno;
	close_hard(fd);
	if (r < 0 && getenv("BENCH_DEBUG"))
		fprintf(stderr, "connect: %s after %.0f us\n", strerror(e), t);
	return r == 0 ? t : -1;
}

static int serve(const char *port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port)) };

	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(fd, 4096) < 0) {
		perror("listen");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	/* Accepted sockets are closed 500 accepts later: closing at once
	 * would race the client's own connect() with a RST. */
	int ring[500];
	size_t next = 0;
	for (size_t i = 0; i < sizeof(ring) / sizeof(ring[0]); i++)
		ring[i] = -1;
	for (;;) {
		int c = accept(fd, NULL, NULL);
		if (c < 0)
			continue;
		if (ring[next] >= 0)
			close(ring[next]);
		ring[next] = c;
		next = (next + 1) % (sizeof(ring) / sizeof(ring[0]));
	}
}

static int compare(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int latency(const char *addr, const char *port, int count)
{
	struct sockaddr_in sin = target(addr, port);
	double *t = calloc((size_t)count, sizeof(*t));
	int n = 0, failed = 0;

	double start = now_us();
	for (int i = 0; i < count; i++) {
		double us = connect_once(&sin);
		if (us < 0)
			failed++;
		else
			t[n++] = us;
	}
	if (n == 0) {
		printf("p50_us=0 p99_us=0 ok=0 failed=%d\n", failed);
		return 1;
	}
	qsort(t, (size_t)n, sizeof(*t), compare);
	double elapsed = (now_us() - start) / 1e6;
	printf("p50_us=%.1f p99_us=%.1f conn_per_s=%.0f ok=%d failed=%d\n", t[n / 2],
	       t[(size_t)((double)n * 0.99) < (size_t)n ? (size_t)((double)n * 0.99) : (size_t)n - 1],
	       (double)n / elapsed, n, failed);
	free(t);
	return 0;
}

struct rate_arg {
	struct sockaddr_in sin;
	double until;
	long ok, failed;
};

static void *rate_thread(void *p)
{
	struct rate_arg *a = p;

	while (now_us() < a->until) {
		if (connect_once(&a->sin) < 0)
			a->failed++;
		else
			a->ok++;
	}
	return NULL;
}

static int rate(const char *addr, const char *port, double seconds, int threads)
{
	pthread_t tid[64];
	struct rate_arg args[64];
	long ok = 0, failed = 0;

	if (threads < 1 || threads > 64)
		threads = 1;
	double start = now_us();
	for (int i = 0; i < threads; i++) {
		args[i] = (struct rate_arg){ .sin = target(addr, port), .until = start + seconds * 1e6 };
		pthread_create(&tid[i], NULL, rate_thread, &args[i]);
	}
	for (int i = 0; i < threads; i++) {
		pthread_join(tid[i], NULL);
		ok += args[i].ok;
		failed += args[i].failed;
	}
	double elapsed = (now_us() - start) / 1e6;
	printf("conn_per_s=%.0f ok=%ld failed=%ld\n", (double)ok / elapsed, ok, failed);
	return 0;
}

static int udpflows(const char *addr, int first_port, int count)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in sin = target(addr, "0");
	long sent = 0;

	for (int i = 0; i < count; i++) {
		sin.sin_port = htons((uint16_t)(first_port + i));
		if (sendto(fd, "x", 1, 0, (struct sockaddr *)&sin, sizeof(sin)) == 1)
			sent++;
		if (i % 256 == 255)
			usleep(2000); /* stay under the queue's length */
	}
	printf("sent=%ld\n", sent);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[1], "serve"))
		return serve(argv[2]);
	if (argc >= 5 && !strcmp(argv[1], "latency"))
		return latency(argv[2], argv[3], atoi(argv[4]));
	if (argc >= 6 && !strcmp(argv[1], "rate"))
		return rate(argv[2], argv[3], atof(argv[4]), atoi(argv[5]));
	if (argc >= 5 && !strcmp(argv[1], "udpflows"))
		return udpflows(argv[2], atoi(argv[3]), atoi(argv[4]));
	fprintf(stderr, "usage: see the top of tools/helpers/divert_bench.c\n");
	return 2;
}
