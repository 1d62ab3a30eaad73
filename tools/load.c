/* ifwall load: not written yet (being built in its own issue). */
#include "tools/cli.h"

int cmd_load(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	cli_error("load", "not available in this build");
	return EXIT_SYSTEM;
}
