/* Tokenizer: see lexer.h. Never reports: errors come back as TOK_ERROR
 * tokens so the parser can report them, or skip them while recovering. */
#include <ctype.h>
#include <string.h>

#include "rules/lexer.h"

const struct macro *macro_lookup(const struct macro_table *t, const char *name,
				 size_t len)
{
	for (size_t i = 0; t && i < t->count; i++)
		if (strlen(t->items[i].name) == len && !memcmp(t->items[i].name, name, len))
			return &t->items[i];
	return NULL;
}

void lexer_init(struct lexer *lx, const struct src *src,
		const struct macro_table *macros)
{
	memset(lx, 0, sizeof(*lx));
	lx->src = src;
	lx->line = 1;
	lx->macros = macros;
	lx->frames[0].text = src->text;
	lx->frames[0].len = src->len;
	lx->nframes = 1;
	/* A UTF-8 byte order mark some editors write is not part of the text. */
	if (src->len >= 3 && !memcmp(src->text, "\xef\xbb\xbf", 3))
		lx->frames[0].pos = lx->line_start = 3;
}

void lexer_init_fixed(struct lexer *lx, const char *text, size_t len,
		      const struct loc *loc, const struct macro_table *macros)
{
	memset(lx, 0, sizeof(*lx));
	lx->src = loc->src;
	lx->line = loc->line;
	lx->macros = macros;
	lx->frames[0].text = text;
	lx->frames[0].len = len;
	lx->frames[0].fixed = true;
	lx->frames[0].loc = *loc;
	lx->nframes = 1;
}

static bool is_word_char(unsigned char c)
{
	if (c <= 0x20 || c >= 0x7f)
		return false;
	return !strchr("{}()<>!,=\"#$\\", c);
}

static bool is_name_char(unsigned char c)
{
	return isalnum(c) || c == '_' || c == '-' || c == '.';
}

static void set_loc(struct lexer *lx, struct token *t, size_t start, size_t end)
{
	struct lex_frame *f = &lx->frames[lx->nframes - 1];

	if (f->fixed) {
		t->loc = f->loc;
		return;
	}
	t->loc.src = lx->src;
	t->loc.line = lx->line;
	t->loc.line_start = lx->line_start;
	t->loc.col = (int)(start - lx->line_start) + 1;
	t->loc.span = end > start ? (int)(end - start) : 1;
}

static struct token error_token(struct lexer *lx, size_t start, size_t end,
				const char *msg)
{
	struct token t = { .type = TOK_ERROR, .error = msg };

	set_loc(lx, &t, start, end);
	return t;
}

/* The token from start to end of the current frame, which goes on at end.
 * Its text leaves out 'quotes' bytes at each end ("..." and <...>). */
static struct token token_at(struct lexer *lx, enum tok_type type, size_t start,
			     size_t end, size_t quotes)
{
	struct lex_frame *f = &lx->frames[lx->nframes - 1];
	struct token t = { .type = type };

	f->pos = end;
	t.text = f->text + start + quotes;
	t.len = end - start - 2 * quotes;
	set_loc(lx, &t, start, end);
	return t;
}

/* '#@ PATH:LINE' with optional trailing blanks; s excludes the '#'. The
 * '@' keeps a person's comment ('# OPS-1234:7', '# http:8080') from ever
 * being read as an origin. */
static void parse_marker(const char *s, size_t n, struct origin_marker *m)
{
	memset(m, 0, sizeof(*m));
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		n--;
	if (n < 5 || s[0] != '@' || s[1] != ' ')
		return;
	s += 2, n -= 2;
	size_t colon = n;
	while (colon > 0 && s[colon - 1] != ':')
		colon--;
	if (colon < 2 || colon == n || n - colon > 9)
		return;
	for (size_t i = colon; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return;
	/* Any file name without control characters (blanks included). */
	for (size_t i = 0; i + 1 < colon; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] == 0x7f)
			return;
	int line = 0;
	for (size_t i = colon; i < n; i++)
		line = line * 10 + (s[i] - '0');
	if (line <= 0)
		return;
	m->present = true;
	m->path = s;
	m->path_len = colon - 1;
	m->line = line;
}

static struct token lex_one(struct lexer *lx)
{
	struct origin_marker marker = { 0 };

	for (;;) {
		struct lex_frame *f = &lx->frames[lx->nframes - 1];
		const char *s = f->text;
		size_t n = f->len;

		if (f->pos >= n) {
			if (lx->nframes > 1) {
				lx->nframes--;
				continue;
			}
			struct token t = { .type = TOK_EOF, .marker = marker };
			set_loc(lx, &t, f->pos, f->pos);
			return t;
		}
		size_t start = f->pos;
		unsigned char c = (unsigned char)s[start];

		if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
			f->pos++;
			continue;
		}
		if (c == '\n') {
			f->pos++;
			if (f->fixed)
				continue;
			struct token t = { .type = TOK_NEWLINE, .marker = marker };
			set_loc(lx, &t, start, start + 1);
			lx->line++;
			lx->line_start = f->pos;
			return t;
		}
		if (c == '#') {
			const char *nl = memchr(s + start, '\n', n - start);
			size_t end = nl ? (size_t)(nl - s) : n;
			if (!f->fixed)
				parse_marker(s + start + 1, end - start - 1, &marker);
			f->pos = end;
			continue;
		}
		if (c == '\\') {
			size_t i = start + 1;
			while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r'))
				i++;
			if (i < n && s[i] != '\n') {
				f->pos = start + 1;
				return error_token(lx, start, start + 1,
						   "stray '\\' (a continuation must end the line)");
			}
			if (i < n) {
				i++;
				if (!f->fixed) {
					lx->line++;
					lx->line_start = i;
				}
			}
			f->pos = i;
			continue;
		}
		enum tok_type punct = TOK_EOF;
		switch (c) {
		case '{': punct = TOK_LBRACE; break;
		case '}': punct = TOK_RBRACE; break;
		case '(': punct = TOK_LPAREN; break;
		case ')': punct = TOK_RPAREN; break;
		case '!': punct = TOK_BANG; break;
		case ',': punct = TOK_COMMA; break;
		case '=': punct = TOK_EQUALS; break;
		default: break;
		}
		if (punct != TOK_EOF)
			return token_at(lx, punct, start, start + 1, 0);
		if (c == '"') {
			size_t i = start + 1;
			while (i < n && s[i] != '"' && s[i] != '\n') {
				if (s[i] == '\0') {
					f->pos = i + 1;
					return error_token(lx, i, i + 1, "invalid character in string");
				}
				if (s[i] == '\\' && i + 1 < n && s[i + 1] != '\n')
					i++;
				i++;
			}
			if (i >= n || s[i] != '"') {
				f->pos = i;
				return error_token(lx, start, i, "unterminated string");
			}
			return token_at(lx, TOK_STRING, start, i + 1, 1);
		}
		if (c == '<') {
			size_t i = start + 1;
			while (i < n && is_name_char((unsigned char)s[i]))
				i++;
			if (i == start + 1 || i >= n || s[i] != '>') {
				f->pos = i > start + 1 ? i : start + 1;
				return error_token(lx, start, f->pos,
						   "expected a table name: <NAME>");
			}
			return token_at(lx, TOK_TABLE, start, i + 1, 1);
		}
		if (c == '$') {
			size_t i = start + 1;
			while (i < n && (isalnum((unsigned char)s[i]) || s[i] == '_'))
				i++;
			f->pos = i;
			if (i == start + 1)
				return error_token(lx, start, i, "expected a macro name after '$'");
			const struct macro *m = macro_lookup(lx->macros, s + start + 1, i - start - 1);
			if (!m) {
				size_t len = i - start - 1;
				if (len > 60)
					len = 60;
				snprintf(lx->errbuf, sizeof(lx->errbuf), "undefined macro '$%.*s%s'",
					 (int)len, s + start + 1, i - start - 1 > 60 ? "..." : "");
				return error_token(lx, start, i, lx->errbuf);
			}
			if (lx->nframes == LEX_MAX_FRAMES)
				return error_token(lx, start, i,
						   "macros nested too deeply (a macro using itself?)");
			struct loc loc;
			if (f->fixed) {
				loc = f->loc;
			} else {
				struct token tmp;
				set_loc(lx, &tmp, start, i);
				loc = tmp.loc;
				loc.macro = (int)(m - lx->macros->items) + 1;
			}
			struct lex_frame *nf = &lx->frames[lx->nframes++];
			nf->text = m->value;
			nf->len = strlen(m->value);
			nf->pos = 0;
			nf->fixed = true;
			nf->loc = loc;
			continue;
		}
		if (is_word_char(c)) {
			size_t i = start;
			while (i < n && is_word_char((unsigned char)s[i]))
				i++;
			return token_at(lx, TOK_WORD, start, i, 0);
		}
		/* Anything else: control characters, bytes >= 0x80 outside strings. */
		size_t i = start + 1;
		while (i < n && (unsigned char)s[i] >= 0x80 && (unsigned char)s[i] < 0xc0)
			i++; /* the rest of a UTF-8 sequence */
		f->pos = i;
		if (c >= 0x20 && c < 0x7f)
			snprintf(lx->errbuf, sizeof(lx->errbuf), "unexpected character '%c'", c);
		else
			snprintf(lx->errbuf, sizeof(lx->errbuf), "unexpected character '\\x%02x'", c);
		return error_token(lx, start, i, lx->errbuf);
	}
}

/* lex_one() with the budget on macro expansion: past it, the expansion
 * under way is abandoned and reported. */
static struct token lex_counted(struct lexer *lx)
{
	struct token t = lex_one(lx);

	if (lx->nframes > 1 && lx->macro_tokens && ++*lx->macro_tokens > LEX_MAX_MACRO_TOKENS) {
		lx->nframes = 1;
		t.type = TOK_ERROR;
		t.error = "macro expansion too large";
	}
	return t;
}

struct token lexer_next(struct lexer *lx)
{
	if (lx->has_peek) {
		lx->has_peek = false;
		return lx->peeked;
	}
	return lex_counted(lx);
}

struct token lexer_peek(struct lexer *lx)
{
	if (!lx->has_peek) {
		lx->peeked = lex_counted(lx);
		lx->has_peek = true;
	}
	return lx->peeked;
}
