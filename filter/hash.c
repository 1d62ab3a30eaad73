/* The keys of filter/hash.h. */
#include "filter/hash.h"

#include <pthread.h>
#include <sys/random.h>
#include <time.h>

__thread bool ifw_hash_oom;
uint64_t ifw_hash_seed;
uint32_t ifw_hash_keys[IFW_HASH_MAX_KEY / 4];
uint64_t ifw_hash_wide_keys[6];

static void init_once(void)
{
	uint64_t s = 0;

	if (getrandom(&s, sizeof(s), GRND_NONBLOCK) != (ssize_t)sizeof(s)) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		s = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^
		    (uint64_t)(uintptr_t)&s;
	}
	for (size_t i = 0; i < IFW_HASH_MAX_KEY / 4; i++) {
		s = ifw_hash_mix64(s + 0x9e3779b97f4a7c15ull);
		ifw_hash_keys[i] = (uint32_t)s;
	}
	for (size_t i = 0; i < 6; i++) {
		s = ifw_hash_mix64(s + 0x9e3779b97f4a7c15ull);
		ifw_hash_wide_keys[i] = s;
	}
	ifw_hash_seed = s | 1;
}

void ifw_hash_init(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, init_once);
}
