/* ifwall compile RULES: print the nft script 'load' would apply. */
#include <stdio.h>
#include <string.h>

#include "backends/nft.h"
#include "filter/engine.h"
#include "tools/cli.h"
#include "tools/nft_common.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: %s compile [--ifaddr NAME=ADDR,...] [--max-errors N] RULES\n"
		"Prints the nft script equivalent to what 'ifwall load RULES' applies,\n"
		"for review. It loads with 'nft -f' and gives the same verdicts.\n"
		"Changes nothing and needs no privileges.\n"
		"  --ifaddr N=A,...  the addresses interfaces hold, for the '(IFSPEC)'\n"
		"                  sets (default: this host's interfaces now)\n"
		"  --max-errors N  print the first N errors, then count the rest\n"
		"                  (default %d; 0: all)\n"
		"Exit: 0 printed, 2 usage or invalid file, 3 the file cannot be read\n"
		"for lack of permission.\n", prog, CLI_DEFAULT_MAX_ERRORS);
}

static int add_ifaddr(void *ctx, const char *name, const struct ifw_addr *addr)
{
	return ifaddr_table_add(ctx, name, addr);
}

int cmd_compile(int argc, char **argv)
{
	const char *file = NULL;
	struct ifaddr_table *given = NULL;
	int rc;

	for (int i = 1; i < argc; i++) {
		int taken = cli_max_errors_option("compile", argc, argv, &i);
		if (taken < 0) {
			usage(stderr);
			ifaddr_table_free(given);
			return EXIT_USAGE;
		}
		if (taken)
			continue;
		const char *a = argv[i];
		if (!strcmp(a, "--ifaddr") || !strncmp(a, "--ifaddr=", 9)) {
			const char *v = a[8] == '=' ? a + 9 : (i + 1 < argc ? argv[++i] : NULL);
			if (!v) {
				cli_error("compile", "option '--ifaddr' needs a value");
				usage(stderr);
				ifaddr_table_free(given);
				return EXIT_USAGE;
			}
			if (!given && !(given = ifaddr_table_new())) {
				cli_error("compile", "out of memory");
				return EXIT_SYSTEM;
			}
			if (cli_parse_ifaddrs("compile", v, add_ifaddr, given) < 0) {
				ifaddr_table_free(given);
				return EXIT_USAGE;
			}
			continue;
		}
		rc = cli_rule_file_arg("compile", a, &file, usage);
		if (rc >= 0) {
			ifaddr_table_free(given);
			return rc;
		}
	}
	rc = cli_rule_file_given("compile", file, usage);
	if (rc >= 0) {
		ifaddr_table_free(given);
		return rc;
	}

	struct ruleset *rs;
	struct nft_plan *plan;
	int status = nft_cli_prepare("compile", file, &rs, &plan);
	if (status == EXIT_OK && given && nft_plan_set_ifaddrs(plan, given, NULL) < 0) {
		cli_error("compile", "out of memory");
		status = EXIT_SYSTEM;
	}
	ifaddr_table_free(given);
	if (status != EXIT_OK) {
		nft_plan_free(plan);
		ruleset_free(rs);
		return status;
	}
	if (nft_plan_print(stdout, plan) < 0 || fflush(stdout) != 0) {
		cli_error("compile", "cannot write the output");
		status = EXIT_SYSTEM;
	}
	nft_plan_free(plan);
	ruleset_free(rs);
	return status;
}
