/* cgroup v2 path patterns, as the 'cgroup "PATH"' criterion writes them:
 * a path relative to the hierarchy's root ("system.slice/foo.service"),
 * no empty, "." or ".." components, and '*' (any run of characters) only in the last
 * component ("app.slice/app-firefox-*.scope"; several are fine). A pattern matches its
 * cgroup and everything below it. Pure string functions: nothing here
 * touches the file system (backends/cgroup.h does). */
#ifndef IFWALL_FILTER_CGROUP_PATH_H
#define IFWALL_FILTER_CGROUP_PATH_H

#include <stdbool.h>
#include <stddef.h>

/* Longest cgroup path the engine carries for a packet (bytes, with NUL). */
#define IFW_CGROUP_PATH_MAX 512

/* Checks a pattern as written (len bytes, not NUL-terminated). Returns
 * NULL when valid, else a message; *bad_offset gets the offset of the
 * problem. A leading or trailing '/' is allowed (cgroup_pattern_normalize
 * drops it). */
const char *cgroup_pattern_check(const char *text, size_t len, size_t *bad_offset);
/* The pattern without its leading and trailing '/', in place. */
void cgroup_pattern_normalize(char *pattern);
/* Number of components: the cgroup level nftables' 'socket cgroupv2
 * level N' compares (the root is level 0). */
unsigned cgroup_pattern_level(const char *pattern);
/* The pattern has a '*' (in its last component). */
bool cgroup_pattern_is_glob(const char *pattern);
/* path (relative to the root, "" for the root) is the pattern's cgroup
 * or below it. */
bool cgroup_pattern_matches(const char *pattern, const char *path);
/* Every cgroup b matches is matched by a. */
bool cgroup_pattern_covers(const char *a, const char *b);

#endif
