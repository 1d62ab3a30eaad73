/* The commands that change the active rules (load, flush) reach a running
 * 'ifwall run' through its control socket (backends/control.h). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backends/control.h"
#include "backends/nft_owner.h"
#include "backends/runstate.h"
#include "tools/cli.h"
#include "tools/control_client.h"

static void print_line(void *ctx, bool is_err, const char *text)
{
	(void)ctx;
	fprintf(is_err ? stderr : stdout, "%s\n", text);
}

int cli_control_forward(const char *cmd, const char *backend, int argc, char **argv)
{
	int code = EXIT_SYSTEM;
	pid_t pid = 0;
	char path[256];
	int rc = control_call(backend, argc, argv, print_line, NULL, &code, &pid);

	if (rc == 0)
		return code;
	if (rc == -ENOENT || rc == -ECONNREFUSED || rc == -ENOTDIR)
		return -1;
	/* Not root: the command goes on by itself, so a bad rule file is still
	 * a usage error (2) and the kernel's refusal a system error (3). */
	if ((rc == -EACCES || rc == -EPERM) && geteuid() != 0)
		return -1;
	control_run_path(backend, path, sizeof(path));
	if (rc == -EACCES || rc == -EPERM)
		cli_error(cmd, "ifwall run --backend %s owns the rules; its control socket "
			  "(%s.sock) is for root only", backend, path);
	else
		cli_error(cmd, "ifwall run --backend %s%s: control socket %s.sock: %s", backend,
			  pid ? "" : " (not answering)", path, strerror(-rc));
	return EXIT_SYSTEM;
}

void cli_explain_owned_table(const char *cmd)
{
	struct nft_table_info info;

	if (nft_table_info_read(&info, NULL) == 0 && info.present &&
	    (info.flags & NFT_TABLE_F_OWNER))
		cli_error(cmd, "table inet ifwall is owned by another process (netlink port id "
			  "%u, normally its pid), and it has no control socket here; stop it "
			  "or run this command where it runs", info.owner);
}

void cli_record_load(const char *file)
{
	struct runstate st = { .pid = 0 };
	char abs[PATH_MAX];

	snprintf(st.backend, sizeof(st.backend), "nft");
	snprintf(st.mode, sizeof(st.mode), "load");
	snprintf(st.rules, sizeof(st.rules), "%s", realpath(file, abs) ? abs : file);
	st.applied = (long long)time(NULL);
	(void)runstate_write(&st); /* status only; the load itself succeeded */
}
