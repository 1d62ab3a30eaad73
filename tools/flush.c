/* ifwall flush: remove everything ifwall installed in nftables (its own
 * tables, nothing else). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "backends/nft.h"
#include "backends/runstate.h"
#include "tools/cli.h"
#include "tools/divert_owner.h"
#include "tools/control_client.h"
#include "tools/nft_common.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: %s flush\n"
		"Deletes table inet ifwall and the other tables ifwall made (named\n"
		"ifwall_* or ifwall-*), in one transaction. No other table is touched.\n"
		"A stopped divert backend's table (inet ifwall_divert, which drops new\n"
		"flows) goes too; while the divert backend runs, flush refuses,\n"
		"naming its pid. While a resident 'ifwall run' (nft backend) holds\n"
		"the table, the flush goes to it through its control socket; it\n"
		"removes the tables and exits.\n"
		"Exit: 0 removed or nothing to remove, 3 system error or refused.\n", prog);
}

int cmd_flush(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return EXIT_OK;
		}
		cli_error("flush", "unexpected argument '%s'", argv[i]);
		usage(stderr);
		return EXIT_USAGE;
	}

	int refused = cli_refuse_while_divert_runs("flush", "flush");
	if (refused != EXIT_OK)
		return refused;
	char *fwd[] = { "flush" };
	int code = cli_control_forward("flush", "nft", 1, fwd);
	if (code >= 0)
		return code;

	struct nft_error err;
	size_t deleted;
	int lock = nft_cli_lock("flush");
	int rc = nft_flush(&deleted, &err);
	if (lock >= 0)
		close(lock);
	if (rc < 0) {
		nft_cli_error("flush", &err);
		if (rc == -EPERM || rc == -EACCES)
			cli_error("flush", "nftables needs root (CAP_NET_ADMIN)");
		if (rc == -EPERM)
			cli_explain_owned_table("flush");
		return EXIT_SYSTEM;
	}
	runstate_remove();
	return EXIT_OK;
}
