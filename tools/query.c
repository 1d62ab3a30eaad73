/* ifwall query: not written yet (being built in its own issue). */
#include "tools/cli.h"

int cmd_query(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	cli_error("query", "not available in this build");
	return EXIT_SYSTEM;
}
