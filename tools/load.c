/* ifwall load [--backend nft] RULES: apply a rule file atomically with
 * nftables (one kernel transaction, every acknowledgement checked). */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backends/nft.h"
#include "tools/cli.h"
#include "tools/divert_owner.h"
#include "tools/control_client.h"
#include "tools/nft_common.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: %s load [--backend nft] [-v] [--max-errors N] RULES\n"
		"Replaces the active ifwall rule set (table inet ifwall) with RULES in\n"
		"one kernel transaction. A file with errors is never sent; a kernel\n"
		"refusal is reported with the rule's FILE:LINE and changes nothing.\n"
		"The rules stay in the kernel after exit; 'ifwall flush' removes them.\n"
		"While 'ifwall run --backend nft' holds the table, RULES goes to it\n"
		"through its control socket and it loads them (and reloads them on SIGHUP).\n"
		"  --backend nft  the only backend that loads (the default)\n"
		"  -v             print what was sent\n"
		"  --max-errors N print the first N errors of RULES, then count the rest\n"
		"                 (default %d; 0: all)\n"
		"Exit: 0 loaded, 2 usage or invalid file, 3 system error or refused\n"
		"(RULES unreadable for lack of permission included).\n",
		prog, CLI_DEFAULT_MAX_ERRORS);
}

int cmd_load(int argc, char **argv)
{
	const char *file = NULL;
	bool verbose = false;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int taken = cli_max_errors_option("load", argc, argv, &i);
		if (taken < 0) {
			usage(stderr);
			return EXIT_USAGE;
		}
		if (taken)
			continue;
		if (!strcmp(a, "--backend") || !strncmp(a, "--backend=", 10)) {
			const char *b = a[9] == '=' ? a + 10 : (i + 1 < argc ? argv[++i] : NULL);
			if (!b) {
				cli_error("load", "option '--backend' needs a value");
				usage(stderr);
				return EXIT_USAGE;
			}
			if (strcmp(b, "nft") != 0) {
				cli_error("load", "unknown backend '%s' (load supports nft; "
					  "use 'ifwall run' for divert and tun)", b);
				return EXIT_USAGE;
			}
		} else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
			verbose = true;
		} else {
			int rc = cli_rule_file_arg("load", a, &file, usage);
			if (rc >= 0)
				return rc;
		}
	}
	int rc = cli_rule_file_given("load", file, usage);
	if (rc >= 0)
		return rc;

	/* a running owner loads it: only it may change its table */
	char abs[PATH_MAX];
	char *fwd[] = { "load", realpath(file, abs) ? abs : (char *)file };
	if (fwd[1][0] == '/' && (rc = cli_control_forward("load", "nft", 2, fwd)) >= 0)
		return rc;

	struct ruleset *rs;
	struct nft_plan *plan;
	int status = nft_cli_prepare("load", file, &rs, &plan);
	if (status != EXIT_OK)
		return status;

	struct nft_load_stats stats;
	struct nft_error err;
	/* Two enforcing tables would each drop what the other passes. */
	status = cli_refuse_while_divert_runs("load", "load a second rule set beside it");
	if (status != EXIT_OK) {
		nft_plan_free(plan);
		ruleset_free(rs);
		return status;
	}
	int lock = nft_cli_lock("load");
	rc = nft_plan_load(plan, &stats, &err);
	if (lock >= 0)
		close(lock);
	if (rc < 0) {
		nft_cli_error("load", &err);
		if (rc == -EPERM || rc == -EACCES)
			cli_error("load", "nftables needs root (CAP_NET_ADMIN)");
		if (rc == -EPERM)
			cli_explain_owned_table("load");
		cli_error("load", "the previous rule set is unchanged");
		status = EXIT_SYSTEM;
	} else {
		if (stats.recheck_error)
			cli_error("load", "warning: existing flows were not re-checked "
				  "against the new rules (cannot read conntrack: %s); "
				  "replies of flows they block still pass until those "
				  "flows end", strerror(-stats.recheck_error));
		cli_record_load(file);
	}
	if (rc == 0 && verbose) {
		fprintf(stderr, "%s load: %zu rules, %zu kernel rules, %zu messages, "
			"%zu bytes, %zu sets kept, %zu flows re-checked, %zu "
			"blocked by the new rules\n", prog, rs->nrules,
			nft_plan_rule_count(plan), stats.messages, stats.bytes,
			stats.sets_kept, stats.flows_checked, stats.flows_blocked);
	}
	nft_plan_free(plan);
	ruleset_free(rs);
	return status;
}
