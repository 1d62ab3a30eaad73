/* ifwall status [--json]: what is enforced now and why. The kernel's table
 * is the truth; a running 'ifwall run' answers on its control socket;
 * RUNDIR/state says where a one-shot 'load' came from; the rule file gives
 * the tunnel interfaces and endpoints to look at. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "backends/control.h"
#include "backends/iftable.h"
#include "backends/nft.h"
#include "backends/nft_owner.h"
#include "backends/runstate.h"
#include "filter/engine.h"
#include "filter/json.h"
#include "rules/ruleset.h"
#include "tools/cli.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: %s status [--json]\n"
		"What ifwall enforces now and why: backend and mode (owned by a running\n"
		"'ifwall run', watching, orphaned after a run ended, an unprotected\n"
		"one-shot 'load', divert, tun), the rule file and when it was applied,\n"
		"the owning process, the defaults, the killswitch's tunnel interfaces\n"
		"(present, up, addresses) and endpoints, and the other firewall tables\n"
		"with base chains on ifwall's hooks (input, forward, output), whose drop\n"
		"is final whatever ifwall passes.\n"
		"  --json   one JSON document\n"
		"Exit: 0 something of ifwall's is enforced, 1 nothing is, 3 system error\n"
		"(not root).\n", prog);
}

struct status {
	bool enforced;
	char backend[16];
	char mode[16];         /* owned, watching, orphaned, unprotected, divert, tun, none */
	const char *mode_text;
	long pid;              /* resident process, 0 when none */
	char rules[PATH_MAX];
	long long applied;
	bool rules_changed;    /* the file is newer than the apply */
	struct nft_table_info table;
	struct nft_listing *listing;
	struct ruleset *rs;    /* the rule file, when readable */
	struct iftable *ifs;
	struct nft_foreign_chain *foreign;
	size_t nforeign;
	unsigned long restores;
};

struct control_status {
	bool answered;
	char mode[16];
	long pid;
	char rules[PATH_MAX];
	long long applied;
	unsigned long restores;
};

static void control_line(void *ctx, bool is_err, const char *text)
{
	struct control_status *cs = ctx;
	const char *sp = strchr(text, ' ');

	if (is_err || !sp)
		return;
	size_t klen = (size_t)(sp - text);
	const char *v = sp + 1;
	if (klen == 4 && !strncmp(text, "mode", 4))
		snprintf(cs->mode, sizeof(cs->mode), "%s", v);
	else if (klen == 3 && !strncmp(text, "pid", 3))
		cs->pid = strtol(v, NULL, 10);
	else if (klen == 5 && !strncmp(text, "rules", 5))
		snprintf(cs->rules, sizeof(cs->rules), "%s", v);
	else if (klen == 7 && !strncmp(text, "applied", 7))
		cs->applied = strtoll(v, NULL, 10);
	else if (klen == 8 && !strncmp(text, "restores", 8))
		cs->restores = strtoul(v, NULL, 10);
}

static bool ask(const char *backend, struct control_status *cs)
{
	char *argv[] = { "status" };
	int code = 0;

	memset(cs, 0, sizeof(*cs));
	if (control_call(backend, 1, argv, control_line, cs, &code, NULL) == 0 && code == 0)
		cs->answered = true;
	return cs->answered;
}

static bool ping(const char *backend, long *pid)
{
	char *argv[] = { "ping" };
	int code = 0;
	pid_t p = 0;

	if (control_call(backend, 1, argv, NULL, NULL, &code, &p) == 0 && code == 0) {
		*pid = p;
		return true;
	}
	return false;
}

static void decide_mode(struct status *s)
{
	struct control_status cs;
	struct runstate st;
	bool have_state = runstate_read(&st) == 0;

	snprintf(s->mode, sizeof(s->mode), "none");
	s->mode_text = "nothing of ifwall's is enforced";
	if (s->table.present) {
		s->enforced = true;
		snprintf(s->backend, sizeof(s->backend), "nft");
		if (ask("nft", &cs)) {
			snprintf(s->mode, sizeof(s->mode), "%s", cs.mode);
			s->pid = cs.pid;
			snprintf(s->rules, sizeof(s->rules), "%s", cs.rules);
			s->applied = cs.applied;
			s->restores = cs.restores;
			s->mode_text = !strcmp(cs.mode, "owned")
				? "owned by ifwall run (table flags owner, persist): no other process "
				  "can change or delete it"
				: "held by ifwall run, not owned: it restores the table within "
				  "milliseconds of a change by another process";
			return;
		}
		if (have_state && !strcmp(st.backend, "nft")) {
			snprintf(s->rules, sizeof(s->rules), "%s", st.rules);
			s->applied = st.applied;
		}
		if (s->table.flags & NFT_TABLE_F_OWNER) {
			snprintf(s->mode, sizeof(s->mode), "owned");
			s->pid = (long)s->table.owner; /* port id: normally the pid */
			s->mode_text = "owned by another process (the owner's netlink port id is "
				       "shown as its pid), whose control socket does not answer here";
		} else if ((s->table.flags & NFT_TABLE_F_PERSIST) &&
			   !(have_state && !strcmp(st.mode, "load"))) {
			snprintf(s->mode, sizeof(s->mode), "orphaned");
			s->mode_text = "left in place by an ifwall run that ended (fail closed); "
				       "not protected until the next 'ifwall run' adopts it";
		} else {
			snprintf(s->mode, sizeof(s->mode), "unprotected");
			s->mode_text = "one-shot 'ifwall load': enforced, but another program "
				       "(nft flush ruleset, a firewall manager) can remove it";
		}
		return;
	}
	if (ping("divert", &s->pid)) {
		s->enforced = true;
		snprintf(s->backend, sizeof(s->backend), "divert");
		snprintf(s->mode, sizeof(s->mode), "divert");
		s->mode_text = "ifwall run --backend divert decides new flows in userspace";
	} else if (ping("tun", &s->pid)) {
		s->enforced = true;
		snprintf(s->backend, sizeof(s->backend), "tun");
		snprintf(s->mode, sizeof(s->mode), "tun");
		s->mode_text = "ifwall run --backend tun is the only path of its client namespace";
	}
	if (s->enforced && have_state && !strcmp(st.backend, s->backend)) {
		snprintf(s->rules, sizeof(s->rules), "%s", st.rules);
		s->applied = st.applied;
	}
}

static void read_rules(struct status *s)
{
	struct diag_list diags = { 0 };
	struct stat sb;

	if (!s->rules[0])
		return;
	if (stat(s->rules, &sb) == 0 && s->applied && (long long)sb.st_mtime > s->applied)
		s->rules_changed = true;
	s->rs = ruleset_from_file(s->rules, &diags);
	diag_list_clear(&diags);
}

/* "wg0", "{ wg* type tunnel }" */
static void ifspec_text(const struct ifmatch *m, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	if (m->negate)
		len += (size_t)snprintf(buf + len, size - len, "!");
	if (m->count > 1 && len < size)
		len += (size_t)snprintf(buf + len, size - len, "{ ");
	for (size_t i = 0; i < m->count && len < size; i++) {
		const struct ifitem *it = &m->items[i];
		if (it->kind == IFITEM_TYPE)
			len += (size_t)snprintf(buf + len, size - len, "type %s ", iftype_name(it->type));
		else
			len += (size_t)snprintf(buf + len, size - len, "%.*s%s ", IFW_IFNAMSIZ,
						it->name, it->kind == IFITEM_PREFIX ? "*" : "");
	}
	if (m->count > 1 && len < size)
		len += (size_t)snprintf(buf + len, size - len, "}");
	else if (len && len < size && buf[len - 1] == ' ')
		buf[--len] = '\0';
}

static const char *addr_text(const struct iftable_addr *a, char *buf, size_t size)
{
	char text[INET6_ADDRSTRLEN];

	inet_ntop(a->addr.family == 4 ? AF_INET : AF_INET6, a->addr.a, text, sizeof(text));
	snprintf(buf, size, "%s/%u", text, a->prefix_len);
	return buf;
}

static const char *default_verdict(const struct status *s, enum nft_entry_kind kind)
{
	if (!s->listing)
		return NULL;
	for (size_t i = 0; i < s->listing->nentries; i++)
		if (s->listing->entries[i].kind == kind)
			return s->listing->entries[i].verdict;
	return NULL;
}

static bool can_block(const struct nft_foreign_chain *c)
{
	return c->policy_drop || c->table_drop_rules > 0;
}

static void endpoint_text(const struct killswitch_endpoint *e, char *buf, size_t size)
{
	snprintf(buf, size, "%s%s%s%s", e->addrs, e->ports ? e->ports : "",
		 e->proto == IPPROTO_UDP ? " proto udp" : e->proto == IPPROTO_TCP ? " proto tcp" : "",
		 e->has_mark ? " (mark)" : e->has_user ? " (user)" : "");
}

static void time_text(long long t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!t || !localtime_r(&tt, &tm)) {
		snprintf(buf, size, "unknown");
		return;
	}
	strftime(buf, size, "%Y-%m-%d %H:%M:%S %z", &tm);
}

static void print_text(const struct status *s)
{
	char buf[512];

	printf("enforced:  %s\n", s->enforced ? "yes" : "no");
	printf("backend:   %s\n", s->backend[0] ? s->backend : "-");
	printf("mode:      %s: %s\n", s->mode, s->mode_text);
	if (s->pid)
		printf("process:   pid %ld\n", s->pid);
	if (s->table.present)
		printf("table:     inet %s, %zu chains, %zu kernel rules, %zu sets%s%s\n", NFT_TABLE,
		       s->table.chains, s->table.rules, s->table.sets,
		       s->table.flags & NFT_TABLE_F_OWNER ? ", flags owner" : "",
		       s->table.flags & NFT_TABLE_F_PERSIST ? (s->table.flags & NFT_TABLE_F_OWNER
							       ? ",persist" : ", flags persist") : "");
	if (s->restores)
		printf("restores:  %lu (changes by other processes undone)\n", s->restores);
	if (s->rules[0]) {
		time_text(s->applied, buf, sizeof(buf));
		printf("rules:     %s, applied %s%s\n", s->rules, buf,
		       s->rules_changed ? " (the file changed since; reload to apply it)" : "");
	}
	const char *din = default_verdict(s, NFT_ENTRY_DEFAULT_IN);
	const char *dout = default_verdict(s, NFT_ENTRY_DEFAULT_OUT);
	if (din || dout)
		printf("defaults:  in %s, out %s\n", din ? din : "?", dout ? dout : "?");
	if (s->rs && s->rs->killswitch) {
		const struct killswitch *ks = s->rs->killswitch;
		bool any = false;
		ifspec_text(&ks->tunnel, buf, sizeof(buf));
		printf("tunnel:    %s\n", buf);
		for (size_t i = 0; s->ifs && i < iftable_count(s->ifs); i++) {
			const struct iftable_interface *ifc = iftable_at(s->ifs, i);
			if (!ifmatch_matches(&ks->tunnel, ifc->name, ifc->type))
				continue;
			any = true;
			printf("  %-12s %s", ifc->name, ifc->flags & IFF_UP ? "up" : "down");
			for (size_t j = 0; j < ifc->naddrs; j++)
				printf(" %s", addr_text(&ifc->addrs[j], buf, sizeof(buf)));
			putchar('\n');
		}
		if (!any)
			printf("  no such interface: only the exceptions pass (endpoints, lan, dhcp)\n");
		for (size_t i = 0; i < ks->nendpoints; i++) {
			endpoint_text(&ks->endpoints[i], buf, sizeof(buf));
			printf("endpoint:  %s\n", buf);
		}
	}
	size_t blocking = 0;
	for (size_t i = 0; i < s->nforeign; i++)
		blocking += can_block(&s->foreign[i]);
	if (s->nforeign) {
		printf("other tables on ifwall's hooks (nftables: a drop in any table is final, "
		       "an accept in ifwall's table does not override it):\n");
		for (size_t i = 0; i < s->nforeign; i++) {
			const struct nft_foreign_chain *c = &s->foreign[i];
			printf("  %s %s: chain %s (hook %s, type %s, priority %" PRId32 ", policy %s)",
			       c->family, c->table, c->chain, c->hook, c->type, c->priority,
			       c->policy_drop ? "drop" : "accept");
			if (c->table_drop_rules)
				printf("; %zu rule%s of the table can drop", c->table_drop_rules,
				       c->table_drop_rules == 1 ? "" : "s");
			printf("%s\n", can_block(c) ? ": can block what ifwall passes" : "");
		}
	} else {
		printf("other tables on ifwall's hooks: none\n");
	}
}

static void print_json(const struct status *s)
{
	char buf[512];

	printf("{\"enforced\":%s,\"backend\":", s->enforced ? "true" : "false");
	json_string(stdout, s->backend[0] ? s->backend : NULL);
	printf(",\"mode\":");
	json_string(stdout, s->mode);
	printf(",\"description\":");
	json_string(stdout, s->mode_text);
	printf(",\"pid\":");
	if (s->pid)
		printf("%ld", s->pid);
	else
		printf("null");
	printf(",\"table\":{\"present\":%s,\"flags\":[%s%s%s],\"chains\":%zu,\"kernel_rules\":%zu,"
	       "\"sets\":%zu}", s->table.present ? "true" : "false",
	       s->table.flags & NFT_TABLE_F_OWNER ? "\"owner\"" : "",
	       (s->table.flags & NFT_TABLE_F_OWNER) && (s->table.flags & NFT_TABLE_F_PERSIST) ? "," : "",
	       s->table.flags & NFT_TABLE_F_PERSIST ? "\"persist\"" : "",
	       s->table.chains, s->table.rules, s->table.sets);
	printf(",\"restores\":%lu,\"rules\":", s->restores);
	json_string(stdout, s->rules[0] ? s->rules : NULL);
	printf(",\"applied\":");
	if (s->applied) {
		time_text(s->applied, buf, sizeof(buf));
		printf("%lld,\"applied_text\":", s->applied);
		json_string(stdout, buf);
	} else {
		printf("null,\"applied_text\":null");
	}
	printf(",\"rules_changed\":%s,\"defaults\":{\"in\":", s->rules_changed ? "true" : "false");
	json_string(stdout, default_verdict(s, NFT_ENTRY_DEFAULT_IN));
	printf(",\"out\":");
	json_string(stdout, default_verdict(s, NFT_ENTRY_DEFAULT_OUT));
	printf("},\"tunnel\":");
	const struct killswitch *ks = s->rs ? s->rs->killswitch : NULL;
	if (ks) {
		ifspec_text(&ks->tunnel, buf, sizeof(buf));
		json_string(stdout, buf);
	} else {
		printf("null");
	}
	printf(",\"tunnels\":[");
	bool first = true;
	for (size_t i = 0; ks && s->ifs && i < iftable_count(s->ifs); i++) {
		const struct iftable_interface *ifc = iftable_at(s->ifs, i);
		if (!ifmatch_matches(&ks->tunnel, ifc->name, ifc->type))
			continue;
		printf("%s{\"name\":", first ? "" : ",");
		first = false;
		json_string(stdout, ifc->name);
		printf(",\"up\":%s,\"addresses\":[", ifc->flags & IFF_UP ? "true" : "false");
		for (size_t j = 0; j < ifc->naddrs; j++) {
			if (j)
				putchar(',');
			json_string(stdout, addr_text(&ifc->addrs[j], buf, sizeof(buf)));
		}
		printf("]}");
	}
	printf("],\"endpoints\":[");
	for (size_t i = 0; ks && i < ks->nendpoints; i++) {
		if (i)
			putchar(',');
		endpoint_text(&ks->endpoints[i], buf, sizeof(buf));
		json_string(stdout, buf);
	}
	printf("],\"other_tables\":[");
	for (size_t i = 0; i < s->nforeign; i++) {
		const struct nft_foreign_chain *c = &s->foreign[i];
		printf("%s{\"family\":", i ? "," : "");
		json_string(stdout, c->family);
		printf(",\"table\":");
		json_string(stdout, c->table);
		printf(",\"chain\":");
		json_string(stdout, c->chain);
		printf(",\"hook\":");
		json_string(stdout, c->hook);
		printf(",\"type\":");
		json_string(stdout, c->type);
		printf(",\"priority\":%" PRId32 ",\"policy\":\"%s\",\"drop_rules\":%zu,"
		       "\"can_block\":%s}", c->priority, c->policy_drop ? "drop" : "accept",
		       c->table_drop_rules, can_block(c) ? "true" : "false");
	}
	printf("]}\n");
}

int cmd_status(int argc, char **argv)
{
	struct status s = { 0 };
	struct nft_error err;
	bool json = false;
	int rc = cli_parse_json_only("status", argc, argv, usage, &json);

	if (rc >= 0)
		return rc;
	if ((rc = nft_table_info_read(&s.table, &err)) < 0) {
		cli_error("status", "%s", err.message);
		if (rc == -EPERM || rc == -EACCES)
			cli_error("status", "reading nftables needs root (CAP_NET_ADMIN)");
		return EXIT_SYSTEM;
	}
	if (s.table.present)
		(void)nft_listing_read(&s.listing, NULL);
	decide_mode(&s);
	read_rules(&s);
	(void)iftable_open(&s.ifs, 0);
	(void)nft_foreign_chains_read(&s.foreign, &s.nforeign, NULL);
	if (json)
		print_json(&s);
	else
		print_text(&s);
	int code = s.enforced ? EXIT_OK : EXIT_FOUND;
	nft_listing_free(s.listing);
	ruleset_free(s.rs);
	iftable_free(s.ifs);
	free(s.foreign);
	return code;
}
