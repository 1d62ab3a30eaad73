/* libifwall: the public API of tools/lib/ifwall.h on top of the internal one
 * (rules/ruleset.h, filter/engine.h, backends/). Only this file's ifw_*
 * functions are exported from libifwall.so (tools/libifwall.map). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backends/backend.h"
#include "backends/control.h"
#include "backends/divert.h"
#include "backends/nft.h"
#include "backends/nft_table.h"
#include "backends/tun.h"
#include "filter/engine.h"
#include "tools/lib/ifwall.h"
#include "filter/pktdesc.h"
#include "rules/ruleset.h"

struct ifw_ruleset {
	struct ruleset *rs;
};

struct ifw_diags {
	struct diag_list list;
	struct ifw_diag *items; /* views of list.items, same order */
};

struct ifw_flow_table {
	struct flow_table *ft;
};

const char *ifw_version(void)
{
	return "0.1.0";
}

const char *ifw_verdict_name(int verdict)
{
	switch (verdict) {
	case IFW_PASS: return "pass";
	case IFW_BLOCK: return "block";
	case IFW_REJECT: return "reject";
	}
	return NULL;
}

/* --- diagnostics --------------------------------------------------------- */

size_t ifw_diags_count(const struct ifw_diags *diags)
{
	return diags ? diags->list.count : 0;
}

size_t ifw_diags_errors(const struct ifw_diags *diags)
{
	return diags ? diags->list.errors : 0;
}

size_t ifw_diags_warnings(const struct ifw_diags *diags)
{
	return diags ? diags->list.warnings : 0;
}

const struct ifw_diag *ifw_diags_get(const struct ifw_diags *diags, size_t i)
{
	if (!diags || i >= diags->list.count)
		return NULL;
	return &diags->items[i];
}

static int severity_public(enum diag_severity s)
{
	switch (s) {
	case DIAG_ERROR: return IFW_SEVERITY_ERROR;
	case DIAG_WARNING: return IFW_SEVERITY_WARNING;
	case DIAG_NOTE: return IFW_SEVERITY_NOTE;
	}
	return IFW_SEVERITY_ERROR;
}

/* Takes over the contents of list (left empty) into a new ifw_diags. */
static struct ifw_diags *diags_wrap(struct diag_list *list)
{
	struct ifw_diags *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	if (list->count) {
		d->items = calloc(list->count, sizeof(*d->items));
		if (!d->items) {
			free(d);
			return NULL;
		}
	}
	d->list = *list;
	memset(list, 0, sizeof(*list));
	for (size_t i = 0; i < d->list.count; i++) {
		const struct diag *src = &d->list.items[i];
		struct ifw_diag *dst = &d->items[i];

		dst->severity = severity_public(src->severity);
		dst->file = src->file;
		dst->line = src->line;
		dst->col = src->col;
		dst->span = src->span > 0 ? src->span : 1;
		dst->message = src->message;
		dst->source_line = src->source_line;
	}
	return d;
}

void ifw_diags_free(struct ifw_diags *diags)
{
	if (!diags)
		return;
	diag_list_clear(&diags->list);
	free(diags->items);
	free(diags);
}

/* Runs print(out, arg) into a new malloc'd string. Returns its length or
 * -ENOMEM; *text is NULL on error. */
static int format_to_string(void (*print)(FILE *, const void *), const void *arg,
			    char **text)
{
	size_t size = 0;
	FILE *out;

	*text = NULL;
	out = open_memstream(text, &size);
	if (!out)
		return -ENOMEM;
	print(out, arg);
	if (ferror(out)) {
		fclose(out);
		free(*text);
		*text = NULL;
		return -ENOMEM;
	}
	if (fclose(out) != 0 || !*text) {
		free(*text);
		*text = NULL;
		return -ENOMEM;
	}
	if (size > (size_t)0x7fffffff) {
		free(*text);
		*text = NULL;
		return -EOVERFLOW;
	}
	return (int)size;
}

static void print_diags_text(FILE *out, const void *arg)
{
	diag_list_print(out, arg);
}

static void print_diags_json(FILE *out, const void *arg)
{
	diag_list_print_json(out, arg);
}

int ifw_diags_format(const struct ifw_diags *diags, int format, char **text)
{
	static const struct diag_list empty;
	const struct diag_list *list = diags ? &diags->list : &empty;

	if (!text)
		return -EINVAL;
	*text = NULL;
	switch (format) {
	case IFW_FORMAT_TEXT:
		return format_to_string(print_diags_text, list, text);
	case IFW_FORMAT_JSON:
		return format_to_string(print_diags_json, list, text);
	}
	return -EINVAL;
}

/* --- rule sets ----------------------------------------------------------- */

/* The parser resolves user names with getpwnam() and may keep other
 * non-reentrant state: parses are serialised so callers need not care. */
static pthread_mutex_t parse_lock = PTHREAD_MUTEX_INITIALIZER;

/* Common tail of the two constructors. parsed is the parser's result,
 * open_error a -errno found before parsing (0: none). */
static int ruleset_finish(struct ruleset *parsed, int open_error,
			  struct diag_list *list, struct ifw_ruleset **rs,
			  struct ifw_diags **diags)
{
	struct ifw_ruleset *wrapped = NULL;
	int err = 0;

	if (parsed) {
		wrapped = calloc(1, sizeof(*wrapped));
		if (!wrapped) {
			ruleset_free(parsed);
			err = -ENOMEM;
		} else {
			wrapped->rs = parsed;
		}
	} else if (open_error) {
		err = open_error;
	} else {
		err = list->errors ? -EINVAL : -ENOMEM;
	}
	if (diags) {
		*diags = diags_wrap(list);
		if (!*diags) {
			ifw_ruleset_free(wrapped);
			wrapped = NULL;
			err = -ENOMEM;
		}
	}
	diag_list_clear(list);
	*rs = wrapped;
	return err;
}

int ifw_ruleset_from_file(const char *path, struct ifw_ruleset **rs,
			  struct ifw_diags **diags)
{
	struct diag_list list = { 0 };
	struct ruleset *parsed;

	if (diags)
		*diags = NULL;
	if (!rs)
		return -EFAULT;
	*rs = NULL;
	if (!path)
		return -EFAULT;
	pthread_mutex_lock(&parse_lock);
	parsed = ruleset_from_file(path, &list);
	pthread_mutex_unlock(&parse_lock);
	/* An unreadable file (the rule file, an include, a table file) gives
	 * its errno, so the caller can tell ENOENT from EACCES. */
	int sys = diag_list_sys_errno(&list);
	return ruleset_finish(parsed, parsed || !sys ? 0 : -sys, &list, rs, diags);
}

int ifw_ruleset_from_string(const char *name, const char *text, size_t len,
			    struct ifw_ruleset **rs, struct ifw_diags **diags)
{
	struct diag_list list = { 0 };
	struct ruleset *parsed;

	if (diags)
		*diags = NULL;
	if (!rs)
		return -EFAULT;
	*rs = NULL;
	if (!name || (!text && len))
		return -EFAULT;
	pthread_mutex_lock(&parse_lock);
	parsed = ruleset_from_string(name, text ? text : "", len, &list);
	pthread_mutex_unlock(&parse_lock);
	return ruleset_finish(parsed, 0, &list, rs, diags);
}

void ifw_ruleset_free(struct ifw_ruleset *rs)
{
	if (!rs)
		return;
	ruleset_free(rs->rs);
	free(rs);
}

size_t ifw_ruleset_rule_count(const struct ifw_ruleset *rs)
{
	return rs ? rs->rs->nrules : 0;
}

static void print_rules(FILE *out, const void *arg)
{
	ruleset_print(out, arg, false);
}

static void print_rules_expanded(FILE *out, const void *arg)
{
	ruleset_print(out, arg, true);
}

int ifw_ruleset_format(const struct ifw_ruleset *rs, int flags, char **text)
{
	if (!text)
		return -EINVAL;
	*text = NULL;
	if (!rs || (flags & ~IFW_FORMAT_EXPAND))
		return -EINVAL;
	return format_to_string(flags & IFW_FORMAT_EXPAND ? print_rules_expanded : print_rules,
				rs->rs, text);
}

/* --- deciding ------------------------------------------------------------ */

/* Decodes a raw packet and fills the context a TUN loop knows. */
static int packet_from_raw(const void *data, size_t len, int dir,
			   const char *ifname, struct packet *p)
{
	size_t namelen;

	if (dir != IFW_IN && dir != IFW_OUT)
		return -EINVAL;
	if (!ifname)
		return -EINVAL;
	namelen = strlen(ifname);
	if (namelen == 0 || namelen >= IFW_IFNAMSIZ)
		return -EINVAL;
	memset(p, 0, sizeof(*p));
	switch (packet_decode(data, len, p)) {
	case DECODE_OK:
		break;
	case DECODE_NOT_IP:
		return -EPROTONOSUPPORT;
	case DECODE_TRUNCATED:
	case DECODE_MALFORMED:
	default:
		return -EBADMSG;
	}
	p->dir = dir == IFW_IN ? DIR_IN : DIR_OUT;
	memcpy(p->ifname, ifname, namelen + 1);
	p->iftype = iftype_from_name(ifname);
	return 0;
}

static void decision_public(const struct decision *d, struct ifw_decision *out)
{
	memset(out, 0, sizeof(*out));
	switch (d->verdict) {
	case VERDICT_PASS: out->verdict = IFW_PASS; break;
	case VERDICT_BLOCK: out->verdict = IFW_BLOCK; break;
	case VERDICT_REJECT: out->verdict = IFW_REJECT; break;
	}
	out->skipped = d->skipped;
	out->rule = -1;
	if (d->rule) {
		out->rule = (int)d->rule->index;
		out->file = d->rule->file;
		out->line = d->rule->line;
		out->text = d->rule->text;
	}
}

int ifw_decide(const struct ifw_ruleset *rs, const void *packet, size_t len,
	       int dir, const char *ifname, struct ifw_decision *out)
{
	struct packet p;
	struct decision d;
	int err;

	if (!rs || !packet || !out)
		return -EFAULT;
	err = packet_from_raw(packet, len, dir, ifname, &p);
	if (err)
		return err;
	d = ruleset_decide(rs->rs, &p);
	decision_public(&d, out);
	return 0;
}

int ifw_decide_description(const struct ifw_ruleset *rs,
			   const char *description, struct ifw_decision *out)
{
	struct packet p;
	struct decision d;

	if (!rs || !description || !out)
		return -EFAULT;
	memset(&p, 0, sizeof(p));
	if (pktdesc_parse(description, &p, NULL) < 0)
		return -EINVAL;
	d = ruleset_decide(rs->rs, &p);
	decision_public(&d, out);
	return 0;
}

/* --- flow tables --------------------------------------------------------- */

int ifw_flow_table_new(size_t max_flows, struct ifw_flow_table **ft)
{
	struct flow_limits limits = { .max_flows = max_flows };
	struct ifw_flow_table *t;

	if (!ft)
		return -EFAULT;
	*ft = NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->ft = flow_table_new(&limits);
	if (!t->ft) {
		free(t);
		return -ENOMEM;
	}
	*ft = t;
	return 0;
}

void ifw_flow_table_free(struct ifw_flow_table *ft)
{
	if (!ft)
		return;
	flow_table_free(ft->ft);
	free(ft);
}

static uint64_t monotonic_ns(uint64_t now_ns)
{
	struct timespec ts;

	if (now_ns)
		return now_ns;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int ifw_flow_table_packet(struct ifw_flow_table *ft,
			  const struct ifw_ruleset *rs, const void *packet,
			  size_t len, int dir, const char *ifname,
			  uint64_t now_ns, struct ifw_decision *out)
{
	struct packet p;
	struct decision d;
	int err;

	if (!ft || !rs || !packet || !out)
		return -EFAULT;
	err = packet_from_raw(packet, len, dir, ifname, &p);
	if (err)
		return err;
	d = flow_table_packet(ft->ft, rs->rs, &p, monotonic_ns(now_ns), NULL);
	decision_public(&d, out);
	return 0;
}

int ifw_flow_table_recheck(struct ifw_flow_table *ft,
			   const struct ifw_ruleset *rs)
{
	size_t changed;

	if (!ft || !rs)
		return -EFAULT;
	changed = flow_table_recheck(ft->ft, rs->rs);
	return changed > 0x7fffffff ? 0x7fffffff : (int)changed;
}

int ifw_flow_table_expire(struct ifw_flow_table *ft, uint64_t now_ns)
{
	size_t n;

	if (!ft)
		return -EFAULT;
	n = flow_table_expire(ft->ft, monotonic_ns(now_ns));
	return n > 0x7fffffff ? 0x7fffffff : (int)n;
}

size_t ifw_flow_table_count(const struct ifw_flow_table *ft)
{
	return ft ? flow_table_count(ft->ft) : 0;
}

/* --- nftables ------------------------------------------------------------ */

static void error_clear(struct ifw_error *err)
{
	if (err)
		memset(err, 0, sizeof(*err));
}

/* Fills the public error from a backend's (nft, divert, tun: one type)
 * and returns code. */
static int error_from_backend(struct ifw_error *err, const struct backend_error *e, int code)
{
	if (!err)
		return code;
	err->code = code;
	err->file = e->file;
	err->line = e->line;
	snprintf(err->message, sizeof(err->message), "%s",
		 e->message[0] ? e->message : strerror(code < 0 ? -code : code));
	return code;
}

static int error_set(struct ifw_error *err, int code, const char *message)
{
	if (err) {
		err->code = code;
		snprintf(err->message, sizeof(err->message), "%s", message);
	}
	return code;
}

int ifw_nft_apply(const struct ifw_ruleset *rs, struct ifw_error *err)
{
	struct backend_error e = { 0 };
	struct nft_plan *plan = NULL;
	int ret;

	error_clear(err);
	if (!rs)
		return error_set(err, -EFAULT, "no rule set");
	ret = nft_plan_build(rs->rs, &plan, &e);
	if (ret == 0 && (ret = nft_plan_read_ifaddrs(plan, NULL)) < 0)
		snprintf(e.message, sizeof(e.message), "cannot read the interfaces' "
			 "addresses for '(IFSPEC)': %s", strerror(-ret));
	if (ret == 0)
		ret = nft_plan_load(plan, NULL, &e);
	nft_plan_free(plan);
	return ret < 0 ? error_from_backend(err, &e, ret) : 0;
}

static void print_plan(FILE *out, const void *plan)
{
	nft_plan_print(out, plan);
}

int ifw_nft_compile(const struct ifw_ruleset *rs, char **text,
		    struct ifw_error *err)
{
	struct backend_error e = { 0 };
	struct nft_plan *plan = NULL;
	int ret;

	error_clear(err);
	if (text)
		*text = NULL;
	if (!rs || !text)
		return error_set(err, -EFAULT, "no rule set or no text pointer");
	ret = nft_plan_build(rs->rs, &plan, &e);
	if (ret == 0 && (ret = nft_plan_read_ifaddrs(plan, NULL)) < 0) {
		snprintf(e.message, sizeof(e.message), "cannot read the interfaces' "
			 "addresses for '(IFSPEC)': %s", strerror(-ret));
		nft_plan_free(plan);
	}
	if (ret < 0)
		return error_from_backend(err, &e, ret);
	ret = format_to_string(print_plan, plan, text);
	nft_plan_free(plan);
	if (ret < 0)
		return error_set(err, ret, strerror(-ret));
	return ret;
}

int ifw_nft_flush(struct ifw_error *err)
{
	struct backend_error e = { 0 };
	size_t deleted = 0;
	int ret;

	error_clear(err);
	ret = nft_flush(&deleted, &e);
	if (ret < 0)
		return error_from_backend(err, &e, ret);
	return deleted > 0x7fffffff ? 0x7fffffff : (int)deleted;
}

struct ifw_nft_listing {
	struct nft_listing *listing;
	struct ifw_nft_entry *entries;
};

static int entry_kind_public(enum nft_entry_kind kind)
{
	switch (kind) {
	case NFT_ENTRY_RULE: return IFW_NFT_RULE;
	case NFT_ENTRY_SKIP: return IFW_NFT_SKIP;
	case NFT_ENTRY_DEFAULT_IN: return IFW_NFT_DEFAULT_IN;
	case NFT_ENTRY_DEFAULT_OUT: return IFW_NFT_DEFAULT_OUT;
	}
	return IFW_NFT_RULE;
}

int ifw_nft_show(struct ifw_nft_listing **listing, struct ifw_error *err)
{
	struct backend_error e = { 0 };
	struct ifw_nft_listing *l;
	int ret;

	error_clear(err);
	if (!listing)
		return error_set(err, -EFAULT, "no listing pointer");
	*listing = NULL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return error_set(err, -ENOMEM, strerror(ENOMEM));
	ret = nft_listing_read(&l->listing, &e);
	if (ret < 0) {
		free(l);
		return error_from_backend(err, &e, ret);
	}
	if (l->listing->nentries) {
		l->entries = calloc(l->listing->nentries, sizeof(*l->entries));
		if (!l->entries) {
			ifw_nft_listing_free(l);
			return error_set(err, -ENOMEM, strerror(ENOMEM));
		}
	}
	for (size_t i = 0; i < l->listing->nentries; i++) {
		const struct nft_entry *src = &l->listing->entries[i];
		struct ifw_nft_entry *dst = &l->entries[i];

		dst->kind = entry_kind_public(src->kind);
		dst->rule = src->index;
		dst->origin = src->origin;
		dst->text = src->text;
		dst->verdict = src->verdict;
		dst->packets = src->packets;
		dst->bytes = src->bytes;
	}
	*listing = l;
	return 0;
}

int ifw_nft_listing_present(const struct ifw_nft_listing *listing)
{
	return listing && listing->listing->present;
}

size_t ifw_nft_listing_count(const struct ifw_nft_listing *listing)
{
	return listing ? listing->listing->nentries : 0;
}

const struct ifw_nft_entry *ifw_nft_listing_get(const struct ifw_nft_listing *listing,
						size_t i)
{
	if (!listing || i >= listing->listing->nentries)
		return NULL;
	return &listing->entries[i];
}

void ifw_nft_listing_free(struct ifw_nft_listing *listing)
{
	if (!listing)
		return;
	nft_listing_free(listing->listing);
	free(listing->entries);
	free(listing);
}

/* --- reloading (divert, tun) --------------------------------------------- */

/* A reload of a running backend: its rule file parsed again (with the
 * library's parse lock) and set (backend_reload); the diagnostics go to
 * the backend's messages. */
static void reload_source_init(struct backend_reload_source *r, const char *path)
{
	*r = (struct backend_reload_source){
		.file = { .path = path, .parse_lock = &parse_lock },
	};
}

/* --- tables changed at run time ------------------------------------------ */

/* Parses the caller's addresses; /0 is refused (it would open a kill
 * switch). *out is the caller's to free. Returns 0, -EINVAL, -EFAULT,
 * -ENOMEM. */
static int prefixes_parse_list(const char *const *addrs, size_t n,
			       struct ifw_prefix **out)
{
	*out = NULL;
	if (n && !addrs)
		return -EFAULT;
	struct ifw_prefix *p = calloc(n ? n : 1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (!addrs[i]) {
			free(p);
			return -EFAULT;
		}
		if (ifw_prefix_parse(addrs[i], &p[i]) < 0 || p[i].len == 0) {
			free(p);
			return -EINVAL;
		}
	}
	*out = p;
	return 0;
}

static int table_op_internal(int op, enum addrset_op *out)
{
	switch (op) {
	case IFW_TABLE_ADD: *out = ADDRSET_ADD; return 0;
	case IFW_TABLE_DELETE: *out = ADDRSET_DELETE; return 0;
	case IFW_TABLE_REPLACE: *out = ADDRSET_REPLACE; return 0;
	case IFW_TABLE_FLUSH: *out = ADDRSET_FLUSH; return 0;
	}
	return -EINVAL;
}

static void print_addrset(FILE *out, const void *arg)
{
	const struct addrset *set = arg;
	char buf[64];

	for (size_t i = 0; i < addrset_prefix_count(set); i++)
		fprintf(out, "%s\n", ifw_prefix_format(addrset_prefix(set, i), buf, sizeof(buf)));
}

/* The set's prefixes as text (normalised: merged and sorted). */
static int addrset_text(const struct addrset *set, char **text)
{
	struct addrset *norm = NULL;
	int rc = addrset_from_ranges(addrset_range(set, 0), addrset_range_count(set), &norm);

	if (rc == 0)
		rc = format_to_string(print_addrset, norm, text);
	if (rc >= 0)
		rc = (int)addrset_prefix_count(norm);
	addrset_free(norm);
	return rc;
}

static int count_absent(const struct addrset *set, const char *const *addrs, size_t n)
{
	struct ifw_prefix *p;
	int rc = prefixes_parse_list(addrs, n, &p), absent = 0;

	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n; i++)
		absent += !addrset_contains_prefix(set, &p[i]);
	free(p);
	return absent;
}

int ifw_ruleset_table_show(const struct ifw_ruleset *rs, const char *table,
			   char **text)
{
	const struct rs_table *t;

	if (!text)
		return -EFAULT;
	*text = NULL;
	if (!rs || !table)
		return -EFAULT;
	if (!(t = ruleset_find_table(rs->rs, table)))
		return -ESRCH;
	return addrset_text(t->set, text);
}

int ifw_ruleset_table_test(const struct ifw_ruleset *rs, const char *table,
			   const char *const *addrs, size_t n)
{
	const struct rs_table *t;

	if (!rs || !table)
		return -EFAULT;
	if (!(t = ruleset_find_table(rs->rs, table)))
		return -ESRCH;
	return count_absent(t->set, addrs, n);
}

int ifw_ruleset_table_change(const struct ifw_ruleset *rs, const char *table,
			     int op, const char *const *addrs, size_t n,
			     struct ifw_ruleset **out)
{
	enum addrset_op iop;
	struct ifw_prefix *p = NULL;
	struct ruleset *changed = NULL;
	int rc;

	if (!out)
		return -EFAULT;
	*out = NULL;
	if (!rs || !table)
		return -EFAULT;
	if (table_op_internal(op, &iop) < 0)
		return -EINVAL;
	if (iop == ADDRSET_FLUSH)
		n = 0;
	if ((rc = prefixes_parse_list(addrs, n, &p)) < 0)
		return rc;
	rc = ruleset_table_change(rs->rs, table, iop, p, n, &changed, NULL);
	free(p);
	if (rc < 0)
		return rc;
	*out = calloc(1, sizeof(**out));
	if (!*out) {
		ruleset_free(changed);
		return -ENOMEM;
	}
	(*out)->rs = changed;
	return 0;
}

int ifw_nft_table_show(const char *table, char **text, struct ifw_error *err)
{
	struct backend_error e = { 0 };
	struct addrset *set = NULL;
	int rc;

	error_clear(err);
	if (!text)
		return error_set(err, -EFAULT, "no text");
	*text = NULL;
	if (!table)
		return error_set(err, -EFAULT, "no table name");
	rc = nft_table_read(table, &set, &e);
	if (rc < 0)
		return error_from_backend(err, &e, rc);
	rc = addrset_text(set, text);
	addrset_free(set);
	return rc < 0 ? error_set(err, rc, "out of memory") : rc;
}

int ifw_nft_table_test(const char *table, const char *const *addrs, size_t n,
		       struct ifw_error *err)
{
	struct backend_error e = { 0 };
	struct addrset *set = NULL;
	int rc;

	error_clear(err);
	if (!table)
		return error_set(err, -EFAULT, "no table name");
	rc = nft_table_read(table, &set, &e);
	if (rc < 0)
		return error_from_backend(err, &e, rc);
	rc = count_absent(set, addrs, n);
	addrset_free(set);
	return rc < 0 ? error_set(err, rc, "invalid address") : rc;
}

/* The arguments of a table change, checked: *iop, and *p (malloc'd) with
 * *n prefixes (none for a flush). Returns 0 or -errno with err set. */
static int table_change_args(const char *table, int op, const char *const *addrs, size_t *n,
			     enum addrset_op *iop, struct ifw_prefix **p, struct ifw_error *err)
{
	int rc;

	if (!table)
		return error_set(err, -EFAULT, "no table name");
	if (table_op_internal(op, iop) < 0)
		return error_set(err, -EINVAL, "unknown table operation");
	if (*iop == ADDRSET_FLUSH)
		*n = 0;
	if ((rc = prefixes_parse_list(addrs, *n, p)) < 0)
		return error_set(err, rc, rc == -EINVAL ? "invalid address (or a /0 prefix)"
						      : "bad argument");
	return 0;
}

struct running_reply {
	char first_err[256];
};

static void running_line(void *ctx, bool is_err, const char *text)
{
	struct running_reply *r = ctx;

	if (is_err && !r->first_err[0])
		snprintf(r->first_err, sizeof(r->first_err), "%s", text);
}

/* "table NAME OP PREFIX..." to a running 'ifwall run --backend BACKEND'.
 * Returns 0, -ENOENT when none runs, -ESRCH/-EINVAL/-EIO as it answered. */
static int running_change(const char *backend, const char *table, enum addrset_op iop,
			  const struct ifw_prefix *p, size_t n, struct ifw_error *err)
{
	static const char *const opname[] = {
		[ADDRSET_ADD] = "add", [ADDRSET_DELETE] = "delete",
		[ADDRSET_REPLACE] = "replace", [ADDRSET_FLUSH] = "flush",
	};
	struct running_reply r = { "" };
	int code = 0;
	int rc = control_table_call(backend, table, opname[iop], p, n, running_line, &r, &code);

	if (rc == -ENOENT)
		return -ENOENT;
	if (rc < 0)
		return error_set(err, rc, "cannot reach the running 'ifwall run' through its "
				 "control socket");
	if (code != 0)
		return error_set(err, code == 2 ? -ESRCH : -EIO, r.first_err[0] ? r.first_err :
				 "the running 'ifwall run' refused the change");
	return 0;
}

int ifw_running_table_change(const char *backend, const char *table, int op,
			     const char *const *addrs, size_t n, struct ifw_error *err)
{
	enum addrset_op iop;
	struct ifw_prefix *p = NULL;
	int rc;

	error_clear(err);
	if (!backend)
		return error_set(err, -EFAULT, "no backend name");
	if ((rc = table_change_args(table, op, addrs, &n, &iop, &p, err)) < 0)
		return rc;
	rc = running_change(backend, table, iop, p, n, err);
	free(p);
	if (rc == -ENOENT)
		return error_set(err, -ENOENT, "no 'ifwall run' of that backend is running here");
	return rc;
}

int ifw_nft_table_change(const char *table, int op, const char *const *addrs,
			 size_t n, struct ifw_error *err)
{
	struct backend_error e = { 0 };
	enum addrset_op iop;
	struct ifw_prefix *p = NULL;
	int rc;

	error_clear(err);
	if ((rc = table_change_args(table, op, addrs, &n, &iop, &p, err)) < 0)
		return rc;
	/* a table owned by 'ifwall run --backend nft' changes through it */
	rc = running_change("nft", table, iop, p, n, err);
	if (rc != -ENOENT) {
		free(p);
		return rc;
	}
	rc = nft_table_change(table, iop, p, n, NULL, &e);
	free(p);
	return rc < 0 ? error_from_backend(err, &e, rc) : 0;
}

/* --- divert -------------------------------------------------------------- */

int ifw_divert_run(struct ifw_ruleset *rs, const struct ifw_divert_options *o,
		   struct ifw_divert_stats *stats, struct ifw_error *err)
{
	struct backend_reload_source reload;
	struct divert_options opts;
	struct divert_stats st;
	struct backend_error e = { 0 };
	struct divert *d = NULL;
	int ret;

	error_clear(err);
	if (stats)
		memset(stats, 0, sizeof(*stats));
	/* This function consumes rs in every case (its contract since 0.1);
	 * the backend itself holds its own reference. */
	if (!rs || !o) {
		ifw_ruleset_free(rs);
		return error_set(err, -EFAULT, "no rule set or no options");
	}
	if (o->queue > 65535) {
		ifw_ruleset_free(rs);
		return error_set(err, -EINVAL, "queue number out of range (0..65535)");
	}
	reload_source_init(&reload, o->reload_path);
	memset(&opts, 0, sizeof(opts));
	opts.queue = (uint16_t)o->queue;
	opts.fail_open = o->fail_open != 0;
	opts.queue_kind = DIVERT_QUEUE_AUTO;
	opts.io = (struct backend_io){ .log = o->log, .messages = o->messages,
				       .reload = o->reload_path ? backend_reload_source : NULL,
				       .reload_ctx = &reload };
	opts.keep_capabilities = !o->drop_capabilities;

	ret = divert_open(&d, &opts, &e);
	if (ret == 0)
		ret = divert_set_ruleset(d, rs->rs, &e);
	ifw_ruleset_free(rs);
	if (ret < 0) {
		divert_free(d);
		return error_from_backend(err, &e, ret);
	}
	reload.backend = divert_backend(d);
	if (o->ready)
		o->ready(o->ready_ctx);
	/* No stop flags: SIGHUP, SIGTERM and SIGINT through a signalfd. */
	ret = divert_run(d, NULL, &e);
	divert_get_stats(d, &st);
	divert_free(d);
	if (stats) {
		stats->packets = st.packets;
		stats->passed = st.passed;
		stats->blocked = st.blocked;
		stats->rejected = st.rejected;
		stats->undecodable = st.undecodable;
		stats->reloads = st.reloads;
		stats->reload_failures = st.reload_failures;
	}
	return ret < 0 ? error_from_backend(err, &e, ret) : 0;
}

/* --- tun ----------------------------------------------------------------- */

/* "A/n" or "A/n,B/m" into prefixes; returns the count or -EINVAL. */
static int prefixes_parse(const char *text, struct ifw_prefix *out, size_t max)
{
	size_t n = 0;

	while (*text) {
		char item[64];
		size_t len = strcspn(text, ",");

		if (n == max || len == 0 || len >= sizeof(item))
			return -EINVAL;
		memcpy(item, text, len);
		item[len] = 0;
		if (ifw_prefix_parse(item, &out[n++]) < 0)
			return -EINVAL;
		text += len;
		if (*text == ',')
			text++;
	}
	return (int)n;
}

int ifw_tun_run(const struct ifw_ruleset *rs, const struct ifw_tun_options *o,
		volatile sig_atomic_t *stop, volatile sig_atomic_t *reload,
		struct ifw_tun_stats *stats, struct ifw_error *err)
{
	struct tun_options opts;
	struct backend_reload_source r;
	struct tun_stats st;
	struct tun_backend *be = NULL;
	struct backend_error e = { 0 };
	char message[512] = "";
	int n, ret;

	error_clear(err);
	if (stats)
		memset(stats, 0, sizeof(*stats));
	if (!rs || !o || !o->netns || !stop)
		return error_set(err, -EFAULT, "no rule set, options, namespace or stop flag");
	memset(&opts, 0, sizeof(opts));
	opts.netns = o->netns;
	if (o->prefixes) {
		n = prefixes_parse(o->prefixes, opts.prefixes, TUN_MAX_PREFIXES);
		if (n < 0)
			return error_set(err, -EINVAL, "invalid client prefixes");
		opts.nprefixes = (size_t)n;
		ret = tun_prefixes_check(opts.prefixes, opts.nprefixes, message, sizeof(message));
		if (ret < 0)
			return error_set(err, ret, message);
	}
	opts.client_ifname = o->client_ifname;
	opts.host_ifname = o->host_ifname;
	opts.mtu = o->mtu;
	reload_source_init(&r, o->reload_path);
	opts.io = (struct backend_io){ .log = o->log, .messages = o->messages,
				       .reload = o->reload_path ? backend_reload_source : NULL,
				       .reload_ctx = &r };
	memset(&st, 0, sizeof(st));
	/* rs stays the caller's (the backend holds its own reference). */
	ret = tun_open(&be, &opts, &e);
	if (ret == 0)
		ret = tun_set_ruleset(be, rs->rs, &e);
	if (ret == 0) {
		struct backend_stop how = { .stop = stop, .reload = reload };
		r.backend = tun_backend(be);
		ret = tun_run(be, &how, &e);
		tun_get_stats(be, &st);
	}
	tun_free(be);
	if (stats) {
		stats->from_client = st.from_client;
		stats->from_host = st.from_host;
		stats->passed = st.passed;
		stats->blocked = st.blocked;
		stats->rejected = st.rejected;
		stats->undecodable = st.undecodable;
		stats->no_route = st.no_route;
		stats->reloads = st.reloads;
		stats->reload_failures = st.reload_failures;
	}
	return ret < 0 ? error_from_backend(err, &e, ret) : 0;
}

int ifw_reject_build(const void *packet, size_t len, void *out, size_t size)
{
	size_t n;

	if (!packet || !out)
		return -EFAULT;
	if (size < IFW_REJECT_MAX)
		return -ENOBUFS;
	n = tun_reject_build(packet, len, out, size);
	return (int)n;
}
