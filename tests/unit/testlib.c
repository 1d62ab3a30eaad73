#include "tests/unit/testlib.h"
int test_failures;
