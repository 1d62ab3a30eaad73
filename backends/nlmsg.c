/* See nlmsg.h. */
#include "backends/nlmsg.h"

#include <errno.h>
#include <linux/netlink.h>
#include <string.h>

size_t nlmsg_valid_prefix(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	size_t used = 0;

	while (len - used >= sizeof(struct nlmsghdr)) {
		struct nlmsghdr h;
		memcpy(&h, p + used, sizeof(h));
		if (h.nlmsg_len < sizeof(struct nlmsghdr) || h.nlmsg_len > len - used)
			break;
		size_t step = ((size_t)h.nlmsg_len + 3) & ~(size_t)3;
		used += step < len - used ? step : len - used;
	}
	return used;
}

int nlmsg_error(void)
{
	int e = errno;

	return e > 0 && e < 4096 ? -e : -EPROTO;
}
