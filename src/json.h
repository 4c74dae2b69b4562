/*
 * json.h - JSON string escaping, for the JSON log lines and sluice-audit.
 */
#ifndef SLUICE_JSON_H
#define SLUICE_JSON_H

#include <stddef.h>

/* The most bytes json_escape() writes for one byte of input. */
#define JSON_ESCAPE_MAX	6

/*
 * Writes src escaped for the inside of a JSON string (no quotes) to dst,
 * always NUL-terminated; stops before an escape or a UTF-8 sequence that
 * would not fit whole.  Invalid UTF-8 becomes U+FFFD, so the result is
 * always valid JSON.  A dst of JSON_ESCAPE_MAX * strlen(src) + 1 bytes
 * holds all of it.  Returns the length written.
 */
size_t json_escape(char *dst, size_t size, const char *src);

#endif
