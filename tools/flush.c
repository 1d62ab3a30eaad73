/* ifwall flush: not written yet (being built in its own issue). */
#include "tools/cli.h"

int cmd_flush(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	cli_error("flush", "not available in this build");
	return EXIT_SYSTEM;
}
