/*
 * ratelimit.h - token buckets shared by all workers.
 *
 * Buckets live here, keyed by rule id (and client address for per-client
 * limits), not in the rules snapshot: a reload that keeps a rule's id keeps
 * its bucket's level.
 */
#ifndef SLUICE_RATELIMIT_H
#define SLUICE_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

struct ratelimit;
struct rule_limit;

/* max_buckets bounds the table (idle per-client buckets are evicted). */
struct ratelimit *ratelimit_new(size_t max_buckets);
void ratelimit_free(struct ratelimit *);

/*
 * Take one token from the bucket of (rule_id, client) under lim, at time
 * now_ms (a monotonic clock, injected for tests).  client is ignored unless
 * lim->per_client.  Returns 0 when the request may pass, else the number of
 * milliseconds until a token is due (>= 1).  In delay mode
 * (lim->delay) a request that would be due within lim->max_delay_ms is
 * granted a future token: the return value is then negative, -(ms to wait),
 * and the caller must hold the request that long; past the bound nothing is
 * taken and the positive wait is returned (answer 429).
 */
int64_t ratelimit_take(struct ratelimit *, const struct rule_limit *lim,
    int64_t rule_id, const char *client, double now_ms);

/* A request granted a future token (negative take) was released or gave up. */
void ratelimit_held_done(struct ratelimit *);

/* Requests currently held in delay mode (for metrics and tests). */
uint64_t ratelimit_held(struct ratelimit *);
/* Takes refused (a wait to answer with) and held (delayed), since _new. */
void ratelimit_stats(struct ratelimit *, uint64_t *rejected,
    uint64_t *delayed);

#endif
