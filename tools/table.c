/* ifwall table NAME show|test|add|delete|replace|flush [ADDR... | -f FILE]:
 * a named table of the active rule set, read or changed in place (pfctl -T)
 * with no reload of the rules. The active rule set is the one 'load' or
 * 'run --backend nft' put in table inet ifwall (backends/nft_table.c); a
 * change of a table 'run --backend nft' owns goes to that process through
 * its control socket (table_change below). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/control.h"
#include "backends/nft_table.h"
#include "filter/json.h"
#include "tools/cli.h"
#include "tools/nft_common.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: %s table NAME show [--json]\n"
		"       %s table NAME test|add|delete ADDR... | -f FILE\n"
		"       %s table NAME replace [ADDR... | -f FILE]\n"
		"       %s table NAME flush\n"
		"Reads or changes table <NAME> of the active rule set in place, in one\n"
		"kernel transaction, without reloading the rules: no flow is dropped, and\n"
		"a packet that the table no longer lets through is decided by the rules\n"
		"at once. A later 'ifwall load' restores the table from the rule file.\n"
		"  show      the addresses, one prefix a line (merged: 10.0.0.0/24 and\n"
		"            10.0.1.0/24 show as 10.0.0.0/23)\n"
		"  test      exit 0 when every ADDR is in the table, 1 when one is not\n"
		"  add       add the ADDRs          delete   remove the ADDRs\n"
		"  replace   the table becomes exactly the ADDRs (none: empty)\n"
		"  flush     empty the table (for a kill switch's endpoint table: the\n"
		"            blocked state)\n"
		"  ADDR      an address or prefix, IPv4 or IPv6 (0.0.0.0/0 and ::/0 are\n"
		"            refused: a table holding everything would open a kill switch)\n"
		"  -f FILE   read the ADDRs from FILE: one a line, '#' comments, the\n"
		"            format of 'table <NAME> file' ('-': standard input)\n"
		"  --json    show: {\"table\":NAME,\"addresses\":[...]}\n"
		"  -v        say what changed (\"2/2 addresses added to <vpn>\")\n"
		"Exit: 0 done; 1 test found an address absent; 2 usage, an invalid\n"
		"address or FILE, or no table NAME in the active rule set; 3 no active\n"
		"rule set, no permission (root), or the kernel refused.\n",
		prog, prog, prog, prog);
}

enum table_cmd { CMD_SHOW, CMD_TEST, CMD_ADD, CMD_DELETE, CMD_REPLACE, CMD_FLUSH };

static const struct {
	const char *name;
	enum table_cmd cmd;
	enum addrset_op op;
	const char *done;           /* -v: "N/M addresses %s" */
} commands[] = {
	{ "show", CMD_SHOW, 0, NULL },
	{ "test", CMD_TEST, 0, NULL },
	{ "add", CMD_ADD, ADDRSET_ADD, "added to" },
	{ "delete", CMD_DELETE, ADDRSET_DELETE, "deleted from" },
	{ "replace", CMD_REPLACE, ADDRSET_REPLACE, "now in" },
	{ "flush", CMD_FLUSH, ADDRSET_FLUSH, "flushed from" },
};

struct prefixes {
	size_t n, cap;
	struct ifw_prefix *p;
};

static int prefixes_add(struct prefixes *l, const struct ifw_prefix *p)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct ifw_prefix *g = realloc(l->p, cap * sizeof(*g));
		if (!g)
			return -ENOMEM;
		l->p = g;
		l->cap = cap;
	}
	l->p[l->n++] = *p;
	return 0;
}

/* One ADDR; where is "FILE:LINE: " or "". Returns 0 or -1 after a message. */
static int parse_addr(const char *text, const char *where, struct prefixes *out)
{
	struct ifw_prefix p;
	int rc = ifw_prefix_parse(text, &p);

	if (rc == -EDOM) {
		cli_error("table", "%sinvalid address '%s': host bits set after the "
			  "prefix length", where, text);
		return -1;
	}
	if (rc < 0) {
		cli_error("table", "%sinvalid address '%s'", where, text);
		return -1;
	}
	if (p.len == 0) {
		cli_error("table", "%s'%s' is every address of its family: refused "
			  "(it would open a kill switch; write a rule instead)", where, text);
		return -1;
	}
	if (prefixes_add(out, &p) < 0) {
		cli_error("table", "out of memory");
		return -1;
	}
	return 0;
}

/* -f FILE: the format of 'table <NAME> file "PATH"'. Returns an exit code
 * (EXIT_OK, or after a message EXIT_USAGE / EXIT_SYSTEM). */
static int read_file(const char *path, struct prefixes *out)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
	char *line = NULL;
	size_t cap = 0;
	int lineno = 0, status = EXIT_OK;

	if (!f) {
		int e = errno;
		cli_error("table", "cannot read %s: %s", path, strerror(e));
		return e == EACCES || e == EPERM ? EXIT_SYSTEM : EXIT_USAGE;
	}
	while (getline(&line, &cap, f) >= 0) {
		char *hash = strchr(line, '#'), *save = NULL, where[300];
		lineno++;
		if (hash)
			*hash = 0;
		snprintf(where, sizeof(where), "%s:%d: ", path, lineno);
		for (char *w = strtok_r(line, " \t\r\n,", &save); w;
		     w = strtok_r(NULL, " \t\r\n,", &save))
			if (parse_addr(w, where, out) < 0)
				status = EXIT_USAGE;
	}
	if (ferror(f)) {
		cli_error("table", "cannot read %s: %s", path, strerror(errno));
		status = EXIT_SYSTEM;
	}
	free(line);
	if (f != stdin)
		fclose(f);
	return status;
}

static int exit_for(int rc)
{
	return rc == -ESRCH || rc == -EINVAL ? EXIT_USAGE : EXIT_SYSTEM;
}

static void report(int rc, const struct nft_error *err)
{
	nft_cli_error("table", err);
	if (rc == -EPERM || rc == -EACCES)
		cli_error("table", "changing or reading the kernel's tables needs root "
			  "(CAP_NET_ADMIN)");
}

struct owner_reply {
	size_t changed;
	struct addrset *shown;     /* "show": the prefixes answered */
	bool bad;
	char first_err[400];
};

static void owner_line(void *ctx, bool is_err, const char *text)
{
	struct owner_reply *o = ctx;
	struct ifw_prefix p;

	if (is_err) {
		if (!o->first_err[0])
			snprintf(o->first_err, sizeof(o->first_err), "%s", text);
	} else if (o->shown) {
		if (ifw_prefix_parse(text, &p) < 0 || addrset_add(o->shown, &p) < 0)
			o->bad = true;
	} else {
		sscanf(text, "changed %zu", &o->changed);
	}
}

/* Asks the running owner of the rule set (ifwall run --backend BACKEND)
 * through its control socket: "table NAME OP [PREFIX...]". Returns 0, -1
 * when no such process runs, or -errno with err set. */
static int call_owner(const char *backend, const char *name, const char *op,
		      const struct prefixes *l, struct owner_reply *o, struct nft_error *err)
{
	int code = 0;
	int rc = control_table_call(backend, name, op, l ? l->p : NULL, l ? l->n : 0,
				    owner_line, o, &code);

	if (rc == -ENOENT)
		return -1;
	memset(err, 0, sizeof(*err));
	if (rc < 0) {
		snprintf(err->message, sizeof(err->message),
			 "cannot reach the running 'ifwall run --backend %s': %s", backend,
			 strerror(-rc));
		return err->code = rc;
	}
	if (code != 0 || o->bad) {
		snprintf(err->message, sizeof(err->message), "ifwall run --backend %s: %s", backend,
			 o->first_err[0] ? o->first_err : "refused");
		return err->code = code == EXIT_USAGE ? -ESRCH : -EIO;
	}
	return 0;
}

/* Where the active rule set is: table inet ifwall ('load', or held by
 * 'run --backend nft'), else a running divert or tun backend's process. */
static const char *const userspace_owners[] = { "divert", "tun" };

static int table_read(const char *name, struct addrset **out, struct nft_error *err)
{
	int rc = nft_table_read(name, out, err);

	for (size_t i = 0; rc == -ENOENT && i < 2; i++) {
		struct nft_error e2;
		struct owner_reply o = { .shown = addrset_new() };
		if (!o.shown)
			return -ENOMEM;
		int r = call_owner(userspace_owners[i], name, "show", NULL, &o, &e2);
		if (r == 0 && (r = addrset_finish(o.shown)) == 0) {
			*out = o.shown;
			return 0;
		}
		addrset_free(o.shown);
		if (r != -1) {
			*err = e2;
			return r;
		}
	}
	return rc;
}

/* An owned table (held by 'ifwall run --backend nft') may only be changed
 * by its owner, and a userspace backend's rule set lives in its process:
 * the change goes to the owner through its control socket. */
static int table_change(const char *name, enum addrset_op op, const struct prefixes *l,
			size_t *changed, struct nft_error *err)
{
	static const char *const opname[] = {
		[ADDRSET_ADD] = "add", [ADDRSET_DELETE] = "delete",
		[ADDRSET_REPLACE] = "replace", [ADDRSET_FLUSH] = "flush",
	};
	struct owner_reply o = { 0 };
	int rc = call_owner("nft", name, opname[op], l, &o, err);

	if (rc == -1) {
		rc = nft_table_change(name, op, l->p, l->n, changed, err);
		if (rc != -ENOENT)
			return rc;
		for (size_t i = 0; rc == -ENOENT && i < 2; i++) {
			struct nft_error e2;
			int r = call_owner(userspace_owners[i], name, opname[op], l, &o, &e2);
			if (r != -1) {
				*err = e2;
				rc = r;
			}
		}
	}
	if (rc == 0 && changed)
		*changed = o.changed;
	return rc;
}

static void show(const char *name, const struct addrset *set, bool json)
{
	size_t n = addrset_prefix_count(set);
	char buf[64];

	if (json) {
		fputs("{\"table\":", stdout);
		json_string(stdout, name);
		fputs(",\"addresses\":[", stdout);
	}
	for (size_t i = 0; i < n; i++) {
		ifw_prefix_format(addrset_prefix(set, i), buf, sizeof(buf));
		if (json) {
			if (i)
				putchar(',');
			json_string(stdout, buf);
		} else {
			puts(buf);
		}
	}
	if (json)
		puts("]}");
}

int cmd_table(int argc, char **argv)
{
	const char *name = NULL, *file = NULL;
	char namebuf[256];
	int which = -1, status;
	bool json = false, verbose = false;
	struct prefixes list = { 0 };
	struct nft_error err;
	struct addrset *set = NULL;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			free(list.p);
			return EXIT_OK;
		}
	}
	status = EXIT_OK;
	for (int i = 1; i < argc && status == EXIT_OK; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--json")) {
			json = true;
		} else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
			verbose = true;
		} else if (!strcmp(a, "-f")) {
			if (i + 1 >= argc) {
				cli_error("table", "option '-f' needs a FILE");
				status = EXIT_USAGE;
			} else if (file) {
				cli_error("table", "only one -f FILE");
				status = EXIT_USAGE;
			} else {
				file = argv[++i];
			}
		} else if (a[0] == '-' && a[1] && !name) {
			cli_error("table", "unknown option '%s'", a);
			status = EXIT_USAGE;
		} else if (!name) {
			size_t len = strlen(a);
			if (len >= 2 && a[0] == '<' && a[len - 1] == '>') {
				snprintf(namebuf, sizeof(namebuf), "%.*s", (int)(len - 2), a + 1);
				name = namebuf;
			} else {
				name = a;
			}
			if (!*name || strlen(name) > 200) {
				cli_error("table", "invalid table name '%s'", a);
				status = EXIT_USAGE;
			}
		} else if (which < 0) {
			for (size_t c = 0; c < sizeof(commands) / sizeof(commands[0]); c++)
				if (!strcmp(a, commands[c].name))
					which = (int)c;
			if (which < 0) {
				cli_error("table", "unknown table command '%s' (show, test, add, "
					  "delete, replace, flush)", a);
				status = EXIT_USAGE;
			}
		} else if (a[0] == '-' && a[1] && strcmp(a, "--") != 0) {
			cli_error("table", "unknown option '%s'", a);
			status = EXIT_USAGE;
		} else if (strcmp(a, "--") != 0 && parse_addr(a, "", &list) < 0) {
			status = EXIT_USAGE;
		}
	}
	if (status == EXIT_OK && (!name || which < 0)) {
		cli_error("table", !name ? "missing the table NAME" : "missing the command "
			  "(show, test, add, delete, replace, flush)");
		status = EXIT_USAGE;
	}
	if (status == EXIT_OK && file)
		status = read_file(file, &list);
	if (status != EXIT_OK) {
		if (status == EXIT_USAGE && (!name || which < 0))
			usage(stderr);
		free(list.p);
		return status;
	}
	enum table_cmd cmd = commands[which].cmd;
	bool given = list.n > 0 || file;
	if ((cmd == CMD_SHOW || cmd == CMD_FLUSH) && given) {
		cli_error("table", "'%s' takes no addresses", commands[which].name);
		free(list.p);
		return EXIT_USAGE;
	}
	if ((cmd == CMD_TEST || cmd == CMD_ADD || cmd == CMD_DELETE) && !given) {
		cli_error("table", "'%s' needs addresses: ADDR... or -f FILE",
			  commands[which].name);
		free(list.p);
		return EXIT_USAGE;
	}
	if (json && cmd != CMD_SHOW && cmd != CMD_TEST) {
		cli_error("table", "--json is for show and test");
		free(list.p);
		return EXIT_USAGE;
	}

	int rc;
	if (cmd == CMD_SHOW || cmd == CMD_TEST) {
		rc = table_read(name, &set, &err);
		if (rc < 0) {
			report(rc, &err);
			free(list.p);
			return exit_for(rc);
		}
		if (cmd == CMD_SHOW) {
			show(name, set, json);
		} else {
			size_t absent = 0;
			if (json)
				fputs("[", stdout);
			for (size_t i = 0; i < list.n; i++) {
				bool in = addrset_contains_prefix(set, &list.p[i]);
				char buf[64];
				ifw_prefix_format(&list.p[i], buf, sizeof(buf));
				absent += !in;
				if (json) {
					printf("%s{\"address\":", i ? "," : "");
					json_string(stdout, buf);
					printf(",\"present\":%s}", in ? "true" : "false");
				} else if (!in) {
					printf("%s is not in <%s>\n", buf, name);
				}
			}
			if (json)
				puts("]");
			if (verbose)
				fprintf(stderr, "%s table: %zu/%zu addresses in <%s>\n", prog,
					list.n - absent, list.n, name);
			status = absent ? EXIT_FOUND : EXIT_OK;
		}
		addrset_free(set);
		free(list.p);
		return status;
	}
	size_t changed = 0;
	rc = table_change(name, commands[which].op, &list, &changed, &err);
	if (rc < 0) {
		report(rc, &err);
		cli_error("table", "table <%s> is unchanged", name);
		free(list.p);
		return exit_for(rc);
	}
	if (verbose) {
		if (cmd == CMD_REPLACE || cmd == CMD_FLUSH)
			fprintf(stderr, "%s table: %zu addresses %s <%s>\n", prog, changed,
				commands[which].done, name);
		else
			fprintf(stderr, "%s table: %zu/%zu addresses %s <%s>\n", prog, changed,
				list.n, commands[which].done, name);
	}
	free(list.p);
	return EXIT_OK;
}
