/* ifwall interfaces [--json]: the interface table as the live backends see
 * it (index, name, type, flags, addresses). */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "backends/iftable.h"
#include "filter/json.h"
#include "tools/cli.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: %s interfaces [--json]\n"
		"Lists the interfaces of this network namespace: index, name, type\n"
		"(loopback, tunnel, ether, as rules see it), flags and addresses.\n"
		"  --json   one JSON array of {index, name, type, kind, flags, addresses}\n",
		prog);
}

/* "10.0.0.2/24", "fd00::1/64" */
static const char *format_addr(const struct iftable_addr *a, char *buf, size_t size)
{
	char text[INET6_ADDRSTRLEN];

	inet_ntop(a->addr.family == 4 ? AF_INET : AF_INET6, a->addr.a, text, sizeof(text));
	snprintf(buf, size, "%s/%u", text, a->prefix_len);
	return buf;
}

static void print_text(const struct iftable *t)
{
	char flags[256], addr[64];

	printf("%-5s %-16s %-9s %-40s %s\n", "INDEX", "NAME", "TYPE", "FLAGS", "ADDRESSES");
	for (size_t i = 0; i < iftable_count(t); i++) {
		const struct iftable_interface *ifc = iftable_at(t, i);
		printf("%-5d %-16s %-9s %-*s", ifc->index, ifc->name,
		       iftype_name(ifc->type), ifc->naddrs ? 40 : 0,
		       iftable_flags_format(ifc->flags, ",", flags, sizeof(flags)));
		for (size_t j = 0; j < ifc->naddrs; j++)
			printf(" %s", format_addr(&ifc->addrs[j], addr, sizeof(addr)));
		putchar('\n');
	}
}

static void print_json(const struct iftable *t)
{
	char flags[256], addr[64];

	putchar('[');
	for (size_t i = 0; i < iftable_count(t); i++) {
		const struct iftable_interface *ifc = iftable_at(t, i);
		printf("%s{\"index\":%d,\"name\":", i ? "," : "", ifc->index);
		json_string(stdout, ifc->name);
		printf(",\"type\":");
		json_string(stdout, iftype_name(ifc->type));
		printf(",\"kind\":");
		json_string(stdout, ifc->kind[0] ? ifc->kind : NULL);
		printf(",\"flags\":[");
		iftable_flags_format(ifc->flags, " ", flags, sizeof(flags));
		char *save = NULL;
		int n = 0;
		for (char *f = strtok_r(flags, " ", &save); f; f = strtok_r(NULL, " ", &save))
			printf("%s\"%s\"", n++ ? "," : "", f);
		printf("],\"addresses\":[");
		for (size_t j = 0; j < ifc->naddrs; j++) {
			printf("%s", j ? "," : "");
			json_string(stdout, format_addr(&ifc->addrs[j], addr, sizeof(addr)));
		}
		printf("]}");
	}
	printf("]\n");
}

int cmd_interfaces(int argc, char **argv)
{
	bool json = false;
	struct iftable *t;

	int status = cli_parse_json_only("interfaces", argc, argv, usage, &json);
	if (status >= 0)
		return status;
	int r = iftable_open(&t, 0);
	if (r < 0) {
		cli_error("interfaces", "reading interfaces with rtnetlink: %s", strerror(-r));
		return EXIT_SYSTEM;
	}
	if (json)
		print_json(t);
	else
		print_text(t);
	iftable_free(t);
	return fflush(stdout) == 0 ? EXIT_OK : EXIT_SYSTEM;
}
