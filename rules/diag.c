/* Diagnostics: collected as values with locations, printed gcc style by
 * the tools. Also the small string helpers the other stages share. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter/json.h"
#include "rules/internal.h"

/* --- strbuf ---------------------------------------------------------------- */

static bool sb_reserve(struct strbuf *sb, size_t extra)
{
	if (sb->oom)
		return false;
	if (sb->len + extra + 1 <= sb->cap)
		return true;
	size_t cap = sb->cap ? sb->cap : 64;
	while (cap < sb->len + extra + 1)
		cap *= 2;
	char *buf = realloc(sb->buf, cap);
	if (!buf) {
		sb->oom = true;
		return false;
	}
	sb->buf = buf;
	sb->cap = cap;
	return true;
}

void sb_putn(struct strbuf *sb, const char *s, size_t n)
{
	if (!sb_reserve(sb, n))
		return;
	memcpy(sb->buf + sb->len, s, n);
	sb->len += n;
	sb->buf[sb->len] = '\0';
}

void sb_puts(struct strbuf *sb, const char *s)
{
	sb_putn(sb, s, strlen(s));
}

void sb_putc(struct strbuf *sb, char c)
{
	sb_putn(sb, &c, 1);
}

void sb_printf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	char small[256];

	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(small)) {
		sb_putn(sb, small, (size_t)n);
		return;
	}
	if (!sb_reserve(sb, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	sb->len += (size_t)n;
}

char *sb_steal(struct strbuf *sb)
{
	char *s = sb->buf;

	if (sb->oom) {
		free(s);
		s = NULL;
	} else if (!s) {
		s = strdup("");
	}
	sb->buf = NULL;
	sb->len = sb->cap = 0;
	sb->oom = false;
	return s;
}

void sb_free(struct strbuf *sb)
{
	free(sb->buf);
	sb->buf = NULL;
	sb->len = sb->cap = 0;
}

void sb_put_quoted_excerpt(struct strbuf *sb, const char *s, size_t n, size_t max)
{
	size_t shown = n > max ? max : n;

	for (size_t i = 0; i < shown; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x7f)
			sb_putc(sb, (char)c);
		else
			sb_printf(sb, "\\x%02x", c);
	}
	if (shown < n)
		sb_puts(sb, "...");
}

/* --- diagnostics ------------------------------------------------------------ */

/* Longest source line kept whole in a diagnostic; longer ones are cut to an
 * excerpt around the column. */
#define SOURCE_LINE_MAX 200
#define SOURCE_CONTEXT 60

static int diag_push(struct diag_list *diags, struct diag *d)
{
	/* The capacity is implicit: the array doubles whenever count reaches a
	 * power of two. */
	if (diags->count == 0 || (diags->count & (diags->count - 1)) == 0) {
		size_t ncap = diags->count ? diags->count * 2 : 4;
		struct diag *items = realloc(diags->items, ncap * sizeof(*items));
		if (!items)
			return -ENOMEM;
		diags->items = items;
	}
	diags->items[diags->count++] = *d;
	if (d->severity == DIAG_ERROR)
		diags->errors++;
	else if (d->severity == DIAG_WARNING)
		diags->warnings++;
	return 0;
}

int diag_addv(struct diag_list *diags, enum diag_severity sev,
	      const struct loc *loc, const char *fmt, va_list ap)
{
	struct diag d = { .severity = sev, .span = 1 };
	char *msg = NULL;

	if (!diags)
		return 0;
	if (vasprintf(&msg, fmt, ap) < 0)
		return -ENOMEM;
	d.message = msg;
	if (loc && loc->src) {
		const struct src *src = loc->src;
		d.file = strdup(src->name);
		d.line = loc->line;
		d.col = loc->col;
		d.span = loc->span > 0 ? loc->span : 1;
		d.source_col = loc->col;
		if (src->include_chain)
			d.include_chain = strdup(src->include_chain);
		if (loc->line_start <= src->len) {
			const char *start = src->text + loc->line_start;
			const char *end = memchr(start, '\n', src->len - loc->line_start);
			size_t n = end ? (size_t)(end - start) : src->len - loc->line_start;
			if (n && start[n - 1] == '\r')
				n--;
			size_t from = 0;
			if (n > SOURCE_LINE_MAX) {
				size_t col0 = loc->col > 0 ? (size_t)loc->col - 1 : 0;
				from = col0 > SOURCE_CONTEXT ? col0 - SOURCE_CONTEXT : 0;
				if (from > n)
					from = n;
				size_t take = n - from;
				if (take > SOURCE_LINE_MAX)
					take = SOURCE_LINE_MAX;
				n = take;
				d.source_col = loc->col - (int)from;
				if (d.span > (int)n)
					d.span = (int)n > 0 ? (int)n : 1;
			}
			d.source_line = strndup(start + from, n);
		}
		if (!d.file) {
			free(d.message);
			free(d.source_line);
			free(d.include_chain);
			return -ENOMEM;
		}
	}
	if (diag_push(diags, &d) < 0) {
		free(d.message);
		free(d.file);
		free(d.source_line);
		free(d.include_chain);
		return -ENOMEM;
	}
	return 0;
}

/* The text of line 'line' of file 'path' (malloc'd), or NULL. */
static char *read_source_line(const char *path, int line)
{
	FILE *f = path ? fopen(path, "re") : NULL;
	char *buf = NULL;
	size_t cap = 0;
	ssize_t n = -1;

	if (!f)
		return NULL;
	for (int i = 0; i < line && (n = getline(&buf, &cap, f)) >= 0; i++)
		;
	fclose(f);
	if (n < 0) {
		free(buf);
		return NULL;
	}
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	if (n > SOURCE_LINE_MAX)
		buf[SOURCE_LINE_MAX] = '\0';
	return buf;
}

int diag_add_rule(struct diag_list *diags, enum diag_severity sev,
		  const struct rule *r, const char *fmt, ...)
{
	struct diag d = { .severity = sev, .span = 1, .line = r->line };
	va_list ap;
	int rc;

	if (!diags)
		return 0;
	va_start(ap, fmt);
	rc = vasprintf(&d.message, fmt, ap);
	va_end(ap);
	if (rc < 0)
		return -ENOMEM;
	d.file = strdup(r->file ? r->file : "?");
	d.source_line = read_source_line(r->file, r->line);
	if (d.source_line) {
		/* The statement: from its first word to the end of the text. */
		size_t from = strspn(d.source_line, " \t");
		size_t to = strlen(d.source_line);
		const char *hash = strchr(d.source_line + from, '#');
		if (hash)
			to = (size_t)(hash - d.source_line);
		while (to > from && (d.source_line[to - 1] == ' ' || d.source_line[to - 1] == '\t'))
			to--;
		d.col = d.source_col = (int)from + 1;
		d.span = to > from ? (int)(to - from) : 1;
	}
	if (!d.file || diag_push(diags, &d) < 0) {
		free(d.message);
		free(d.file);
		free(d.source_line);
		return -ENOMEM;
	}
	return 0;
}

int diag_list_sys_errno(const struct diag_list *diags)
{
	for (size_t i = 0; diags && i < diags->count; i++)
		if (diags->items[i].sys_errno)
			return diags->items[i].sys_errno;
	return 0;
}

int diag_add(struct diag_list *diags, enum diag_severity sev,
	     const struct loc *loc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int r = diag_addv(diags, sev, loc, fmt, ap);
	va_end(ap);
	return r;
}

int diag_add_file(struct diag_list *diags, enum diag_severity sev,
		  const char *file, const char *fmt, ...)
{
	va_list ap;

	if (!diags)
		return 0;
	va_start(ap, fmt);
	int r = diag_addv(diags, sev, NULL, fmt, ap);
	va_end(ap);
	if (r == 0 && file) {
		diags->items[diags->count - 1].file = strdup(file);
		if (!diags->items[diags->count - 1].file)
			return -ENOMEM;
	}
	return r;
}

static const char *severity_name(enum diag_severity sev)
{
	switch (sev) {
	case DIAG_ERROR: return "error";
	case DIAG_WARNING: return "warning";
	case DIAG_NOTE: return "note";
	}
	return "error";
}

/* Length in bytes of the UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0 && s[0] >= 0xc2)
		len = 2;
	else if ((s[0] & 0xf0) == 0xe0)
		len = 3;
	else if ((s[0] & 0xf8) == 0xf0 && s[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

/* Prints the source line with unprintable bytes as '?' and the caret line
 * under [col, col+span), keeping tabs so the caret lines up. */
static void print_source(FILE *out, const struct diag *d)
{
	const unsigned char *s = (const unsigned char *)d->source_line;
	size_t n = strlen(d->source_line);
	int col = d->source_col > 0 ? d->source_col : 1;
	struct strbuf text = { 0 }, caret = { 0 };

	for (size_t i = 0; i <= n;) {
		int byte_col = (int)i + 1;
		char pad = (i < n && s[i] == '\t') ? '\t' : ' ';
		size_t len = i < n ? utf8_len(s + i, n - i) : 1;

		if (byte_col == col)
			sb_putc(&caret, '^');
		else if (byte_col > col && byte_col < col + d->span)
			sb_putc(&caret, '~');
		else if (byte_col < col)
			sb_putc(&caret, pad);
		if (i == n)
			break;
		if (len == 0) {
			sb_putc(&text, '?');
			len = 1;
		} else if (len == 1 && (s[i] < 0x20 || s[i] == 0x7f) && s[i] != '\t') {
			sb_putc(&text, '?');
		} else {
			sb_putn(&text, (const char *)s + i, len);
		}
		i += len;
	}
	/* The caret may sit past the end of the line (a missing token). */
	fprintf(out, "%s\n%s\n", text.buf ? text.buf : "", caret.buf ? caret.buf : "^");
	sb_free(&text);
	sb_free(&caret);
}

void diag_list_print(FILE *out, const struct diag_list *diags)
{
	if (!diags)
		return;
	for (size_t i = 0; i < diags->count; i++) {
		const struct diag *d = &diags->items[i];
		if (d->include_chain)
			fputs(d->include_chain, out);
		if (d->file && d->line > 0)
			fprintf(out, "%s:%d:%d: ", d->file, d->line, d->col);
		else if (d->file)
			fprintf(out, "%s: ", d->file);
		fprintf(out, "%s: %s\n", severity_name(d->severity), d->message);
		if (d->source_line)
			print_source(out, d);
	}
}

void diag_list_print_json(FILE *out, const struct diag_list *diags)
{
	fputc('[', out);
	for (size_t i = 0; diags && i < diags->count; i++) {
		const struct diag *d = &diags->items[i];
		if (i)
			fputc(',', out);
		fputs("{\"severity\":", out);
		json_string(out, severity_name(d->severity));
		fputs(",\"file\":", out);
		json_string(out, d->file);
		fprintf(out, ",\"line\":%d,\"col\":%d,\"message\":", d->line, d->col);
		json_string(out, d->message);
		fputc('}', out);
	}
	fputc(']', out);
}

void diag_list_clear(struct diag_list *diags)
{
	if (!diags)
		return;
	for (size_t i = 0; i < diags->count; i++) {
		struct diag *d = &diags->items[i];
		free(d->file);
		free(d->message);
		free(d->source_line);
		free(d->include_chain);
	}
	free(diags->items);
	diags->items = NULL;
	diags->count = diags->errors = diags->warnings = 0;
}
