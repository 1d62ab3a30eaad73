/* Minimal JSON output helpers shared by the CLI and the userspace backends'
 * logs. */
#ifndef IFWALL_FILTER_JSON_H
#define IFWALL_FILTER_JSON_H
#include <stdio.h>

/* Writes s as a JSON string with quotes and escapes (NULL writes null). */
void json_string(FILE *out, const char *s);

#endif
