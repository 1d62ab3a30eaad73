/* --ifaddr NAME=ADDR[,NAME=ADDR...], shared by query and replay: the
 * addresses interfaces hold, for '(IFSPEC)' criteria. ADDR may carry the
 * prefix length, ADDR/LEN, as 'ifwall interfaces' prints an address
 * (192.168.1.10/24): the length is checked and the address is what counts. */
#include <stdlib.h>
#include <string.h>

#include "filter/addr.h"
#include "filter/engine.h"
#include "tools/cli.h"

/* ADDR or ADDR/LEN, LEN from 0 to the family's length (host bits are
 * what an interface address has). Returns 0 or -1. */
static int parse_interface_address(const char *text, struct ifw_addr *addr)
{
	const char *slash = strchr(text, '/');
	char buf[64];
	unsigned long len;
	char *end;

	if (!slash)
		return ifw_addr_parse(text, addr) < 0 ? -1 : 0;
	if ((size_t)(slash - text) >= sizeof(buf))
		return -1;
	memcpy(buf, text, (size_t)(slash - text));
	buf[slash - text] = '\0';
	if (ifw_addr_parse(buf, addr) < 0)
		return -1;
	if (slash[1] < '0' || slash[1] > '9')
		return -1;
	len = strtoul(slash + 1, &end, 10);
	if (*end || len > (addr->family == 4 ? 32u : 128u))
		return -1;
	return 0;
}

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
		if (parse_interface_address(eq + 1, &addr) < 0) {
			cli_error(cmd, "--ifaddr: invalid address '%s' for %s (expected ADDR or ADDR/LEN)",
				  eq + 1, item);
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
