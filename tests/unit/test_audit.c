/*
 * test_audit.c - audit.c: every accepted record reaches the database, rows
 * are visible to readers while the writer runs, a full queue drops and
 * counts instead of blocking.
 */
#include <sys/stat.h>

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "audit.h"
#include "unit.h"

#define TEST_THREADS	4
#define TEST_PER_THREAD	2500

static char test_dir[] = "/tmp/sluice-test-audit-XXXXXX";

struct test_worker {
	struct audit	*audit;
	int		 n;
	int		 failed;
};

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
	sqlite3_busy_timeout(db, 5000);
	return db;
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

static void
test_record(struct audit_record *rec, char *path, size_t len, int n)
{
	snprintf(path, len, "/v1/items/%d?key=***", n);
	memset(rec, 0, sizeof(*rec));
	rec->ts_ms = 1796320800123LL;	/* 2026-12-03T18:00:00.123Z */
	rec->client = "10.0.0.2:40000";
	rec->server = "93.184.216.34:443";
	rec->sni = "api.example.com";
	rec->host = "api.example.com";
	rec->method = "GET";
	rec->path = path;
	rec->status = 200;
	rec->decision = "forwarded";
	rec->rule_id = n;
	rec->injected = "Authorization, key";
	rec->req_bytes = 0;
	rec->resp_bytes = 1234;
	rec->duration_ms = 12.5;
	rec->error = NULL;
}

static void *
test_worker_main(void *arg)
{
	struct test_worker *w = arg;
	struct audit_record rec;
	char path[64];
	int i;

	for (i = 0; i < w->n; i++) {
		test_record(&rec, path, sizeof(path), i);
		if (audit_submit(w->audit, &rec) == -1)
			w->failed++;
	}
	return NULL;
}

static void
test_many_threads(void)
{
	char path[PATH_MAX];
	struct test_worker w[TEST_THREADS];
	pthread_t t[TEST_THREADS];
	struct audit *a;
	struct stat sb;
	sqlite3 *db;
	uint64_t dropped;
	int i, failed = 0;

	test_path(path, sizeof(path), "many.db");
	a = audit_open(path, TEST_THREADS * TEST_PER_THREAD);
	CHECK(a != NULL, "many: audit_open");
	if (a == NULL)
		return;
	CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0137) == 0,
	    "many: file mode 0640 or stricter");
	for (i = 0; i < TEST_THREADS; i++) {
		w[i].audit = a;
		w[i].n = TEST_PER_THREAD;
		w[i].failed = 0;
		pthread_create(&t[i], NULL, test_worker_main, &w[i]);
	}
	for (i = 0; i < TEST_THREADS; i++) {
		pthread_join(t[i], NULL);
		failed += w[i].failed;
	}
	dropped = audit_dropped(a);
	audit_close(a);
	CHECK(failed == 0 && dropped == 0, "many: nothing dropped");

	db = test_db_open(path);
	CHECK(test_int(db, "SELECT count(*) FROM requests") ==
	    TEST_THREADS * TEST_PER_THREAD, "many: every record committed");
	CHECK(test_int(db, "SELECT count(DISTINCT rule_id) FROM requests") ==
	    TEST_PER_THREAD, "many: records are distinct copies");
	CHECK(test_int(db, "SELECT journal_mode = 'wal' FROM "
	    "pragma_journal_mode") == 1, "many: WAL");
	CHECK(test_int(db, "SELECT count(*) FROM requests WHERE rule_id = 7 "
	    "AND ts = '2026-12-03T18:00:00.123Z' "
	    "AND client = '10.0.0.2:40000' AND server = '93.184.216.34:443' "
	    "AND sni = 'api.example.com' AND host = 'api.example.com' "
	    "AND method = 'GET' AND path = '/v1/items/7?key=***' "
	    "AND status = 200 AND decision = 'forwarded' "
	    "AND injected = 'Authorization, key' AND req_bytes = 0 "
	    "AND resp_bytes = 1234 AND duration_ms = 12.5 "
	    "AND error IS NULL") == TEST_THREADS, "many: fields of a row");
	CHECK(test_int(db, "SELECT count(*) FROM sqlite_schema WHERE "
	    "type = 'index' AND tbl_name = 'requests'") >= 1,
	    "many: index on ts");
	sqlite3_close(db);
}

static void
test_nulls_and_visibility(void)
{
	char path[PATH_MAX];
	struct audit_record rec;
	struct audit *a, *again;
	sqlite3 *db;
	double end;
	int seen = 0;

	test_path(path, sizeof(path), "live.db");
	a = audit_open(path, 16);
	CHECK(a != NULL, "live: audit_open");
	if (a == NULL)
		return;
	db = test_db_open(path);

	memset(&rec, 0, sizeof(rec));
	rec.ts_ms = 1796320800005LL;
	rec.client = "[2001:db8::2]:5555";
	rec.server = "[2001:db8::1]:443";
	rec.decision = "passthrough";
	rec.status = 0;
	rec.rule_id = -1;
	rec.req_bytes = -1;
	rec.resp_bytes = -1;
	rec.duration_ms = 3.25;
	CHECK(audit_submit(a, &rec) == 0, "live: submitted");
	/* The copy is the writer's: the caller's memory may change at once. */
	rec.client = "overwritten";

	for (end = test_now_ms() + 2000; test_now_ms() < end;
	    test_sleep_ms(20)) {
		if (test_int(db, "SELECT count(*) FROM requests") == 1) {
			seen = 1;
			break;
		}
	}
	CHECK(seen, "live: row visible to a reader within 2 s");
	CHECK(test_int(db, "SELECT count(*) FROM requests WHERE "
	    "ts = '2026-12-03T18:00:00.005Z' "
	    "AND client = '[2001:db8::2]:5555' AND decision = 'passthrough' "
	    "AND sni IS NULL AND host IS NULL AND method IS NULL "
	    "AND path IS NULL AND status IS NULL AND rule_id IS NULL "
	    "AND injected IS NULL AND req_bytes IS NULL "
	    "AND resp_bytes IS NULL AND error IS NULL "
	    "AND duration_ms = 3.25") == 1, "live: NULLs and ms padding");

	memset(&rec, 0, sizeof(rec));
	rec.client = "1.2.3.4:5";
	rec.server = "5.6.7.8:443";
	CHECK(audit_submit(a, &rec) == -1 && audit_dropped(a) == 1,
	    "live: record without a decision refused and counted");
	audit_close(a);

	/* Reopening keeps the rows and appends. */
	again = audit_open(path, 16);
	CHECK(again != NULL, "live: reopened");
	if (again != NULL) {
		rec.decision = "error";
		rec.error = "upstream timed out";
		CHECK(audit_submit(again, &rec) == 0, "live: submitted again");
		audit_close(again);
	}
	CHECK(test_int(db, "SELECT count(*) FROM requests") == 2 &&
	    test_int(db, "SELECT count(*) FROM requests WHERE "
	    "ts = '1970-01-01T00:00:00.000Z' AND error = "
	    "'upstream timed out'") == 1, "live: reopen appends");
	sqlite3_close(db);
}

/*
 * Hold the write lock from another connection so the writer stalls: the
 * queue fills and further records are dropped and counted, never waited
 * for.  Whatever was accepted is still committed once the lock goes.
 */
static void
test_full_queue(void)
{
	char path[PATH_MAX], p[64];
	struct audit_record rec;
	struct audit *a;
	sqlite3 *db;
	int i, accepted = 0, refused = 0;
	double t0;

	test_path(path, sizeof(path), "full.db");
	a = audit_open(path, 4);
	CHECK(a != NULL, "full: audit_open");
	if (a == NULL)
		return;
	db = test_db_open(path);
	CHECK(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) ==
	    SQLITE_OK, "full: write lock held elsewhere");

	t0 = test_now_ms();
	for (i = 0; i < 20; i++) {
		test_record(&rec, p, sizeof(p), i);
		if (audit_submit(a, &rec) == 0)
			accepted++;
		else
			refused++;
		/* Let the writer take its first batch and block on the lock. */
		if (i == 0)
			test_sleep_ms(100);
	}
	CHECK(test_now_ms() - t0 < 1000, "full: submit never waits");
	CHECK(accepted <= 8 && refused >= 12,
	    "full: at most a batch and a queue accepted");
	CHECK(audit_dropped(a) == (uint64_t)refused, "full: drops counted");

	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	audit_close(a);
	CHECK(test_int(db, "SELECT count(*) FROM requests") == accepted,
	    "full: every accepted record committed after the lock goes");
	sqlite3_close(db);
}

int
main(void)
{
	if (mkdtemp(test_dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_many_threads();
	test_nulls_and_visibility();
	test_full_queue();
	if (unit_failed == 0) {
		char cmd[PATH_MAX + 16];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", test_dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", test_dir);
	}
	return unit_done();
}
