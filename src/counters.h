/*
 * counters.h - a worker's metrics counters: audit rows by decision, status
 * and rule, upstream latency, TLS handshakes, cache hits, open upstreams.
 *
 * One struct counters per worker, written only by that worker's thread
 * (a relaxed load and store: no lock, no atomic read-modify-write on the
 * request path) and read by the admin thread, which sums them when scraped.
 * The data path reaches its worker's struct through its environment
 * (dpenv.h); it never sees the worker.
 */
#ifndef SLUICE_COUNTERS_H
#define SLUICE_COUNTERS_H

#include <stdatomic.h>
#include <stdint.h>

/* The decisions of audit rows, as sluice_requests_total labels them. */
enum counters_decision {
	COUNTERS_FORWARDED = 0,
	COUNTERS_DENIED,
	COUNTERS_RATE_LIMITED,
	COUNTERS_CACHED,
	COUNTERS_PASSTHROUGH,
	COUNTERS_ERROR,
	COUNTERS_WOULD_DENY,	/* --report-only: forwarded, policy said deny */
	COUNTERS_REVALIDATED,	/* a cache entry's background revalidation */
	COUNTERS_OTHER,
	COUNTERS_NDECISIONS,
};

/* Status classes of audit rows: 1xx ... 5xx (rows without a status: none). */
#define COUNTERS_NSTATUS	5

/*
 * Upper bounds of the upstream latency buckets, in milliseconds; one more
 * bucket (+Inf) follows them.
 */
#define COUNTERS_LATENCY_BOUNDS	{ 5, 10, 25, 50, 100, 250, 500, 1000, \
				  2500, 5000, 10000 }
#define COUNTERS_NLATENCY	11

/*
 * Requests by rule id: an open-addressed table that only grows.  The admin
 * thread looks up the ids of the current snapshot; ids past the table's
 * room are counted in the totals only.
 */
#define COUNTERS_RULE_SLOTS	1024

enum counters_leg {
	COUNTERS_LEG_CLIENT = 0,
	COUNTERS_LEG_UPSTREAM,
	COUNTERS_NLEGS,
};

/* Why a TLS handshake failed: a small fixed set, as /metrics labels it. */
enum counters_tls_failure {
	COUNTERS_TLS_VERIFY = 0,	/* the peer's certificate failed */
	COUNTERS_TLS_ALPN,	/* no ALPN protocol in common */
	COUNTERS_TLS_PROTOCOL,	/* an alert or a TLS error from OpenSSL */
	COUNTERS_TLS_CLOSED,	/* the peer closed or reset mid-handshake */
	COUNTERS_NTLS_FAILURES,
};

struct counters_rule {
	_Atomic int64_t		 id_plus_1;	/* 0: free; set once */
	_Atomic uint64_t	 requests;
};

struct counters {
	_Atomic uint64_t	 requests[COUNTERS_NDECISIONS];	/* audit rows */
	_Atomic uint64_t	 shared_local;	/* shared limits decided here */
	_Atomic uint64_t	 status[COUNTERS_NSTATUS];	/* 1xx ... 5xx */
	_Atomic uint64_t	 latency[COUNTERS_NLATENCY + 1];	/* not
								   cumulative */
	_Atomic uint64_t	 latency_sum_us;
	_Atomic uint64_t	 tls_ok[COUNTERS_NLEGS];
	_Atomic uint64_t
	    tls_failed[COUNTERS_NLEGS][COUNTERS_NTLS_FAILURES];
	_Atomic uint64_t	 cache_hits;	/* answered from the cache */
	_Atomic uint64_t	 cache_misses;	/* fetched: not cached, stale */
	_Atomic int64_t		 upstreams;	/* open upstream connections */
	struct counters_rule	 by_rule[COUNTERS_RULE_SLOTS];
};

/* The decision an audit row's decision string names (NULL: other). */
enum counters_decision counters_decision(const char *decision);
/*
 * Count one audit row: its decision, its status (0: none), its rule (-1:
 * none) and what the cache did (the Cache-Status detail, NULL if the cache
 * was not asked).  The owner thread only, as for all counters_* writers.
 */
void counters_request(struct counters *, enum counters_decision, int status,
    int64_t rule_id, const char *cache_status);
/* The upstream's response head came ms after the request's. */
void counters_latency(struct counters *, double ms);
/* A TLS handshake completed on this leg. */
void counters_handshake(struct counters *, enum counters_leg);
/* A TLS handshake failed on this leg, for this reason. */
void counters_tls_failure(struct counters *, enum counters_leg,
    enum counters_tls_failure);
/* An upstream connection was opened (+1) or closed (-1). */
void counters_upstream(struct counters *, int delta);
/* Count one decision of a shared limit made locally. */
void counters_shared_local(struct counters *);
/* The label of a decision, "forwarded" ... "other". */
const char *counters_decision_name(enum counters_decision);
/* The label of a failure reason, "verify" ... "closed". */
const char *counters_tls_failure_name(enum counters_tls_failure);
/* Requests counted for this rule id (any thread). */
uint64_t counters_rule_requests(const struct counters *, int64_t rule_id);

#endif
