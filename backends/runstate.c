/* RUNDIR/state, see runstate.h. */
#include "backends/runstate.h"
#include "backends/control.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int runstate_write(const struct runstate *st)
{
	char path[PATH_MAX], tmp[PATH_MAX + 16];
	int rc;

	if ((rc = control_run_dir_create()) < 0 ||
	    (rc = control_run_path("state", path, sizeof(path))) < 0)
		return rc;
	snprintf(tmp, sizeof(tmp), "%s.%ld", path, (long)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	FILE *f = fdopen(fd, "w");
	if (!f) {
		rc = -errno;
		close(fd);
		unlink(tmp);
		return rc;
	}
	fprintf(f, "backend=%s\nmode=%s\nrules=%s\napplied=%lld\npid=%ld\n",
		st->backend, st->mode, st->rules, st->applied, st->pid);
	if (fflush(f) != 0 || fsync(fd) != 0) {
		rc = -errno;
		fclose(f);
		unlink(tmp);
		return rc;
	}
	if (fclose(f) != 0 || rename(tmp, path) < 0) {
		rc = -errno;
		unlink(tmp);
		return rc;
	}
	return 0;
}

static void copy_value(char *dst, size_t size, const char *v)
{
	snprintf(dst, size, "%s", v);
}

int runstate_read(struct runstate *st)
{
	char path[PATH_MAX], line[PATH_MAX + 32];
	int rc;

	memset(st, 0, sizeof(*st));
	if ((rc = control_run_path("state", path, sizeof(path))) < 0)
		return rc;
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	bool have_backend = false;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		char *eq = strchr(line, '=');
		if (!eq)
			continue;
		*eq = '\0';
		const char *k = line, *v = eq + 1;
		if (!strcmp(k, "backend")) {
			copy_value(st->backend, sizeof(st->backend), v);
			have_backend = true;
		} else if (!strcmp(k, "mode")) {
			copy_value(st->mode, sizeof(st->mode), v);
		} else if (!strcmp(k, "rules")) {
			copy_value(st->rules, sizeof(st->rules), v);
		} else if (!strcmp(k, "applied")) {
			st->applied = strtoll(v, NULL, 10);
		} else if (!strcmp(k, "pid")) {
			st->pid = strtol(v, NULL, 10);
		}
	}
	fclose(f);
	return have_backend ? 0 : -EPROTO;
}

int runstate_remove(void)
{
	char path[PATH_MAX];
	int rc = control_run_path("state", path, sizeof(path));

	if (rc < 0)
		return rc;
	return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
}
