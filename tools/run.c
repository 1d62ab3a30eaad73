/* ifwall run: not written yet (being built in its own issue). */
#include "tools/cli.h"

int cmd_run(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	cli_error("run", "not available in this build");
	return EXIT_SYSTEM;
}
