/* ifwall compile RULES: print the nft script 'load' would apply. */
#include <stdio.h>

#include "backends/nft.h"
#include "tools/cli.h"
#include "tools/nft_common.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: %s compile [--max-errors N] RULES\n"
		"Prints the nft script equivalent to what 'ifwall load RULES' applies,\n"
		"for review. It loads with 'nft -f' and gives the same verdicts.\n"
		"Changes nothing and needs no privileges.\n"
		"  --max-errors N  print the first N errors, then count the rest\n"
		"                  (default %d; 0: all)\n"
		"Exit: 0 printed, 2 usage or invalid file, 3 the file cannot be read\n"
		"for lack of permission.\n", prog, CLI_DEFAULT_MAX_ERRORS);
}

int cmd_compile(int argc, char **argv)
{
	const char *file = NULL;

	for (int i = 1; i < argc; i++) {
		int taken = cli_max_errors_option("compile", argc, argv, &i);
		if (taken < 0) {
			usage(stderr);
			return EXIT_USAGE;
		}
		if (taken)
			continue;
		int rc = cli_rule_file_arg("compile", argv[i], &file, usage);
		if (rc >= 0)
			return rc;
	}
	int rc = cli_rule_file_given("compile", file, usage);
	if (rc >= 0)
		return rc;

	struct ruleset *rs;
	struct nft_plan *plan;
	int status = nft_cli_prepare("compile", file, &rs, &plan);
	if (status != EXIT_OK)
		return status;
	if (nft_plan_print(stdout, plan) < 0 || fflush(stdout) != 0) {
		cli_error("compile", "cannot write the output");
		status = EXIT_SYSTEM;
	}
	nft_plan_free(plan);
	ruleset_free(rs);
	return status;
}
