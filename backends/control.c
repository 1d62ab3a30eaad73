/* Control socket: run directory, server, client. See control.h. */
#include "backends/control.h"
#include "filter/addr.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_RUN_DIR "/run/ifwall"
#define MAX_COMMANDS 32

/* --- run directory ------------------------------------------------------- */

int control_run_dir(char *buf, size_t size)
{
	const char *env = getenv("IFWALL_RUNDIR");
	struct stat self, init;
	int n;

	if (env && *env)
		n = snprintf(buf, size, "%s", env);
	else if (stat("/proc/self/ns/net", &self) == 0 &&
		 (stat("/proc/1/ns/net", &init) < 0 || /* a container: pid 1 is not ours */
		  self.st_ino != init.st_ino || self.st_dev != init.st_dev))
		n = snprintf(buf, size, "%s/netns-%llu", DEFAULT_RUN_DIR,
			     (unsigned long long)self.st_ino);
	else
		n = snprintf(buf, size, "%s", DEFAULT_RUN_DIR);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int control_run_path(const char *name, char *buf, size_t size)
{
	char dir[256];
	int rc = control_run_dir(dir, sizeof(dir));

	if (rc < 0)
		return rc;
	int n = snprintf(buf, size, "%s/%s", dir, name);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* mkdir -p with mode 0755 */
int control_run_dir_create(void)
{
	char dir[256];
	int rc = control_run_dir(dir, sizeof(dir));

	if (rc < 0)
		return rc;
	for (char *p = dir + 1;; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;
			*p = '\0';
			if (mkdir(dir, 0755) < 0 && errno != EEXIST)
				return -errno;
			*p = c;
			if (!c)
				break;
		}
	}
	return 0;
}

/* --- words ----------------------------------------------------------------- */

static bool needs_escape(unsigned char c)
{
	return c == '%' || c < 0x21 || c == 0x7f;
}

static size_t escaped_len(const char *w)
{
	size_t n = 0;

	for (; *w; w++)
		n += needs_escape((unsigned char)*w) ? 3 : 1;
	return n;
}

static char *escape_into(char *out, const char *w)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *w; w++) {
		unsigned char c = (unsigned char)*w;
		if (needs_escape(c)) {
			*out++ = '%';
			*out++ = hex[c >> 4];
			*out++ = hex[c & 15];
		} else {
			*out++ = (char)c;
		}
	}
	return out;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Unescapes in place; false on a malformed escape or a NUL. */
static bool unescape(char *w)
{
	char *out = w;

	for (char *p = w; *p; p++) {
		if (*p != '%') {
			*out++ = *p;
			continue;
		}
		int hi = hexval(p[1]), lo = hi < 0 ? -1 : hexval(p[2]);
		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
			return false;
		*out++ = (char)(hi << 4 | lo);
		p += 2;
	}
	*out = '\0';
	return true;
}

/* --- server ---------------------------------------------------------------- */

struct control_command {
	char name[32];
	control_handler fn;
	void *ctx;
};

struct control_server {
	int fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char backend[32];
	dev_t dev;
	ino_t ino;
	size_t ncommands;
	struct control_command commands[MAX_COMMANDS];
};

struct control_reply {
	int fd;
	bool failed;
};

static void write_all(struct control_reply *r, const char *data, size_t len)
{
	while (len && !r->failed) {
		ssize_t n = send(r->fd, data, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r->failed = true;
			return;
		}
		data += n;
		len -= (size_t)n;
	}
}

static void reply_lines(struct control_reply *r, const char *kind, const char *text)
{
	const char *p = text;

	if (!*p)
		p = "\n";
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char *line = malloc(len + 6);
		if (!line) {
			r->failed = true;
			return;
		}
		/* one send per line: "out TEXT\n" */
		memcpy(line, kind, 3);
		line[3] = ' ';
		memcpy(line + 4, p, len);
		line[len + 4] = '\n';
		write_all(r, line, len + 5);
		free(line);
		p += len;
		if (*p == '\n')
			p++;
	}
}

static void reply_vformat(struct control_reply *r, const char *kind, const char *fmt,
			  va_list ap)
{
	char small[1024];
	va_list copy;

	va_copy(copy, ap);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	if (n >= 0 && (size_t)n < sizeof(small)) {
		reply_lines(r, kind, small);
	} else if (n > 0) {
		char *big = malloc((size_t)n + 1);
		if (big) {
			vsnprintf(big, (size_t)n + 1, fmt, copy);
			reply_lines(r, kind, big);
			free(big);
		}
	}
	va_end(copy);
}

void control_reply_out(struct control_reply *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	reply_vformat(r, "out", fmt, ap);
	va_end(ap);
}

void control_reply_err(struct control_reply *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	reply_vformat(r, "err", fmt, ap);
	va_end(ap);
}

static int connect_to(const char *path, int *fd_out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	*fd_out = fd;
	return 0;
}

static pid_t peer_pid_of(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return 0;
	return cred.pid;
}

int control_server_open(struct control_server **out, const char *backend,
			pid_t *peer_pid)
{
	struct control_server *s;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char name[64];
	int rc, fd;

	*out = NULL;
	if (peer_pid)
		*peer_pid = 0;
	if (!(s = calloc(1, sizeof(*s))))
		return -ENOMEM;
	s->fd = -1;
	snprintf(s->backend, sizeof(s->backend), "%s", backend);
	snprintf(name, sizeof(name), "%s.sock", backend);
	if ((rc = control_run_dir_create()) < 0 ||
	    (rc = control_run_path(name, s->path, sizeof(s->path))) < 0) {
		free(s);
		return rc;
	}
	/* a live server keeps its socket; a stale file is replaced */
	if (connect_to(s->path, &fd) == 0) {
		if (peer_pid)
			*peer_pid = peer_pid_of(fd);
		close(fd);
		free(s);
		return -EADDRINUSE;
	}
	unlink(s->path);
	s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->fd < 0) {
		rc = -errno;
		free(s);
		return rc;
	}
	strcpy(sa.sun_path, s->path);
	mode_t old = umask(0077);
	rc = bind(s->fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	struct stat st;
	if (rc < 0 || chmod(s->path, 0600) < 0 || listen(s->fd, 16) < 0 ||
	    stat(s->path, &st) < 0) {
		rc = -errno;
		close(s->fd);
		free(s);
		return rc;
	}
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	*out = s;
	return 0;
}

int control_server_add(struct control_server *s, const char *name,
		       control_handler fn, void *ctx)
{
	for (size_t i = 0; i < s->ncommands; i++)
		if (!strcmp(s->commands[i].name, name))
			return -EEXIST;
	if (s->ncommands == MAX_COMMANDS || strlen(name) >= sizeof(s->commands[0].name))
		return -ENOSPC;
	struct control_command *c = &s->commands[s->ncommands++];
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->fn = fn;
	c->ctx = ctx;
	return 0;
}

int control_server_fd(const struct control_server *s)
{
	return s->fd;
}

const char *control_server_path(const struct control_server *s)
{
	return s->path;
}

/* Reads one request line (up to CONTROL_MAX_REQUEST bytes) within the
 * deadline. Returns a malloc'd string without the newline, or NULL. */
static char *read_request(int fd)
{
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	struct timespec start;

	clock_gettime(CLOCK_MONOTONIC, &start);
	while (buf) {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		long waited = (now.tv_sec - start.tv_sec) * 1000 +
			      (now.tv_nsec - start.tv_nsec) / 1000000;
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (waited >= 5000 || poll(&p, 1, (int)(5000 - waited)) <= 0)
			break;
		if (len + 1 >= cap) {
			if (cap >= CONTROL_MAX_REQUEST)
				break;
			char *n = realloc(buf, cap * 2);
			if (!n)
				break;
			buf = n;
			cap *= 2;
		}
		ssize_t n = recv(fd, buf + len, cap - 1 - len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		char *nl = memchr(buf + len, '\n', (size_t)n);
		len += (size_t)n;
		if (nl) {
			*nl = '\0';
			if (memchr(buf, '\0', (size_t)(nl - buf)))
				break; /* a NUL inside the line */
			return buf;
		}
	}
	free(buf);
	return NULL;
}

static int split_words(char *line, char **argv, int max)
{
	int argc = 0;

	for (char *p = line; *p;) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		if (argc == max)
			return -1;
		argv[argc++] = p;
		while (*p && *p != ' ')
			p++;
		if (*p)
			*p++ = '\0';
	}
	for (int i = 0; i < argc; i++)
		if (!unescape(argv[i]))
			return -1;
	return argc;
}

static void finish(struct control_reply *r, int code)
{
	char line[32];

	snprintf(line, sizeof(line), "exit %d\n", code);
	write_all(r, line, strlen(line));
}

int control_server_serve(struct control_server *s)
{
	struct control_reply r = { .fd = -1 };
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct timeval tv = { .tv_sec = 5 };
	char **argv = NULL;
	char *line = NULL;

	r.fd = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC);
	if (r.fd < 0)
		return errno == EINTR || errno == EAGAIN || errno == ECONNABORTED ? 0 : -errno;
	/* a client that stops reading cannot hold the process for long */
	setsockopt(r.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	/* the request is read first (bounded in size and time), so that a
	 * refused client still reads its answer rather than a broken pipe */
	line = read_request(r.fd);
	if (getsockopt(r.fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != 0) {
		control_reply_err(&r, "permission denied: the control socket of ifwall run "
				  "--backend %s is for root only", s->backend);
		finish(&r, 3);
		goto out;
	}
	argv = calloc(CONTROL_MAX_WORDS + 1, sizeof(*argv));
	int argc = line && argv ? split_words(line, argv, CONTROL_MAX_WORDS) : -1;
	if (argc <= 0) {
		control_reply_err(&r, "malformed request");
		finish(&r, 2);
		goto out;
	}
	if (!strcmp(argv[0], "ping")) {
		control_reply_out(&r, "%s %ld", s->backend, (long)getpid());
		finish(&r, 0);
		goto out;
	}
	for (size_t i = 0; i < s->ncommands; i++) {
		if (!strcmp(s->commands[i].name, argv[0])) {
			int code = s->commands[i].fn(s->commands[i].ctx, argc, argv, &r);
			finish(&r, code);
			goto out;
		}
	}
	control_reply_err(&r, "unknown command '%s'", argv[0]);
	finish(&r, 2);
out:
	free(argv);
	free(line);
	close(r.fd);
	return 0;
}

void control_server_free(struct control_server *s)
{
	struct stat st;

	if (!s)
		return;
	if (s->fd >= 0) {
		/* only our own file: a successor may have bound the path */
		if (stat(s->path, &st) == 0 && st.st_dev == s->dev && st.st_ino == s->ino)
			unlink(s->path);
		close(s->fd);
	}
	free(s);
}

/* --- client ------------------------------------------------------------------ */

static int send_request(int fd, int argc, char *const argv[])
{
	size_t len = 1;

	for (int i = 0; i < argc; i++)
		len += escaped_len(argv[i]) + 1;
	if (argc <= 0 || argc > CONTROL_MAX_WORDS || len > CONTROL_MAX_REQUEST)
		return -E2BIG;
	char *buf = malloc(len), *p = buf;
	if (!buf)
		return -ENOMEM;
	for (int i = 0; i < argc; i++) {
		if (i)
			*p++ = ' ';
		p = escape_into(p, argv[i]);
	}
	*p++ = '\n';
	size_t left = (size_t)(p - buf);
	const char *q = buf;
	while (left) {
		ssize_t n = send(fd, q, left, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = n < 0 ? -errno : -EPIPE;
			free(buf);
			return e;
		}
		q += n;
		left -= (size_t)n;
	}
	free(buf);
	return 0;
}

static int handle_reply_line(char *line, control_line_fn fn, void *ctx, int *exit_code)
{
	if (!strncmp(line, "out ", 4) || !strcmp(line, "out")) {
		if (fn)
			fn(ctx, false, line[3] ? line + 4 : "");
	} else if (!strncmp(line, "err ", 4) || !strcmp(line, "err")) {
		if (fn)
			fn(ctx, true, line[3] ? line + 4 : "");
	} else if (!strncmp(line, "exit ", 5)) {
		char *end;
		long v = strtol(line + 5, &end, 10);
		if (*end || v < 0 || v > 255)
			return -EPROTO;
		*exit_code = (int)v;
		return 1;
	}
	return 0;
}

int control_call(const char *backend, int argc, char *const argv[],
		 control_line_fn line, void *ctx, int *exit_code,
		 pid_t *server_pid)
{
	char name[64], path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int fd, rc;

	if (server_pid)
		*server_pid = 0;
	snprintf(name, sizeof(name), "%s.sock", backend);
	if ((rc = control_run_path(name, path, sizeof(path))) < 0)
		return rc;
	if ((rc = connect_to(path, &fd)) < 0)
		return rc;
	if (server_pid)
		*server_pid = peer_pid_of(fd);
	if ((rc = send_request(fd, argc, argv)) < 0) {
		close(fd);
		return rc;
	}
	size_t cap = 8192, len = 0;
	char *buf = malloc(cap);
	bool done = false;
	rc = -EPROTO;
	while (buf && !done) {
		if (cap - len < 4096) {
			char *n = realloc(buf, cap * 2);
			if (!n)
				break;
			buf = n;
			cap *= 2;
		}
		ssize_t n = recv(fd, buf + len, cap - len - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		char *start = buf, *nl;
		while ((nl = memchr(start, '\n', len - (size_t)(start - buf)))) {
			*nl = '\0';
			int h = handle_reply_line(start, line, ctx, exit_code);
			start = nl + 1;
			if (h != 0) {
				rc = h < 0 ? h : 0;
				done = true;
				break;
			}
		}
		len -= (size_t)(start - buf);
		memmove(buf, start, len);
	}
	free(buf);
	close(fd);
	return rc;
}

int control_table_call(const char *backend, const char *name, const char *op,
		       const struct ifw_prefix *p, size_t n, control_line_fn line, void *ctx,
		       int *exit_code)
{
	char **argv = calloc(n + 3, sizeof(*argv));
	size_t made = 0;
	int rc = -ENOMEM;

	if (!argv)
		return -ENOMEM;
	argv[0] = "table";
	argv[1] = (char *)name;
	argv[2] = (char *)op;
	for (; made < n; made++) {
		char buf[64];
		if (!(argv[3 + made] = strdup(ifw_prefix_format(&p[made], buf, sizeof(buf)))))
			break;
	}
	if (made == n)
		rc = control_call(backend, (int)(n + 3), argv, line, ctx, exit_code, NULL);
	for (size_t i = 0; i < made; i++)
		free(argv[3 + i]);
	free(argv);
	return rc == -ECONNREFUSED || rc == -ENOTDIR ? -ENOENT : rc;
}
