/* IFSPEC on a command line (replay --leaks '!wg0'), in the rule language's
 * syntax and parsed by the same code as in a rule file (rules.md):
 *
 *   IFSPEC  NAME | PREFIX* | any | type TYPE | !IFSPEC | { IFSPEC ... }
 *
 * (no macros: there is no rule file around it). */
#ifndef IFWALL_RULES_IFSPEC_PARSE_H
#define IFWALL_RULES_IFSPEC_PARSE_H

#include <stddef.h>

#include "rules/ruleset.h"

/* Parses text into *out (items allocated; release with ifmatch_release).
 * Returns 0, -EINVAL with a message in err (and its 1-based column in *col,
 * when col is not NULL), or -ENOMEM. *out is left empty on error. */
int ifmatch_parse(const char *text, struct ifmatch *out, char *err,
		  size_t errsize, int *col);
/* Frees the items of m and empties it. Accepts NULL. */
void ifmatch_release(struct ifmatch *m);

#endif
