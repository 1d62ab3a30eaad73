/* The 'table' command of a running divert or tun backend, see
 * run_control.h. Called from the backend's own loop, between packets. */
#include "tools/run_control.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rules/ruleset.h"
#include "tools/cli.h"

static const struct {
	const char *name;
	enum addrset_op op;
} ops[] = {
	{ "add", ADDRSET_ADD }, { "delete", ADDRSET_DELETE },
	{ "replace", ADDRSET_REPLACE }, { "flush", ADDRSET_FLUSH },
};

static int show(struct run_table_target *t, const char *name, struct control_reply *reply)
{
	const struct ruleset *rs = t->rules ? t->rules(t->backend) : NULL;
	const struct rs_table *table = rs ? ruleset_find_table(rs, name) : NULL;
	char buf[64];

	if (!rs) {
		control_reply_err(reply, t->rules ? "the backend is not running yet"
						  : "read the table from the kernel ('ifwall table NAME show')");
		return EXIT_SYSTEM;
	}
	if (!table) {
		control_reply_err(reply, "the rule set in force has no table <%s>", name);
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < addrset_prefix_count(table->set); i++)
		control_reply_out(reply, "%s",
				  ifw_prefix_format(addrset_prefix(table->set, i), buf, sizeof(buf)));
	return EXIT_OK;
}

int run_table_handler(void *ctx, int argc, char **argv, struct control_reply *reply)
{
	struct run_table_target *t = ctx;
	struct ifw_prefix *p = NULL;
	size_t n, changed = 0;
	int op = -1;

	if (!t->backend) {
		control_reply_err(reply, "the backend is not running yet");
		return EXIT_SYSTEM;
	}
	if (argc == 3 && !strcmp(argv[2], "show"))
		return show(t, argv[1], reply);
	for (size_t i = 0; argc >= 3 && i < sizeof(ops) / sizeof(ops[0]); i++)
		if (!strcmp(argv[2], ops[i].name))
			op = (int)ops[i].op;
	if (op < 0) {
		control_reply_err(reply, "usage: table NAME show|add|delete|replace|flush [PREFIX...]");
		return EXIT_USAGE;
	}
	n = (size_t)argc - 3;
	if (n && !(p = calloc(n, sizeof(*p)))) {
		control_reply_err(reply, "out of memory");
		return EXIT_SYSTEM;
	}
	for (size_t i = 0; i < n; i++)
		if (ifw_prefix_parse(argv[3 + i], &p[i]) < 0) {
			control_reply_err(reply, "invalid address '%s'", argv[3 + i]);
			free(p);
			return EXIT_USAGE;
		}
	int rc = t->change(t->backend, argv[1], (enum addrset_op)op, p, n, &changed);
	free(p);
	if (rc == -ESRCH) {
		control_reply_err(reply, "the rule set in force has no table <%s>", argv[1]);
		return EXIT_USAGE;
	}
	if (rc < 0) {
		control_reply_err(reply, "cannot change table <%s>: %s", argv[1], strerror(-rc));
		return rc == -EINVAL ? EXIT_USAGE : EXIT_SYSTEM;
	}
	control_reply_out(reply, "changed %zu", changed);
	return EXIT_OK;
}
