/* See forwarding_state.h. The file, one record a line:
 *   sysctl PATH VALUE    the value PATH had before ifwall turned it on
 *   pid PID              a process that needs forwarding */
#include "backends/forwarding_state.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_USERS 64
#define PATH_LEN 128
#define VALUE_LEN 16

struct record {
	size_t nsysctls;
	struct {
		char path[PATH_LEN];
		char value[VALUE_LEN];
	} sysctls[FORWARDING_MAX_PATHS];
	size_t nusers;
	int users[MAX_USERS];
};

static int sysctl_read(const char *path, char *value, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, value, len - 1);
	int e = errno;
	close(fd);
	if (n < 0)
		return -e;
	value[n] = '\0';
	value[strcspn(value, "\n")] = '\0';
	return 0;
}

static int sysctl_write(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	size_t len = strlen(value);

	if (fd < 0)
		return -errno;
	ssize_t n = write(fd, value, len);
	int e = errno;
	close(fd);
	return n == (ssize_t)len ? 0 : n < 0 ? -e : -EIO;
}

/* An ifwall process still there (pids are not reused while it lives). */
static bool user_alive(int pid)
{
	char path[64], comm[32] = "";
	FILE *f;
	bool ok;

	if (pid <= 0 || (kill(pid, 0) < 0 && errno == ESRCH))
		return false;
	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	f = fopen(path, "r");
	ok = f && fgets(comm, sizeof(comm), f) && !strncmp(comm, "ifwall", 6);
	if (f)
		fclose(f);
	return ok;
}

static void record_read(int fd, struct record *rec)
{
	char line[PATH_LEN + VALUE_LEN + 16];
	int dup_fd = dup(fd);
	FILE *f = dup_fd >= 0 ? fdopen(dup_fd, "r") : NULL;

	memset(rec, 0, sizeof(*rec));
	if (!f) {
		if (dup_fd >= 0)
			close(dup_fd);
		return;
	}
	rewind(f);
	while (fgets(line, sizeof(line), f)) {
		char path[PATH_LEN], value[VALUE_LEN];
		int pid;

		if (sscanf(line, "sysctl %127s %15s", path, value) == 2 &&
		    rec->nsysctls < FORWARDING_MAX_PATHS && path[0] == '/') {
			snprintf(rec->sysctls[rec->nsysctls].path, PATH_LEN, "%s", path);
			snprintf(rec->sysctls[rec->nsysctls].value, VALUE_LEN, "%s", value);
			rec->nsysctls++;
		} else if (sscanf(line, "pid %d", &pid) == 1 && rec->nusers < MAX_USERS) {
			rec->users[rec->nusers++] = pid;
		}
	}
	fclose(f);
}

static int record_write(int fd, const struct record *rec)
{
	char buf[FORWARDING_MAX_PATHS * (PATH_LEN + VALUE_LEN + 16) + MAX_USERS * 24 + 128];
	size_t len = 0;

	len += (size_t)snprintf(buf + len, sizeof(buf) - len,
				"# ifwall run --backend tun: forwarding to put back when the last run ends\n");
	for (size_t i = 0; i < rec->nsysctls; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "sysctl %s %s\n",
					rec->sysctls[i].path, rec->sysctls[i].value);
	for (size_t i = 0; i < rec->nusers; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "pid %d\n", rec->users[i]);
	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, len, 0) != (ssize_t)len)
		return -errno;
	return fsync(fd) < 0 ? -errno : 0;
}

/* Drops users that are gone (and this process when leaving). */
static void prune_users(struct record *rec, bool leaving)
{
	size_t kept = 0;

	for (size_t i = 0; i < rec->nusers; i++) {
		int pid = rec->users[i];
		if ((leaving && pid == getpid()) || !user_alive(pid))
			continue;
		rec->users[kept++] = pid;
	}
	rec->nusers = kept;
}

static int open_locked(const char *file, bool create)
{
	int fd = open(file, O_RDWR | O_CLOEXEC | O_NOFOLLOW | (create ? O_CREAT : 0), 0600);

	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	return fd;
}

int forwarding_acquire(const char *state_dir, const char *const *paths, size_t n,
		       char *file, size_t filelen, char *err, size_t errlen)
{
	struct stat ns;
	struct record rec;
	int fd, r = 0;

	if (!state_dir)
		state_dir = FORWARDING_STATE_DIR;
	if (n > FORWARDING_MAX_PATHS)
		return -EINVAL;
	if (stat("/proc/self/ns/net", &ns) < 0) {
		snprintf(err, errlen, "reading the network namespace: %s", strerror(errno));
		return -errno;
	}
	if (mkdir(state_dir, 0755) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "creating %s: %s", state_dir, strerror(errno));
		return -errno;
	}
	snprintf(file, filelen, "%s/tun-forwarding.%llu", state_dir,
		 (unsigned long long)ns.st_ino);
	fd = open_locked(file, true);
	if (fd < 0) {
		snprintf(err, errlen, "opening %s: %s", file, strerror(-fd));
		return fd;
	}
	record_read(fd, &rec);
	prune_users(&rec, false);
	if (rec.nusers == 0) {
		/* Left by runs that were killed: keep what is still on. */
		size_t kept = 0;
		for (size_t i = 0; i < rec.nsysctls; i++) {
			char now[VALUE_LEN];
			if (sysctl_read(rec.sysctls[i].path, now, sizeof(now)) == 0 &&
			    !strcmp(now, "1"))
				rec.sysctls[kept++] = rec.sysctls[i];
		}
		rec.nsysctls = kept;
	}
	for (size_t p = 0; p < n && r == 0; p++) {
		char now[VALUE_LEN];
		bool known = false;

		r = sysctl_read(paths[p], now, sizeof(now));
		if (r < 0) {
			snprintf(err, errlen, "reading %s: %s", paths[p], strerror(-r));
			break;
		}
		for (size_t i = 0; i < rec.nsysctls; i++)
			known |= !strcmp(rec.sysctls[i].path, paths[p]);
		if (!known && rec.nsysctls < FORWARDING_MAX_PATHS) {
			snprintf(rec.sysctls[rec.nsysctls].path, PATH_LEN, "%s", paths[p]);
			snprintf(rec.sysctls[rec.nsysctls].value, VALUE_LEN, "%s", now);
			rec.nsysctls++;
		}
		/* Recorded before it is changed: a crash in between is safe. */
		r = record_write(fd, &rec);
		if (r < 0) {
			snprintf(err, errlen, "writing %s: %s", file, strerror(-r));
			break;
		}
		if (strcmp(now, "1")) {
			r = sysctl_write(paths[p], "1");
			if (r < 0)
				snprintf(err, errlen, "enabling forwarding (%s): %s", paths[p],
					 strerror(-r));
		}
	}
	if (r == 0 && rec.nusers < MAX_USERS) {
		rec.users[rec.nusers++] = getpid();
		r = record_write(fd, &rec);
		if (r < 0)
			snprintf(err, errlen, "writing %s: %s", file, strerror(-r));
	}
	close(fd);
	if (r < 0)
		forwarding_release(file);
	return r;
}

int forwarding_release(const char *file)
{
	struct record rec;
	int fd = open_locked(file, false), r = 0;

	if (fd < 0)
		return fd == -ENOENT ? 0 : fd;
	record_read(fd, &rec);
	prune_users(&rec, true);
	if (rec.nusers > 0) {
		r = record_write(fd, &rec);
	} else {
		for (size_t i = 0; i < rec.nsysctls; i++) {
			int w = sysctl_write(rec.sysctls[i].path, rec.sysctls[i].value);
			if (w < 0 && r == 0)
				r = w;
		}
		if (r == 0)
			unlink(file);
	}
	close(fd);
	return r;
}
