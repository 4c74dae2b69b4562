/*
 * counters.c - a worker's metrics counters (see counters.h for who writes
 * and who reads them).
 */
#include <string.h>

#include "counters.h"

static const char *const counters_decisions[COUNTERS_NDECISIONS] = {
	"forwarded", "denied", "rate_limited", "cached", "passthrough",
	"error", "would_deny", "revalidated", "other",
};

const char *
counters_decision_name(enum counters_decision d)
{
	return counters_decisions[d];
}

enum counters_decision
counters_decision(const char *decision)
{
	int d;

	if (decision == NULL)
		return COUNTERS_OTHER;
	for (d = 0; d < COUNTERS_OTHER; d++)
		if (strcmp(decision, counters_decisions[d]) == 0)
			break;
	return d;
}

static const char *const counters_tls_failures[COUNTERS_NTLS_FAILURES] = {
	"verify", "alpn", "protocol", "closed",
};

const char *
counters_tls_failure_name(enum counters_tls_failure f)
{
	return counters_tls_failures[f];
}

/* Only this thread writes the counter: a relaxed load and store suffice. */
static void
counters_add(_Atomic uint64_t *n, uint64_t v)
{
	atomic_store_explicit(n, atomic_load_explicit(n,
	    memory_order_relaxed) + v, memory_order_relaxed);
}

static void
counters_bump(_Atomic uint64_t *n)
{
	counters_add(n, 1);
}

static uint64_t
counters_rule_hash(int64_t id)
{
	return ((uint64_t)id * 0x9e3779b97f4a7c15ULL) >> 32;
}

/*
 * The slot of id, or NULL.  create: take a free slot for it (the owner
 * thread only); the id is stored before the slot's count ever moves, and
 * never changes after, so a reader probing alongside sees either a free
 * slot or a settled one.
 */
static struct counters_rule *
counters_rule_slot(struct counters *wc, int64_t id, int create)
{
	struct counters_rule *s;
	uint64_t h = counters_rule_hash(id);
	int64_t have;
	int i;

	if (id < 0 || id == INT64_MAX)	/* no rule, or no id + 1 */
		return NULL;
	for (i = 0; i < COUNTERS_RULE_SLOTS; i++) {
		s = &wc->by_rule[(h + i) % COUNTERS_RULE_SLOTS];
		have = atomic_load_explicit(&s->id_plus_1,
		    memory_order_relaxed);
		if (have == id + 1)
			return s;
		if (have != 0)
			continue;
		if (!create)
			return NULL;
		atomic_store_explicit(&s->id_plus_1, id + 1,
		    memory_order_relaxed);
		return s;
	}
	return NULL;	/* full: the totals still count the request */
}

uint64_t
counters_rule_requests(const struct counters *wc, int64_t rule_id)
{
	struct counters_rule *s;

	s = counters_rule_slot((struct counters *)wc, rule_id, 0);
	return s != NULL ? atomic_load_explicit(&s->requests,
	    memory_order_relaxed) : 0;
}

void
counters_request(struct counters *wc, enum counters_decision d, int status,
    int64_t rule_id, const char *cache_status)
{
	struct counters_rule *s;

	counters_bump(&wc->requests[d]);
	if (status >= 100 && status < 100 * (COUNTERS_NSTATUS + 1))
		counters_bump(&wc->status[status / 100 - 1]);
	if ((s = counters_rule_slot(wc, rule_id, 1)) != NULL)
		counters_bump(&s->requests);
	/* A revalidated entry is served too, but the upstream was asked. */
	if (d == COUNTERS_CACHED && cache_status == NULL)
		counters_bump(&wc->cache_hits);
	else if (cache_status != NULL &&
	    (strcmp(cache_status, "fwd=miss") == 0 ||
	    strcmp(cache_status, "fwd=stale") == 0))
		counters_bump(&wc->cache_misses);
}

void
counters_shared_local(struct counters *wc)
{
	counters_bump(&wc->shared_local);
}

void
counters_latency(struct counters *wc, double ms)
{
	static const int bounds[COUNTERS_NLATENCY] = COUNTERS_LATENCY_BOUNDS;
	int i;

	if (ms < 0)
		ms = 0;
	for (i = 0; i < COUNTERS_NLATENCY && ms > bounds[i]; i++)
		;
	counters_bump(&wc->latency[i]);
	counters_add(&wc->latency_sum_us, (uint64_t)(ms * 1000));
}

void
counters_handshake(struct counters *wc, enum counters_leg leg)
{
	counters_bump(&wc->tls_ok[leg]);
}

void
counters_tls_failure(struct counters *wc, enum counters_leg leg,
    enum counters_tls_failure why)
{
	counters_bump(&wc->tls_failed[leg][why]);
}

void
counters_upstream(struct counters *wc, int delta)
{
	_Atomic int64_t *n = &wc->upstreams;

	atomic_store_explicit(n, atomic_load_explicit(n,
	    memory_order_relaxed) + delta, memory_order_relaxed);
}
