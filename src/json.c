/*
 * json.c - JSON string escaping.
 *
 * Owns nothing but the escaping rule: '"', '\\' and control characters are
 * escaped, valid UTF-8 is copied as it is, and every byte that is not part
 * of a valid UTF-8 sequence (a stray continuation byte, an overlong form, a
 * surrogate, a truncated sequence) becomes \ufffd.  Strings in sluice's
 * logs and audit rows come from the network, and a reader such as Python's
 * json module rejects the whole line for one bad byte.
 */
#include <stdio.h>
#include <string.h>

#include "json.h"

/* The length of the valid UTF-8 sequence at s, or 0 if there is none. */
static size_t
json_utf8_len(const unsigned char *s)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	/* The second byte's range rules out overlongs, surrogates and
	 * code points beyond U+10FFFF. */
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

size_t
json_escape(char *dst, size_t size, const char *src)
{
	const unsigned char *s = (const unsigned char *)src;
	char esc[JSON_ESCAPE_MAX + 1];
	const char *out;
	size_t len = 0, in, outlen;

	if (size == 0)
		return 0;
	while (*s != '\0') {
		in = 1;
		out = esc;
		if (*s == '"' || *s == '\\')
			snprintf(esc, sizeof(esc), "\\%c", *s);
		else if (*s == '\n')
			strcpy(esc, "\\n");
		else if (*s == '\t')
			strcpy(esc, "\\t");
		else if (*s < 0x20 || *s == 0x7f)
			snprintf(esc, sizeof(esc), "\\u%04x", *s);
		else if (*s < 0x80)
			snprintf(esc, sizeof(esc), "%c", *s);
		else if ((in = json_utf8_len(s)) != 0)
			out = (const char *)s;
		else {
			strcpy(esc, "\\ufffd");
			in = 1;
		}
		outlen = out == esc ? strlen(esc) : in;
		if (outlen > size - 1 - len)
			break;
		memcpy(dst + len, out, outlen);
		len += outlen;
		s += in;
	}
	dst[len] = '\0';
	return len;
}
