/*
 * audit.c - the audit log: a bounded queue and the thread that drains it.
 *
 * Owns audit.db (the requests table of INTERFACE.md) and the only
 * connection that writes it.  Does not decide what a record says; callers
 * fill struct audit_record, with secrets already masked.
 *
 * Workers call audit_submit(), which makes one heap copy of the record (the
 * struct and all its strings in one block), appends the pointer to the
 * pending array under a mutex, and returns: no I/O, no waiting on SQLite.
 * The writer swaps the pending array with its spare one under the mutex,
 * so a batch is taken in O(1) and workers go on queueing while it writes;
 * it then commits the batch in one transaction.  Readers with the sqlite3
 * tool do not block it (WAL).
 *
 * Invariants: pending holds at most cap records (a full queue drops the new
 * record and counts it); every record is either committed, counted in
 * dropped, or still queued; once stopping is set nothing more is queued, so
 * after audit_close() returns nothing is.  dropped also counts records
 * refused as malformed and batches the writer gave up on after its retries,
 * so it is the one number that says how many rows are missing.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "audit.h"
#include "log.h"

#define AUDIT_WAIT_MS		100	/* between batches, unless half full */
#define AUDIT_BUSY_TIMEOUT_MS	5000
#define AUDIT_TRIES		3	/* each waits up to the busy timeout */
#define AUDIT_RETRY_SLEEP_MS	50

/* A record and the strings it points at, in one allocation. */
struct audit_entry {
	struct audit_record	 rec;
	char			 strings[];
};

struct audit {
	char			*path;
	sqlite3			*db;		/* writer thread only */
	sqlite3_stmt		*insert;	/* writer thread only */
	pthread_t		 thread;

	pthread_mutex_t		 mtx;
	pthread_cond_t		 cond;		/* CLOCK_MONOTONIC */
	struct audit_entry	**pending;	/* mtx */
	unsigned		 npending;	/* mtx */
	struct audit_entry	**spare;	/* writer thread only */
	unsigned		 cap;
	int			 stopping;	/* mtx */

	_Atomic uint64_t	 dropped;
	_Atomic int64_t		 last_warn_s;	/* monotonic second of the
						   last "dropped" warning */
};

static const char audit_schema_sql[] =
    "CREATE TABLE IF NOT EXISTS requests (\n"
    "  id          INTEGER PRIMARY KEY,\n"
    "  ts          TEXT NOT NULL,\n"
    "  client      TEXT NOT NULL,\n"
    "  server      TEXT NOT NULL,\n"
    "  sni         TEXT,\n"
    "  host        TEXT,\n"
    "  method      TEXT,\n"
    "  path        TEXT,\n"
    "  status      INTEGER,\n"
    "  decision    TEXT NOT NULL,\n"
    "  rule_id     INTEGER,\n"
    "  injected    TEXT,\n"
    "  req_bytes   INTEGER,\n"
    "  resp_bytes  INTEGER,\n"
    "  duration_ms REAL,\n"
    "  error       TEXT\n"
    ");\n"
    "CREATE INDEX IF NOT EXISTS requests_ts ON requests (ts);\n";

static const char audit_insert_sql[] =
    "INSERT INTO requests (ts, client, server, sni, host, method, path, "
    "status, decision, rule_id, injected, req_bytes, resp_bytes, "
    "duration_ms, error) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

static void
audit_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* Copy s to *p and advance it; NULL stays NULL. */
static const char *
audit_copy_string(char **p, const char *s)
{
	char *dst = *p;
	size_t n;

	if (s == NULL)
		return NULL;
	n = strlen(s) + 1;
	memcpy(dst, s, n);
	*p += n;
	return dst;
}

static size_t
audit_string_size(const char *s)
{
	return s != NULL ? strlen(s) + 1 : 0;
}

static struct audit_entry *
audit_entry_new(const struct audit_record *rec)
{
	struct audit_entry *e;
	char *p;
	size_t len;

	len = audit_string_size(rec->client) + audit_string_size(rec->server) +
	    audit_string_size(rec->sni) + audit_string_size(rec->host) +
	    audit_string_size(rec->method) + audit_string_size(rec->path) +
	    audit_string_size(rec->decision) +
	    audit_string_size(rec->injected) + audit_string_size(rec->error);
	if ((e = malloc(sizeof(*e) + len)) == NULL)
		return NULL;
	e->rec = *rec;
	p = e->strings;
	e->rec.client = audit_copy_string(&p, rec->client);
	e->rec.server = audit_copy_string(&p, rec->server);
	e->rec.sni = audit_copy_string(&p, rec->sni);
	e->rec.host = audit_copy_string(&p, rec->host);
	e->rec.method = audit_copy_string(&p, rec->method);
	e->rec.path = audit_copy_string(&p, rec->path);
	e->rec.decision = audit_copy_string(&p, rec->decision);
	e->rec.injected = audit_copy_string(&p, rec->injected);
	e->rec.error = audit_copy_string(&p, rec->error);
	return e;
}

/* Count a lost record; say so at most once a second. */
static void
audit_drop(struct audit *a, uint64_t n, const char *why)
{
	struct timespec now;
	uint64_t total;
	int64_t last;

	total = atomic_fetch_add(&a->dropped, n) + n;
	clock_gettime(CLOCK_MONOTONIC, &now);
	last = atomic_load(&a->last_warn_s);
	if (now.tv_sec > last &&
	    atomic_compare_exchange_strong(&a->last_warn_s, &last, now.tv_sec))
		log_warnx("audit: dropped records: %s (%llu dropped so far)",
		    why, (unsigned long long)total);
}

int
audit_submit(struct audit *a, const struct audit_record *rec)
{
	struct audit_entry *e;
	const char *refused = NULL;

	/* The NOT NULL columns: one such row would fail its whole batch. */
	if (rec->client == NULL || rec->server == NULL ||
	    rec->decision == NULL) {
		audit_drop(a, 1, "record without client, server or decision");
		return -1;
	}
	if ((e = audit_entry_new(rec)) == NULL) {
		audit_drop(a, 1, "out of memory");
		return -1;
	}
	pthread_mutex_lock(&a->mtx);
	if (a->stopping)
		refused = "closing";
	else if (a->npending == a->cap)
		refused = "queue full";
	else
		a->pending[a->npending++] = e;
	/*
	 * The writer takes a batch every AUDIT_WAIT_MS; waking it for every
	 * record would cost a context switch and a transaction per request.
	 */
	if (refused == NULL && a->npending == (a->cap + 1) / 2)
		pthread_cond_signal(&a->cond);
	pthread_mutex_unlock(&a->mtx);
	if (refused != NULL) {
		free(e);
		audit_drop(a, 1, refused);
		return -1;
	}
	return 0;
}

/* "2026-11-29T18:00:00.123Z" */
static void
audit_format_ts(int64_t ts_ms, char *buf, size_t len)
{
	struct tm tm;
	time_t secs;
	int ms;

	secs = (time_t)(ts_ms / 1000);
	ms = (int)(ts_ms % 1000);
	if (ms < 0) {
		secs--;
		ms += 1000;
	}
	if (gmtime_r(&secs, &tm) == NULL) {
		snprintf(buf, len, "1970-01-01T00:00:00.000Z");
		return;
	}
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, ms);
}

static void
audit_bind_text(sqlite3_stmt *st, int col, const char *s)
{
	if (s != NULL)
		sqlite3_bind_text(st, col, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, col);
}

static void
audit_bind_int(sqlite3_stmt *st, int col, int64_t v, int64_t null_value)
{
	if (v != null_value)
		sqlite3_bind_int64(st, col, v);
	else
		sqlite3_bind_null(st, col);
}

/* Insert one row; the strings stay valid until the statement is reset. */
static int
audit_insert(struct audit *a, const struct audit_record *r)
{
	sqlite3_stmt *st = a->insert;
	char ts[64];
	int rc;

	audit_format_ts(r->ts_ms, ts, sizeof(ts));
	sqlite3_bind_text(st, 1, ts, -1, SQLITE_STATIC);
	audit_bind_text(st, 2, r->client);
	audit_bind_text(st, 3, r->server);
	audit_bind_text(st, 4, r->sni);
	audit_bind_text(st, 5, r->host);
	audit_bind_text(st, 6, r->method);
	audit_bind_text(st, 7, r->path);
	audit_bind_int(st, 8, r->status, 0);
	audit_bind_text(st, 9, r->decision);
	audit_bind_int(st, 10, r->rule_id, -1);
	audit_bind_text(st, 11, r->injected);
	audit_bind_int(st, 12, r->req_bytes, -1);
	audit_bind_int(st, 13, r->resp_bytes, -1);
	sqlite3_bind_double(st, 14, r->duration_ms);
	audit_bind_text(st, 15, r->error);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int
audit_write_once(struct audit *a, struct audit_entry **batch, unsigned n,
    int try)
{
	unsigned i;

	if (sqlite3_exec(a->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
	    SQLITE_OK)
		goto fail;
	for (i = 0; i < n; i++)
		if (audit_insert(a, &batch[i]->rec) == -1)
			goto fail;
	if (sqlite3_exec(a->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	return 0;
fail:
	/* Before the rollback, which replaces the error message. */
	log_warnx("audit: %s: writing %u records failed (try %d/%d): %s",
	    a->path, n, try, AUDIT_TRIES, sqlite3_errmsg(a->db));
	if (!sqlite3_get_autocommit(a->db))
		sqlite3_exec(a->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

/*
 * Commit a batch in one transaction.  A lock held elsewhere (someone's
 * write transaction) or a full disk may pass: try a few times before the
 * batch counts as dropped, so a wedged database cannot hold the queue, and
 * shutdown, forever.
 */
static void
audit_write(struct audit *a, struct audit_entry **batch, unsigned n)
{
	unsigned i;
	int try;

	for (try = 1; try <= AUDIT_TRIES; try++) {
		if (audit_write_once(a, batch, n, try) == 0)
			break;
		if (try == AUDIT_TRIES)
			audit_drop(a, n, "cannot write the database");
		else
			audit_sleep_ms(AUDIT_RETRY_SLEEP_MS);
	}
	for (i = 0; i < n; i++)
		free(batch[i]);
}

static void *
audit_writer_main(void *arg)
{
	struct audit *a = arg;
	struct audit_entry **batch;
	struct timespec deadline;
	unsigned n;
	int stopping;

	pthread_mutex_lock(&a->mtx);
	for (;;) {
		if (a->npending < (a->cap + 1) / 2 && !a->stopping) {
			clock_gettime(CLOCK_MONOTONIC, &deadline);
			deadline.tv_nsec += AUDIT_WAIT_MS * 1000000L;
			if (deadline.tv_nsec >= 1000000000) {
				deadline.tv_sec++;
				deadline.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&a->cond, &a->mtx, &deadline);
		}
		batch = a->pending;
		n = a->npending;
		stopping = a->stopping;
		a->pending = a->spare;
		a->npending = 0;
		pthread_mutex_unlock(&a->mtx);

		if (n > 0)
			audit_write(a, batch, n);
		a->spare = batch;
		/* Stop only once a pass has found the queue empty. */
		if (stopping && n == 0)
			break;
		pthread_mutex_lock(&a->mtx);
	}
	return NULL;
}

struct audit *
audit_open(const char *path, unsigned capacity)
{
	struct audit *a;
	pthread_condattr_t ca;
	char *err = NULL;
	const char *mode;
	sqlite3_stmt *st = NULL;
	int fd;

	if (capacity == 0) {
		log_warnx("audit: queue capacity must be at least 1");
		return NULL;
	}
	if ((a = calloc(1, sizeof(*a))) == NULL)
		goto nomem;
	a->cap = capacity;
	if ((a->path = strdup(path)) == NULL ||
	    (a->pending = calloc(capacity, sizeof(*a->pending))) == NULL ||
	    (a->spare = calloc(capacity, sizeof(*a->spare))) == NULL)
		goto nomem;

	/*
	 * Created here rather than by SQLite so that its mode is 0640 or
	 * stricter; SQLite gives -wal and -shm the mode of the database.
	 */
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0640);
	if (fd == -1) {
		log_warn("audit: %s", path);
		goto fail;
	}
	close(fd);

	if (sqlite3_open_v2(path, &a->db, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK)
		goto dberr;
	sqlite3_busy_timeout(a->db, AUDIT_BUSY_TIMEOUT_MS);
	/* Every connection sluice writes with enforces foreign keys. */
	if (sqlite3_exec(a->db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL) !=
	    SQLITE_OK)
		goto dberr;

	/* journal_mode answers with the mode it ended up in. */
	if (sqlite3_prepare_v2(a->db, "PRAGMA journal_mode=WAL", -1, &st,
	    NULL) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW)
		goto dberr;
	mode = (const char *)sqlite3_column_text(st, 0);
	if (mode == NULL || strcmp(mode, "wal") != 0) {
		log_warnx("audit: %s: cannot use WAL (journal mode %s)", path,
		    mode != NULL ? mode : "unknown");
		goto fail;
	}
	sqlite3_finalize(st);
	st = NULL;

	if (sqlite3_exec(a->db, "PRAGMA synchronous=NORMAL", NULL, NULL,
	    &err) != SQLITE_OK ||
	    sqlite3_exec(a->db, audit_schema_sql, NULL, NULL, &err) !=
	    SQLITE_OK)
		goto dberr;
	if (sqlite3_prepare_v3(a->db, audit_insert_sql, -1,
	    SQLITE_PREPARE_PERSISTENT, &a->insert, NULL) != SQLITE_OK)
		goto dberr;

	pthread_mutex_init(&a->mtx, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&a->cond, &ca);
	pthread_condattr_destroy(&ca);
	if ((errno = pthread_create(&a->thread, NULL, audit_writer_main,
	    a)) != 0) {
		log_warn("audit: writer thread");
		pthread_cond_destroy(&a->cond);
		pthread_mutex_destroy(&a->mtx);
		goto fail;
	}
	return a;

nomem:
	log_warnx("audit: out of memory");
	goto fail;
dberr:
	log_warnx("audit: %s: %s", path,
	    err != NULL ? err : a->db != NULL ? sqlite3_errmsg(a->db) :
	    "out of memory");
fail:
	sqlite3_free(err);
	sqlite3_finalize(st);
	if (a != NULL) {
		sqlite3_finalize(a->insert);
		sqlite3_close(a->db);
		free(a->pending);
		free(a->spare);
		free(a->path);
		free(a);
	}
	return NULL;
}

void
audit_close(struct audit *a)
{
	if (a == NULL)
		return;
	pthread_mutex_lock(&a->mtx);
	a->stopping = 1;
	pthread_cond_signal(&a->cond);
	pthread_mutex_unlock(&a->mtx);
	pthread_join(a->thread, NULL);

	sqlite3_finalize(a->insert);
	if (sqlite3_close(a->db) != SQLITE_OK)
		log_warnx("audit: %s: close: %s", a->path,
		    sqlite3_errmsg(a->db));
	pthread_cond_destroy(&a->cond);
	pthread_mutex_destroy(&a->mtx);
	free(a->pending);
	free(a->spare);
	free(a->path);
	free(a);
}

uint64_t
audit_dropped(struct audit *a)
{
	return atomic_load(&a->dropped);
}
