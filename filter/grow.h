/* Growing arrays: the one realloc-by-doubling that the library's lists use. */
#ifndef IFWALL_FILTER_GROW_H
#define IFWALL_FILTER_GROW_H
#include <stddef.h>

/* Makes room for element n (0-based) in *array, an array of elem_size-byte
 * elements of which *cap are allocated: when n >= *cap the array is
 * reallocated to at least twice its capacity (8 at first). array is the
 * address of the caller's typed pointer. Returns 0, or -ENOMEM with the
 * array and *cap unchanged. */
int grow_array(void *array, size_t *cap, size_t n, size_t elem_size);

#endif
