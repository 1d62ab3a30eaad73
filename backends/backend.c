/* The userspace backends' common contract, see backend.h. */
#include "backends/backend.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "filter/logline.h"

/* --- errors ---------------------------------------------------------------- */

void backend_error_clear(struct backend_error *err)
{
	if (err)
		memset(err, 0, sizeof(*err));
}

int backend_error_set(struct backend_error *err, int code, int errnum, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!err)
		return code;
	err->code = code;
	err->file = NULL;
	err->line = 0;
	err->rule_text = NULL;
	va_start(ap, fmt);
	n = vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	if (errnum && n >= 0 && (size_t)n < sizeof(err->message))
		snprintf(err->message + n, sizeof(err->message) - (size_t)n, ": %s",
			 strerror(errnum));
	return code;
}

/* --- signals --------------------------------------------------------------- */

int backend_signals_begin(struct backend_signals *s, const struct backend_stop *how,
			  struct backend_error *err)
{
	sigset_t mask;

	memset(s, 0, sizeof(*s));
	s->fd = -1;
	s->stop = how ? how->stop : NULL;
	s->reload = how ? how->reload : NULL;
	sigemptyset(&mask);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	int rc = pthread_sigmask(SIG_BLOCK, &mask, &s->old);
	if (rc != 0)
		return backend_error_set(err, -rc, rc, "blocking signals");
	s->wait_mask = s->old;
	if (s->stop) {
		sigdelset(&s->wait_mask, SIGHUP);
		sigdelset(&s->wait_mask, SIGTERM);
		sigdelset(&s->wait_mask, SIGINT);
		return 0;
	}
	s->fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (s->fd < 0) {
		int e = errno;
		pthread_sigmask(SIG_SETMASK, &s->old, NULL);
		return backend_error_set(err, -e, e, "signalfd");
	}
	s->wait_mask = s->old;
	sigaddset(&s->wait_mask, SIGHUP);
	sigaddset(&s->wait_mask, SIGTERM);
	sigaddset(&s->wait_mask, SIGINT);
	return 0;
}

int backend_signals_fd(const struct backend_signals *s)
{
	return s->fd;
}

int backend_signals_wait(struct backend_signals *s, struct pollfd *fds, nfds_t n,
			 int timeout_ms)
{
	struct timespec ts = {
		.tv_sec = timeout_ms / 1000,
		.tv_nsec = (long)(timeout_ms % 1000) * 1000000L,
	};

	return ppoll(fds, n, timeout_ms < 0 ? NULL : &ts, &s->wait_mask);
}

unsigned backend_signals_take(struct backend_signals *s, bool fd_ready)
{
	unsigned what = 0;

	if (s->fd >= 0) {
		struct signalfd_siginfo si;
		while (fd_ready && read(s->fd, &si, sizeof(si)) == sizeof(si))
			what |= si.ssi_signo == SIGHUP ? BACKEND_SIGNAL_RELOAD : BACKEND_SIGNAL_STOP;
		return what;
	}
	if (s->reload && *s->reload) {
		*s->reload = 0;
		what |= BACKEND_SIGNAL_RELOAD;
	}
	if (s->stop && *s->stop)
		what |= BACKEND_SIGNAL_STOP;
	return what;
}

void backend_signals_end(struct backend_signals *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	pthread_sigmask(SIG_SETMASK, &s->old, NULL);
}

/* --- the common handle ------------------------------------------------------------ */

const struct ruleset *backend_ruleset(const struct backend *be)
{
	return be ? be->rs : NULL;
}

int backend_set_ruleset(struct backend *be, const struct ruleset *rs,
			struct backend_error *err)
{
	if (!be || !rs)
		return backend_error_set(err, -EINVAL, 0, "no backend or no rule set");
	return be->ops->set_ruleset(be, rs, err);
}

int backend_run(struct backend *be, const struct backend_stop *stop,
		struct backend_error *err)
{
	if (!be)
		return backend_error_set(err, -EINVAL, 0, "no backend");
	return be->ops->run(be, stop, err);
}

void backend_free(struct backend *be)
{
	if (be)
		be->ops->free(be);
}

void backend_swap_ruleset(struct backend *be, const struct ruleset *rs)
{
	struct ruleset *old = be->rs;

	be->rs = ruleset_ref(rs);
	ruleset_free(old);
}

void backend_message(const struct backend *be, const char *fmt, ...)
{
	va_list ap;

	if (!be->io.messages)
		return;
	va_start(ap, fmt);
	vfprintf(be->io.messages, fmt, ap);
	va_end(ap);
	fputc('\n', be->io.messages);
	fflush(be->io.messages);
}

void backend_call_reload(struct backend *be, uint64_t *reloads, uint64_t *failures)
{
	if (!be->io.reload)
		return;
	if (be->io.reload(be->io.reload_ctx) < 0)
		(*failures)++;
	else
		(*reloads)++;
}

int backend_table_change(struct backend *be, const char *name, enum addrset_op op,
			 const struct ifw_prefix *p, size_t n, size_t *changed)
{
	struct ruleset *next = NULL;
	int rc;

	if (!be->rs)
		return -EAGAIN;
	rc = ruleset_table_change(be->rs, name, op, p, n, &next, changed);
	if (rc < 0)
		return rc;
	rc = be->ops->set_ruleset(be, next, NULL);
	ruleset_free(next); /* the backend holds its own reference */
	if (rc < 0)
		return rc;
	backend_message(be, "%s: table <%s> changed, %d flows changed verdict", be->name,
			name, rc);
	return 0;
}

/* --- reloading ----------------------------------------------------------------- */

int backend_reload_source(void *source)
{
	struct backend_reload_source *s = source;

	return backend_reload(s->backend, &s->file, NULL);
}

int backend_reload(struct backend *be, const struct backend_rules_file *f,
		   struct backend_error *err)
{
	struct diag_list diags = { 0 };
	struct ruleset *next = NULL;
	bool untrusted = false;
	int rc;

	if (!f->path)
		return backend_error_set(err, -EINVAL, 0, "no rule file to reload");
	if (f->parse_lock)
		pthread_mutex_lock(f->parse_lock);
	next = ruleset_from_file(f->path, &diags);
	if (f->parse_lock)
		pthread_mutex_unlock(f->parse_lock);
	if (next && f->check_trust && ruleset_check_trust(next, DIAG_ERROR, &diags)) {
		ruleset_free(next);
		next = NULL;
		untrusted = true;
	}
	if (!next) {
		int sys = diag_list_sys_errno(&diags);
		rc = sys > 0 ? -sys : diags.errors ? -EINVAL : -ENOMEM;
		backend_message(be, "%s: reload of %s failed; keeping the previous rules%s",
				be->name, f->path, untrusted ?
				" (refusing rule files an unprivileged user could change)" : "");
		backend_error_set(err, rc, 0, "reload of %s failed", f->path);
	} else {
		struct backend_error e = { 0 };
		rc = be->ops->set_ruleset(be, next, &e);
		if (rc >= 0)
			backend_message(be, "%s: rules reloaded from %s (%zu rules), %d flows "
					"changed verdict", be->name, f->path, next->nrules, rc);
		else
			backend_message(be, "%s: reload of %s failed; keeping the previous "
					"rules: %s", be->name, f->path, e.message);
		if (rc < 0 && err)
			*err = e;
		ruleset_free(next); /* the backend holds its own reference */
	}
	if (diags.count) {
		if (f->print_diags)
			f->print_diags(f->print_ctx, &diags);
		else if (be->io.messages)
			diag_list_print(be->io.messages, &diags);
	}
	diag_list_clear(&diags);
	if (be->io.log) {
		log_reload_write_json(be->io.log, be->name, f->path, rc >= 0,
				      rc >= 0 ? (size_t)rc : 0);
		fflush(be->io.log);
	}
	return rc;
}
