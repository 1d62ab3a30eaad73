/* See divert_owner.h. */
#include "tools/divert_owner.h"

#include "backends/divert.h"
#include "tools/cli.h"

int cli_refuse_while_divert_runs(const char *cmd, const char *doing)
{
	int owner = 0;

	if (divert_table_state(&owner) <= 0 || owner <= 0)
		return EXIT_OK;
	cli_error(cmd, "table inet ifwall_divert belongs to 'ifwall run --backend divert' "
		  "(pid %d), which is running in this network namespace; refusing to %s. "
		  "Stop it first (its table stays and drops new flows until 'ifwall flush')",
		  owner, doing);
	return EXIT_SYSTEM;
}

void cli_print_divert_state(FILE *out, int json)
{
	int owner = 0;
	int r = divert_table_state(&owner);

	if (json) {
		if (r > 0)
			fprintf(out, ",\"divert\":{\"table\":\"inet ifwall_divert\",\"pid\":%d}", owner);
		else
			fputs(",\"divert\":null", out);
		return;
	}
	if (r <= 0)
		return;
	if (owner > 0)
		fprintf(out, "table inet ifwall_divert: enforced by 'ifwall run --backend divert' "
			"(pid %d): new flows are decided in userspace\n", owner);
	else
		fprintf(out, "table inet ifwall_divert: left by a stopped 'ifwall run --backend "
			"divert': new flows are dropped until 'ifwall flush'\n");
}
