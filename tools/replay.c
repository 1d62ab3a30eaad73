/* ifwall replay: run captures through the engine, with state, and report
 * every flow.
 *
 * Output, one line per flow, then the summary:
 *   VERDICT DIR IFACE PROTO SRC > DST [type ICMPTYPE] N packets N bytes RULE
 *   summary: N packets, N flows, N passed, N blocked, N undecodable[, N evicted]
 * where SRC/DST are written as in query's packet descriptions, VERDICT and
 * RULE (FILE:LINE or default) are those of the flow's first packet; the
 * summary counts every packet read (the undecodable ones too), and its
 * passed/blocked count flows. Flows are printed as they leave the flow table
 * (idle timeout, eviction from a full table: --max-flows), then the flows
 * still live at the end, in the order they began; so memory stays bounded by
 * the table's limit however many flows the captures hold (a short capture
 * where nothing ends early prints every flow in the order flows began).
 * With --leaks, the flows that leaked are listed again before the summary
 * as "leak: FLOW LINE" (those are kept until then), so the summary is
 * always the last line. --json: one object per flow ("type":"flow"), then
 * one "type":"summary" object. */
#include <arpa/inet.h>
#include <errno.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/capture.h"
#include "backends/replay.h"
#include "filter/engine.h"
#include "filter/json.h"
#include "rules/ifspec_parse.h"
#include "rules/ruleset.h"
#include "tools/cli.h"

#define MAX_IFMAP 256
#define MAX_LOCAL 256
/* The engine's default flow table limit. */
#define DEFAULT_MAX_FLOWS 65536
#define MAX_MAX_FLOWS (1ul << 28)

struct replay_options {
	bool json;
	struct replay_ifname ifmap[MAX_IFMAP];
	size_t nifmap;
	struct replay_ifaddr ifaddrs[MAX_IFMAP];
	size_t nifaddrs;
	const char *iface;
	struct ifw_prefix local[MAX_LOCAL];
	size_t nlocal;
	const char *leaks_text;
	struct ifmatch leaks;
	bool has_leaks;
	size_t max_flows;
	/* RULES then the captures, in order (options may come anywhere
	 * before '--'). */
	char **args;
	int nargs;
};

struct report {
	const struct replay_options *opt;
	uint64_t flows, passed, blocked, leaks;
	/* Text output with --leaks: the leaked flows, listed before the
	 * summary. */
	struct replay_flow_list leaked;
	bool out_of_memory;
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: %s replay [--json] [--ifmap IDX=NAME,...] [--iface NAME]\n"
		"                     [--ifaddr NAME=ADDR,...] [--local CIDR,...]\n"
		"                     [--leaks IFSPEC] [--max-flows N] RULES CAPTURE...\n"
		"\n"
		"Runs every packet of pcap/pcapng captures through the engine, with state,\n"
		"in timestamp order across the captures, and reports each flow and a\n"
		"summary. Flows are printed as they leave the flow table (idle timeout,\n"
		"evicted from a full table), then the live ones in the order they began.\n"
		"A CAPTURE is a file, '-' (standard input) or FILE@IFNAME: the interface\n"
		"of its packets when the capture names none. pcapng packets are on the\n"
		"interface their block names, in the direction their flags say.\n"
		"\n"
		"Options:\n"
		"  --json            JSON lines: one object per flow, then a summary object\n"
		"  --ifmap I=N,...   interface names of the capture's indexes (LINUX_SLL2);\n"
		"                    an index without a name shows as ifI\n"
		"  --iface NAME      interface of captures without an index or interface\n"
		"                    name (default eth0)\n"
		"  --ifaddr N=A,...  addresses interfaces hold from the start, for (IFSPEC)\n"
		"                    (A: ADDR or ADDR/LEN as 'interfaces' prints it)\n"
		"                    (otherwise learned from packets they send)\n"
		"  --local CIDR,...  captures without a direction: from these is out, to\n"
		"                    these is in (without --local everything is out);\n"
		"                    no host bits (10.0.0.0/8, not 10.0.0.1/8)\n"
		"  --leaks IFSPEC    exit 1 when a packet passed out on a matching\n"
		"                    interface (e.g. '!wg0'), listing those flows\n"
		"  --max-flows N     flow table limit (default %d): when full, the least\n"
		"                    recently used flow (blocked ones first) is evicted,\n"
		"                    reported, and counted in the summary as evicted\n"
		"  --max-errors N    print the first N errors of RULES, then count the\n"
		"                    rest (default %d; 0: all)\n"
		"  -h                this help\n"
		"Link types: LINUX_SLL2, LINUX_SLL, EN10MB, RAW, IPV4, IPV6, NULL, LOOP.\n",
		prog, DEFAULT_MAX_FLOWS, CLI_DEFAULT_MAX_ERRORS);
}

static const char *dir_name(unsigned dir)
{
	return dir == DIR_IN ? "in" : "out";
}

static const char *proto_name(uint8_t proto, char *buf, size_t size)
{
	switch (proto) {
	case IPPROTO_TCP: return "tcp";
	case IPPROTO_UDP: return "udp";
	case IPPROTO_ICMP: return "icmp";
	case IPPROTO_ICMPV6: return "icmp6";
	default:
		snprintf(buf, size, "%u", proto);
		return buf;
	}
}

static bool proto_has_ports(uint8_t proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP ||
	       proto == IPPROTO_SCTP || proto == IPPROTO_UDPLITE;
}

static const char *flow_source(const struct flow *f, const struct replay_flow_info *info,
			       char *buf, size_t size)
{
	if (info->skipped && !f->rule)
		return "skip";
	if (!f->rule)
		return "default";
	snprintf(buf, size, "%s:%d", f->rule->file ? f->rule->file : "?", f->rule->line);
	return buf;
}

/* A text line being built: one fwrite per flow line instead of printf's
 * format parsing for each of a dozen fields (replays print many flows). */
struct line {
	char buf[8192];
	size_t len;
};

static void put_text(struct line *l, const char *text)
{
	size_t n = strnlen(text, sizeof(l->buf) - l->len);

	memcpy(l->buf + l->len, text, n);
	l->len += n;
}

static void put_char(struct line *l, char c)
{
	if (l->len < sizeof(l->buf))
		l->buf[l->len++] = c;
}

/* Decimal, as %llu writes it. */
static void put_number(struct line *l, unsigned long long v)
{
	char digits[24];
	size_t n = 0;

	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n && l->len < sizeof(l->buf))
		l->buf[l->len++] = digits[--n];
}

/* ADDR, ADDR:PORT or [ADDR]:PORT, as in query's packet descriptions. */
static void put_endpoint(struct line *l, const struct ifw_addr *a, bool with_port,
			 uint16_t port)
{
	char addr[INET6_ADDRSTRLEN];

	if (a->family != 6) {
		/* Dotted decimal, as inet_ntop() writes it. */
		for (int i = 0; i < 4; i++) {
			if (i)
				put_char(l, '.');
			put_number(l, a->a[i]);
		}
	} else {
		ifw_addr_format(a, addr, sizeof(addr));
		if (with_port)
			put_char(l, '[');
		put_text(l, addr);
		if (with_port)
			put_char(l, ']');
	}
	if (with_port) {
		put_char(l, ':');
		put_number(l, port);
	}
}

/* PREFIX VERDICT DIR IFACE PROTO SRC > DST[ type T] N packets N bytes RULE */
static void print_flow_text(const struct flow *f, const struct replay_flow_info *info,
			    const char *prefix)
{
	char proto[8], where[4096];
	bool ports = proto_has_ports(f->proto);
	struct line l;

	l.len = 0;
	put_text(&l, prefix);
	put_text(&l, verdict_name(f->verdict));
	put_char(&l, ' ');
	put_text(&l, dir_name(f->dir));
	put_char(&l, ' ');
	put_text(&l, f->ifname);
	put_char(&l, ' ');
	put_text(&l, proto_name(f->proto, proto, sizeof(proto)));
	put_char(&l, ' ');
	put_endpoint(&l, &f->src, ports, f->sport);
	put_text(&l, " > ");
	put_endpoint(&l, &f->dst, ports, f->dport);
	if (f->proto == IPPROTO_ICMP || f->proto == IPPROTO_ICMPV6) {
		const char *name = icmp_type_name(f->dport, f->proto == IPPROTO_ICMPV6);
		put_text(&l, " type ");
		if (name)
			put_text(&l, name);
		else
			put_number(&l, f->dport);
	}
	put_char(&l, ' ');
	put_number(&l, f->packets);
	put_text(&l, " packets ");
	put_number(&l, f->bytes);
	put_text(&l, " bytes ");
	if (f->rule && f->rule->line >= 0 &&
	    (!f->rule->file || strnlen(f->rule->file, 4000) < 4000)) {
		/* FILE:LINE, as flow_source() writes it (it cuts longer
		 * ones to its buffer) */
		put_text(&l, f->rule->file ? f->rule->file : "?");
		put_char(&l, ':');
		put_number(&l, (unsigned long long)f->rule->line);
	} else {
		put_text(&l, flow_source(f, info, where, sizeof(where)));
	}
	put_char(&l, '\n');
	fwrite(l.buf, 1, l.len, stdout);
}

static void print_flow_json(const struct flow *f, const struct replay_flow_info *info,
			    bool with_leak)
{
	char proto[8], addr[INET6_ADDRSTRLEN], where[4096];
	bool ports = proto_has_ports(f->proto);

	fputs("{\"type\":\"flow\",\"verdict\":", stdout);
	json_string(stdout, verdict_name(f->verdict));
	fputs(",\"dir\":", stdout);
	json_string(stdout, dir_name(f->dir));
	fputs(",\"iface\":", stdout);
	json_string(stdout, f->ifname);
	fputs(",\"proto\":", stdout);
	json_string(stdout, proto_name(f->proto, proto, sizeof(proto)));
	fputs(",\"src\":", stdout);
	json_string(stdout, ifw_addr_format(&f->src, addr, sizeof(addr)));
	if (ports)
		printf(",\"sport\":%u", f->sport);
	else
		fputs(",\"sport\":null", stdout);
	fputs(",\"dst\":", stdout);
	json_string(stdout, ifw_addr_format(&f->dst, addr, sizeof(addr)));
	if (ports)
		printf(",\"dport\":%u", f->dport);
	else
		fputs(",\"dport\":null", stdout);
	if (f->proto == IPPROTO_ICMP || f->proto == IPPROTO_ICMPV6)
		printf(",\"icmp_type\":%u", f->dport);
	printf(",\"packets\":%llu,\"bytes\":%llu,\"first_seen\":%llu.%06llu,"
	       "\"last_seen\":%llu.%06llu,\"rule\":",
	       (unsigned long long)f->packets, (unsigned long long)f->bytes,
	       (unsigned long long)(f->first_seen / 1000000000ull),
	       (unsigned long long)(f->first_seen % 1000000000ull / 1000),
	       (unsigned long long)(f->last_seen / 1000000000ull),
	       (unsigned long long)(f->last_seen % 1000000000ull / 1000));
	json_string(stdout, flow_source(f, info, where, sizeof(where)));
	fputs(",\"text\":", stdout);
	json_string(stdout, f->rule ? f->rule->text : NULL);
	if (with_leak)
		printf(",\"leak\":%s", info->leaked ? "true" : "false");
	fputs("}\n", stdout);
}

/* Each flow, as it leaves the flow table and, at the end, the live ones. */
static void report_flow(const struct flow *f, const struct replay_flow_info *info, void *ctx)
{
	struct report *rep = ctx;

	rep->flows++;
	if (f->verdict == VERDICT_PASS)
		rep->passed++;
	else
		rep->blocked++;
	if (info->leaked) {
		rep->leaks++;
		if (!rep->opt->json && replay_flow_list_add(&rep->leaked, f, info) < 0)
			rep->out_of_memory = true;
	}
	if (rep->opt->json)
		print_flow_json(f, info, rep->opt->has_leaks);
	else
		print_flow_text(f, info, "");
}

/* packets: every packet read from the captures, the undecodable ones
 * included (cli.md: they are counted, then skipped); passed and blocked
 * count flows. */
static void print_summary(const struct report *rep, const struct replay_stats *st)
{
	uint64_t undecodable = st->truncated + st->malformed + st->not_ip;

	if (rep->opt->json) {
		printf("{\"type\":\"summary\",\"summary\":true,\"frames\":%llu,\"packets\":%llu,"
		       "\"decoded\":%llu,\"flows\":%llu,"
		       "\"passed\":%llu,\"blocked\":%llu,\"undecodable\":%llu,"
		       "\"packets_passed\":%llu,\"packets_blocked\":%llu,"
		       "\"truncated\":%llu,\"malformed\":%llu,\"not_ip\":%llu",
		       (unsigned long long)st->frames, (unsigned long long)st->frames,
		       (unsigned long long)st->packets,
		       (unsigned long long)rep->flows, (unsigned long long)rep->passed,
		       (unsigned long long)rep->blocked, (unsigned long long)undecodable,
		       (unsigned long long)st->passed, (unsigned long long)st->blocked,
		       (unsigned long long)st->truncated, (unsigned long long)st->malformed,
		       (unsigned long long)st->not_ip);
		printf(",\"skipped\":%llu,\"evicted\":%llu", (unsigned long long)st->skipped,
		       (unsigned long long)st->evictions);
		if (rep->opt->has_leaks)
			printf(",\"leaks\":%llu,\"skipped_leaks\":%llu",
			       (unsigned long long)rep->leaks,
			       (unsigned long long)st->skipped_leaks);
		fputs("}\n", stdout);
		return;
	}
	printf("summary: %llu packets, %llu flows, %llu passed, %llu blocked, %llu undecodable",
	       (unsigned long long)st->frames, (unsigned long long)rep->flows,
	       (unsigned long long)rep->passed, (unsigned long long)rep->blocked,
	       (unsigned long long)undecodable);
	if (st->evictions)
		printf(", %llu evicted", (unsigned long long)st->evictions);
	putchar('\n');
}

/* "2=eth0,5=wg0" */
static int add_ifaddr(void *ctx, const char *name, const struct ifw_addr *addr)
{
	struct replay_options *opt = ctx;

	if (opt->nifaddrs == MAX_IFMAP)
		return -1;
	snprintf(opt->ifaddrs[opt->nifaddrs].name, IFW_IFNAMSIZ, "%s", name);
	opt->ifaddrs[opt->nifaddrs++].addr = *addr;
	return 0;
}

static int parse_ifmap(const char *text, struct replay_options *opt)
{
	char *copy = strdup(text), *save = NULL;
	int rc = 0;

	if (!copy)
		return -ENOMEM;
	for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(item, '='), *end;
		unsigned long index;
		if (!eq || eq == item || !eq[1] || strlen(eq + 1) >= IFW_IFNAMSIZ) {
			cli_error("replay", "--ifmap: expected IDX=NAME, got '%s'", item);
			rc = -EINVAL;
			break;
		}
		*eq = '\0';
		errno = 0;
		index = strtoul(item, &end, 10);
		if (*end || errno || index > UINT32_MAX || item[0] == '-') {
			cli_error("replay", "--ifmap: invalid interface index '%s'", item);
			rc = -EINVAL;
			break;
		}
		for (size_t i = 0; i < opt->nifmap && rc == 0; i++) {
			if (opt->ifmap[i].index == index) {
				cli_error("replay", "--ifmap: index %lu given twice (%s, %s)", index,
					  opt->ifmap[i].name, eq + 1);
				rc = -EINVAL;
			}
		}
		if (rc < 0)
			break;
		if (opt->nifmap == MAX_IFMAP) {
			cli_error("replay", "--ifmap: more than %d interfaces", MAX_IFMAP);
			rc = -EINVAL;
			break;
		}
		opt->ifmap[opt->nifmap].index = (uint32_t)index;
		snprintf(opt->ifmap[opt->nifmap].name, IFW_IFNAMSIZ, "%s", eq + 1);
		opt->nifmap++;
	}
	free(copy);
	return rc;
}

/* ADDR or ADDR/LEN, as in rule files: host bits set (10.0.0.1/8) are an
 * error naming the network meant. Returns 0 or -1 after a message. */
static int parse_local_prefix(const char *text, struct ifw_prefix *out)
{
	int rc = ifw_prefix_parse(text, out);

	if (rc == -EDOM) {
		/* ifw_prefix_parse() checked both halves: the network meant. */
		struct ifw_prefix net;
		char addr[64], fmt[64];
		const char *slash = strchr(text, '/');
		snprintf(addr, sizeof(addr), "%.*s", (int)(slash - text), text);
		ifw_addr_parse(addr, &net.addr);
		net.len = (uint8_t)atoi(slash + 1);
		for (unsigned bit = net.len; bit < 128; bit++)
			net.addr.a[bit / 8] &= (uint8_t)~(0x80u >> (bit % 8));
		ifw_prefix_format(&net, fmt, sizeof(fmt));
		cli_error("replay", "--local: '%s' has host bits set (did you mean %s?)", text, fmt);
		return -1;
	}
	if (rc < 0) {
		cli_error("replay", "--local: invalid address or CIDR '%s'", text);
		return -1;
	}
	return 0;
}

static int parse_local(const char *text, struct replay_options *opt)
{
	char *copy = strdup(text), *save = NULL;
	int rc = 0;

	if (!copy)
		return -ENOMEM;
	for (char *item = strtok_r(copy, ", ", &save); item; item = strtok_r(NULL, ", ", &save)) {
		if (opt->nlocal == MAX_LOCAL) {
			cli_error("replay", "--local: more than %d prefixes", MAX_LOCAL);
			rc = -EINVAL;
			break;
		}
		if (parse_local_prefix(item, &opt->local[opt->nlocal]) < 0) {
			rc = -EINVAL;
			break;
		}
		opt->nlocal++;
	}
	free(copy);
	return rc;
}

/* A flow table limit: 1 to MAX_MAX_FLOWS. */
static int parse_max_flows(const char *text, size_t *out)
{
	unsigned long long n;
	char *end;

	errno = 0;
	if (text[0] < '0' || text[0] > '9')
		return -EINVAL;
	n = strtoull(text, &end, 10);
	if (*end || errno || n == 0 || n > MAX_MAX_FLOWS)
		return -EINVAL;
	*out = (size_t)n;
	return 0;
}

/* --name VALUE or --name=VALUE; returns the value or NULL (not this option). */
static const char *option_value(int argc, char **argv, int *i, const char *name, bool *missing)
{
	size_t n = strlen(name);

	if (strncmp(argv[*i], name, n))
		return NULL;
	if (argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (argv[*i][n] != '\0')
		return NULL;
	if (*i + 1 >= argc) {
		*missing = true;
		return NULL;
	}
	return argv[++*i];
}

/* Sets opt->args (RULES, CAPTURE...). Returns 0, or -1 after a message
 * (-2: help). */
static int parse_options(int argc, char **argv, struct replay_options *opt)
{
	int i;

	opt->args = calloc((size_t)argc, sizeof(*opt->args));
	if (!opt->args) {
		cli_error("replay", "out of memory");
		return -1;
	}
	for (i = 1; i < argc; i++) {
		const char *v;
		bool missing = false;
		int taken;
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return -2;
		if (!strcmp(argv[i], "--json")) {
			opt->json = true;
		} else if ((v = option_value(argc, argv, &i, "--ifmap", &missing))) {
			if (parse_ifmap(v, opt) < 0)
				return -1;
		} else if ((v = option_value(argc, argv, &i, "--ifaddr", &missing))) {
			if (cli_parse_ifaddrs("replay", v, add_ifaddr, opt) < 0)
				return -1;
		} else if ((v = option_value(argc, argv, &i, "--iface", &missing))) {
			if (!*v || strlen(v) >= IFW_IFNAMSIZ) {
				cli_error("replay", "--iface: invalid interface name '%s'", v);
				return -1;
			}
			opt->iface = v;
		} else if ((v = option_value(argc, argv, &i, "--local", &missing))) {
			if (parse_local(v, opt) < 0)
				return -1;
		} else if ((v = option_value(argc, argv, &i, "--leaks", &missing))) {
			char err[160];
			int col = 0;
			if (opt->has_leaks) {
				cli_error("replay", "--leaks given twice");
				return -1;
			}
			if (ifmatch_parse(v, &opt->leaks, err, sizeof(err), &col) < 0) {
				cli_error("replay", "--leaks: invalid interface specification '%s': column %d: %s",
					  v, col, err);
				return -1;
			}
			opt->leaks_text = v;
			opt->has_leaks = true;
		} else if ((v = option_value(argc, argv, &i, "--max-flows", &missing))) {
			if (parse_max_flows(v, &opt->max_flows) < 0) {
				cli_error("replay", "--max-flows: expected a number from 1 to %lu, got '%s'",
					  MAX_MAX_FLOWS, v);
				return -1;
			}
		} else if (missing) {
			cli_error("replay", "option '%s' needs a value", argv[i]);
			return -1;
		} else if ((taken = cli_max_errors_option("replay", argc, argv, &i)) != 0) {
			if (taken < 0)
				return -1;
		} else if (!strcmp(argv[i], "--")) {
			while (++i < argc)
				opt->args[opt->nargs++] = argv[i];
		} else if (argv[i][0] == '-' && argv[i][1] != '\0' && argv[i][1] != '@') {
			/* (not '-' or '-@IFNAME': standard input) */
			cli_error("replay", "unknown option '%s'", argv[i]);
			return -1;
		} else {
			opt->args[opt->nargs++] = argv[i];
		}
	}
	if (opt->nargs < 2) {
		cli_error("replay", "expected a rule file and at least one capture");
		return -1;
	}
	return 0;
}

/* Exit code of a capture that cannot be read: a system error (no
 * permission, the disk) is 3, a missing or invalid capture 2. */
static int capture_exit_code(int err)
{
	switch (-err) {
	case EACCES:
	case EPERM:
	case EIO:
	case ENOMEM:
	case EMFILE:
	case ENFILE:
		return EXIT_SYSTEM;
	default:
		return EXIT_USAGE;
	}
}

/* A CAPTURE argument: "-" (standard input), a file, or FILE@IFNAME, the
 * interface of its packets that name none. A file whose own name holds an
 * '@' is taken whole when it exists. Sets *path (allocated) and *ifname
 * (NULL or inside arg); returns 0, or -1 after a message. */
static int capture_argument(const char *arg, char **path, const char **ifname)
{
	const char *at = strrchr(arg, '@');
	struct stat st;

	*ifname = NULL;
	if (!strcmp(arg, "-") || !at || stat(arg, &st) == 0) {
		*path = strdup(arg);
	} else {
		const char *name = at + 1;
		if (!*name || strlen(name) >= IFW_IFNAMSIZ || strchr(name, '/') || at == arg) {
			cli_error("replay", "%s: no such capture, and '%s' is not FILE@IFNAME",
				  arg, arg);
			return -1;
		}
		*path = strndup(arg, (size_t)(at - arg));
		*ifname = name;
	}
	if (!*path) {
		cli_error("replay", "out of memory");
		return -1;
	}
	return 0;
}

/* Opens every capture once (each may be a pipe), then replays them merged
 * by timestamp. Returns an exit code; nothing is printed before every
 * capture opened and gave its first packet. */
static int replay_all(struct replay *r, char **args, int nargs)
{
	struct replay_input *inputs = calloc((size_t)nargs, sizeof(*inputs));
	char err[1024];
	bool stdin_used = false;
	int rc = EXIT_OK, res;

	if (!inputs) {
		cli_error("replay", "out of memory");
		return EXIT_SYSTEM;
	}
	for (int k = 0; k < nargs && rc == EXIT_OK; k++) {
		char *path;
		if (capture_argument(args[k], &path, &inputs[k].ifname) < 0) {
			rc = EXIT_USAGE;
			break;
		}
		if (!strcmp(path, "-")) {
			if (stdin_used) {
				cli_error("replay", "'-' (standard input) given twice");
				free(path);
				rc = EXIT_USAGE;
				break;
			}
			stdin_used = true;
		}
		res = capture_open(path, replay_linktype_supported, &inputs[k].capture,
				   err, sizeof(err));
		free(path);
		if (res < 0) {
			cli_error("replay", "%s", err);
			rc = capture_exit_code(res);
		}
	}
	if (rc == EXIT_OK) {
		res = replay_captures(r, inputs, (size_t)nargs, err, sizeof(err));
		if (res < 0) {
			cli_error("replay", "%s", err);
			rc = capture_exit_code(res);
		}
	}
	for (int k = 0; k < nargs; k++) {
		if (!inputs[k].capture)
			continue;
		if (rc == EXIT_OK && capture_warning(inputs[k].capture))
			cli_error("replay", "warning: %s", capture_warning(inputs[k].capture));
		capture_close(inputs[k].capture);
	}
	free(inputs);
	return rc;
}

int cmd_replay(int argc, char **argv)
{
	static struct replay_options opt;
	struct diag_list diags = { 0 };
	struct report rep = { .opt = &opt };
	struct replay_config cfg;
	struct ruleset *rs = NULL;
	struct replay *r = NULL;
	const struct replay_stats *st;
	int parsed, rc = EXIT_OK;
	char **captures;
	int ncaptures;

	memset(&opt, 0, sizeof(opt));
	parsed = parse_options(argc, argv, &opt);
	if (parsed == -2) {
		usage(stdout);
		goto out;
	}
	if (parsed < 0) {
		usage(stderr);
		rc = EXIT_USAGE;
		goto out;
	}
	captures = opt.args + 1;
	ncaptures = opt.nargs - 1;

	rs = ruleset_from_file(opt.args[0], &diags);
	if (!rs) {
		if (diags.count)
			cli_print_diags("replay", &diags);
		else
			cli_error("replay", "%s: cannot load the rule file", opt.args[0]);
		rc = cli_rule_file_status(&diags);
		goto out;
	}

	memset(&cfg, 0, sizeof(cfg));
	cfg.ifmap = opt.ifmap;
	cfg.nifmap = opt.nifmap;
	cfg.iface = opt.iface;
	cfg.ifaddrs = opt.ifaddrs;
	cfg.nifaddrs = opt.nifaddrs;
	cfg.local = opt.local;
	cfg.nlocal = opt.nlocal;
	cfg.leaks = opt.has_leaks ? &opt.leaks : NULL;
	cfg.limits.max_flows = opt.max_flows ? opt.max_flows : DEFAULT_MAX_FLOWS;
	/* Flows are printed as they leave the table, so nothing grows with
	 * the number of flows in the captures (but the leaked ones). */
	cfg.on_flow_end = report_flow;
	cfg.on_flow_end_ctx = &rep;
	r = replay_new(rs, &cfg);
	if (!r) {
		cli_error("replay", "out of memory");
		rc = EXIT_SYSTEM;
		goto out;
	}

	rc = replay_all(r, captures, ncaptures);
	if (rc != EXIT_OK)
		goto out;

	if (replay_foreach_flow(r, report_flow, &rep) < 0 || rep.out_of_memory) {
		cli_error("replay", "out of memory");
		rc = EXIT_SYSTEM;
		goto out;
	}
	st = replay_stats(r);
	/* The leaked flows are listed before the summary: the summary is
	 * always the last line. */
	if (opt.has_leaks && !opt.json) {
		for (size_t i = 0; i < rep.leaked.count; i++)
			print_flow_text(&rep.leaked.items[i].flow, &rep.leaked.items[i].info,
					"leak: ");
		for (size_t i = 0; i < st->nskipped_leak_ifnames; i++)
			printf("leak: pass out %s (set skip: not filtered)\n",
			       st->skipped_leak_ifnames[i]);
	}
	print_summary(&rep, st);
	if (st->unlearned_addrs)
		cli_error("replay", "warning: more than %d source addresses passed out; "
			  "%llu flows' sources were not learned as interface addresses",
			  REPLAY_MAX_LEARNED_ADDRS, (unsigned long long)st->unlearned_addrs);
	if (opt.has_leaks && (rep.leaks || st->skipped_leaks)) {
		if (rep.leaks)
			cli_error("replay", "%llu flow%s passed out on '%s'",
				  (unsigned long long)rep.leaks, rep.leaks == 1 ? "" : "s",
				  opt.leaks_text);
		if (st->skipped_leaks)
			cli_error("replay", "%llu packet%s passed out unfiltered on a 'set skip' interface matching '%s'",
				  (unsigned long long)st->skipped_leaks,
				  st->skipped_leaks == 1 ? "" : "s", opt.leaks_text);
		rc = EXIT_FOUND;
	}
	if (fflush(stdout) != 0) {
		cli_error("replay", "writing the output: %s", strerror(errno));
		rc = EXIT_SYSTEM;
	}
out:
	diag_list_clear(&diags);
	replay_free(r);
	replay_flow_list_clear(&rep.leaked);
	ruleset_free(rs);
	ifmatch_release(&opt.leaks);
	free(opt.args);
	return rc;
}
