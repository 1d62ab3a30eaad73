/* Dropping capabilities after set-up (the tun backend; divert has its
 * own in divert.c). */
#ifndef IFWALL_BACKENDS_CAPS_H
#define IFWALL_BACKENDS_CAPS_H

#include <stddef.h>

/* Keeps only the capabilities in keep[] (CAP_* numbers): the bounding set
 * loses every other, the effective and permitted sets hold just those, the
 * inheritable and ambient sets are emptied, and no_new_privs is set, so no
 * exec can regain anything. Capabilities belong to a thread: this changes
 * the calling thread only. Returns 0, or -errno with what failed in err. */
int caps_keep_only(const int *keep, size_t nkeep, char *err, size_t errlen);

#endif
