/*
 * ratelimit_redis.h - rate limits shared by a fleet of gateways, in Redis.
 *
 * One client per worker, on the worker's event base.  A shared limit's
 * bucket lives in Redis (a GCRA script on Redis's clock); this file asks
 * for a decision and hands it back through a callback, or says that the
 * caller's local bucket must decide (Redis down, slow or erroring).
 */
#ifndef SLUICE_RATELIMIT_REDIS_H
#define SLUICE_RATELIMIT_REDIS_H

#include <netinet/in.h>

#include <stddef.h>
#include <stdint.h>

struct config;
struct event_base;
struct rule_limit;
struct ratelimit_redis;
struct ratelimit_redis_wait;

enum ratelimit_redis_answer {
	RATELIMIT_REDIS_DECIDED = 0,	/* *wait_ms holds the decision */
	RATELIMIT_REDIS_PENDING,	/* asked: done(arg) comes once, later */
	RATELIMIT_REDIS_LOCAL,		/* the caller's local bucket decides */
};

struct ratelimit_redis *ratelimit_redis_new(const struct config *,
    struct event_base *);
/* Pending callbacks of abandoned waits are run (and freed) here. */
void ratelimit_redis_free(struct ratelimit_redis *);

/*
 * Take one token of the shared bucket of (rule_id, client) under lim.
 * Decisions are as ratelimit_take()'s: 0 pass, > 0 refused (ms until a
 * token), < 0 hold that many ms (delay mode).  PENDING: *waitp is set and
 * done(arg) is called from the event loop once the answer is in (or Redis
 * failed); the caller then calls ratelimit_redis_collect() (also when its
 * deadline passes first), or ratelimit_redis_abandon() if it goes away.
 * done() must not call back into this file: it only schedules the caller.
 */
enum ratelimit_redis_answer ratelimit_redis_take(struct ratelimit_redis *,
    const struct rule_limit *lim, int64_t rule_id, const char *client,
    void (*done)(void *), void *arg, struct ratelimit_redis_wait **waitp,
    int64_t *wait_ms);

/*
 * The answer of a pending take; the wait is gone afterwards.  DECIDED, or
 * LOCAL when Redis failed or has not answered yet (the deadline passed:
 * counted as an outage, the connection to Redis is reset).
 */
enum ratelimit_redis_answer ratelimit_redis_collect(struct ratelimit_redis *,
    struct ratelimit_redis_wait *, int64_t *wait_ms);

/* The caller is gone: a late reply is dropped (its leased tokens kept). */
void ratelimit_redis_abandon(struct ratelimit_redis_wait *);

/* Outages so far (each logged once). */
uint64_t ratelimit_redis_outages(const struct ratelimit_redis *);

/* ---- pure parts, exposed for tests ---- */

#define RATELIMIT_REDIS_KEYMAX	(64 + 32 + INET6_ADDRSTRLEN)

/*
 * "<prefix>rl:<rule id>", and ":<client>" when client is not NULL.
 * Returns 0, or -1 if it does not fit in len.
 */
int ratelimit_redis_key(char *buf, size_t len, const char *prefix,
    int64_t rule_id, const char *client);

/* The limit one gateway of fleet applies alone: the rate / fleet. */
void ratelimit_redis_local_limit(const struct rule_limit *shared, int fleet,
    struct rule_limit *local);

/*
 * Leased tokens: those a worker took from Redis at once and spends alone,
 * one slot per (rule, client) hash; a collision or expiry forgets tokens
 * (stricter, never looser).
 */
#define RATELIMIT_REDIS_LEASES	256

struct ratelimit_lease {
	int		 used;
	int64_t		 rule_id;
	char		 client[INET6_ADDRSTRLEN];	/* "" for per-rule */
	int		 tokens;
	double		 expires_ms;	/* monotonic */
};

/* 1 and one token spent, or 0 when the slot holds none for this key. */
int ratelimit_lease_take(struct ratelimit_lease *, size_t n, int64_t rule_id,
    const char *client, double now_ms);
void ratelimit_lease_add(struct ratelimit_lease *, size_t n, int64_t rule_id,
    const char *client, int tokens, double now_ms, double lifetime_ms);

#endif
