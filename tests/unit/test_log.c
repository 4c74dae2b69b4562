/*
 * test_log.c - log_event()'s lines: logfmt quoting and escaping, JSON
 * pairs and numbers, the conversions log.h lists, and that no value can
 * add a line or a pair of its own.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "unit.h"

static FILE *captured;

/* What the call wrote to stderr since the last one. */
static const char *
take(void)
{
	static char buf[16384];
	size_t n;

	fflush(stderr);
	rewind(captured);
	n = fread(buf, 1, sizeof(buf) - 1, captured);
	buf[n] = '\0';
	rewind(captured);
	if (ftruncate(fileno(captured), 0) == -1)
		abort();
	return buf;
}

/* The JSON line with its "ts" cut off, from the first comma on. */
static const char *
after_ts(const char *line)
{
	const char *p = strstr(line, "\",\"level\"");

	return p != NULL ? p + 2 : line;
}

static void
test_text(void)
{
	log_init(LOG_DEBUG, LOG_TEXT);
	log_event(LOG_WARN, "upstream_verify_failed", "host=%s err=%s",
	    "api.test", "certificate has expired");
	CHECK(strcmp(take(), "level=warn event=upstream_verify_failed "
	    "host=api.test err=\"certificate has expired\"\n") == 0,
	    "text: a value with spaces is quoted");

	log_event(LOG_INFO, "x", "a=%d b=%u c=%lld d=%zu e=%.1f f=%s g=lit",
	    -3, 4u, -5LL, (size_t)6, 1.25, "");
	CHECK(strcmp(take(), "level=info event=x a=-3 b=4 c=-5 d=6 e=1.2 "
	    "f=\"\" g=lit\n") == 0, "text: conversions, empty, literal");

	log_event(LOG_INFO, "x", "path=%s", "/a\nlevel=warn event=forged");
	CHECK(strcmp(take(), "level=info event=x path=\"/a\\nlevel=warn "
	    "event=forged\"\n") == 0, "text: a newline is escaped, inside quotes");

	log_event(LOG_INFO, "x", "host=%s", "a\"b\\c\r\x01\x7f");
	CHECK(strcmp(take(), "level=info event=x host=\"a\\\"b\\\\c\\r\\x01"
	    "\\x7f\"\n") == 0, "text: quotes, backslashes, control bytes");

	log_event(LOG_INFO, "x", "host=%s", "event=forged");
	CHECK(strcmp(take(), "level=info event=x host=\"event=forged\"\n") == 0,
	    "text: '=' in a value is quoted");

	log_event(LOG_INFO, "x", "host=%.*s:%d", 3, "abcdef", 443);
	CHECK(strcmp(take(), "level=info event=x host=abc:443\n") == 0,
	    "text: %.*s and text around conversions");

	log_init(LOG_INFO, LOG_TEXT);
	log_event(LOG_DEBUG, "x", "a=1");
	CHECK(strcmp(take(), "") == 0, "a line below the level is dropped");
	log_warnx("plain %s", "message");
	CHECK(strcmp(take(), "level=warn msg=\"plain message\"\n") == 0,
	    "text: a message is a quoted msg");
}

static void
test_json(void)
{
	char big[2000];
	const char *line;
	int newlines = 0;

	log_init(LOG_DEBUG, LOG_JSON);
	log_event(LOG_WARN, "upstream_verify_failed", "host=%s err=%s n=%d "
	    "port=:%d", "api.test", "bad \"cert\"\n", 7, 443);
	line = take();
	CHECK(strncmp(line, "{\"ts\":\"", 7) == 0, "json: ts first");
	CHECK(strcmp(after_ts(line), "\"level\":\"warn\",\"event\":"
	    "\"upstream_verify_failed\",\"host\":\"api.test\",\"err\":"
	    "\"bad \\\"cert\\\"\\n\",\"n\":7,\"port\":\":443\"}\n") == 0,
	    "json: strings escaped, a bare number is a number");

	log_event(LOG_INFO, "x", "v=%f", (double)NAN);
	CHECK(strcmp(after_ts(take()), "\"level\":\"info\",\"event\":\"x\","
	    "\"v\":\"nan\"}\n") == 0, "json: nan is a string, not a number");

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	big[100] = '\n';
	log_event(LOG_INFO, "x", "a=%s b=%s c=%d", big, big, 1);
	line = take();
	for (; *line != '\0'; line++)
		newlines += *line == '\n';
	CHECK(newlines == 1, "json: a long value stays on one line");
}

int
main(void)
{
	int fd;

	if ((captured = tmpfile()) == NULL || (fd = dup(2)) == -1 ||
	    dup2(fileno(captured), 2) == -1)
		return 2;
	setvbuf(stderr, NULL, _IONBF, 0);
	test_text();
	test_json();
	dup2(fd, 2);
	return unit_done();
}
