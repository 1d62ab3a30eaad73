/* See caps.h. */
#include "backends/caps.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/capability.h>

static bool kept(const int *keep, size_t nkeep, int cap)
{
	for (size_t i = 0; i < nkeep; i++)
		if (keep[i] == cap)
			return true;
	return false;
}

int caps_keep_only(const int *keep, size_t nkeep, char *err, size_t errlen)
{
	struct __user_cap_header_struct header = {
		.version = _LINUX_CAPABILITY_VERSION_3,
		.pid = 0,
	};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
	int r;

	for (int cap = 0; cap <= 63; cap++) {
		if (kept(keep, nkeep, cap))
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
			if (errno == EINVAL)
				break; /* past the last capability this kernel knows */
			r = -errno;
			snprintf(err, errlen, "dropping capability %d from the bounding set: %s",
				 cap, strerror(errno));
			return r;
		}
	}
	(void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	memset(data, 0, sizeof(data));
	for (size_t i = 0; i < nkeep; i++) {
		if (keep[i] < 0 || keep[i] > 63)
			continue;
		data[CAP_TO_INDEX(keep[i])].effective |= CAP_TO_MASK(keep[i]);
		data[CAP_TO_INDEX(keep[i])].permitted |= CAP_TO_MASK(keep[i]);
	}
	if (syscall(SYS_capset, &header, data) < 0) {
		r = -errno;
		snprintf(err, errlen, "dropping capabilities: %s", strerror(errno));
		return r;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		r = -errno;
		snprintf(err, errlen, "setting no_new_privs: %s", strerror(errno));
		return r;
	}
	return 0;
}
