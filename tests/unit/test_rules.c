/*
 * test_rules.c - rules.c: matching (and the index agreeing with a linear
 * walk), the schema's CHECKs and migrations, loading and validation,
 * injections and their secrets, and hot reload through the loader thread.
 *
 * Every secret here is a fake holding "FAKE", and the tests that load them
 * capture stderr and check that "FAKE" never shows in it.
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "rules.h"
#include "urlpath.h"
#include "unit.h"

static char test_dir[] = "/tmp/sluice-test-rules-XXXXXX";

static void
test_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", test_dir, name);
}

static sqlite3 *
test_db_open(const char *path)
{
	sqlite3 *db = NULL;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK) {
		fprintf(stderr, "open %s: %s\n", path, sqlite3_errmsg(db));
		exit(1);
	}
	sqlite3_busy_timeout(db, 2000);
	return db;
}

/* SQLITE_OK or the failing result code. */
static int
test_exec(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

static int64_t
test_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	int64_t v = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static double
test_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void
test_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static int
test_has_rule(const struct rules_snapshot *snap, int64_t id)
{
	size_t i;

	for (i = 0; i < snap->nrules; i++)
		if (snap->rules[i].id == id)
			return 1;
	return 0;
}

/*
 * Wait up to ms for rs to publish a snapshot newer than gen that holds
 * rule id (or any).
 */
static int
test_wait_for(struct rules *rs, uint64_t gen, int64_t id, int ms)
{
	struct rules_snapshot *snap;
	double end = test_now_ms() + ms;
	int found;

	while (test_now_ms() < end) {
		if (rules_generation(rs) > gen) {
			snap = rules_acquire(rs);
			found = snap != NULL && (id < 0 || test_has_rule(snap, id));
			rules_snapshot_unref(snap);
			if (found)
				return 1;
		}
		test_sleep_ms(20);
	}
	return 0;
}

static void
test_host_match(void)
{
	CHECK(rules_host_match("api.example.com", "api.example.com"),
	    "host: exact");
	CHECK(!rules_host_match("api.example.com", "api.example.org"),
	    "host: exact, other name");
	CHECK(!rules_host_match("api.example.com", "xapi.example.com"),
	    "host: exact, longer name");
	CHECK(rules_host_match("api.example.com", "API.Example.COM"),
	    "host: case-insensitive");
	CHECK(rules_host_match("*", "anything.at.all"), "host: '*' any name");
	CHECK(rules_host_match("*", "10.0.0.1"), "host: '*' an address");
	CHECK(rules_host_match("*.example.com", "a.example.com"),
	    "host: wildcard, one label");
	CHECK(rules_host_match("*.example.com", "a.b.example.com"),
	    "host: wildcard, two labels");
	CHECK(!rules_host_match("*.example.com", "example.com"),
	    "host: wildcard does not match the bare domain");
	CHECK(!rules_host_match("*.example.com", "badexample.com"),
	    "host: wildcard needs the dot");
	CHECK(!rules_host_match("*.example.com", ".example.com"),
	    "host: wildcard needs a label");
	CHECK(rules_host_match("*.example.com", "A.EXAMPLE.com"),
	    "host: wildcard, case-insensitive");
	CHECK(rules_host_match("api.example.com", "api.example.com."),
	    "host: trailing dot on the name");
}

static void
test_glob_match(void)
{
	static char as[200001];
	double t0;

#define GLOB(g, s)	rules_glob_match((g), (s), strlen(s))
	CHECK(GLOB("/v1/models", "/v1/models"), "glob: no star, equal");
	CHECK(!GLOB("/v1/models", "/v1/model"), "glob: no star, shorter");
	CHECK(!GLOB("/v1/models", "/v1/modelsx"), "glob: no star, longer");
	CHECK(GLOB("*/models", "/v1/models"), "glob: leading star");
	CHECK(GLOB("*/models", "/models"), "glob: leading star, empty run");
	CHECK(!GLOB("*/models", "/v1/models/x"), "glob: leading star, tail");
	CHECK(GLOB("/v1/*/items", "/v1/a/b/items"), "glob: middle star");
	CHECK(GLOB("/v1/*/items", "/v1//items"), "glob: middle star, empty");
	CHECK(!GLOB("/v1/*/items", "/v1/a/item"), "glob: middle star, miss");
	CHECK(GLOB("/v1/*", "/v1/"), "glob: trailing star, empty run");
	CHECK(GLOB("/v1/*", "/v1/a/b?c"), "glob: trailing star, anything");
	CHECK(!GLOB("/v1/*", "/v2/a"), "glob: trailing star, other prefix");
	CHECK(GLOB("/*/x/*/y*", "/a/x/b/c/y"), "glob: several stars");
	CHECK(GLOB("/*/x/*/y*", "/a/x/x/y/yz"), "glob: several stars, retry");
	CHECK(!GLOB("/*/x/*/y*", "/a/x/b"), "glob: several stars, miss");
	CHECK(GLOB("**", ""), "glob: stars match empty string");
	CHECK(GLOB("", ""), "glob: empty matches empty");
	CHECK(!GLOB("", "/"), "glob: empty matches nothing else");
	CHECK(!GLOB("/", ""), "glob: empty string vs literal");
	CHECK(GLOB("*", "/anything"), "glob: '*' alone");
	CHECK(GLOB("/a?b", "/a?b"), "glob: '?' is literal");
	CHECK(!GLOB("/a?b", "/axb"), "glob: '?' matches only itself");
	CHECK(rules_glob_match("/v1/*", "/v1/models?key=1", 10),
	    "glob: only slen bytes are looked at");
	CHECK(!rules_glob_match("/v1/models", "/v1/models?x", 5),
	    "glob: slen shorter than the glob");

	memset(as, 'a', sizeof(as) - 1);
	t0 = test_now_ms();
	CHECK(!GLOB("a*a*a*a*b", as), "glob: pathological pattern misses");
	CHECK(GLOB("a*a*a*a*", as), "glob: pathological pattern matches");
	CHECK(test_now_ms() - t0 < 1000, "glob: pathological pattern is fast");
#undef GLOB
}

static void
test_schema(void)
{
	char path[PATH_MAX], sql[512];
	struct stat sb;
	sqlite3 *db;
	size_t i;
	static const char *bad[] = {
		"INSERT INTO rules (host, action) VALUES ('a.com', 'allowed')",
		"INSERT INTO rules (host, port) VALUES ('a.com', 0)",
		"INSERT INTO rules (host, port) VALUES ('a.com', 65536)",
		"INSERT INTO rules (host, action, path) "
		    "VALUES ('a.com', 'passthrough', '/x')",
		"INSERT INTO rules (host, action, method) "
		    "VALUES ('a.com', 'passthrough', 'GET')",
		"INSERT INTO rules (host) VALUES ('a b.com')",
		"INSERT INTO rules (host) VALUES ('')",
		"INSERT INTO rules (host) VALUES ('a.com/x')",
		"INSERT INTO rules (host) VALUES ('a*.com')",
		"INSERT INTO rules (host) VALUES ('*.')",
		"INSERT INTO rules (host) VALUES ('*.*.com')",
		"INSERT INTO rules (host, method) VALUES ('a.com', 'get')",
		"INSERT INTO rules (host, method) VALUES ('a.com', '')",
		"INSERT INTO rules (host, method) VALUES ('a.com', 'GET ')",
		"INSERT INTO rules (host, path) VALUES ('a.com', 'v1/*')",
		"INSERT INTO rules (host, path) VALUES ('a.com', '*/v1')",
		"INSERT INTO rules (host, enabled) VALUES ('a.com', 2)",
		"INSERT INTO injections VALUES (1, 'cookie', NULL, 's')",
		"INSERT INTO rate_limits (rule_id, requests, per_seconds) "
		    "VALUES (1, 0, 1)",
		"INSERT INTO rate_limits (rule_id, requests, per_seconds, "
		    "scope) VALUES (1, 1, 1, 'world')",
		"INSERT INTO cache_policies (rule_id, ttl_seconds) "
		    "VALUES (1, 0)",
	};
	static const char *good[] = {
		"INSERT INTO rules (id, host) VALUES (1, 'a.com')",
		"INSERT INTO rules (host, port, method, path) "
		    "VALUES ('*.a.com', 443, 'GET', '/v1/*')",
		"INSERT INTO rules (host, action) VALUES ('*', 'passthrough')",
		"INSERT INTO rules (host, path) VALUES ('a.com', '*')",
		"INSERT INTO secrets VALUES ('s', 'env:TOKEN')",
		"INSERT INTO injections VALUES (1, 'header', 'X-Key', 's')",
		"INSERT INTO rate_limits (rule_id, requests, per_seconds, "
		    "burst, scope) VALUES (1, 10, 60, 20, 'client')",
		"INSERT INTO cache_policies (rule_id, ttl_seconds) "
		    "VALUES (1, 300)",
	};

	test_path(path, sizeof(path), "schema.db");
	CHECK(rules_db_init(path) == 0, "schema: rules_db_init creates");
	CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0137) == 0,
	    "schema: file mode 0640 or stricter");
	db = test_db_open(path);
	CHECK(test_int(db, "PRAGMA user_version") == 2,
	    "schema: user_version 2");
	CHECK(test_int(db, "SELECT count(*) FROM sqlite_schema WHERE "
	    "name IN ('secrets', 'rules', 'injections', 'rate_limits', "
	    "'cache_policies', 'rules_overview')") == 6,
	    "schema: all tables and the view");
	CHECK(test_int(db, "SELECT journal_mode = 'wal' FROM "
	    "pragma_journal_mode") == 1, "schema: WAL");
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(sql, sizeof(sql), "schema: accepted: %s", good[i]);
		CHECK(test_exec(db, good[i]) == SQLITE_OK, sql);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(sql, sizeof(sql), "schema: refused: %s", bad[i]);
		CHECK(test_exec(db, bad[i]) == SQLITE_CONSTRAINT, sql);
	}
	CHECK(test_int(db, "SELECT count(*) FROM rules_overview WHERE "
	    "id = 1 AND injections = 'header:X-Key<-s' AND "
	    "rate_limit = '10/60s burst 20 per client' AND "
	    "cache_policy = 'ttl 300s max 1048576B'") == 1,
	    "schema: rules_overview describes a rule");

	/* An existing database is left as it is. */
	CHECK(rules_db_init(path) == 0, "schema: rules_db_init on existing");
	CHECK(test_int(db, "SELECT count(*) FROM rules") == 4,
	    "schema: existing rows kept");

	/* One from a newer sluice is refused. */
	test_exec(db, "PRAGMA user_version = 99");
	CHECK(rules_db_init(path) == -1, "schema: newer version refused");
	CHECK(rules_load(path) == NULL, "schema: newer version not loaded");
	sqlite3_close(db);

	CHECK(rules_load("/nonexistent/rules.db") == NULL,
	    "load: missing file fails");
	test_path(path, sizeof(path), "no/such/dir.db");
	CHECK(rules_db_init(path) == -1, "schema: unwritable path fails");
}

static void
test_load_and_match(void)
{
	char path[PATH_MAX];
	struct rules_snapshot *snap;
	const struct rule *r;
	sqlite3 *db;
	static const int64_t order[] = { 20, 5, 10, 50, 3, 30 };
	size_t i;
	int ordered;

	test_path(path, sizeof(path), "match.db");
	CHECK(rules_db_init(path) == 0, "match: db created");
	db = test_db_open(path);
	CHECK(test_exec(db,
	    "INSERT INTO rules (id, priority, host, port, method, path, action)"
	    " VALUES"
	    " (10, 50, 'api.example.com', 443, 'GET', '/v1/*', 'allow'),"
	    " (5, 50, 'api.example.com', 443, 'POST', '/v1/*', 'deny'),"
	    " (20, 10, '*.pass.example', NULL, NULL, NULL, 'passthrough'),"
	    " (30, 100, '*', NULL, NULL, NULL, 'deny'),"
	    " (3, 100, 'api.example.com', 8443, NULL, NULL, 'allow'),"
	    " (50, 60, 'API.Example.COM.', NULL, NULL, '/exact', 'allow');"
	    "INSERT INTO rules (id, priority, enabled, host) VALUES"
	    " (40, 1, 0, '*');") == SQLITE_OK, "match: rules inserted");
	sqlite3_close(db);

	snap = rules_load(path);
	CHECK(snap != NULL, "match: loaded");
	if (snap == NULL)
		return;
	CHECK(snap->nrules == 6 && snap->nskipped == 0,
	    "match: six enabled rules, none skipped");
	ordered = snap->nrules == 6;
	for (i = 0; ordered && i < 6; i++)
		ordered = snap->rules[i].id == order[i];
	CHECK(ordered, "match: sorted by priority, then id");
	CHECK(!test_has_rule(snap, 40), "match: disabled rule not loaded");
	CHECK(snap->nrules == 6 &&
	    strcmp(snap->rules[3].host, "api.example.com") == 0,
	    "match: host lowercased, trailing dot dropped");
	CHECK(snap->nrules == 6 && snap->rules[0].port == 0 &&
	    snap->rules[0].method == NULL && snap->rules[0].path == NULL &&
	    snap->rules[0].action == RULE_PASSTHROUGH,
	    "match: NULL columns load as 'any'");

#define REQ(h, p, m, u) \
	rules_match_request(snap, (h), (p), (m), (u), strlen(u))
#define ID(r)	((r) != NULL ? (r)->id : -1)
	r = REQ("api.example.com", 443, "GET", "/v1/models");
	CHECK(ID(r) == 10 && r->action == RULE_ALLOW, "match: GET rule");
	r = REQ("api.example.com", 443, "POST", "/v1/models");
	CHECK(ID(r) == 5 && r->action == RULE_DENY,
	    "match: POST rule, lower id first at equal priority");
	r = REQ("api.example.com", 443, "PUT", "/v1/models");
	CHECK(ID(r) == 30, "match: method filter falls through to '*'");
	r = REQ("api.example.com", 443, "GET", "/v2/models");
	CHECK(ID(r) == 30, "match: path filter falls through to '*'");
	r = REQ("api.example.com", 443, "GET", "/exact");
	CHECK(ID(r) == 50, "match: normalized host matches");
	r = REQ("api.example.com", 8443, "GET", "/v1/models");
	CHECK(ID(r) == 3, "match: port filter");
	r = rules_match_request(snap, "api.example.com", 443, "GET",
	    "/v1/models?key=x", strlen("/v1/models"));
	CHECK(ID(r) == 10, "match: path without the query");
	r = REQ("x.pass.example", 443, "GET", "/");
	CHECK(ID(r) == 30, "match: passthrough skipped per request");

	r = rules_match_conn(snap, "x.pass.example", 443);
	CHECK(ID(r) == 20 && r->action == RULE_PASSTHROUGH,
	    "match: passthrough found per connection");
	r = rules_match_conn(snap, "pass.example", 443);
	CHECK(ID(r) == 30, "match: wildcard does not cover the bare domain");
	r = rules_match_conn(snap, "api.example.com", 443);
	CHECK(ID(r) == 5, "match: conn ignores method and path");
	r = rules_match_conn(snap, "api.example.com", 8443);
	CHECK(ID(r) == 50, "match: conn, any-port rule before port 8443's");
#undef REQ
#undef ID

	rules_snapshot_unref(snap);
}

/* Rows the C loader must refuse, in a database made without our CHECKs. */
static void
test_skip(void)
{
	char path[PATH_MAX];
	struct rules_snapshot *snap;
	sqlite3 *db;

	test_path(path, sizeof(path), "skip.db");
	CHECK(rules_db_init(path) == 0, "skip: db created");
	db = test_db_open(path);
	CHECK(test_exec(db, "INSERT INTO rules (id, host) VALUES "
	    "(1, 'a..example.com'), (2, 'ok.example.com'), (3, 'a_b.example'),"
	    " (4, 'tab\tin.host')") == SQLITE_OK,
	    "skip: rows that pass the CHECKs");
	sqlite3_close(db);
	snap = rules_load(path);
	CHECK(snap != NULL && snap->nrules == 2 && snap->nskipped == 2 &&
	    test_has_rule(snap, 2) && test_has_rule(snap, 3),
	    "skip: bad host labels skipped, counted, rest kept");
	rules_snapshot_unref(snap);

	test_path(path, sizeof(path), "hand.db");
	CHECK(sqlite3_open(path, &db) == SQLITE_OK, "skip: hand-made db");
	CHECK(test_exec(db,
	    "CREATE TABLE rules (id INTEGER PRIMARY KEY, priority, enabled,"
	    " host, port, method, path, action, note);"
	    "INSERT INTO rules (id, priority, enabled, host, port, method,"
	    " path, action) VALUES"
	    " (1, 1, 1, 'ok.example', 443, 'GET', '/x', 'allow'),"
	    " (2, 1, 1, 'a.example', 70000, NULL, NULL, 'allow'),"
	    " (3, 1, 1, 'a.example', 0, NULL, NULL, 'allow'),"
	    " (4, 1, 1, 'a.example', NULL, 'get', NULL, 'allow'),"
	    " (5, 1, 1, 'a.example', NULL, NULL, 'x', 'allow'),"
	    " (6, 1, 1, 'a.example', NULL, NULL, '/x', 'passthrough'),"
	    " (7, 1, 1, 'a.example', NULL, NULL, NULL, 'bogus'),"
	    " (8, 1, 1, 'a*.example', NULL, NULL, NULL, 'allow'),"
	    " (9, 1, 1, '*.', NULL, NULL, NULL, 'allow'),"
	    " (10, 1, 1, NULL, NULL, NULL, NULL, 'allow'),"
	    " (11, 'high', 1, 'a.example', NULL, NULL, NULL, 'allow'),"
	    " (12, 1, 1, 'a.example', 'https', NULL, NULL, 'allow'),"
	    " (13, 1, 1, 'a.example', NULL, 'GET', NULL, 'allow'),"
	    " (14, 1, 1, '', NULL, NULL, NULL, 'allow');") == SQLITE_OK,
	    "skip: bad rows stored without CHECKs");
	sqlite3_close(db);
	CHECK(rules_db_init(path) == 0, "skip: hand-made db left alone");
	snap = rules_load(path);
	CHECK(snap != NULL && snap->nrules == 2 && snap->nskipped == 12 &&
	    test_has_rule(snap, 1) && test_has_rule(snap, 13),
	    "skip: every bad row skipped and counted");
	rules_snapshot_unref(snap);
}

/*
 * How the index answers for hosts of every shape: exact names before
 * wildcards only by (priority, id), wildcards at any depth, a trailing dot,
 * case, and paths compared as given.
 */
static void
test_index_hosts(void)
{
	char path[PATH_MAX];
	struct rules_snapshot *snap;
	sqlite3 *db;

	test_path(path, sizeof(path), "index.db");
	CHECK(rules_db_init(path) == 0, "index: db created");
	db = test_db_open(path);
	CHECK(test_exec(db,
	    "INSERT INTO rules (id, priority, host, path) VALUES"
	    " (1, 10, 'api.example.com', NULL),"
	    " (2, 20, '*.example.com', NULL),"
	    " (3, 15, '*.b.example.com', NULL),"
	    " (4, 40, '*.com', NULL),"
	    " (5, 50, '*', '/*items'),"
	    " (6, 45, '*', '/v1/*/items'),"
	    " (7, 5, 'files.example.org', '/a/b'),"
	    " (8, 5, 'files.example.org', '/a%2Fb'),"
	    " (9, 6, 'files.example.org', '/v1/*'),"
	    " (10, 1, '*.deep.example.net', NULL),"
	    " (11, 2, 'Upper.Example.NET', NULL)") == SQLITE_OK,
	    "index: rules inserted");
	sqlite3_close(db);
	snap = rules_load(path);
	CHECK(snap != NULL && snap->nrules == 11, "index: loaded");
	if (snap == NULL)
		return;

#define REQ(h, u) \
	rules_match_request(snap, (h), 443, "GET", (u), strlen(u))
#define ID(r)		((r) != NULL ? (r)->id : -1)
	CHECK(ID(REQ("api.example.com", "/")) == 1, "index: exact name");
	CHECK(ID(REQ("x.example.com", "/")) == 2, "index: wildcard, one label");
	CHECK(ID(REQ("a.b.c.d.example.com", "/")) == 2,
	    "index: wildcard, four labels under it");
	CHECK(ID(REQ("x.b.example.com", "/")) == 3,
	    "index: deeper wildcard first when its priority says so");
	CHECK(ID(REQ("q.w.e.r.t.y.b.example.com", "/")) == 3,
	    "index: deeper wildcard, many labels");
	CHECK(ID(REQ("b.example.com", "/")) == 2,
	    "index: '*.b.example.com' does not cover b.example.com");
	CHECK(ID(REQ("example.com", "/")) == 4,
	    "index: '*.example.com' does not cover example.com, '*.com' does");
	CHECK(ID(REQ("com", "/")) == -1, "index: '*.com' does not cover com");
	CHECK(ID(REQ("x.y.z.deep.example.net", "/")) == 10,
	    "index: wildcard under a name that has no rule of its own");
	CHECK(ID(REQ("upper.example.net", "/")) == 11,
	    "index: rule host stored in upper case");

	CHECK(ID(REQ("api.example.com.", "/")) == 1,
	    "index: trailing dot, exact");
	CHECK(ID(REQ("x.b.example.com.", "/")) == 3,
	    "index: trailing dot, wildcard");
	CHECK(ID(REQ("example.com.", "/")) == 4,
	    "index: trailing dot, bare domain");
	CHECK(ID(REQ("com.", "/")) == -1, "index: trailing dot, 'com.'");
	CHECK(ID(REQ("api.example.com..", "/")) == -1,
	    "index: only one trailing dot is dropped");
	CHECK(ID(REQ(".example.com", "/")) == 4,
	    "index: an empty first label is no label for '*.example.com'");

	CHECK(ID(REQ("API.EXAMPLE.COM", "/")) == 1, "index: case, exact");
	CHECK(ID(REQ("X.B.Example.Com", "/")) == 3, "index: case, wildcard");

	/* Callers strip a port from the Host header; here it is part of it. */
	CHECK(ID(REQ("api.example.com:443", "/")) == -1,
	    "index: a port in the host is not stripped here");

	/*
	 * Paths are compared as given: normalising them is exchange.c's
	 * (urlpath.c), so nothing is percent-decoded here.
	 */
	CHECK(ID(REQ("files.example.org", "/a/b")) == 7,
	    "index: path, plain");
	CHECK(ID(REQ("files.example.org", "/a%2Fb")) == 8,
	    "index: path, '%2F' is matched literally");
	CHECK(ID(REQ("files.example.org", "/a%2fb")) == -1,
	    "index: path, '%2f' is not '%2F'");
	CHECK(ID(REQ("files.example.org", "/v1/%2e%2e/x")) == 9,
	    "index: path, '%2e%2e' is not '..'");

	/*
	 * A glob is '*' or starts with '/' (the schema and the loader both
	 * say so), so "the start" is right after that slash.
	 */
	CHECK(ID(REQ("other.net", "/x/items")) == 5,
	    "index: '*' at the start of a glob");
	CHECK(ID(REQ("other.net", "/items")) == 5,
	    "index: '*' at the start of a glob, empty run");
	CHECK(ID(REQ("other.net", "/v1/a/b/items")) == 6,
	    "index: '*' in the middle of a glob");
	CHECK(ID(REQ("other.net", "/v1/items")) == 5,
	    "index: middle '*' needs both slashes");
	CHECK(ID(REQ("other.net", "/v1/a/b/item")) == -1,
	    "index: no glob fits");
	CHECK(ID(REQ("", "/items")) == 5, "index: empty host, '*' rules");
	CHECK(ID(rules_match_conn(snap, "api.example.com", 443)) == 1,
	    "index: conn, exact");
	CHECK(ID(rules_match_conn(snap, "other.net", 443)) == 6,
	    "index: conn ignores paths");
#undef REQ
#undef ID
	rules_snapshot_unref(snap);

	test_path(path, sizeof(path), "empty.db");
	CHECK(rules_db_init(path) == 0, "index: empty db created");
	snap = rules_load(path);
	CHECK(snap != NULL && snap->nrules == 0 &&
	    rules_match_conn(snap, "a.example", 443) == NULL &&
	    rules_match_request(snap, "a.example", 443, "GET", "/", 1) ==
	    NULL, "index: no rules, no match");
	rules_snapshot_unref(snap);
}

/*
 * Paths arrive normalised (urlpath.c) but with repeated slashes kept:
 * a deny matches either reading, an allow needs both.  Methods match in
 * any case.
 */
static void
test_slashes_methods(void)
{
	char path[PATH_MAX];
	struct rules_snapshot *snap;
	sqlite3 *db;

	test_path(path, sizeof(path), "slashes.db");
	CHECK(rules_db_init(path) == 0, "slashes: db created");
	db = test_db_open(path);
	CHECK(test_exec(db,
	    "INSERT INTO rules (id, priority, host, method, path, action) VALUES"
	    " (1, 10, 'api.test', NULL, '/v1/admin*', 'deny'),"
	    " (2, 10, 'api.test', 'DELETE', NULL, 'deny'),"
	    " (3, 20, 'api.test', NULL, '/v1/*', 'allow'),"
	    " (4, 20, 's3.test', NULL, '/bucket/a/*', 'allow'),"
	    " (5, 30, 's3.test', 'GET', '*', 'allow'),"
	    " (7, 30, 'git.test', NULL, '/projects/g%2Fname/*', 'allow'),"
	    " (8, 20, 'git.test', NULL, '/projects/g%2Fsecret*', 'deny'),"
	    " (6, 40, '*', NULL, NULL, 'deny')") == SQLITE_OK,
	    "slashes: rules inserted");
	sqlite3_close(db);
	snap = rules_load(path);
	CHECK(snap != NULL && snap->nrules == 8, "slashes: loaded");
	if (snap == NULL)
		return;
#define REQ(h, m, u) \
	rules_match_request(snap, (h), 443, (m), (u), strlen(u))
#define ID(r)		((r) != NULL ? (r)->id : -1)
	CHECK(ID(REQ("api.test", "GET", "/v1/admin")) == 1,
	    "slashes: deny as sent");
	CHECK(ID(REQ("api.test", "GET", "/v1//admin")) == 1,
	    "slashes: deny matches the merged reading of /v1//admin");
	CHECK(ID(REQ("api.test", "GET", "/v1///admin/x")) == 1,
	    "slashes: deny matches three slashes merged");
	CHECK(ID(REQ("api.test", "GET", "//v1/admin")) == 1,
	    "slashes: deny matches a leading // merged");
	CHECK(ID(REQ("api.test", "GET", "/v1/ok")) == 3,
	    "slashes: allow as sent");
	CHECK(ID(REQ("api.test", "GET", "/V1/Admin/x")) == 1,
	    "case: a deny matches the path in any case");
	CHECK(ID(REQ("api.test", "GET", "/V1/ok")) == 6,
	    "case: an allow matches only the exact spelling");
	CHECK(ID(REQ("api.test", "GET", "/v1/a//b")) == 3,
	    "slashes: allow when both readings fit");
	CHECK(ID(REQ("api.test", "GET", "//v1/ok")) == 6,
	    "slashes: allow needs both readings: //v1/ok as sent is not /v1/*");
	CHECK(ID(REQ("api.test", "GET", "/v1//")) == 3,
	    "slashes: /v1// is under /v1/* both ways");
	CHECK(ID(REQ("s3.test", "PUT", "/bucket/a//key")) == 4,
	    "slashes: an S3 key with // under an allowed prefix");
	CHECK(ID(REQ("s3.test", "PUT", "/bucket//a/key")) == 6,
	    "slashes: /bucket//a/ is /bucket/a/ only when merged: not allowed");

	CHECK(ID(REQ("api.test", "DELETE", "/v1/x")) == 2,
	    "methods: DELETE denied");
	CHECK(ID(REQ("api.test", "delete", "/v1/x")) == 2,
	    "methods: 'delete' matches a DELETE rule");
	CHECK(ID(REQ("api.test", "DeLeTe", "/v1/x")) == 2,
	    "methods: mixed case matches");
	CHECK(ID(REQ("s3.test", "get", "/other")) == 5,
	    "methods: allow matches in any case too");
	CHECK(ID(REQ("api.test", "DELETEX", "/v1/x")) == 3,
	    "methods: only the whole name");

	CHECK(ID(REQ("api.test", "GET", "/v1/ok%2F..%2Fadmin")) == 1,
	    "separators: a deny matches /v1/ok%2F..%2Fadmin read as /v1/admin");
	CHECK(ID(REQ("api.test", "GET", "/v1/ok/..%5Cadmin/x")) == 1,
	    "separators: a deny matches an encoded backslash read as '/'");
	CHECK(ID(REQ("api.test", "GET", "/v1/a%2Fb")) == 3,
	    "separators: an allow when both readings fit (/v1/a/b)");
	CHECK(ID(REQ("api.test", "GET", "/v1/x%2F..%2F..%2Fother")) == 6,
	    "separators: an allow needs both readings: /other is not /v1/*");
	CHECK(ID(REQ("s3.test", "PUT", "/bucket/a%2F..%2F..%2Fb/key")) == 6,
	    "separators: nor is /b/key under /bucket/a/*");
	CHECK(ID(REQ("api.test", "GET", "/v1/admin;jsessionid=1")) == 1,
	    "params: a deny matches /v1/admin;x read as /v1/admin");
	CHECK(ID(REQ("api.test", "GET", "/v1/models;x")) == 3,
	    "params: an allow when both readings fit");
	CHECK(ID(REQ("git.test", "GET", "/projects/g%2Fname/issues")) == 7,
	    "separators: an allow written with %2F matches that path");
	CHECK(ID(REQ("git.test", "GET",
	    "/projects/g%2Fname%2F..%2F..%2Fadmin")) == 6,
	    "separators: and nothing its decoded reading leaves");
	CHECK(ID(REQ("git.test", "GET", "/projects/g/secret")) == 8,
	    "separators: a deny written with %2F meets the path read decoded");
#undef REQ
#undef ID
	rules_snapshot_unref(snap);
}

/* A small deterministic generator, so a failure can be replayed. */
static uint64_t test_rng = 0x5eed5eed12345678ULL;

static unsigned
test_rand(unsigned n)
{
	test_rng ^= test_rng << 13;
	test_rng ^= test_rng >> 7;
	test_rng ^= test_rng << 17;
	return (unsigned)(test_rng % n);
}

static const char *
test_pick(const char *const *v, size_t n)
{
	return v[test_rand(n)];
}

#define PICK(v)	test_pick((v), sizeof(v) / sizeof((v)[0]))

/* labels from a small alphabet, so that names and suffixes collide */
static void
test_rand_name(char *buf, size_t bufsz, unsigned maxlabels, int mixcase)
{
	static const char *const labels[] = {
		"a", "b", "c", "api", "x", "example", "test", "com", "org",
		"io",
	};
	unsigned i, n = 1 + test_rand(maxlabels);
	size_t len = 0;
	char *p;

	buf[0] = '\0';
	for (i = 0; i < n; i++)
		len += snprintf(buf + len, bufsz - len, "%s%s", i ? "." : "",
		    PICK(labels));
	if (mixcase)
		for (p = buf; *p != '\0'; p++)
			if (test_rand(3) == 0 && *p >= 'a' && *p <= 'z')
				*p -= 'a' - 'A';
}

/* path with every run of '/' as one, into merged (strlen(path) + 1). */
static void
test_merge_slashes(const char *path, char *merged)
{
	for (; *path != '\0'; path++)
		if (*path != '/' || path[1] != '/')
			*merged++ = *path;
	*merged = '\0';
}

/*
 * A path glob read both ways (as sent, slashes merged), and, when the path
 * holds "%2F" or "%5C", both ways again with those read as '/' against the
 * glob read so too: a deny needs one reading to match, an allow all.
 */
static int
test_ref_path(const struct rule *r, const char *path)
{
	char read[4][256], glob[256];
	int n = 2, i, k, hits = 0, deny = r->action != RULE_ALLOW;
	size_t len;

	snprintf(read[0], sizeof(read[0]), "%s", path);
	test_merge_slashes(path, read[1]);
	if (urlpath_ambiguous(path, strlen(path))) {
		if (urlpath_lenient(path, strlen(path), read[2]) == -1)
			return deny;
		test_merge_slashes(read[2], read[3]);
		n = 4;
	}
	/* A deny also meets each reading without its trailing slashes. */
	for (k = 0; k <= deny; k++) {
		for (i = 0; i < n; i++) {
			snprintf(glob, sizeof(glob), "%s", i < 2 ||
			    r->path_alt == NULL ? r->path : r->path_alt);
			len = strlen(read[i]);
			while (k && len > 1 && read[i][len - 1] == '/')
				len--;
			hits += rules_glob_match(glob, read[i], len);
			if (deny && i < 2 && r->path_alt != NULL)
				hits += rules_glob_match(r->path_alt, read[i],
				    len);
		}
	}
	return deny ? hits > 0 : hits == n;
}

/* The obvious way: every rule, in order. */
static const struct rule *
test_ref_match(const struct rules_snapshot *snap, const char *host, int port,
    const char *method, const char *path, int conn)
{
	const struct rule *r;
	size_t i;

	for (i = 0; i < snap->nrules; i++) {
		r = &snap->rules[i];
		if (r->port != 0 && r->port != port)
			continue;
		if (!rules_host_match(r->host, host))
			continue;
		if (conn)
			return r;
		if (r->action == RULE_PASSTHROUGH)
			continue;
		if (r->method != NULL &&
		    (method == NULL || strcasecmp(r->method, method) != 0))
			continue;
		if (r->path != NULL && (path == NULL ||
		    !test_ref_path(r, path)))
			continue;
		return r;
	}
	return NULL;
}

static void
test_index_equivalence(void)
{
	static const char *const ports[] = { NULL, NULL, "443", "8443", "80" };
	static const char *const methods[] = { NULL, NULL, "GET", "POST",
	    "PUT" };
	static const char *const globs[] = { NULL, NULL, "*", "/v1/*",
	    "/v1/*/items", "/*items", "/x", "/a%2Fb", "/v*", "/*/*" };
	static const char *const reqpaths[] = { "/v1/models", "/v1/a/items",
	    "/items", "/x", "/a%2Fb", "/a/b", "/", "/v2", "", NULL,
	    "//v1/models", "/v1//items", "/x//", "//", "/v1//a//items",
	    "/v1/x%2F..%2F..%2Fitems", "/v1%2Fmodels", "/a%5Cb", "/x;y",
	    "/v1;a/items" };
	static const char *const reqmethods[] = { "GET", "POST", "PUT",
	    "DELETE", NULL, "get", "Post" };
	static const int reqports[] = { 443, 8443, 80, 1234 };
	static const char *const oddhosts[] = { "", ".", "..", "com.", ".com",
	    "a..com", "*", "*.com" };
	char path[PATH_MAX], name[128], host[140];
	const struct rule *a, *b;
	struct rules_snapshot *snap;
	sqlite3_stmt *st;
	sqlite3 *db;
	const char *method, *p, *glob;
	unsigned i, kind, mismatches = 0, matched = 0;
	int port, conn;
	char *seen;
	size_t distinct = 0;

	test_path(path, sizeof(path), "equiv.db");
	CHECK(rules_db_init(path) == 0, "equiv: db created");
	db = test_db_open(path);
	test_exec(db, "BEGIN");
	if (sqlite3_prepare_v2(db, "INSERT INTO rules (id, priority, host, "
	    "port, method, path, action) VALUES (?, ?, ?, ?, ?, ?, ?)", -1,
	    &st, NULL) != SQLITE_OK) {
		CHECK(0, "equiv: prepare");
		return;
	}
	/*
	 * Few '*' rules, and those mostly narrowed by a path: a catch-all
	 * near the top would answer everything and test nothing.
	 */
	for (i = 1; i <= 2000; i++) {
		kind = test_rand(100);
		test_rand_name(name, sizeof(name), 4, 1);
		if (kind < 3)
			snprintf(host, sizeof(host), "*");
		else if (kind < 35)
			snprintf(host, sizeof(host), "*.%s", name);
		else
			snprintf(host, sizeof(host), "%s%s", name,
			    test_rand(8) == 0 ? "." : "");
		method = PICK(methods);
		glob = PICK(globs);
		if (kind < 3 && test_rand(4) != 0)
			glob = globs[4 + test_rand(6)];
		sqlite3_bind_int(st, 1, (int)i);
		sqlite3_bind_int(st, 2, (int)test_rand(50));
		sqlite3_bind_text(st, 3, host, -1, SQLITE_TRANSIENT);
		if ((p = PICK(ports)) != NULL)
			sqlite3_bind_int(st, 4, atoi(p));
		else
			sqlite3_bind_null(st, 4);
		sqlite3_bind_text(st, 5, method, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 6, glob, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 7, method == NULL && glob == NULL &&
		    test_rand(3) == 0 ? "passthrough" : test_rand(2) ? "allow" :
		    "deny", -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			mismatches++;
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	}
	sqlite3_finalize(st);
	test_exec(db, "COMMIT");
	sqlite3_close(db);
	CHECK(mismatches == 0, "equiv: 2000 random rules inserted");

	snap = rules_load(path);
	CHECK(snap != NULL && snap->nrules == 2000, "equiv: 2000 rules loaded");
	if (snap == NULL)
		return;
	if ((seen = calloc(snap->nrules, 1)) == NULL)
		return;
	for (i = 0; i < 5000; i++) {
		if (test_rand(50) == 0) {
			snprintf(host, sizeof(host), "%s", PICK(oddhosts));
		} else {
			test_rand_name(name, sizeof(name), 6, 1);
			snprintf(host, sizeof(host), "%s%s", name,
			    test_rand(10) == 0 ? "." : "");
		}
		port = reqports[test_rand(4)];
		method = PICK(reqmethods);
		p = PICK(reqpaths);
		for (conn = 0; conn < 2; conn++) {
			a = conn ? rules_match_conn(snap, host, port) :
			    rules_match_request(snap, host, port, method, p,
			    p != NULL ? strlen(p) : 0);
			b = test_ref_match(snap, host, port, method, p, conn);
			if (a != b) {
				if (mismatches++ < 5)
					printf("# mismatch: %s %s:%d %s %s: "
					    "index %lld, linear %lld\n",
					    conn ? "conn" : "request", host,
					    port, method ? method : "-",
					    p ? p : "-",
					    a ? (long long)a->id : -1LL,
					    b ? (long long)b->id : -1LL);
			} else if (b != NULL) {
				matched++;
				if (!seen[b - snap->rules]++)
					distinct++;
			}
		}
	}
	CHECK(mismatches == 0,
	    "equiv: index and linear walk agree on 5000 random requests");
	printf("# equiv: %u matches, %zu distinct rules\n", matched, distinct);
	CHECK(matched > 5000 && distinct > 200,
	    "equiv: the requests hit many different rules");
	free(seen);
	rules_snapshot_unref(snap);
}

/* Send stderr to a file until test_capture_end(), which returns its text. */
static int test_saved_stderr = -1;

static void
test_capture_begin(const char *file)
{
	int fd;

	fflush(stderr);
	test_saved_stderr = dup(2);
	if ((fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1) {
		perror(file);
		exit(1);
	}
	dup2(fd, 2);
	close(fd);
}

static char *
test_capture_end(const char *file)
{
	static char text[65536];
	size_t n = 0;
	FILE *f;

	fflush(stderr);
	dup2(test_saved_stderr, 2);
	close(test_saved_stderr);
	if ((f = fopen(file, "r")) != NULL) {
		n = fread(text, 1, sizeof(text) - 1, f);
		fclose(f);
	}
	text[n] = '\0';
	fputs(text, stderr);
	return text;
}

static void
test_write_file(const char *name, const char *data, size_t len)
{
	char path[PATH_MAX];
	FILE *f;

	test_path(path, sizeof(path), name);
	if ((f = fopen(path, "w")) == NULL || fwrite(data, 1, len, f) != len ||
	    fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

static const struct rule *
test_rule(const struct rules_snapshot *snap, int64_t id)
{
	size_t i;

	for (i = 0; i < snap->nrules; i++)
		if (snap->rules[i].id == id)
			return &snap->rules[i];
	return NULL;
}

/* Does rule id have exactly this injection at position i? */
static int
test_inj(const struct rules_snapshot *snap, int64_t id, size_t i,
    enum rule_inject_kind kind, const char *name, const char *secret,
    const char *value, size_t value_len, const char *wire)
{
	const struct rule *r = test_rule(snap, id);
	const struct rule_injection *inj;

	if (r == NULL || i >= r->ninjections)
		return 0;
	inj = &r->injections[i];
	return inj->kind == kind &&
	    (name == NULL ? inj->name == NULL :
	    inj->name != NULL && strcmp(inj->name, name) == 0) &&
	    strcmp(inj->secret_name, secret) == 0 &&
	    inj->value_len == value_len &&
	    memcmp(inj->value, value, value_len) == 0 &&
	    (wire == NULL || (inj->wire_len == strlen(wire) &&
	    memcmp(inj->wire, wire, inj->wire_len) == 0));
}

static void
test_injections(void)
{
	char path[PATH_MAX], logpath[PATH_MAX], sql[4096], line[128];
	char *big, *logtext;
	struct rules_snapshot *snap;
	sqlite3 *db;
	size_t i;
	static const struct {
		int		 id;
		const char	*secret;
	} skipped[] = {
		{ 6, "envunset" }, { 7, "file_missing" }, { 8, "file_big" },
		{ 10, "lit" }, { 11, "lit" }, { 12, "lit" }, { 14, "crlf_lit" },
		{ 15, "basic_bad" }, { 16, "no_such" }, { 17, "lit" },
		{ 18, "envunset" }, { 20, "file_dir" }, { 21, "env" },
		{ 23, "lit" }, { 24, "empty_env" }, { 25, "dup" },
	};

	test_write_file("nl", "FAKE-file-nl\n", 13);
	test_write_file("crlf", "FAKE-file-crlf\r\n", 16);
	test_write_file("raw", "FAKE-file-raw", 13);
	test_write_file("two", "FAKE-file-two\n\n", 15);
	if ((big = malloc(65537)) == NULL)
		exit(1);
	memset(big, 'F', 65537);
	test_write_file("max", big, 65536);
	memcpy(big, "FAKE", 4);
	test_write_file("big", big, 65537);
	free(big);

	test_path(path, sizeof(path), "inject.db");
	CHECK(rules_db_init(path) == 0, "inject: db created");
	db = test_db_open(path);
	snprintf(sql, sizeof(sql),
	    "INSERT INTO secrets VALUES"
	    " ('lit', 'FAKE-lit-1'), ('env', 'env:SLUICE_UNIT_FAKE_ENV'),"
	    " ('envunset', 'env:SLUICE_UNIT_UNSET'),"
	    " ('file_nl', 'file:%1$s/nl'), ('file_crlf', 'file:%1$s/crlf'),"
	    " ('file_raw', 'file:%1$s/raw'), ('file_two', 'file:%1$s/two'),"
	    " ('file_missing', 'file:%1$s/missing'),"
	    " ('file_big', 'file:%1$s/big'), ('file_max', 'file:%1$s/max'),"
	    " ('file_dir', 'file:%1$s'),"
	    " ('crlf_lit', 'FAKE-crlf' || char(13, 10) || 'X-Evil: 1'),"
	    " ('basic_ok', 'user:FAKE-pass'), ('basic_bad', 'FAKE-nocolon'),"
	    " ('empty_env', 'env:');"
	    "INSERT INTO rules (id, host) VALUES (1, 'a.example'),"
	    " (2, 'b.example'), (3, 'c.example'), (4, 'd.example'),"
	    " (5, 'e.example'), (6, 'f.example'), (7, 'g.example'),"
	    " (8, 'h.example'), (9, 'i.example'), (10, 'j.example'),"
	    " (11, 'k.example'), (12, 'l.example'), (13, 'm.example'),"
	    " (14, 'n.example'), (15, 'o.example'), (16, 'p.example'),"
	    " (17, 'q.example'), (18, 'r.example'), (20, 't.example'),"
	    " (21, 'u.example'), (22, 'v.example'), (23, 'w.example'),"
	    " (24, 'x.example'), (25, 'y.example');"
	    "INSERT INTO rules (id, enabled, host) VALUES (19, 0, 's.example');"
	    "INSERT INTO injections (rule_id, kind, name, secret) VALUES"
	    " (1, 'bearer', NULL, 'lit'),"
	    " (2, 'header', 'X-Key', 'env'),"
	    " (2, 'query', 'key', 'file_nl'),"
	    " (2, 'basic', NULL, 'basic_ok'),"
	    " (3, 'header', 'X-A', 'file_crlf'),"
	    " (4, 'header', 'X-B', 'file_raw'),"
	    " (5, 'query', 'two', 'file_two'),"
	    " (6, 'header', 'X-C', 'envunset'),"
	    " (7, 'header', 'X-C', 'file_missing'),"
	    " (8, 'header', 'X-C', 'file_big'),"
	    " (9, 'header', 'X-Max', 'file_max'),"
	    " (10, 'header', 'Bad Name', 'lit'),"
	    " (11, 'query', 'a&b', 'lit'),"
	    " (12, 'header', NULL, 'lit'),"
	    " (13, 'bearer', 'Ignored', 'lit'),"
	    " (14, 'header', 'X-Evil', 'crlf_lit'),"
	    " (15, 'basic', NULL, 'basic_bad'),"
	    " (16, 'header', 'X-C', 'no_such'),"
	    " (17, 'header', 'Content-Length', 'lit'),"
	    " (18, 'header', 'X-Ok', 'lit'),"
	    " (18, 'header', 'X-Unset', 'envunset'),"
	    " (19, 'header', 'X-C', 'envunset'),"
	    " (20, 'header', 'X-C', 'file_dir'),"
	    " (21, 'header', 'X-Dup', 'lit'),"
	    " (21, 'header', 'x-dup', 'env'),"
	    " (22, 'query', 'q:1/x?', 'lit'),"
	    " (23, 'query', 'a+b', 'lit'),"
	    " (24, 'header', 'X-C', 'empty_env'),"
	    " (999, 'header', 'X-Orphan', 'envunset');",
	    test_dir);
	CHECK(test_exec(db, sql) == SQLITE_OK, "inject: rows inserted");
	/* Without secrets.name's UNIQUE, one injection meets two secrets. */
	CHECK(test_exec(db, "CREATE TABLE s2 AS SELECT * FROM secrets;"
	    "DROP TABLE secrets; ALTER TABLE s2 RENAME TO secrets;"
	    "INSERT INTO secrets VALUES ('dup', 'FAKE-dup-1'),"
	    " ('dup', 'FAKE-dup-2');"
	    "INSERT INTO injections VALUES (25, 'header', 'X-C', 'dup')") ==
	    SQLITE_OK, "inject: duplicate secret names");
	sqlite3_close(db);

	setenv("SLUICE_UNIT_FAKE_ENV", "FAKE-env-1", 1);
	unsetenv("SLUICE_UNIT_UNSET");
	test_path(logpath, sizeof(logpath), "inject.log");
	test_capture_begin(logpath);
	snap = rules_load(path);
	logtext = test_capture_end(logpath);
	setenv("SLUICE_UNIT_FAKE_ENV", "FAKE-env-changed", 1);
	CHECK(snap != NULL, "inject: loaded");
	if (snap == NULL)
		return;

	CHECK(strstr(logtext, "FAKE") == NULL,
	    "inject: no secret value, env value or file content in the log");
	CHECK(snap->nrules == 25 - 1 - 16 &&
	    snap->nskipped == sizeof(skipped) / sizeof(skipped[0]),
	    "inject: bad rules skipped and counted, disabled one not");
	for (i = 0; i < sizeof(skipped) / sizeof(skipped[0]); i++) {
		snprintf(line, sizeof(line), "event=rule_skipped rule=%d "
		    "err=\"secret '%s': ", skipped[i].id, skipped[i].secret);
		snprintf(sql, sizeof(sql), "inject: rule %d skipped, logged "
		    "with secret %s", skipped[i].id, skipped[i].secret);
		CHECK(test_rule(snap, skipped[i].id) == NULL &&
		    strstr(logtext, line) != NULL, sql);
	}
	CHECK(strstr(logtext, "rule=19") == NULL &&
	    strstr(logtext, "rule=999") == NULL,
	    "inject: disabled rules and orphan rows are not looked at");
	CHECK(strstr(logtext, "rule=18") != NULL &&
	    strstr(strstr(logtext, "rule=18") + 1, "rule=18") == NULL,
	    "inject: one line per skipped rule");
	CHECK(strstr(logtext, "SLUICE_UNIT_UNSET") == NULL &&
	    strstr(logtext, test_dir) == NULL,
	    "inject: variable names and paths stay in the database");

	CHECK(test_inj(snap, 1, 0, RULE_INJECT_BEARER, NULL, "lit",
	    "FAKE-lit-1", 10, "Bearer FAKE-lit-1") &&
	    test_rule(snap, 1)->ninjections == 1, "inject: bearer, literal");
	CHECK(test_rule(snap, 2) != NULL &&
	    test_rule(snap, 2)->ninjections == 3 &&
	    test_inj(snap, 2, 0, RULE_INJECT_HEADER, "X-Key", "env",
	    "FAKE-env-1", 10, "FAKE-env-1") &&
	    test_inj(snap, 2, 1, RULE_INJECT_QUERY, "key", "file_nl",
	    "FAKE-file-nl", 12, "FAKE-file-nl") &&
	    test_inj(snap, 2, 2, RULE_INJECT_BASIC, NULL, "basic_ok",
	    "user:FAKE-pass", 14, "Basic dXNlcjpGQUtFLXBhc3M="),
	    "inject: three injections in rowid order, env read at load");
	CHECK(test_inj(snap, 3, 0, RULE_INJECT_HEADER, "X-A", "file_crlf",
	    "FAKE-file-crlf", 14, NULL), "inject: file, CRLF stripped");
	CHECK(test_inj(snap, 4, 0, RULE_INJECT_HEADER, "X-B", "file_raw",
	    "FAKE-file-raw", 13, NULL), "inject: file without a newline");
	CHECK(test_inj(snap, 5, 0, RULE_INJECT_QUERY, "two", "file_two",
	    "FAKE-file-two\n", 14, "FAKE-file-two%0A"),
	    "inject: file, only one newline stripped");
	CHECK(test_rule(snap, 9) != NULL &&
	    test_rule(snap, 9)->injections[0].value_len == 65536,
	    "inject: file of exactly 64 KiB");
	CHECK(test_inj(snap, 13, 0, RULE_INJECT_BEARER, NULL, "lit",
	    "FAKE-lit-1", 10, NULL), "inject: bearer ignores a name");
	CHECK(test_inj(snap, 22, 0, RULE_INJECT_QUERY, "q:1/x?", "lit",
	    "FAKE-lit-1", 10, NULL), "inject: query name with ':/?'");
	rules_snapshot_unref(snap);
}

static int64_t
test_match_id(const struct rules_snapshot *snap, const char *host, int port,
    const char *method, const char *path)
{
	const struct rule *r = rules_match_request(snap, host, port, method,
	    path, strlen(path));

	return r != NULL ? r->id : -1;
}

/*
 * A deny that sluice cannot use as written is not dropped: it becomes a
 * deny of everything on its host (its port when usable), or of every host
 * when the host is what is wrong, at its own priority and id.
 */
static void
test_fail_closed(void)
{
	char path[PATH_MAX], logpath[PATH_MAX];
	struct rules_snapshot *snap;
	const struct rule *r;
	char *logtext;
	sqlite3 *db;

	test_path(path, sizeof(path), "closed.db");
	CHECK(sqlite3_open(path, &db) == SQLITE_OK, "closed: hand-made db");
	CHECK(test_exec(db,
	    "CREATE TABLE rules (id INTEGER PRIMARY KEY, priority, enabled,"
	    " host, port, method, path, action, note);"
	    "CREATE TABLE secrets (name TEXT, value TEXT);"
	    "CREATE TABLE injections (rule_id, kind, name, secret);"
	    "CREATE TABLE rate_limits (rule_id INTEGER PRIMARY KEY, requests,"
	    " per_seconds, burst, scope, on_limit, max_delay_ms);"
	    "INSERT INTO rules (id, priority, enabled, host, port, method,"
	    " path, action) VALUES"
	    " (1, 10, 1, 'a.test', NULL, 'delete', NULL, 'deny'),"
	    " (2, 10, 1, 'b.test', 8443, NULL, 'admin', 'deny'),"
	    " (3, 60, 1, 'c..test', NULL, NULL, '/x', 'deny'),"
	    " (4, 'high', 1, 'd.test', NULL, NULL, 'bad', 'deny'),"
	    " (5, 10, 1, 'e.test', NULL, 'GET', '/x', 'deny'),"
	    " (6, 10, 1, 'f.test', NULL, 'GET', '/x', 'deny'),"
	    " (7, 10, 1, 'g.test', NULL, 'get', NULL, 'allow'),"
	    " (8, 10, 1, 'h.test', 70000, NULL, '/x', 'deny'),"
	    " (9, 50, 1, 'b.test', NULL, NULL, NULL, 'allow');"
	    "INSERT INTO injections VALUES (5, 'header', 'X-K', 'missing');"
	    "INSERT INTO rate_limits (rule_id, requests, per_seconds, scope,"
	    " on_limit) VALUES (6, 0, 1, 'rule', 'reject');") == SQLITE_OK,
	    "closed: rows stored without CHECKs");
	sqlite3_close(db);

	test_path(logpath, sizeof(logpath), "closed.log");
	test_capture_begin(logpath);
	snap = rules_load(path);
	logtext = test_capture_end(logpath);
	CHECK(snap != NULL && snap->nrules == 8 && snap->nskipped == 8,
	    "closed: seven denies kept widened, the bad allow skipped; "
	    "all eight counted");
	if (snap == NULL)
		return;
	CHECK(snap->rules[0].id == 4 && snap->rules[0].priority == INT64_MIN,
	    "closed: a deny without a usable priority comes first");
	r = test_rule(snap, 1);
	CHECK(r != NULL && r->action == RULE_DENY && r->method == NULL &&
	    r->path == NULL && strcmp(r->host, "a.test") == 0 &&
	    r->priority == 10, "closed: bad method -> deny all of its host");
	r = test_rule(snap, 2);
	CHECK(r != NULL && r->port == 8443 && r->path == NULL,
	    "closed: bad path -> deny all of its host and port");
	r = test_rule(snap, 3);
	CHECK(r != NULL && strcmp(r->host, "*") == 0 && r->path == NULL,
	    "closed: bad host -> deny every host");
	r = test_rule(snap, 8);
	CHECK(r != NULL && r->port == 0 && strcmp(r->host, "h.test") == 0,
	    "closed: bad port -> deny every port of its host");
	r = test_rule(snap, 5);
	CHECK(r != NULL && r->action == RULE_DENY && r->method == NULL &&
	    r->path == NULL && r->ninjections == 0,
	    "closed: bad injection -> deny all of its host");
	r = test_rule(snap, 6);
	CHECK(r != NULL && r->method == NULL && !r->has_limit,
	    "closed: bad rate limit -> deny all of its host");
	CHECK(test_rule(snap, 7) == NULL, "closed: a bad allow is skipped");

	CHECK(test_match_id(snap, "a.test", 443, "GET", "/") == 1,
	    "closed: a.test denied");
	CHECK(test_match_id(snap, "b.test", 8443, "GET", "/") == 2 &&
	    test_match_id(snap, "b.test", 443, "GET", "/") == 9,
	    "closed: b.test denied on its port only");
	CHECK(test_match_id(snap, "zzz.test", 443, "GET", "/") == 3,
	    "closed: every host denied by the deny with a bad host");

	CHECK(strstr(logtext, "level=warn event=rule_deny_widened rule=1 "
	    "err=\"method must be uppercase letters\" denying=a.test\n") !=
	    NULL, "closed: logged with id and host");
	CHECK(strstr(logtext, "denying=b.test port=8443\n") != NULL,
	    "closed: the port is in the line");
	CHECK(strstr(logtext, "event=rule_deny_widened rule=3 ") != NULL &&
	    strstr(logtext, "denying=*\n") != NULL,
	    "closed: '*' is in the line");
	CHECK(strstr(logtext, "event=rule_deny_widened rule=5 err=\"secret "
	    "'missing': no such secret\"") != NULL,
	    "closed: an injection's problem is in the line");
	CHECK(strstr(logtext, "event=rule_deny_widened rule=6 err="
	    "\"rate_limits: ") != NULL, "closed: a limit's problem too");
	CHECK(strstr(logtext, "event=rule_skipped rule=7 ") != NULL,
	    "closed: the allow is skipped as before");
	CHECK(strstr(logtext, "rule=1 ") == NULL ||
	    strstr(strstr(logtext, "rule=1 ") + 1, "rule=1 ") == NULL,
	    "closed: one line per rule");
	rules_snapshot_unref(snap);
}

/*
 * Migrations: a database at the current version is only read; an empty
 * one gets every step in one transaction, or none of them.
 */
static void
test_migrations(void)
{
	char path[PATH_MAX];
	sqlite3 *db, *lock;

	test_path(path, sizeof(path), "current.db");
	CHECK(rules_db_init(path) == 0, "migrate: db created");
	lock = test_db_open(path);
	CHECK(test_exec(lock, "BEGIN IMMEDIATE") == SQLITE_OK,
	    "migrate: another writer holds the lock");
	CHECK(rules_db_init(path) == 0,
	    "migrate: a current database needs no write");
	test_exec(lock, "ROLLBACK");
	sqlite3_close(lock);

	/* The view comes last in schema.sql: its name is taken already. */
	test_write_file("partial.db", "", 0);
	test_path(path, sizeof(path), "partial.db");
	db = test_db_open(path);
	CHECK(test_exec(db, "CREATE TABLE rules_overview (x)") == SQLITE_OK,
	    "migrate: a database that the first step will fail on");
	CHECK(rules_db_init(path) == -1, "migrate: failing step fails init");
	CHECK(test_int(db, "PRAGMA user_version") == 0 &&
	    test_int(db, "SELECT count(*) FROM sqlite_schema") == 1,
	    "migrate: nothing of the failed step remains");
	test_exec(db, "DROP TABLE rules_overview");
	CHECK(rules_db_init(path) == 0, "migrate: runs once unblocked");
	CHECK(test_int(db, "PRAGMA user_version") == 2 &&
	    test_int(db, "SELECT count(*) FROM sqlite_schema WHERE "
	    "name = 'rules_overview' AND type = 'view'") == 1,
	    "migrate: version 2 with the whole schema");
	sqlite3_close(db);
}

static const char test_schema_1[] =
#include "schema_sql.h"
;

/*
 * Version 2: rate_limits.shared and .lease, added to a version 1 database
 * that keeps its rows, checked by the CHECKs, again at load, and shown by
 * rules_overview.
 */
static void
test_shared_limits(void)
{
	char path[PATH_MAX];
	struct rules_snapshot *snap;
	const struct rule *r;
	sqlite3 *db;

	test_write_file("v1.db", "", 0);
	test_path(path, sizeof(path), "v1.db");
	db = test_db_open(path);
	CHECK(test_exec(db, test_schema_1) == SQLITE_OK &&
	    test_int(db, "PRAGMA user_version") == 1, "shared: a version 1 db");
	test_exec(db, "INSERT INTO rules (id, host) VALUES (1, 'a.example'), "
	    "(2, 'b.example'), (3, 'c.example'), (4, 'd.example')");
	test_exec(db, "INSERT INTO rate_limits (rule_id, requests, "
	    "per_seconds) VALUES (1, 20, 10)");
	CHECK(rules_db_init(path) == 0 &&
	    test_int(db, "PRAGMA user_version") == 2, "shared: migrated to 2");
	CHECK(test_int(db, "SELECT count(*) FROM rate_limits WHERE "
	    "rule_id = 1 AND shared = 0 AND lease IS NULL") == 1,
	    "shared: old row kept, not shared");
	CHECK(test_exec(db, "INSERT INTO rate_limits (rule_id, requests, "
	    "per_seconds, shared) VALUES (2, 1, 1, 2)") == SQLITE_CONSTRAINT,
	    "shared: CHECK refuses shared = 2");
	CHECK(test_exec(db, "INSERT INTO rate_limits (rule_id, requests, "
	    "per_seconds, shared, lease) VALUES (2, 1, 1, 1, 0)") ==
	    SQLITE_CONSTRAINT, "shared: CHECK refuses lease = 0");
	CHECK(test_exec(db, "INSERT INTO rate_limits (rule_id, requests, "
	    "per_seconds, shared, lease) VALUES (2, 20, 10, 1, 5), "
	    "(3, 20, 10, 1, NULL)") == SQLITE_OK, "shared: rows accepted");
	CHECK(test_int(db, "SELECT count(*) FROM rules_overview WHERE "
	    "(id = 2 AND rate_limit = '20/10s burst 20 per rule shared "
	    "lease 5') OR (id = 3 AND rate_limit = '20/10s burst 20 per rule "
	    "shared') OR (id = 1 AND rate_limit = '20/10s burst 20 per "
	    "rule')") == 3, "shared: rules_overview shows shared and lease");
	/* What the CHECKs would refuse, written past them. */
	test_exec(db, "PRAGMA ignore_check_constraints = ON");
	test_exec(db, "INSERT INTO rate_limits (rule_id, requests, "
	    "per_seconds, shared, lease) VALUES (4, 20, 10, 1, -1)");
	test_exec(db, "PRAGMA ignore_check_constraints = OFF");
	snap = rules_load(path);
	CHECK(snap != NULL, "shared: loaded");
	if (snap != NULL) {
		r = test_rule(snap, 1);
		CHECK(r != NULL && r->has_limit && !r->limit.shared &&
		    r->limit.lease == 1, "shared: default row is local");
		r = test_rule(snap, 2);
		CHECK(r != NULL && r->limit.shared && r->limit.lease == 5,
		    "shared: shared with a lease");
		r = test_rule(snap, 3);
		CHECK(r != NULL && r->limit.shared && r->limit.lease == 1,
		    "shared: NULL lease is exact");
		CHECK(test_rule(snap, 4) == NULL && snap->nskipped == 1,
		    "shared: a bad lease costs its rule");
		rules_snapshot_unref(snap);
	}
	sqlite3_close(db);
}

static void
test_reload(void)
{
	char path[PATH_MAX], newpath[PATH_MAX];
	struct rules_snapshot *old, *cur;
	struct rules *rs;
	uint64_t gen;
	sqlite3 *db;

	test_path(path, sizeof(path), "reload.db");
	CHECK(rules_start(path, 100) == NULL, "reload: missing db fails start");

	CHECK(rules_db_init(path) == 0, "reload: db created");
	db = test_db_open(path);
	test_exec(db, "INSERT INTO rules (id, host) VALUES (1, 'one.example')");
	CHECK((rs = rules_start(path, 100)) != NULL, "reload: started");
	if (rs == NULL) {
		sqlite3_close(db);
		return;
	}
	CHECK(rules_generation(rs) == 1,
	    "reload: nothing published after a failed start");
	gen = rules_generation(rs);
	old = rules_acquire(rs);
	CHECK(gen >= 1 && old != NULL && old->generation == gen &&
	    old->nrules == 1, "reload: first snapshot published");

	CHECK(test_exec(db, "INSERT INTO rules (id, host) VALUES "
	    "(2, 'two.example')") == SQLITE_OK, "reload: rule inserted");
	CHECK(test_wait_for(rs, gen, 2, 2000),
	    "reload: committed change picked up within 2 s");
	CHECK(old->nrules == 1 && !test_has_rule(old, 2),
	    "reload: held snapshot unchanged");
	rules_snapshot_unref(old);

	/* A change the CHECKs refuse never reaches a snapshot. */
	gen = rules_generation(rs);
	CHECK(test_exec(db, "INSERT INTO rules (id, host) VALUES "
	    "(3, 'bad host')") == SQLITE_CONSTRAINT, "reload: bad row refused");
	test_sleep_ms(300);
	CHECK(rules_generation(rs) == gen,
	    "reload: no commit, no new snapshot");

	rules_reload(rs);
	CHECK(test_wait_for(rs, gen, -1, 2000),
	    "reload: rules_reload forces one");

	/* A database it cannot load leaves the last good snapshot in place. */
	gen = rules_generation(rs);
	test_exec(db, "PRAGMA user_version = 99");
	test_exec(db, "INSERT INTO rules (id, host) VALUES (4, 'four.example')");
	test_sleep_ms(400);
	cur = rules_acquire(rs);
	CHECK(rules_generation(rs) == gen && cur != NULL &&
	    cur->generation == gen && !test_has_rule(cur, 4),
	    "reload: failed load keeps the current snapshot");
	rules_snapshot_unref(cur);
	test_exec(db, "PRAGMA user_version = 1");
	CHECK(test_wait_for(rs, gen, 4, 2000), "reload: recovers once fixed");

	/*
	 * A database replaced by rename is noticed by its new inode.  The old
	 * one's -wal must be empty first: SQLite would pair whatever frames
	 * it holds with the new file at the same path.
	 */
	gen = rules_generation(rs);
	CHECK(test_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)") == SQLITE_OK,
	    "reload: old WAL truncated");
	sqlite3_close(db);
	test_path(newpath, sizeof(newpath), "reload-new.db");
	CHECK(rules_db_init(newpath) == 0, "reload: replacement created");
	db = test_db_open(newpath);
	test_exec(db, "INSERT INTO rules (id, host) VALUES (7, 'seven.example')");
	sqlite3_close(db);
	CHECK(rename(newpath, path) == 0, "reload: replacement renamed in");
	CHECK(test_wait_for(rs, gen, 7, 2000),
	    "reload: replaced file picked up");
	cur = rules_acquire(rs);
	CHECK(cur != NULL && cur->nrules == 1 && test_has_rule(cur, 7),
	    "reload: only the new file's rules");

	/* Stopping drops the handle's reference; ours stays good. */
	rules_stop(rs);
	CHECK(cur != NULL && test_has_rule(cur, 7) &&
	    __atomic_load_n(&cur->refcnt, __ATOMIC_RELAXED) == 1,
	    "reload: stopped, nothing current");
	rules_snapshot_unref(cur);
}

/* A database at path holding one rule, id on host. */
static sqlite3 *
test_db_one_rule(const char *path, int64_t id, const char *host)
{
	char sql[256];
	sqlite3 *db;

	CHECK(rules_db_init(path) == 0, "handles: db created");
	db = test_db_open(path);
	snprintf(sql, sizeof(sql), "INSERT INTO rules (id, host) VALUES "
	    "(%lld, '%s')", (long long)id, host);
	CHECK(test_exec(db, sql) == SQLITE_OK, "handles: rule inserted");
	return db;
}

/*
 * Two handles on two files in one process: each publishes its own file's
 * snapshots, counts its own reloads, reloads when asked without the other
 * moving, and stops without taking the other's snapshot with it.
 */
static void
test_two_handles(void)
{
	char pa[PATH_MAX], pb[PATH_MAX];
	struct rules_snapshot *sa, *sb;
	struct rules *a, *b;
	uint64_t ga, gb, ra, fa, rb, fb;
	sqlite3 *dba, *dbb;

	test_path(pa, sizeof(pa), "handle-a.db");
	test_path(pb, sizeof(pb), "handle-b.db");
	dba = test_db_one_rule(pa, 10, "a.example");
	dbb = test_db_one_rule(pb, 20, "b.example");
	a = rules_start(pa, 100);
	b = rules_start(pb, 100);
	CHECK(a != NULL && b != NULL && a != b, "handles: both started");
	if (a == NULL || b == NULL)
		goto out;

	sa = rules_acquire(a);
	sb = rules_acquire(b);
	CHECK(sa != NULL && sb != NULL && sa != sb &&
	    test_has_rule(sa, 10) && !test_has_rule(sa, 20) &&
	    test_has_rule(sb, 20) && !test_has_rule(sb, 10),
	    "handles: each has its own file's rules");
	CHECK(rules_generation(a) == 1 && rules_generation(b) == 1,
	    "handles: each counts its own generations");
	rules_snapshot_unref(sa);
	rules_snapshot_unref(sb);

	/* A commit to a's file moves a alone. */
	ga = rules_generation(a);
	gb = rules_generation(b);
	CHECK(test_exec(dba, "INSERT INTO rules (id, host) VALUES "
	    "(11, 'a2.example')") == SQLITE_OK, "handles: a's rule inserted");
	CHECK(test_wait_for(a, ga, 11, 2000),
	    "handles: a picked up its commit");
	test_sleep_ms(300);
	sb = rules_acquire(b);
	CHECK(rules_generation(b) == gb && sb != NULL && sb->nrules == 1 &&
	    !test_has_rule(sb, 11), "handles: b did not move with a");
	rules_snapshot_unref(sb);
	rules_reload_stats(a, &ra, &fa);
	rules_reload_stats(b, &rb, &fb);
	CHECK(ra == 1 && fa == 0 && rb == 0 && fb == 0,
	    "handles: reloads counted per handle");

	/* Asking b to reload moves b alone. */
	ga = rules_generation(a);
	rules_reload(b);
	CHECK(test_wait_for(b, gb, 20, 2000), "handles: b reloads when asked");
	CHECK(rules_generation(a) == ga, "handles: a did not reload with b");

	/* Stopping a leaves b publishing. */
	rules_stop(a);
	a = NULL;
	gb = rules_generation(b);
	CHECK(test_exec(dbb, "INSERT INTO rules (id, host) VALUES "
	    "(21, 'b2.example')") == SQLITE_OK, "handles: b's rule inserted");
	CHECK(test_wait_for(b, gb, 21, 2000),
	    "handles: b still publishes after a stopped");
	sb = rules_acquire(b);
	CHECK(sb != NULL && test_has_rule(sb, 20) && test_has_rule(sb, 21) &&
	    !test_has_rule(sb, 10), "handles: b holds only b's rules");
	rules_snapshot_unref(sb);
out:
	rules_stop(a);
	rules_stop(b);
	sqlite3_close(dba);
	sqlite3_close(dbb);
}

int
main(void)
{
	if (mkdtemp(test_dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_host_match();
	test_glob_match();
	test_schema();
	test_load_and_match();
	test_skip();
	test_index_hosts();
	test_index_equivalence();
	test_injections();
	test_slashes_methods();
	test_fail_closed();
	test_migrations();
	test_shared_limits();
	test_reload();
	test_two_handles();
	if (unit_failed == 0) {
		char cmd[PATH_MAX + 16];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", test_dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", test_dir);
	}
	return unit_done();
}
