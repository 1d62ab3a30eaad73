/* grow_array(): room for element n, doubling, and refusal without change. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "filter/grow.h"
#include "tests/unit/testlib.h"

int main(void)
{
	int *items = NULL;
	size_t cap = 0;

	CHECK("grow-first", grow_array(&items, &cap, 0, sizeof(*items)) == 0 &&
				    items && cap == 8);
	for (size_t i = 0; i < 8; i++)
		items[i] = (int)i;
	CHECK("grow-room-left", grow_array(&items, &cap, 7, sizeof(*items)) == 0 && cap == 8);
	CHECK("grow-doubles", grow_array(&items, &cap, 8, sizeof(*items)) == 0 && cap == 16);
	CHECK("grow-keeps-items", items[0] == 0 && items[7] == 7);
	CHECK("grow-jumps", grow_array(&items, &cap, 100, sizeof(*items)) == 0 && cap == 128);
	int *before = items;
	size_t cap_before = cap;
	CHECK("grow-overflow-refused",
	      grow_array(&items, &cap, SIZE_MAX / 2, sizeof(*items)) == -ENOMEM &&
	      items == before && cap == cap_before);
	CHECK("grow-huge-refused",
	      grow_array(&items, &cap, SIZE_MAX, 1) == -ENOMEM && items == before);
	free(items);
	TEST_MAIN_END();
}
