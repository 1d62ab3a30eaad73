/* Numbers, see number.h. */
#include "filter/number.h"

#include <ctype.h>
#include <errno.h>

int ifw_parse_number(const char *s, size_t n, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	int base = 10;
	size_t i = 0;

	if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		i = 2;
	}
	if (i == n)
		return -EINVAL;
	for (; i < n; i++) {
		int d;
		unsigned char c = (unsigned char)s[i];
		if (isdigit(c))
			d = c - '0';
		else if (base == 16 && isxdigit(c))
			d = tolower(c) - 'a' + 10;
		else
			return -EINVAL;
		if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base)
			v = UINT64_MAX; /* saturate: still reported as too big */
		else
			v = v * (uint64_t)base + (uint64_t)d;
	}
	if (v > max)
		return -ERANGE;
	*out = v;
	return 0;
}
