#include "filter/grow.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int grow_array(void *array, size_t *cap, size_t n, size_t elem_size)
{
	void *items, *grown;

	if (n < *cap)
		return 0;
	if (!elem_size || n >= SIZE_MAX / 2 / elem_size)
		return -ENOMEM;
	size_t ncap = *cap ? *cap * 2 : 8;
	while (ncap <= n)
		ncap *= 2;
	if (ncap > SIZE_MAX / elem_size)
		return -ENOMEM;
	/* The caller's pointer has its own type: copied, not aliased. */
	memcpy(&items, array, sizeof(items));
	grown = realloc(items, ncap * elem_size);
	if (!grown)
		return -ENOMEM;
	memcpy(array, &grown, sizeof(grown));
	*cap = ncap;
	return 0;
}
