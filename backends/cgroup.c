/* The cgroup v2 hierarchy: mount, pattern resolution, watch, id -> path
 * (see cgroup.h). */
#include "backends/cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "filter/cgroup_path.h"

/* --- mount ---------------------------------------------------------------- */

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape_octal(char *s)
{
	char *w = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' &&
		    s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*w++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*w++ = *s;
		}
	}
	*w = '\0';
}

int cgroup2_mount(char *buf, size_t size)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t cap = 0;
	int rc = -ENOENT;

	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE ... */
		char *sep = strstr(line, " - ");
		if (!sep || strncmp(sep + 3, "cgroup2 ", 8) != 0)
			continue;
		char *save = NULL, *field = strtok_r(line, " ", &save);
		for (int i = 1; field && i < 5; i++)
			field = strtok_r(NULL, " ", &save);
		if (!field)
			continue;
		unescape_octal(field);
		if (strlen(field) >= size) {
			rc = -ENAMETOOLONG;
		} else {
			strcpy(buf, field);
			rc = 0;
		}
		break;
	}
	free(line);
	fclose(f);
	return rc;
}

/* --- resolving ------------------------------------------------------------- */

void cgroup_ids_clear(struct cgroup_ids *ids)
{
	free(ids->ids);
	ids->ids = NULL;
	ids->count = 0;
}

bool cgroup_ids_equal(const struct cgroup_ids *a, const struct cgroup_ids *b)
{
	return a->count == b->count &&
	       (a->count == 0 || !memcmp(a->ids, b->ids, a->count * sizeof(*a->ids)));
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int ids_add(struct cgroup_ids *ids, size_t *cap, uint64_t id)
{
	if (ids->count == *cap) {
		size_t ncap = *cap ? *cap * 2 : 8;
		uint64_t *n = realloc(ids->ids, ncap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		ids->ids = n;
		*cap = ncap;
	}
	ids->ids[ids->count++] = id;
	return 0;
}

int cgroup_resolve(const char *mount, const char *pattern, struct cgroup_ids *out)
{
	char dir[PATH_MAX];
	struct cgroup_ids ids = { 0 };
	size_t cap = 0;
	struct stat st;
	int rc = 0;

	if (!cgroup_pattern_is_glob(pattern)) {
		if (snprintf(dir, sizeof(dir), "%s/%s", mount, pattern) >= (int)sizeof(dir))
			return -ENAMETOOLONG;
		if (stat(dir, &st) == 0) {
			if (S_ISDIR(st.st_mode))
				rc = ids_add(&ids, &cap, (uint64_t)st.st_ino);
		} else if (errno != ENOENT && errno != ENOTDIR) {
			rc = -errno;
		}
	} else {
		const char *slash = strrchr(pattern, '/');
		int dlen = slash ? (int)(slash - pattern) : 0;
		if (snprintf(dir, sizeof(dir), "%s/%.*s", mount, dlen, pattern) >= (int)sizeof(dir))
			return -ENAMETOOLONG;
		DIR *d = opendir(dir);
		if (!d) {
			if (errno != ENOENT && errno != ENOTDIR)
				rc = -errno;
		} else {
			struct dirent *e;
			char rel[IFW_CGROUP_PATH_MAX + NAME_MAX + 2];
			while (rc == 0 && (e = readdir(d))) {
				if (e->d_name[0] == '.' || (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN))
					continue;
				snprintf(rel, sizeof(rel), "%.*s%s%s", dlen, pattern,
					 dlen ? "/" : "", e->d_name);
				if (!cgroup_pattern_matches(pattern, rel))
					continue;
				if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
				    !S_ISDIR(st.st_mode))
					continue; /* gone meanwhile, or a file */
				rc = ids_add(&ids, &cap, (uint64_t)st.st_ino);
			}
			closedir(d);
		}
	}
	if (rc < 0) {
		cgroup_ids_clear(&ids);
		return rc;
	}
	if (ids.count)
		qsort(ids.ids, ids.count, sizeof(*ids.ids), cmp_u64);
	cgroup_ids_clear(out);
	*out = ids;
	return 0;
}

/* --- watch ------------------------------------------------------------------- */

struct cgroup_watch {
	int fd;
	char *mount;
	size_t npatterns;
	char **patterns;
	struct cgroup_ids *ids;
};

#define WATCH_EVENTS (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | \
		      IN_ONLYDIR | IN_DELETE_SELF)

/* Watches the mount and each ancestor of the pattern's level that exists
 * now (a watch on an inode already watched is the same watch). */
static int watch_ancestors(struct cgroup_watch *w, const char *pattern)
{
	char path[PATH_MAX];
	size_t mlen = strlen(w->mount);

	if (mlen >= sizeof(path))
		return -ENAMETOOLONG;
	memcpy(path, w->mount, mlen + 1);
	if (inotify_add_watch(w->fd, path, WATCH_EVENTS) < 0)
		return -errno;
	const char *p = pattern, *slash;
	while ((slash = strchr(p, '/'))) {
		size_t n = (size_t)(slash - p);
		if (mlen + 1 + n >= sizeof(path))
			return -ENAMETOOLONG;
		path[mlen++] = '/';
		memcpy(path + mlen, p, n);
		mlen += n;
		path[mlen] = '\0';
		if (inotify_add_watch(w->fd, path, WATCH_EVENTS) < 0) {
			if (errno == ENOENT || errno == ENOTDIR)
				return 0; /* created later: its parent's watch tells */
			return -errno;
		}
		p = slash + 1;
	}
	return 0;
}

static int rescan(struct cgroup_watch *w, bool *changed)
{
	int nchanged = 0;

	for (size_t i = 0; i < w->npatterns; i++) {
		struct cgroup_ids fresh = { 0 };
		int rc = watch_ancestors(w, w->patterns[i]);
		if (rc == 0)
			rc = cgroup_resolve(w->mount, w->patterns[i], &fresh);
		if (rc < 0)
			return rc;
		bool differs = !cgroup_ids_equal(&fresh, &w->ids[i]);
		if (changed)
			changed[i] = differs;
		if (differs) {
			nchanged++;
			cgroup_ids_clear(&w->ids[i]);
			w->ids[i] = fresh;
		} else {
			cgroup_ids_clear(&fresh);
		}
	}
	return nchanged;
}

void cgroup_watch_free(struct cgroup_watch *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	for (size_t i = 0; i < w->npatterns; i++) {
		free(w->patterns[i]);
		if (w->ids)
			cgroup_ids_clear(&w->ids[i]);
	}
	free(w->patterns);
	free(w->ids);
	free(w->mount);
	free(w);
}

int cgroup_watch_open(struct cgroup_watch **out, const char *mount,
		      const char *const *patterns, size_t npatterns)
{
	struct cgroup_watch *w = calloc(1, sizeof(*w));
	int rc;

	*out = NULL;
	if (!w)
		return -ENOMEM;
	w->fd = -1;
	w->mount = strdup(mount);
	w->patterns = calloc(npatterns ? npatterns : 1, sizeof(*w->patterns));
	w->ids = calloc(npatterns ? npatterns : 1, sizeof(*w->ids));
	if (!w->mount || !w->patterns || !w->ids) {
		cgroup_watch_free(w);
		return -ENOMEM;
	}
	for (; w->npatterns < npatterns; w->npatterns++) {
		w->patterns[w->npatterns] = strdup(patterns[w->npatterns]);
		if (!w->patterns[w->npatterns]) {
			cgroup_watch_free(w);
			return -ENOMEM;
		}
	}
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->fd < 0) {
		rc = -errno;
		cgroup_watch_free(w);
		return rc;
	}
	rc = rescan(w, NULL);
	if (rc < 0) {
		cgroup_watch_free(w);
		return rc;
	}
	*out = w;
	return 0;
}

int cgroup_watch_fd(const struct cgroup_watch *w)
{
	return w->fd;
}

int cgroup_watch_process(struct cgroup_watch *w, bool *changed)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool any = false;

	for (;;) {
		ssize_t n = read(w->fd, buf, sizeof(buf));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			return -errno;
		}
		if (n == 0)
			break;
		any = true; /* which event does not matter: every pattern is resolved again */
	}
	if (!any) {
		if (changed)
			memset(changed, 0, w->npatterns * sizeof(*changed));
		return 0;
	}
	return rescan(w, changed);
}

const struct cgroup_ids *cgroup_watch_ids(const struct cgroup_watch *w, size_t i)
{
	return i < w->npatterns ? &w->ids[i] : NULL;
}

/* --- id -> path ----------------------------------------------------------- */

#define NAMES_CACHE 256
#define WALK_MAX_DEPTH 32

struct cgroup_names {
	char *mount;
	struct {
		bool used;
		uint64_t id;
		char *path;      /* NULL: not below any of the directories */
	} cache[NAMES_CACHE];
};

void cgroup_names_forget(struct cgroup_names *n)
{
	for (size_t i = 0; i < NAMES_CACHE; i++) {
		free(n->cache[i].path);
		n->cache[i].path = NULL;
		n->cache[i].used = false;
	}
}

void cgroup_names_free(struct cgroup_names *n)
{
	if (!n)
		return;
	cgroup_names_forget(n);
	free(n->mount);
	free(n);
}

int cgroup_names_open(struct cgroup_names **out, const char *mount)
{
	struct cgroup_names *n = calloc(1, sizeof(*n));

	*out = NULL;
	if (!n || !(n->mount = strdup(mount))) {
		free(n);
		return -ENOMEM;
	}
	*out = n;
	return 0;
}

/* Depth-first search for the directory with inode id below path (len
 * bytes used of PATH_MAX); true with path holding it. */
static bool walk_find(char *path, size_t len, uint64_t id, int depth)
{
	DIR *d;
	struct dirent *e;
	bool found = false;

	if (depth > WALK_MAX_DEPTH || !(d = opendir(path)))
		return false;
	while (!found && (e = readdir(d))) {
		if (e->d_name[0] == '.' || (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN))
			continue;
		size_t n = strlen(e->d_name);
		if (len + 1 + n >= PATH_MAX)
			continue;
		path[len] = '/';
		memcpy(path + len + 1, e->d_name, n + 1);
		if ((uint64_t)e->d_ino == id) {
			found = true;
			break;
		}
		found = walk_find(path, len + 1 + n, id, depth + 1);
	}
	closedir(d);
	if (!found)
		path[len] = '\0';
	return found;
}

int cgroup_names_lookup(struct cgroup_names *n, uint64_t id,
			const char *const *dirs, size_t ndirs, const char **path)
{
	size_t slot = (size_t)(id % NAMES_CACHE);
	char buf[PATH_MAX];
	size_t mlen = strlen(n->mount);
	struct stat st;

	if (n->cache[slot].used && n->cache[slot].id == id) {
		*path = n->cache[slot].path;
		return *path ? 0 : -ENOENT;
	}
	char *found = NULL;
	for (size_t i = 0; i < ndirs && !found; i++) {
		int len = snprintf(buf, sizeof(buf), "%s%s%s", n->mount, *dirs[i] ? "/" : "", dirs[i]);
		if (len < 0 || len >= (int)sizeof(buf))
			continue;
		if (stat(buf, &st) == 0 && (uint64_t)st.st_ino == id) {
			found = buf;
			break;
		}
		if (walk_find(buf, (size_t)len, id, 0))
			found = buf;
	}
	char *copy = NULL;
	if (found && !(copy = strdup(found[mlen] ? found + mlen + 1 : "")))
		return -ENOMEM;
	free(n->cache[slot].path);
	n->cache[slot].used = true;
	n->cache[slot].id = id;
	n->cache[slot].path = copy;
	*path = copy;
	return copy ? 0 : -ENOENT;
}
