/*
 * urlpath.c - normalise a request target before rules see it.
 *
 * Owns one spelling of a path: the one rules match and the upstream gets.
 * Does not own matching (rules.c), nor what is refused before this
 * (http1.c: bytes a target may hold; policy.c: targets not in origin form).
 *
 * Two passes over the path, each writing no more than it reads, so both
 * run in the caller's buffer of len + 1 bytes:
 *
 *   1. escapes: "%61" -> "a" (unreserved), "%2f" -> "%2F" (kept encoded:
 *      an encoded slash is data inside a segment, e.g. GitLab's
 *      "/projects/group%2Fname"), a '%' without two hex digits -> error;
 *   2. dot segments, RFC 3986 5.2.4, on the decoded path, so "%2e%2e" is
 *      ".." by then.  Segments end at '/' only: "..%2F" is a name.
 *
 * Decoding happens once: "%252e" is "%25" followed by the characters "2e"
 * and stays "%252e".  Repeated slashes are kept (S3 keys hold them; nginx
 * merges them); rules.c reads a path both ways.  Encoded separators and
 * ';' parameters are kept too; urlpath_lenient() gives rules.c the
 * reading of the upstreams that decode the one and drop the other.
 * Invariants, held by the fuzzer: the output is never longer than the
 * input, normalising twice gives what normalising once did, and the path
 * holds no "." or ".." segment.
 */
#include <string.h>

#include "urlpath.h"

int
urlpath_hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

int
urlpath_unreserved(unsigned char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
	    (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' ||
	    ch == '~';
}

/* Pass 1: path[0..len) into out; the length written, or -1. */
static ssize_t
urlpath_decode(const char *path, size_t len, char *out)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i, w = 0;
	int hi, lo;

	for (i = 0; i < len; i++) {
		/* Not a URI character; IIS and some frameworks read it as '/'. */
		if (path[i] == '\\')
			return -1;
		if (path[i] != '%') {
			out[w++] = path[i];
			continue;
		}
		if (len - i < 3 || (hi = urlpath_hexval(path[i + 1])) < 0 ||
		    (lo = urlpath_hexval(path[i + 2])) < 0)
			return -1;
		if (urlpath_unreserved(hi << 4 | lo)) {
			out[w++] = (char)(hi << 4 | lo);
		} else {
			out[w++] = '%';
			out[w++] = hex[hi];
			out[w++] = hex[lo];
		}
		i += 2;
	}
	return (ssize_t)w;
}

/*
 * Pass 2, in place on p[0..len), which starts with '/'.  Reading at i and
 * writing at w <= i, each step looks at the segment after p[i] == '/':
 * "." is dropped, ".." also drops the last segment written, anything else
 * is copied with its slash.  A path ending in "/." or "/.." keeps the
 * slash (RFC 3986: "/a/.." is "/").  The length, or -1 for "..;x".
 */
static ssize_t
urlpath_remove_dots(char *p, size_t len)
{
	const char *seg, *slash;
	size_t i = 0, w = 0, n, dots;

	while (i < len) {
		seg = p + i + 1;
		n = len - i - 1;
		if ((slash = memchr(seg, '/', n)) != NULL)
			n = slash - seg;
		for (dots = 0; dots < n && dots < 3 && seg[dots] == '.'; dots++)
			;
		if (dots == 0 || dots > 2 || (dots < n && seg[dots] != ';')) {
			memmove(p + w, p + i, n + 1);
			w += n + 1;
			i += n + 1;
			continue;
		}
		if (dots < n)
			return -1;	/* ".;x" or "..;x" */
		if (dots == 2)
			while (w > 0 && p[--w] != '/')
				;
		i += dots + 1;
		if (i == len)
			p[w++] = '/';
	}
	return (ssize_t)w;
}

size_t
urlpath_path_len(const char *target, size_t len)
{
	const char *q = memchr(target, '?', len);

	return q != NULL ? (size_t)(q - target) : len;
}

ssize_t
urlpath_normalise(const char *target, size_t len, char *out)
{
	size_t plen;
	ssize_t n;

	if (len == 1 && target[0] == '*') {
		out[0] = '*';
		out[1] = '\0';
		return 1;
	}
	if (len == 0 || target[0] != '/')
		return -1;
	plen = urlpath_path_len(target, len);
	if ((n = urlpath_decode(target, plen, out)) == -1 ||
	    (n = urlpath_remove_dots(out, (size_t)n)) == -1)
		return -1;
	memmove(out + n, target + plen, len - plen);
	n += len - plen;
	out[n] = '\0';
	return n;
}

/* Is p (at least 3 bytes) "%2F" or "%5C", in either case? */
static int
urlpath_is_separator(const char *p)
{
	return p[0] == '%' && ((p[1] == '2' && (p[2] == 'F' || p[2] == 'f')) ||
	    (p[1] == '5' && (p[2] == 'C' || p[2] == 'c')));
}

int
urlpath_ambiguous(const char *np, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (np[i] == ';' || (i + 2 < len && urlpath_is_separator(np + i)))
			return 1;
	return 0;
}

ssize_t
urlpath_lenient(const char *np, size_t len, char *out)
{
	size_t i, w = 0;
	int params = 0;
	ssize_t n;

	for (i = 0; i < len; i++) {
		if (np[i] == '/' || (i + 2 < len && urlpath_is_separator(np + i))) {
			out[w++] = '/';
			params = 0;
			if (np[i] != '/')
				i += 2;
		} else if (np[i] == ';' || params) {
			params = 1;
		} else {
			out[w++] = np[i];
		}
	}
	if (w == 0 || out[0] != '/' || (n = urlpath_remove_dots(out, w)) == -1)
		return -1;
	out[n] = '\0';
	return n;
}
