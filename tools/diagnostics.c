/* Rule file diagnostics as every subcommand prints them: capped after
 * --max-errors errors (gcc's -fmax-errors), and the exit code of a rule
 * file that did not load. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rules/ruleset.h"
#include "tools/cli.h"

unsigned long cli_max_errors = CLI_DEFAULT_MAX_ERRORS;

void cli_print_diags(const char *cmd, const struct diag_list *diags)
{
	struct diag_list shown;
	size_t errors = 0, more_errors = 0, more_warnings = 0, i;

	if (!diags)
		return;
	for (i = 0; i < diags->count; i++) {
		enum diag_severity sev = diags->items[i].severity;
		/* A note belongs to the diagnostic before it. */
		if (cli_max_errors && errors == cli_max_errors && sev != DIAG_NOTE)
			break;
		if (sev == DIAG_ERROR)
			errors++;
	}
	/* The printer walks items[0..count): a shorter view prints a prefix. */
	shown = *diags;
	shown.count = i;
	diag_list_print(stderr, &shown);
	for (; i < diags->count; i++) {
		if (diags->items[i].severity == DIAG_ERROR)
			more_errors++;
		else if (diags->items[i].severity == DIAG_WARNING)
			more_warnings++;
	}
	if (more_errors && more_warnings)
		cli_error(cmd, "... and %zu more error%s and %zu more warning%s",
			  more_errors, more_errors == 1 ? "" : "s",
			  more_warnings, more_warnings == 1 ? "" : "s");
	else if (more_errors)
		cli_error(cmd, "... and %zu more error%s", more_errors, more_errors == 1 ? "" : "s");
	else if (more_warnings)
		cli_error(cmd, "... and %zu more warning%s", more_warnings,
			  more_warnings == 1 ? "" : "s");
}

int cli_max_errors_option(const char *cmd, int argc, char **argv, int *i)
{
	const char *arg = argv[*i], *value;
	char *end;

	if (!strncmp(arg, "--max-errors=", 13)) {
		value = arg + 13;
	} else if (!strcmp(arg, "--max-errors")) {
		if (*i + 1 >= argc) {
			cli_error(cmd, "option '--max-errors' needs a value");
			return -1;
		}
		value = argv[++*i];
	} else {
		return 0;
	}
	errno = 0;
	unsigned long n = strtoul(value, &end, 10);
	if (errno || end == value || *end || value[0] < '0' || value[0] > '9') {
		cli_error(cmd, "--max-errors: expected a number (0: no limit), got '%s'", value);
		return -1;
	}
	cli_max_errors = n;
	return 1;
}

int cli_rule_file_status(const struct diag_list *diags)
{
	/* The parser keeps the errno of a file it could not read (the rule
	 * file, an include, a table file) with its diagnostic. */
	int err = diag_list_sys_errno(diags);

	return err == EACCES || err == EPERM ? EXIT_SYSTEM : EXIT_USAGE;
}
