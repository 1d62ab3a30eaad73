/* ifwall check [--expand] [--json] RULES: parse, validate, print the
 * canonical rule file (stdout) and the diagnostics (stderr). */
#include <stdbool.h>
#include <stdio.h>
#include <unistd.h>
#include <string.h>

#include "filter/json.h"
#include "rules/ruleset.h"
#include "tools/cli.h"
#include "tools/nft_common.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: %s check [--expand] [--json] [--max-errors N] RULES\n"
		"Parses and validates a rule file and prints it in canonical form,\n"
		"each rule tagged with its FILE:LINE. Diagnostics go to stderr.\n"
		"  --expand        print the killswitch preset as the rules it expands to\n"
		"  --json          print one JSON document instead (every diagnostic)\n"
		"  --max-errors N  print the first N errors, then count the rest\n"
		"                  (default %d; 0: all)\n"
		"Exit: 0 valid (warnings allowed), 2 invalid file or usage,\n"
		"3 the file cannot be read for lack of permission.\n", prog,
		CLI_DEFAULT_MAX_ERRORS);
}

static void print_ifitem_json(FILE *out, const struct ifitem *it, bool negate)
{
	char buf[IFW_IFNAMSIZ + 32];

	switch (it->kind) {
	case IFITEM_NAME: snprintf(buf, sizeof(buf), "%s%s", negate ? "!" : "", it->name); break;
	case IFITEM_PREFIX: snprintf(buf, sizeof(buf), "%s%s*", negate ? "!" : "", it->name); break;
	case IFITEM_ANY: snprintf(buf, sizeof(buf), "%sany", negate ? "!" : ""); break;
	case IFITEM_TYPE:
		snprintf(buf, sizeof(buf), "%stype %s", negate ? "!" : "", iftype_name(it->type));
		break;
	}
	json_string(out, buf);
}

static void print_json(FILE *out, const char *file, const struct ruleset *rs,
		       const struct diag_list *diags)
{
	fputs("{\"file\":", out);
	json_string(out, file);
	fputs(",\"valid\":", out);
	fputs(rs ? "true" : "false", out);
	fputs(",\"rules\":[", out);
	for (size_t i = 0; rs && i < rs->nrules; i++) {
		const struct rule *r = &rs->rules[i];
		if (i)
			fputc(',', out);
		fputs("{\"file\":", out);
		json_string(out, r->file);
		fprintf(out, ",\"line\":%d,\"text\":", r->line);
		json_string(out, r->text);
		fprintf(out, ",\"origin\":\"%s\"}",
			r->origin == ORIGIN_KILLSWITCH ? "killswitch" : "user");
	}
	fputs("]", out);
	if (rs) {
		fprintf(out, ",\"default_in\":\"%s\",\"default_out\":\"%s\",\"block_policy\":\"%s\"",
			default_verdict_name(rs->default_in), default_verdict_name(rs->default_out),
			rs->block_policy == BLOCK_POLICY_REJECT ? "reject" : "drop");
		fprintf(out, ",\"default_in_log\":%s,\"default_out_log\":%s",
			rs->default_in_log ? "true" : "false", rs->default_out_log ? "true" : "false");
		fputs(",\"killswitch\":", out);
		fputs(rs->killswitch ? "true" : "false", out);
		fputs(",\"skip\":[", out);
		for (size_t i = 0; i < rs->skip.count; i++) {
			if (i)
				fputc(',', out);
			print_ifitem_json(out, &rs->skip.items[i], rs->skip.negate);
		}
		fputs("],\"tables\":[", out);
		for (size_t i = 0; i < rs->ntables; i++) {
			if (i)
				fputc(',', out);
			fputs("{\"name\":", out);
			json_string(out, rs->tables[i].name);
			fprintf(out, ",\"count\":%zu}", addrset_prefix_count(rs->tables[i].set));
		}
		fputs("]", out);
	} else {
		fputs(",\"default_in\":null,\"default_out\":null,\"block_policy\":null,"
		      "\"killswitch\":false,\"skip\":[],\"tables\":[]", out);
	}
	fputs(",\"diagnostics\":", out);
	diag_list_print_json(out, diags);
	fputs("}\n", out);
}

int cmd_check(int argc, char **argv)
{
	bool expand = false, json = false;
	const char *file = NULL;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int rc = -1, taken = cli_max_errors_option("check", argc, argv, &i);
		if (taken < 0) {
			usage(stderr);
			return EXIT_USAGE;
		}
		if (taken)
			continue;
		if (!strcmp(a, "--expand"))
			expand = true;
		else if (!strcmp(a, "--json"))
			json = true;
		else if (!strcmp(a, "--") && i + 1 < argc && !file && i + 2 == argc)
			file = argv[++i];
		else
			rc = cli_rule_file_arg("check", a, &file, usage);
		if (rc >= 0)
			return rc;
	}
	int rc = cli_rule_file_given("check", file, usage);
	if (rc >= 0)
		return rc;

	struct diag_list diags = { 0 };
	struct ruleset *rs = ruleset_from_file(file, &diags);
	int status = rs ? EXIT_OK : cli_rule_file_status(&diags);

	/* load and run refuse files others could write; as root, say so now. */
	if (rs && geteuid() == 0)
		ruleset_check_trust(rs, DIAG_WARNING, &diags);
	/* What check accepts loads, or check says why, where. */
	if (rs)
		nft_backend_limits(rs, DIAG_WARNING, &diags);
	cli_print_diags("check", &diags);
	if (json) {
		print_json(stdout, file, rs, &diags);
	} else if (rs && ruleset_print(stdout, rs, expand) < 0) {
		cli_error("check", "cannot write the output");
		status = EXIT_SYSTEM;
	}
	if (fflush(stdout) != 0 && status == EXIT_OK) {
		cli_error("check", "cannot write the output");
		status = EXIT_SYSTEM;
	}
	ruleset_free(rs);
	diag_list_clear(&diags);
	return status;
}
