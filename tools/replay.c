/* ifwall replay: not written yet (being built in its own issue). */
#include "tools/cli.h"

int cmd_replay(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	cli_error("replay", "not available in this build");
	return EXIT_SYSTEM;
}
