/*
 * rules_match.c - how long rules_match_request() takes with 10 rules and
 * with 10,000.
 *
 * Built with the tests (make tests), run by hand: tests/bench/rules_match.
 * Each rule set lives in a database of its own in a temporary directory,
 * shaped like a real one: distinct exact hosts (some narrowed by method or
 * path), wildcards over tenant domains, a few '*' rules with paths that
 * deny everywhere, and a catch-all last.  The requests go to exact hosts,
 * to names under the wildcards, and to hosts no rule names, in that
 * proportion (7:2:1).  Matching with an index should cost about the same
 * for both sizes; the ratio says whether it does.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "rules.h"

#define BENCH_CALLS	1000000
#define BENCH_REQUESTS	4096	/* distinct ones, cycled through */

struct bench_request {
	char		 host[128];
	const char	*method;
	const char	*path;
	size_t		 pathlen;
};

static char bench_dir[] = "/tmp/sluice-bench-rules-XXXXXX";
static uint64_t bench_rng = 0x243f6a8885a308d3ULL;

static unsigned
bench_rand(unsigned n)
{
	bench_rng ^= bench_rng << 13;
	bench_rng ^= bench_rng >> 7;
	bench_rng ^= bench_rng << 17;
	return (unsigned)(bench_rng % n);
}

static double
bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void
bench_die(sqlite3 *db, const char *what)
{
	fprintf(stderr, "rules_match: %s: %s\n", what,
	    db != NULL ? sqlite3_errmsg(db) : "failed");
	exit(1);
}

static void
bench_insert(sqlite3_stmt *st, int64_t id, int priority, const char *host,
    const char *method, const char *path, const char *action)
{
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int(st, 2, priority);
	sqlite3_bind_text(st, 3, host, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 4, method, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, path, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, action, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		bench_die(sqlite3_db_handle(st), "insert");
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/*
 * nrules rules: 4 '*' rules (three denying paths first, the catch-all
 * last), about a tenth of the rest wildcards, the others exact hosts.
 */
static struct rules_snapshot *
bench_snapshot(int nrules, int *nexact, int *nwild)
{
	static const char *const methods[] = { NULL, NULL, NULL, "GET",
	    "POST" };
	static const char *const paths[] = { NULL, NULL, "/v1/*",
	    "/v1/models/*", "/v2/*/items" };
	struct rules_snapshot *snap;
	sqlite3_stmt *st;
	sqlite3 *db;
	char path[256], host[128];
	int64_t id = 1;
	int i;

	snprintf(path, sizeof(path), "%s/rules-%d.db", bench_dir, nrules);
	if (rules_db_init(path) == -1)
		exit(1);
	if (sqlite3_open(path, &db) != SQLITE_OK)
		bench_die(db, path);
	if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT INTO rules (id, priority, host, "
	    "method, path, action) VALUES (?, ?, ?, ?, ?, ?)", -1, &st,
	    NULL) != SQLITE_OK)
		bench_die(db, "prepare");
	bench_insert(st, id++, 10, "*", NULL, "/internal/*", "deny");
	bench_insert(st, id++, 10, "*", NULL, "/.well-known/admin*", "deny");
	bench_insert(st, id++, 20, "*", "DELETE", "/v1/*", "deny");
	*nwild = (nrules - 4) / 10 + 1;
	*nexact = nrules - 4 - *nwild;
	for (i = 0; i < *nwild; i++) {
		snprintf(host, sizeof(host), "*.tenant%d.example.net", i);
		bench_insert(st, id++, 100, host, NULL, NULL, "allow");
	}
	for (i = 0; i < *nexact; i++) {
		snprintf(host, sizeof(host), "api%d.svc%d.example.com", i,
		    i % 97);
		bench_insert(st, id++, 50 + bench_rand(100), host,
		    methods[bench_rand(5)], paths[bench_rand(5)],
		    bench_rand(4) ? "allow" : "deny");
	}
	bench_insert(st, id++, 1000, "*", NULL, NULL, "deny");
	sqlite3_finalize(st);
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		bench_die(db, "commit");
	sqlite3_close(db);
	if ((snap = rules_load(path)) == NULL || snap->nrules != (size_t)nrules)
		bench_die(NULL, "rules_load");
	return snap;
}

static void
bench_requests(struct bench_request *req, int nexact, int nwild)
{
	static const char *const methods[] = { "GET", "GET", "GET", "POST",
	    "DELETE" };
	static const char *const paths[] = { "/v1/models/gpt", "/v1/chat",
	    "/v2/a/items", "/healthz", "/internal/debug" };
	unsigned kind;
	int i;

	for (i = 0; i < BENCH_REQUESTS; i++) {
		kind = bench_rand(10);
		if (kind < 7 && nexact > 0) {
			unsigned n = bench_rand(nexact);

			snprintf(req[i].host, sizeof(req[i].host),
			    "api%u.svc%u.example.com", n, n % 97);
		} else if (kind < 9 && nwild > 0) {
			snprintf(req[i].host, sizeof(req[i].host),
			    "eu.node%u.tenant%u.example.net", bench_rand(50),
			    bench_rand(nwild));
		} else {
			snprintf(req[i].host, sizeof(req[i].host),
			    "unknown%u.example.org", bench_rand(1000));
		}
		req[i].method = methods[bench_rand(5)];
		req[i].path = paths[bench_rand(5)];
		req[i].pathlen = strlen(req[i].path);
	}
}

/* ns per call over BENCH_CALLS calls. */
static double
bench_run(const struct rules_snapshot *snap, const struct bench_request *req)
{
	const struct bench_request *q;
	const struct rule *r;
	volatile int64_t sink = 0;
	double t0;
	int i;

	t0 = bench_now_ns();
	for (i = 0; i < BENCH_CALLS; i++) {
		q = &req[i % BENCH_REQUESTS];
		r = rules_match_request(snap, q->host, 443, q->method, q->path,
		    q->pathlen);
		sink += r != NULL ? r->id : 0;
	}
	return (bench_now_ns() - t0) / BENCH_CALLS;
}

static double
bench_size(int nrules)
{
	static struct bench_request req[BENCH_REQUESTS];
	struct rules_snapshot *snap;
	int nexact, nwild;
	double ns;

	snap = bench_snapshot(nrules, &nexact, &nwild);
	bench_requests(req, nexact, nwild);
	bench_run(snap, req);		/* warm the caches */
	ns = bench_run(snap, req);
	printf("%6d rules (%d exact, %d wildcard, 4 '*'): %7.1f ns/match\n",
	    nrules, nexact, nwild, ns);
	rules_snapshot_unref(snap);
	return ns;
}

int
main(void)
{
	char cmd[64];
	double small, large;

	if (mkdtemp(bench_dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	small = bench_size(10);
	large = bench_size(10000);
	printf("ratio 10000/10: %.2f\n", large / small);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", bench_dir);
	return system(cmd) == 0 ? 0 : 1;
}
