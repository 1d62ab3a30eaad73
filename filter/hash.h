/* uthash as the library configures it, for every table that uses it (flow
 * fragments and interface names in filter/flow.c, interface addresses in
 * filter/ifaddr.c): include this instead of <uthash.h>.
 *
 * Running out of memory is not fatal (library code never exit()s): uthash
 * sets ifw_hash_oom instead; clear it before HASH_ADD and test it after.
 * Keys are hashed with a random per-process key (NH, then a full mix), so
 * peers cannot aim many entries at one bucket. A table's constructor calls
 * ifw_hash_init() before its first add; the keys never change after. */
#ifndef IFWALL_FILTER_HASH_H
#define IFWALL_FILTER_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Keys are at most this long (ten 32-bit words). */
#define IFW_HASH_MAX_KEY 40

extern __thread bool ifw_hash_oom;
extern uint64_t ifw_hash_seed;
extern uint32_t ifw_hash_keys[IFW_HASH_MAX_KEY / 4];
/* More random 64-bit keys, for a table's own hash (filter/flow.c's flow
 * keys). */
extern uint64_t ifw_hash_wide_keys[6];

/* Draws the keys, once per process (threads share them). */
void ifw_hash_init(void);

static inline uint64_t ifw_hash_mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

/* NH (the universal hash of UMAC) over the key's 32-bit words, then a full
 * mix: the products are independent, so a 40-byte key costs about one
 * multiply's latency, not five in a chain. */
__attribute__((always_inline))
static inline uint32_t ifw_seeded_hash(const void *key, size_t len)
{
	uint32_t w[IFW_HASH_MAX_KEY / 4] = { 0 };
	uint64_t sum = ifw_hash_seed ^ len;

	if (len > IFW_HASH_MAX_KEY)
		len = IFW_HASH_MAX_KEY; /* never: every key here is smaller */
	memcpy(w, key, len);
	for (size_t i = 0; i < IFW_HASH_MAX_KEY / 4; i += 2)
		sum += (uint64_t)(w[i] + ifw_hash_keys[i]) * (w[i + 1] + ifw_hash_keys[i + 1]);
	sum = ifw_hash_mix64(sum);
	return (uint32_t)(sum ^ (sum >> 32));
}

#define HASH_NONFATAL_OOM 1
#define uthash_nonfatal_oom(obj) (ifw_hash_oom = true)
#define HASH_FUNCTION(keyptr, keylen, hashv) \
	((hashv) = ifw_seeded_hash((keyptr), (keylen)))
#include <uthash.h>

#endif
