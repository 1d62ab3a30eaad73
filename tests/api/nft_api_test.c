/* A small program on libifwall's nft functions, for t_nft_api.sh:
 *   nft_api_test apply RULES | compile RULES | show | flush
 * prints what the library returned; exit 0 on success, 1 on error (with
 * "error CODE FILE:LINE MESSAGE"). Public header only. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ifwall.h>

static struct ifw_ruleset *rs;

static int fail(int code, const struct ifw_error *err)
{
	/* err->file points into the rule set: print before freeing it. */
	printf("error %d %s:%d %s\n", code, err->file ? err->file : "-", err->line,
	       err->message);
	ifw_ruleset_free(rs);
	return 1;
}

int main(int argc, char **argv)
{
	struct ifw_error err;
	int ret;

	if (argc < 2)
		return 2;
	if (argc > 2 && ifw_ruleset_from_file(argv[2], &rs, NULL) < 0) {
		printf("error: %s does not parse\n", argv[2]);
		return 2;
	}
	if (!strcmp(argv[1], "apply")) {
		ret = ifw_nft_apply(rs, &err);
		if (ret < 0)
			return fail(ret, &err);
		printf("applied %zu rules\n", ifw_ruleset_rule_count(rs));
	} else if (!strcmp(argv[1], "compile")) {
		char *text;
		ret = ifw_nft_compile(rs, &text, &err);
		if (ret < 0)
			return fail(ret, &err);
		fputs(text, stdout);
		free(text);
	} else if (!strcmp(argv[1], "show")) {
		struct ifw_nft_listing *l;
		ret = ifw_nft_show(&l, &err);
		if (ret < 0)
			return fail(ret, &err);
		printf("present %d\n", ifw_nft_listing_present(l));
		for (size_t i = 0; i < ifw_nft_listing_count(l); i++) {
			const struct ifw_nft_entry *e = ifw_nft_listing_get(l, i);
			printf("entry %d %s %s %llu %s\n", e->kind, e->origin ? e->origin : "-",
			       e->verdict ? e->verdict : "-", (unsigned long long)e->packets,
			       e->text ? e->text : "-");
		}
		if (ifw_nft_listing_get(l, ifw_nft_listing_count(l)) != NULL)
			printf("error: entry past the end\n");
		ifw_nft_listing_free(l);
	} else if (!strcmp(argv[1], "flush")) {
		ret = ifw_nft_flush(&err);
		if (ret < 0)
			return fail(ret, &err);
		printf("flushed %d\n", ret);
	} else {
		ifw_ruleset_free(rs);
		return 2;
	}
	ifw_ruleset_free(rs);
	return 0;
}
