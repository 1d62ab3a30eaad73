/* Readiness and status for systemd (sd_notify(3) protocol, written by
 * hand: one datagram to $NOTIFY_SOCKET; nothing happens without it). */
#ifndef IFWALL_TOOLS_SDNOTIFY_H
#define IFWALL_TOOLS_SDNOTIFY_H

/* Sends "READY=1", "RELOADING=1", "STOPPING=1", "STATUS=..." (several
 * newline-separated assignments may go in one message). Returns 0, or
 * -errno (callers ignore it: systemd is optional). */
int sd_notifyf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
