/* ifwall compile: not written yet (being built in its own issue). */
#include "tools/cli.h"

int cmd_compile(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	cli_error("compile", "not available in this build");
	return EXIT_SYSTEM;
}
