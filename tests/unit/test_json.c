/*
 * test_json.c - JSON string escaping.
 */
#include <string.h>

#include "json.h"
#include "unit.h"

static int
escapes_to(const char *in, const char *want)
{
	char buf[256];

	json_escape(buf, sizeof(buf), in);
	return strcmp(buf, want) == 0;
}

int
main(void)
{
	char small[8];

	CHECK(escapes_to("plain", "plain"), "plain text");
	CHECK(escapes_to("a\"b\\c", "a\\\"b\\\\c"), "quote and backslash");
	CHECK(escapes_to("a\nb\tc\r", "a\\nb\\tc\\u000d"), "control bytes");
	CHECK(escapes_to("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
	    "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"), "valid UTF-8 kept");
	CHECK(escapes_to("a\xff" "b", "a\\ufffdb"), "invalid byte replaced");
	CHECK(escapes_to("\xc0\xaf", "\\ufffd\\ufffd"), "overlong replaced");
	CHECK(escapes_to("\xed\xa0\x80", "\\ufffd\\ufffd\\ufffd"),
	    "surrogate replaced");
	CHECK(escapes_to("\xe2\x82", "\\ufffd\\ufffd"), "truncated replaced");
	CHECK(json_escape(small, sizeof(small), "abcdef\"") == 6 &&
	    strcmp(small, "abcdef") == 0, "an escape that does not fit is cut");
	CHECK(json_escape(small, sizeof(small), "abcde\xe2\x82\xac") == 5 &&
	    strcmp(small, "abcde") == 0, "a sequence that does not fit is cut");
	return unit_done();
}
