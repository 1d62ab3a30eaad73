/* Stand-alone IFSPEC parser for command-line options (see ifspec_parse.h). */
#include "rules/ifspec_parse.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ifspec_parser {
	const char *text;
	size_t pos;
	char *err;
	size_t errsize;
	int *col;
	struct ifmatch *out;
	size_t capacity;
};

static int ifspec_fail(struct ifspec_parser *ps, size_t at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int ifspec_fail(struct ifspec_parser *ps, size_t at, const char *fmt, ...)
{
	va_list ap;

	if (ps->err && ps->errsize) {
		va_start(ap, fmt);
		vsnprintf(ps->err, ps->errsize, fmt, ap);
		va_end(ap);
	}
	if (ps->col)
		*ps->col = at < 100000 ? (int)at + 1 : 100000;
	return -EINVAL;
}

static void skip_blanks(struct ifspec_parser *ps)
{
	while (ps->text[ps->pos] == ' ' || ps->text[ps->pos] == '\t' ||
	       ps->text[ps->pos] == '\n' || ps->text[ps->pos] == ',')
		ps->pos++;
}

static bool is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.' ||
	       c == ':' || c == '@' || c == '*';
}

/* The next word (name characters) at the current position; 0 if none. */
static size_t word_length(const struct ifspec_parser *ps)
{
	size_t n = 0;

	while (is_name_char(ps->text[ps->pos + n]))
		n++;
	return n;
}

static bool word_is(const struct ifspec_parser *ps, size_t len, const char *w)
{
	return len == strlen(w) && !strncmp(ps->text + ps->pos, w, len);
}

static int add_item(struct ifspec_parser *ps, const struct ifitem *item)
{
	struct ifmatch *m = ps->out;

	if (m->count == ps->capacity) {
		size_t cap = ps->capacity ? ps->capacity * 2 : 4;
		struct ifitem *items = realloc(m->items, cap * sizeof(*items));
		if (!items)
			return -ENOMEM;
		m->items = items;
		ps->capacity = cap;
	}
	m->items[m->count++] = *item;
	return 0;
}

/* NAME | PREFIX* | any | type TYPE */
static int parse_item(struct ifspec_parser *ps)
{
	struct ifitem item;
	size_t start = ps->pos;
	size_t len = word_length(ps);

	memset(&item, 0, sizeof(item));
	if (len == 0 && ps->text[start])
		return ifspec_fail(ps, start, "unexpected '%c'", ps->text[start]);
	if (len == 0)
		return ifspec_fail(ps, start, "expected an interface name");
	if (word_is(ps, len, "any")) {
		item.kind = IFITEM_ANY;
		ps->pos += len;
	} else if (word_is(ps, len, "type")) {
		ps->pos += len;
		skip_blanks(ps);
		size_t tstart = ps->pos;
		size_t tlen = word_length(ps);
		item.kind = IFITEM_TYPE;
		if (word_is(ps, tlen, "loopback"))
			item.type = IFTYPE_LOOPBACK;
		else if (word_is(ps, tlen, "tunnel"))
			item.type = IFTYPE_TUNNEL;
		else if (word_is(ps, tlen, "ether"))
			item.type = IFTYPE_ETHER;
		else
			return ifspec_fail(ps, tstart,
					   "expected interface type loopback, tunnel or ether");
		ps->pos += tlen;
	} else {
		const char *w = ps->text + ps->pos;
		size_t name_len = len;
		item.kind = IFITEM_NAME;
		if (w[len - 1] == '*') {
			item.kind = IFITEM_PREFIX;
			name_len--;
		}
		if (memchr(w, '*', name_len))
			return ifspec_fail(ps, start, "'*' is only allowed at the end of a name");
		if (name_len >= IFW_IFNAMSIZ)
			return ifspec_fail(ps, start, "interface name longer than %d characters",
					   IFW_IFNAMSIZ - 1);
		memcpy(item.name, w, name_len);
		item.name[name_len] = '\0';
		ps->pos += len;
	}
	return add_item(ps, &item);
}

/* '{' MEMBER ... '}' where MEMBER is [!]ITEM; members are all plain or all
 * negated ('{ !a !b }' is read as '!{ a b }'). */
static int parse_list(struct ifspec_parser *ps, bool *negated_members)
{
	size_t open = ps->pos;
	int plain = 0, negated = 0;
	int rc;

	ps->pos++; /* '{' */
	for (;;) {
		skip_blanks(ps);
		char c = ps->text[ps->pos];
		if (c == '}') {
			ps->pos++;
			break;
		}
		if (c == '\0')
			return ifspec_fail(ps, open, "missing '}'");
		if (c == '{')
			return ifspec_fail(ps, ps->pos, "nested lists are not allowed");
		if (c == '!') {
			negated++;
			ps->pos++;
			skip_blanks(ps);
		} else {
			plain++;
		}
		if (negated && plain)
			return ifspec_fail(ps, ps->pos, "a list cannot mix negated and plain interfaces");
		if ((rc = parse_item(ps)))
			return rc;
	}
	if (plain + negated == 0)
		return ifspec_fail(ps, open, "empty interface list");
	*negated_members = negated > 0;
	return 0;
}

int ifmatch_parse(const char *text, struct ifmatch *out, char *err,
		  size_t errsize, int *col)
{
	struct ifspec_parser ps = {
		.text = text ? text : "", .err = err, .errsize = errsize,
		.col = col, .out = out,
	};
	bool negate = false;
	int rc;

	memset(out, 0, sizeof(*out));
	skip_blanks(&ps);
	if (ps.text[ps.pos] == '!') {
		negate = true;
		ps.pos++;
		skip_blanks(&ps);
	}
	if (ps.text[ps.pos] == '{') {
		bool negated_members = false;
		rc = parse_list(&ps, &negated_members);
		if (!rc && negated_members && negate)
			rc = ifspec_fail(&ps, 0, "double negation");
		if (negated_members)
			negate = true;
	} else {
		rc = parse_item(&ps);
	}
	if (!rc) {
		skip_blanks(&ps);
		if (ps.text[ps.pos])
			rc = ifspec_fail(&ps, ps.pos, "unexpected '%c' after the interface specification",
					 ps.text[ps.pos]);
	}
	if (rc) {
		ifmatch_release(out);
		return rc;
	}
	out->negate = negate;
	return 0;
}

void ifmatch_release(struct ifmatch *m)
{
	if (!m)
		return;
	free(m->items);
	m->items = NULL;
	m->count = 0;
	m->negate = false;
}
