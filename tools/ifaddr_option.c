/* --ifaddr NAME=ADDR[,NAME=ADDR...], shared by query and replay: the
 * addresses interfaces hold, for '(IFSPEC)' criteria. */
#include <stdlib.h>
#include <string.h>

#include "filter/addr.h"
#include "filter/engine.h"
#include "tools/cli.h"

int cli_parse_ifaddrs(const char *cmd, const char *spec,
		      int (*add)(void *ctx, const char *name, const struct ifw_addr *addr),
		      void *ctx)
{
	char *copy = strdup(spec), *save = NULL;
	int rc = 0;

	if (!copy) {
		cli_error(cmd, "out of memory");
		return -1;
	}
	if (!*spec) {
		cli_error(cmd, "--ifaddr: expected NAME=ADDR[,NAME=ADDR...]");
		rc = -1;
	}
	for (char *item = strtok_r(copy, ",", &save); item && rc == 0;
	     item = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(item, '=');
		struct ifw_addr addr;
		if (!eq || eq == item || !eq[1] || (size_t)(eq - item) >= IFW_IFNAMSIZ) {
			cli_error(cmd, "--ifaddr: expected NAME=ADDR, got '%s'", item);
			rc = -1;
			break;
		}
		*eq = '\0';
		if (ifw_addr_parse(eq + 1, &addr) < 0) {
			cli_error(cmd, "--ifaddr: invalid address '%s' for %s", eq + 1, item);
			rc = -1;
			break;
		}
		if (add(ctx, item, &addr) < 0) {
			cli_error(cmd, "--ifaddr: cannot record %s=%s", item, eq + 1);
			rc = -1;
		}
	}
	free(copy);
	return rc;
}
