/* Helpers of the nft subcommands, see nft_common.h. */
#include "tools/nft_common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tools/cli.h"

void nft_cli_error(const char *cmd, const struct nft_error *err)
{
	if (err->file)
		cli_error(cmd, "%s:%d: %s", err->file, err->line, err->message);
	else
		cli_error(cmd, "%s", err->message[0] ? err->message : "failed");
	if (err->rule_text)
		fprintf(stderr, "    %s\n", err->rule_text);
}

size_t nft_backend_limits(const struct ruleset *rs, enum diag_severity sev,
			  struct diag_list *diags)
{
	struct nft_plan *plan = NULL;
	struct nft_error err;
	size_t found = 0;

	if (nft_plan_build(rs, &plan, &err) == 0) {
		nft_plan_free(plan);
		return 0;
	}
	if (err.code != -ENOTSUP)
		return 0;
	if (!err.file) {
		diag_add_rule(diags, sev, &(struct rule){ .file = NULL, .line = 0 },
			      "%s", err.message);
		return 1;
	}
	/* The whole set fails at its first such rule: try each rule alone
	 * (with the same tables and settings) to name every one. */
	for (size_t i = 0; i < rs->nrules; i++) {
		struct ruleset one = *rs;
		one.rules = &rs->rules[i];
		one.nrules = 1;
		if (nft_plan_build(&one, &plan, &err) == 0) {
			nft_plan_free(plan);
			continue;
		}
		if (err.code == -ENOMEM)
			break;
		found++;
		diag_add_rule(diags, sev, &rs->rules[i], "%s",
			      err.message);
	}
	return found;
}

int nft_cli_prepare(const char *cmd, const char *file, struct ruleset **rs,
		    struct nft_plan **plan)
{
	struct diag_list diags = { 0 };
	struct nft_error err;

	*plan = NULL;
	*rs = ruleset_from_file(file, &diags);
	int status = cli_rule_file_status(&diags);
	cli_print_diags(cmd, &diags);
	diag_list_clear(&diags);
	if (!*rs) {
		if (status == EXIT_USAGE)
			cli_error(cmd, "%s has errors; nothing was changed", file);
		else
			cli_error(cmd, "cannot read %s; nothing was changed", file);
		return status;
	}
	if ((!strcmp(cmd, "load") || !strcmp(cmd, "run")) && ruleset_check_trust(*rs, DIAG_ERROR, &diags)) {
		cli_print_diags(cmd, &diags);
		diag_list_clear(&diags);
		cli_error(cmd, "refusing rule files an unprivileged user could change; nothing was changed");
		ruleset_free(*rs);
		*rs = NULL;
		return EXIT_USAGE;
	}
	if (nft_plan_build(*rs, plan, &err) < 0) {
		if (err.code == -ENOTSUP && err.file && nft_backend_limits(*rs, DIAG_ERROR, &diags)) {
			cli_print_diags(cmd, &diags);
			diag_list_clear(&diags);
		} else {
			nft_cli_error(cmd, &err);
		}
		cli_error(cmd, "nothing was changed");
		ruleset_free(*rs);
		*rs = NULL;
		return EXIT_USAGE;
	}
	if (nft_plan_resolve_cgroups(*plan, &err) < 0)
		nft_cli_error(cmd, &err);
	/* '(IFSPEC)': the addresses the interfaces hold now. */
	int rc = err.code ? err.code : nft_plan_read_ifaddrs(*plan, NULL);
	if (rc < 0) {
		if (!err.code)
			cli_error(cmd, "cannot read the interfaces' addresses for '(IFSPEC)': %s",
				  strerror(-rc));
		cli_error(cmd, "nothing was changed");
		nft_plan_free(*plan);
		*plan = NULL;
		ruleset_free(*rs);
		*rs = NULL;
		return EXIT_SYSTEM;
	}
	/* A one-shot command sees the cgroups of this moment only. */
	for (size_t i = 0; strcmp(cmd, "load") == 0 && i < nft_plan_cgroup_count(*plan); i++) {
		size_t nids;
		const struct rule *r = nft_plan_cgroup(*plan, i, NULL, &nids);
		fprintf(stderr, "%s %s: notice: %s:%d: cgroup \"%s\" resolved at %s time: "
			"%zu cgroup%s now; one created later matches only after the next load\n",
			prog, cmd, r->file, r->line, r->cgroup, cmd, nids, nids == 1 ? "" : "s");
	}
	return EXIT_OK;
}

int nft_cli_lock(const char *cmd)
{
	int fd;

	if (mkdir(NFT_LOCK_DIR, 0700) < 0 && errno != EEXIST)
		return -1;
	fd = open(NFT_LOCK_PATH, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -1;
	/* Loads take milliseconds: wait quietly for two seconds first. */
	for (int i = 0; i < 200; i++) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return fd;
		if (errno != EWOULDBLOCK && errno != EINTR)
			break;
		usleep(10000);
	}
	if (errno == EWOULDBLOCK) {
		cli_error(cmd, "waiting for another ifwall command changing table "
			  "inet %s to finish (%s)", NFT_TABLE, NFT_LOCK_PATH);
		/* ... and then for a minute at most: a holder that hangs must
		 * not hang every later command (the kernel's transaction, not
		 * this lock, is what keeps two loads apart). */
		for (int i = 0; i < 1200; i++) {
			if (flock(fd, LOCK_EX | LOCK_NB) == 0)
				return fd;
			if (errno != EWOULDBLOCK && errno != EINTR)
				break;
			usleep(50000);
		}
		cli_error(cmd, "gave up waiting for %s after a minute; going on without it",
			  NFT_LOCK_PATH);
	}
	close(fd);
	return -1;
}
