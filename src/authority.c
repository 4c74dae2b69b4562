/*
 * authority.c - the one reading of a request's authority (see
 * authority.h): the grammar http1.c's parser, policy.c's Host binding for
 * both codecs and intercept.c's CONNECT target all use, and the
 * authority sluice writes upstream.  Pure.
 */

#include <stdio.h>
#include <string.h>

#include "authority.h"
#include "util.h"

/* ALPHA, DIGIT, '-', '.', '_' */
static int
authority_name_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}

static int
authority_v6_char(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	    (c >= 'A' && c <= 'F') || c == ':' || c == '.';
}

/* p[0..len) as 1-65535, at most 5 digits; 0 if not. */
static int
authority_port(const char *p, size_t len)
{
	int v = 0;
	size_t i;

	if (len == 0 || len > 5)
		return 0;
	for (i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return 0;
		v = v * 10 + (p[i] - '0');
	}
	return v <= 65535 ? v : 0;
}

/* The host part: its end in p (i), and where the name is within it. */
static int
authority_host(const char *p, size_t len, size_t *end, size_t *off,
    size_t *n)
{
	size_t i = 0;

	if (len > 0 && p[0] == '[') {
		for (i = 1; i < len && p[i] != ']'; i++)
			if (!authority_v6_char((unsigned char)p[i]))
				return -1;
		if (i == len || i < 3)
			return -1;
		*off = 1;
		*n = i - 1;
		*end = i + 1;
		return 0;
	}
	while (i < len && authority_name_char((unsigned char)p[i]))
		i++;
	*off = 0;
	*n = i;
	*end = i;
	if (i > 1 && p[i - 1] == '.')
		(*n)--;		/* the root's dot: the same name */
	return i == 0 || p[*n - 1] == '.' ? -1 : 0;
}

int
authority_parse(const char *p, size_t len, struct authority *a)
{
	size_t end, off, n;
	int port = 0;

	if (authority_host(p, len, &end, &off, &n) == -1 ||
	    n >= CONFIG_HOST_MAX)
		return -1;
	if (end < len) {
		if (p[end] != ':' ||
		    (port = authority_port(p + end + 1, len - end - 1)) == 0)
			return -1;
	}
	if (a != NULL) {
		util_lowercase(a->host, sizeof(a->host), p + off, n);
		a->port = port;
	}
	return 0;
}

enum authority_verdict
authority_check(const char *p, size_t len, const char *name, int port)
{
	struct authority a;

	if (authority_parse(p, len, &a) == -1)
		return AUTHORITY_MALFORMED;
	if (!util_same_host(a.host, name))
		return AUTHORITY_OTHER_HOST;
	if (a.port != 0 && a.port != port)
		return AUTHORITY_OTHER_PORT;
	return AUTHORITY_OK;
}

void
authority_format(char *out, const char *name, int port)
{
	int v6 = strchr(name, ':') != NULL, n;

	n = snprintf(out, AUTHORITY_MAX, "%s%s%s", v6 ? "[" : "", name,
	    v6 ? "]" : "");
	if (port != AUTHORITY_HTTPS_PORT && n > 0 && n < AUTHORITY_MAX)
		snprintf(out + n, AUTHORITY_MAX - n, ":%d", port);
}
