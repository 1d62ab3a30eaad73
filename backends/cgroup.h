/* The cgroup v2 hierarchy of this host, for the 'cgroup "PATH"' criterion
 * (patterns: filter/cgroup_path.h). The kernel compares cgroup ids, not
 * paths: a cgroup's id is the inode number of its directory on the cgroup2
 * mount (what nftables' 'socket cgroupv2 level N' and sock_diag report),
 * and a cgroup created later (a service restart, every start of a flatpak
 * app or a systemd transient scope) has a new one. This module finds the
 * mount, resolves patterns to the ids of the cgroups they name now, keeps
 * those ids current for a resident process (inotify), and maps an id back
 * to its path. Nothing here prints; errors are -errno. */
#ifndef IFWALL_BACKENDS_CGROUP_H
#define IFWALL_BACKENDS_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The cgroup2 mount point of this mount namespace, from
 * /proc/self/mountinfo (/sys/fs/cgroup on a unified layout,
 * /sys/fs/cgroup/unified on a hybrid one). Returns 0, -ENOENT when there
 * is none, -ENAMETOOLONG, or another -errno. */
int cgroup2_mount(char *buf, size_t size);

/* The cgroups a pattern names now: for a plain path at most one, for a
 * pattern with '*' every directory at its level whose name matches. Their
 * ids are what 'socket cgroupv2 level cgroup_pattern_level(pattern)'
 * compares. */
struct cgroup_ids {
	size_t count;
	uint64_t *ids;        /* sorted, distinct */
};
/* Fills *out (replacing its contents). Returns 0 (count 0 when nothing
 * matches: a cgroup that does not exist yet) or -errno. */
int cgroup_resolve(const char *mount, const char *pattern, struct cgroup_ids *out);
void cgroup_ids_clear(struct cgroup_ids *ids);
bool cgroup_ids_equal(const struct cgroup_ids *a, const struct cgroup_ids *b);

/* --- keeping ids current (a resident process) ----------------------------- */

struct cgroup_watch;

/* Watches the directories the patterns' cgroups are created in (and their
 * ancestors, so a parent created later is noticed) and resolves every
 * pattern once. The patterns are copied. Returns 0 or -errno. */
int cgroup_watch_open(struct cgroup_watch **out, const char *mount,
		      const char *const *patterns, size_t npatterns);
void cgroup_watch_free(struct cgroup_watch *w);
/* Readable when cgroups were created or removed: poll it, then call
 * cgroup_watch_process. */
int cgroup_watch_fd(const struct cgroup_watch *w);
/* Reads the pending events without blocking and resolves the patterns
 * again. Returns how many patterns' ids changed (0: none), or -errno.
 * *changed (npatterns entries, may be NULL) tells which. */
int cgroup_watch_process(struct cgroup_watch *w, bool *changed);
/* The ids pattern i names now (valid until the next process call). */
const struct cgroup_ids *cgroup_watch_ids(const struct cgroup_watch *w, size_t i);

/* --- from an id to a path -------------------------------------------------- */

/* Maps cgroup ids (from sock_diag) to paths relative to the mount by
 * searching the directories rules could name (no capability needed, unlike
 * open_by_handle_at), with a cache of hits and misses (ids are never
 * reused while the system runs; a cgroup does not move). */
struct cgroup_names;
int cgroup_names_open(struct cgroup_names **out, const char *mount);
void cgroup_names_free(struct cgroup_names *n);
/* Empties the cache (the directories to search changed: a reload). */
void cgroup_names_forget(struct cgroup_names *n);
/* The path of cgroup id, searched at and below dirs (relative to the
 * mount, "" for the root); valid until the next call. Returns 0, -ENOENT
 * when it is in none of them (so no pattern below them can match it). */
int cgroup_names_lookup(struct cgroup_names *n, uint64_t id,
			const char *const *dirs, size_t ndirs, const char **path);

#endif
