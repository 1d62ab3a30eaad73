/* tunloop_example: the packet loop of a userspace VPN client, with libifwall
 * deciding every packet. Uses the public header only:
 *
 *   cc -o tunloop tunloop_example.c $(pkg-config --cflags --libs libifwall)
 *   tunloop_example [-v] [-i IFNAME] RULES TUNDEV
 *
 * It attaches to (or creates) the TUN device TUNDEV and reads the packets
 * the host routes into it. A real client would encrypt a passed packet and
 * send it to its server; this one plays the far end itself, so it can run
 * without a server: a passed ICMP/ICMPv6 echo request is answered with an
 * echo reply and a passed UDP datagram is echoed back. Each reply is decided
 * too (as 'in', where flow state lets it through) before it is written to
 * the device. Blocked packets are dropped; a rejected one is answered, as
 * the kernel would, with the TCP RST or ICMP unreachable ifw_reject_build()
 * makes, written back to the device.
 *
 * The rules see the packets on IFNAME (default: TUNDEV), 'out' for what the
 * host sends into the tunnel, 'in' for what comes back. SIGHUP reloads RULES
 * (the flows are re-checked against the new set; a file with errors keeps
 * the old one); SIGINT/SIGTERM print the counters and exit:
 *
 *   out pass N block N reject N
 *   in pass N block N reject N
 *   invalid N
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <ifwall.h>

static volatile sig_atomic_t stop_requested, reload_requested;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		reload_requested = 1;
	else
		stop_requested = 1;
}

static int tun_open(const char *name)
{
	struct ifreq ifr;
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

static struct ifw_ruleset *load_rules(const char *path)
{
	struct ifw_ruleset *rs;
	struct ifw_diags *diags;
	char *text = NULL;
	int err = ifw_ruleset_from_file(path, &rs, &diags);

	if (ifw_diags_count(diags) && ifw_diags_format(diags, IFW_FORMAT_TEXT, &text) >= 0)
		fputs(text, stderr);
	free(text);
	ifw_diags_free(diags);
	if (err < 0)
		fprintf(stderr, "tunloop_example: %s: %s\n", path, strerror(-err));
	return rs;
}

/* Internet checksum over data, folded, starting from sum. */
static uint16_t checksum(const uint8_t *data, size_t len, uint32_t sum)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)data[i] << 8 | data[i + 1];
	if (len & 1)
		sum += (uint32_t)data[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Turns a passed packet into what the far end would answer, in place:
 * swaps the addresses (and the ports of UDP), an echo request becomes an
 * echo reply. Returns 0 when there is nothing to answer. Swapping keeps the
 * IP and UDP checksums valid; the ICMP ones are recomputed. */
static int make_reply(uint8_t *p, size_t len)
{
	uint8_t tmp[16];
	size_t hl, addr_off, addr_len;
	int proto;

	if (len < 20)
		return 0;
	if (p[0] >> 4 == 4) {
		hl = (size_t)(p[0] & 0xf) * 4;
		if (hl < 20 || len < hl + 8 || (p[6] & 0x3f) || p[7])
			return 0; /* fragments are not answered */
		proto = p[9];
		addr_off = 12;
		addr_len = 4;
	} else if (p[0] >> 4 == 6) {
		hl = 40;
		if (len < hl + 8)
			return 0;
		proto = p[6]; /* no extension headers in what we answer */
		addr_off = 8;
		addr_len = 16;
	} else {
		return 0;
	}
	uint8_t *l4 = p + hl;
	size_t l4len = len - hl;

	if (proto == 1 && l4[0] == 8) {            /* ICMP echo request */
		l4[0] = 0;
		l4[2] = l4[3] = 0;
		uint16_t c = checksum(l4, l4len, 0);
		l4[2] = c >> 8;
		l4[3] = c & 0xff;
	} else if (proto == 58 && l4[0] == 128) {  /* ICMPv6 echo request */
		uint32_t sum = 0;
		l4[0] = 129;
		l4[2] = l4[3] = 0;
		for (size_t i = 0; i < 32; i += 2)   /* pseudo header */
			sum += (uint32_t)p[8 + i] << 8 | p[9 + i];
		sum += (uint32_t)l4len + 58;
		uint16_t c = checksum(l4, l4len, sum);
		l4[2] = c >> 8;
		l4[3] = c & 0xff;
	} else if (proto == 17) {                   /* UDP: echo */
		memcpy(tmp, l4, 2);
		memcpy(l4, l4 + 2, 2);
		memcpy(l4 + 2, tmp, 2);
	} else {
		return 0;
	}
	memcpy(tmp, p + addr_off, addr_len);
	memcpy(p + addr_off, p + addr_off + addr_len, addr_len);
	memcpy(p + addr_off + addr_len, tmp, addr_len);
	return 1;
}

struct counters {
	unsigned long verdicts[2][3]; /* [in/out][enum ifw_verdict] */
	unsigned long invalid;
};

static void count(struct counters *c, int dir, const struct ifw_decision *d,
		  const uint8_t *packet, int verbose)
{
	c->verdicts[dir == IFW_OUT][d->verdict]++;
	if (!verbose)
		return;
	fprintf(stderr, "%s %s IPv%d proto %d %s%s%d %s\n",
		ifw_verdict_name(d->verdict), dir == IFW_OUT ? "out" : "in",
		packet[0] >> 4, packet[0] >> 4 == 4 ? packet[9] : packet[6],
		d->file ? d->file : "default", d->file ? ":" : "",
		d->file ? d->line : 0, d->text ? d->text : "");
}

int main(int argc, char **argv)
{
	const char *ifname = NULL;
	struct ifw_flow_table *flows;
	struct ifw_ruleset *rs;
	struct counters counters = { 0 };
	struct sigaction sa;
	uint8_t buf[65536], answer[IFW_REJECT_MAX];
	int verbose = 0, opt, fd, err;

	while ((opt = getopt(argc, argv, "vi:h")) != -1) {
		switch (opt) {
		case 'v': verbose = 1; break;
		case 'i': ifname = optarg; break;
		default:
			fprintf(stderr, "usage: tunloop_example [-v] [-i IFNAME] RULES TUNDEV\n");
			return opt == 'h' ? 0 : 2;
		}
	}
	if (argc - optind != 2) {
		fprintf(stderr, "usage: tunloop_example [-v] [-i IFNAME] RULES TUNDEV\n");
		return 2;
	}
	const char *rules_path = argv[optind], *tundev = argv[optind + 1];
	if (!ifname)
		ifname = tundev;

	rs = load_rules(rules_path);
	if (!rs)
		return 2;
	err = ifw_flow_table_new(0, &flows);
	if (err < 0) {
		fprintf(stderr, "tunloop_example: %s\n", strerror(-err));
		return 3;
	}
	fd = tun_open(tundev);
	if (fd < 0) {
		fprintf(stderr, "tunloop_example: %s: %s\n", tundev, strerror(-fd));
		return 3;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal; /* no SA_RESTART: read() returns EINTR */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	fprintf(stderr, "tunloop_example: %s ready (%zu rules)\n", tundev,
		ifw_ruleset_rule_count(rs));

	while (!stop_requested) {
		struct ifw_decision d;
		ssize_t n;

		if (reload_requested) {
			struct ifw_ruleset *next = load_rules(rules_path);

			reload_requested = 0;
			if (next) {
				ifw_flow_table_recheck(flows, next);
				ifw_ruleset_free(rs);
				rs = next;
			}
		}
		n = read(fd, buf, sizeof(buf));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("tunloop_example: read");
			break;
		}
		/* What the host sent into the tunnel: 'out' on the tunnel. */
		err = ifw_flow_table_packet(flows, rs, buf, (size_t)n, IFW_OUT, ifname, 0, &d);
		if (err < 0) {
			counters.invalid++;
			continue;
		}
		count(&counters, IFW_OUT, &d, buf, verbose);
		if (d.verdict == IFW_REJECT) {
			int alen = ifw_reject_build(buf, (size_t)n, answer, sizeof(answer));

			if (alen > 0 && write(fd, answer, (size_t)alen) != alen)
				perror("tunloop_example: write");
			continue;
		}
		if (d.verdict != IFW_PASS || !make_reply(buf, (size_t)n))
			continue;
		/* The far end's answer, coming back through the tunnel. */
		err = ifw_flow_table_packet(flows, rs, buf, (size_t)n, IFW_IN, ifname, 0, &d);
		if (err < 0) {
			counters.invalid++;
			continue;
		}
		count(&counters, IFW_IN, &d, buf, verbose);
		if (d.verdict == IFW_PASS && write(fd, buf, (size_t)n) != n)
			perror("tunloop_example: write");
	}

	for (int out = 1; out >= 0; out--)
		printf("%s pass %lu block %lu reject %lu\n", out ? "out" : "in",
		       counters.verdicts[out][IFW_PASS], counters.verdicts[out][IFW_BLOCK],
		       counters.verdicts[out][IFW_REJECT]);
	printf("invalid %lu\n", counters.invalid);
	close(fd);
	ifw_flow_table_free(flows);
	ifw_ruleset_free(rs);
	return 0;
}
