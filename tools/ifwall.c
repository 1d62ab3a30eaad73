/* ifwall: dispatch to one file per subcommand. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tools/cli.h"

const char *prog = "ifwall";

static const struct command commands[] = {
	{ "check", cmd_check, "parse and validate a rule file, print it in canonical form" },
	{ "query", cmd_query, "decide packet descriptions against a rule file" },
	{ "replay", cmd_replay, "run pcap/pcapng captures through the engine" },
	{ "load", cmd_load, "apply a rule file atomically with nftables" },
	{ "table", cmd_table, "show, test or change a named table of the active rule set" },
	{ "show", cmd_show, "show the active rule set with counters" },
	{ "flush", cmd_flush, "remove everything ifwall installed" },
	{ "compile", cmd_compile, "print the nft script 'load' would apply" },
	{ "run", cmd_run, "hold the rules: nft (owned table), divert or tun, in the foreground" },
	{ "status", cmd_status, "what is enforced now and why" },
	{ "log", cmd_log, "packets the active rules log, with their rule" },
	{ "interfaces", cmd_interfaces, "list interfaces: index, name, type, flags, addresses" },
};

void cli_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s %s: ", prog, cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_parse_json_only(const char *cmd, int argc, char **argv,
			void (*usage)(FILE *out), bool *json)
{
	*json = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return EXIT_OK;
		} else if (!strcmp(argv[i], "--json")) {
			*json = true;
		} else {
			cli_error(cmd, "unexpected argument '%s'", argv[i]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	return -1;
}

int cli_rule_file_arg(const char *cmd, const char *arg, const char **file,
		      void (*usage)(FILE *out))
{
	if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
		usage(stdout);
		return EXIT_OK;
	}
	if (arg[0] == '-' && arg[1])
		cli_error(cmd, "unknown option '%s'", arg);
	else if (*file)
		cli_error(cmd, "only one rule file, got '%s' too", arg);
	else {
		*file = arg;
		return -1;
	}
	usage(stderr);
	return EXIT_USAGE;
}

int cli_rule_file_given(const char *cmd, const char *file, void (*usage)(FILE *out))
{
	if (file)
		return -1;
	cli_error(cmd, "missing the rule file");
	usage(stderr);
	return EXIT_USAGE;
}

static void usage(FILE *out)
{
	fprintf(out, "Usage: %s COMMAND [OPTIONS] ...\n\nCommands:\n", prog);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-11s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "\nEvery command takes -h. Exit codes: 0 ok, 1 found a failure "
		"(leak, mismatch), 2 usage or invalid input, 3 system error.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return EXIT_OK;
	}
	if (!strcmp(argv[1], "--version")) {
		puts("ifwall 0.1");
		return EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "%s: unknown command '%s'\n", prog, argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
