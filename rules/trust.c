/* Rule files an unprivileged user could have changed. ifwall runs as root
 * and decides what may leave the host: a rule file (or an include, or a
 * table file) writable by someone else is a way around the kill switch. */
#include <sys/stat.h>

#include "rules/internal.h"
#include "rules/ruleset.h"

size_t ruleset_check_trust(const struct ruleset *rs, enum diag_severity sev,
			   struct diag_list *diags)
{
	size_t found = 0;

	if (!rs)
		return 0;
	for (size_t i = 0; i < rs->nsources; i++) {
		const struct rs_source *s = &rs->sources[i];
		const char *why = NULL;

		if (s->uid != 0)
			why = "is not owned by root";
		else if (s->mode & S_IWOTH)
			why = "is writable by others";
		else if (s->mode & S_IWGRP)
			why = "is writable by its group";
		if (!why)
			continue;
		found++;
		diag_add_file(diags, sev, s->path,
			      "%s (uid %u, mode %04o): an unprivileged user could change the rules%s",
			      why, s->uid, s->mode & 07777,
			      sev == DIAG_ERROR ? "; refusing it (chown root and chmod go-w)" : "");
	}
	return found;
}
