/* Numbers as rule files and packet descriptions write them. */
#ifndef IFWALL_FILTER_NUMBER_H
#define IFWALL_FILTER_NUMBER_H

#include <stddef.h>
#include <stdint.h>

/* The n bytes at s as a decimal or 0x hex number (no sign, no blanks).
 * Returns 0, -EINVAL when they are not a number, -ERANGE above max. */
int ifw_parse_number(const char *s, size_t n, uint64_t max, uint64_t *out);

#endif
