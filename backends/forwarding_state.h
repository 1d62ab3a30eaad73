/* Forwarding sysctls the tun backend turns on, remembered across crashes.
 *
 * The tun backend needs the host namespace to forward (ip_forward, IPv6
 * all.forwarding). The value each sysctl had before the first ifwall
 * process turned it on is written, with the pids of the processes that
 * need it, to a file under the state directory named after the network
 * namespace (sysctls are per namespace), under an flock. Whoever is last
 * to leave puts the values back; a run that was killed leaves its record,
 * and the next run keeps the original from it instead of reading the value
 * the killed run set. A record whose sysctl is no longer on (someone reset
 * it, or the namespace is new and reuses the number) is stale and ignored. */
#ifndef IFWALL_BACKENDS_FORWARDING_STATE_H
#define IFWALL_BACKENDS_FORWARDING_STATE_H

#include <stddef.h>

#define FORWARDING_STATE_DIR "/run/ifwall"
#define FORWARDING_MAX_PATHS 4

/* Turns every sysctl of paths (n at most FORWARDING_MAX_PATHS) on and
 * records this process as a user. state_dir NULL: FORWARDING_STATE_DIR.
 * file receives the state file's path for forwarding_release(). Returns 0
 * or -errno with a reason in err. */
int forwarding_acquire(const char *state_dir, const char *const *paths, size_t n,
		       char *file, size_t filelen, char *err, size_t errlen);

/* Removes this process (and processes that are gone) from the record; the
 * last user puts every recorded sysctl back and removes the file. Returns
 * 0 or -errno. */
int forwarding_release(const char *file);

#endif
