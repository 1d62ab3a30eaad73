/* json_string(): every string the CLI and the logs print as JSON, including
 * interface names and file paths, which are bytes, not UTF-8. */
#include <stdlib.h>

#include "filter/json.h"
#include "tests/unit/testlib.h"


static char *json_of(const char *s)
{
	static char buf[256];
	FILE *f = fmemopen(buf, sizeof(buf), "w");

	if (!f)
		return NULL;
	json_string(f, s);
	fclose(f);
	return buf;
}

int main(void)
{
	CHECK_STR("json-null", json_of(NULL), "null");
	CHECK_STR("json-plain", json_of("wg0"), "\"wg0\"");
	CHECK_STR("json-escapes", json_of("a\"b\\c\nd\te\r"), "\"a\\\"b\\\\c\\nd\\te\\r\"");
	CHECK_STR("json-control", json_of("\x01x\x7f"), "\"\\u0001x\\u007f\"");
	/* Valid UTF-8 of every length passes through unchanged. */
	CHECK_STR("json-utf8-valid", json_of("r\xc3\xa8gles \xe2\x82\xac \xf0\x9f\x94\x92"),
		  "\"r\xc3\xa8gles \xe2\x82\xac \xf0\x9f\x94\x92\"");
	/* Latin-1 bytes, a lone continuation byte, a truncated sequence at
	 * the end, an overlong '/', a surrogate, above U+10FFFF. */
	CHECK_STR("json-latin1", json_of("r\xe8gles"), "\"r\\ufffdgles\"");
	CHECK_STR("json-lone-continuation", json_of("a\x80z"), "\"a\\ufffdz\"");
	CHECK_STR("json-truncated", json_of("a\xe2\x82"), "\"a\\ufffd\\ufffd\"");
	CHECK_STR("json-overlong", json_of("\xc0\xaf"), "\"\\ufffd\\ufffd\"");
	CHECK_STR("json-surrogate", json_of("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"");
	CHECK_STR("json-above-max", json_of("\xf4\x90\x80\x80"), "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
	TEST_MAIN_END();
}
