/* Helpers of the nft subcommands, see nft_common.h. */
#include "tools/nft_common.h"

#include <stdio.h>
#include <string.h>

#include "tools/cli.h"

void nft_cli_error(const char *cmd, const struct nft_error *err)
{
	if (err->file)
		cli_error(cmd, "%s:%d: %s", err->file, err->line, err->message);
	else
		cli_error(cmd, "%s", err->message[0] ? err->message : "failed");
	if (err->rule_text)
		fprintf(stderr, "    %s\n", err->rule_text);
}

int nft_cli_prepare(const char *cmd, const char *file, struct ruleset **rs,
		    struct nft_plan **plan)
{
	struct diag_list diags = { 0 };
	struct nft_error err;

	*plan = NULL;
	*rs = ruleset_from_file(file, &diags);
	cli_print_diags(cmd, &diags);
	diag_list_clear(&diags);
	if (!*rs) {
		int status = cli_rule_file_status(file);
		if (status == EXIT_USAGE)
			cli_error(cmd, "%s has errors; nothing was changed", file);
		else
			cli_error(cmd, "cannot read %s; nothing was changed", file);
		return status;
	}
	if (strcmp(cmd, "load") == 0 && ruleset_check_trust(*rs, DIAG_ERROR, &diags)) {
		cli_print_diags(cmd, &diags);
		diag_list_clear(&diags);
		cli_error(cmd, "refusing rule files an unprivileged user could change; nothing was changed");
		ruleset_free(*rs);
		*rs = NULL;
		return EXIT_USAGE;
	}
	if (nft_plan_build(*rs, plan, &err) < 0) {
		nft_cli_error(cmd, &err);
		cli_error(cmd, "nothing was changed");
		ruleset_free(*rs);
		*rs = NULL;
		return EXIT_USAGE;
	}
	return EXIT_OK;
}
