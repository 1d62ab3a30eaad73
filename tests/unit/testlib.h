/* Tiny test helpers for unit tests: each CHECK prints PASS/FAIL lines that
 * tests/run.sh counts. */
#ifndef IFWALL_TESTLIB_H
#define IFWALL_TESTLIB_H
#include <stdio.h>
#include <string.h>

extern int test_failures;

#define CHECK(name, cond) do { \
	if (cond) printf("PASS %s\n", (name)); \
	else { printf("FAIL %s: %s (%s:%d)\n", (name), #cond, __FILE__, __LINE__); test_failures++; } \
} while (0)

#define CHECK_STR(name, got, want) do { \
	const char *g_ = (got), *w_ = (want); \
	if (g_ && w_ && strcmp(g_, w_) == 0) printf("PASS %s\n", (name)); \
	else { printf("FAIL %s: got \"%s\" want \"%s\" (%s:%d)\n", (name), g_ ? g_ : "(null)", w_ ? w_ : "(null)", __FILE__, __LINE__); test_failures++; } \
} while (0)

#define TEST_MAIN_END() return test_failures ? 1 : 0
#endif
