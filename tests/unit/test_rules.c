/*
 * test_rules.c - rules.c: matching, the schema's CHECKs, loading and
 * validation, and hot reload through the loader thread.
 */
#include <sys/stat.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "rules.h"
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

/* Wait up to ms for a snapshot newer than gen that holds rule id (or any). */
static int
test_wait_for(uint64_t gen, int64_t id, int ms)
{
	struct rules_snapshot *snap;
	double end = test_now_ms() + ms;
	int found;

	while (test_now_ms() < end) {
		if (rules_generation() > gen) {
			snap = rules_acquire();
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
	CHECK(test_int(db, "PRAGMA user_version") == 1,
	    "schema: user_version 1");
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

static void
test_reload(void)
{
	char path[PATH_MAX], newpath[PATH_MAX];
	struct rules_snapshot *old, *cur;
	uint64_t gen;
	sqlite3 *db;

	test_path(path, sizeof(path), "reload.db");
	CHECK(rules_start(path, 100) == -1, "reload: missing db fails start");
	CHECK(rules_generation() == 0 && rules_acquire() == NULL,
	    "reload: nothing published after a failed start");

	CHECK(rules_db_init(path) == 0, "reload: db created");
	db = test_db_open(path);
	test_exec(db, "INSERT INTO rules (id, host) VALUES (1, 'one.example')");
	CHECK(rules_start(path, 100) == 0, "reload: started");
	gen = rules_generation();
	old = rules_acquire();
	CHECK(gen >= 1 && old != NULL && old->generation == gen &&
	    old->nrules == 1, "reload: first snapshot published");

	CHECK(test_exec(db, "INSERT INTO rules (id, host) VALUES "
	    "(2, 'two.example')") == SQLITE_OK, "reload: rule inserted");
	CHECK(test_wait_for(gen, 2, 2000),
	    "reload: committed change picked up within 2 s");
	CHECK(old->nrules == 1 && !test_has_rule(old, 2),
	    "reload: held snapshot unchanged");
	rules_snapshot_unref(old);

	/* A change the CHECKs refuse never reaches a snapshot. */
	gen = rules_generation();
	CHECK(test_exec(db, "INSERT INTO rules (id, host) VALUES "
	    "(3, 'bad host')") == SQLITE_CONSTRAINT, "reload: bad row refused");
	test_sleep_ms(300);
	CHECK(rules_generation() == gen, "reload: no commit, no new snapshot");

	rules_reload();
	CHECK(test_wait_for(gen, -1, 2000), "reload: rules_reload forces one");

	/* A database it cannot load leaves the last good snapshot in place. */
	gen = rules_generation();
	test_exec(db, "PRAGMA user_version = 99");
	test_exec(db, "INSERT INTO rules (id, host) VALUES (4, 'four.example')");
	test_sleep_ms(400);
	cur = rules_acquire();
	CHECK(rules_generation() == gen && cur != NULL &&
	    cur->generation == gen && !test_has_rule(cur, 4),
	    "reload: failed load keeps the current snapshot");
	rules_snapshot_unref(cur);
	test_exec(db, "PRAGMA user_version = 1");
	CHECK(test_wait_for(gen, 4, 2000), "reload: recovers once fixed");

	/*
	 * A database replaced by rename is noticed by its new inode.  The old
	 * one's -wal must be empty first: SQLite would pair whatever frames
	 * it holds with the new file at the same path.
	 */
	gen = rules_generation();
	CHECK(test_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)") == SQLITE_OK,
	    "reload: old WAL truncated");
	sqlite3_close(db);
	test_path(newpath, sizeof(newpath), "reload-new.db");
	CHECK(rules_db_init(newpath) == 0, "reload: replacement created");
	db = test_db_open(newpath);
	test_exec(db, "INSERT INTO rules (id, host) VALUES (7, 'seven.example')");
	sqlite3_close(db);
	CHECK(rename(newpath, path) == 0, "reload: replacement renamed in");
	CHECK(test_wait_for(gen, 7, 2000), "reload: replaced file picked up");
	cur = rules_acquire();
	CHECK(cur != NULL && cur->nrules == 1 && test_has_rule(cur, 7),
	    "reload: only the new file's rules");
	rules_snapshot_unref(cur);

	rules_stop();
	CHECK(rules_acquire() == NULL, "reload: stopped, nothing current");
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
	test_reload();
	if (unit_failed == 0) {
		char cmd[PATH_MAX + 16];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", test_dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", test_dir);
	}
	return unit_done();
}
