/* ifwall check: not written yet (being built in its own issue). */
#include "tools/cli.h"

int cmd_check(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	cli_error("check", "not available in this build");
	return EXIT_SYSTEM;
}
