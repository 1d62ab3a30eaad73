/* Rule files an unprivileged user could have changed. ifwall runs as root
 * and decides what may leave the host: a rule file (or an include, or a
 * table file) that someone else could write, or replace, is a way around
 * the kill switch.
 *
 * A file is opened by walking its path from / one component at a time
 * (openat with O_NOFOLLOW; symbolic links are read and their targets
 * walked the same way), and what each step opened is checked (fstat), as
 * ssh's StrictModes does for its files, so the checks are about the file
 * read and every directory that leads to it, not about a name that may
 * since point elsewhere:
 *   - every directory is owned by root and writable by neither its group
 *     nor others, except a sticky directory owned by root (/tmp), where
 *     only an entry's owner can rename or delete it: the entry taken from
 *     it (a directory, a link or the file) must then be owned by root;
 *   - a symbolic link is followed; in a sticky directory it must be owned
 *     by root (in any other trusted directory nobody else can replace it);
 *   - the file is owned by root and writable by neither group nor others.
 * The first problem found is recorded; the file is still read (check only
 * warns; load and run refuse). A path that cannot be walked (a /proc magic
 * link such as /dev/stdin) is read as given and counts as unchecked. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rules/internal.h"
#include "rules/ruleset.h"

#define MAX_LINKS 40
#define MAX_DEPTH 256

static bool writable_by_others(mode_t mode)
{
	return mode & (S_IWGRP | S_IWOTH);
}

/* Records the first problem: what (a static reason) about where. */
static void weak(struct rs_trust *t, const char *why, const char *where, const struct stat *st)
{
	if (t->why)
		return;
	t->why = why;
	t->where = where ? strdup(where) : NULL;
	t->uid = st ? st->st_uid : 0;
	t->mode = st ? st->st_mode : 0;
}

/* An entry taken from a directory whose status is dir. */
static void check_entry(struct rs_trust *t, const struct stat *dir, const struct stat *st,
			const char *where, bool is_file)
{
	if (writable_by_others(dir->st_mode) && (dir->st_mode & S_ISVTX) && st->st_uid != 0)
		weak(t, "is not owned by root, in a sticky directory others may write to", where, st);
	if (S_ISLNK(st->st_mode))
		return;
	if (st->st_uid != 0)
		weak(t, is_file ? "is not owned by root" : "is a directory not owned by root",
		     is_file ? NULL : where, st);
	else if (is_file && (st->st_mode & S_IWOTH))
		weak(t, "is writable by others", NULL, st);
	else if (is_file && (st->st_mode & S_IWGRP))
		weak(t, "is writable by its group", NULL, st);
	else if (!is_file && writable_by_others(st->st_mode) && !(st->st_mode & S_ISVTX))
		weak(t, "is a directory others may write to", where, st);
}

struct walk {
	int fds[MAX_DEPTH];
	struct stat st[MAX_DEPTH];
	size_t depth;          /* fds[depth - 1] is the current directory */
	char shown[PATH_MAX];  /* the path walked so far, for messages */
};

static void walk_pop(struct walk *w)
{
	if (w->depth <= 1)
		return; /* /.. is / */
	close(w->fds[--w->depth]);
	char *slash = strrchr(w->shown, '/');
	if (slash)
		*(slash == w->shown ? slash + 1 : slash) = '\0';
}

static void walk_to_root(struct walk *w)
{
	while (w->depth > 1)
		walk_pop(w);
}

static void walk_free(struct walk *w)
{
	while (w->depth > 0)
		close(w->fds[--w->depth]);
}

/* rest = prefix "/" rest */
static int prepend(char **rest, const char *prefix)
{
	char *joined;

	if (asprintf(&joined, "%s/%s", prefix, *rest) < 0)
		return -ENOMEM;
	free(*rest);
	*rest = joined;
	return 0;
}

static int walk_open(const char *path, int flags, struct rs_trust *t)
{
	struct walk w = { .depth = 0 };
	char *rest = strdup(path), *cursor;
	int links = 0, fd = -1, r = 0;

	if (!rest)
		return -ENOMEM;
	if (path[0] != '/') {
		char cwd[PATH_MAX];
		if (!getcwd(cwd, sizeof(cwd))) {
			free(rest);
			return -errno;
		}
		if (prepend(&rest, cwd) < 0) {
			free(rest);
			return -ENOMEM;
		}
	}
	w.fds[0] = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (w.fds[0] < 0 || fstat(w.fds[0], &w.st[0]) < 0) {
		r = -errno;
		if (w.fds[0] >= 0)
			close(w.fds[0]);
		free(rest);
		return r;
	}
	w.depth = 1;
	strcpy(w.shown, "/");
	if (w.st[0].st_uid != 0 || writable_by_others(w.st[0].st_mode))
		weak(t, "is a directory others may write to", "/", &w.st[0]);

	cursor = rest;
	for (;;) {
		while (*cursor == '/')
			cursor++;
		if (!*cursor) {
			r = -EISDIR; /* the path ends in a directory */
			break;
		}
		char *end = strchr(cursor, '/');
		char name[NAME_MAX + 1];
		size_t n = end ? (size_t)(end - cursor) : strlen(cursor);
		if (n > NAME_MAX) {
			r = -ENAMETOOLONG;
			break;
		}
		memcpy(name, cursor, n);
		name[n] = '\0';
		cursor += n;
		while (*cursor == '/')
			cursor++;
		bool last = !*cursor;
		if (!strcmp(name, ".")) {
			if (last) {
				r = -EISDIR;
				break;
			}
			continue;
		}
		if (!strcmp(name, "..")) {
			walk_pop(&w);
			if (last) {
				r = -EISDIR;
				break;
			}
			continue;
		}
		int dir = w.fds[w.depth - 1];
		const struct stat *dir_st = &w.st[w.depth - 1];
		char here[PATH_MAX + NAME_MAX + 2];
		snprintf(here, sizeof(here), "%s%s%s", w.shown,
			 w.shown[strlen(w.shown) - 1] == '/' ? "" : "/", name);
		struct stat st;
		if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			r = -errno;
			break;
		}
		if (S_ISLNK(st.st_mode)) {
			char target[PATH_MAX];
			ssize_t len;
			if (++links > MAX_LINKS) {
				r = -ELOOP;
				break;
			}
			check_entry(t, dir_st, &st, here, false);
			len = readlinkat(dir, name, target, sizeof(target) - 1);
			if (len < 0) {
				r = -errno;
				break;
			}
			target[len] = '\0';
			char *remaining = strdup(cursor);
			if (!remaining) {
				r = -ENOMEM;
				break;
			}
			bool link_last = !*remaining;
			free(rest);
			rest = remaining;
			if (prepend(&rest, target) < 0) {
				r = -ENOMEM;
				break;
			}
			if (link_last) /* no trailing '/': the target is the file */
				rest[strlen(rest) - 1] = '\0';
			cursor = rest;
			if (target[0] == '/')
				walk_to_root(&w);
			continue;
		}
		if (last) {
			fd = openat(dir, name, flags | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
			if (fd < 0 || fstat(fd, &st) < 0) {
				r = -errno;
				break;
			}
			check_entry(t, dir_st, &st, here, true);
			break;
		}
		if (w.depth == MAX_DEPTH) {
			r = -ENAMETOOLONG;
			break;
		}
		int sub = openat(dir, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0 || fstat(sub, &w.st[w.depth]) < 0) {
			r = -errno;
			if (sub >= 0)
				close(sub);
			break;
		}
		check_entry(t, dir_st, &w.st[w.depth], here, false);
		w.fds[w.depth++] = sub;
		if (strlen(here) >= sizeof(w.shown)) {
			r = -ENAMETOOLONG;
			break;
		}
		memcpy(w.shown, here, strlen(here) + 1);
	}
	walk_free(&w);
	free(rest);
	if (r < 0 && fd >= 0)
		close(fd);
	return r < 0 ? r : fd;
}

int trusted_open(const char *path, int flags, struct rs_trust *t)
{
	memset(t, 0, sizeof(*t));
	int fd = walk_open(path, flags, t);

	if (fd >= 0)
		return fd;
	/* Not walkable (a /proc magic link, a path too long): read it as
	 * given, unchecked. Errors of the file itself are the plain open's. */
	int plain = open(path, flags | O_CLOEXEC | O_NOCTTY);
	if (plain < 0) {
		rs_trust_clear(t);
		return -errno;
	}
	rs_trust_clear(t);
	struct stat st;
	if (fstat(plain, &st) == 0)
		weak(t, "could not be checked (its path cannot be walked from /)", NULL, &st);
	else
		weak(t, "could not be checked (its path cannot be walked from /)", NULL, NULL);
	return plain;
}

void rs_trust_clear(struct rs_trust *t)
{
	free(t->where);
	memset(t, 0, sizeof(*t));
}

size_t ruleset_check_trust(const struct ruleset *rs, enum diag_severity sev,
			   struct diag_list *diags)
{
	size_t found = 0;

	if (!rs)
		return 0;
	for (size_t i = 0; i < rs->nsources; i++) {
		const struct rs_source *s = &rs->sources[i];

		if (!s->trust.why)
			continue;
		found++;
		const char *tail = sev == DIAG_ERROR ?
			"; refusing it (chown root and chmod go-w, on the file and every "
			"directory above it)" : "";
		if (s->trust.where)
			diag_add_file(diags, sev, s->path,
				      "%s %s (uid %u, mode %04o): an unprivileged user could change the rules%s",
				      s->trust.where, s->trust.why, s->trust.uid,
				      s->trust.mode & 07777, tail);
		else
			diag_add_file(diags, sev, s->path,
				      "%s (uid %u, mode %04o): an unprivileged user could change the rules%s",
				      s->trust.why, s->trust.uid, s->trust.mode & 07777, tail);
	}
	return found;
}
