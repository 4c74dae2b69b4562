/*
 * fuzz_urlpath.c - libFuzzer driver for src/urlpath.c.
 *
 * Each input is a request target.  When it normalises: the output is no
 * longer than the input and NUL-terminated, normalising it again gives
 * the same bytes, its path holds no "." or ".." segment, and its query is
 * the input's, byte for byte; its path read with encoded separators as
 * '/' (urlpath_lenient) is no longer and holds no "." or ".." segment
 * either.  The input is also tried with a '/' in
 * front, so that most inputs reach the passes rather than the first check.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "urlpath.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
fuzz_check(int cond)
{
	if (!cond)
		abort();
}

/* No segment of path[0..len) is "." or "..". */
static int
fuzz_no_dots(const char *path, size_t len)
{
	size_t i, start = 0, n;

	for (i = 0; i <= len; i++) {
		if (i < len && path[i] != '/')
			continue;
		n = i - start;
		if (start > 0 && ((n == 1 && path[start] == '.') ||
		    (n == 2 && path[start] == '.' && path[start + 1] == '.')))
			return 0;
		start = i + 1;
	}
	return 1;
}

static void
fuzz_one(const char *in, size_t len)
{
	char *out, *again;
	const char *qin, *qout;
	ssize_t n, m;
	size_t plen;

	if ((out = malloc(len + 1)) == NULL || (again = malloc(len + 1)) ==
	    NULL)
		abort();
	n = urlpath_normalise(in, len, out);
	if (n >= 0) {
		fuzz_check((size_t)n <= len && out[n] == '\0');
		m = urlpath_normalise(out, (size_t)n, again);
		fuzz_check(m == n && memcmp(out, again, (size_t)n) == 0);
		qout = memchr(out, '?', (size_t)n);
		plen = qout != NULL ? (size_t)(qout - out) : (size_t)n;
		fuzz_check(fuzz_no_dots(out, plen));
		m = urlpath_lenient(out, plen, again);
		fuzz_check(m == -1 || ((size_t)m <= plen && again[m] == '\0' &&
		    fuzz_no_dots(again, (size_t)m)));
		qin = memchr(in, '?', len);
		fuzz_check((qin == NULL) == (qout == NULL));
		if (qin != NULL)
			fuzz_check((size_t)(in + len - qin) ==
			    (size_t)(out + n - qout) &&
			    memcmp(qin, qout, in + len - qin) == 0);
	}
	free(out);
	free(again);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *slashed;

	fuzz_one((const char *)data, size);
	if ((slashed = malloc(size + 1)) == NULL)
		abort();
	slashed[0] = '/';
	memcpy(slashed + 1, data, size);
	fuzz_one(slashed, size + 1);
	free(slashed);
	return 0;
}
