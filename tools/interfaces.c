/* ifwall interfaces: not written yet (being built in its own issue). */
#include "tools/cli.h"

int cmd_interfaces(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	cli_error("interfaces", "not available in this build");
	return EXIT_SYSTEM;
}
