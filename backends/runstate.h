/* What 'load' and 'run' record for 'status': a small key=value file,
 * RUNDIR/state (control.h says where RUNDIR is), replaced atomically. The
 * kernel's table is the truth about what is enforced; this file only says
 * where it came from. */
#ifndef IFWALL_BACKENDS_RUNSTATE_H
#define IFWALL_BACKENDS_RUNSTATE_H

#include <limits.h>

struct runstate {
	char backend[16];      /* "nft", "divert", "tun" */
	char mode[16];         /* "owned", "watching", "load" (one-shot) */
	char rules[PATH_MAX];  /* the rule file, absolute when known */
	long long applied;     /* unix time of the last successful apply */
	long pid;              /* the resident process, 0 for load */
};

/* Writes RUNDIR/state (temporary file, then rename). Returns 0 or -errno. */
int runstate_write(const struct runstate *st);
/* Reads it. Returns 0, -ENOENT when there is none, -EPROTO when it is
 * malformed, or -errno. */
int runstate_read(struct runstate *st);
/* Removes it (flush). Returns 0 or -errno (-ENOENT is 0). */
int runstate_remove(void);

#endif
