/* Shared by the subcommands of the ifwall CLI. Only tools/ talks to the user. */
#ifndef IFWALL_TOOLS_CLI_H
#define IFWALL_TOOLS_CLI_H

#include <stdbool.h>
#include <stdio.h>

/* Exit codes, cli.md */
enum {
	EXIT_OK = 0,
	EXIT_FOUND = 1,   /* a leak, a verdict mismatch */
	EXIT_USAGE = 2,   /* usage, invalid rule file / capture / description */
	EXIT_SYSTEM = 3,  /* permission, netlink, kernel, device */
};

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

int cmd_check(int argc, char **argv);
int cmd_query(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_load(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_flush(int argc, char **argv);
int cmd_compile(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_interfaces(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_log(int argc, char **argv);
int cmd_table(int argc, char **argv);

struct ifw_addr;
/* --ifaddr NAME=ADDR[,NAME=ADDR...] (query, replay; ADDR or ADDR/LEN, as
 * 'interfaces' prints it): calls add for each pair. Returns 0, or -1 after
 * a message (cmd names the subcommand) on a malformed pair or when add
 * fails. */
int cli_parse_ifaddrs(const char *cmd, const char *spec,
		      int (*add)(void *ctx, const char *name, const struct ifw_addr *addr),
		      void *ctx);

/* Arguments of a command whose only options are -h and --json. Returns -1
 * when the command should go on (*json set), else the exit code to return
 * (help printed, or a usage error reported). */
int cli_parse_json_only(const char *cmd, int argc, char **argv,
			void (*usage)(FILE *out), bool *json);

/* The arguments of a command taking one rule file (check, compile, load)
 * that are not its own options: -h, RULES, unknown options. Returns -1 when
 * the command should go on, else the exit code to return (help printed, or
 * a usage error reported). */
int cli_rule_file_arg(const char *cmd, const char *arg, const char **file,
		      void (*usage)(FILE *out));
/* After the arguments: the same for a missing RULES. */
int cli_rule_file_given(const char *cmd, const char *file, void (*usage)(FILE *out));

struct diag_list;
/* How many errors about a rule file a command prints before it only counts
 * the rest, as gcc's -fmax-errors (0: no limit). --max-errors sets it. */
#define CLI_DEFAULT_MAX_ERRORS 20
extern unsigned long cli_max_errors;
/* Prints diagnostics on stderr (gcc style, rules/diag.c) up to the
 * cli_max_errors-th error and the notes that follow it, then one line
 * counting the errors and warnings left out: "... and 4123 more errors". */
void cli_print_diags(const char *cmd, const struct diag_list *diags);
/* --max-errors N or --max-errors=N at argv[*i]: returns 1 when taken (*i
 * moved past its value), 0 when argv[*i] is another argument, -1 after a
 * message when the value is missing or not a number. */
int cli_max_errors_option(const char *cmd, int argc, char **argv, int *i);
/* The exit code for a rule file that did not load: EXIT_SYSTEM when it
 * cannot be opened for lack of permission (EACCES, EPERM; cli.md counts
 * that a system error), else EXIT_USAGE (missing, invalid). */
int cli_rule_file_status(const struct diag_list *diags);

/* Program name for messages ("ifwall"). */
extern const char *prog;
/* "ifwall SUBCOMMAND: message" on stderr. */
void cli_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
