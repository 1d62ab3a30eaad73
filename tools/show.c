/* ifwall show: not written yet (being built in its own issue). */
#include "tools/cli.h"

int cmd_show(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	cli_error("show", "not available in this build");
	return EXIT_SYSTEM;
}
