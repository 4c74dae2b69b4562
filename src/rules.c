/*
 * rules.c - the rules database: creation and migration, loading, matching,
 * publication.
 *
 * Owns: the schema (rules/schema.sql is version 1; later versions are steps
 * in rules_migrations[]), turning the database into an immutable snapshot,
 * resolving the secrets that rules inject, the match index and the match
 * functions (the only code that walks a snapshot's rules), and the loader
 * thread that publishes new snapshots.  Does not own what a rule does
 * (inject.c, ratelimit.c, cache.c, the data path).
 *
 * Loading reads all tables in one read transaction, so a snapshot is one
 * consistent state of the database.  Every row is validated again in C: a
 * database made without our CHECK constraints, or a row those cannot
 * express, costs that rule (logged with its id and counted), not the rest.
 * Except that a deny is never lost that way, as that would open what it
 * closed: an unusable deny becomes a deny of everything on its host (or
 * on every host, when its host is what is unusable), logged as such.
 * Later tables (injections, rate limits, cache policies) are loaded by one
 * more rules_load_* step each inside rules_load_db(), and attach to rules
 * by id.  A secret's value is read once, at load (a literal, env:VAR or
 * file:/path), lives in the snapshot's injections, and is wiped when the
 * snapshot is freed; no log line ever holds a value or a file's bytes.
 *
 * Matching never walks every rule.  Each snapshot carries an index built
 * at load: exact hosts in one hash table, the names under wildcards
 * ("example.com" for "*.example.com") in another, the '*' rules in a list.
 * Every bucket lists its rules by their position in snap->rules, which is
 * the (priority, id) order, so the answer is the smallest position that
 * any candidate list offers and whose port, method and path fit.
 *
 * Publication goes through a handle, struct rules, one per database
 * watched: rules_start() makes it and its loader thread, rules_stop()
 * joins the thread and frees it.  The handle owns the mutex, the condition
 * variable the loader waits on, the current snapshot, its generation and
 * the reload counters; nothing about publication is process-wide, so two
 * handles on two files publish independently.
 *
 *	loader thread (one per handle)    workers, admin, nfqueue
 *	------------------------------    -----------------------
 *	poll data_version / st_ino        rules_generation(rs) != held?
 *	rules_load_db() -> new snapshot     rules_acquire(rs) under rs->mtx
 *	lock rs->mtx; swap rs->current;     (ref), unref the old one
 *	  rs->gen++; unlock
 *	unref the old snapshot
 *
 * Invariants: a published snapshot is never written again; rs->current is
 * only read or written under rs->mtx; rs->gen equals
 * rs->current->generation once rs->mtx is released; a snapshot is freed
 * by whoever drops its last reference, whichever thread that is, so a
 * snapshot may outlive the handle that published it; rs->ldr is touched
 * only by the loader thread once it runs (before: by rules_start(), after
 * the join: by rules_stop()).
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "inject.h"
#include "log.h"
#include "rules.h"
#include "urlpath.h"

#define RULES_BUSY_TIMEOUT_MS	1000
#define RULES_ERRLEN		256
#define RULES_SECRET_FILE_MAX	(64 * 1024)
#define RULES_LOGNAME_MAX	64
#define RULES_DEFAULT_MAX_DELAY_MS 1000	/* rate_limits.max_delay_ms NULL */
#define RULES_MAX_LEASE		1000000	/* rate_limits.lease: tokens */
#define RULES_DEFAULT_CACHE_MAX	(1024 * 1024)	/* cache_policies.max_bytes NULL */
#define RULES_FNV_BASIS		UINT64_C(14695981039346656037)
#define RULES_FNV_PRIME		UINT64_C(1099511628211)

static const char rules_schema_sql[] =
#include "schema_sql.h"
;
static const char rules_migrate_2_sql[] =
#include "migrate_2_sql.h"
;

/*
 * The schema's history, oldest first.  Entry N's sql takes a database at
 * user_version N - 1 to version N; version 1 is rules/schema.sql, which
 * takes an empty database to the first schema.  rules_db_init() runs every
 * entry above a database's version in one write transaction and sets
 * user_version after each, so a fresh database and an old one end up with
 * the same schema through the same statements.
 *
 * To change the schema: put the SQL that takes every version N - 1
 * database to N in rules/migrate-N.sql (no BEGIN or COMMIT: it runs inside
 * the runner's transaction, which also sets user_version), embed it like
 * schema.sql, append { N, it } here, set RULES_SCHEMA_VERSION to N, load
 * the new columns in rules_load_db(), and document them in INTERFACE.md.
 * A released step is never edited: databases in the field were made by it.
 */
static const struct rules_migration {
	int64_t		 version;	/* user_version after sql */
	const char	*sql;
} rules_migrations[] = {
	{ 1, rules_schema_sql },
	{ 2, rules_migrate_2_sql },	/* rate_limits.shared, .lease */
};

/*
 * Host names to rules, for the match index: open addressing with linear
 * probing, at most half full, so a probe always ends on a free slot.
 * Names come from the rules database; the hosts looked up only probe, so
 * a client cannot lengthen the chains.  The hash is FNV-1a over the
 * lowercased name read from its last byte to its first, which lets
 * rules_index_match() hash every parent suffix of a host in one pass.
 */
struct rules_slot {
	const char	*name;		/* in a rule's host; NULL: free */
	size_t		 len;
	uint64_t	 hash;
	size_t		*idx;		/* positions in snap->rules, rising */
	size_t		 n;
};

struct rules_names {
	struct rules_slot *slots;	/* NULL when there are no names */
	size_t		 mask;		/* slots - 1 */
	uint64_t	 lens[4];	/* bit n: a name of n bytes */
};

struct rules_index {
	struct rules_names exact;	/* "api.example.com" */
	struct rules_names wild;	/* "example.com" for "*.example.com" */
	size_t		*star;		/* positions of '*' rules */
	size_t		 nstar;
	size_t		*pool;		/* all idx and star point here */
};

/*
 * What rules_load() allocates: the public snapshot first, so that a
 * pointer to it is a pointer to this.
 */
struct rules_snap {
	struct rules_snapshot pub;
	struct rules_index index;
};

/* What a match asks of a rule besides its host. */
struct rules_query {
	int		 conn;		/* any action, method, path */
	int		 flow;		/* any but a deny with method or path */
	int		 port;
	const char	*method;
	const char	*path;
	size_t		 pathlen;
	int		 slashes;	/* path holds "//" */
	int		 lenient;	/* path holds "%2F", "%5C" or ";" */
	const char	*alt;		/* then: urlpath_lenient(path), NULL
					   when that cannot be read */
	size_t		 altlen;
	int		 alt_slashes;	/* alt holds "//" */
	int		 limit;		/* only rules with a rate limit, their
					   paths read as a deny's */
};

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

/* The handle: see "Publication" above. */
struct rules {
	pthread_mutex_t		 mtx;
	pthread_cond_t		 cond;		/* CLOCK_MONOTONIC */
	struct rules_snapshot	*current;	/* mtx */
	int			 reload_wanted;	/* mtx */
	int			 stopping;	/* mtx */
	_Atomic uint64_t	 gen;
	_Atomic uint64_t	 reloads;	/* loader stores */
	_Atomic uint64_t	 reload_failures; /* loader stores */
	pthread_t		 thread;
	struct rules_loader	 ldr;
};

/* Free what r owns; inject_clear() wipes the secrets on the way. */
static void
rules_rule_clear(struct rule *r)
{
	size_t i;

	for (i = 0; i < r->ninjections; i++) {
		inject_clear(&r->injections[i]);
		free(r->injections[i].name);
		free(r->injections[i].secret_name);
	}
	free(r->injections);
	mask_set_clear(&r->mask);
	free(r->host);
	free(r->method);
	free(r->path);
	free(r->path_alt);
	memset(r, 0, sizeof(*r));
}

static void
rules_index_free(struct rules_index *ix)
{
	free(ix->exact.slots);
	free(ix->wild.slots);
	free(ix->pool);
}

static void
rules_snapshot_free(struct rules_snapshot *snap)
{
	struct rules_snap *s = (struct rules_snap *)snap;
	size_t i;

	for (i = 0; i < snap->nrules; i++)
		rules_rule_clear(&snap->rules[i]);
	free(snap->rules);
	rules_index_free(&s->index);
	free(s);
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

/*
 * The version, and whether migrations are due: not for the current
 * version, and not for a database someone made by hand (version 0 with a
 * rules table), which is theirs to keep as it is.
 */
static int
rules_db_pending(sqlite3 *db, const char *path, int64_t *version,
    int *pending, char *err)
{
	int64_t ntables;

	if (rules_db_check_version(db, path, version, err) == -1)
		return -1;
	if (rules_db_int(db, "SELECT count(*) FROM sqlite_schema "
	    "WHERE type = 'table' AND name = 'rules'", &ntables) == -1) {
		snprintf(err, RULES_ERRLEN, "%s: %s", path, sqlite3_errmsg(db));
		return -1;
	}
	*pending = *version < RULES_SCHEMA_VERSION &&
	    !(*version == 0 && ntables > 0);
	return 0;
}

static void
rules_db_errmsg(char *err, const char *path, sqlite3 *db)
{
	snprintf(err, RULES_ERRLEN, "%s: %s", path,
	    db != NULL ? sqlite3_errmsg(db) : "out of memory");
}

static sqlite3 *
rules_db_open_ro(const char *path, char *err)
{
	sqlite3 *db = NULL;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK) {
		rules_db_errmsg(err, path, db);
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, RULES_BUSY_TIMEOUT_MS);
	return db;
}

/*
 * Run the pending steps in one write transaction.  The version is read
 * again under the write lock: another process may have migrated since.
 */
static int
rules_db_migrate(const char *path)
{
	const struct rules_migration *m;
	sqlite3 *db = NULL;
	char err[RULES_ERRLEN], sql[64];
	int64_t version, from;
	int pending, intx = 0;
	size_t i;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK) {
		rules_db_errmsg(err, path, db);
		goto fail;
	}
	sqlite3_busy_timeout(db, RULES_BUSY_TIMEOUT_MS);
	/* A connection that writes keeps the schema's foreign keys. */
	if (sqlite3_exec(db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL) !=
	    SQLITE_OK ||
	    rules_db_int(db, "PRAGMA user_version", &version) == -1 ||
	    (version == 0 && sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL,
	    NULL, NULL) != SQLITE_OK) ||
	    sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
	    SQLITE_OK) {
		rules_db_errmsg(err, path, db);
		goto fail;
	}
	intx = 1;
	if (rules_db_pending(db, path, &version, &pending, err) == -1)
		goto fail;
	from = version;
	for (i = 0; pending && i < sizeof(rules_migrations) /
	    sizeof(rules_migrations[0]); i++) {
		m = &rules_migrations[i];
		if (m->version <= version)
			continue;
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %lld",
		    (long long)m->version);
		if (sqlite3_exec(db, m->sql, NULL, NULL, NULL) != SQLITE_OK ||
		    sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) {
			snprintf(err, RULES_ERRLEN, "%s: migrating to version "
			    "%lld: %s", path, (long long)m->version,
			    sqlite3_errmsg(db));
			goto fail;
		}
		version = m->version;
	}
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		rules_db_errmsg(err, path, db);
		goto fail;
	}
	if (from == 0 && version != from)
		log_event(LOG_INFO, "rules_schema_created", "path=%s "
		    "version=%lld", path, (long long)version);
	else if (version != from)
		log_event(LOG_INFO, "rules_schema_migrated", "path=%s "
		    "from=%lld to=%lld", path, (long long)from,
		    (long long)version);
	sqlite3_close(db);
	return 0;
fail:
	if (intx)
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	log_event(LOG_WARN, "rules_load_failed", "err=%s", err);
	sqlite3_close(db);
	return -1;
}

/*
 * The daemon's loads are read-only; this looks read-only too, and opens
 * the database for writing only when a migration is due.
 */
int
rules_db_init(const char *path)
{
	sqlite3 *db = NULL;
	char err[RULES_ERRLEN];
	int64_t version;
	int fd, pending;

	/*
	 * Create the file ourselves so its mode is 0640 (or stricter, by the
	 * umask) from the start; SQLite gives -wal and -shm the same mode and
	 * treats an empty file as a new database (version 0, no tables).
	 */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd == -1 && errno != EEXIST) {
		log_event(LOG_WARN, "rules_open_failed", "path=%s err=%s", path,
		    strerror(errno));
		return -1;
	}
	if (fd != -1)
		close(fd);

	if ((db = rules_db_open_ro(path, err)) == NULL ||
	    rules_db_pending(db, path, &version, &pending, err) == -1) {
		log_event(LOG_WARN, "rules_load_failed", "err=%s", err);
		sqlite3_close(db);
		return -1;
	}
	sqlite3_close(db);
	return pending ? rules_db_migrate(path) : 0;
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
 * The reading of r's path glob that rules_path_accepts() compares with a
 * request's path read as lenient upstreams read it (urlpath_lenient()).
 * NULL, or an error message.
 */
static const char *
rules_path_alt(struct rule *r)
{
	size_t len = strlen(r->path);

	if (!urlpath_ambiguous(r->path, len))
		return NULL;
	if ((r->path_alt = malloc(len + 1)) == NULL)
		return rules_oom;
	if (urlpath_lenient(r->path, len, r->path_alt) == -1)
		return "path cannot be read as lenient upstreams read it";
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
		if ((why = rules_path_alt(r)) != NULL)
			return why;
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

/*
 * Say why rule r is not used as written.  A deny is not skipped: that
 * would open what it closed.  It has become a deny of everything on its
 * host (see rules_deny_row), and the line says so.
 */
static void
rules_log_unusable(const struct rule *r, const char *why)
{
	if (r->action != RULE_DENY)
		log_event(LOG_WARN, "rule_skipped", "rule=%lld err=%s",
		    (long long)r->id, why);
	else if (r->port != 0)
		log_event(LOG_WARN, "rule_deny_widened", "rule=%lld err=%s "
		    "denying=%s port=%d", (long long)r->id, why, r->host,
		    r->port);
	else
		log_event(LOG_WARN, "rule_deny_widened", "rule=%lld err=%s "
		    "denying=%s", (long long)r->id, why, r->host);
}

/* Out of memory, the text is NULL: taken for a deny, which fails closed. */
static int
rules_row_is_deny(sqlite3_stmt *st)
{
	const unsigned char *action;

	if (sqlite3_column_type(st, 6) != SQLITE_TEXT)
		return 0;
	action = sqlite3_column_text(st, 6);
	return action == NULL || strcmp((const char *)action, "deny") == 0;
}

/*
 * Refill r, from a deny row that rules_load_row() refused, as the widest
 * deny the row could have meant: its id, its priority (or first of all
 * when that is unusable; *resort is then set, as the row's place in the
 * ORDER BY no longer holds), its host (or '*' when that is unusable), its
 * port when usable, any method and path.  NULL or rules_oom.
 */
static const char *
rules_deny_row(sqlite3_stmt *st, struct rule *r, int *resort)
{
	int64_t id = r->id, port;
	const char *why;

	rules_rule_clear(r);
	r->id = id;
	r->action = RULE_DENY;
	if (sqlite3_column_type(st, 1) == SQLITE_INTEGER) {
		r->priority = sqlite3_column_int64(st, 1);
	} else {
		r->priority = INT64_MIN;
		*resort = 1;
	}
	why = rules_column_text(st, 2, &r->host, "host is not text");
	if (why == rules_oom)
		return why;
	if (why != NULL || rules_host_normalize(r->host) != NULL) {
		free(r->host);
		if ((r->host = strdup("*")) == NULL)
			return rules_oom;
	}
	if (sqlite3_column_type(st, 3) == SQLITE_INTEGER &&
	    (port = sqlite3_column_int64(st, 3)) >= 1 && port <= 65535)
		r->port = (int)port;
	return NULL;
}

static int
rules_order_cmp(const void *a, const void *b)
{
	const struct rule *x = a, *y = b;

	if (x->priority != y->priority)
		return x->priority < y->priority ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

static int
rules_load_rules(sqlite3 *db, const char *path, struct rules_snapshot *snap,
    char *err)
{
	sqlite3_stmt *st = NULL;
	struct rule *r, *grown;
	size_t cap = 0;
	const char *why, *reason;
	int rc, resort = 0;

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
		if (why != NULL && why != rules_oom && rules_row_is_deny(st)) {
			reason = why;
			if ((why = rules_deny_row(st, r, &resort)) == NULL) {
				rules_log_unusable(r, reason);
				snap->nskipped++;
			}
		}
		if (why == rules_oom) {
			rules_rule_clear(r);
			goto nomem;
		}
		if (why != NULL) {
			rules_log_unusable(r, why);
			rules_rule_clear(r);
			snap->nskipped++;
			continue;
		}
		snap->nrules++;
	}
	if (rc != SQLITE_DONE)
		goto fail;
	if (resort)
		qsort(snap->rules, snap->nrules, sizeof(*snap->rules),
		    rules_order_cmp);
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

/*
 * Secrets.  Each resolver below fills inj->value (malloc'd, NUL-terminated
 * for convenience, value_len bytes that may include a NUL) and returns
 * NULL, rules_oom, or why the secret is unusable.  A reason may be written
 * into buf (RULES_ERRLEN bytes) and never quotes the value, a variable's
 * name or a path: those are in the secrets row, which the log line names.
 */
static const char *
rules_secret_copy(const char *v, size_t len, struct rule_injection *inj)
{
	if ((inj->value = malloc(len + 1)) == NULL)
		return rules_oom;
	memcpy(inj->value, v, len);
	inj->value[len] = '\0';
	inj->value_len = len;
	return NULL;
}

/* sluice's own environment, as it was when the rules were loaded. */
static const char *
rules_secret_env(const char *var, size_t len, struct rule_injection *inj)
{
	const char *v;
	char *name;

	if (len == 0 || memchr(var, '\0', len) != NULL ||
	    memchr(var, '=', len) != NULL)
		return "env: not a variable name";
	if ((name = strndup(var, len)) == NULL)
		return rules_oom;
	v = getenv(name);
	free(name);
	if (v == NULL)
		return "env: variable is not set";
	return rules_secret_copy(v, strlen(v), inj);
}

/*
 * A file's bytes, less one trailing "\n" or "\r\n" (what editors and echo
 * leave).  O_NONBLOCK so that a FIFO at the path cannot stall the loader;
 * it is then refused as not a regular file.  The read buffer is wiped.
 */
static const char *
rules_secret_file(const char *path, size_t len, struct rule_injection *inj,
    char *buf)
{
	char *p = NULL, *data = NULL;
	const char *why = NULL;
	struct stat sb;
	size_t got = 0, n;
	ssize_t r;
	int fd;

	if (len == 0 || memchr(path, '\0', len) != NULL)
		return "file: not a path";
	if ((p = strndup(path, len)) == NULL)
		return rules_oom;
	fd = open(p, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd == -1 || fstat(fd, &sb) == -1) {
		snprintf(buf, RULES_ERRLEN, "file: %s", strerror(errno));
		why = buf;
	} else if (!S_ISREG(sb.st_mode))
		why = "file: not a regular file";
	else if ((data = malloc(RULES_SECRET_FILE_MAX + 1)) == NULL)
		why = rules_oom;
	/* One byte more than allowed, to tell a full file from a long one. */
	while (why == NULL && got <= RULES_SECRET_FILE_MAX) {
		r = read(fd, data + got, RULES_SECRET_FILE_MAX + 1 - got);
		if (r == -1 && errno != EINTR) {
			snprintf(buf, RULES_ERRLEN, "file: %s",
			    strerror(errno));
			why = buf;
		} else if (r == 0)
			break;
		else if (r > 0)
			got += r;
	}
	if (why == NULL && got > RULES_SECRET_FILE_MAX)
		why = "file: larger than 64 KiB";
	else if (why == NULL) {
		n = got;
		if (n > 0 && data[n - 1] == '\n' && --n > 0 &&
		    data[n - 1] == '\r')
			n--;
		why = rules_secret_copy(data, n, inj);
	}
	if (data != NULL) {
		explicit_bzero(data, got);
		free(data);
	}
	if (fd != -1)
		close(fd);
	free(p);
	return why;
}

static const char *
rules_secret_resolve(const char *v, size_t len, struct rule_injection *inj,
    char *buf)
{
	if (len >= 4 && memcmp(v, "env:", 4) == 0)
		return rules_secret_env(v + 4, len - 4, inj);
	if (len >= 5 && memcmp(v, "file:", 5) == 0)
		return rules_secret_file(v + 5, len - 5, inj, buf);
	return rules_secret_copy(v, len, inj);
}

/*
 * Fields a credential must not set: they frame or route the request, and
 * replacing the client's copy would make sluice and the upstream disagree
 * on where it ends or whom it is for.
 */
static const char *const rules_fixed_fields[] = {
	"connection", "content-length", "host", "keep-alive",
	"proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
};

static const char *
rules_header_name_check(const char *name)
{
	const char *p;
	size_t i;

	if (*name == '\0')
		return "header needs a name";
	for (p = name; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') ||
		    strchr("!#$%&'*+-.^_`|~", *p) != NULL))
			return "header name is not an HTTP token";
	for (i = 0; i < sizeof(rules_fixed_fields) /
	    sizeof(rules_fixed_fields[0]); i++)
		if (strcasecmp(name, rules_fixed_fields[i]) == 0)
			return "header frames or routes the request, "
			    "it cannot be injected";
	return NULL;
}

/*
 * inject.c writes the name into the request line as it is and recognizes
 * the client's copy by its decoded name, so a name may only hold what a
 * query carries literally and what decoding leaves alone: no '%' or '+',
 * no '&', '=' or '#', no space, control or non-ASCII byte.
 */
static const char *
rules_query_name_check(const char *name)
{
	const char *p;

	if (*name == '\0')
		return "query needs a parameter name";
	for (p = name; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') ||
		    strchr("-._~!$'()*,;:@/?", *p) != NULL))
			return "query parameter name must be letters, digits "
			    "or -._~!$'()*,;:@/?";
	return NULL;
}

/*
 * Two credentials of one rule under one name would both be sent (and the
 * upstream pick either); the rule is ambiguous, so it is refused.
 */
static const char *
rules_injection_dup_check(const struct rule *r,
    const struct rule_injection *inj)
{
	const struct rule_injection *o;
	const char *f = inject_field_name(inj), *of;

	for (o = r->injections; o != inj; o++) {
		of = inject_field_name(o);
		if (f != NULL && of != NULL && strcasecmp(f, of) == 0)
			return "sets the same header as an earlier injection";
		if (f == NULL && of == NULL && strcmp(inj->name, o->name) == 0)
			return "sets the same parameter as an earlier "
			    "injection";
	}
	return NULL;
}

/*
 * Fill inj, the newest of r's injections, from the current row:
 * i.rowid, i.rule_id, i.kind, i.name, s.rowid, s.value
 * (the secret's name, column 6, is the caller's).
 */
static const char *
rules_injection_row(sqlite3_stmt *st, struct rule *r,
    struct rule_injection *inj, char *buf)
{
	const char *kind, *why;

	kind = sqlite3_column_type(st, 2) == SQLITE_TEXT ?
	    (const char *)sqlite3_column_text(st, 2) : "";
	if (strcmp(kind, "bearer") == 0)
		inj->kind = RULE_INJECT_BEARER;
	else if (strcmp(kind, "basic") == 0)
		inj->kind = RULE_INJECT_BASIC;
	else if (strcmp(kind, "header") == 0)
		inj->kind = RULE_INJECT_HEADER;
	else if (strcmp(kind, "query") == 0)
		inj->kind = RULE_INJECT_QUERY;
	else
		return "unknown injection kind";

	if (inj->kind == RULE_INJECT_HEADER || inj->kind == RULE_INJECT_QUERY) {
		if ((why = rules_column_text(st, 3, &inj->name,
		    "injection needs a name")) != NULL)
			return why;
		why = inj->kind == RULE_INJECT_HEADER ?
		    rules_header_name_check(inj->name) :
		    rules_query_name_check(inj->name);
		if (why != NULL)
			return why;
	}
	if ((why = rules_injection_dup_check(r, inj)) != NULL)
		return why;

	if (sqlite3_column_type(st, 4) == SQLITE_NULL)
		return "no such secret";
	if (sqlite3_column_type(st, 5) != SQLITE_TEXT)
		return "value is not text";
	if ((why = rules_secret_resolve(
	    (const char *)sqlite3_column_text(st, 5),
	    sqlite3_column_bytes(st, 5), inj, buf)) != NULL)
		return why;
	if (inject_prepare(inj) == -1)
		return "value cannot be sent this way (a control character "
		    "in a header, or basic without ':')";
	if (inject_mask_forms(&r->mask, inj) == -1)
		return "too many secrets on one rule to mask in responses";
	return NULL;
}

/* A secret's name for a log line: printable ASCII, bounded. */
static void
rules_log_name(char *dst, size_t dstsz, const char *name)
{
	size_t i;

	for (i = 0; i + 1 < dstsz && name[i] != '\0'; i++)
		dst[i] = name[i] >= 0x20 && name[i] < 0x7f && name[i] != '\'' ?
		    name[i] : '?';
	dst[i] = '\0';
}

struct rules_byid {
	int64_t		 id;
	size_t		 pos;		/* in snap->rules */
};

static int
rules_byid_cmp(const void *a, const void *b)
{
	const struct rules_byid *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/*
 * What a deny whose other rows (injections, limit, cache policy) are
 * unusable becomes: a deny of everything on its host and port.
 */
static void
rules_deny_widen(struct rule *r)
{
	struct rule keep = *r;

	r->host = NULL;
	rules_rule_clear(r);
	r->id = keep.id;
	r->priority = keep.priority;
	r->host = keep.host;
	r->port = keep.port;
	r->action = RULE_DENY;
}

/*
 * Drop the rules marked bad, keeping the others in (priority, id) order;
 * a deny is widened instead (rules_log_unusable() said so).
 */
static void
rules_drop_marked(struct rules_snapshot *snap, const unsigned char *bad)
{
	size_t i, n;

	for (i = n = 0; i < snap->nrules; i++) {
		if (bad[i])
			snap->nskipped++;
		if (bad[i] && snap->rules[i].action != RULE_DENY) {
			rules_rule_clear(&snap->rules[i]);
			continue;
		}
		if (bad[i])
			rules_deny_widen(&snap->rules[i]);
		snap->rules[n++] = snap->rules[i];
	}
	snap->nrules = n;
}

/* The snapshot's rules sorted by id, for attaching rows of other tables. */
static struct rules_byid *
rules_byid_new(const struct rules_snapshot *snap)
{
	struct rules_byid *byid;
	size_t i;

	if ((byid = reallocarray(NULL, snap->nrules, sizeof(*byid))) == NULL)
		return NULL;
	for (i = 0; i < snap->nrules; i++) {
		byid[i].id = snap->rules[i].id;
		byid[i].pos = i;
	}
	qsort(byid, snap->nrules, sizeof(*byid), rules_byid_cmp);
	return byid;
}

/*
 * Attach each enabled rule's injections, in rowid order, with their
 * secrets resolved.  A rule with any unusable injection is dropped whole
 * (one line, its first problem): sending some of its credentials and not
 * others is not what anyone asked for.  A database made by hand before
 * there were injections has no such table and no injections.
 */
static int
rules_load_injections(sqlite3 *db, const char *path,
    struct rules_snapshot *snap, char *err)
{
	sqlite3_stmt *st = NULL;
	struct rules_byid *byid = NULL, key, *hit;
	struct rule_injection *grown, *inj;
	unsigned char *bad = NULL;
	char buf[RULES_ERRLEN], name[RULES_LOGNAME_MAX], line[RULES_ERRLEN * 2];
	const unsigned char *secret;
	const char *why;
	int64_t ntables, rowid, lastrowid = 0;
	struct rule *r;
	size_t n;
	int rc = SQLITE_NOMEM;

	if (rules_db_int(db, "SELECT count(*) FROM sqlite_schema "
	    "WHERE type = 'table' AND name = 'injections'", &ntables) == -1) {
		rc = SQLITE_ERROR;
		goto fail;
	}
	if (ntables == 0 || snap->nrules == 0)
		return 0;
	if ((byid = rules_byid_new(snap)) == NULL ||
	    (bad = calloc(snap->nrules, 1)) == NULL)
		goto fail;

	/* Without a UNIQUE secrets.name one injection can meet two rows. */
	if ((rc = sqlite3_prepare_v2(db,
	    "SELECT i.rowid, i.rule_id, i.kind, i.name, s.rowid, s.value, "
	    "i.secret FROM injections AS i "
	    "LEFT JOIN secrets AS s ON s.name = i.secret ORDER BY i.rowid",
	    -1, &st, NULL)) != SQLITE_OK)
		goto fail;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		rowid = sqlite3_column_int64(st, 0);
		key.id = sqlite3_column_int64(st, 1);
		hit = bsearch(&key, byid, snap->nrules, sizeof(*byid),
		    rules_byid_cmp);
		if (hit == NULL || bad[hit->pos])
			continue;
		r = &snap->rules[hit->pos];
		n = r->ninjections;
		rc = SQLITE_NOMEM;
		if ((grown = reallocarray(r->injections, n + 1,
		    sizeof(*grown))) == NULL)
			goto fail;
		r->injections = grown;
		inj = &r->injections[n];
		memset(inj, 0, sizeof(*inj));
		r->ninjections++;
		secret = sqlite3_column_text(st, 6);
		if ((inj->secret_name = strdup(secret != NULL ?
		    (const char *)secret : "")) == NULL)
			goto fail;
		if (n > 0 && rowid == lastrowid)
			why = "more than one secret has this name";
		else
			why = rules_injection_row(st, r, inj, buf);
		lastrowid = rowid;
		if (why == rules_oom)
			goto fail;
		if (why != NULL) {
			rules_log_name(name, sizeof(name), inj->secret_name);
			snprintf(line, sizeof(line), "secret '%s': %s", name,
			    why);
			rules_log_unusable(r, line);
			bad[hit->pos] = 1;
		}
	}
	if (rc != SQLITE_DONE)
		goto fail;

	rules_drop_marked(snap, bad);
	sqlite3_finalize(st);
	free(byid);
	free(bad);
	return 0;
fail:
	snprintf(err, RULES_ERRLEN, "%s: %s", path,
	    rc == SQLITE_NOMEM ? rules_oom : sqlite3_errmsg(db));
	sqlite3_finalize(st);
	free(byid);
	free(bad);
	return -1;
}

static unsigned char
rules_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

static uint64_t
rules_hash_step(uint64_t h, unsigned char c)
{
	return (h ^ rules_lower(c)) * RULES_FNV_PRIME;
}

/* FNV-1a of the lowercased name, last byte first. */
static uint64_t
rules_hash(const char *s, size_t len)
{
	uint64_t h = RULES_FNV_BASIS;

	while (len > 0)
		h = rules_hash_step(h, s[--len]);
	return h;
}

/*
 * FNV's low bits only depend on the inputs' low bits; fold in the high
 * half so small tables see every bit of every byte.
 */
static size_t
rules_names_home(const struct rules_names *t, uint64_t h)
{
	return (size_t)(h ^ (h >> 32)) & t->mask;
}

/* The slot of s (len bytes, any case, hash h), or NULL. */
static const struct rules_slot *
rules_names_find(const struct rules_names *t, const char *s, size_t len,
    uint64_t h)
{
	const struct rules_slot *sl;
	size_t i, j;

	/* Most lookups end here, without touching the slots. */
	if (len >= 256 || (t->lens[len / 64] & UINT64_C(1) << len % 64) == 0)
		return NULL;
	for (i = rules_names_home(t, h); (sl = &t->slots[i])->name != NULL;
	    i = (i + 1) & t->mask) {
		if (sl->hash != h || sl->len != len)
			continue;
		for (j = 0; j < len && rules_lower(s[j]) == sl->name[j]; j++)
			;
		if (j == len)
			return sl;
	}
	return NULL;
}

/* The slot for name (lowercase), claimed if new. */
static struct rules_slot *
rules_names_add(struct rules_names *t, const char *name)
{
	struct rules_slot *sl;
	size_t i, len = strlen(name);
	uint64_t h = rules_hash(name, len);

	for (i = rules_names_home(t, h); (sl = &t->slots[i])->name != NULL;
	    i = (i + 1) & t->mask)
		if (sl->hash == h && sl->len == len &&
		    memcmp(sl->name, name, len) == 0)
			return sl;
	sl->name = name;
	sl->len = len;
	sl->hash = h;
	t->lens[len / 64] |= UINT64_C(1) << len % 64;
	return sl;
}

/* Room for n names, at most half full. */
static int
rules_names_init(struct rules_names *t, size_t n)
{
	size_t size = 1;

	if (n == 0)
		return 0;
	while (size < 2 * n)
		size <<= 1;
	if ((t->slots = calloc(size, sizeof(*t->slots))) == NULL)
		return -1;
	t->mask = size - 1;
	return 0;
}

/* The table and key a rule's host goes under; NULL for '*'. */
static struct rules_slot *
rules_index_slot(struct rules_index *ix, const struct rule *r)
{
	if (strcmp(r->host, "*") == 0)
		return NULL;
	if (r->host[0] == '*')
		return rules_names_add(&ix->wild, r->host + 2);
	return rules_names_add(&ix->exact, r->host);
}

/*
 * Two passes over the rules, which are in (priority, id) order: count each
 * name's rules and give each name its run of the pool, then fill the runs.
 * Every list is thereby ascending.
 */
static int
rules_index_build(const struct rules_snapshot *snap, struct rules_index *ix)
{
	struct rules_names *tables[] = { &ix->exact, &ix->wild };
	struct rules_slot *sl;
	size_t i, t, nexact = 0, nwild = 0, off = 0;

	for (i = 0; i < snap->nrules; i++) {
		if (snap->rules[i].host[0] != '*')
			nexact++;
		else if (snap->rules[i].host[1] == '.')
			nwild++;
	}
	/* The pool's spare entry: no rules must not look like no memory. */
	if (rules_names_init(&ix->exact, nexact) == -1 ||
	    rules_names_init(&ix->wild, nwild) == -1 ||
	    (ix->pool = reallocarray(NULL, snap->nrules + 1,
	    sizeof(*ix->pool))) == NULL)
		return -1;

	for (i = 0; i < snap->nrules; i++)
		if ((sl = rules_index_slot(ix, &snap->rules[i])) != NULL)
			sl->n++;
	for (t = 0; t < 2; t++) {
		for (i = 0; tables[t]->slots != NULL &&
		    i <= tables[t]->mask; i++) {
			sl = &tables[t]->slots[i];
			sl->idx = ix->pool + off;
			off += sl->n;
			sl->n = 0;
		}
	}
	ix->star = ix->pool + off;
	for (i = 0; i < snap->nrules; i++) {
		if ((sl = rules_index_slot(ix, &snap->rules[i])) != NULL)
			sl->idx[sl->n++] = i;
		else
			ix->star[ix->nstar++] = i;
	}
	return 0;
}

/* One consistent read of everything a snapshot holds. */
static const char *rules_limit_shared(sqlite3_stmt *, struct rule_limit *);

/* Validate a rate_limits row into lim; the reason it is unusable, or NULL. */
static const char *
rules_limit_row(sqlite3_stmt *st, struct rule_limit *lim)
{
	const char *scope = (const char *)sqlite3_column_text(st, 4);
	const char *on = (const char *)sqlite3_column_text(st, 5);
	int64_t v[4];
	int i;

	for (i = 0; i < 4; i++) {
		int col = i < 3 ? i + 1 : 6;

		if (sqlite3_column_type(st, col) == SQLITE_NULL && (i == 2 ||
		    i == 3))
			v[i] = 0;
		else if (sqlite3_column_type(st, col) != SQLITE_INTEGER ||
		    (v[i] = sqlite3_column_int64(st, col)) < 1 ||
		    v[i] > INT32_MAX)
			return "requests, per_seconds, burst and max_delay_ms "
			    "must be positive integers";
	}
	lim->requests = (int)v[0];
	lim->per_seconds = (int)v[1];
	lim->burst = v[2] ? (int)v[2] : lim->requests;
	lim->max_delay_ms = v[3] ? (int)v[3] : RULES_DEFAULT_MAX_DELAY_MS;
	if (scope == NULL || (strcmp(scope, "rule") != 0 &&
	    strcmp(scope, "client") != 0))
		return "scope must be 'rule' or 'client'";
	if (on == NULL || (strcmp(on, "reject") != 0 &&
	    strcmp(on, "delay") != 0))
		return "on_limit must be 'reject' or 'delay'";
	lim->per_client = strcmp(scope, "client") == 0;
	lim->delay = strcmp(on, "delay") == 0;
	return rules_limit_shared(st, lim);
}

/*
 * Columns 7 and 8, shared and lease (version 2; a hand-made database
 * without them selects NULLs: not shared).
 */
static const char *
rules_limit_shared(sqlite3_stmt *st, struct rule_limit *lim)
{
	int64_t shared = 0, lease = 1;

	if (sqlite3_column_type(st, 7) != SQLITE_NULL &&
	    (sqlite3_column_type(st, 7) != SQLITE_INTEGER ||
	    ((shared = sqlite3_column_int64(st, 7)) != 0 && shared != 1)))
		return "shared must be 0 or 1";
	if (sqlite3_column_type(st, 8) != SQLITE_NULL &&
	    (sqlite3_column_type(st, 8) != SQLITE_INTEGER ||
	    (lease = sqlite3_column_int64(st, 8)) < 1 ||
	    lease > RULES_MAX_LEASE))
		return "lease must be a positive integer up to 1000000";
	lim->shared = (int)shared;
	lim->lease = (int)lease;
	return NULL;
}

/* A cache_policies row into c; the reason it is unusable, or NULL. */
static const char *
rules_cache_row(sqlite3_stmt *st, struct rule *r)
{
	struct rule_cache *c = &r->cache;
	int64_t ttl, max, heur;

	if (sqlite3_column_type(st, 1) != SQLITE_INTEGER ||
	    (ttl = sqlite3_column_int64(st, 1)) < 1 || ttl > INT32_MAX)
		return "ttl_seconds must be a positive integer";
	if (sqlite3_column_type(st, 2) == SQLITE_NULL)
		max = RULES_DEFAULT_CACHE_MAX;
	else if (sqlite3_column_type(st, 2) != SQLITE_INTEGER ||
	    (max = sqlite3_column_int64(st, 2)) < 1 || max > INT32_MAX)
		return "max_bytes must be a positive integer";
	heur = sqlite3_column_type(st, 3) == SQLITE_NULL ? 1 :
	    sqlite3_column_int64(st, 3);
	if (heur != 0 && heur != 1)
		return "heuristic must be 0 or 1";
	c->ttl_seconds = (int)ttl;
	c->max_bytes = (size_t)max;
	c->heuristic = (int)heur;
	r->has_cache = 1;
	return NULL;
}

static const char *
rules_limit_attach(sqlite3_stmt *st, struct rule *r)
{
	const char *why = rules_limit_row(st, &r->limit);

	r->has_limit = why == NULL;
	return why;
}

/*
 * Attach the rows of table (one per rule id, the id in column 0 of sql) to
 * the snapshot's rules with attach().  A rule whose row is unusable is
 * dropped: serving it without its limit or policy is not what anyone
 * asked for.  A database made by hand without the table has no such rows.
 */
static int
rules_load_attached(sqlite3 *db, const char *path, struct rules_snapshot *snap,
    char *err, const char *table, const char *sql,
    const char *(*attach)(sqlite3_stmt *, struct rule *))
{
	sqlite3_stmt *st = NULL;
	struct rules_byid *byid = NULL, key, *hit;
	unsigned char *bad = NULL;
	char q[128], line[RULES_ERRLEN];
	const char *why;
	int64_t ntables;
	struct rule *r;
	int rc = SQLITE_NOMEM;

	snprintf(q, sizeof(q), "SELECT count(*) FROM sqlite_schema "
	    "WHERE type = 'table' AND name = '%s'", table);
	if (rules_db_int(db, q, &ntables) == -1) {
		rc = SQLITE_ERROR;
		goto fail;
	}
	if (ntables == 0 || snap->nrules == 0)
		return 0;
	if ((byid = rules_byid_new(snap)) == NULL ||
	    (bad = calloc(snap->nrules, 1)) == NULL)
		goto fail;
	if ((rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL)) != SQLITE_OK)
		goto fail;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		key.id = sqlite3_column_int64(st, 0);
		hit = bsearch(&key, byid, snap->nrules, sizeof(*byid),
		    rules_byid_cmp);
		if (hit == NULL)
			continue;
		r = &snap->rules[hit->pos];
		if ((why = attach(st, r)) != NULL) {
			snprintf(line, sizeof(line), "%s: %s", table, why);
			rules_log_unusable(r, line);
			bad[hit->pos] = 1;
		}
	}
	if (rc != SQLITE_DONE)
		goto fail;
	rules_drop_marked(snap, bad);
	sqlite3_finalize(st);
	free(byid);
	free(bad);
	return 0;
fail:
	snprintf(err, RULES_ERRLEN, "%s: %s", path,
	    rc == SQLITE_NOMEM ? rules_oom : sqlite3_errmsg(db));
	sqlite3_finalize(st);
	free(byid);
	free(bad);
	return -1;
}

static struct rules_snapshot *
rules_load_db(sqlite3 *db, const char *path, char *err)
{
	struct rules_snap *s;
	struct rules_snapshot *snap;
	int64_t version;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(err, RULES_ERRLEN, "%s: out of memory", path);
		return NULL;
	}
	snap = &s->pub;
	snap->refcnt = 1;
	if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, RULES_ERRLEN, "%s: %s", path, sqlite3_errmsg(db));
		goto fail;
	}
	if (rules_db_check_version(db, path, &version, err) == -1 ||
	    rules_load_rules(db, path, snap, err) == -1 ||
	    rules_load_injections(db, path, snap, err) == -1 ||
	    rules_load_attached(db, path, snap, err, "rate_limits",
	    version >= 2 ? "SELECT rule_id, requests, per_seconds, burst, "
	    "scope, on_limit, max_delay_ms, shared, lease FROM rate_limits" :
	    "SELECT rule_id, requests, per_seconds, burst, scope, on_limit, "
	    "max_delay_ms, NULL, NULL FROM rate_limits",
	    rules_limit_attach) == -1 ||
	    rules_load_attached(db, path, snap, err, "cache_policies",
	    "SELECT rule_id, ttl_seconds, max_bytes, heuristic "
	    "FROM cache_policies", rules_cache_row) == -1)
		goto fail;
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	if (rules_index_build(snap, &s->index) == -1) {
		snprintf(err, RULES_ERRLEN, "%s: out of memory", path);
		rules_snapshot_free(snap);
		return NULL;
	}
	return snap;
fail:
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	rules_snapshot_free(snap);
	return NULL;
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
		log_event(LOG_WARN, "rules_load_failed", "err=%s", err);
	return snap;
}

/*
 * The definition of host matching that the index implements; the unit
 * tests hold the two to agreement.  Hosts come without a port: callers
 * strip one from a Host header before matching.
 */
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
 * The position after s[i] in s, or in s read with every run of '/' as one
 * (merge): a '/' right after a '/' is skipped.
 */
static size_t
rules_glob_next(const char *s, size_t slen, size_t i, int merge)
{
	i++;
	while (merge && i < slen && s[i] == '/' && s[i - 1] == '/')
		i++;
	return i;
}

/*
 * '*' matches any run, everything else itself: the path is compared as
 * exchange.c normalised it, so "%2F" is three characters, not a '/'.  With
 * merge, s is read as if its runs of '/' were one, without copying it.
 * On a mismatch after a star, let that star swallow one more character
 * and retry from there: only the last star ever needs revisiting, so the
 * cost is O(len(glob) * slen), never exponential.
 */
static int
rules_glob_read(const char *glob, const char *s, size_t slen, int merge,
    int fold)
{
	const char *star = NULL;
	size_t i = 0, star_i = 0;

	while (i < slen) {
		if (*glob == '*') {
			star = glob++;
			star_i = i;
		} else if (*glob != '\0' && (*glob == s[i] || (fold &&
		    rules_lower(*glob) == rules_lower(s[i])))) {
			glob++;
			i = rules_glob_next(s, slen, i, merge);
		} else if (star != NULL) {
			glob = star + 1;
			i = star_i = rules_glob_next(s, slen, star_i, merge);
		} else {
			return 0;
		}
	}
	while (*glob == '*')
		glob++;
	return *glob == '\0';
}

int
rules_glob_match(const char *glob, const char *s, size_t slen)
{
	return rules_glob_read(glob, s, slen, 0, 0);
}

/*
 * Does r's path glob match s, under either reading of repeated slashes?
 * Upstreams differ (nginx merges "//", S3 keys keep it) and the path is
 * forwarded as sent, so a deny matches when either reading matches and
 * an allow only when both do: no upstream can be reached around a deny
 * or beyond an allow.  The two readings differ only when there is "//".
 * Case is the same kind of question (IIS and some frameworks read paths
 * in any case), so a deny also matches in any case; an allow matches only
 * the exact spelling.  So are trailing slashes: Express, Spring MVC
 * (before 6) and Rails route "/admin/" (and "/admin//") to "/admin", so a
 * deny also meets the path without them.
 */
static int
rules_path_reads(const char *glob, const char *s, size_t n, int slashes,
    int deny)
{
	size_t t = n;

	if (!deny)
		return rules_glob_read(glob, s, n, 0, 0) && (!slashes ||
		    rules_glob_read(glob, s, n, 1, 0));
	while (t > 1 && s[t - 1] == '/')
		t--;
	return rules_glob_read(glob, s, n, 0, 1) ||
	    (slashes && rules_glob_read(glob, s, n, 1, 1)) ||
	    (t < n && (rules_glob_read(glob, s, t, 0, 1) ||
	    (slashes && rules_glob_read(glob, s, t, 1, 1))));
}

/*
 * The same for the request's path, and, when it holds an encoded '/' or
 * '\' or a ';', for the path lenient upstreams make of it
 * ("/ok%2F..%2Fadmin" is "/admin" to nginx, "/admin;x" is "/admin" to
 * Tomcat), compared with the glob read the same way: a deny matches
 * when either does (and its glob read that way also meets the path as
 * sent), an allow only when both do.  When the path cannot be read that
 * way, only denies match.
 */
static int
rules_path_accepts(const struct rule *r, const struct rules_query *q)
{
	const char *glob_alt = r->path_alt != NULL ? r->path_alt : r->path;
	int sent, alt, deny = r->action != RULE_ALLOW || q->limit;

	if (q->path == NULL)
		return 0;
	sent = rules_path_reads(r->path, q->path, q->pathlen, q->slashes,
	    deny);
	if (deny && !sent && r->path_alt != NULL)
		sent = rules_path_reads(r->path_alt, q->path, q->pathlen,
		    q->slashes, 1);
	if (!q->lenient)
		return sent;
	if (q->alt == NULL)
		return deny;
	alt = rules_path_reads(glob_alt, q->alt, q->altlen, q->alt_slashes,
	    deny);
	return deny ? sent || alt : sent && alt;
}

static int
rules_query_accepts(const struct rule *r, const struct rules_query *q)
{
	if (r->port != 0 && r->port != q->port)
		return 0;
	if (q->conn)
		return 1;
	if (q->flow)
		return r->action != RULE_DENY ||
		    (r->method == NULL && r->path == NULL);
	if (r->action == RULE_PASSTHROUGH || (q->limit && !r->has_limit))
		return 0;
	/* Methods are case-sensitive, but frameworks upper-case them. */
	if (r->method != NULL &&
	    (q->method == NULL || strcasecmp(r->method, q->method) != 0))
		return 0;
	if (r->path != NULL && !rules_path_accepts(r, q))
		return 0;
	return 1;
}

/* The first position in list that q accepts, if it comes before best. */
static size_t
rules_list_first(const struct rules_snapshot *snap, const size_t *list,
    size_t n, const struct rules_query *q, size_t best)
{
	size_t i;

	for (i = 0; i < n && list[i] < best; i++)
		if (rules_query_accepts(&snap->rules[list[i]], q))
			return list[i];
	return best;
}

/*
 * The host's candidate lists are its exact name's, those of the wildcard
 * names that are its parent suffixes (for a.b.example.com:
 * "b.example.com", "example.com" and "com"), and the '*' list.  Walking
 * the host from its end, the running hash at each dot is that of the
 * suffix after it, so one pass finds every list; a dot at the very start
 * has no label before it and stands for no wildcard.  The answer is the
 * smallest position any list accepts, as a walk over all rules would find.
 */
static const struct rule *
rules_index_match(const struct rules_snapshot *snap, const char *host,
    const struct rules_query *q)
{
	const struct rules_snap *s = (const struct rules_snap *)snap;
	const struct rules_index *ix = &s->index;
	const struct rules_slot *sl;
	uint64_t h = RULES_FNV_BASIS;
	size_t hlen, i, best = snap->nrules;

	hlen = strlen(host);
	if (hlen > 1 && host[hlen - 1] == '.')
		hlen--;
	for (i = hlen; i-- > 0; ) {
		if (host[i] == '.' && i > 0 && (sl = rules_names_find(&ix->wild,
		    host + i + 1, hlen - i - 1, h)) != NULL)
			best = rules_list_first(snap, sl->idx, sl->n, q, best);
		h = rules_hash_step(h, host[i]);
	}
	if ((sl = rules_names_find(&ix->exact, host, hlen, h)) != NULL)
		best = rules_list_first(snap, sl->idx, sl->n, q, best);
	best = rules_list_first(snap, ix->star, ix->nstar, q, best);
	return best < snap->nrules ? &snap->rules[best] : NULL;
}

const struct rule *
rules_match_conn(const struct rules_snapshot *snap, const char *host,
    int port)
{
	struct rules_query q = { .conn = 1, .port = port };

	return rules_index_match(snap, host, &q);
}

const struct rule *
rules_match_flow(const struct rules_snapshot *snap, const char *name,
    const char *addr, int port)
{
	struct rules_query q = { .flow = 1, .port = port };
	const struct rule *by_name = NULL, *by_addr;

	if (name != NULL)
		by_name = rules_index_match(snap, name, &q);
	by_addr = rules_index_match(snap, addr, &q);
	/* Both point into snap->rules, which is in matching order. */
	if (by_name == NULL || (by_addr != NULL && by_addr < by_name))
		return by_addr;
	return by_name;
}

/* A request's rule, or (limit) the rule whose rate limit it spends. */
static const struct rule *
rules_match_path(const struct rules_snapshot *snap, const char *host,
    int port, const char *method, const char *path, size_t pathlen,
    int limit)
{
	struct rules_query q = {
		.port = port,
		.method = method,
		.path = path,
		.pathlen = pathlen,
		.slashes = path != NULL &&
		    memmem(path, pathlen, "//", 2) != NULL,
		.limit = limit,
	};
	const struct rule *rule;
	char *alt = NULL;
	ssize_t n;

	if (path != NULL && urlpath_ambiguous(path, pathlen)) {
		q.lenient = 1;
		if ((alt = malloc(pathlen + 1)) != NULL &&
		    (n = urlpath_lenient(path, pathlen, alt)) >= 0) {
			q.alt = alt;
			q.altlen = (size_t)n;
			q.alt_slashes = memmem(alt, q.altlen, "//", 2) != NULL;
		}
	}
	rule = rules_index_match(snap, host, &q);
	free(alt);
	return rule;
}

const struct rule *
rules_match_request(const struct rules_snapshot *snap, const char *host,
    int port, const char *method, const char *path, size_t pathlen)
{
	return rules_match_path(snap, host, port, method, path, pathlen, 0);
}

const struct rule *
rules_match_limit(const struct rules_snapshot *snap, const char *host,
    int port, const char *method, const char *path, size_t pathlen)
{
	return rules_match_path(snap, host, port, method, path, pathlen, 1);
}

/* Hand snap (and our reference to it) over as rs's current snapshot. */
static void
rules_publish(struct rules *rs, struct rules_snapshot *snap)
{
	struct rules_snapshot *old;

	pthread_mutex_lock(&rs->mtx);
	old = rs->current;
	snap->generation = atomic_load(&rs->gen) + 1;
	rs->current = snap;
	atomic_store(&rs->gen, snap->generation);
	pthread_mutex_unlock(&rs->mtx);
	rules_snapshot_unref(old);
	log_event(LOG_INFO, "rules_loaded", "rules=%zu skipped=%zu "
	    "generation=%llu", snap->nrules, snap->nskipped,
	    (unsigned long long)snap->generation);
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
rules_loader_load(struct rules *rs, char *err)
{
	struct rules_loader *ldr = &rs->ldr;
	struct rules_snapshot *snap;

	if (rules_db_int(ldr->db, "PRAGMA data_version",
	    &ldr->data_version) == -1) {
		snprintf(err, RULES_ERRLEN, "%s: %s", ldr->path,
		    sqlite3_errmsg(ldr->db));
		return -1;
	}
	if ((snap = rules_load_db(ldr->db, ldr->path, err)) == NULL)
		return -1;
	rules_publish(rs, snap);
	return 0;
}

/*
 * One poll: reload if the file was replaced (a new inode at the path), a
 * commit changed it, we were asked to, or the last attempt failed.  A path
 * that vanished keeps the old connection (and snapshot) until a file is
 * back.  Replacing the file by rename is only safe once the old database's
 * -wal is gone: SQLite pairs a -wal with whatever file is at its path, and
 * our open connection keeps the last writer from removing it.  sluice-rules
 * install checkpoints and removes it before its rename (rulesdist.c).
 */
static void
rules_loader_poll(struct rules *rs, int forced)
{
	struct rules_loader *ldr = &rs->ldr;
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
	if (rules_loader_load(rs, err) == -1)
		goto fail;
	atomic_store(&rs->reloads, atomic_load(&rs->reloads) + 1);
	ldr->failing = 0;
	ldr->lasterr[0] = '\0';
	return;
fail:
	/* A failing file is retried each poll: count the first failure. */
	if (!ldr->failing || forced)
		atomic_store(&rs->reload_failures,
		    atomic_load(&rs->reload_failures) + 1);
	if (strcmp(err, ldr->lasterr) != 0) {
		log_event(LOG_WARN, "rules_reload_failed", "generation=%llu "
		    "err=%s", (unsigned long long)rules_generation(rs), err);
		memcpy(ldr->lasterr, err, sizeof(ldr->lasterr));
	}
	ldr->failing = 1;
}

static void *
rules_loader_main(void *arg)
{
	struct rules *rs = arg;
	struct timespec deadline;
	int forced;

	pthread_mutex_lock(&rs->mtx);
	while (!rs->stopping) {
		clock_gettime(CLOCK_MONOTONIC, &deadline);
		deadline.tv_sec += rs->ldr.interval_ms / 1000;
		deadline.tv_nsec += (long)(rs->ldr.interval_ms % 1000) *
		    1000000;
		if (deadline.tv_nsec >= 1000000000) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000;
		}
		while (!rs->stopping && !rs->reload_wanted &&
		    pthread_cond_timedwait(&rs->cond, &rs->mtx,
		    &deadline) != ETIMEDOUT)
			;
		if (rs->stopping)
			break;
		forced = rs->reload_wanted;
		rs->reload_wanted = 0;
		pthread_mutex_unlock(&rs->mtx);
		rules_loader_poll(rs, forced);
		pthread_mutex_lock(&rs->mtx);
	}
	pthread_mutex_unlock(&rs->mtx);
	return NULL;
}

/* A monotonic clock, so that setting the wall clock cannot stall polls. */
static int
rules_cond_init(pthread_cond_t *cond)
{
	pthread_condattr_t ca;
	int rc;

	if ((rc = pthread_condattr_init(&ca)) != 0)
		return rc;
	if ((rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC)) == 0)
		rc = pthread_cond_init(cond, &ca);
	pthread_condattr_destroy(&ca);
	return rc;
}

/* A handle with its lock and condition variable; NULL with errno set. */
static struct rules *
rules_new(void)
{
	struct rules *rs;

	if ((rs = calloc(1, sizeof(*rs))) == NULL)
		return NULL;
	if ((errno = pthread_mutex_init(&rs->mtx, NULL)) != 0) {
		free(rs);
		return NULL;
	}
	if ((errno = rules_cond_init(&rs->cond)) != 0) {
		pthread_mutex_destroy(&rs->mtx);
		free(rs);
		return NULL;
	}
	return rs;
}

/* Free what rules_start() made; the loader thread is not running. */
static void
rules_free(struct rules *rs)
{
	sqlite3_close(rs->ldr.db);
	free(rs->ldr.path);
	rules_snapshot_unref(rs->current);
	pthread_cond_destroy(&rs->cond);
	pthread_mutex_destroy(&rs->mtx);
	free(rs);
}

struct rules *
rules_start(const char *path, int interval_ms)
{
	struct rules *rs;
	char err[RULES_ERRLEN];

	if ((rs = rules_new()) == NULL) {
		log_event(LOG_WARN, "rules_start_failed", "err=%s",
		    strerror(errno));
		return NULL;
	}
	rs->ldr.interval_ms = interval_ms > 0 ? interval_ms : 1000;
	if ((rs->ldr.path = strdup(path)) == NULL) {
		log_event(LOG_WARN, "rules_start_failed", "err=%s",
		    strerror(errno));
		goto fail;
	}
	if (rules_loader_open(&rs->ldr, err) == -1 ||
	    rules_loader_load(rs, err) == -1) {
		log_event(LOG_WARN, "rules_load_failed", "err=%s", err);
		goto fail;
	}
	if ((errno = pthread_create(&rs->thread, NULL, rules_loader_main,
	    rs)) != 0) {
		log_event(LOG_WARN, "rules_start_failed", "what=thread err=%s",
		    strerror(errno));
		goto fail;
	}
	return rs;
fail:
	rules_free(rs);
	return NULL;
}

void
rules_reload(struct rules *rs)
{
	pthread_mutex_lock(&rs->mtx);
	rs->reload_wanted = 1;
	pthread_cond_signal(&rs->cond);
	pthread_mutex_unlock(&rs->mtx);
}

void
rules_stop(struct rules *rs)
{
	if (rs == NULL)
		return;
	pthread_mutex_lock(&rs->mtx);
	rs->stopping = 1;
	pthread_cond_signal(&rs->cond);
	pthread_mutex_unlock(&rs->mtx);
	pthread_join(rs->thread, NULL);
	rules_free(rs);
}

uint64_t
rules_generation(const struct rules *rs)
{
	return atomic_load(&rs->gen);
}

void
rules_reload_stats(const struct rules *rs, uint64_t *reloads,
    uint64_t *failures)
{
	*reloads = atomic_load(&rs->reloads);
	*failures = atomic_load(&rs->reload_failures);
}

struct rules_snapshot *
rules_acquire(struct rules *rs)
{
	struct rules_snapshot *snap;

	pthread_mutex_lock(&rs->mtx);
	if ((snap = rs->current) != NULL)
		rules_snapshot_ref(snap);
	pthread_mutex_unlock(&rs->mtx);
	return snap;
}
