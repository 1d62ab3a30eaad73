/* The 'table' command of a running userspace backend's control socket
 * (divert, tun): 'ifwall table' reaches the rule set in force in the
 * process. Protocol (backends/control.h): "table NAME show" answers one
 * "out PREFIX" line per prefix; "table NAME add|delete|replace|flush
 * [PREFIX...]" answers "out changed N"; exit codes as 'ifwall table'. */
#ifndef IFWALL_TOOLS_RUN_CONTROL_H
#define IFWALL_TOOLS_RUN_CONTROL_H

#include <stddef.h>

#include "backends/control.h"
#include "filter/addr.h"
#include "filter/ruleset.h"

struct run_table_target {
	void *backend;              /* NULL: not running (yet) */
	const struct ruleset *(*rules)(void *backend); /* NULL: no 'show' here */
	int (*change)(void *backend, const char *name, enum addrset_op op,
		      const struct ifw_prefix *p, size_t n, size_t *changed);
};

int run_table_handler(void *ctx, int argc, char **argv, struct control_reply *reply);

#endif
