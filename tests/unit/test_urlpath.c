/*
 * test_urlpath.c - urlpath.c: the spellings of one path that a client
 * could use to get around a rule, and what each becomes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "urlpath.h"
#include "unit.h"

/* urlpath_normalise(in) is want (NULL: refused), and stable. */
static void
norm(const char *in, const char *want, const char *what)
{
	char out[256], again[256], label[512];
	size_t len = strlen(in);
	ssize_t n;

	if (len >= sizeof(out)) {
		CHECK(0, what);
		return;
	}
	n = urlpath_normalise(in, len, out);
	snprintf(label, sizeof(label), "%s: \"%s\" -> \"%s\"", what, in,
	    want ? want : "(refused)");
	if (want == NULL) {
		CHECK(n == -1, label);
		return;
	}
	CHECK(n >= 0 && (size_t)n == strlen(want) && strcmp(out, want) == 0,
	    label);
	if (n >= 0) {
		if (strcmp(out, want) != 0)
			printf("# got \"%s\"\n", out);
		snprintf(label, sizeof(label), "%s: idempotent", what);
		CHECK(urlpath_normalise(out, (size_t)n, again) == n &&
		    strcmp(out, again) == 0, label);
	}
}

static void
test_plain(void)
{
	norm("/", "/", "root");
	norm("/v1/models", "/v1/models", "plain path unchanged");
	norm("/v1/models?x=1&y=2", "/v1/models?x=1&y=2", "with a query");
	norm("*", "*", "asterisk-form");
	norm("/a/b/", "/a/b/", "trailing slash kept");
	norm("/a.b/.c/..d/...", "/a.b/.c/..d/...", "dots in names");
}

static void
test_dots(void)
{
	norm("/v1/./admin", "/v1/admin", "'.' segment");
	norm("/v1/x/../admin", "/v1/admin", "'..' segment");
	norm("/a/.", "/a/", "trailing '.'");
	norm("/a/..", "/", "trailing '..'");
	norm("/a/b/..", "/a/", "trailing '..', two deep");
	norm("/..", "/", "'..' at the root");
	norm("/.", "/", "'.' at the root");
	norm("/./", "/", "'./' at the root");
	norm("/../etc/passwd", "/etc/passwd", "'..' cannot climb above /");
	norm("/a/../../../etc", "/etc", "many '..' stop at /");
	norm("/a/b/c/../../d", "/a/d", "'..' twice");
	norm("/a/./b/./c/.", "/a/b/c/", "several '.'");
	norm("/v1/..%2Fadmin", "/v1/..%2Fadmin",
	    "'..%2F' is a name: segments end at '/' only");
	norm("/v1/%2e%2e/admin", "/admin", "'%2e%2e' is '..'");
	norm("/v1/%2E%2e/v1/admin", "/v1/admin", "'%2E%2e', mixed case");
	norm("/v1/.%2e/admin", "/admin", "'.%2e'");
	norm("/v1/%2e/admin", "/v1/admin", "'%2e' is '.'");
	norm("/v1/x/..?q=/../", "/v1/?q=/../", "query after '..' untouched");
	norm("/a?/../b", "/a?/../b", "'/../' in the query untouched");
}

static void
test_escapes(void)
{
	norm("/%61dmin", "/admin", "unreserved letter decoded");
	norm("/%41%7a%30%2d%2E%5f%7E", "/Az0-._~", "every unreserved class");
	norm("/a%2fb", "/a%2Fb", "'%2f' upper-cased, kept encoded");
	norm("/a%2Fb", "/a%2Fb", "'%2F' kept");
	norm("/%c3%a9t%C3%A9", "/%C3%A9t%C3%A9", "non-ASCII escapes upper-cased");
	norm("/a%20b%3b", "/a%20b%3B", "space and ';' stay encoded");
	norm("/%252e%252e/x", "/%252e%252e/x",
	    "double encoding is decoded once: '%25' then the characters '2e'");
	norm("/%00", "/%00", "NUL stays encoded");
	norm("/a?%zz", "/a?%zz", "a bad escape in the query is not ours");
	norm("/a?b=%61", "/a?b=%61", "query escapes left as sent");
	norm("/%", NULL, "'%' at the end");
	norm("/%4", NULL, "'%' with one digit");
	norm("/%4g", NULL, "'%' with a non-hex digit");
	norm("/%%41", NULL, "'%%'");
	norm("/a%?b", NULL, "'%' right before the query");
}

static void
test_odd(void)
{
	norm("//admin", "//admin", "leading '//' kept");
	norm("/v1//admin", "/v1//admin", "inner '//' kept");
	norm("/v1//../admin", "/v1/admin", "'..' after an empty segment");
	norm("//..", "/", "'..' after an empty segment at the root");
	norm("/a;b/c", "/a;b/c", "';' parameter on a name");
	norm("/a/..;/admin", NULL, "'..;' refused: Tomcat reads it as '..'");
	norm("/a/.;x/b", NULL, "'.;x' refused");
	norm("/a\\..\\admin", NULL, "a raw backslash refused");
	norm("/a/%5C/b", "/a/%5C/b", "an encoded backslash stays encoded");
	norm("/a/%2e%2e;/b", NULL, "'%2e%2e;' refused");
	norm("/a/...;/b", "/a/...;/b", "'...;' is a name");
	norm("/a/..x;/b", "/a/..x;/b", "'..x;' is a name");
	norm("", NULL, "empty target");
	norm("a/b", NULL, "no leading '/'");
	norm("http://x/a", NULL, "absolute-form is not ours");
	norm("**", NULL, "only '*' alone");
}

static void
test_long(void)
{
	size_t len = 60000, i, k = 0;
	char *in = malloc(len + 1), *out = malloc(len + 1);
	ssize_t n;

	if (in == NULL || out == NULL)
		exit(1);
	/* "/a/.." and "/%2e." ("/..") over and over climb nowhere. */
	for (i = 0; i + 5 <= len; i += 5)
		memcpy(in + i, i % 10 ? "/%2e." : "/a/..", 5);
	in[i] = '\0';
	n = urlpath_normalise(in, i, out);
	CHECK(n == 1 && strcmp(out, "/") == 0,
	    "long: 60 KB of dot segments collapse to /");

	for (i = 0; i < len; i++)
		in[i] = i % 3 == 0 ? '/' : 'x';
	n = urlpath_normalise(in, len, out);
	CHECK(n == (ssize_t)len && memcmp(in, out, len) == 0,
	    "long: 60 KB without dots or escapes is unchanged");

	for (i = 0; i + 2 < len; i += 3) {
		memcpy(in + i, "/..", 3);
		k++;
	}
	n = urlpath_normalise(in, i, out);
	CHECK(n == 1 && k > 1000, "long: 20000 '..' at the root");
	free(in);
	free(out);
}

/* urlpath_lenient(in) is want (NULL: cannot be read). */
static void
lenient(const char *in, const char *want, const char *what)
{
	char out[256], label[512];
	ssize_t n = urlpath_lenient(in, strlen(in), out);

	snprintf(label, sizeof(label), "lenient: %s: \"%s\" -> \"%s\"",
	    what, in, want ? want : "(unreadable)");
	if (want == NULL)
		CHECK(n == -1, label);
	else
		CHECK(n >= 0 && strcmp(out, want) == 0, label);
	snprintf(label, sizeof(label), "lenient: %s: ambiguous \"%s\"",
	    what, in);
	CHECK(urlpath_ambiguous(in, strlen(in)) == (want == NULL ||
	    strcmp(in, want) != 0), label);
}

/* How lenient upstreams read a normalised path. */
static void
test_lenient(void)
{
	lenient("/v1/models", "/v1/models", "none");
	lenient("/ok%2F..%2Fadmin", "/admin", "encoded slashes around ..");
	lenient("/ok/..%2Fadmin", "/admin", "one encoded slash after ..");
	lenient("/ok%5C..%5Cadmin", "/admin", "encoded backslashes");
	lenient("/ok%2f..%2fadmin", "/admin", "lower-case hex");
	lenient("/group%2Fname/x", "/group/name/x", "GitLab's encoded slash");
	lenient("/a%2F%2Fb", "/a//b", "two encoded slashes stay two");
	lenient("/a%252Fb", "/a%252Fb", "decoded once: %252F is not a slash");
	lenient("/a%2F..;x/b", "/b", "a ..;x segment once decoded is ..");
	lenient("/a%2", "/a%2", "a short tail");
	lenient("/admin;jsessionid=1", "/admin", "a ';' parameter dropped");
	lenient("/a;x/b;y/", "/a/b/", "parameters on every segment");
	lenient("/ok;x%2F..%2Fadmin", "/admin", "a parameter ends at an encoded slash");
}

/* The path a log line may name: everything before the first '?'. */
static void
test_path_len(void)
{
	CHECK(urlpath_path_len("/a/b", 4) == 4, "path_len: no query");
	CHECK(urlpath_path_len("/a?token=s?x", 12) == 2,
	    "path_len: the query from the first '?'");
	CHECK(urlpath_path_len("/?", 2) == 1, "path_len: an empty query");
	CHECK(urlpath_path_len("/a?b", 2) == 2,
	    "path_len: a '?' beyond len is not read");
}

int
main(void)
{
	test_plain();
	test_dots();
	test_escapes();
	test_odd();
	test_long();
	test_lenient();
	test_path_len();
	return unit_done();
}
