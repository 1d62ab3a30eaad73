/* IFSPEC from a command line (see ifspec_parse.h): the rule file's own
 * lexer and parse_ifspec(), so both accept the same language. */
#include "rules/ifspec_parse.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "rules/parser.h"

int ifmatch_parse(const char *text, struct ifmatch *out, char *err,
		  size_t errsize, int *col)
{
	struct ruleset rs = { 0 };
	struct diag_list diags = { 0 };
	struct src src = { .name = "IFSPEC", .text = (char *)(text ? text : "") };
	struct lexer lx;
	struct parser p = { .rs = &rs, .diags = &diags, .lx = &lx };
	struct loc span;
	int rc = 0;
	bool ok;

	src.len = strlen(src.text);
	memset(out, 0, sizeof(*out));
	lexer_init(&lx, &src, NULL);
	parser_next(&p);
	ok = parse_ifspec(&p, out, &span);
	if (ok && p.tok.type != TOK_EOF)
		ok = parser_expected(&p, "end of the interface specification");
	if (!ok) {
		rc = p.stop ? -ENOMEM : -EINVAL; /* after one error, stop means out of memory */
		const struct diag *d = diags.count ? &diags.items[0] : NULL;
		if (err && errsize)
			snprintf(err, errsize, "%s", d ? d->message : "out of memory");
		if (col)
			*col = d && d->col > 0 ? d->col : 1;
		ifmatch_release(out);
	}
	diag_list_clear(&diags);
	return rc;
}

void ifmatch_release(struct ifmatch *m)
{
	if (!m)
		return;
	ifmatch_free_items(m);
	m->negate = false;
}
