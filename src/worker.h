/*
 * worker.h - the process-wide context and the event-loop threads.
 *
 * struct sluice is built by main() before any thread starts and is read-only
 * afterwards, except for the atomic connection count.  A worker's counters
 * are written only by its own thread and read by the admin thread (relaxed
 * loads and stores: a plain mov, no lock on the hot path).  Each struct worker is
 * owned by its thread: its event base, listeners, connections, idle upstream
 * pool and rules snapshot are touched by no other thread.  The only way in
 * from outside is its wake-up channel (wake.h): worker_stop(), and cache
 * flights that another worker finished.
 */
#ifndef SLUICE_WORKER_H
#define SLUICE_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/queue.h>

#include <openssl/ssl.h>

#include "config.h"
#include "wake.h"

struct audit;
struct cache;
struct capture;
struct ratelimit;
struct ratelimit_redis;
struct certforge;
struct conn;
struct rules;
struct rules_snapshot;
struct revalidate;
struct upstream_idle;

struct sluice {
	const struct config	*cfg;
	struct certforge	*certforge;
	SSL_CTX			*client_ctx;
	SSL_CTX			*upstream_ctx;
	struct audit		*audit;
	struct ratelimit	*ratelimit;
	struct rules		*rules;
	struct cache		*cache;
	struct capture		*capture;	/* NULL: no --pcap */
	atomic_int		 nconns;	/* open client connections, all workers */
};

/* The decisions of audit rows, as sluice_requests_total labels them. */
enum worker_decision {
	WORKER_FORWARDED = 0,
	WORKER_DENIED,
	WORKER_RATE_LIMITED,
	WORKER_CACHED,
	WORKER_PASSTHROUGH,
	WORKER_ERROR,
	WORKER_WOULD_DENY,	/* --report-only: forwarded, policy said deny */
	WORKER_REVALIDATED,	/* a cache entry's background revalidation */
	WORKER_OTHER,
	WORKER_NDECISIONS,
};

/* Status classes of audit rows: 1xx ... 5xx (rows without a status: none). */
#define WORKER_NSTATUS		5

/*
 * Upper bounds of the upstream latency buckets, in milliseconds; one more
 * bucket (+Inf) follows them.
 */
#define WORKER_LATENCY_BOUNDS	{ 5, 10, 25, 50, 100, 250, 500, 1000, \
				  2500, 5000, 10000 }
#define WORKER_NLATENCY		11

/*
 * Requests by rule id: an open-addressed table that only grows.  The admin
 * thread looks up the ids of the current snapshot; ids past the table's
 * room are counted in the totals only.
 */
#define WORKER_RULE_SLOTS	1024

enum worker_leg {
	WORKER_LEG_CLIENT = 0,
	WORKER_LEG_UPSTREAM,
	WORKER_NLEGS,
};

/* Why a TLS handshake failed: a small fixed set, as /metrics labels it. */
enum worker_tls_failure {
	WORKER_TLS_VERIFY = 0,	/* the peer's certificate did not verify */
	WORKER_TLS_ALPN,	/* no ALPN protocol in common */
	WORKER_TLS_PROTOCOL,	/* an alert or a TLS error from OpenSSL */
	WORKER_TLS_CLOSED,	/* the peer closed or reset mid-handshake */
	WORKER_NTLS_FAILURES,
};

struct worker_rule_count {
	_Atomic int64_t		 id_plus_1;	/* 0: free; set once */
	_Atomic uint64_t	 requests;
};

struct worker_counters {
	_Atomic uint64_t	 requests[WORKER_NDECISIONS];	/* audit rows */
	_Atomic uint64_t	 shared_local;	/* shared limits decided locally */
	_Atomic uint64_t	 status[WORKER_NSTATUS];	/* 1xx ... 5xx */
	_Atomic uint64_t	 latency[WORKER_NLATENCY + 1];	/* not cumulative */
	_Atomic uint64_t	 latency_sum_us;
	_Atomic uint64_t	 tls_ok[WORKER_NLEGS];
	_Atomic uint64_t	 tls_failed[WORKER_NLEGS][WORKER_NTLS_FAILURES];
	_Atomic uint64_t	 cache_hits;	/* answered from the cache */
	_Atomic uint64_t	 cache_misses;	/* fetched: not cached, stale */
	_Atomic int64_t		 upstreams;	/* open upstream connections */
	struct worker_rule_count by_rule[WORKER_RULE_SLOTS];
};

struct worker {
	int			 id;
	pthread_t		 thread;
	struct sluice		*sl;
	struct event_base	*base;
	struct evdns_base	*dns;
	struct evconnlistener	*listeners[3 * CONFIG_MAX_LISTEN];
	int			 nlisteners;
	int			 listen_fds[3 * CONFIG_MAX_LISTEN];
	int			 listen_connect[3 * CONFIG_MAX_LISTEN];

	TAILQ_HEAD(, conn)	 conns;
	int			 nconns;
	TAILQ_HEAD(, upstream_idle) idle;	/* pooled upstream connections */
	TAILQ_HEAD(, revalidate) revalidating;	/* background revalidations */
	int			 nidle;

	struct rules_snapshot	*rules;
	uint64_t		 rules_gen;

	struct ratelimit_redis	*redis;		/* NULL: no --redis */

	struct worker_counters	 counters;

	struct wake		*wake;		/* other threads' way in */
	struct wake_call	 stop_call;
	struct event		*drain_timer;
	int			 draining;
};

/*
 * Bind every listener for n workers (fds[w][i]) and create the workers.
 * Returns the array, or NULL after logging why.
 */
struct worker *worker_create_all(struct sluice *, int n);
int worker_start(struct worker *);
/* Ask a worker to drain and exit (thread-safe). */
void worker_stop(struct worker *);
/*
 * Wait for the n workers and free what they own, but not the array: the
 * admin thread may still read their counters.  The caller frees it.
 */
void worker_join_all(struct worker *, int n);

/* The current rules snapshot (refreshed if a new one was published). */
struct rules_snapshot *worker_rules(struct worker *);

/* Called by front.c when a connection ends (for draining). */
void worker_conn_closed(struct worker *);

/*
 * Count one audit row: its decision, its status (0: none), its rule (-1:
 * none) and what the cache did (the Cache-Status detail, NULL if the cache
 * was not asked).  The worker's own thread only, as for all worker_count_*.
 */
void worker_count_request(struct worker *, const char *decision, int status,
    int64_t rule_id, const char *cache_status);
/* The upstream's response head came ms after the request's. */
void worker_count_latency(struct worker *, double ms);
/* A TLS handshake completed on this leg. */
void worker_count_handshake(struct worker *, enum worker_leg);
/* A TLS handshake failed on this leg, for this reason. */
void worker_count_tls_failure(struct worker *, enum worker_leg,
    enum worker_tls_failure);
/* An upstream connection was opened (+1) or closed (-1). */
void worker_count_upstream(struct worker *, int delta);
/* Count one decision of a shared limit made locally (own thread only). */
void worker_count_shared_local(struct worker *);
/* The label of a decision, "forwarded" ... "other". */
const char *worker_decision_name(enum worker_decision);
/* The label of a failure reason, "verify" ... "closed". */
const char *worker_tls_failure_name(enum worker_tls_failure);
/* Requests counted for this rule id, by this worker (any thread). */
uint64_t worker_rule_requests(const struct worker *, int64_t rule_id);

#endif
