/* nf_tables messages as the kernel answers ifwall's dumps of its table:
 * rule dumps read by `ifwall show` (nft_listing_parse, the parser of
 * nft_listing_read), and table, chain, set and generation answers read
 * before every load and flush. The first byte picks the parser. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backends/nft.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf;

	if (size < 1)
		return 0;
	/* Length a multiple of 4, as the backends' receive buffers. */
	if (!(buf = calloc(1, (size + 3) & ~(size_t)3)))
		return 0;
	memcpy(buf, data + 1, size - 1);
	if (data[0] & 1) {
		size_t chains, sets;
		(void)nft_table_state_parse(buf, size - 1, &chains, &sets);
	} else {
		struct nft_listing *l = NULL;
		if (nft_listing_parse(&l, buf, size - 1) == 0) {
			for (size_t i = 0; i < l->nentries; i++) {
				const struct nft_entry *e = &l->entries[i];
				if (!memchr(e->chains, 0, sizeof(e->chains)))
					__builtin_trap();
				if ((e->verdict && strlen(e->verdict) > 47))
					__builtin_trap();
			}
		}
		nft_listing_free(l);
	}
	free(buf);
	return 0;
}
