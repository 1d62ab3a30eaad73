/* The tokenizer of the rule language: text -> tokens with locations.
 * Macros ($NAME) are substituted here by lexing their value in place; the
 * tokens of a value carry the location of the $NAME that produced them. */
#ifndef IFWALL_RULES_LEXER_H
#define IFWALL_RULES_LEXER_H

#include "rules/internal.h"

enum tok_type {
	TOK_EOF = 0,
	TOK_NEWLINE,  /* end of a statement (unless inside { }) */
	TOK_WORD,     /* keywords, names, numbers, addresses, port ranges */
	TOK_STRING,   /* "..."; text is the raw contents without quotes */
	TOK_TABLE,    /* <name>; text is the name */
	TOK_LBRACE,
	TOK_RBRACE,
	TOK_LPAREN,
	TOK_RPAREN,
	TOK_BANG,
	TOK_COMMA,
	TOK_EQUALS,
	TOK_ERROR,    /* a lexical error; error says which */
};

/* A trailing comment '# PATH:LINE' (the origin of a printed rule). */
struct origin_marker {
	bool present;
	const char *path;
	size_t path_len;
	int line;
};

struct token {
	enum tok_type type;
	const char *text;
	size_t len;
	struct loc loc;
	struct origin_marker marker; /* NEWLINE and EOF: marker before them */
	const char *error;           /* TOK_ERROR */
};

struct macro {
	char *name;
	char *value;
	struct loc loc;
};

struct macro_table {
	struct macro *items;
	size_t count, cap;
};

const struct macro *macro_lookup(const struct macro_table *t, const char *name,
				 size_t len);

#define LEX_MAX_FRAMES 17
#define LEX_MAX_MACRO_TOKENS (1u << 20)

struct lex_frame {
	const char *text;
	size_t len, pos;
	bool fixed;         /* every token gets 'loc' (macro values) */
	struct loc loc;
};

struct lexer {
	const struct src *src;
	int line;
	size_t line_start;
	struct lex_frame frames[LEX_MAX_FRAMES];
	int nframes;
	const struct macro_table *macros;
	/* Tokens produced by macro values in this parse, shared by the lexers
	 * of included files: bounds pathological nesting ($a = "$b $b ..."). */
	size_t *macro_tokens;
	char errbuf[160];
	struct token peeked;
	bool has_peek;
};

/* Lexes a whole source, tracking lines and columns. */
void lexer_init(struct lexer *lx, const struct src *src,
		const struct macro_table *macros);
/* Lexes text whose tokens all get the location 'loc' (generated rules). */
void lexer_init_fixed(struct lexer *lx, const char *text, size_t len,
		      const struct loc *loc, const struct macro_table *macros);
struct token lexer_next(struct lexer *lx);
struct token lexer_peek(struct lexer *lx);

#endif
