/*
 * rules.h - the rules database: schema, loading, matching, snapshots.
 *
 * Rules live in SQLite (rules/schema.sql, embedded at build time).  They are
 * loaded into an immutable, refcounted snapshot; matching never touches
 * SQLite.  A handle (struct rules, from rules_start()) runs a loader
 * thread that watches one database (PRAGMA data_version) and publishes a
 * new snapshot when it changes; workers pick it up by comparing
 * rules_generation() with the generation they hold.
 */
#ifndef SLUICE_RULES_H
#define SLUICE_RULES_H

#include <stddef.h>
#include <stdint.h>

#include "mask.h"

/*
 * The newest user_version this build knows; sluice refuses newer databases
 * and sluice-rules refuses to distribute them.
 */
#define RULES_SCHEMA_VERSION	2

enum rule_action {
	RULE_ALLOW = 0,
	RULE_DENY,
	RULE_PASSTHROUGH,
};

enum rule_inject_kind {
	RULE_INJECT_BEARER = 0,		/* Authorization: Bearer <secret> */
	RULE_INJECT_BASIC,		/* Authorization: Basic base64(<secret>) */
	RULE_INJECT_HEADER,		/* <name>: <secret> */
	RULE_INJECT_QUERY,		/* ?<name>=<percent-encoded secret> */
};

/*
 * One credential to add to requests that match a rule.  value holds the
 * secret's bytes (resolved from the literal, env:VAR or file:/path at load);
 * wire holds exactly what goes on the wire (the header value, or the
 * percent-encoded parameter value), made by inject_prepare().  Both are
 * wiped when the snapshot is freed.  Neither is ever logged.
 */
struct rule_injection {
	enum rule_inject_kind kind;
	char		*name;		/* header/parameter name; NULL for bearer/basic */
	char		*secret_name;	/* secrets.name: what logs may show */
	char		*value;
	size_t		 value_len;
	char		*wire;
	size_t		 wire_len;
};

/* A rate_limits row: a token bucket of burst tokens, refilled at
 * requests/per_seconds. */
struct rule_limit {
	int		 requests;
	int		 per_seconds;
	int		 burst;		/* NULL in the db: same as requests */
	int		 per_client;	/* scope 'client': one bucket per client IP */
	int		 delay;		/* on_limit 'delay': hold instead of 429 */
	int		 max_delay_ms;	/* NULL in the db: 1000 */
	int		 shared;	/* one bucket for the fleet, in Redis */
	int		 lease;		/* shared: tokens taken at once (1: exact) */
};

/* A cache_policies row. */
struct rule_cache {
	int		 ttl_seconds;	/* caps every freshness lifetime */
	size_t		 max_bytes;	/* NULL in the db: 1 MiB */
	int		 heuristic;	/* no explicit freshness: fresh for ttl */
};

struct rule {
	int64_t		 id;
	int64_t		 priority;
	char		*host;		/* lowercased: "*", "*.example.com" or exact */
	int		 port;		/* 0: any */
	char		*method;	/* NULL: any; else uppercase letters */
	char		*path;		/* NULL: any; else a glob ('*' = any run) */
	char		*path_alt;	/* path as lenient upstreams read it
					   (urlpath_lenient); NULL: the same */
	enum rule_action action;
	struct rule_injection *injections;	/* in rowid order */
	size_t		 ninjections;
	struct mask_set	 mask;			/* every form of their secrets
						   a response may echo
						   (inject_mask_forms()) */
	struct rule_limit limit;		/* valid when has_limit */
	int		 has_limit;
	struct rule_cache cache;		/* valid when has_cache */
	int		 has_cache;
};

struct rules_snapshot {
	int		 refcnt;	/* atomic */
	uint64_t	 generation;
	struct rule	*rules;		/* enabled rules, sorted by priority, id */
	size_t		 nrules;
	size_t		 nskipped;	/* rows logged and skipped at load */
};

/*
 * Create the database from the embedded schema if the file does not exist.
 * Returns 0, or -1 after logging why.
 */
int rules_db_init(const char *path);

/* Load a snapshot from the database (opened read-only). NULL on failure. */
struct rules_snapshot *rules_load(const char *path);

void rules_snapshot_ref(struct rules_snapshot *);
void rules_snapshot_unref(struct rules_snapshot *);

/*
 * Connection level: the first rule (any action) whose host and port match,
 * ignoring its method and path.  NULL when none does.
 */
const struct rule *rules_match_conn(const struct rules_snapshot *,
    const char *host, int port);

/*
 * Flow level (--nfqueue): the first rule whose host matches name (NULL: not
 * known) or addr (the destination address as text) and whose port matches,
 * skipping denies that have a method or a path: those decide requests,
 * not flows, whereas an allow with a method or path means the flow may
 * carry requests it allows.  NULL when none does.
 */
const struct rule *rules_match_flow(const struct rules_snapshot *,
    const char *name, const char *addr, int port);

/*
 * Request level: the first non-passthrough rule whose host, port, method and
 * path all match.  path is the normalised path (urlpath_normalise()) without
 * the query string.  Methods match case-insensitively.  A path with "//"
 * is read as sent and with each run of '/' as one: a deny's glob matches
 * when either reading does, an allow's only when both do.
 */
const struct rule *rules_match_request(const struct rules_snapshot *,
    const char *host, int port, const char *method, const char *path,
    size_t pathlen);
/*
 * The first rule with a rate limit that would match the request were its
 * path read as a deny's is (any case, without trailing slashes, "//" as
 * '/', the lenient readings): a limit holds for every spelling an
 * upstream serves as its path, not only for the one its allow admits.
 */
const struct rule *rules_match_limit(const struct rules_snapshot *,
    const char *host, int port, const char *method, const char *path,
    size_t pathlen);

/* Pure helpers, exposed for tests. host is lowercased, without port/dot. */
int rules_host_match(const char *pattern, const char *host);
int rules_glob_match(const char *glob, const char *s, size_t slen);

/*
 * Publication, through a handle that watches one database.  rules_start()
 * loads the first snapshot and starts the handle's loader thread, which
 * polls every interval_ms; it returns NULL after logging why (no handle is
 * made when the first load fails).  rules_reload() asks the loader to
 * reload now (safe from a signal-waiting thread, not from a signal
 * handler).  rules_stop() stops the thread and frees the handle, dropping
 * its reference to the current snapshot (references taken with
 * rules_acquire() stay valid until unref'd); no call may use the handle
 * after it.  rules_acquire() returns a new reference to the current
 * snapshot.  Handles are independent: each has its own snapshot,
 * generation and counters.
 */
struct rules;

struct rules *rules_start(const char *path, int interval_ms);
void rules_reload(struct rules *);
void rules_stop(struct rules *);
uint64_t rules_generation(const struct rules *);
/*
 * Reloads published since rules_start(), and reloads that failed (a file
 * that keeps failing is retried each poll but counted once, unless a
 * reload is asked for again).
 */
void rules_reload_stats(const struct rules *, uint64_t *reloads,
    uint64_t *failures);
struct rules_snapshot *rules_acquire(struct rules *);

#endif
