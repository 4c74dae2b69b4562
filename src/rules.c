/*
 * rules.c - the rules database: creation, loading, matching, publication.
 *
 * Owns: the embedded schema (rules/schema.sql), turning the database into an
 * immutable snapshot, the match functions (the only code that walks a
 * snapshot's rules), and the loader thread that publishes new snapshots.
 * Does not own what a rule does (inject.c, ratelimit.c, cache.c, conn.c).
 *
 * Loading reads all tables in one read transaction, so a snapshot is one
 * consistent state of the database.  Every row is validated again in C: a
 * database made without our CHECK constraints, or a row those cannot
 * express, costs that rule (logged with its id and counted), not the rest.
 * Later tables (injections, rate limits, cache policies) are loaded by one
 * more rules_load_* step each inside rules_load_db(), and attach to rules
 * by id.
 *
 * Publication:
 *
 *	loader thread                     workers
 *	-------------                     -------
 *	poll data_version / st_ino        rules_generation() != held?
 *	rules_load_db() -> new snapshot     rules_acquire() under rules_mtx
 *	lock; swap rules_current;           (ref), unref the old one
 *	  generation++; unlock
 *	unref the old snapshot
 *
 * Invariants: a published snapshot is never written again; rules_current is
 * only read or written under rules_mtx; rules_gen equals
 * rules_current->generation once rules_mtx is released; a snapshot is freed
 * by whoever drops its last reference, whichever thread that is.
 */
#include <sys/stat.h>

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

#include "log.h"
#include "rules.h"

/* The user_version that rules/schema.sql sets; newer databases are refused. */
#define RULES_SCHEMA_VERSION	1
#define RULES_BUSY_TIMEOUT_MS	1000
#define RULES_ERRLEN		256

static const char rules_schema_sql[] =
#include "schema_sql.h"
;

/*
 * The loader thread's private state: the read-only connection it keeps, and
 * what identifies the state it last loaded.
 */
struct rules_loader {
	char		*path;
	sqlite3		*db;
	dev_t		 dev;
	ino_t		 ino;
	int64_t		 data_version;
	int		 interval_ms;
	int		 failing;	/* the last load failed: retry each poll */
	char		 lasterr[RULES_ERRLEN];	/* its reason, said once */
};

static pthread_once_t		 rules_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t		 rules_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t		 rules_cond;	/* CLOCK_MONOTONIC */
static struct rules_snapshot	*rules_current;	/* rules_mtx */
static int			 rules_reload_wanted;	/* rules_mtx */
static int			 rules_stopping;	/* rules_mtx */
static _Atomic uint64_t		 rules_gen;
static int			 rules_running;	/* start/stop thread only */
static pthread_t		 rules_thread;
static struct rules_loader	 rules_ldr;

static void
rules_snapshot_free(struct rules_snapshot *snap)
{
	size_t i;

	for (i = 0; i < snap->nrules; i++) {
		free(snap->rules[i].host);
		free(snap->rules[i].method);
		free(snap->rules[i].path);
	}
	free(snap->rules);
	free(snap);
}

/*
 * refcnt is a plain int in the public struct; the __atomic builtins make
 * every access to it atomic.  Release on the decrement and acquire before
 * the free so the freeing thread sees all reads made through other refs.
 */
void
rules_snapshot_ref(struct rules_snapshot *snap)
{
	__atomic_add_fetch(&snap->refcnt, 1, __ATOMIC_RELAXED);
}

void
rules_snapshot_unref(struct rules_snapshot *snap)
{
	if (snap == NULL)
		return;
	if (__atomic_sub_fetch(&snap->refcnt, 1, __ATOMIC_ACQ_REL) == 0)
		rules_snapshot_free(snap);
}

/* Run a query that yields one integer. */
static int
rules_db_int(sqlite3 *db, const char *sql, int64_t *out)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		goto fail;
	if (sqlite3_step(st) != SQLITE_ROW)
		goto fail;
	*out = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return 0;
fail:
	sqlite3_finalize(st);
	return -1;
}

/*
 * Refuse a database written by a newer sluice: its rows may mean something
 * this one would get wrong.  Failing functions below write their reason to
 * err (RULES_ERRLEN bytes) rather than log it, so that the loader, which
 * retries every poll, can say it once.
 */
static int
rules_db_check_version(sqlite3 *db, const char *path, int64_t *version,
    char *err)
{
	if (rules_db_int(db, "PRAGMA user_version", version) == -1) {
		snprintf(err, RULES_ERRLEN, "%s: cannot read user_version: %s",
		    path, sqlite3_errmsg(db));
		return -1;
	}
	if (*version > RULES_SCHEMA_VERSION) {
		snprintf(err, RULES_ERRLEN, "%s: schema version %lld is newer "
		    "than %d, refusing it", path, (long long)*version,
		    RULES_SCHEMA_VERSION);
		return -1;
	}
	return 0;
}

static int
rules_db_apply_schema(sqlite3 *db, const char *path)
{
	char *err = NULL;
	int64_t version;

	if (sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL,
	    &err) != SQLITE_OK)
		goto fail;
	if (sqlite3_exec(db, rules_schema_sql, NULL, NULL, &err) != SQLITE_OK) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		goto fail;
	}
	if (rules_db_int(db, "PRAGMA user_version", &version) == -1 ||
	    version != RULES_SCHEMA_VERSION) {
		log_warnx("rules: %s: embedded schema did not set version %d",
		    path, RULES_SCHEMA_VERSION);
		return -1;
	}
	log_info("rules: %s: created schema version %d", path,
	    RULES_SCHEMA_VERSION);
	return 0;
fail:
	log_warnx("rules: %s: cannot create schema: %s", path,
	    err != NULL ? err : sqlite3_errmsg(db));
	sqlite3_free(err);
	return -1;
}

int
rules_db_init(const char *path)
{
	sqlite3 *db = NULL;
	int64_t version, ntables;
	char err[RULES_ERRLEN];
	int fd;

	/*
	 * Create the file ourselves so its mode is 0640 (or stricter, by the
	 * umask) from the start; SQLite gives -wal and -shm the same mode and
	 * treats an empty file as a new database.
	 */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd == -1 && errno != EEXIST) {
		log_warn("rules: %s", path);
		return -1;
	}
	if (fd != -1)
		close(fd);

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK) {
		log_warnx("rules: %s: %s", path, sqlite3_errmsg(db));
		goto fail;
	}
	sqlite3_busy_timeout(db, RULES_BUSY_TIMEOUT_MS);
	if (rules_db_check_version(db, path, &version, err) == -1) {
		log_warnx("rules: %s", err);
		goto fail;
	}
	if (rules_db_int(db, "SELECT count(*) FROM sqlite_schema "
	    "WHERE type = 'table' AND name = 'rules'", &ntables) == -1) {
		log_warnx("rules: %s: %s", path, sqlite3_errmsg(db));
		goto fail;
	}
	/* A database someone made by hand is theirs: leave it alone. */
	if (version == 0 && ntables == 0 &&
	    rules_db_apply_schema(db, path) == -1)
		goto fail;
	sqlite3_close(db);
	return 0;
fail:
	sqlite3_close(db);
	return -1;
}

/*
 * Lowercase, drop the trailing dot of a fully qualified name, and check the
 * shape: "*", "*.name" or "name", where name is non-empty dot-separated
 * labels of letters, digits, '-' and '_', or an IP address (':' for IPv6).
 * "*." keeps its dot: it is a wildcard without a name, not "*".
 */
static const char *
rules_host_normalize(char *host)
{
	size_t len, i;
	char *name, *p;

	for (p = host; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p += 'a' - 'A';
	len = strlen(host);
	if (len > 1 && host[len - 1] == '.' && host[len - 2] != '.' &&
	    host[len - 2] != '*')
		host[--len] = '\0';
	if (len == 0)
		return "empty host";
	if (len > 253)
		return "host too long";
	if (strcmp(host, "*") == 0)
		return NULL;
	name = host;
	if (strncmp(host, "*.", 2) == 0)
		name = host + 2;
	if (*name == '\0')
		return "wildcard without a name";
	for (i = 0; name[i] != '\0'; i++) {
		if (name[i] == '.') {
			if (i == 0 || name[i - 1] == '.' || name[i + 1] == '\0')
				return "empty label in host";
		} else if (name[i] == '*') {
			return "wildcard must be '*' or a leading '*.'";
		} else if (!((name[i] >= 'a' && name[i] <= 'z') ||
		    (name[i] >= '0' && name[i] <= '9') || name[i] == '-' ||
		    name[i] == '_' || name[i] == ':')) {
			return "bad character in host";
		}
	}
	return NULL;
}

static const char *
rules_method_check(const char *method)
{
	const char *p;

	if (*method == '\0')
		return "empty method";
	for (p = method; *p != '\0'; p++)
		if (*p < 'A' || *p > 'Z')
			return "method must be uppercase letters";
	return NULL;
}

/*
 * A reason that fails the whole load instead of skipping one rule: a rule
 * set missing a deny because memory ran short must not be published.
 */
static const char rules_oom[] = "out of memory";

/*
 * Copy a TEXT column to *out.  Returns NULL, or nottext when the column is
 * not text or holds a NUL (the match functions see C strings).
 */
static const char *
rules_column_text(sqlite3_stmt *st, int col, char **out, const char *nottext)
{
	const unsigned char *s;
	int n;

	if (sqlite3_column_type(st, col) != SQLITE_TEXT)
		return nottext;
	if ((s = sqlite3_column_text(st, col)) == NULL)
		return rules_oom;
	n = sqlite3_column_bytes(st, col);
	if (memchr(s, '\0', n) != NULL)
		return nottext;
	if ((*out = strndup((const char *)s, n)) == NULL)
		return rules_oom;
	return NULL;
}

/*
 * Fill r from the current row.  Returns NULL, or why the row is unusable
 * (r then holds whatever was allocated, for the caller to free).
 */
static const char *
rules_load_row(sqlite3_stmt *st, struct rule *r)
{
	const char *why, *action;
	int64_t port;

	/* id, priority, host, port, method, path, action */
	if (sqlite3_column_type(st, 1) != SQLITE_INTEGER)
		return "priority is not an integer";
	r->priority = sqlite3_column_int64(st, 1);

	if ((why = rules_column_text(st, 2, &r->host,
	    "host is not text")) != NULL)
		return why;
	if ((why = rules_host_normalize(r->host)) != NULL)
		return why;

	if (sqlite3_column_type(st, 3) == SQLITE_NULL) {
		r->port = 0;
	} else {
		if (sqlite3_column_type(st, 3) != SQLITE_INTEGER)
			return "port is not an integer";
		port = sqlite3_column_int64(st, 3);
		if (port < 1 || port > 65535)
			return "port out of range";
		r->port = (int)port;
	}

	if (sqlite3_column_type(st, 4) != SQLITE_NULL) {
		if ((why = rules_column_text(st, 4, &r->method,
		    "method is not text")) != NULL)
			return why;
		if ((why = rules_method_check(r->method)) != NULL)
			return why;
	}

	if (sqlite3_column_type(st, 5) != SQLITE_NULL) {
		if ((why = rules_column_text(st, 5, &r->path,
		    "path is not text")) != NULL)
			return why;
		if (r->path[0] != '/' && strcmp(r->path, "*") != 0)
			return "path must start with '/' or be '*'";
	}

	if (sqlite3_column_type(st, 6) != SQLITE_TEXT)
		return "action is not text";
	action = (const char *)sqlite3_column_text(st, 6);
	if (strcmp(action, "allow") == 0)
		r->action = RULE_ALLOW;
	else if (strcmp(action, "deny") == 0)
		r->action = RULE_DENY;
	else if (strcmp(action, "passthrough") == 0)
		r->action = RULE_PASSTHROUGH;
	else
		return "unknown action";
	if (r->action == RULE_PASSTHROUGH &&
	    (r->method != NULL || r->path != NULL))
		return "passthrough cannot have a method or a path";
	return NULL;
}

static int
rules_load_rules(sqlite3 *db, const char *path, struct rules_snapshot *snap,
    char *err)
{
	sqlite3_stmt *st = NULL;
	struct rule *r, *grown;
	size_t cap = 0;
	const char *why;
	int rc;

	if (sqlite3_prepare_v2(db,
	    "SELECT id, priority, host, port, method, path, action FROM rules "
	    "WHERE enabled = 1 ORDER BY priority, id", -1, &st, NULL) !=
	    SQLITE_OK)
		goto fail;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (snap->nrules == cap) {
			cap = cap ? cap * 2 : 16;
			grown = reallocarray(snap->rules, cap, sizeof(*grown));
			if (grown == NULL)
				goto nomem;
			snap->rules = grown;
		}
		r = &snap->rules[snap->nrules];
		memset(r, 0, sizeof(*r));
		r->id = sqlite3_column_int64(st, 0);
		why = rules_load_row(st, r);
		if (why != NULL) {
			free(r->host);
			free(r->method);
			free(r->path);
			if (why == rules_oom)
				goto nomem;
			log_warnx("rules: skipping rule id=%lld: %s",
			    (long long)r->id, why);
			snap->nskipped++;
			continue;
		}
		snap->nrules++;
	}
	if (rc != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(st);
	return 0;
nomem:
	snprintf(err, RULES_ERRLEN, "%s: %s", path, rules_oom);
	sqlite3_finalize(st);
	return -1;
fail:
	snprintf(err, RULES_ERRLEN, "%s: %s", path, sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return -1;
}

/* One consistent read of everything a snapshot holds. */
static struct rules_snapshot *
rules_load_db(sqlite3 *db, const char *path, char *err)
{
	struct rules_snapshot *snap;
	int64_t version;

	if ((snap = calloc(1, sizeof(*snap))) == NULL) {
		snprintf(err, RULES_ERRLEN, "%s: out of memory", path);
		return NULL;
	}
	snap->refcnt = 1;
	if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, RULES_ERRLEN, "%s: %s", path, sqlite3_errmsg(db));
		goto fail;
	}
	if (rules_db_check_version(db, path, &version, err) == -1 ||
	    rules_load_rules(db, path, snap, err) == -1)
		goto fail;
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	return snap;
fail:
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	rules_snapshot_free(snap);
	return NULL;
}

static sqlite3 *
rules_db_open_ro(const char *path, char *err)
{
	sqlite3 *db = NULL;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK) {
		snprintf(err, RULES_ERRLEN, "%s: %s", path,
		    db != NULL ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, RULES_BUSY_TIMEOUT_MS);
	return db;
}

struct rules_snapshot *
rules_load(const char *path)
{
	struct rules_snapshot *snap = NULL;
	char err[RULES_ERRLEN];
	sqlite3 *db;

	if ((db = rules_db_open_ro(path, err)) != NULL)
		snap = rules_load_db(db, path, err);
	sqlite3_close(db);
	if (snap == NULL)
		log_warnx("rules: %s", err);
	return snap;
}

int
rules_host_match(const char *pattern, const char *host)
{
	size_t plen, hlen;

	if (strcmp(pattern, "*") == 0)
		return 1;
	hlen = strlen(host);
	if (hlen > 1 && host[hlen - 1] == '.')
		hlen--;
	if (pattern[0] == '*' && pattern[1] == '.') {
		/* ".example.com" must be preceded by at least one character. */
		pattern++;
		plen = strlen(pattern);
		return hlen > plen &&
		    strncasecmp(host + hlen - plen, pattern, plen) == 0;
	}
	plen = strlen(pattern);
	return hlen == plen && strncasecmp(host, pattern, plen) == 0;
}

/*
 * '*' matches any run, everything else itself.  On a mismatch after a star,
 * let that star swallow one more character and retry from there: only the
 * last star ever needs revisiting, so the cost is O(len(glob) * slen), never
 * exponential.
 */
int
rules_glob_match(const char *glob, const char *s, size_t slen)
{
	const char *star = NULL;
	size_t i = 0, star_i = 0;

	while (i < slen) {
		if (*glob == '*') {
			star = glob++;
			star_i = i;
		} else if (*glob != '\0' && *glob == s[i]) {
			glob++;
			i++;
		} else if (star != NULL) {
			glob = star + 1;
			i = ++star_i;
		} else {
			return 0;
		}
	}
	while (*glob == '*')
		glob++;
	return *glob == '\0';
}

const struct rule *
rules_match_conn(const struct rules_snapshot *snap, const char *host,
    int port)
{
	const struct rule *r;
	size_t i;

	for (i = 0; i < snap->nrules; i++) {
		r = &snap->rules[i];
		if ((r->port == 0 || r->port == port) &&
		    rules_host_match(r->host, host))
			return r;
	}
	return NULL;
}

const struct rule *
rules_match_request(const struct rules_snapshot *snap, const char *host,
    int port, const char *method, const char *path, size_t pathlen)
{
	const struct rule *r;
	size_t i;

	for (i = 0; i < snap->nrules; i++) {
		r = &snap->rules[i];
		if (r->action == RULE_PASSTHROUGH)
			continue;
		if (r->port != 0 && r->port != port)
			continue;
		if (r->method != NULL &&
		    (method == NULL || strcmp(r->method, method) != 0))
			continue;
		if (r->path != NULL &&
		    (path == NULL || !rules_glob_match(r->path, path, pathlen)))
			continue;
		if (rules_host_match(r->host, host))
			return r;
	}
	return NULL;
}

/* Hand snap (and our reference to it) over as the current snapshot. */
static void
rules_publish(struct rules_snapshot *snap)
{
	struct rules_snapshot *old;

	pthread_mutex_lock(&rules_mtx);
	old = rules_current;
	snap->generation = atomic_load(&rules_gen) + 1;
	rules_current = snap;
	atomic_store(&rules_gen, snap->generation);
	pthread_mutex_unlock(&rules_mtx);
	rules_snapshot_unref(old);
	log_info("rules: loaded %zu rules, skipped %zu (generation %llu)",
	    snap->nrules, snap->nskipped, (unsigned long long)snap->generation);
}

/* (Re)open the loader's connection on whatever file is at the path now. */
static int
rules_loader_open(struct rules_loader *ldr, char *err)
{
	struct stat sb;

	sqlite3_close(ldr->db);
	ldr->db = NULL;
	if (stat(ldr->path, &sb) == -1) {
		snprintf(err, RULES_ERRLEN, "%s: %s", ldr->path,
		    strerror(errno));
		return -1;
	}
	if ((ldr->db = rules_db_open_ro(ldr->path, err)) == NULL)
		return -1;
	ldr->dev = sb.st_dev;
	ldr->ino = sb.st_ino;
	return 0;
}

/*
 * Load and publish.  data_version is read before the load: a commit that
 * lands in between then shows up at the next poll and costs one more load,
 * never a missed change.
 */
static int
rules_loader_load(struct rules_loader *ldr, char *err)
{
	struct rules_snapshot *snap;

	if (rules_db_int(ldr->db, "PRAGMA data_version",
	    &ldr->data_version) == -1) {
		snprintf(err, RULES_ERRLEN, "%s: %s", ldr->path,
		    sqlite3_errmsg(ldr->db));
		return -1;
	}
	if ((snap = rules_load_db(ldr->db, ldr->path, err)) == NULL)
		return -1;
	rules_publish(snap);
	return 0;
}

/*
 * One poll: reload if the file was replaced (a new inode at the path), a
 * commit changed it, we were asked to, or the last attempt failed.  A path
 * that vanished keeps the old connection (and snapshot) until a file is
 * back.  Replacing the file by rename is only safe once the old database's
 * -wal is empty (PRAGMA wal_checkpoint(TRUNCATE)): SQLite pairs a -wal with
 * whatever file is at its path, and our open connection keeps the last
 * writer from removing it.
 */
static void
rules_loader_poll(struct rules_loader *ldr, int forced)
{
	struct stat sb;
	char err[RULES_ERRLEN];
	int64_t version;
	int reopen;

	reopen = ldr->db == NULL || (stat(ldr->path, &sb) == 0 &&
	    (sb.st_dev != ldr->dev || sb.st_ino != ldr->ino));
	if (!forced && !reopen && !ldr->failing &&
	    (rules_db_int(ldr->db, "PRAGMA data_version", &version) == -1 ||
	    version == ldr->data_version))
		return;

	if (reopen && rules_loader_open(ldr, err) == -1)
		goto fail;
	if (rules_loader_load(ldr, err) == -1)
		goto fail;
	ldr->failing = 0;
	ldr->lasterr[0] = '\0';
	return;
fail:
	if (strcmp(err, ldr->lasterr) != 0) {
		log_warnx("rules: reload failed, keeping generation %llu: %s",
		    (unsigned long long)rules_generation(), err);
		memcpy(ldr->lasterr, err, sizeof(ldr->lasterr));
	}
	ldr->failing = 1;
}

static void *
rules_loader_main(void *arg)
{
	struct rules_loader *ldr = arg;
	struct timespec deadline;
	int forced;

	pthread_mutex_lock(&rules_mtx);
	while (!rules_stopping) {
		clock_gettime(CLOCK_MONOTONIC, &deadline);
		deadline.tv_sec += ldr->interval_ms / 1000;
		deadline.tv_nsec += (long)(ldr->interval_ms % 1000) * 1000000;
		if (deadline.tv_nsec >= 1000000000) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000;
		}
		while (!rules_stopping && !rules_reload_wanted &&
		    pthread_cond_timedwait(&rules_cond, &rules_mtx,
		    &deadline) != ETIMEDOUT)
			;
		if (rules_stopping)
			break;
		forced = rules_reload_wanted;
		rules_reload_wanted = 0;
		pthread_mutex_unlock(&rules_mtx);
		rules_loader_poll(ldr, forced);
		pthread_mutex_lock(&rules_mtx);
	}
	pthread_mutex_unlock(&rules_mtx);
	return NULL;
}

/* A monotonic clock, so that setting the wall clock cannot stall polls. */
static void
rules_cond_init(void)
{
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&rules_cond, &ca);
	pthread_condattr_destroy(&ca);
}

int
rules_start(const char *path, int interval_ms)
{
	struct rules_loader *ldr = &rules_ldr;
	char err[RULES_ERRLEN];

	if (rules_running) {
		log_warnx("rules: already started");
		return -1;
	}
	memset(ldr, 0, sizeof(*ldr));
	ldr->interval_ms = interval_ms > 0 ? interval_ms : 1000;
	if ((ldr->path = strdup(path)) == NULL) {
		log_warn("rules");
		return -1;
	}
	if (rules_loader_open(ldr, err) == -1 ||
	    rules_loader_load(ldr, err) == -1) {
		log_warnx("rules: %s", err);
		goto fail;
	}

	pthread_once(&rules_once, rules_cond_init);
	pthread_mutex_lock(&rules_mtx);
	rules_stopping = 0;
	rules_reload_wanted = 0;
	pthread_mutex_unlock(&rules_mtx);
	if ((errno = pthread_create(&rules_thread, NULL, rules_loader_main,
	    ldr)) != 0) {
		log_warn("rules: loader thread");
		goto fail;
	}
	rules_running = 1;
	return 0;
fail:
	sqlite3_close(ldr->db);
	ldr->db = NULL;
	free(ldr->path);
	ldr->path = NULL;
	pthread_mutex_lock(&rules_mtx);
	rules_snapshot_unref(rules_current);
	rules_current = NULL;
	pthread_mutex_unlock(&rules_mtx);
	return -1;
}

void
rules_reload(void)
{
	pthread_once(&rules_once, rules_cond_init);
	pthread_mutex_lock(&rules_mtx);
	rules_reload_wanted = 1;
	pthread_cond_signal(&rules_cond);
	pthread_mutex_unlock(&rules_mtx);
}

void
rules_stop(void)
{
	struct rules_snapshot *old;

	if (!rules_running)
		return;
	pthread_mutex_lock(&rules_mtx);
	rules_stopping = 1;
	pthread_cond_signal(&rules_cond);
	pthread_mutex_unlock(&rules_mtx);
	pthread_join(rules_thread, NULL);
	rules_running = 0;

	sqlite3_close(rules_ldr.db);
	rules_ldr.db = NULL;
	free(rules_ldr.path);
	rules_ldr.path = NULL;

	pthread_mutex_lock(&rules_mtx);
	old = rules_current;
	rules_current = NULL;
	pthread_mutex_unlock(&rules_mtx);
	rules_snapshot_unref(old);
}

uint64_t
rules_generation(void)
{
	return atomic_load(&rules_gen);
}

struct rules_snapshot *
rules_acquire(void)
{
	struct rules_snapshot *snap;

	pthread_mutex_lock(&rules_mtx);
	if ((snap = rules_current) != NULL)
		rules_snapshot_ref(snap);
	pthread_mutex_unlock(&rules_mtx);
	return snap;
}
