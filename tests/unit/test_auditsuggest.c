/*
 * test_auditsuggest.c - what `sluice-audit suggest` makes rules of.
 */
#include <string.h>

#include "auditsuggest.h"
#include "unit.h"

static int
glob_is(const char *const *paths, size_t n, int rc, const char *want)
{
	char out[64];

	memset(out, 0, sizeof(out));
	if (auditsuggest_glob(paths, n, out, sizeof(out)) != rc)
		return 0;
	return rc != 0 || strcmp(out, want) == 0;
}

static void
test_glob(void)
{
	const char *const dirs[] = { "/v1/users/1", "/v1/users/2",
	    "/v1/orders", "/v1/users/3" };
	const char *const stem[] = { "/v1/users", "/v1/users2", "/v1/usersx",
	    "/v1/user" };
	const char *const same[] = { "/a/b", "/a/b", "/a/b", "/a/b" };
	const char *const root[] = { "/a", "/b", "/c", "/d" };
	const char *const bad[] = { "/a", "*" };

	CHECK(glob_is(dirs, 4, 0, "/v1/*"), "common directory");
	CHECK(glob_is(stem, 4, 0, "/v1/*"), "a common stem is cut back to '/'");
	CHECK(glob_is(same, 4, 0, "/a/*"), "one path repeated");
	CHECK(glob_is(root, 4, 1, NULL), "only '/' in common: any path");
	CHECK(glob_is(bad, 2, -1, NULL), "'*' (OPTIONS *) refused");
	CHECK(glob_is(dirs, 0, -1, NULL), "no paths");
}

static void
test_glob_fits(void)
{
	const char *const long_[] = { "/aaaaaaaaaa/x", "/aaaaaaaaaa/y" };
	char out[16];

	CHECK(auditsuggest_glob(long_, 2, out, 13) == -1,
	    "a glob longer than the buffer is refused");
	CHECK(auditsuggest_glob(long_, 2, out, 14) == 0 &&
	    strcmp(out, "/aaaaaaaaaa/*") == 0, "exactly fits");
}

static void
test_names(void)
{
	CHECK(auditsuggest_host_ok("api.test"), "a name");
	CHECK(auditsuggest_host_ok("10.0.0.1"), "an address");
	CHECK(auditsuggest_host_ok("it's.test"), "a quote (SQL quotes it)");
	CHECK(!auditsuggest_host_ok("*.test"), "a wildcard");
	CHECK(!auditsuggest_host_ok("a b"), "a space");
	CHECK(!auditsuggest_host_ok("a/b"), "a slash");
	CHECK(!auditsuggest_host_ok("a\nb"), "a newline");
	CHECK(!auditsuggest_host_ok(""), "empty");
	CHECK(auditsuggest_method_ok("GET"), "GET");
	CHECK(!auditsuggest_method_ok("M-SEARCH"), "a dash");
	CHECK(!auditsuggest_method_ok("get"), "lowercase");
	CHECK(!auditsuggest_method_ok(""), "empty method");
}

int
main(void)
{
	test_glob();
	test_glob_fits();
	test_names();
	return unit_done();
}
