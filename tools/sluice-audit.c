/*
 * sluice-audit.c - read sluice's audit databases: tail, summary, show, and
 * suggest rules from what --report-only let through.
 *
 *   sluice-audit [--db FILE]... tail|summary|suggest|show ID [--since DURATION]
 *                [--host H] [--decision D] [--client IP] [--rule N] [--json]
 *
 * Every --db file is ATTACHed read-only (URI mode=ro) to one in-memory
 * connection, which itself is opened read-only, so the files are read as
 * one with UNION ALL and nothing here can write to them.  sluice writes in
 * WAL mode, so these reads never block it; a busy timeout covers the rare
 * moment a checkpoint holds a lock.  Each file is told apart by its
 * requests.gateway column when it has one, else by its name as given.
 *
 * The filters are auditfilter.c's, run inside SQLite as the function
 * sluice_keep(), so tail and summary agree on what matches.
 * Columns a file may lack (gateway, conn_id, the connections table, being
 * added by newer versions of sluice) are looked up once per attach; a file
 * without them still reads, with less to show.
 *
 * tail prints the last 10 rows (or every row since --since), then polls
 * every 0.5 s for rows with a higher id, in each file, until SIGINT or
 * SIGTERM.  It attaches the files for each poll only, so it never keeps
 * one open; a file replaced at its path (rotated, or recreated by sluice
 * after a delete) is read from its first row.
 *
 * Exit status: 0 done, 1 a database could not be read, 2 usage.
 */
#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "auditfilter.h"
#include "auditsuggest.h"
#include "json.h"

#define SLUICE_AUDIT_DEFAULT_DB	"/var/lib/sluice/audit.db"
#define SLUICE_AUDIT_MAX_DB	10	/* SQLite's default attach limit */
#define SLUICE_AUDIT_BUSY_MS	2000
#define SLUICE_AUDIT_POLL_NS	500000000L
#define SLUICE_AUDIT_TAIL_ROWS	10

struct sluice_audit_db {
	const char		*path;
	char			 schema[8];	/* "d0", "d1", ... */
	int			 has_gateway;	/* requests.gateway */
	int			 has_conn_id;	/* requests.conn_id */
	int			 has_connections;
	dev_t			 dev;
	ino_t			 ino;
	sqlite3_int64		 last_id;	/* tail: printed up to here */
	int			 missing;	/* tail: said it is gone */
};

struct sluice_audit {
	sqlite3			*db;
	struct sluice_audit_db	 dbs[SLUICE_AUDIT_MAX_DB];
	int			 ndb;
	struct auditfilter	 filter;
	char			 since[32];	/* "" for all time */
	int			 json;
	int			 gateways;	/* tail's text has the column;
						   fixed when its header is */
};

/* The columns tail prints, in this order; see sluice_audit_tail_line(). */
enum {
	COL_GATEWAY, COL_ID, COL_TS, COL_CLIENT, COL_HOST, COL_SNI,
	COL_METHOD, COL_PATH, COL_STATUS, COL_DECISION, COL_RULE, COL_MS,
	COL_ERROR,
};

static const char sluice_audit_usage[] =
    "usage: sluice-audit [--db FILE]... tail|summary|suggest|show ID\n"
    "                    [--since DURATION] [--host H] [--decision D]\n"
    "                    [--client IP] [--rule N] [--json]\n"
    "  --db FILE       an audit database (repeatable; default $SLUICE_AUDIT,"
    "\n                  then " SLUICE_AUDIT_DEFAULT_DB ")\n"
    "  --since D       rows of the last D: 30s, 15m, 1h, 7d\n"
    "  --host H        this host, or a glob with '*' (*.example.com)\n"
    "  --decision D    forwarded, denied, rate_limited, cached, passthrough,"
    "\n                  error, would_deny or revalidated\n"
    "  --client IP     requests from this address\n"
    "  --rule N        requests decided by rule N\n"
    "  --json          JSON: one object per row (tail, show), an array "
    "(summary,\n                  suggest)\n"
    "suggest prints INSERT INTO rules statements for the would_deny rows\n"
    "(--report-only), grouped by host and port, for review.\n";

static volatile sig_atomic_t sluice_audit_stop;

static void __attribute__((format(printf, 1, 2), noreturn))
sluice_audit_usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("sluice-audit: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (see --help)\n", stderr);
	exit(2);
}

static void __attribute__((format(printf, 1, 2)))
sluice_audit_warn(const char *fmt, ...)
{
	va_list ap;

	fputs("sluice-audit: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void
sluice_audit_on_signal(int sig)
{
	sluice_audit_stop = 1;
}

/* --- output ------------------------------------------------------------ */

static void
sluice_audit_json_string(const char *s)
{
	size_t size = strlen(s) * JSON_ESCAPE_MAX + 1;
	char *buf;

	if ((buf = malloc(size)) == NULL) {
		sluice_audit_warn("out of memory");
		exit(1);
	}
	json_escape(buf, size, s);
	printf("\"%s\"", buf);
	free(buf);
}

static void
sluice_audit_json_value(sqlite3_stmt *st, int i)
{
	double d;

	switch (sqlite3_column_type(st, i)) {
	case SQLITE_INTEGER:
		printf("%lld", (long long)sqlite3_column_int64(st, i));
		break;
	case SQLITE_FLOAT:
		d = sqlite3_column_double(st, i);
		if (isfinite(d))
			printf("%.15g", d);
		else
			fputs("null", stdout);
		break;
	case SQLITE_TEXT:
		sluice_audit_json_string((const char *)
		    sqlite3_column_text(st, i));
		break;
	default:	/* NULL, and blobs, which the audit never holds */
		fputs("null", stdout);
		break;
	}
}

/*
 * Whether show leaves out column i: a file's own gateway column, which show
 * already has first as "gateway" (coalesced with the file's name).
 */
static int
sluice_audit_dup_gateway(sqlite3_stmt *st, int i)
{
	return i > 0 && strcmp(sqlite3_column_name(st, 0), "gateway") == 0 &&
	    strcmp(sqlite3_column_name(st, i), "gateway") == 0;
}

/* The current row as one JSON object, keyed by column name. */
static void
sluice_audit_json_row(sqlite3_stmt *st)
{
	int i, n = sqlite3_column_count(st);

	putchar('{');
	for (i = 0; i < n; i++) {
		if (sluice_audit_dup_gateway(st, i))
			continue;
		if (i > 0)
			putchar(',');
		sluice_audit_json_string(sqlite3_column_name(st, i));
		putchar(':');
		sluice_audit_json_value(st, i);
	}
	putchar('}');
}

/* A column as text, "-" for NULL. */
static const char *
sluice_audit_text(sqlite3_stmt *st, int i)
{
	const unsigned char *s = sqlite3_column_text(st, i);

	return s != NULL && s[0] != '\0' ? (const char *)s : "-";
}

/*
 * Prints s padded to width (right-aligned if width < 0), with control
 * characters as '?': the values come from the network, and an escape
 * sequence in a Host must not reach the operator's terminal.
 */
static void
sluice_audit_put(const char *s, int width)
{
	int n = (int)strlen(s), pad = abs(width) - n;

	for (; width < 0 && pad > 0; pad--)
		putchar(' ');
	for (; *s != '\0'; s++)
		putchar((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s);
	for (; pad > 0; pad--)
		putchar(' ');
}

/* Prints column i of st as sluice_audit_put() does, then a space. */
static void
sluice_audit_cell(sqlite3_stmt *st, int i, int width)
{
	sluice_audit_put(sluice_audit_text(st, i), width);
	putchar(' ');
}

static void
sluice_audit_tail_header(int gateways)
{
	printf("%-24s ", "TS");
	if (gateways)
		printf("%-16s ", "GATEWAY");
	printf("%-22s %-12s %6s %5s %9s %-7s %-24s %s\n", "CLIENT", "DECISION",
	    "STATUS", "RULE", "MS", "METHOD", "HOST", "PATH");
}

static void
sluice_audit_tail_line(sqlite3_stmt *st, int gateways)
{
	char ms[32] = "-";

	if (sqlite3_column_type(st, COL_MS) != SQLITE_NULL)
		snprintf(ms, sizeof(ms), "%.1f",
		    sqlite3_column_double(st, COL_MS));
	sluice_audit_cell(st, COL_TS, 24);
	if (gateways)
		sluice_audit_cell(st, COL_GATEWAY, 16);
	sluice_audit_cell(st, COL_CLIENT, 22);
	sluice_audit_cell(st, COL_DECISION, 12);
	sluice_audit_cell(st, COL_STATUS, -6);
	sluice_audit_cell(st, COL_RULE, -5);
	printf("%9s ", ms);
	sluice_audit_cell(st, COL_METHOD, 7);
	sluice_audit_cell(st, sqlite3_column_type(st, COL_HOST) !=
	    SQLITE_NULL ? COL_HOST : COL_SNI, 24);
	sluice_audit_put(sluice_audit_text(st, COL_PATH), 0);
	if (sqlite3_column_type(st, COL_ERROR) != SQLITE_NULL) {
		fputs("  error: ", stdout);
		sluice_audit_put(sluice_audit_text(st, COL_ERROR), 0);
	}
	putchar('\n');
}

/* --- databases --------------------------------------------------------- */

/* The filter, as SQL: sluice_keep(host, decision, client, rule_id). */
static void
sluice_audit_keep(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const struct auditfilter *f = sqlite3_user_data(ctx);
	long long rule;

	rule = sqlite3_value_int64(argv[3]);
	sqlite3_result_int(ctx, auditfilter_match(f,
	    (const char *)sqlite3_value_text(argv[0]),
	    (const char *)sqlite3_value_text(argv[1]),
	    (const char *)sqlite3_value_text(argv[2]),
	    sqlite3_value_type(argv[3]) == SQLITE_NULL ? NULL : &rule));
}

/* 1 if the query with one text parameter returns a row, 0 if not, -1. */
static int
sluice_audit_exists(struct sluice_audit *sa, const char *sql, const char *arg)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(sa->db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/*
 * Which of the optional columns and tables the attached file d has; -2
 * for a file tail saw gone that is back without its tables yet.
 */
static int
sluice_audit_inspect(struct sluice_audit *sa, struct sluice_audit_db *d)
{
	char *col = NULL, *tab = NULL;
	int req, rc = -1;

	col = sqlite3_mprintf("SELECT 1 FROM pragma_table_info('requests', "
	    "'%s') WHERE name = ?", d->schema);
	tab = sqlite3_mprintf("SELECT 1 FROM \"%w\".sqlite_master WHERE "
	    "type = 'table' AND name = ?", d->schema);
	if (col == NULL || tab == NULL)
		goto fail;
	/* tail: a file that came back is sluice creating it; wait for it. */
	if ((req = sluice_audit_exists(sa, tab, "requests")) == 0 &&
	    d->missing) {
		rc = -2;
		goto fail;
	}
	if (req != 1) {
		sluice_audit_warn("%s: %s", d->path, req == 0 ?
		    "no requests table: not a sluice audit database" :
		    sqlite3_errmsg(sa->db));
		goto fail;
	}
	if ((d->has_gateway = sluice_audit_exists(sa, col, "gateway")) == -1 ||
	    (d->has_conn_id = sluice_audit_exists(sa, col, "conn_id")) == -1 ||
	    (d->has_connections = sluice_audit_exists(sa, tab,
	    "connections")) == -1) {
		sluice_audit_warn("%s: %s", d->path, sqlite3_errmsg(sa->db));
		goto fail;
	}
	rc = 0;
 fail:
	sqlite3_free(col);
	sqlite3_free(tab);
	return rc;
}

/* "file:PATH?mode=ro" with PATH percent-encoded, as URI filenames need. */
static char *
sluice_audit_uri(const char *path)
{
	static const char keep[] = "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~/";
	sqlite3_str *s = sqlite3_str_new(NULL);
	const unsigned char *p;

	sqlite3_str_appendall(s, "file:");
	for (p = (const unsigned char *)path; *p != '\0'; p++) {
		if (strchr(keep, *p) != NULL)
			sqlite3_str_appendchar(s, 1, (char)*p);
		else
			sqlite3_str_appendf(s, "%%%02X", *p);
	}
	sqlite3_str_appendall(s, "?mode=ro");
	return sqlite3_str_finish(s);
}

/* Fails harmlessly when d is not attached. */
static void
sluice_audit_detach(struct sluice_audit *sa, const struct sluice_audit_db *d)
{
	char *sql;

	if ((sql = sqlite3_mprintf("DETACH \"%w\"", d->schema)) != NULL)
		(void)sqlite3_exec(sa->db, sql, NULL, NULL, NULL);
	sqlite3_free(sql);
}

/*
 * Attaches d's file as d->schema and inspects it.  A file that cannot be
 * read as an audit database (perhaps sluice has only just created it) is
 * detached again, so that a later call can retry.
 */
static int
sluice_audit_attach(struct sluice_audit *sa, struct sluice_audit_db *d)
{
	sqlite3_stmt *st = NULL;
	struct stat sb;
	char *uri = NULL;
	int rc;

	/* SQLite's "unable to open database file" would not say which. */
	if (stat(d->path, &sb) == -1) {
		sluice_audit_warn("%s: %s", d->path, strerror(errno));
		return -1;
	}
	if ((uri = sluice_audit_uri(d->path)) == NULL ||
	    sqlite3_prepare_v2(sa->db, "ATTACH ? AS ?", -1, &st, NULL) !=
	    SQLITE_OK)
		goto fail;
	sqlite3_bind_text(st, 1, uri, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, d->schema, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	sqlite3_free(uri);
	if (rc != SQLITE_DONE) {
		sluice_audit_warn("%s: %s", d->path, sqlite3_errmsg(sa->db));
		return -1;
	}
	if ((rc = sluice_audit_inspect(sa, d)) != 0) {
		sluice_audit_detach(sa, d);
		return rc;
	}
	d->dev = sb.st_dev;
	d->ino = sb.st_ino;
	return 0;
 fail:
	sluice_audit_warn("%s: %s", d->path, sqlite3_errmsg(sa->db));
	sqlite3_finalize(st);
	sqlite3_free(uri);
	return -1;
}

static int
sluice_audit_open(struct sluice_audit *sa)
{
	int i;

	if (sqlite3_open_v2(":memory:", &sa->db, SQLITE_OPEN_READONLY |
	    SQLITE_OPEN_URI, NULL) != SQLITE_OK) {
		sluice_audit_warn("sqlite: %s", sqlite3_errmsg(sa->db));
		return -1;
	}
	sqlite3_busy_timeout(sa->db, SLUICE_AUDIT_BUSY_MS);
	if (sqlite3_create_function(sa->db, "sluice_keep", 4, SQLITE_UTF8 |
	    SQLITE_DETERMINISTIC, &sa->filter, sluice_audit_keep, NULL,
	    NULL) != SQLITE_OK) {
		sluice_audit_warn("sqlite: %s", sqlite3_errmsg(sa->db));
		return -1;
	}
	for (i = 0; i < sa->ndb; i++)
		if (sluice_audit_attach(sa, &sa->dbs[i]) != 0)
			return -1;
	return 0;
}

/*
 * Appends one file's part of a UNION ALL: "SELECT [gateway,] cols FROM its
 * requests WHERE" the filter, --since and extra (SQL, may be NULL).
 */
static void
sluice_audit_select(struct sluice_audit *sa, sqlite3_str *s,
    const struct sluice_audit_db *d, int gateway, const char *cols,
    const char *extra)
{
	sqlite3_str_appendall(s, "SELECT ");
	if (gateway && d->has_gateway)
		sqlite3_str_appendf(s, "COALESCE(gateway, %Q) AS gateway, ",
		    d->path);
	else if (gateway)
		sqlite3_str_appendf(s, "%Q AS gateway, ", d->path);
	sqlite3_str_appendf(s, "%s FROM \"%w\".requests WHERE sluice_keep("
	    "COALESCE(host, sni), decision, client, rule_id)", cols,
	    d->schema);
	if (sa->since[0] != '\0')
		sqlite3_str_appendf(s, " AND ts >= %Q", sa->since);
	if (extra != NULL)
		sqlite3_str_appendf(s, " AND %s", extra);
}

static sqlite3_stmt *
sluice_audit_prepare(struct sluice_audit *sa, sqlite3_str *s)
{
	sqlite3_stmt *st = NULL;
	char *sql;

	if ((sql = sqlite3_str_finish(s)) == NULL) {
		sluice_audit_warn("out of memory");
		return NULL;
	}
	if (sqlite3_prepare_v2(sa->db, sql, -1, &st, NULL) != SQLITE_OK)
		sluice_audit_warn("%s", sqlite3_errmsg(sa->db));
	sqlite3_free(sql);
	return st;
}

/* --- tail -------------------------------------------------------------- */

/* After the gateway: see the COL_ enum. */
static const char sluice_audit_tail_cols[] =
    "id, ts, client, host, sni, method, path, status, decision, rule_id, "
    "duration_ms, error";

/* Prints every row of the query; -1 if it failed. */
static int
sluice_audit_tail_print(struct sluice_audit *sa, sqlite3_stmt *st)
{
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (sa->json) {
			sluice_audit_json_row(st);
			putchar('\n');
		} else {
			sluice_audit_tail_line(st, sa->gateways);
		}
	}
	fflush(stdout);
	if (rc != SQLITE_DONE) {
		sluice_audit_warn("%s", sqlite3_errmsg(sa->db));
		return -1;
	}
	return 0;
}

/* The highest id in d's requests, in *id; -1 on error. */
static int
sluice_audit_max_id(struct sluice_audit *sa, const struct sluice_audit_db *d,
    sqlite3_int64 *id)
{
	sqlite3_stmt *st;
	char *sql;
	int rc;

	if ((sql = sqlite3_mprintf("SELECT COALESCE(max(id), 0) FROM "
	    "\"%w\".requests", d->schema)) == NULL)
		return -1;
	rc = sqlite3_prepare_v2(sa->db, sql, -1, &st, NULL);
	sqlite3_free(sql);
	if (rc != SQLITE_OK)
		goto fail;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		*id = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW)
		return 0;
 fail:
	sluice_audit_warn("%s: %s", d->path, sqlite3_errmsg(sa->db));
	return -1;
}

/*
 * The rows after each file's last_id up to its highest id now, merged by
 * time; then last_id moves up.  Bounding by the highest id read first
 * makes a row committed meanwhile wait for the next poll, not vanish.
 * A file that is missing for the moment is left out.
 */
static int
sluice_audit_tail_poll(struct sluice_audit *sa)
{
	sqlite3_int64 hi[SLUICE_AUDIT_MAX_DB];
	sqlite3_str *s = sqlite3_str_new(sa->db);
	sqlite3_stmt *st;
	char range[80];
	int i, rc, n = 0;

	for (i = 0; i < sa->ndb; i++) {
		if (sa->dbs[i].missing)
			continue;
		if (sluice_audit_max_id(sa, &sa->dbs[i], &hi[i]) == -1) {
			sqlite3_free(sqlite3_str_finish(s));
			return -1;
		}
		snprintf(range, sizeof(range), "id > %lld AND id <= %lld",
		    (long long)sa->dbs[i].last_id, (long long)hi[i]);
		if (n++ > 0)
			sqlite3_str_appendall(s, " UNION ALL ");
		sluice_audit_select(sa, s, &sa->dbs[i], 1,
		    sluice_audit_tail_cols, range);
	}
	if (n == 0) {
		sqlite3_free(sqlite3_str_finish(s));
		return 0;
	}
	sqlite3_str_appendall(s, " ORDER BY ts, gateway, id");
	if ((st = sluice_audit_prepare(sa, s)) == NULL)
		return -1;
	rc = sluice_audit_tail_print(sa, st);
	sqlite3_finalize(st);
	if (rc == 0)
		for (i = 0; i < sa->ndb; i++)
			if (!sa->dbs[i].missing)
				sa->dbs[i].last_id = hi[i];
	return rc;
}

/*
 * The last rows before following: every row since --since, or the last 10
 * (the last 10 of each file, then the last 10 of those by time).
 */
static int
sluice_audit_tail_start(struct sluice_audit *sa)
{
	sqlite3_str *s;
	sqlite3_stmt *st;
	char range[40];
	int i, rc;

	if (sa->since[0] != '\0')
		return sluice_audit_tail_poll(sa);
	for (i = 0; i < sa->ndb; i++)
		if (sluice_audit_max_id(sa, &sa->dbs[i],
		    &sa->dbs[i].last_id) == -1)
			return -1;
	s = sqlite3_str_new(sa->db);
	sqlite3_str_appendall(s, "SELECT * FROM (SELECT * FROM (");
	for (i = 0; i < sa->ndb; i++) {
		if (i > 0)
			sqlite3_str_appendall(s, " UNION ALL ");
		snprintf(range, sizeof(range), "id <= %lld",
		    (long long)sa->dbs[i].last_id);
		sqlite3_str_appendall(s, "SELECT * FROM (");
		sluice_audit_select(sa, s, &sa->dbs[i], 1,
		    sluice_audit_tail_cols, range);
		sqlite3_str_appendf(s, " ORDER BY id DESC LIMIT %d)",
		    SLUICE_AUDIT_TAIL_ROWS);
	}
	sqlite3_str_appendf(s, ") ORDER BY ts DESC, gateway DESC, id DESC "
	    "LIMIT %d) ORDER BY ts, gateway, id", SLUICE_AUDIT_TAIL_ROWS);
	if ((st = sluice_audit_prepare(sa, s)) == NULL)
		return -1;
	rc = sluice_audit_tail_print(sa, st);
	sqlite3_finalize(st);
	return rc;
}

static void
sluice_audit_detach_all(struct sluice_audit *sa)
{
	int i;

	for (i = 0; i < sa->ndb; i++)
		sluice_audit_detach(sa, &sa->dbs[i]);
}

/*
 * Between polls tail holds no file open: a reader that keeps audit.db open
 * keeps its -wal and -shm alive after sluice closes it, and a rotated
 * file's -wal and -shm left at the path break the next open there.  So
 * each poll attaches every file again; one found with another inode than
 * before (rotated, recreated by sluice) is read from its first row, and
 * one that is gone for the moment is marked missing and skipped.
 */
static int
sluice_audit_tail_attach(struct sluice_audit *sa)
{
	struct sluice_audit_db *d;
	dev_t dev;
	ino_t ino;
	int i, rc;

	for (i = 0; i < sa->ndb; i++) {
		d = &sa->dbs[i];
		dev = d->dev;
		ino = d->ino;
		/* Gone for a moment while it is rotated: said once. */
		if (access(d->path, F_OK) == -1 && errno == ENOENT) {
			if (!d->missing)
				sluice_audit_warn("%s: gone; waiting for it",
				    d->path);
			d->missing = 1;
			continue;
		}
		if ((rc = sluice_audit_attach(sa, d)) == -2)
			continue;	/* back, but without its tables yet */
		if (rc == -1) {
			sluice_audit_detach_all(sa);
			return -1;
		}
		d->missing = 0;
		if (d->dev != dev || d->ino != ino)
			d->last_id = 0;
	}
	return 0;
}

static int
sluice_audit_tail(struct sluice_audit *sa)
{
	struct timespec poll = { 0, SLUICE_AUDIT_POLL_NS };
	struct sigaction act;

	memset(&act, 0, sizeof(act));
	act.sa_handler = sluice_audit_on_signal;
	sigemptyset(&act.sa_mask);
	sigaction(SIGINT, &act, NULL);
	sigaction(SIGTERM, &act, NULL);

	sa->gateways = sa->ndb > 1;
	if (!sa->json)
		sluice_audit_tail_header(sa->gateways);
	if (sluice_audit_tail_start(sa) == -1)
		return -1;
	sluice_audit_detach_all(sa);
	/* A poll that fails (a lock held past the busy timeout, a file
	 * being replaced) is reported, and the next one tries again. */
	while (!sluice_audit_stop) {
		nanosleep(&poll, NULL);
		if (sluice_audit_stop || sluice_audit_tail_attach(sa) == -1)
			continue;
		(void)sluice_audit_tail_poll(sa);
		sluice_audit_detach_all(sa);
	}
	return 0;
}

/* --- summary ----------------------------------------------------------- */

/*
 * Counts by host, decision and status; with several files also by gateway
 * (first column, and a "gateway" key in JSON), so that each gateway's
 * traffic is told apart.  One file is one gateway: no column for it.
 */
static int
sluice_audit_summary(struct sluice_audit *sa)
{
	sqlite3_str *s = sqlite3_str_new(sa->db);
	int i, rc = SQLITE_DONE, n, w[3] = { 7, 4, 8 }, c, gw = sa->ndb > 1;
	const char *keys = gw ? "gateway, host, decision, status" :
	    "host, decision, status";
	sqlite3_stmt *st;

	sqlite3_str_appendf(s, "SELECT %s, count(*) AS count FROM (", keys);
	for (i = 0; i < sa->ndb; i++) {
		if (i > 0)
			sqlite3_str_appendall(s, " UNION ALL ");
		sluice_audit_select(sa, s, &sa->dbs[i], gw, "COALESCE(host, "
		    "sni) AS host, decision, status", NULL);
	}
	sqlite3_str_appendf(s, ") GROUP BY %s ORDER BY %scount DESC, host, "
	    "decision, status", keys, gw ? "gateway, " : "");
	if ((st = sluice_audit_prepare(sa, s)) == NULL)
		return -1;

	/* Text: a first pass for the widths of the gateway, host, decision. */
	while (!sa->json && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		for (c = gw ? 0 : 1; c < 3; c++)
			if ((n = (int)strlen(sluice_audit_text(st,
			    c - !gw))) > w[c])
				w[c] = n;
	}
	sqlite3_reset(st);

	if (sa->json)
		putchar('[');
	else {
		if (gw)
			printf("%-*s  ", w[0], "GATEWAY");
		printf("%-*s  %-*s  %6s  %8s\n", w[1], "HOST", w[2], "DECISION",
		    "STATUS", "COUNT");
	}
	for (n = 0; (rc = sqlite3_step(st)) == SQLITE_ROW; n++) {
		if (sa->json) {
			fputs(n > 0 ? ",\n " : "\n ", stdout);
			sluice_audit_json_row(st);
			continue;
		}
		for (c = gw ? 0 : 1; c < 3; c++)
			sluice_audit_cell(st, c - !gw, w[c] + 1);
		sluice_audit_cell(st, 3 - !gw, -6);
		sluice_audit_put(" ", 0);
		sluice_audit_put(sluice_audit_text(st, 4 - !gw), -8);
		putchar('\n');
	}
	if (sa->json)
		fputs(n > 0 ? "\n]\n" : "]\n", stdout);
	if (rc != SQLITE_DONE)
		sluice_audit_warn("%s", sqlite3_errmsg(sa->db));
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* --- suggest ----------------------------------------------------------- */

/*
 * suggest turns the would_deny rows (--report-only) into candidate rules,
 * one group per host and port (a CONNECT's or the original destination's):
 *
 * - rows that the default policy would have denied (no rule_id) become
 *   allow rules.  Per method, up to AUDITSUGGEST_EXACT_MAX distinct paths
 *   (without the query) give one rule each with the exact path; more give
 *   one rule with the glob of their common directory (auditsuggest_glob),
 *   or any path when they share only "/".  A group with only CONNECT rows
 *   (a port the rules did not open) gives one rule for the host and port;
 *   otherwise its request rules open the CONNECT as well, since CONNECT is
 *   decided by host and port alone.
 * - rows that a deny rule would have denied are named in a comment and not
 *   turned into rules: someone wrote that deny.
 *
 * Every rule goes last (the highest priority number in rules.db, and the
 * newest id breaks the tie), so it decides only requests that no existing
 * rule decides: exactly those the default policy denied, never one that an
 * existing deny covers.  Values are quoted by SQLite's %Q; comments, the
 * only unquoted text, print hosts with control bytes as '?', so no host can
 * end a comment line and start a statement.
 */

/* The columns suggest reads, after the file's filter and --since. */
static const char sluice_audit_suggest_cols[] =
    "COALESCE(host, sni) AS host, "
    "CAST(substr(server, length(rtrim(server, '0123456789')) + 1) "
    "AS INTEGER) AS port, method, "
    "CASE WHEN instr(path, '?') > 0 THEN substr(path, 1, instr(path, '?') "
    "- 1) ELSE path END AS path, rule_id, "
    "trim(rtrim(rtrim(client, '0123456789'), ':'), '[]') AS client";

/* One (method, path) of a group, with how many rows had it. */
struct sluice_audit_pair {
	char		*method;	/* NULL: a flow */
	char		*path;
	long long	 count;
};

struct sluice_audit_group {
	const char	*host;
	long long	 port;		/* 0: unknown */
	long long	 count;
	int		 nrules;	/* printed so far (JSON commas) */
};

/* "WITH w AS (the would_deny rows of every file) " tail, ready to bind. */
static sqlite3_stmt *
sluice_audit_suggest_query(struct sluice_audit *sa, const char *tail)
{
	sqlite3_str *s = sqlite3_str_new(sa->db);
	int i;

	sqlite3_str_appendall(s, "WITH w AS (");
	for (i = 0; i < sa->ndb; i++) {
		if (i > 0)
			sqlite3_str_appendall(s, " UNION ALL ");
		sluice_audit_select(sa, s, &sa->dbs[i], 0,
		    sluice_audit_suggest_cols, "decision = 'would_deny'");
	}
	sqlite3_str_appendf(s, ") %s", tail);
	return sluice_audit_prepare(sa, s);
}

/* Prints column 0 of every row of a group's query, comma-separated. */
static int
sluice_audit_suggest_list(struct sluice_audit *sa,
    const struct sluice_audit_group *g, const char *tail, int json)
{
	sqlite3_stmt *st;
	int rc, n = 0;

	if ((st = sluice_audit_suggest_query(sa, tail)) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, g->host, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, g->port);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		fputs(n++ > 0 ? ", " : "", stdout);
		if (json)
			sluice_audit_json_value(st, 0);
		else
			sluice_audit_put(sluice_audit_text(st, 0), 0);
	}
	if (rc != SQLITE_DONE)
		sluice_audit_warn("%s", sqlite3_errmsg(sa->db));
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* One allow rule: an INSERT statement, or an object of "rules". */
static int
sluice_audit_suggest_rule(struct sluice_audit *sa,
    struct sluice_audit_group *g, const char *method, const char *path,
    long long count)
{
	char port[24] = "NULL", note[80];
	char *sql;

	if (g->port > 0)
		snprintf(port, sizeof(port), "%lld", g->port);
	snprintf(note, sizeof(note), "sluice-audit suggest: %lld would_deny "
	    "request%s", count, count == 1 ? "" : "s");
	sql = sqlite3_mprintf("INSERT INTO rules (priority, host, port, "
	    "method, path, action, note) VALUES ((SELECT COALESCE("
	    "max(priority), 100) FROM rules), %Q, %s, %Q, %Q, 'allow', %Q);",
	    g->host, port, method, path, note);
	if (sql == NULL) {
		sluice_audit_warn("out of memory");
		return -1;
	}
	if (sa->json) {
		fputs(g->nrules > 0 ? ",{\"method\":" : "{\"method\":",
		    stdout);
		if (method != NULL)
			sluice_audit_json_string(method);
		else
			fputs("null", stdout);
		fputs(",\"path\":", stdout);
		if (path != NULL)
			sluice_audit_json_string(path);
		else
			fputs("null", stdout);
		printf(",\"count\":%lld,\"sql\":", count);
		sluice_audit_json_string(sql);
		putchar('}');
	} else {
		printf("%s\n", sql);
	}
	g->nrules++;
	sqlite3_free(sql);
	return 0;
}

/* A note in the text output (a comment line), nothing in JSON. */
static void
sluice_audit_suggest_note(struct sluice_audit *sa, const char *what,
    const char *method)
{
	if (sa->json)
		return;
	printf("--   %s", what);
	if (method != NULL) {
		putchar(' ');
		sluice_audit_put(method, 0);
	}
	putchar('\n');
}

/* The rules for one method's paths: pairs[0..n), all of that method. */
static int
sluice_audit_suggest_method(struct sluice_audit *sa,
    struct sluice_audit_group *g, const struct sluice_audit_pair *pairs,
    size_t n)
{
	const char **paths;
	char glob[4096];
	long long total = 0;
	size_t i;
	int rc;

	if (!auditsuggest_method_ok(pairs[0].method)) {
		sluice_audit_suggest_note(sa, "skipped: not a method a rule can "
		    "name:", pairs[0].method);
		return 0;
	}
	if (n <= AUDITSUGGEST_EXACT_MAX) {
		for (i = 0; i < n; i++)
			if (sluice_audit_suggest_rule(sa, g, pairs[i].method,
			    pairs[i].path, pairs[i].count) == -1)
				return -1;
		return 0;
	}
	if ((paths = calloc(n, sizeof(*paths))) == NULL) {
		sluice_audit_warn("out of memory");
		return -1;
	}
	for (i = 0; i < n; i++) {
		paths[i] = pairs[i].path;
		total += pairs[i].count;
	}
	rc = auditsuggest_glob(paths, n, glob, sizeof(glob));
	free(paths);
	if (rc == -1) {
		sluice_audit_suggest_note(sa, "skipped: no common path for",
		    pairs[0].method);
		return 0;
	}
	return sluice_audit_suggest_rule(sa, g, pairs[0].method,
	    rc == 1 ? NULL : glob, total);
}

static void
sluice_audit_pairs_free(struct sluice_audit_pair *pairs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(pairs[i].method);
		free(pairs[i].path);
	}
	free(pairs);
}

/* The (method, path) pairs the default policy would have denied. */
static int
sluice_audit_suggest_pairs(struct sluice_audit *sa,
    const struct sluice_audit_group *g, struct sluice_audit_pair **out,
    size_t *nout)
{
	struct sluice_audit_pair *pairs = NULL, *p;
	const unsigned char *m, *path;
	sqlite3_stmt *st;
	size_t n = 0;
	int rc;

	if ((st = sluice_audit_suggest_query(sa, "SELECT method, path, "
	    "count(*) FROM w WHERE host = ?1 AND port IS ?2 AND rule_id IS "
	    "NULL GROUP BY method, path ORDER BY method, path")) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, g->host, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, g->port);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((p = realloc(pairs, (n + 1) * sizeof(*p))) == NULL)
			goto nomem;
		pairs = p;
		m = sqlite3_column_text(st, 0);
		path = sqlite3_column_text(st, 1);
		p = &pairs[n++];
		p->method = m != NULL ? strdup((const char *)m) : NULL;
		p->path = path != NULL ? strdup((const char *)path) : NULL;
		p->count = sqlite3_column_int64(st, 2);
		if ((m != NULL && p->method == NULL) ||
		    (path != NULL && p->path == NULL))
			goto nomem;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		sluice_audit_warn("%s", sqlite3_errmsg(sa->db));
		sluice_audit_pairs_free(pairs, n);
		return -1;
	}
	*out = pairs;
	*nout = n;
	return 0;
 nomem:
	sluice_audit_warn("out of memory");
	sqlite3_finalize(st);
	sluice_audit_pairs_free(pairs, n);
	return -1;
}

/* The rules of one group, method by method (pairs come sorted). */
static int
sluice_audit_suggest_rules(struct sluice_audit *sa,
    struct sluice_audit_group *g)
{
	struct sluice_audit_pair *pairs;
	long long flows = 0;
	size_t n, i, j;
	int rc = 0;

	if (sluice_audit_suggest_pairs(sa, g, &pairs, &n) == -1)
		return -1;
	for (i = 0; i < n && rc == 0; i = j) {
		/* A CONNECT or a flow: no path to allow, only the port. */
		if (pairs[i].method == NULL || pairs[i].path == NULL ||
		    strcmp(pairs[i].method, "CONNECT") == 0) {
			flows += pairs[i].count;
			j = i + 1;
			continue;
		}
		for (j = i + 1; j < n && pairs[j].path != NULL &&
		    pairs[j].method != NULL &&
		    strcmp(pairs[j].method, pairs[i].method) == 0; j++)
			;
		rc = sluice_audit_suggest_method(sa, g, &pairs[i], j - i);
	}
	if (rc == 0 && flows > 0 && g->nrules == 0)
		rc = sluice_audit_suggest_rule(sa, g, NULL, NULL, flows);
	sluice_audit_pairs_free(pairs, n);
	return rc;
}

static const char sluice_audit_suggest_clients[] =
    "SELECT DISTINCT client FROM w WHERE host = ?1 AND port IS ?2 "
    "ORDER BY client";
static const char sluice_audit_suggest_denies[] =
    "SELECT DISTINCT rule_id FROM w WHERE host = ?1 AND port IS ?2 AND "
    "rule_id IS NOT NULL ORDER BY rule_id";

/* One host and port: its comment (or object head), rules, and tail. */
static int
sluice_audit_suggest_group(struct sluice_audit *sa,
    struct sluice_audit_group *g, long long denied)
{
	int ok = auditsuggest_host_ok(g->host);

	if (sa->json) {
		fputs("{\"host\":", stdout);
		sluice_audit_json_string(g->host);
		if (g->port > 0)
			printf(",\"port\":%lld", g->port);
		else
			fputs(",\"port\":null", stdout);
		printf(",\"count\":%lld,\"clients\":[", g->count);
	} else {
		fputs("\n-- ", stdout);
		sluice_audit_put(g->host, 0);
		if (g->port > 0)
			printf(":%lld", g->port);
		printf(": %lld would_deny request%s from ", g->count,
		    g->count == 1 ? "" : "s");
	}
	if (sluice_audit_suggest_list(sa, g, sluice_audit_suggest_clients,
	    sa->json) == -1)
		return -1;
	fputs(sa->json ? "],\"deny_rules\":[" : "\n", stdout);
	if (denied > 0 && !sa->json)
		printf("--   %lld of them matched a deny rule; not made into "
		    "rules (rule ", denied);
	if (denied > 0 && sluice_audit_suggest_list(sa, g,
	    sluice_audit_suggest_denies, sa->json) == -1)
		return -1;
	if (denied > 0 && !sa->json)
		puts(")");
	fputs(sa->json ? "],\"rules\":[" : "", stdout);
	if (!ok)
		sluice_audit_suggest_note(sa, "skipped: not a host a rule can "
		    "name exactly", NULL);
	else if (denied < g->count &&
	    sluice_audit_suggest_rules(sa, g) == -1)
		return -1;
	fputs(sa->json ? "]}" : "", stdout);
	return 0;
}

static int
sluice_audit_suggest(struct sluice_audit *sa)
{
	struct sluice_audit_group g;
	sqlite3_stmt *st;
	int rc, n = 0;

	if ((st = sluice_audit_suggest_query(sa, "SELECT host, port, "
	    "count(*), count(rule_id) FROM w WHERE host IS NOT NULL GROUP BY "
	    "host, port ORDER BY host, port")) == NULL)
		return -1;
	if (sa->json)
		putchar('[');
	else
		puts("-- sluice-audit suggest: allow rules for the requests "
		    "that --report-only let\n"
		    "-- through and the default policy would have denied.  "
		    "Each rule goes after\n"
		    "-- every rule in rules.db, so it decides only what no "
		    "rule decides now.\n"
		    "-- Review, then: sqlite3 rules.db < FILE");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&g, 0, sizeof(g));
		g.host = (const char *)sqlite3_column_text(st, 0);
		g.port = sqlite3_column_int64(st, 1);
		g.count = sqlite3_column_int64(st, 2);
		if (sa->json)
			fputs(n > 0 ? ",\n " : "\n ", stdout);
		n++;
		if (sluice_audit_suggest_group(sa, &g,
		    sqlite3_column_int64(st, 3)) == -1) {
			sqlite3_finalize(st);
			return -1;
		}
	}
	if (sa->json)
		fputs(n > 0 ? "\n]\n" : "]\n", stdout);
	if (rc != SQLITE_DONE)
		sluice_audit_warn("%s", sqlite3_errmsg(sa->db));
	sqlite3_finalize(st);
	fflush(stdout);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* --- show -------------------------------------------------------------- */

/* The current row as "  name  value" lines. */
static void
sluice_audit_show_fields(sqlite3_stmt *st)
{
	int i;

	for (i = 0; i < sqlite3_column_count(st); i++)
		if (!sluice_audit_dup_gateway(st, i)) {
			printf("  %-17s ", sqlite3_column_name(st, i));
			sluice_audit_put(sluice_audit_text(st, i), 0);
			putchar('\n');
		}
}

/* The column named name in the current row, or -1. */
static int
sluice_audit_column(sqlite3_stmt *st, const char *name)
{
	int i;

	for (i = 0; i < sqlite3_column_count(st); i++)
		if (strcmp(sqlite3_column_name(st, i), name) == 0)
			return i;
	return -1;
}

/* Prints the connection of the request at st, if d records connections. */
static int
sluice_audit_show_conn(struct sluice_audit *sa,
    const struct sluice_audit_db *d, sqlite3_stmt *req)
{
	sqlite3_stmt *st = NULL;
	char *sql = NULL;
	int col, rc = SQLITE_DONE;

	if (!d->has_connections || !d->has_conn_id ||
	    (col = sluice_audit_column(req, "conn_id")) == -1 ||
	    sqlite3_column_type(req, col) == SQLITE_NULL) {
		if (sa->json)
			fputs(",\"connection\":null", stdout);
		return 0;
	}
	if ((sql = sqlite3_mprintf("SELECT * FROM \"%w\".connections WHERE "
	    "id = %lld", d->schema,
	    (long long)sqlite3_column_int64(req, col))) == NULL ||
	    sqlite3_prepare_v2(sa->db, sql, -1, &st, NULL) != SQLITE_OK)
		goto fail;
	rc = sqlite3_step(st);
	if (sa->json) {
		fputs(",\"connection\":", stdout);
		if (rc == SQLITE_ROW)
			sluice_audit_json_row(st);
		else
			fputs("null", stdout);
	} else if (rc == SQLITE_ROW) {
		printf("connection %lld\n", (long long)sqlite3_column_int64(req,
		    col));
		sluice_audit_show_fields(st);
	} else {
		printf("connection %lld: no such row\n",
		    (long long)sqlite3_column_int64(req, col));
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(st);
	sqlite3_free(sql);
	return 0;
 fail:
	sluice_audit_warn("%s: %s", d->path, sqlite3_errmsg(sa->db));
	sqlite3_finalize(st);
	sqlite3_free(sql);
	return -1;
}

/* Prints request id of every file that has one; -1 if none has. */
static int
sluice_audit_show(struct sluice_audit *sa, sqlite3_int64 id)
{
	const struct sluice_audit_db *d;
	sqlite3_stmt *st;
	char *sql;
	int i, rc, found = 0;

	for (i = 0; i < sa->ndb; i++) {
		d = &sa->dbs[i];
		if (d->has_gateway)
			sql = sqlite3_mprintf("SELECT COALESCE(gateway, %Q) "
			    "AS gateway, * FROM \"%w\".requests WHERE id = "
			    "%lld", d->path, d->schema, (long long)id);
		else
			sql = sqlite3_mprintf("SELECT %Q AS gateway, * FROM "
			    "\"%w\".requests WHERE id = %lld", d->path,
			    d->schema, (long long)id);
		if (sql == NULL ||
		    sqlite3_prepare_v2(sa->db, sql, -1, &st, NULL) != SQLITE_OK) {
			sluice_audit_warn("%s: %s", d->path,
			    sqlite3_errmsg(sa->db));
			sqlite3_free(sql);
			return -1;
		}
		sqlite3_free(sql);
		if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			found++;
			if (sa->json) {
				fputs("{\"request\":", stdout);
				sluice_audit_json_row(st);
			} else {
				printf("%srequest %lld\n", found > 1 ? "\n" : "",
				    (long long)id);
				sluice_audit_show_fields(st);
			}
			rc = sluice_audit_show_conn(sa, d, st) == 0 ?
			    SQLITE_DONE : SQLITE_ERROR;
			if (sa->json)
				fputs("}\n", stdout);
		} else if (rc != SQLITE_DONE) {
			sluice_audit_warn("%s: %s", d->path,
			    sqlite3_errmsg(sa->db));
		}
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE)
			return -1;
	}
	if (found == 0) {
		sluice_audit_warn("no request %lld", (long long)id);
		return -1;
	}
	return 0;
}

/* --- command line ------------------------------------------------------ */

static sqlite3_int64
sluice_audit_number(const char *what, const char *s)
{
	char *ep;
	long long v;

	errno = 0;
	v = strtoll(s, &ep, 10);
	if (s[0] < '0' || s[0] > '9' || *ep != '\0' || errno != 0)
		sluice_audit_usage_error("%s wants a number, not '%s'", what, s);
	return v;
}

static void
sluice_audit_add_db(struct sluice_audit *sa, const char *path)
{
	struct sluice_audit_db *d;

	if (sa->ndb == SLUICE_AUDIT_MAX_DB)
		sluice_audit_usage_error("at most %d --db", SLUICE_AUDIT_MAX_DB);
	if (path[0] == '\0')
		sluice_audit_usage_error("--db wants a file name");
	d = &sa->dbs[sa->ndb];
	d->path = path;
	snprintf(d->schema, sizeof(d->schema), "d%d", sa->ndb);
	sa->ndb++;
}

/* Fills sa from the flags; returns the index of the command in argv. */
static int
sluice_audit_parse(struct sluice_audit *sa, int argc, char **argv,
    int *filtered)
{
	enum {
		OPT_DB = 256, OPT_SINCE, OPT_HOST, OPT_DECISION, OPT_CLIENT,
		OPT_RULE, OPT_JSON, OPT_HELP,
	};
	static const struct option opts[] = {
		{ "db", required_argument, NULL, OPT_DB },
		{ "since", required_argument, NULL, OPT_SINCE },
		{ "host", required_argument, NULL, OPT_HOST },
		{ "decision", required_argument, NULL, OPT_DECISION },
		{ "client", required_argument, NULL, OPT_CLIENT },
		{ "rule", required_argument, NULL, OPT_RULE },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	long long secs;
	int ch;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		if (ch != OPT_DB && ch != OPT_JSON && ch != OPT_HELP &&
		    ch != 'h')
			*filtered = 1;
		switch (ch) {
		case OPT_DB: sluice_audit_add_db(sa, optarg); break;
		case OPT_SINCE:
			if ((secs = auditfilter_duration(optarg)) == -1)
				sluice_audit_usage_error("--since wants a "
				    "duration like 30s, 15m, 1h or 7d, not "
				    "'%s'", optarg);
			auditfilter_ts(time(NULL) - (time_t)secs, sa->since,
			    sizeof(sa->since));
			break;
		case OPT_HOST:
			if (optarg[0] == '\0')
				sluice_audit_usage_error("--host wants a host "
				    "name or a glob");
			sa->filter.host = optarg;
			break;
		case OPT_DECISION:
			if (!auditfilter_decision_known(optarg))
				sluice_audit_usage_error("--decision wants "
				    "forwarded, denied, rate_limited, cached, "
				    "passthrough, error or would_deny, not "
				    "'%s'", optarg);
			sa->filter.decision = optarg;
			break;
		case OPT_CLIENT:
			if (auditfilter_set_client(&sa->filter, optarg) == -1)
				sluice_audit_usage_error("--client wants an IP "
				    "address, not '%s'", optarg);
			break;
		case OPT_RULE:
			sa->filter.rule = sluice_audit_number("--rule", optarg);
			break;
		case OPT_JSON: sa->json = 1; break;
		case 'h':
		case OPT_HELP:
			fputs(sluice_audit_usage, stdout);
			exit(0);
		case ':':
			sluice_audit_usage_error("%s wants a value",
			    argv[optind - 1]);
		default:
			sluice_audit_usage_error("unknown flag %s",
			    argv[optind - 1]);
		}
	}
	if (sa->ndb == 0) {
		const char *env = getenv("SLUICE_AUDIT");

		sluice_audit_add_db(sa, env != NULL && env[0] != '\0' ? env :
		    SLUICE_AUDIT_DEFAULT_DB);
	}
	if (optind >= argc)
		sluice_audit_usage_error("no command: tail, summary, suggest or "
		    "show ID");
	return optind;
}

int
main(int argc, char **argv)
{
	struct sluice_audit sa;
	sqlite3_int64 id = 0;
	const char *cmd;
	int i, rc, filtered = 0;

	memset(&sa, 0, sizeof(sa));
	auditfilter_init(&sa.filter);
	i = sluice_audit_parse(&sa, argc, argv, &filtered);
	cmd = argv[i];
	if (strcmp(cmd, "show") == 0) {
		if (i + 2 != argc)
			sluice_audit_usage_error("show wants one request id");
		if ((id = sluice_audit_number("show", argv[i + 1])) <= 0)
			sluice_audit_usage_error("show wants a request id");
		if (filtered)
			sluice_audit_usage_error("show takes no filters");
	} else if (strcmp(cmd, "tail") != 0 && strcmp(cmd, "summary") != 0 &&
	    strcmp(cmd, "suggest") != 0) {
		sluice_audit_usage_error("unknown command '%s': tail, summary, "
		    "suggest or show ID", cmd);
	} else if (strcmp(cmd, "suggest") == 0 && sa.filter.decision != NULL) {
		sluice_audit_usage_error("suggest reads would_deny rows; it takes "
		    "no --decision");
	} else if (i + 1 != argc) {
		sluice_audit_usage_error("%s takes no argument '%s'", cmd,
		    argv[i + 1]);
	}

	if (sluice_audit_open(&sa) == -1)
		rc = -1;
	else if (strcmp(cmd, "tail") == 0)
		rc = sluice_audit_tail(&sa);
	else if (strcmp(cmd, "summary") == 0)
		rc = sluice_audit_summary(&sa);
	else if (strcmp(cmd, "suggest") == 0)
		rc = sluice_audit_suggest(&sa);
	else
		rc = sluice_audit_show(&sa, id);
	sqlite3_close(sa.db);
	return rc == 0 ? 0 : 1;
}
