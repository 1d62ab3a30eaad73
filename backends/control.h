/* The control socket of a resident ifwall process (run --backend nft,
 * divert or tun), and the run directory it lives in.
 *
 * Only the process that owns a table may change it, so the commands that
 * change the active rules (load, flush, table) reach a running owner
 * through this socket instead of the kernel.
 *
 * Where: RUNDIR/BACKEND.sock (BACKEND: nft, divert, tun), mode 0600, owned
 * by root. RUNDIR is $IFWALL_RUNDIR when set, else /run/ifwall in the host's
 * network namespace (that of pid 1) and /run/ifwall/netns-INODE in any
 * other (INODE: of /proc/self/ns/net; also when pid 1's namespace cannot
 * be read, as in a container), because a firewall belongs to one
 * network namespace while /run is shared: `ip netns exec NS ifwall load`
 * finds the process enforcing in NS.
 *
 * Who: the server checks its peer's credentials (SO_PEERCRED); any uid but
 * 0 gets "err permission denied ..." and "exit 3".
 *
 * Protocol: a stream socket, one request per connection.
 *   request  one line: words separated by one space, ended by "\n". In a
 *            word, '%', bytes below 0x21 and 0x7f are written %XX (hex), so
 *            a path with spaces is one word. At most CONTROL_MAX_WORDS
 *            words and CONTROL_MAX_REQUEST bytes.
 *   reply    any number of lines "out TEXT" (for the client's stdout) and
 *            "err TEXT" (for its stderr), TEXT unescaped and without
 *            newline; then one line "exit N", N the exit code of ifwall(8)
 *            (0 done, 1 found a failure, 2 usage or invalid input, 3 system
 *            error or not permitted); then the server closes.
 *   Built in: "ping" answers "out BACKEND PID" and exit 0. An unknown
 *   command answers "err unknown command 'X'" and exit 2.
 *
 * Commands of 'run --backend nft' (tools/run_nft.c):
 *   ping
 *   status             out lines "KEY VALUE": backend, mode, pid, rules,
 *                      applied (unix time), portid
 *   load PATH          parse PATH (absolute) and apply it; PATH becomes the
 *                      file SIGHUP reloads. Diagnostics as err lines.
 *   reload             the same with the current file
 *   flush              delete every ifwall table, then the process exits 0
 * A backend adds its own with control_server_add(), e.g.
 *   table NAME show|test|add|delete|replace|flush [ADDR...]
 *
 * The library prints nothing: handlers write their output with
 * control_reply_out/err, the client gets it through a callback. */
#ifndef IFWALL_BACKENDS_CONTROL_H
#define IFWALL_BACKENDS_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define CONTROL_MAX_WORDS 4096
#define CONTROL_MAX_REQUEST (1 << 20)

/* The run directory (see above) into buf. Returns 0 or -ENAMETOOLONG. */
int control_run_dir(char *buf, size_t size);
/* RUNDIR/NAME into buf. Returns 0 or -ENAMETOOLONG. */
int control_run_path(const char *name, char *buf, size_t size);
/* Creates the run directory (mode 0755, as root). Returns 0 or -errno. */
int control_run_dir_create(void);

struct control_reply;

/* Output of a handler, for the client's stdout or stderr. Several lines
 * in one call are fine; a write error (client gone) is remembered and
 * later output dropped. */
void control_reply_out(struct control_reply *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void control_reply_err(struct control_reply *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A command: argv[0] is its name. Returns the exit code for the client. */
typedef int (*control_handler)(void *ctx, int argc, char **argv,
			       struct control_reply *reply);

struct control_server;

/* Binds RUNDIR/BACKEND.sock. A socket file another live server answers on
 * is left alone: -EADDRINUSE (*peer_pid gets its pid when known). A stale
 * one is replaced. Returns 0 or -errno. peer_pid may be NULL. */
int control_server_open(struct control_server **out, const char *backend,
			pid_t *peer_pid);
/* Registers a command (name up to 31 bytes; at most 32 commands). Returns
 * 0, -EEXIST or -ENOSPC. */
int control_server_add(struct control_server *s, const char *name,
		       control_handler fn, void *ctx);
/* The listening socket, to poll for POLLIN. */
int control_server_fd(const struct control_server *s);
const char *control_server_path(const struct control_server *s);
/* Accepts one connection and answers its request (a client gets at most 5
 * seconds to send it). Returns 0, or -errno for a failed accept. */
int control_server_serve(struct control_server *s);
/* Closes the socket and removes its file (when it is still this
 * server's). NULL ok. */
void control_server_free(struct control_server *s);

/* A reply line: is_err false for "out", true for "err". */
typedef void (*control_line_fn)(void *ctx, bool is_err, const char *text);

/* Sends argv to RUNDIR/BACKEND.sock and passes every reply line to line.
 * Returns 0 (*exit_code set), -ENOENT or -ECONNREFUSED when no server
 * listens, -EACCES when the socket is not ours to use, -EPROTO for a reply
 * without its exit line, other -errno. *server_pid (may be NULL) gets the
 * server's pid from SO_PEERCRED once connected. */
int control_call(const char *backend, int argc, char *const argv[],
		 control_line_fn line, void *ctx, int *exit_code,
		 pid_t *server_pid);

/* The 'table' command (ifwall table, libifwall): "table NAME OP
 * [PREFIX...]" to RUNDIR/BACKEND.sock, op one of "show", "add", "delete",
 * "replace", "flush". Returns as control_call; -ENOENT also when the socket
 * directory does not exist or nobody listens (ECONNREFUSED). */
struct ifw_prefix;
int control_table_call(const char *backend, const char *name, const char *op,
		       const struct ifw_prefix *p, size_t n, control_line_fn line, void *ctx,
		       int *exit_code);

#endif
