/* ifwall query: decide packet descriptions against a rule file, statelessly,
 * from the command line or a table of cases (-f), optionally checking each
 * verdict against an expected one (--expect, '-> VERDICT'). */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter/engine.h"
#include "filter/grow.h"
#include "filter/json.h"
#include "filter/pktdesc.h"
#include "rules/ruleset.h"
#include "tools/cli.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: %s query [--json] [--expect VERDICT] [--ifaddr NAME=ADDR,...] RULES PACKET...\n"
		"       %s query [--json] [--expect VERDICT] [--ifaddr NAME=ADDR,...] RULES -f CASES\n"
		"\n"
		"Decides each packet description against RULES (no state) and prints\n"
		"the verdict and the deciding rule (FILE:LINE and its text) or 'default'.\n"
		"VERDICT is the effect on the packet: pass, block (dropped silently) or\n"
		"reject (dropped and answered).\n"
		"\n"
		"PACKET: DIR on IF [iftype TYPE] PROTO SRC > DST [type ICMPTYPE] [user UID] [mark N]\n"
		"        [cgroup PATH]\n"
		"  DIR in|out; PROTO tcp|udp|icmp|icmp6|NUMBER; SRC/DST ADDR, ADDR:PORT\n"
		"  or [IPV6ADDR]:PORT (tcp and udp need both ports); TYPE ether|tunnel|\n"
		"  loopback (guessed from IF otherwise: lo* loopback; wg*, tun*, ppp*,\n"
		"  utun* tunnel; else ether, tap* included; 'iftype TYPE' may also come last)\n"
		"examples:\n"
		"  out on eth0 udp 192.168.1.10:5353 > 8.8.8.8:53\n"
		"  in on wg0 tcp [fd00::2]:443 > [fd00::1]:51000\n"
		"  out on eth0 icmp 10.0.0.2 > 1.1.1.1 type echo-request\n"
		"\n"
		"CASES: one PACKET a line, optionally followed by '-> VERDICT'; '#' starts\n"
		"  a comment, blank lines are skipped; '-' is standard input. Example:\n"
		"  out on eth0 udp 192.168.1.10:5353 > 8.8.8.8:53   -> reject\n"
		"\n"
		"Options:\n"
		"  --json             one JSON object per packet\n"
		"  --expect VERDICT   exit 1 when a verdict is another (with -f: for the\n"
		"                     lines without '-> VERDICT')\n"
		"  -f CASES           read the packets from CASES; exit 1 when a verdict\n"
		"                     differs from the expected one, listing those lines\n"
		"  --ifaddr N=A,...   addresses interfaces hold, for (IFSPEC) criteria\n"
		"                     (without it, (IFSPEC) matches nothing)\n"
		"  --max-errors N     print the first N errors of RULES or CASES, then\n"
		"                     count the rest (default %d; 0: all)\n"
		"  -h                 this help\n"
		"Exit: 0 decided (and as expected), 1 a verdict differs from the expected\n"
		"one, 2 usage or invalid RULES, PACKET or CASES, 3 RULES or CASES cannot\n"
		"be read for lack of permission.\n", prog, prog, CLI_DEFAULT_MAX_ERRORS);
}

/* One packet to decide: an argument, or a line of CASES. */
struct query_case {
	const char *description;
	char *owned;            /* the description's copy, for CASES lines */
	int line;               /* line of CASES, 0 for an argument */
	bool has_expect;
	enum verdict expect;
	enum verdict got;       /* the verdict, once decided */
	struct packet packet;
};

struct case_list {
	struct query_case *items;
	size_t count, cap;
};

static void case_list_free(struct case_list *cases)
{
	for (size_t i = 0; i < cases->count; i++)
		free(cases->items[i].owned);
	free(cases->items);
}

static struct query_case *case_list_add(struct case_list *cases)
{
	if (grow_array(&cases->items, &cases->cap, cases->count, sizeof(*cases->items)) < 0)
		return NULL;
	memset(&cases->items[cases->count], 0, sizeof(*cases->items));
	return &cases->items[cases->count++];
}

static bool verdict_from_word(const char *word, size_t len, enum verdict *out)
{
	static const enum verdict verdicts[] = { VERDICT_PASS, VERDICT_BLOCK, VERDICT_REJECT };

	for (size_t i = 0; i < sizeof(verdicts) / sizeof(verdicts[0]); i++) {
		const char *name = verdict_name(verdicts[i]);
		if (strlen(name) == len && !memcmp(name, word, len)) {
			*out = verdicts[i];
			return true;
		}
	}
	return false;
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

/* Errors in CASES, gcc style as the rule file's: "CASES:LINE:COL: error:
 * MESSAGE", the line and a caret under COL; after --max-errors of them
 * only counted. */
struct cases_reader {
	const char *name;       /* "<stdin>" for '-' */
	size_t errors;
};

static void cases_error(struct cases_reader *rd, int line, const char *text, int col,
			const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void cases_error(struct cases_reader *rd, int line, const char *text, int col,
			const char *fmt, ...)
{
	va_list ap;

	if (cli_max_errors && rd->errors >= cli_max_errors) {
		rd->errors++;
		return;
	}
	rd->errors++;
	fprintf(stderr, "%s:%d:%d: error: ", rd->name, line, col);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (strlen(text) >= 300)
		return;
	/* Control characters as '?', tabs kept so the caret lines up. */
	for (const char *c = text; *c; c++)
		fputc((unsigned char)*c < 0x20 && *c != '\t' ? '?' : *c, stderr);
	fputc('\n', stderr);
	for (int i = 1; i < col && text[i - 1]; i++)
		fputc(text[i - 1] == '\t' ? '\t' : ' ', stderr);
	fputs("^\n", stderr);
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\v' || c == '\f';
}

/* One line of CASES (newline and comment already cut off): a description
 * and an optional '-> VERDICT'. Returns 0 (a case added, or nothing for a
 * blank line), -EINVAL after an error, -ENOMEM. */
static int read_case_line(struct cases_reader *rd, int lineno, char *text, size_t len,
			  const char *full, struct case_list *cases)
{
	char *arrow = strstr(text, "->");
	bool has_expect = false;
	enum verdict expect = VERDICT_PASS;
	struct pktdesc_error err;
	struct query_case *c;
	size_t start = 0, end;

	if (arrow) {
		char *word = arrow + 2, *stop;
		while (is_blank(*word))
			word++;
		stop = word;
		while (*stop && !is_blank(*stop))
			stop++;
		size_t word_len = (size_t)(stop - word);
		char *rest = stop;
		while (is_blank(*rest))
			rest++;
		if (word_len == 0 || !verdict_from_word(word, word_len, &expect)) {
			cases_error(rd, lineno, full, (int)(word - text) + 1,
				    "expected a verdict after '->': pass, block or reject");
			return -EINVAL;
		}
		if (*rest) {
			cases_error(rd, lineno, full, (int)(rest - text) + 1,
				    "unexpected '%s' after the verdict", rest);
			return -EINVAL;
		}
		has_expect = true;
		*arrow = '\0';
		len = (size_t)(arrow - text);
	}
	/* The description, without the blanks around it; columns stay those
	 * of the line. */
	while (start < len && is_blank(text[start]))
		start++;
	end = len;
	while (end > start && is_blank(text[end - 1]))
		end--;
	if (start == end && !has_expect)
		return 0;
	text[end] = '\0';

	c = case_list_add(cases);
	if (!c)
		return -ENOMEM;
	c->line = lineno;
	c->has_expect = has_expect;
	c->expect = expect;
	if (pktdesc_parse(text + start, &c->packet, &err) < 0) {
		int col = (int)start + (err.col > 0 ? err.col : 1);
		cases_error(rd, lineno, full, col, "invalid packet description: %s", err.message);
		cases->count--;
		return -EINVAL;
	}
	c->owned = strdup(text + start);
	if (!c->owned) {
		cases->count--;
		return -ENOMEM;
	}
	c->description = c->owned;
	return 0;
}

/* Reads CASES ('-': standard input) into cases. Returns EXIT_OK, or the
 * exit code after the messages: EXIT_USAGE for malformed lines (every one
 * reported) or a file that is missing or not a file, EXIT_SYSTEM when it
 * cannot be read for lack of permission or by an I/O error. */
static int read_cases(const char *path, struct case_list *cases)
{
	struct cases_reader rd = { .name = strcmp(path, "-") ? path : "<stdin>" };
	FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
	char *buf = NULL, *copy = NULL;
	size_t bufsize = 0;
	ssize_t n;
	int lineno = 0, rc = EXIT_OK;

	if (!f) {
		int err = errno;
		cli_error("query", "cannot read %s: %s", path, strerror(err));
		return err == EACCES || err == EPERM ? EXIT_SYSTEM : EXIT_USAGE;
	}
	errno = 0;
	while ((n = getline(&buf, &bufsize, f)) >= 0) {
		size_t len = (size_t)n;
		lineno++;
		if (len && buf[len - 1] == '\n')
			buf[--len] = '\0';
		if (len && buf[len - 1] == '\r')
			buf[--len] = '\0';
		if (strlen(buf) != len) {
			cases_error(&rd, lineno, "", 1, "a NUL byte in the line");
			continue;
		}
		/* A description never holds '#': the rest is a comment. */
		char *hash = strchr(buf, '#');
		free(copy);
		copy = strdup(buf);
		if (!copy) {
			rc = EXIT_SYSTEM;
			cli_error("query", "out of memory");
			break;
		}
		if (hash) {
			*hash = '\0';
			len = (size_t)(hash - buf);
		}
		int r = read_case_line(&rd, lineno, buf, len, copy, cases);
		if (r == -ENOMEM) {
			rc = EXIT_SYSTEM;
			cli_error("query", "out of memory");
			break;
		}
		errno = 0;
	}
	if (rc == EXIT_OK && ferror(f)) {
		int err = errno;
		cli_error("query", "cannot read %s: %s", path, strerror(err ? err : EIO));
		rc = err == EISDIR ? EXIT_USAGE : EXIT_SYSTEM;
	}
	if (rc == EXIT_OK && rd.errors) {
		if (cli_max_errors && rd.errors > cli_max_errors) {
			size_t more = rd.errors - cli_max_errors;
			cli_error("query", "... and %zu more error%s", more, more == 1 ? "" : "s");
		}
		rc = EXIT_USAGE;
	}
	free(buf);
	free(copy);
	if (f != stdin)
		fclose(f);
	return rc;
}


static int add_ifaddr(void *ctx, const char *name, const struct ifw_addr *addr)
{
	return ifaddr_table_add(ctx, name, addr);
}

struct query_options {
	bool json;
	bool has_expect;
	enum verdict expect;
	const char *cases_path;     /* -f */
	struct ifaddr_table *ifaddrs;
	const char **args;          /* RULES, then the PACKETs */
	int nargs;
};

/* The value of option NAME at argv[*i] ("NAME VALUE" or "NAME=VALUE", for
 * long options): the value with *i moved past it, or NULL when argv[*i] is
 * another option; *missing is set when NAME has no value. */
static const char *option_value(int argc, char **argv, int *i, const char *name,
				bool *missing)
{
	size_t n = strlen(name);

	if (strncmp(argv[*i], name, n))
		return NULL;
	if (argv[*i][n] == '=' && name[1] == '-')
		return argv[*i] + n + 1;
	if (argv[*i][n] != '\0')
		return NULL;
	if (*i + 1 >= argc) {
		*missing = true;
		return NULL;
	}
	return argv[++*i];
}

/* Returns -1 to go on, else the exit code (help printed, or a usage error
 * reported). Options may come anywhere before '--' (as check's and load's
 * do): no packet description starts with '-'. */
static int parse_options(int argc, char **argv, struct query_options *opt)
{
	for (int i = 1; i < argc; i++) {
		const char *v;
		bool missing = false;
		int taken;

		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return EXIT_OK;
		} else if (!strcmp(argv[i], "--json")) {
			opt->json = true;
		} else if ((v = option_value(argc, argv, &i, "--expect", &missing))) {
			if (opt->has_expect) {
				cli_error("query", "--expect given twice");
				return EXIT_USAGE;
			}
			if (!verdict_from_word(v, strlen(v), &opt->expect)) {
				cli_error("query", "--expect: unknown verdict '%s' (pass, block or reject)", v);
				return EXIT_USAGE;
			}
			opt->has_expect = true;
		} else if ((v = option_value(argc, argv, &i, "-f", &missing))) {
			if (opt->cases_path) {
				cli_error("query", "-f given twice");
				return EXIT_USAGE;
			}
			opt->cases_path = v;
		} else if ((v = option_value(argc, argv, &i, "--ifaddr", &missing))) {
			if (!opt->ifaddrs && !(opt->ifaddrs = ifaddr_table_new())) {
				cli_error("query", "out of memory");
				return EXIT_SYSTEM;
			}
			if (cli_parse_ifaddrs("query", v, add_ifaddr, opt->ifaddrs) < 0)
				goto usage_error;
		} else if (missing) {
			cli_error("query", "option '%s' needs a value", argv[i]);
			goto usage_error;
		} else if ((taken = cli_max_errors_option("query", argc, argv, &i)) != 0) {
			if (taken < 0)
				goto usage_error;
		} else if (!strcmp(argv[i], "--")) {
			while (++i < argc)
				opt->args[opt->nargs++] = argv[i];
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			cli_error("query", "unknown option '%s'", argv[i]);
			goto usage_error;
		} else {
			opt->args[opt->nargs++] = argv[i];
		}
	}
	if (opt->cases_path && opt->nargs != 1) {
		cli_error("query", opt->nargs ? "with -f CASES, only the rule file: the packets come from CASES"
			  : "expected a rule file");
		goto usage_error;
	}
	if (!opt->cases_path && opt->nargs < 2) {
		cli_error("query", "expected a rule file and at least one packet description");
		goto usage_error;
	}
	return -1;

usage_error:
	usage(stderr);
	return EXIT_USAGE;
}

/* The packet descriptions given as arguments, each checked before anything
 * is printed. Returns EXIT_OK or EXIT_USAGE after the message. */
static int cases_from_args(const struct query_options *opt, struct case_list *cases)
{
	for (int k = 1; k < opt->nargs; k++) {
		struct query_case *c = case_list_add(cases);
		struct pktdesc_error err;

		if (!c) {
			cli_error("query", "out of memory");
			return EXIT_SYSTEM;
		}
		c->description = opt->args[k];
		if (pktdesc_parse(c->description, &c->packet, &err) < 0) {
			print_description_error(c->description, &err);
			return EXIT_USAGE;
		}
	}
	return EXIT_OK;
}

int cmd_query(int argc, char **argv)
{
	struct query_options opt = { 0 };
	struct diag_list diags = { 0 };
	struct case_list cases = { 0 };
	struct ruleset *rs = NULL;
	const char *cases_name;
	size_t mismatches = 0;
	int rc;

	opt.args = calloc((size_t)argc, sizeof(*opt.args));
	if (!opt.args) {
		cli_error("query", "out of memory");
		return EXIT_SYSTEM;
	}
	rc = parse_options(argc, argv, &opt);
	if (rc >= 0)
		goto out;
	rc = EXIT_OK;

	rs = ruleset_from_file(opt.args[0], &diags);
	if (!rs) {
		if (diags.count)
			cli_print_diags("query", &diags);
		else
			cli_error("query", "%s: cannot load the rule file", opt.args[0]);
		rc = cli_rule_file_status(&diags);
		goto out;
	}

	/* Every description is checked before anything is printed. */
	rc = opt.cases_path ? read_cases(opt.cases_path, &cases) : cases_from_args(&opt, &cases);
	if (rc != EXIT_OK)
		goto out;

	for (size_t k = 0; k < cases.count; k++) {
		struct query_case *c = &cases.items[k];
		c->packet.ifaddrs = opt.ifaddrs;
		if (!c->has_expect && opt.has_expect) {
			c->has_expect = true;
			c->expect = opt.expect;
		}
		struct decision d = ruleset_decide(rs, &c->packet);
		print_decision(&d, c->description, opt.json);
		/* Kept for the list of mismatches, printed after the results. */
		c->got = d.verdict;
		if (c->has_expect && d.verdict != c->expect)
			mismatches++;
	}
	if (fflush(stdout) != 0) {
		cli_error("query", "writing the output: %s", strerror(errno));
		rc = EXIT_SYSTEM;
		goto out;
	}
	cases_name = opt.cases_path && strcmp(opt.cases_path, "-") ? opt.cases_path : "<stdin>";
	for (size_t k = 0; mismatches && k < cases.count; k++) {
		const struct query_case *c = &cases.items[k];
		if (!c->has_expect || c->got == c->expect)
			continue;
		if (c->line)
			fprintf(stderr, "%s:%d: expected %s, got %s: %s\n", cases_name, c->line,
				verdict_name(c->expect), verdict_name(c->got), c->description);
		else
			cli_error("query", "expected %s, got %s: %s", verdict_name(c->expect),
				  verdict_name(c->got), c->description);
	}
	if (mismatches)
		rc = EXIT_FOUND;

out:
	diag_list_clear(&diags);
	ruleset_free(rs);
	case_list_free(&cases);
	free(opt.args);
	ifaddr_table_free(opt.ifaddrs);
	return rc;
}
