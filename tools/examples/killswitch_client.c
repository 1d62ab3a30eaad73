/* killswitch_client: how a VPN client drives ifwall's kill switch through
 * libifwall (ifwall-killswitch(7), "For VPN client authors"). The rule file
 * never changes; the client only changes its endpoint table:
 *
 *   blocked      the rule file loaded, the table empty: nothing leaves but
 *                what the preset always allows
 *   connecting   table = the candidate servers: the handshake may leave
 *   connected    table = the server in use; everything else through the
 *                tunnel
 *   down         table emptied, the switch still on: blocked again
 *
 *   killswitch_client RULES TABLE SERVER1 SERVER2 PORT        (in memory)
 *   killswitch_client --nft RULES TABLE SERVER1 SERVER2 PORT  (the kernel;
 *                                                              root)
 *
 * In memory, each state is a new rule set (ifw_ruleset_table_change); a
 * client's own packet loop would swap it in and re-check its flows. With
 * --nft the rule file is loaded into the kernel once (ifw_nft_apply) and
 * each transition is one ifw_nft_table_change transaction. After each
 * transition it prints the state, the table and what a UDP packet to each
 * server on PORT would meet. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ifwall.h>

struct client {
	int nft;
	struct ifw_ruleset *rs;  /* the current rule set (in memory) */
	const char *table;
	const char *servers[2];
	const char *port;
};

static const char *verdict_towards(struct client *c, const char *server)
{
	char desc[200];
	struct ifw_decision d;

	if (c->nft) {
		/* the kernel: is the server in the table the endpoint rule names? */
		int absent = ifw_nft_table_test(c->table, &server, 1, NULL);
		return absent < 0 ? "error" : absent ? "blocked" : "allowed";
	}
	snprintf(desc, sizeof(desc), "out on eth0 udp %s%s%s:40000 > %s%s%s:%s",
		 strchr(server, ':') ? "[" : "", strchr(server, ':') ? "::1" : "192.168.1.2",
		 strchr(server, ':') ? "]" : "", strchr(server, ':') ? "[" : "", server,
		 strchr(server, ':') ? "]" : "", c->port);
	if (ifw_decide_description(c->rs, desc, &d) < 0)
		return "error";
	return d.verdict == IFW_PASS ? "allowed" : "blocked";
}

static int report(struct client *c, const char *state)
{
	char *text = NULL;
	int n = c->nft ? ifw_nft_table_show(c->table, &text, NULL)
		       : ifw_ruleset_table_show(c->rs, c->table, &text);

	if (n < 0) {
		fprintf(stderr, "table <%s>: %s\n", c->table, strerror(-n));
		return -1;
	}
	for (char *p = text; *p; p++)
		if (*p == '\n')
			*p = ' ';
	printf("%-10s table <%s> = { %s}  %s: %s  %s: %s\n", state, c->table, text,
	       c->servers[0], verdict_towards(c, c->servers[0]),
	       c->servers[1], verdict_towards(c, c->servers[1]));
	free(text);
	return 0;
}

/* One transition: the table becomes addrs (op REPLACE) or empty (FLUSH). */
static int transition(struct client *c, const char *state, int op,
		      const char *const *addrs, size_t n)
{
	if (c->nft) {
		struct ifw_error err;
		if (ifw_nft_table_change(c->table, op, addrs, n, &err) < 0) {
			fprintf(stderr, "%s: %s\n", state, err.message);
			return -1;
		}
	} else {
		struct ifw_ruleset *next = NULL;
		int rc = ifw_ruleset_table_change(c->rs, c->table, op, addrs, n, &next);
		if (rc < 0) {
			fprintf(stderr, "%s: %s\n", state, strerror(-rc));
			return -1;
		}
		/* a packet loop swaps here, then ifw_flow_table_recheck() */
		ifw_ruleset_free(c->rs);
		c->rs = next;
	}
	return report(c, state);
}

int main(int argc, char **argv)
{
	struct client c = { 0 };
	struct ifw_diags *diags = NULL;
	int arg = 1, rc;

	if (argc > 1 && !strcmp(argv[1], "--nft")) {
		c.nft = 1;
		arg++;
	}
	if (argc - arg != 5) {
		fprintf(stderr, "usage: %s [--nft] RULES TABLE SERVER1 SERVER2 PORT\n", argv[0]);
		return 2;
	}
	c.table = argv[arg + 1];
	c.servers[0] = argv[arg + 2];
	c.servers[1] = argv[arg + 3];
	c.port = argv[arg + 4];
	rc = ifw_ruleset_from_file(argv[arg], &c.rs, &diags);
	if (rc < 0) {
		char *text = NULL;
		ifw_diags_format(diags, IFW_FORMAT_TEXT, &text);
		fprintf(stderr, "%s", text ? text : "cannot read the rules\n");
		free(text);
		ifw_diags_free(diags);
		return 2;
	}
	ifw_diags_free(diags);
	if (c.nft) {
		struct ifw_error err;
		/* boot: the rule file, once; its table is empty: blocked */
		if (ifw_nft_apply(c.rs, &err) < 0) {
			fprintf(stderr, "load: %s\n", err.message);
			ifw_ruleset_free(c.rs);
			return 3;
		}
	}
	rc = report(&c, "blocked") ||
	     transition(&c, "connecting", IFW_TABLE_REPLACE, c.servers, 2) ||
	     transition(&c, "connected", IFW_TABLE_REPLACE, &c.servers[0], 1) ||
	     transition(&c, "moving", IFW_TABLE_REPLACE, c.servers, 2) ||
	     transition(&c, "connected", IFW_TABLE_REPLACE, &c.servers[1], 1) ||
	     transition(&c, "down", IFW_TABLE_FLUSH, NULL, 0);
	ifw_ruleset_free(c.rs);
	return rc ? 3 : 0;
}
