/* rtnetlink messages as the kernel sends them to the interface table
 * (link and address dumps and notifications, backends/iftable.c) and to the
 * tun backend's route lookups (backends/route.c). The first byte picks the
 * parser; one interface table lives across inputs (renewed now and then),
 * as the backends keep theirs. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backends/iftable.h"
#include "backends/route.h"

static struct iftable *table;
static unsigned uses;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf;

	if (size < 1)
		return 0;
	if (!table || ++uses % 256 == 0) {
		iftable_free(table);
		if (!(table = iftable_new_detached()))
			__builtin_trap();
	}
	/* Length a multiple of 4, as the backends' receive buffers. */
	if (!(buf = calloc(1, (size + 3) & ~(size_t)3)))
		return 0;
	memcpy(buf, data + 1, size - 1);
	if (data[0] & 1) {
		int oif = route_parse_lookup_reply(buf, size - 1);
		if (oif == 0)
			__builtin_trap(); /* an index, or -errno: never 0 */
	} else {
		(void)iftable_apply_messages(table, buf, size - 1);
		for (size_t i = 0; i < iftable_count(table); i++) {
			const struct iftable_interface *ifc = iftable_at(table, i);
			if (!memchr(ifc->name, 0, sizeof(ifc->name)) ||
			    iftable_lookup(table, ifc->index) != ifc)
				__builtin_trap();
		}
	}
	free(buf);
	return 0;
}
