/* The contract the userspace backends (divert, tun) share: one shape, one
 * error type, one way to stop and reload, one place that swaps rule sets.
 *
 * Shape, the same four calls in each backend:
 *   X_open(&x, &options, &err)     sets everything up; no rule set yet
 *   X_set_ruleset(x, rs, &err)     puts rs in force (at any time, also
 *                                  while running: flows are re-checked)
 *   X_run(x, &stop, &err)          the loop, until the stop condition
 *   X_free(x)                      tears down; accepts NULL
 * The caller owns every rule set it hands over: X_set_ruleset takes its
 * own reference (ruleset_ref), released when another set replaces it or at
 * X_free, so the caller may free its rs at any time after the call, and a
 * failed call leaves nothing taken. X_run refuses to start (-EINVAL)
 * before a rule set was set.
 *
 * Each backend's handle starts with a struct backend, through which the
 * code above the backends (the reload, the control socket's 'table', the
 * CLI and libifwall) uses either one the same way. */
#ifndef IFWALL_BACKENDS_BACKEND_H
#define IFWALL_BACKENDS_BACKEND_H

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "filter/addr.h"
#include "rules/ruleset.h"

/* --- errors ---------------------------------------------------------------- */

/* What failed, in every backend (nft's struct nft_error is this type).
 * Caller-allocated; every function taking one accepts NULL. */
struct backend_error {
	int code;              /* the negative errno also returned; 0: none */
	const char *file;      /* the rule the problem is about (its origin,
				* owned by the rule set), or NULL */
	int line;
	const char *rule_text; /* its canonical text, or NULL */
	char message[512];     /* "" when nothing failed */
};

void backend_error_clear(struct backend_error *err);
/* Sets err to code and the formatted message; with errnum not 0,
 * ": strerror(errnum)" is appended. Returns code, so that
 * 'return backend_error_set(err, -errno, errno, ...)' keeps errno's value
 * whatever formatting does to errno. */
int backend_error_set(struct backend_error *err, int code, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* --- stopping and reloading a run -------------------------------------------- */

/* When X_run returns and when it reloads. SIGHUP, SIGTERM and SIGINT are
 * blocked in the calling thread while a run handles packets (the previous
 * mask comes back when it returns); then either
 *   stop != NULL: the caller's signal handlers (or other threads) set
 *     *stop and *reload; the signals are let in only while the loop
 *     waits, so a flag set by a handler is seen at once; or
 *   stop == NULL: the run reads the three signals itself through a
 *     signalfd (no handler needed): SIGHUP reloads, SIGTERM and SIGINT
 *     stop it. */
struct backend_stop {
	volatile sig_atomic_t *stop;
	volatile sig_atomic_t *reload; /* may be NULL (then no reloads) */
};

/* The state of one run's signals (for the backends' loops). */
struct backend_signals {
	volatile sig_atomic_t *stop, *reload;
	int fd;                 /* the signalfd, or -1 */
	sigset_t old, wait_mask;
};

enum {
	BACKEND_SIGNAL_STOP = 1,
	BACKEND_SIGNAL_RELOAD = 2,
};

/* Blocks the signals (and opens the signalfd). Returns 0 or -errno. */
int backend_signals_begin(struct backend_signals *s, const struct backend_stop *how,
			  struct backend_error *err);
/* The fd to poll for signals, or -1 (poll ignores it). */
int backend_signals_fd(const struct backend_signals *s);
/* poll(2), with the caller's signals let in while it waits. */
int backend_signals_wait(struct backend_signals *s, struct pollfd *fds, nfds_t n,
			 int timeout_ms);
/* What arrived since the last call (BACKEND_SIGNAL_* bits; reload requests
 * are consumed). fd_ready: the signalfd polled readable. */
unsigned backend_signals_take(struct backend_signals *s, bool fd_ready);
/* Restores the mask, closes the signalfd. */
void backend_signals_end(struct backend_signals *s);

/* --- the common handle ------------------------------------------------------------ */

struct backend;

struct backend_ops {
	/* Returns the number of flows whose verdict changed, or -errno
	 * (the rule set in force stays). */
	int (*set_ruleset)(struct backend *be, const struct ruleset *rs,
			   struct backend_error *err);
	int (*run)(struct backend *be, const struct backend_stop *stop,
		   struct backend_error *err);
	void (*free)(struct backend *be);
};

/* What a caller gives every backend (the io member of its options). */
struct backend_io {
	/* JSON lines (filter/logline.h): one per flow decision (time,
	 * verdict, dir, iface, proto, endpoints, rule) and one per reload.
	 * NULL: none. */
	FILE *log;
	/* Events for a person: setup done, reload results with the rule
	 * file's diagnostics, a table restored, teardown. NULL: none. */
	FILE *messages;
	/* Called by run for a reload (SIGHUP, *reload): loads the rules and
	 * sets them (backend_reload with the caller's rule file, usually).
	 * Returns 0, or -errno when the rules in force stay. NULL: reloads
	 * are ignored. */
	int (*reload)(void *ctx);
	void *reload_ctx;
};

/* The first member of each backend's handle. */
struct backend {
	const struct backend_ops *ops;
	const char *name;              /* "divert", "tun" */
	struct backend_io io;          /* the caller's, from the options */
	struct ruleset *rs;            /* in force: the backend's reference */
};

/* The rule set in force, or NULL. Valid until the next set_ruleset or
 * free; call it from the thread that runs the backend. */
const struct ruleset *backend_ruleset(const struct backend *be);
/* Generic forms of X_set_ruleset, X_run, X_free. */
int backend_set_ruleset(struct backend *be, const struct ruleset *rs,
			struct backend_error *err);
int backend_run(struct backend *be, const struct backend_stop *stop,
		struct backend_error *err);
void backend_free(struct backend *be);

/* For the backends' set_ruleset: takes a reference to rs as the set in
 * force and releases the old one (flows must have been re-checked). */
void backend_swap_ruleset(struct backend *be, const struct ruleset *rs);
/* A line to be->io.messages. */
void backend_message(const struct backend *be, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* A reload asked for (SIGHUP, *reload): calls be->io.reload, when there is
 * one, and counts the outcome in *reloads or *failures. */
void backend_call_reload(struct backend *be, uint64_t *reloads, uint64_t *failures);

/* CLOCK_MONOTONIC in nanoseconds (the backends' timeouts and spins). */
static inline uint64_t backend_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* 'ifwall table' on a running backend (its control socket; call it from
 * the thread running it, between packets): table 'name' of the rule set
 * in force changed by op (ruleset_table_change) and set like a reload
 * without parsing. Returns 0, -ESRCH, -EINVAL, -ENOMEM, -EAGAIN (no rule
 * set yet); on error the rule set in force is unchanged. */
int backend_table_change(struct backend *be, const char *name, enum addrset_op op,
			 const struct ifw_prefix *p, size_t n, size_t *changed);

/* --- reloading: the rule file read again and set ---------------------------- */

struct backend_rules_file {
	const char *path;
	/* Refuse files an unprivileged user could change (ruleset_check_trust;
	 * what 'ifwall run' does). */
	bool check_trust;
	/* Prints the diagnostics of a reload; NULL: to the backend's messages. */
	void (*print_diags)(void *ctx, const struct diag_list *diags);
	void *print_ctx;
	/* Held while parsing (libifwall serialises its parses); may be NULL. */
	pthread_mutex_t *parse_lock;
};

/* The one reload: parses f->path, validates it, and sets it on be; then
 * tells be->io.messages and logs a reload event to be->io.log (logline.h).
 * Returns the number of flows whose verdict changed, or -errno (-EINVAL:
 * the file has errors, they were printed; the rules in force stay). */
int backend_reload(struct backend *be, const struct backend_rules_file *f,
		   struct backend_error *err);

/* A rule file to reload a backend from: backend_reload_source is the
 * backend_io.reload function for it (reload_ctx: the source). backend is
 * set once the backend is open. */
struct backend_reload_source {
	struct backend *backend;
	struct backend_rules_file file;
};
int backend_reload_source(void *source);

#endif
