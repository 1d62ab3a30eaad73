/* Rule-file parser from text through validation and expansion. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "rules/ruleset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct diag_list diags = { 0 };
	struct ruleset *rs = ruleset_from_string("fuzz.rules", (const char *)data, size, &diags);

	if (rs) {
		FILE *null = fopen("/dev/null", "w");
		if (null) {
			ruleset_print(null, rs, true);
			ruleset_print(null, rs, false);
			fclose(null);
		}
	} else {
		FILE *null = fopen("/dev/null", "w");
		if (null) {
			diag_list_print(null, &diags);
			fclose(null);
		}
	}
	ruleset_free(rs);
	diag_list_clear(&diags);
	return 0;
}
