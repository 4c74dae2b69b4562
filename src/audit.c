/*
 * audit.c - the audit log: a bounded queue and the thread that drains it.
 *
 * Owns audit.db (the requests, connections and gaps tables and the views
 * of INTERFACE.md) and the only connection that writes it.  Does not decide
 * what a record says; callers fill struct audit_record or audit_conn_record,
 * with secrets already masked.
 *
 * Workers call audit_submit() or audit_submit_conn(), which copy the
 * record (the struct and all its strings in one block, a slot the writer
 * gave back when it fits one) and append the pointer to the pending array
 * under a mutex, and return: no I/O, no waiting on SQLite.  The writer
 * swaps the pending array with its spare one under the mutex, so a batch
 * is taken in O(1) and workers go on queueing while it writes; it then
 * commits the batch in one transaction, the requests rows by INSERT
 * statements of up to AUDIT_ROWS_MAX rows.  Readers with the sqlite3 tool
 * do not block it (WAL); a writer that does (someone's BEGIN IMMEDIATE) is
 * waited for AUDIT_KEEP_MS before the batch is given up.
 *
 * Connection ids are handed out here (audit_conn_id), from a counter seeded
 * above every id the file holds, so that a request row names its connection
 * before the connection's row, written when it ends, exists.  requests.
 * conn_id is therefore not a declared foreign key.
 *
 * Between batches the writer also checks that the configured path is still
 * the file it has open (a rename or unlink opens a new one), honours
 * audit_reopen(), and deletes rows older than the retention, a little at a
 * time.
 *
 * Invariants: pending holds at most cap records (a full queue drops the new
 * record and counts it); every record is either committed, counted in
 * lost[], or still queued; once stopping is set nothing more is queued, so
 * after audit_close() returns nothing is.  Every count in lost[] beyond
 * gapped[] is written as a gaps row in the next transaction that commits,
 * so a loss is silent only if the database never works again.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "audit.h"
#include "log.h"
#include "util.h"

#define AUDIT_WAIT_MS		100	/* between batches, unless half full */
#define AUDIT_BUSY_TIMEOUT_MS	1000	/* one try; tries last AUDIT_KEEP_MS */
#define AUDIT_KEEP_MS		5000	/* a batch is retried this long */
#define AUDIT_RETRY_SLEEP_MS	50
#define AUDIT_REOPEN_MS		1000	/* between attempts to open the file */
#define AUDIT_PRUNE_ROWS	1000	/* per table and transaction */
#define AUDIT_PRUNE_EVERY_MS	60000	/* once nothing is left to prune */

enum audit_kind {
	AUDIT_REQUEST,
	AUDIT_CONNECTION,
	AUDIT_NKINDS
};

/* The gaps.kind column: which table the lost rows were for. */
static const char *const audit_kind_names[AUDIT_NKINDS] = {
	"request", "connection",
};

/* Why rows were lost: the gaps.cause column. */
enum audit_cause {
	AUDIT_QUEUE_FULL,
	AUDIT_LOCKED,		/* another writer held the database too long */
	AUDIT_WRITE_FAILED,	/* any other SQLite error, or no database */
	AUDIT_INVALID,		/* a record without a NOT NULL field */
	AUDIT_NOMEM,
	AUDIT_NCAUSES
};

static const char *const audit_cause_names[AUDIT_NCAUSES] = {
	"queue_full", "database_locked", "write_failed", "invalid_record",
	"out_of_memory",
};

/* Losses are counted per cause and kind: slot cause * AUDIT_NKINDS + kind. */
#define AUDIT_NSLOTS	(AUDIT_NCAUSES * AUDIT_NKINDS)

/* A record and the strings it points at, in one allocation. */
struct audit_entry {
	enum audit_kind		 kind;
	int			 pooled;	/* AUDIT_SLOT_SIZE bytes */
	union {
		struct audit_record	 req;
		struct audit_conn_record conn;
	};
	char			 strings[];
};

#define AUDIT_MAX_STRINGS	14	/* string fields of a record */

/*
 * Entries that fit in AUDIT_SLOT_SIZE bytes are kept for reuse once
 * written, up to AUDIT_POOL_MAX of them: allocated by a worker and freed
 * by the writer, each cost a trip through malloc's arena (the thread
 * caches do not help across threads), more than copying the record.
 */
#define AUDIT_SLOT_SIZE		1024
#define AUDIT_POOL_MAX		4096

/*
 * Request rows go in by INSERT statements of 1, 2, 4, ... AUDIT_ROWS_MAX
 * rows: a statement's fixed cost (opening cursors, halting, freeing what
 * it allocated) was a third of a row's when each row had its own.
 */
#define AUDIT_INSERT_SIZES	6
#define AUDIT_ROWS_MAX		(1u << (AUDIT_INSERT_SIZES - 1))
#define AUDIT_REQUEST_COLUMNS	21
#define AUDIT_TS_SIZE		32	/* "2026-11-29T18:00:00.123Z", any year */

/* One open audit.db: the writer's connection and its statements. */
struct audit_file {
	sqlite3			*db;		/* NULL while it cannot open */
	sqlite3_stmt		*begin;
	sqlite3_stmt		*commit;
	sqlite3_stmt		*insert[AUDIT_INSERT_SIZES];	/* [k]: 2^k rows */
	sqlite3_stmt		*insert_conn;
	sqlite3_stmt		*insert_gap;
	dev_t			 dev;		/* of the file db has open */
	ino_t			 ino;
};

struct audit {
	char			*path;
	int			 retention_days;
	/* Set before the first record is submitted; read by the writer. */
	char			 gateway[AUDIT_GATEWAY_MAX + 1];	/* "": NULL */
	pthread_t		 thread;

	/* writer thread only */
	struct audit_file	 f;
	int64_t			 last_open_try;	/* monotonic ms */
	int64_t			 next_prune;	/* monotonic ms */
	int64_t			 ts_secs;	/* of ts_text, if it is set */
	char			 ts_text[AUDIT_TS_SIZE];
	uint64_t		 gapped[AUDIT_NSLOTS];	/* in gaps rows */
	struct audit_entry	**spare;

	pthread_mutex_t		 mtx;
	pthread_cond_t		 cond;		/* CLOCK_MONOTONIC */
	struct audit_entry	**pending;	/* mtx */
	unsigned		 npending;	/* mtx */
	struct audit_entry	**pool;		/* mtx: slots to reuse */
	unsigned		 npool;		/* mtx */
	unsigned		 cap;
	int			 stopping;	/* mtx */

	_Atomic int64_t		 next_conn_id;
	_Atomic int		 reopen;	/* audit_reopen() asked */
	_Atomic uint64_t	 lost[AUDIT_NSLOTS];
	_Atomic int64_t		 max_txn_us;
	_Atomic uint64_t	 written;	/* writer thread stores */
	_Atomic int64_t		 last_warn_s;	/* monotonic second of the
						   last "dropped" warning */
};

/*
 * IF NOT EXISTS, so that an existing file keeps its rows; columns an older
 * version's requests table lacks are added by audit_db_migrate().
 */
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
    "  error       TEXT,\n"
    "  conn_id     INTEGER,  -- connections.id (its row comes later)\n"
    "  gateway     TEXT,     -- --gateway-name of the sluice that wrote it\n"
    "  limit_source TEXT,    -- the rate limit was decided by 'redis' or 'local'\n"
    "  client_proto TEXT,    -- 'http/1.1', 'http/1.0' or 'h2'; NULL: no client leg\n"
    "  upstream_proto TEXT,  -- 'http/1.1' or 'h2'; NULL: no upstream leg\n"
    "  upgrade     TEXT      -- protocol a 101 switched to ('websocket'); NULL: none\n"
    ");\n"
    "CREATE INDEX IF NOT EXISTS requests_ts ON requests (ts);\n"
    "CREATE TABLE IF NOT EXISTS connections (\n"
    "  id                   INTEGER PRIMARY KEY,\n"
    "  started              TEXT NOT NULL,\n"
    "  ended                TEXT NOT NULL,\n"
    "  client               TEXT NOT NULL,\n"
    "  server               TEXT NOT NULL,\n"
    "  sni                  TEXT,\n"
    "  connect_host         TEXT,\n"
    "  tls_version          TEXT,\n"
    "  cipher               TEXT,\n"
    "  alpn                 TEXT,\n"
    "  upstream_tls_version TEXT,\n"
    "  upstream_cipher      TEXT,\n"
    "  upstream_subject     TEXT,\n"
    "  upstream_issuer      TEXT,\n"
    "  verify_result        TEXT,\n"
    "  bytes_in             INTEGER,\n"
    "  bytes_out            INTEGER,\n"
    "  end_reason           TEXT,\n"
    "  proto                TEXT,     -- --nfqueue flows: 'tcp' or 'udp'\n"
    "  port                 INTEGER,  -- --nfqueue flows: destination port\n"
    "  flows                INTEGER,  -- --nfqueue: flows this row stands for\n"
    "  gateway              TEXT\n"
    ");\n"
    "CREATE INDEX IF NOT EXISTS connections_started "
    "ON connections (started);\n"
    "CREATE TABLE IF NOT EXISTS gaps (\n"
    "  ts    TEXT NOT NULL,\n"
    "  count INTEGER NOT NULL,\n"
    "  cause TEXT NOT NULL,\n"
    "  kind  TEXT NOT NULL    -- 'request' or 'connection' rows\n"
    ");\n";

/*
 * Dropped and created at every open, so that a file from an older version
 * gets the current definitions.  ts sorts as text; the cutoff is formatted
 * like it.
 */
#define AUDIT_LAST_HOUR \
    "ts >= strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-1 hour')"
static const char audit_views_sql[] =
    "DROP VIEW IF EXISTS denied_recent;\n"
    "CREATE VIEW denied_recent AS\n"
    "  SELECT ts, client, host, method, path, rule_id, error FROM requests\n"
    "  WHERE decision = 'denied' AND " AUDIT_LAST_HOUR "\n"
    "  ORDER BY ts DESC;\n"
    "DROP VIEW IF EXISTS errors_recent;\n"
    "CREATE VIEW errors_recent AS\n"
    "  SELECT ts, client, host, status, error FROM requests\n"
    "  WHERE (decision = 'error' OR status >= 500) AND " AUDIT_LAST_HOUR "\n"
    "  ORDER BY ts DESC;\n"
    "DROP VIEW IF EXISTS top_hosts;\n"
    "CREATE VIEW top_hosts AS\n"
    "  SELECT host, count(*) AS requests,\n"
    "    coalesce(sum(resp_bytes), 0) AS resp_bytes FROM requests\n"
    "  WHERE " AUDIT_LAST_HOUR "\n"
    "  GROUP BY host ORDER BY requests DESC, resp_bytes DESC;\n"
    "DROP VIEW IF EXISTS injected_by_rule;\n"
    "CREATE VIEW injected_by_rule AS\n"
    "  SELECT rule_id, injected, count(*) AS requests, max(ts) AS last_ts\n"
    "  FROM requests WHERE injected IS NOT NULL AND " AUDIT_LAST_HOUR "\n"
    "  GROUP BY rule_id, injected ORDER BY last_ts DESC;\n";

/* Followed by one audit_insert_row per row. */
static const char audit_insert_sql[] =
    "INSERT INTO requests (ts, client, server, sni, host, method, path, "
    "status, decision, rule_id, injected, req_bytes, resp_bytes, "
    "duration_ms, error, conn_id, gateway, limit_source, client_proto, "
    "upstream_proto, upgrade) VALUES ";
static const char audit_insert_row[] =
    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

static const char audit_insert_conn_sql[] =
    "INSERT OR REPLACE INTO connections (id, started, ended, client, "
    "server, sni, connect_host, tls_version, cipher, alpn, "
    "upstream_tls_version, upstream_cipher, upstream_subject, "
    "upstream_issuer, verify_result, bytes_in, bytes_out, end_reason, "
    "proto, port, flows, gateway) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

static const char audit_insert_gap_sql[] =
    "INSERT INTO gaps (ts, count, cause, kind) VALUES (?, ?, ?, ?)";

/* One statement per table; the cutoff is ?1, the batch ?2. */
static const char *const audit_prune_sql[] = {
	"DELETE FROM requests WHERE id IN (SELECT id FROM requests "
	    "WHERE ts < ?1 ORDER BY ts LIMIT ?2)",
	"DELETE FROM connections WHERE id IN (SELECT id FROM connections "
	    "WHERE started < ?1 ORDER BY started LIMIT ?2)",
	"DELETE FROM gaps WHERE rowid IN (SELECT rowid FROM gaps "
	    "WHERE ts < ?1 LIMIT ?2)",
};

static void
audit_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/*
 * Pointers to e's string fields, so that one copy routine serves both
 * kinds of record.  Returns how many.
 */
static unsigned
audit_entry_strings(struct audit_entry *e, const char **f[])
{
	struct audit_record *r = &e->req;
	struct audit_conn_record *c = &e->conn;
	unsigned n = 0;

	if (e->kind == AUDIT_REQUEST) {
		f[n++] = &r->client;
		f[n++] = &r->server;
		f[n++] = &r->sni;
		f[n++] = &r->host;
		f[n++] = &r->method;
		f[n++] = &r->path;
		f[n++] = &r->decision;
		f[n++] = &r->injected;
		f[n++] = &r->error;
		f[n++] = &r->limit_source;
		f[n++] = &r->client_proto;
		f[n++] = &r->upstream_proto;
		f[n++] = &r->upgrade;
	} else {
		f[n++] = &c->client;
		f[n++] = &c->server;
		f[n++] = &c->sni;
		f[n++] = &c->connect_host;
		f[n++] = &c->tls_version;
		f[n++] = &c->cipher;
		f[n++] = &c->alpn;
		f[n++] = &c->upstream_tls_version;
		f[n++] = &c->upstream_cipher;
		f[n++] = &c->upstream_subject;
		f[n++] = &c->upstream_issuer;
		f[n++] = &c->verify_result;
		f[n++] = &c->end_reason;
		f[n++] = &c->proto;
	}
	return n;
}

/*
 * The bytes a copy of tmpl takes, with len[] the length of each string
 * field (in audit_entry_strings() order) for audit_entry_fill().
 */
static size_t
audit_entry_size(struct audit_entry *tmpl, size_t len[])
{
	const char **f[AUDIT_MAX_STRINGS];
	size_t size = sizeof(*tmpl);
	unsigned i, n;

	n = audit_entry_strings(tmpl, f);
	for (i = 0; i < n; i++) {
		len[i] = *f[i] != NULL ? strlen(*f[i]) + 1 : 0;
		size += len[i];
	}
	return size;
}

/* Copy tmpl into e, its strings into e's own bytes. */
static void
audit_entry_fill(struct audit_entry *e, struct audit_entry *tmpl,
    const size_t len[], int pooled)
{
	const char **f[AUDIT_MAX_STRINGS];
	unsigned i, n;
	char *p = e->strings;

	memcpy(e, tmpl, sizeof(*e));
	e->pooled = pooled;
	n = audit_entry_strings(e, f);
	for (i = 0; i < n; i++) {
		if (*f[i] == NULL)
			continue;
		memcpy(p, *f[i], len[i]);
		*f[i] = p;
		p += len[i];
	}
}

/* Room for an entry of size bytes: a pooled slot if it fits.  Under mtx. */
static struct audit_entry *
audit_entry_take(struct audit *a, size_t size, int *pooled)
{
	*pooled = size <= AUDIT_SLOT_SIZE;
	if (!*pooled)
		return malloc(size);
	if (a->npool > 0)
		return a->pool[--a->npool];
	return malloc(AUDIT_SLOT_SIZE);
}

/* Written entries back to the pool, or freed once it is full. */
static void
audit_entries_release(struct audit *a, struct audit_entry **batch,
    unsigned n)
{
	unsigned k, nfree = 0;

	pthread_mutex_lock(&a->mtx);
	for (k = 0; k < n; k++) {
		if (batch[k]->pooled && a->npool < AUDIT_POOL_MAX)
			a->pool[a->npool++] = batch[k];
		else
			batch[nfree++] = batch[k];
	}
	pthread_mutex_unlock(&a->mtx);
	for (k = 0; k < nfree; k++)
		free(batch[k]);
}

/* Count lost records for the gaps table; say so at most once a second. */
static void
audit_drop(struct audit *a, enum audit_kind kind, uint64_t n,
    enum audit_cause cause)
{
	struct timespec now;
	uint64_t total;
	int64_t last;

	if (n == 0)
		return;
	atomic_fetch_add(&a->lost[cause * AUDIT_NKINDS + kind], n);
	total = audit_dropped(a);
	clock_gettime(CLOCK_MONOTONIC, &now);
	last = atomic_load(&a->last_warn_s);
	if (now.tv_sec > last &&
	    atomic_compare_exchange_strong(&a->last_warn_s, &last, now.tv_sec))
		log_event(LOG_WARN, "audit_dropped", "cause=%s total=%llu",
		    audit_cause_names[cause], (unsigned long long)total);
}

/*
 * The copy is made under the mutex, into a pooled slot: taking the slot
 * needs the mutex anyway, and the copy costs less than a second lock.
 */
static int
audit_enqueue(struct audit *a, struct audit_entry *tmpl)
{
	size_t len[AUDIT_MAX_STRINGS], size;
	enum audit_cause cause = AUDIT_QUEUE_FULL;
	struct audit_entry *e = NULL;
	int pooled;

	size = audit_entry_size(tmpl, len);
	pthread_mutex_lock(&a->mtx);
	/*
	 * After stopping nothing can be written, not even a gaps row:
	 * counted in audit_dropped() only (the workers have stopped by then).
	 */
	if (!a->stopping && a->npending < a->cap) {
		if ((e = audit_entry_take(a, size, &pooled)) == NULL)
			cause = AUDIT_NOMEM;
		else {
			audit_entry_fill(e, tmpl, len, pooled);
			a->pending[a->npending++] = e;
		}
	}
	/*
	 * The writer takes a batch every AUDIT_WAIT_MS; waking it for every
	 * record would cost a context switch and a transaction per request.
	 */
	if (e != NULL && a->npending == (a->cap + 1) / 2)
		pthread_cond_signal(&a->cond);
	pthread_mutex_unlock(&a->mtx);
	if (e == NULL) {
		audit_drop(a, tmpl->kind, 1, cause);
		return -1;
	}
	return 0;
}

int
audit_submit(struct audit *a, const struct audit_record *rec)
{
	struct audit_entry tmpl = { .kind = AUDIT_REQUEST, .req = *rec };

	/* The NOT NULL columns: one such row would fail its whole batch. */
	if (rec->client == NULL || rec->server == NULL ||
	    rec->decision == NULL) {
		audit_drop(a, AUDIT_REQUEST, 1, AUDIT_INVALID);
		return -1;
	}
	return audit_enqueue(a, &tmpl);
}

int
audit_submit_conn(struct audit *a, const struct audit_conn_record *rec)
{
	struct audit_entry tmpl = { .kind = AUDIT_CONNECTION, .conn = *rec };

	if (rec->client == NULL || rec->server == NULL) {
		audit_drop(a, AUDIT_CONNECTION, 1, AUDIT_INVALID);
		return -1;
	}
	return audit_enqueue(a, &tmpl);
}

int64_t
audit_conn_id(struct audit *a)
{
	return atomic_fetch_add(&a->next_conn_id, 1);
}

void
audit_set_gateway(struct audit *a, const char *name)
{
	snprintf(a->gateway, sizeof(a->gateway), "%s", name);
}

void
audit_reopen(struct audit *a)
{
	atomic_store(&a->reopen, 1);
}

/* v as exactly width decimal digits at p (v < 10^width). */
static char *
audit_put_digits(char *p, int v, int width)
{
	int i;

	for (i = width - 1; i >= 0; i--) {
		p[i] = (char)('0' + v % 10);
		v /= 10;
	}
	return p + width;
}

/*
 * "2026-11-29T18:00:00.123Z".  Written digit by digit: there is one per
 * audit row, and snprintf cost more than binding the rest of the row.
 */
static void
audit_format_ts(int64_t ts_ms, char *buf, size_t len)
{
	struct tm tm;
	time_t secs;
	char *p = buf;
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
	if (len < 25 || tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999) {
		snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec, ms);
		return;
	}
	p = audit_put_digits(p, tm.tm_year + 1900, 4);
	*p++ = '-';
	p = audit_put_digits(p, tm.tm_mon + 1, 2);
	*p++ = '-';
	p = audit_put_digits(p, tm.tm_mday, 2);
	*p++ = 'T';
	p = audit_put_digits(p, tm.tm_hour, 2);
	*p++ = ':';
	p = audit_put_digits(p, tm.tm_min, 2);
	*p++ = ':';
	p = audit_put_digits(p, tm.tm_sec, 2);
	*p++ = '.';
	p = audit_put_digits(p, ms, 3);
	*p++ = 'Z';
	*p = '\0';
}

/*
 * The row's timestamp into buf (AUDIT_TS_SIZE bytes).  Rows come in the
 * same second in runs, so the text of the last second is kept and only
 * the milliseconds are written: gmtime_r cost more than the rest of it.
 */
static void
audit_ts(struct audit *a, int64_t ts_ms, char *buf)
{
	int64_t secs = ts_ms / 1000 - (ts_ms % 1000 < 0);

	if (a->ts_text[0] == '\0' || secs != a->ts_secs) {
		audit_format_ts(ts_ms, buf, AUDIT_TS_SIZE);
		/* Other widths (years past 9999) are not kept. */
		if (strlen(buf) != 24) {
			a->ts_text[0] = '\0';
			return;
		}
		memcpy(a->ts_text, buf, AUDIT_TS_SIZE);
		a->ts_secs = secs;
		return;
	}
	memcpy(buf, a->ts_text, 25);
	audit_put_digits(buf + 20, (int)(ts_ms - secs * 1000), 3);
}

/*
 * SQLITE_STATIC: s lives until the statement has run.  The length is given
 * because SQLite would count it a byte at a time.
 */
static void
audit_bind_text(sqlite3_stmt *st, int col, const char *s)
{
	if (s != NULL)
		sqlite3_bind_text(st, col, s, (int)strlen(s), SQLITE_STATIC);
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

/*
 * Run a bound statement once and make it ready for the next row.  Every
 * parameter is bound for every row, so the bindings are not cleared.
 */
static int
audit_step(sqlite3_stmt *st)
{
	int rc;

	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Bind r as the row whose first parameter follows parameter base. */
static void
audit_bind_request(struct audit *a, sqlite3_stmt *st, int base,
    const struct audit_record *r, const char *ts)
{
	audit_bind_text(st, base + 1, ts);
	audit_bind_text(st, base + 2, r->client);
	audit_bind_text(st, base + 3, r->server);
	audit_bind_text(st, base + 4, r->sni);
	audit_bind_text(st, base + 5, r->host);
	audit_bind_text(st, base + 6, r->method);
	audit_bind_text(st, base + 7, r->path);
	audit_bind_int(st, base + 8, r->status, 0);
	audit_bind_text(st, base + 9, r->decision);
	audit_bind_int(st, base + 10, r->rule_id, -1);
	audit_bind_text(st, base + 11, r->injected);
	audit_bind_int(st, base + 12, r->req_bytes, -1);
	audit_bind_int(st, base + 13, r->resp_bytes, -1);
	sqlite3_bind_double(st, base + 14, r->duration_ms);
	audit_bind_text(st, base + 15, r->error);
	audit_bind_int(st, base + 16, r->conn_id, 0);
	audit_bind_text(st, base + 17, a->gateway[0] != '\0' ? a->gateway :
	    NULL);
	audit_bind_text(st, base + 18, r->limit_source);
	audit_bind_text(st, base + 19, r->client_proto);
	audit_bind_text(st, base + 20, r->upstream_proto);
	audit_bind_text(st, base + 21, r->upgrade);
}

/*
 * Insert n request rows, in order: the largest statement that fits first,
 * so that any n takes at most one statement per bit of it.
 */
static int
audit_insert_requests(struct audit *a, struct audit_record *const rows[],
    unsigned n)
{
	char ts[AUDIT_ROWS_MAX][AUDIT_TS_SIZE];
	sqlite3_stmt *st;
	unsigned k, i, size;

	while (n > 0) {
		for (k = AUDIT_INSERT_SIZES - 1; (1u << k) > n; k--)
			;
		size = 1u << k;
		st = a->f.insert[k];
		for (i = 0; i < size; i++) {
			audit_ts(a, rows[i]->ts_ms, ts[i]);
			audit_bind_request(a, st, (int)i *
			    AUDIT_REQUEST_COLUMNS, rows[i], ts[i]);
		}
		if (audit_step(st) == -1)
			return -1;
		rows += size;
		n -= size;
	}
	return 0;
}

static int
audit_insert_conn(struct audit *a, const struct audit_conn_record *r)
{
	sqlite3_stmt *st = a->f.insert_conn;
	char started[AUDIT_TS_SIZE], ended[AUDIT_TS_SIZE];

	audit_ts(a, r->started_ms, started);
	audit_ts(a, r->ended_ms, ended);
	sqlite3_bind_int64(st, 1, r->id);
	audit_bind_text(st, 2, started);
	audit_bind_text(st, 3, ended);
	audit_bind_text(st, 4, r->client);
	audit_bind_text(st, 5, r->server);
	audit_bind_text(st, 6, r->sni);
	audit_bind_text(st, 7, r->connect_host);
	audit_bind_text(st, 8, r->tls_version);
	audit_bind_text(st, 9, r->cipher);
	audit_bind_text(st, 10, r->alpn);
	audit_bind_text(st, 11, r->upstream_tls_version);
	audit_bind_text(st, 12, r->upstream_cipher);
	audit_bind_text(st, 13, r->upstream_subject);
	audit_bind_text(st, 14, r->upstream_issuer);
	audit_bind_text(st, 15, r->verify_result);
	audit_bind_int(st, 16, r->bytes_in, -1);
	audit_bind_int(st, 17, r->bytes_out, -1);
	audit_bind_text(st, 18, r->end_reason);
	audit_bind_text(st, 19, r->proto);
	audit_bind_int(st, 20, r->port, 0);
	audit_bind_int(st, 21, r->flows, 0);
	audit_bind_text(st, 22, a->gateway[0] != '\0' ? a->gateway : NULL);
	return audit_step(st);
}

/*
 * Rows for the losses no gaps row tells of yet; delta[] says how many, to
 * be added to gapped[] once the transaction commits.
 */
static int
audit_insert_gaps(struct audit *a, uint64_t delta[])
{
	sqlite3_stmt *st = a->f.insert_gap;
	char now[AUDIT_TS_SIZE];
	int i;

	audit_ts(a, util_wall_ms(), now);

	for (i = 0; i < AUDIT_NSLOTS; i++) {
		delta[i] = atomic_load(&a->lost[i]) - a->gapped[i];
		if (delta[i] == 0)
			continue;
		audit_bind_text(st, 1, now);
		sqlite3_bind_int64(st, 2, (int64_t)delta[i]);
		sqlite3_bind_text(st, 3, audit_cause_names[i / AUDIT_NKINDS],
		    -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, audit_kind_names[i % AUDIT_NKINDS],
		    -1, SQLITE_STATIC);
		if (audit_step(st) == -1)
			return -1;
	}
	return 0;
}

static int
audit_gaps_pending(struct audit *a)
{
	int i;

	for (i = 0; i < AUDIT_NSLOTS; i++)
		if (atomic_load(&a->lost[i]) != a->gapped[i])
			return 1;
	return 0;
}

/* ---- the database file ----------------------------------------------- */

static void
audit_db_close(struct audit *a, struct audit_file *f)
{
	int k;

	sqlite3_finalize(f->begin);
	sqlite3_finalize(f->commit);
	for (k = 0; k < AUDIT_INSERT_SIZES; k++) {
		sqlite3_finalize(f->insert[k]);
		f->insert[k] = NULL;
	}
	sqlite3_finalize(f->insert_conn);
	sqlite3_finalize(f->insert_gap);
	f->begin = f->commit = f->insert_conn = f->insert_gap = NULL;
	/*
	 * SQLite does not checkpoint on close a file that was renamed or
	 * unlinked, and its -wal keeps the old name: fold it in (through the
	 * open descriptor) and empty it, or the next file at the path would
	 * be replayed from it.
	 */
	if (f->db != NULL && sqlite3_wal_checkpoint_v2(f->db, NULL,
	    SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL) != SQLITE_OK)
		log_event(LOG_WARN, "audit_checkpoint_failed", "path=%s err=%s",
		    a->path, sqlite3_errmsg(f->db));
	if (f->db != NULL && sqlite3_close(f->db) != SQLITE_OK)
		log_event(LOG_WARN, "audit_close_failed", "path=%s err=%s",
		    a->path, sqlite3_errmsg(f->db));
	f->db = NULL;
}

static int64_t
audit_db_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	int64_t v = 0;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return 0;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/*
 * Columns added after the first release, for files an older sluice made:
 * each is added when its table lacks it.  A new column goes here and in
 * the CREATE TABLE text above, nowhere else.
 */
static const struct audit_column {
	const char	*table;
	const char	*name;
	const char	*decl;
} audit_added_columns[] = {
	{ "requests", "conn_id", "INTEGER" },
	{ "connections", "proto", "TEXT" },
	{ "connections", "port", "INTEGER" },
	{ "connections", "flows", "INTEGER" },
	{ "requests", "gateway", "TEXT" },
	{ "connections", "gateway", "TEXT" },
	{ "requests", "limit_source", "TEXT" },
	{ "requests", "client_proto", "TEXT" },
	{ "requests", "upstream_proto", "TEXT" },
	{ "requests", "upgrade", "TEXT" },
};

static int
audit_db_has_column(sqlite3 *db, const char *table, const char *name)
{
	sqlite3_stmt *st = NULL;
	char sql[128];

	snprintf(sql, sizeof(sql), "SELECT %s FROM %s", name, table);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return 0;
	sqlite3_finalize(st);
	return 1;
}

static int
audit_db_migrate(struct audit *a)
{
	const struct audit_column *c;
	char sql[160];
	size_t i;

	for (i = 0; i < sizeof(audit_added_columns) /
	    sizeof(audit_added_columns[0]); i++) {
		c = &audit_added_columns[i];
		if (audit_db_has_column(a->f.db, c->table, c->name))
			continue;
		log_event(LOG_INFO, "audit_column_added", "path=%s column=%s.%s",
		    a->path, c->table, c->name);
		snprintf(sql, sizeof(sql), "ALTER TABLE %s ADD COLUMN %s %s",
		    c->table, c->name, c->decl);
		if (sqlite3_exec(a->f.db, sql, NULL, NULL, NULL) != SQLITE_OK)
			return -1;
	}
	return 0;
}

/*
 * Seed the connection ids above any the file holds, also those only
 * requests name (their connection's row never came: a crash).
 */
static void
audit_db_seed_ids(struct audit *a)
{
	int64_t max, m;

	max = audit_db_int(a->f.db, "SELECT max(id) FROM connections");
	m = audit_db_int(a->f.db, "SELECT max(conn_id) FROM requests");
	if (m > max)
		max = m;
	m = atomic_load(&a->next_conn_id);
	while (m <= max &&
	    !atomic_compare_exchange_weak(&a->next_conn_id, &m, max + 1))
		;
}

/*
 * A -wal or -shm without its database was left by a file that was moved
 * or deleted; SQLite would apply it to the new file.  Its rows are in the
 * moved file if the checkpoint at close worked.
 */
static void
audit_db_remove_stale(struct audit *a)
{
	static const char *const suffix[] = { "-wal", "-shm" };
	char side[PATH_MAX + 8];
	struct stat sb;
	size_t i;

	for (i = 0; i < 2; i++) {
		snprintf(side, sizeof(side), "%s%s", a->path, suffix[i]);
		if (stat(side, &sb) == -1)
			continue;
		if (i == 0 && sb.st_size > 0)
			log_event(LOG_WARN, "audit_stale_wal_removed",
			    "path=%s", side);
		if (unlink(side) == -1)
			log_event(LOG_WARN, "audit_unlink_failed",
			    "path=%s err=%s", side, strerror(errno));
	}
}

static int
audit_db_prepare_one(struct audit *a, const char *sql, sqlite3_stmt **st)
{
	return sqlite3_prepare_v3(a->f.db, sql, -1, SQLITE_PREPARE_PERSISTENT,
	    st, NULL) == SQLITE_OK ? 0 : -1;
}

/* The writer's statements, prepared once per open file. */
static int
audit_db_prepare(struct audit *a)
{
	char sql[sizeof(audit_insert_sql) +
	    AUDIT_ROWS_MAX * sizeof(audit_insert_row)];
	size_t len;
	unsigned k, i;

	if (audit_db_prepare_one(a, "BEGIN IMMEDIATE", &a->f.begin) == -1 ||
	    audit_db_prepare_one(a, "COMMIT", &a->f.commit) == -1 ||
	    audit_db_prepare_one(a, audit_insert_conn_sql,
	    &a->f.insert_conn) == -1 ||
	    audit_db_prepare_one(a, audit_insert_gap_sql,
	    &a->f.insert_gap) == -1)
		return -1;
	for (k = 0; k < AUDIT_INSERT_SIZES; k++) {
		len = strlen(audit_insert_sql);
		memcpy(sql, audit_insert_sql, len);
		for (i = 0; i < 1u << k; i++) {
			if (i > 0)
				sql[len++] = ',';
			memcpy(sql + len, audit_insert_row,
			    sizeof(audit_insert_row) - 1);
			len += sizeof(audit_insert_row) - 1;
		}
		sql[len] = '\0';
		if (audit_db_prepare_one(a, sql, &a->f.insert[k]) == -1)
			return -1;
	}
	return 0;
}

/* Open (creating if missing) the configured path; a->f.db NULL on error. */
static int
audit_db_open(struct audit *a)
{
	const char *mode;
	sqlite3_stmt *st = NULL;
	struct stat sb;
	char *err = NULL;
	int fd;

	a->last_open_try = (int64_t)util_mono_ms();
	if (stat(a->path, &sb) == -1) {
		if (errno != ENOENT) {
			log_event(LOG_WARN, "audit_open_failed", "path=%s err=%s",
			    a->path, strerror(errno));
			return -1;
		}
		audit_db_remove_stale(a);
		/*
		 * Created here rather than by SQLite so that its mode is 0640
		 * or stricter; SQLite gives -wal and -shm the mode of the
		 * database.  Only when missing: closing a descriptor of a
		 * file the writer has open would drop its POSIX locks.
		 */
		fd = open(a->path, O_WRONLY | O_CREAT | O_CLOEXEC, 0640);
		if (fd == -1) {
			log_event(LOG_WARN, "audit_open_failed", "path=%s err=%s",
			    a->path, strerror(errno));
			return -1;
		}
		close(fd);
	}
	/*
	 * No mutex on the connection: only the writer thread uses it (opened
	 * before it starts, closed after it is joined), and SQLite's locking
	 * cost about thirty lock/unlock pairs per row.
	 */
	if (sqlite3_open_v2(a->path, &a->f.db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
		goto dberr;
	if (stat(a->path, &sb) == -1) {
		log_event(LOG_WARN, "audit_open_failed", "path=%s err=%s",
		    a->path, strerror(errno));
		goto fail;
	}
	a->f.dev = sb.st_dev;
	a->f.ino = sb.st_ino;
	sqlite3_busy_timeout(a->f.db, AUDIT_BUSY_TIMEOUT_MS);

	/* journal_mode answers with the mode it ended up in. */
	if (sqlite3_prepare_v2(a->f.db, "PRAGMA journal_mode=WAL", -1, &st,
	    NULL) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW)
		goto dberr;
	mode = (const char *)sqlite3_column_text(st, 0);
	if (mode == NULL || strcmp(mode, "wal") != 0) {
		log_event(LOG_WARN, "audit_open_failed", "path=%s err=%s "
		    "journal_mode=%s", a->path, "cannot use WAL",
		    mode != NULL ? mode : "unknown");
		goto fail;
	}
	sqlite3_finalize(st);
	st = NULL;

	/*
	 * secure_delete (Debian's default) zeroes what retention deletes and
	 * what page splits move; the rows hold no secrets (they are masked
	 * before they are queued), so the writer does not pay for it.
	 */
	if (sqlite3_exec(a->f.db, "PRAGMA synchronous=NORMAL; "
	    "PRAGMA secure_delete=OFF", NULL, NULL, &err) != SQLITE_OK ||
	    sqlite3_exec(a->f.db, audit_schema_sql, NULL, NULL, &err) !=
	    SQLITE_OK || audit_db_migrate(a) == -1 ||
	    sqlite3_exec(a->f.db, audit_views_sql, NULL, NULL, &err) !=
	    SQLITE_OK)
		goto dberr;
	if (audit_db_prepare(a) == -1)
		goto dberr;
	audit_db_seed_ids(a);
	a->next_prune = 0;
	return 0;

dberr:
	log_event(LOG_WARN, "audit_open_failed", "path=%s err=%s", a->path,
	    err != NULL ? err : a->f.db != NULL ? sqlite3_errmsg(a->f.db) :
	    "out of memory");
fail:
	sqlite3_free(err);
	sqlite3_finalize(st);
	audit_db_close(a, &a->f);
	return -1;
}

/*
 * SIGHUP with the path still naming the open file: open it again before
 * letting the old connection go, so that a reopen that fails (sluice runs
 * as --user, the directory is root's) keeps the file that works.
 */
static void
audit_db_reopen_same(struct audit *a)
{
	struct audit_file old = a->f;

	memset(&a->f, 0, sizeof(a->f));
	if (audit_db_open(a) == -1) {
		log_event(LOG_WARN, "audit_reopen_failed", "path=%s "
		    "kept=open_file", a->path);
		a->f = old;
		return;
	}
	audit_db_close(a, &old);
}

/*
 * Is the configured path still the file we write?  A rename or unlink
 * (rotation, an operator) would otherwise send every row into a file
 * nobody reads.  The stat is cheap next to a transaction.  A path that
 * cannot be looked at (EACCES once root is dropped) is not one that moved.
 */
static void
audit_db_check(struct audit *a)
{
	struct stat sb;
	int hup = atomic_exchange(&a->reopen, 0), gone;

	if (a->f.db == NULL) {
		if (hup || (int64_t)util_mono_ms() - a->last_open_try >=
		    AUDIT_REOPEN_MS)
			audit_db_open(a);
		return;
	}
	if (stat(a->path, &sb) == -1)
		gone = errno == ENOENT || errno == ENOTDIR;
	else
		gone = sb.st_dev != a->f.dev || sb.st_ino != a->f.ino;
	if (gone) {
		log_event(LOG_WARN, "audit_file_moved", "path=%s "
		    "action=opening_new_file", a->path);
		/* Closed first: the old file's -wal has the path's name. */
		audit_db_close(a, &a->f);
		audit_db_open(a);
	} else if (hup) {
		log_event(LOG_INFO, "audit_reopen", "path=%s reason=SIGHUP",
		    a->path);
		audit_db_reopen_same(a);
	}
}

/* ---- writing --------------------------------------------------------- */

/* Keep the longest write transaction, for the log and the tests. */
static void
audit_note_txn(struct audit *a, int64_t begin_us)
{
	int64_t us = (int64_t)(util_mono_ms() * 1000) - begin_us;

	if (us > atomic_load(&a->max_txn_us))
		atomic_store(&a->max_txn_us, us);
}

/*
 * Insert a batch's rows: connections as they come, requests gathered into
 * statements of up to AUDIT_ROWS_MAX rows, in the order they were queued.
 */
static int
audit_insert_batch(struct audit *a, struct audit_entry **batch, unsigned n)
{
	struct audit_record *rows[AUDIT_ROWS_MAX];
	unsigned i, nrows = 0;

	for (i = 0; i < n; i++) {
		if (batch[i]->kind == AUDIT_CONNECTION) {
			if (audit_insert_conn(a, &batch[i]->conn) == -1)
				return -1;
			continue;
		}
		rows[nrows++] = &batch[i]->req;
		if (nrows == AUDIT_ROWS_MAX) {
			if (audit_insert_requests(a, rows, nrows) == -1)
				return -1;
			nrows = 0;
		}
	}
	return audit_insert_requests(a, rows, nrows);
}

/* SQLITE_OK, or the error that stopped the transaction. */
static int
audit_write_once(struct audit *a, struct audit_entry **batch, unsigned n,
    uint64_t delta[])
{
	int64_t begin;
	int rc;

	if (a->f.db == NULL)
		return SQLITE_CANTOPEN;
	if (audit_step(a->f.begin) == -1)
		goto fail;
	begin = (int64_t)(util_mono_ms() * 1000);
	if (audit_insert_batch(a, batch, n) == -1 ||
	    audit_insert_gaps(a, delta) == -1 ||
	    audit_step(a->f.commit) == -1)
		goto fail;
	audit_note_txn(a, begin);
	return SQLITE_OK;
fail:
	/* Before the rollback, which replaces the error. */
	rc = sqlite3_errcode(a->f.db);
	if (!sqlite3_get_autocommit(a->f.db))
		sqlite3_exec(a->f.db, "ROLLBACK", NULL, NULL, NULL);
	return rc != SQLITE_OK ? rc : SQLITE_ERROR;
}

/*
 * Commit a batch, and the gaps rows owed, in one transaction.  A lock held
 * elsewhere (someone's BEGIN IMMEDIATE) or a full disk may pass: keep
 * trying for AUDIT_KEEP_MS, then count the batch as lost, so that a wedged
 * database holds neither the queue nor shutdown for long.
 */
static void
audit_write(struct audit *a, struct audit_entry **batch, unsigned n)
{
	uint64_t delta[AUDIT_NSLOTS], nconn = 0;
	int64_t start = (int64_t)util_mono_ms();
	enum audit_cause cause;
	int rc, i;
	unsigned k;

	for (;;) {
		if ((rc = audit_write_once(a, batch, n, delta)) == SQLITE_OK) {
			for (i = 0; i < AUDIT_NSLOTS; i++)
				a->gapped[i] += delta[i];
			atomic_store(&a->written, atomic_load(&a->written) +
			    n);
			break;
		}
		if ((int64_t)util_mono_ms() - start >= AUDIT_KEEP_MS) {
			log_event(LOG_WARN, "audit_write_failed", "path=%s "
			    "records=%u err=%s", a->path, n,
			    sqlite3_errstr(rc));
			cause = rc == SQLITE_BUSY || rc == SQLITE_LOCKED ?
			    AUDIT_LOCKED : AUDIT_WRITE_FAILED;
			for (k = 0; k < n; k++)
				nconn += batch[k]->kind == AUDIT_CONNECTION;
			audit_drop(a, AUDIT_REQUEST, n - nconn, cause);
			audit_drop(a, AUDIT_CONNECTION, nconn, cause);
			break;
		}
		audit_sleep_ms(AUDIT_RETRY_SLEEP_MS);
		audit_db_check(a);
	}
	audit_entries_release(a, batch, n);
}

/*
 * Delete up to AUDIT_PRUNE_ROWS rows older than the retention from each
 * table, one short transaction each, between batches of inserts.  Rows
 * left over are taken after the next batch; once none are, the writer
 * looks again a minute later.
 */
static void
audit_prune(struct audit *a)
{
	sqlite3_stmt *st;
	char cutoff[64];
	int64_t now = (int64_t)util_mono_ms(), begin;
	int more = 0;
	size_t i;

	if (a->retention_days <= 0 || a->f.db == NULL || now < a->next_prune)
		return;
	audit_format_ts(util_wall_ms() -
	    (int64_t)a->retention_days * 86400 * 1000, cutoff, sizeof(cutoff));
	for (i = 0; i < sizeof(audit_prune_sql) / sizeof(*audit_prune_sql);
	    i++) {
		if (sqlite3_prepare_v2(a->f.db, audit_prune_sql[i], -1, &st,
		    NULL) != SQLITE_OK) {
			log_event(LOG_WARN, "audit_prune_failed",
			    "path=%s err=%s", a->path,
			    sqlite3_errmsg(a->f.db));
			break;
		}
		sqlite3_bind_text(st, 1, cutoff, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 2, AUDIT_PRUNE_ROWS);
		begin = (int64_t)(util_mono_ms() * 1000);
		if (sqlite3_step(st) == SQLITE_DONE) {
			audit_note_txn(a, begin);
			if (sqlite3_changes(a->f.db) == AUDIT_PRUNE_ROWS)
				more = 1;
		} else
			log_event(LOG_WARN, "audit_prune_failed",
			    "path=%s err=%s", a->path,
			    sqlite3_errmsg(a->f.db));
		sqlite3_finalize(st);
	}
	a->next_prune = more ? 0 : now + AUDIT_PRUNE_EVERY_MS;
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

		audit_db_check(a);
		if (n > 0 || audit_gaps_pending(a))
			audit_write(a, batch, n);
		a->spare = batch;
		/* Stop only once a pass has found the queue empty. */
		if (stopping && n == 0)
			break;
		audit_prune(a);
		pthread_mutex_lock(&a->mtx);
	}
	return NULL;
}

struct audit *
audit_open(const char *path, unsigned capacity, int retention_days)
{
	struct audit *a;
	pthread_condattr_t ca;

	if (capacity == 0) {
		log_event(LOG_WARN, "audit_init_failed", "err=%s",
		    "queue capacity must be at least 1");
		return NULL;
	}
	if ((a = calloc(1, sizeof(*a))) == NULL)
		goto nomem;
	a->cap = capacity;
	a->retention_days = retention_days;
	atomic_store(&a->next_conn_id, 1);
	if ((a->path = strdup(path)) == NULL ||
	    (a->pending = calloc(capacity, sizeof(*a->pending))) == NULL ||
	    (a->spare = calloc(capacity, sizeof(*a->spare))) == NULL ||
	    (a->pool = calloc(AUDIT_POOL_MAX, sizeof(*a->pool))) == NULL)
		goto nomem;
	/* At start-up a file that does not work is an error, not a gap. */
	if (audit_db_open(a) == -1)
		goto fail;

	pthread_mutex_init(&a->mtx, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&a->cond, &ca);
	pthread_condattr_destroy(&ca);
	if ((errno = pthread_create(&a->thread, NULL, audit_writer_main,
	    a)) != 0) {
		log_event(LOG_WARN, "audit_init_failed", "what=thread err=%s",
		    strerror(errno));
		pthread_cond_destroy(&a->cond);
		pthread_mutex_destroy(&a->mtx);
		goto fail;
	}
	return a;

nomem:
	log_event(LOG_WARN, "audit_init_failed", "err=%s",
	    "out of memory");
fail:
	if (a != NULL) {
		audit_db_close(a, &a->f);
		free(a->pending);
		free(a->spare);
		free(a->pool);
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

	log_event(LOG_INFO, "audit_closed", "longest_txn_ms=%.1f",
	    audit_max_txn_ms(a));
	audit_db_close(a, &a->f);
	pthread_cond_destroy(&a->cond);
	pthread_mutex_destroy(&a->mtx);
	free(a->pending);
	free(a->spare);
	while (a->npool > 0)
		free(a->pool[--a->npool]);
	free(a->pool);
	free(a->path);
	free(a);
}

uint64_t
audit_dropped(struct audit *a)
{
	uint64_t total = 0;
	int i;

	for (i = 0; i < AUDIT_NSLOTS; i++)
		total += atomic_load(&a->lost[i]);
	return total;
}

uint64_t
audit_written(struct audit *a)
{
	return atomic_load(&a->written);
}

unsigned
audit_queued(struct audit *a)
{
	unsigned n;

	pthread_mutex_lock(&a->mtx);
	n = a->npending;
	pthread_mutex_unlock(&a->mtx);
	return n;
}

double
audit_max_txn_ms(struct audit *a)
{
	return atomic_load(&a->max_txn_us) / 1000.0;
}
