/*
 * test_audit.c - audit.c: every accepted record reaches the database, rows
 * are visible to readers while the writer runs, a full queue drops and
 * counts instead of blocking; a file from an older version is migrated,
 * requests name their connection, a lock held too long leaves a gaps row,
 * a moved or deleted file is replaced, old rows are pruned.
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

static sqlite3 *
test_db_open_create(const char *path)
{
	sqlite3 *db = NULL;

	if (sqlite3_open(path, &db) != SQLITE_OK) {
		fprintf(stderr, "open %s: %s\n", path, sqlite3_errmsg(db));
		exit(1);
	}
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
	a = audit_open(path, TEST_THREADS * TEST_PER_THREAD, 0);
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
	a = audit_open(path, 16, 0);
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
	again = audit_open(path, 16, 0);
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
	a = audit_open(path, 4, 0);
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

/* The schema of the version before connections, gaps and views. */
static const char test_old_schema[] =
    "CREATE TABLE requests (id INTEGER PRIMARY KEY, ts TEXT NOT NULL, "
    "client TEXT NOT NULL, server TEXT NOT NULL, sni TEXT, host TEXT, "
    "method TEXT, path TEXT, status INTEGER, decision TEXT NOT NULL, "
    "rule_id INTEGER, injected TEXT, req_bytes INTEGER, resp_bytes INTEGER, "
    "duration_ms REAL, error TEXT);"
    "CREATE INDEX requests_ts ON requests (ts);"
    "INSERT INTO requests (ts, client, server, decision) VALUES "
    "('2026-11-29T18:00:00.123Z', '10.0.0.2:1', '10.0.0.3:443', 'denied');";

static void
test_migration(void)
{
	char path[PATH_MAX], p[64];
	struct audit_record rec;
	struct audit *a;
	sqlite3 *db;

	test_path(path, sizeof(path), "old.db");
	db = test_db_open_create(path);
	CHECK(sqlite3_exec(db, test_old_schema, NULL, NULL, NULL) == SQLITE_OK,
	    "migrate: old file made");
	sqlite3_close(db);

	a = audit_open(path, 16, 0);
	CHECK(a != NULL, "migrate: audit_open on an old file");
	if (a == NULL)
		return;
	audit_set_gateway(a, "gw-unit");
	test_record(&rec, p, sizeof(p), 1);
	rec.conn_id = 42;
	rec.client_proto = "h2";
	rec.upstream_proto = "http/1.1";
	rec.upgrade = "websocket";
	CHECK(audit_submit(a, &rec) == 0, "migrate: submitted");
	audit_close(a);

	db = test_db_open(path);
	CHECK(test_int(db, "SELECT count(*) FROM requests") == 2,
	    "migrate: old row kept, new one added");
	CHECK(test_int(db, "SELECT count(*) FROM requests WHERE conn_id = 42 "
	    "AND rule_id = 1") == 1, "migrate: conn_id column added");
	CHECK(test_int(db, "SELECT count(*) FROM requests WHERE gateway = "
	    "'gw-unit'") == 1 && test_int(db, "SELECT count(*) FROM requests "
	    "WHERE gateway IS NULL") == 1, "migrate: gateway column added, "
	    "filled on the new row only");
	CHECK(test_int(db, "SELECT count(gateway) FROM connections") == 0,
	    "migrate: connections.gateway exists");
	CHECK(test_int(db, "SELECT count(*) FROM requests WHERE conn_id = 42 "
	    "AND client_proto = 'h2' AND upstream_proto = 'http/1.1'") == 1 &&
	    test_int(db, "SELECT count(*) FROM requests WHERE conn_id IS NULL "
	    "AND client_proto IS NULL AND upstream_proto IS NULL") == 1,
	    "migrate: client_proto and upstream_proto added, filled on the "
	    "new row only");
	CHECK(test_int(db, "SELECT count(*) FROM requests WHERE conn_id = 42 "
	    "AND upgrade = 'websocket'") == 1 &&
	    test_int(db, "SELECT count(*) FROM requests WHERE conn_id IS NULL "
	    "AND upgrade IS NULL") == 1,
	    "migrate: upgrade added, filled on the new row only");
	CHECK(test_int(db, "SELECT count(*) FROM connections") == 0 &&
	    test_int(db, "SELECT count(*) FROM gaps") == 0 &&
	    test_int(db, "SELECT count(*) FROM denied_recent") >= 0 &&
	    test_int(db, "SELECT count(*) FROM errors_recent") >= 0 &&
	    test_int(db, "SELECT count(*) FROM top_hosts") >= 0 &&
	    test_int(db, "SELECT count(*) FROM injected_by_rule") >= 0,
	    "migrate: connections, gaps and the views exist");
	sqlite3_close(db);

	/* Ids go on above the highest one the file names. */
	a = audit_open(path, 16, 0);
	CHECK(a != NULL && audit_conn_id(a) == 43, "migrate: ids seeded");
	audit_close(a);
}

static void
test_connections(void)
{
	char path[PATH_MAX], p[64];
	struct audit_conn_record conn;
	struct audit_record rec;
	struct audit *a;
	struct timespec now;
	sqlite3 *db;
	int64_t id;

	test_path(path, sizeof(path), "conn.db");
	a = audit_open(path, 16, 0);
	CHECK(a != NULL, "conn: audit_open");
	if (a == NULL)
		return;
	id = audit_conn_id(a);
	CHECK(id == 1 && audit_conn_id(a) == 2, "conn: ids count up from 1");
	clock_gettime(CLOCK_REALTIME, &now);

	/* The request row comes first, as it does when a connection ends. */
	test_record(&rec, p, sizeof(p), 3);
	rec.ts_ms = (int64_t)now.tv_sec * 1000;
	rec.conn_id = id;
	rec.decision = "denied";
	rec.status = 403;
	CHECK(audit_submit(a, &rec) == 0, "conn: request submitted");
	rec.decision = "error";
	rec.status = 502;
	rec.error = "upstream certificate verification failed";
	CHECK(audit_submit(a, &rec) == 0, "conn: error submitted");
	test_sleep_ms(300);

	memset(&conn, 0, sizeof(conn));
	conn.id = id;
	conn.started_ms = rec.ts_ms;
	conn.ended_ms = rec.ts_ms + 1500;
	conn.client = "10.0.0.2:40000";
	conn.server = "93.184.216.34:443";
	conn.sni = "api.example.com";
	conn.tls_version = "TLSv1.3";
	conn.cipher = "TLS_AES_256_GCM_SHA384";
	conn.alpn = "http/1.1";
	conn.upstream_subject = "/CN=api.example.com";
	conn.upstream_issuer = "/CN=Test CA";
	conn.verify_result = "ok";
	conn.bytes_in = 10;
	conn.bytes_out = 1234;
	conn.end_reason = "closed";
	CHECK(audit_submit_conn(a, &conn) == 0, "conn: connection submitted");
	audit_close(a);

	db = test_db_open(path);
	CHECK(test_int(db, "SELECT count(*) FROM requests r JOIN connections c "
	    "ON r.conn_id = c.id WHERE c.sni = 'api.example.com' "
	    "AND c.tls_version = 'TLSv1.3' AND c.alpn = 'http/1.1' "
	    "AND c.cipher = 'TLS_AES_256_GCM_SHA384' AND c.verify_result = 'ok' "
	    "AND c.upstream_subject = '/CN=api.example.com' "
	    "AND c.upstream_issuer = '/CN=Test CA' AND c.bytes_in = 10 "
	    "AND c.bytes_out = 1234 AND c.end_reason = 'closed' "
	    "AND c.connect_host IS NULL AND c.upstream_cipher IS NULL "
	    "AND c.ended > c.started") == 2, "conn: requests join their row");
	CHECK(test_int(db, "SELECT count(*) FROM denied_recent WHERE "
	    "host = 'api.example.com' AND rule_id = 3") == 1,
	    "conn: denied_recent");
	CHECK(test_int(db, "SELECT status FROM errors_recent") == 502,
	    "conn: errors_recent");
	CHECK(test_int(db, "SELECT requests FROM top_hosts WHERE "
	    "host = 'api.example.com' AND resp_bytes = 2468") == 2,
	    "conn: top_hosts");
	CHECK(test_int(db, "SELECT requests FROM injected_by_rule WHERE "
	    "rule_id = 3 AND injected = 'Authorization, key'") == 2,
	    "conn: injected_by_rule");
	sqlite3_close(db);
}

/*
 * A batch of request rows not a multiple of the writer's statement sizes,
 * with connection rows among them and timestamps in and across seconds:
 * every row in the order it was queued, each field where it belongs.
 */
#define TEST_BATCH_ROWS	103
#define TEST_BATCH_BASE	1796320799990LL	/* 2026-12-03T17:59:59.990Z */

static void
test_batch(void)
{
	char path[PATH_MAX], p[64], want[80], sql[128];
	const unsigned char *got;
	struct audit_conn_record conn;
	struct audit_record rec;
	struct audit *a;
	sqlite3_stmt *st;
	struct tm tm;
	time_t secs;
	sqlite3 *db;
	int64_t ts;
	int i, bad = 0;

	test_path(path, sizeof(path), "batch.db");
	a = audit_open(path, 2 * TEST_BATCH_ROWS, 0);
	CHECK(a != NULL, "batch: audit_open");
	if (a == NULL)
		return;
	memset(&conn, 0, sizeof(conn));
	conn.client = "10.0.0.2:40000";
	conn.server = "93.184.216.34:443";
	for (i = 0; i < TEST_BATCH_ROWS; i++) {
		test_record(&rec, p, sizeof(p), i);
		rec.ts_ms = TEST_BATCH_BASE + i * 7;
		rec.status = 200 + i;
		rec.error = i % 2 ? "odd" : NULL;
		CHECK(audit_submit(a, &rec) == 0, "batch: request submitted");
		if (i % 10 == 0) {
			conn.id = audit_conn_id(a);
			conn.started_ms = conn.ended_ms = rec.ts_ms;
			CHECK(audit_submit_conn(a, &conn) == 0,
			    "batch: connection submitted");
		}
	}
	audit_close(a);

	db = test_db_open(path);
	CHECK(test_int(db, "SELECT count(*) FROM requests") == TEST_BATCH_ROWS,
	    "batch: every request row");
	CHECK(test_int(db, "SELECT count(*) FROM connections") ==
	    (TEST_BATCH_ROWS + 9) / 10, "batch: every connection row");
	CHECK(test_int(db, "SELECT count(*) FROM (SELECT rule_id, "
	    "row_number() OVER (ORDER BY id) - 1 AS k FROM requests) "
	    "WHERE rule_id != k") == 0, "batch: rows in the order queued");
	CHECK(test_int(db, "SELECT count(*) FROM requests WHERE "
	    "status != 200 + rule_id OR path != '/v1/items/' || rule_id || "
	    "'?key=***' OR (error IS NULL) != (rule_id % 2 = 0) "
	    "OR client != '10.0.0.2:40000' OR decision != 'forwarded' "
	    "OR resp_bytes != 1234") == 0, "batch: fields of every row");
	for (i = 0; i < TEST_BATCH_ROWS; i++) {
		ts = TEST_BATCH_BASE + i * 7;
		secs = (time_t)(ts / 1000);
		gmtime_r(&secs, &tm);
		snprintf(want, sizeof(want), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec, (int)(ts % 1000));
		snprintf(sql, sizeof(sql), "SELECT ts FROM requests WHERE "
		    "rule_id = %d", i);
		if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
			bad++;
			continue;
		}
		got = sqlite3_step(st) == SQLITE_ROW ?
		    sqlite3_column_text(st, 0) : NULL;
		if (got == NULL || strcmp((const char *)got, want) != 0) {
			fprintf(stderr, "batch: row %d ts %s, want %s\n", i,
			    got != NULL ? (const char *)got : "(none)", want);
			bad++;
		}
		sqlite3_finalize(st);
	}
	CHECK(bad == 0, "batch: every timestamp");
	sqlite3_close(db);
}

static int64_t
test_wait_int(sqlite3 *db, const char *sql, int64_t want, long ms)
{
	double end = test_now_ms() + ms;
	int64_t v;

	while ((v = test_int(db, sql)) != want && test_now_ms() < end)
		test_sleep_ms(50);
	return v;
}

/*
 * Another writer holds the lock longer than the writer keeps a batch: the
 * batch is lost, and the loss is a gaps row once the lock goes.
 */
static void
test_gap(void)
{
	char path[PATH_MAX], p[64];
	struct audit_record rec;
	struct audit *a;
	sqlite3 *db;
	int i;

	test_path(path, sizeof(path), "gap.db");
	a = audit_open(path, 64, 0);
	CHECK(a != NULL, "gap: audit_open");
	if (a == NULL)
		return;
	db = test_db_open(path);
	sqlite3_busy_timeout(db, 0);
	CHECK(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) ==
	    SQLITE_OK, "gap: write lock held elsewhere");
	for (i = 0; i < 10; i++) {
		test_record(&rec, p, sizeof(p), i);
		CHECK(audit_submit(a, &rec) == 0, "gap: accepted");
	}
	/* Kept at least 5 s: released within that, nothing is lost. */
	test_sleep_ms(6500);
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	sqlite3_busy_timeout(db, 5000);
	for (i = 10; i < 15; i++) {
		test_record(&rec, p, sizeof(p), i);
		CHECK(audit_submit(a, &rec) == 0, "gap: accepted after");
	}
	CHECK(test_wait_int(db, "SELECT count(*) FROM requests", 5, 3000) == 5,
	    "gap: rows after the lock are written");
	CHECK(test_int(db, "SELECT sum(count) FROM gaps WHERE "
	    "cause = 'database_locked' AND kind = 'request' AND ts LIKE '20%Z'") == 10,
	    "gap: the lost batch is a gaps row");
	CHECK(audit_dropped(a) == 10, "gap: counted");
	audit_close(a);
	sqlite3_close(db);
}

/* Write one record a second; return when path is a new file again. */
static void
test_rename_one(struct audit *a, const char *path, const char *moved,
    int unlink_it, int *submitted)
{
	struct audit_record rec;
	struct stat sb;
	char p[64];
	double end;
	int appeared = 0;

	if (unlink_it)
		CHECK(unlink(path) == 0, "rename: deleted");
	else
		CHECK(rename(path, moved) == 0, "rename: moved");
	for (end = test_now_ms() + 5000; test_now_ms() < end;
	    test_sleep_ms(100)) {
		test_record(&rec, p, sizeof(p), (*submitted)++);
		CHECK(audit_submit(a, &rec) == 0, "rename: accepted");
		if (stat(path, &sb) == 0) {
			appeared = 1;
			break;
		}
	}
	CHECK(appeared, "rename: a new file within 5 s");
}

static int64_t
test_count(const char *path)
{
	sqlite3 *db = test_db_open(path);
	int64_t n = test_int(db, "SELECT count(*) FROM requests");

	sqlite3_close(db);
	return n;
}

static void
test_submit_n(struct audit *a, int n, int *submitted)
{
	struct audit_record rec;
	char p[64];

	while (n-- > 0) {
		test_record(&rec, p, sizeof(p), (*submitted)++);
		CHECK(audit_submit(a, &rec) == 0, "rename: accepted");
	}
}

/*
 * Renamed: every record is in one of the two files.  Deleted: the records
 * after the new file appeared are in it (those before went to the
 * deleted file).
 */
static void
test_rename(void)
{
	char path[PATH_MAX], moved[PATH_MAX];
	struct audit *a;
	int submitted = 0;

	test_path(path, sizeof(path), "rot.db");
	test_path(moved, sizeof(moved), "rot.db.1");
	a = audit_open(path, 256, 0);
	CHECK(a != NULL, "rename: audit_open");
	if (a == NULL)
		return;
	test_submit_n(a, 3, &submitted);
	test_sleep_ms(300);
	test_rename_one(a, path, moved, 0, &submitted);
	test_submit_n(a, 5, &submitted);
	audit_close(a);
	CHECK(test_count(moved) + test_count(path) == submitted,
	    "rename: every record in one of the two files");
	CHECK(test_count(path) >= 5, "rename: new records in the new file");

	a = audit_open(path, 256, 0);
	CHECK(a != NULL, "delete: audit_open");
	if (a == NULL)
		return;
	test_rename_one(a, path, moved, 1, &submitted);
	test_submit_n(a, 5, &submitted);
	audit_close(a);
	CHECK(test_count(path) >= 5, "delete: new records in the new file");
}

/* audit_reopen() (SIGHUP) on an unchanged path: rows go on being written. */
static void
test_reopen(void)
{
	char path[PATH_MAX];
	struct audit *a;
	sqlite3 *db;
	int submitted = 0;

	test_path(path, sizeof(path), "hup.db");
	a = audit_open(path, 64, 0);
	CHECK(a != NULL, "reopen: audit_open");
	if (a == NULL)
		return;
	db = test_db_open(path);
	test_submit_n(a, 1, &submitted);
	CHECK(test_wait_int(db, "SELECT count(*) FROM requests", 1, 3000) == 1,
	    "reopen: first row");
	audit_reopen(a);
	test_sleep_ms(300);
	test_submit_n(a, 1, &submitted);
	CHECK(test_wait_int(db, "SELECT count(*) FROM requests", 2, 3000) == 2,
	    "reopen: a row after the reopen, visible while running");
	audit_close(a);
	CHECK(test_int(db, "SELECT count(*) FROM requests") == 2,
	    "reopen: both rows after close");
	sqlite3_close(db);
}

static void
test_retention(void)
{
	char path[PATH_MAX];
	struct audit *a;
	sqlite3 *db;
	double end;

	test_path(path, sizeof(path), "prune.db");
	a = audit_open(path, 16, 0);
	CHECK(a != NULL, "prune: created");
	audit_close(a);
	db = test_db_open(path);
	CHECK(sqlite3_exec(db,
	    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
	    "WHERE i < 2500) INSERT INTO requests (ts, client, server, "
	    "decision) SELECT '2020-01-01T00:00:00.000Z', 'c', 's', 'denied' "
	    "FROM n;"
	    "INSERT INTO requests (ts, client, server, decision) VALUES "
	    "(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), 'c', 's', 'denied');"
	    "INSERT INTO connections (id, started, ended, client, server) "
	    "VALUES (1, '2020-01-01T00:00:00.000Z', "
	    "'2020-01-01T00:00:01.000Z', 'c', 's');"
	    "INSERT INTO gaps VALUES ('2020-01-01T00:00:00.000Z', 3, 'x', "
	    "'request');",
	    NULL, NULL, NULL) == SQLITE_OK, "prune: old rows made");

	a = audit_open(path, 16, 30);
	CHECK(a != NULL, "prune: audit_open with a retention");
	for (end = test_now_ms() + 3000; test_now_ms() < end &&
	    test_int(db, "SELECT count(*) FROM requests") != 1;)
		test_sleep_ms(50);
	CHECK(test_int(db, "SELECT count(*) FROM requests") == 1,
	    "prune: old requests deleted, the recent one kept");
	CHECK(test_int(db, "SELECT count(*) FROM connections") == 0 &&
	    test_int(db, "SELECT count(*) FROM gaps") == 0,
	    "prune: old connections and gaps deleted");
	audit_close(a);
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
	test_migration();
	test_connections();
	test_batch();
	test_gap();
	test_rename();
	test_reopen();
	test_retention();
	if (unit_failed == 0) {
		char cmd[PATH_MAX + 16];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", test_dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", test_dir);
	}
	return unit_done();
}
