/* ifwall show [--json]: the active rule set read back from the kernel
 * (table inet ifwall), one line per rule of the file with its packet and
 * byte counters, mapped to FILE:LINE and text through the rules' user data. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "backends/nft.h"
#include "filter/json.h"
#include "tools/cli.h"
#include "tools/divert_owner.h"
#include "tools/nft_common.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: %s show [--json]\n"
		"Shows the rule set loaded in the kernel (table inet ifwall): every\n"
		"rule with its FILE:LINE, text, verdict and packet/byte counters\n"
		"(summed over the kernel rules it became), then 'set skip' and the\n"
		"defaults, then, flagged FOREIGN, every rule, chain or set in the table\n"
		"that ifwall did not put there.\n"
		"  --json   one JSON document\n"
		"Exit: 0 shown (also when nothing is loaded), 3 system error.\n", prog);
}

static const char *entry_label(const struct nft_entry *e)
{
	switch (e->kind) {
	case NFT_ENTRY_RULE: return e->origin ? e->origin : "?";
	case NFT_ENTRY_SKIP: return "skip";
	case NFT_ENTRY_DEFAULT_IN: return "default in";
	case NFT_ENTRY_DEFAULT_OUT: return "default out";
	}
	return "?";
}

static void print_foreign_text(const struct nft_listing *l);

static void print_text(const struct nft_listing *l)
{
	size_t nrules = 0;

	if (!l->present) {
		printf("no ifwall rule set is loaded (no table inet %s)\n", NFT_TABLE);
		return;
	}
	for (size_t i = 0; i < l->nentries; i++)
		nrules += l->entries[i].kind == NFT_ENTRY_RULE;
	printf("table inet %s: %zu rules (%zu kernel rules, %zu named sets); "
	       "policy input %s, forward %s, output %s\n", NFT_TABLE, nrules,
	       l->kernel_rules, l->nsets, l->policy_input, l->policy_forward,
	       l->policy_output);
	printf("%10s %12s  %-7s %s\n", "PACKETS", "BYTES", "VERDICT", "RULE");
	for (size_t i = 0; i < l->nentries; i++) {
		const struct nft_entry *e = &l->entries[i];
		printf("%10" PRIu64 " %12" PRIu64 "  %-7s %s", e->packets, e->bytes,
		       e->verdict ? e->verdict : "-", entry_label(e));
		if (e->text)
			printf("  %s", e->text);
		putchar('\n');
	}
	print_foreign_text(l);
}

static void print_foreign_text(const struct nft_listing *l)
{
	if (!l->nforeign)
		return;
	printf("warning: %zu object%s in table inet %s %s not put there by ifwall "
	       "(not from the rule file; they change what the table does):\n",
	       l->nforeign, l->nforeign == 1 ? "" : "s", NFT_TABLE,
	       l->nforeign == 1 ? "was" : "were");
	for (size_t i = 0; i < l->nforeign; i++) {
		const struct nft_foreign *f = &l->foreign[i];
		if (!strcmp(f->kind, "rule"))
			printf("%10" PRIu64 " %12" PRIu64 "  %-7s FOREIGN rule in chain %s "
			       "(handle %" PRIu64 ")\n", f->packets, f->bytes,
			       f->verdict[0] ? f->verdict : "-", f->chain, f->handle);
		else if (!strcmp(f->kind, "chain"))
			printf("%10s %12s  %-7s FOREIGN chain %s\n", "-", "-", "-", f->chain);
		else
			printf("%10s %12s  %-7s FOREIGN set %s\n", "-", "-", "-", f->name);
	}
}

static void print_foreign_json(const struct nft_listing *l)
{
	fputs(",\"foreign\":[", stdout);
	for (size_t i = 0; i < l->nforeign; i++) {
		const struct nft_foreign *f = &l->foreign[i];
		printf("%s{\"kind\":", i ? "," : "");
		json_string(stdout, f->kind);
		if (!strcmp(f->kind, "set")) {
			fputs(",\"name\":", stdout);
			json_string(stdout, f->name);
		} else {
			fputs(",\"chain\":", stdout);
			json_string(stdout, f->chain);
		}
		if (!strcmp(f->kind, "rule")) {
			printf(",\"handle\":%" PRIu64 ",\"verdict\":", f->handle);
			json_string(stdout, f->verdict[0] ? f->verdict : NULL);
			printf(",\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64, f->packets,
			       f->bytes);
		}
		putchar('}');
	}
	putchar(']');
}

static void print_entry_json(const struct nft_entry *e)
{
	fputs("{\"rule\":", stdout);
	json_string(stdout, e->kind == NFT_ENTRY_RULE ? e->origin : NULL);
	fputs(",\"text\":", stdout);
	json_string(stdout, e->text);
	fputs(",\"verdict\":", stdout);
	json_string(stdout, e->verdict);
	fputs(",\"chains\":[", stdout);
	const char *c = e->chains;
	bool first = true;
	while (*c) {
		char name[64];
		size_t n = strcspn(c, " ");
		snprintf(name, sizeof(name), "%.*s", (int)n, c);
		printf("%s", first ? "" : ",");
		json_string(stdout, name);
		first = false;
		c += n;
		c += strspn(c, " ");
	}
	printf("],\"kernel_rules\":%zu,\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64 "}",
	       e->kernel_rules, e->packets, e->bytes);
}

static void print_json(const struct nft_listing *l)
{
	const struct nft_entry *skip = NULL, *din = NULL, *dout = NULL;
	bool first = true;

	printf("{\"table\":\"inet %s\",\"loaded\":%s", NFT_TABLE,
	       l->present ? "true" : "false");
	cli_print_divert_state(stdout, 1);
	if (!l->present) {
		puts(",\"rules\":[]}");
		return;
	}
	printf(",\"policy\":{\"input\":\"%s\",\"forward\":\"%s\",\"output\":\"%s\"}",
	       l->policy_input, l->policy_forward, l->policy_output);
	printf(",\"kernel_rules\":%zu,\"sets\":%zu,\"rules\":[", l->kernel_rules,
	       l->nsets);
	for (size_t i = 0; i < l->nentries; i++) {
		const struct nft_entry *e = &l->entries[i];
		switch (e->kind) {
		case NFT_ENTRY_RULE:
			if (!first)
				putchar(',');
			first = false;
			print_entry_json(e);
			break;
		case NFT_ENTRY_SKIP: skip = e; break;
		case NFT_ENTRY_DEFAULT_IN: din = e; break;
		case NFT_ENTRY_DEFAULT_OUT: dout = e; break;
		}
	}
	fputs("],\"skip\":", stdout);
	if (skip)
		print_entry_json(skip);
	else
		fputs("null", stdout);
	fputs(",\"default_in\":", stdout);
	if (din)
		print_entry_json(din);
	else
		fputs("null", stdout);
	fputs(",\"default_out\":", stdout);
	if (dout)
		print_entry_json(dout);
	else
		fputs("null", stdout);
	print_foreign_json(l);
	puts("}");
}

int cmd_show(int argc, char **argv)
{
	bool json = false;

	int status = cli_parse_json_only("show", argc, argv, usage, &json);
	if (status >= 0)
		return status;

	struct nft_listing *l;
	struct nft_error err;
	int rc = nft_listing_read(&l, &err);
	if (rc < 0) {
		nft_cli_error("show", &err);
		if (rc == -EPERM || rc == -EACCES)
			cli_error("show", "nftables needs root (CAP_NET_ADMIN)");
		return EXIT_SYSTEM;
	}
	if (json) {
		print_json(l);
	} else {
		print_text(l);
		cli_print_divert_state(stdout, 0);
	}
	nft_listing_free(l);
	if (fflush(stdout) != 0) {
		cli_error("show", "cannot write the output");
		return EXIT_SYSTEM;
	}
	return EXIT_OK;
}
