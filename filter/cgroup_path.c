/* cgroup v2 path patterns: checking, levels and matching (pure strings). */
#include <string.h>

#include "filter/cgroup_path.h"

const char *cgroup_pattern_check(const char *text, size_t len, size_t *bad_offset)
{
	size_t start = 0, end = len;

	*bad_offset = 0;
	while (start < end && text[start] == '/')
		start++;
	while (end > start && text[end - 1] == '/')
		end--;
	if (start == end)
		return "the root cgroup matches every process: leave 'cgroup' out";
	if (len >= IFW_CGROUP_PATH_MAX) {
		*bad_offset = IFW_CGROUP_PATH_MAX - 1;
		return "cgroup path too long";
	}
	for (size_t i = start; i < end;) {
		size_t j = i;
		while (j < end && text[j] != '/')
			j++;
		size_t n = j - i;
		*bad_offset = i;
		if (n == 0)
			return "empty component in cgroup path";
		if ((n == 1 && text[i] == '.') || (n == 2 && text[i] == '.' && text[i + 1] == '.'))
			return "'.' and '..' are not allowed in a cgroup path";
		for (size_t k = i; k < j; k++) {
			unsigned char c = (unsigned char)text[k];
			*bad_offset = k;
			if (c < 0x20 || c == 0x7f)
				return "control character in cgroup path";
			if (c == '*' && j != end)
				return "'*' may only be in the last component of a cgroup path";
		}
		i = j + 1;
	}
	*bad_offset = 0;
	return NULL;
}

void cgroup_pattern_normalize(char *pattern)
{
	size_t start = 0, end = strlen(pattern);

	while (pattern[start] == '/')
		start++;
	while (end > start && pattern[end - 1] == '/')
		end--;
	memmove(pattern, pattern + start, end - start);
	pattern[end - start] = '\0';
}

unsigned cgroup_pattern_level(const char *pattern)
{
	unsigned level = *pattern ? 1 : 0;

	for (; *pattern; pattern++)
		if (*pattern == '/')
			level++;
	return level;
}

bool cgroup_pattern_is_glob(const char *pattern)
{
	return strchr(pattern, '*') != NULL;
}

/* The component pattern p (np bytes, '*' matches any run of characters)
 * matches the name s (ns bytes). Greedy with one backtrack point, so
 * O(np * ns) at worst whatever the stars. */
static bool component_matches(const char *p, size_t np, const char *s, size_t ns)
{
	size_t i = 0, j = 0, star = (size_t)-1, mark = 0;

	while (j < ns) {
		if (i < np && p[i] == '*') {
			star = i++;
			mark = j;
		} else if (i < np && p[i] == s[j]) {
			i++;
			j++;
		} else if (star != (size_t)-1) {
			i = star + 1;
			j = ++mark;
		} else {
			return false;
		}
	}
	while (i < np && p[i] == '*')
		i++;
	return i == np;
}

/* Splits off the last component of pattern: *dir_len bytes before it
 * (with its '/'), the component after. */
static const char *last_component(const char *pattern, size_t *dir_len)
{
	const char *slash = strrchr(pattern, '/');

	*dir_len = slash ? (size_t)(slash - pattern) + 1 : 0;
	return pattern + *dir_len;
}

bool cgroup_pattern_matches(const char *pattern, const char *path)
{
	size_t dir_len;
	const char *last = last_component(pattern, &dir_len);

	if (!*pattern)
		return false;
	if (strncmp(path, pattern, dir_len) != 0)
		return false;
	/* The path's component at the pattern's level, then nothing or more
	 * components below it. */
	const char *comp = path + dir_len;
	size_t n = strcspn(comp, "/");
	return component_matches(last, strlen(last), comp, n);
}

bool cgroup_pattern_covers(const char *a, const char *b)
{
	size_t dir_len;
	const char *last = last_component(a, &dir_len);

	if (!*a)
		return true;
	if (strncmp(b, a, dir_len) != 0)
		return false;
	const char *comp = b + dir_len;
	size_t n = strcspn(comp, "/");
	if (memchr(comp, '*', n))
		/* b's own pattern at a's level: only the same pattern surely
		 * stays inside a's. */
		return n == strlen(last) && !memcmp(comp, last, n);
	return component_matches(last, strlen(last), comp, n);
}
