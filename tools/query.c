/* ifwall query: decide packet descriptions against a rule file, statelessly. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter/engine.h"
#include "filter/json.h"
#include "filter/pktdesc.h"
#include "rules/ruleset.h"
#include "tools/cli.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: %s query [--json] [--ifaddr NAME=ADDR,...] RULES PACKET...\n"
		"\n"
		"Decides each packet description against RULES (no state) and prints\n"
		"the verdict and the deciding rule (FILE:LINE and its text) or 'default'.\n"
		"\n"
		"PACKET: DIR on IF [iftype TYPE] PROTO SRC > DST [type ICMPTYPE] [user UID] [mark N]\n"
		"  DIR in|out; PROTO tcp|udp|icmp|icmp6|NUMBER; SRC/DST ADDR, ADDR:PORT\n"
		"  or [IPV6ADDR]:PORT; TYPE ether|tunnel|loopback (guessed from IF otherwise;\n"
		"  'iftype TYPE' may also come last)\n"
		"examples:\n"
		"  out on eth0 udp 192.168.1.10:5353 > 8.8.8.8:53\n"
		"  in on wg0 tcp [fd00::2]:443 > [fd00::1]:51000\n"
		"  out on eth0 icmp 10.0.0.2 > 1.1.1.1 type echo-request\n"
		"\n"
		"Options:\n"
		"  --json             one JSON object per packet\n"
		"  --ifaddr N=A,...   addresses interfaces hold, for (IFSPEC) criteria\n"
		"                     (without it, (IFSPEC) matches nothing)\n"
		"  -h                 this help\n", prog);
}

/* "FILE:LINE" of the deciding rule, "default" or "skip". */
static const char *decision_source(const struct decision *d, char *buf, size_t size)
{
	if (d->skipped)
		return "skip";
	if (!d->rule)
		return "default";
	snprintf(buf, size, "%s:%d", d->rule->file ? d->rule->file : "?", d->rule->line);
	return buf;
}

static void print_decision(const struct decision *d, const char *description, bool json)
{
	char where[4096];
	const char *source = decision_source(d, where, sizeof(where));
	const char *text = d->rule && !d->skipped ? d->rule->text : NULL;

	if (json) {
		fputs("{\"verdict\":", stdout);
		json_string(stdout, verdict_name(d->verdict));
		fputs(",\"rule\":", stdout);
		json_string(stdout, source);
		fputs(",\"text\":", stdout);
		json_string(stdout, text);
		fputs(",\"packet\":", stdout);
		json_string(stdout, description);
		fputs("}\n", stdout);
	} else if (text) {
		printf("%s %s %s\n", verdict_name(d->verdict), source, text);
	} else {
		printf("%s %s\n", verdict_name(d->verdict), source);
	}
}

static void print_description_error(const char *description, const struct pktdesc_error *err)
{
	cli_error("query", "invalid packet description '%s': column %d: %s",
		  description, err->col, err->message);
	if (err->col > 0 && strlen(description) < 200 && !strchr(description, '\n')) {
		fprintf(stderr, "  %s\n  %*s^\n", description, err->col - 1, "");
	}
}

static int add_ifaddr(void *ctx, const char *name, const struct ifw_addr *addr)
{
	return ifaddr_table_add(ctx, name, addr);
}

int cmd_query(int argc, char **argv)
{
	struct ifaddr_table *ifaddrs = NULL;
	struct diag_list diags = { 0 };
	struct ruleset *rs = NULL;
	struct packet *packets = NULL;
	const char *rules_path, **args;
	bool json = false;
	int nargs = 0, npackets, rc = EXIT_OK;
	int i;

	/* Options may come anywhere before '--' (as check's and load's do): no
	 * packet description starts with '-'. The rest are RULES and PACKETs,
	 * kept in order. */
	args = calloc((size_t)argc, sizeof(*args));
	if (!args) {
		cli_error("query", "out of memory");
		return EXIT_SYSTEM;
	}
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			goto out;
		} else if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strncmp(argv[i], "--ifaddr", 8) &&
			   (argv[i][8] == '=' || argv[i][8] == '\0')) {
			const char *v = argv[i][8] == '=' ? argv[i] + 9 : argv[i + 1];
			if (!v) {
				cli_error("query", "option '--ifaddr' needs a value");
				goto usage_error;
			}
			if (argv[i][8] == '\0')
				i++;
			if (!ifaddrs && !(ifaddrs = ifaddr_table_new())) {
				cli_error("query", "out of memory");
				rc = EXIT_SYSTEM;
				goto out;
			}
			if (cli_parse_ifaddrs("query", v, add_ifaddr, ifaddrs) < 0)
				goto usage_error;
		} else if (!strcmp(argv[i], "--")) {
			while (++i < argc)
				args[nargs++] = argv[i];
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			cli_error("query", "unknown option '%s'", argv[i]);
			goto usage_error;
		} else {
			args[nargs++] = argv[i];
		}
	}
	if (nargs < 2) {
		cli_error("query", "expected a rule file and at least one packet description");
		goto usage_error;
	}
	rules_path = args[0];
	npackets = nargs - 1;

	rs = ruleset_from_file(rules_path, &diags);
	if (!rs) {
		if (diags.count)
			diag_list_print(stderr, &diags);
		else
			cli_error("query", "%s: cannot load the rule file", rules_path);
		rc = EXIT_USAGE;
		goto out;
	}

	/* Every description is checked before anything is printed. */
	packets = calloc((size_t)npackets, sizeof(*packets));
	if (!packets) {
		cli_error("query", "out of memory");
		rc = EXIT_SYSTEM;
		goto out;
	}
	for (int k = 0; k < npackets; k++) {
		struct pktdesc_error err;
		if (pktdesc_parse(args[1 + k], &packets[k], &err) < 0) {
			print_description_error(args[1 + k], &err);
			rc = EXIT_USAGE;
			goto out;
		}
		packets[k].ifaddrs = ifaddrs;
	}

	for (int k = 0; k < npackets; k++) {
		struct decision d = ruleset_decide(rs, &packets[k]);
		print_decision(&d, args[1 + k], json);
	}
	if (fflush(stdout) != 0) {
		cli_error("query", "writing the output: %s", strerror(errno));
		rc = EXIT_SYSTEM;
	}
	goto out;

usage_error:
	usage(stderr);
	rc = EXIT_USAGE;
out:
	diag_list_clear(&diags);
	ruleset_free(rs);
	free(packets);
	free(args);
	ifaddr_table_free(ifaddrs);
	return rc;
}
