/* ifwall log [--json] [-f]: the packets the active nft rules log. Rules and
 * defaults with 'log' send their packets (at most PLAN_LOG_RATE a second
 * per rule, counted in the kernel) to NFLOG group PLAN_LOG_GROUP with the
 * prefix "ifwall FILE:LINE DIR " or "ifwall default DIR "; this reads the
 * group and prints one line per packet: verdict, dir, iface, proto,
 * endpoints, rule. The verdict is the rule's, read from the table. */
#include <errno.h>
#include <net/if.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/netfilter.h>

#include "backends/iftable.h"
#include "backends/nflog.h"
#include "backends/nft.h"
#include "backends/nft_plan.h"
#include "filter/engine.h"
#include "filter/logline.h"
#include "tools/cli.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: %s log [--json] [-f]\n"
		"Prints the packets that the active rules log (rules with 'log', defaults\n"
		"with 'set default ... log'), one line each: time, verdict, dir, iface,\n"
		"proto, endpoints and the deciding rule (FILE:LINE or default). The kernel\n"
		"sends them to NFLOG group %d, at most %d a second per rule (burst %d),\n"
		"so a flood cannot fill a disk; only one reader at a time.\n"
		"  -f      follow: keep reading until interrupted (without it: until no\n"
		"          packet has come for one second)\n"
		"  --json  JSON lines with the fields of the divert and tun backends' logs:\n"
		"          time, backend, verdict, dir, iface, proto, src, sport, dst,\n"
		"          dport, rule, text\n"
		"Exit: 0, 3 system error (not root, another reader).\n",
		prog, PLAN_LOG_GROUP, PLAN_LOG_RATE, PLAN_LOG_BURST);
}

struct log_ctx {
	bool json;
	struct iftable *ifs;
	struct nft_listing *listing;
	time_t listing_read;
	unsigned long printed, skipped;
};

static const char *ifname(struct log_ctx *c, uint32_t index, char *buf, size_t size)
{
	const struct iftable_interface *ifc = NULL;

	if (!index)
		return "";
	for (int attempt = 0; attempt < 2 && c->ifs; attempt++) {
		for (size_t i = 0; i < iftable_count(c->ifs); i++)
			if (iftable_at(c->ifs, i)->index == (int)index)
				ifc = iftable_at(c->ifs, i);
		if (ifc || iftable_refresh(c->ifs) < 0)
			break;
	}
	if (ifc)
		return ifc->name;
	snprintf(buf, size, "if%u", index);
	return buf;
}

static const struct nft_entry *find_entry(struct log_ctx *c, const char *origin,
					  enum nft_entry_kind kind)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		for (size_t i = 0; c->listing && i < c->listing->nentries; i++) {
			const struct nft_entry *e = &c->listing->entries[i];
			if (e->kind == kind && (kind != NFT_ENTRY_RULE ||
						(e->origin && !strcmp(e->origin, origin))))
				return e;
		}
		/* a reload may have come: read the table again, once a second */
		if (time(NULL) == c->listing_read)
			break;
		nft_listing_free(c->listing);
		c->listing = NULL;
		(void)nft_listing_read(&c->listing, NULL);
		c->listing_read = time(NULL);
	}
	return NULL;
}

static void on_packet(void *ctx, const struct nflog_packet *np)
{
	struct log_ctx *c = ctx;
	char prefix[160], name[IF_NAMESIZE + 8];
	struct packet p;
	struct log_record r;
	const struct nft_entry *e;

	/* "ifwall FILE:LINE DIR " or "ifwall default DIR " */
	if (strncmp(np->prefix, "ifwall ", 7) != 0) {
		c->skipped++;
		return;
	}
	snprintf(prefix, sizeof(prefix), "%s", np->prefix + 7);
	size_t len = strlen(prefix);
	while (len && prefix[len - 1] == ' ')
		prefix[--len] = '\0';
	char *sp = strrchr(prefix, ' ');
	if (!sp) {
		c->skipped++;
		return;
	}
	*sp = '\0';
	const char *dirword = sp + 1, *where = prefix;
	memset(&p, 0, sizeof(p));
	if (packet_decode(np->payload, np->len, &p) != DECODE_OK) {
		c->skipped++;
		return;
	}
	p.dir = np->hook == NF_INET_LOCAL_IN ? DIR_IN :
		np->hook == NF_INET_LOCAL_OUT ? DIR_OUT :
		!strcmp(dirword, "in") ? DIR_IN : DIR_OUT;
	const char *dev = ifname(c, p.dir == DIR_IN ? np->indev : np->outdev, name, sizeof(name));
	snprintf(p.ifname, sizeof(p.ifname), "%.*s", (int)sizeof(p.ifname) - 1, dev);
	p.has_uid = np->has_uid;
	p.uid = np->uid;
	log_record_from_packet(&r, "nft", &p, NULL);
	if (np->has_time)
		r.time = np->time;
	if (!strcmp(where, "default")) {
		e = find_entry(c, NULL, p.dir == DIR_IN ? NFT_ENTRY_DEFAULT_IN : NFT_ENTRY_DEFAULT_OUT);
	} else {
		snprintf(r.rule, sizeof(r.rule), "%s", where);
		e = find_entry(c, where, NFT_ENTRY_RULE);
		if (e)
			r.text = e->text;
	}
	r.verdict = e && e->verdict ? e->verdict : "?";
	if (c->json)
		log_record_write_json(stdout, &r);
	else
		log_record_write_text(stdout, &r);
	fflush(stdout);
	c->printed++;
}

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int cmd_log(int argc, char **argv)
{
	struct log_ctx c = { 0 };
	bool follow = false;
	struct nflog *l;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return EXIT_OK;
		} else if (!strcmp(argv[i], "--json")) {
			c.json = true;
		} else if (!strcmp(argv[i], "-f")) {
			follow = true;
		} else {
			cli_error("log", "unexpected argument '%s'", argv[i]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	int rc = nflog_open(&l, PLAN_LOG_GROUP, 512);
	/* the kernel refuses a second reader with EPERM (EBUSY on some
	 * kernels); root cannot be refused for lack of permission */
	if (rc == -EBUSY || (rc == -EPERM && geteuid() == 0)) {
		cli_error("log", "another process reads NFLOG group %d (another 'ifwall log'?)",
			  PLAN_LOG_GROUP);
		return EXIT_SYSTEM;
	}
	if (rc < 0) {
		cli_error("log", "cannot read NFLOG group %d: %s", PLAN_LOG_GROUP, strerror(-rc));
		if (rc == -EPERM || rc == -EACCES)
			cli_error("log", "reading the log needs root (CAP_NET_ADMIN)");
		return EXIT_SYSTEM;
	}
	(void)iftable_open(&c.ifs, 0);
	(void)nft_listing_read(&c.listing, NULL);
	c.listing_read = time(NULL);
	if (follow)
		fprintf(stderr, "%s log: reading NFLOG group %d; interrupt to stop\n", prog,
			PLAN_LOG_GROUP);

	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	int code = EXIT_OK;
	while (!stop) {
		rc = nflog_receive(l, follow ? 500 : 1000, on_packet, &c);
		if (rc == -ENOBUFS) {
			cli_error("log", "packets were lost (the reader fell behind)");
			continue;
		}
		if (rc < 0 && rc != -EINTR) {
			cli_error("log", "reading NFLOG group %d: %s", PLAN_LOG_GROUP, strerror(-rc));
			code = EXIT_SYSTEM;
			break;
		}
		if (rc == 0 && !follow)
			break;
	}
	nflog_free(l);
	iftable_free(c.ifs);
	nft_listing_free(c.listing);
	return code;
}
