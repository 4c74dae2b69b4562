/*
 * worker.c - event-loop threads.
 *
 * Each worker owns one event_base, its own SO_REUSEPORT listening sockets
 * (bound by main before any thread starts), its connections and its pool of
 * idle upstream connections.  Other threads reach a worker only through its
 * wake-up channel (wake.c), so its event_base has no lock.  Draining:
 * worker_stop() posts worker_stop_cb to the worker's thread, which closes
 * the listeners and idle connections, lets requests in flight finish for up
 * to --drain-timeout, then leaves the loop.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>

#include "front.h"
#include "listener.h"
#include "log.h"
#include "ratelimit_redis.h"
#include "revalidate.h"
#include "rules.h"
#include "upstream.h"
#include "wake.h"
#include "worker.h"

static void
worker_accept(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct worker *w = arg;
	int i, connect_mode = 0;

	for (i = 0; i < w->nlisteners; i++)
		if (w->listeners[i] == l)
			connect_mode = w->listen_connect[i];
	front_accept(w, fd, sa, salen, connect_mode);
}

static void
worker_accept_error(struct evconnlistener *l, void *arg)
{
	/* EMFILE and friends: keep serving what we have, retry later. */
	log_event(LOG_WARN, "accept_failed", "err=%s", strerror(errno));
}

static void
worker_maybe_exit(struct worker *w)
{
	if (w->draining && w->nconns == 0)
		event_base_loopexit(w->base, NULL);
}

void
worker_conn_closed(struct worker *w)
{
	worker_maybe_exit(w);
}

static void
worker_drain_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	if (w->nconns > 0)
		log_event(LOG_WARN, "drain_timeout", "worker=%d closing=%d",
		    w->id, w->nconns);
	front_close_all(w);
	event_base_loopexit(w->base, NULL);
}

static void
worker_stop_cb(void *arg)
{
	struct worker *w = arg;
	struct timeval tv = { w->sl->cfg->drain_timeout, 0 };
	int i;

	if (w->draining)
		return;
	w->draining = 1;
	for (i = 0; i < w->nlisteners; i++) {
		evconnlistener_free(w->listeners[i]);
		w->listeners[i] = NULL;
	}
	w->nlisteners = 0;
	upstream_pool_clear(w);
	front_close_idle(w);
	evtimer_add(w->drain_timer, &tv);
	worker_maybe_exit(w);
}

static void worker_check_shared(struct worker *);

/*
 * No lock: only this worker's thread touches the base (a lock/unlock pair
 * per event_add, event_del and callback otherwise, ~10 per request).
 */
static struct event_base *
worker_base_new(void)
{
	struct event_config *cfg;
	struct event_base *base;

	if ((cfg = event_config_new()) == NULL)
		return NULL;
	if (event_config_set_flag(cfg, EVENT_BASE_FLAG_NOLOCK) == -1) {
		event_config_free(cfg);
		return NULL;
	}
	base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	return base;
}

static int
worker_init(struct worker *w, struct sluice *sl, int id)
{
	const struct config *cfg = sl->cfg;
	int i, n = 0;

	w->id = id;
	w->sl = sl;
	TAILQ_INIT(&w->conns);
	TAILQ_INIT(&w->idle);
	TAILQ_INIT(&w->revalidating);
	if ((w->base = worker_base_new()) == NULL)
		return -1;
	/* A peeked ClientHello stays readable: intercept.c waits edge-triggered. */
	if (!(event_base_get_features(w->base) & EV_FEATURE_ET)) {
		log_event(LOG_WARN, "libevent_backend_unusable", "backend=%s "
		    "err=%s", event_base_get_method(w->base),
		    "no edge-triggered events");
		return -1;
	}
	w->dns = evdns_base_new(w->base, EVDNS_BASE_INITIALIZE_NAMESERVERS);
	if (w->dns == NULL)
		w->dns = evdns_base_new(w->base, 0);
	w->wake = wake_new(w->base);
	wake_call_init(&w->stop_call, worker_stop_cb, w);
	w->drain_timer = evtimer_new(w->base, worker_drain_timeout, w);
	if (w->dns == NULL || w->wake == NULL || w->drain_timer == NULL)
		return -1;
	if (cfg->has_redis &&
	    (w->redis = ratelimit_redis_new(cfg, w->base)) == NULL)
		return -1;

	/* --listen, then --tproxy, then --connect. */
	for (i = 0; i < cfg->nlisten + cfg->ntproxy + cfg->nconnect; i++, n++) {
		int tproxy = i >= cfg->nlisten &&
		    i < cfg->nlisten + cfg->ntproxy;
		const struct config_listen *l = i < cfg->nlisten ?
		    &cfg->listen[i] : tproxy ? &cfg->tproxy[i - cfg->nlisten] :
		    &cfg->connect[i - cfg->nlisten - cfg->ntproxy];

		w->listen_connect[n] = i >= cfg->nlisten + cfg->ntproxy;
		w->listen_fds[n] = listener_bind((struct sockaddr *)&l->addr,
		    l->addrlen, tproxy);
		if (w->listen_fds[n] == -1)
			return -1;
		w->listeners[n] = evconnlistener_new(w->base, worker_accept, w,
		    LEV_OPT_CLOSE_ON_FREE, -1, w->listen_fds[n]);
		if (w->listeners[n] == NULL)
			return -1;
		evconnlistener_set_error_cb(w->listeners[n],
		    worker_accept_error);
		w->nlisteners = n + 1;
	}
	w->rules = rules_acquire(sl->rules);
	w->rules_gen = rules_generation(sl->rules);
	worker_check_shared(w);
	return 0;
}

struct worker *
worker_create_all(struct sluice *sl, int n)
{
	struct worker *ws;
	int i;

	if (evthread_use_pthreads() == -1)
		return NULL;
	if ((ws = calloc(n, sizeof(*ws))) == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		if (worker_init(&ws[i], sl, i) == -1)
			return NULL;	/* the process exits */
	return ws;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;

	event_base_dispatch(w->base);
	front_close_all(w);
	revalidate_cancel_all(w);
	upstream_pool_clear(w);
	return NULL;
}

int
worker_start(struct worker *w)
{
	return pthread_create(&w->thread, NULL, worker_main, w) == 0 ? 0 : -1;
}

void
worker_stop(struct worker *w)
{
	wake_post(w->wake, &w->stop_call);
}

void
worker_join_all(struct worker *ws, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		pthread_join(ws[i].thread, NULL);
		if (ws[i].rules != NULL)
			rules_snapshot_unref(ws[i].rules);
		wake_free(ws[i].wake);
		event_free(ws[i].drain_timer);
		ratelimit_redis_free(ws[i].redis);
		evdns_base_free(ws[i].dns, 0);
		event_base_free(ws[i].base);
	}
}

/*
 * Shared limits without --redis are decided by each gateway alone, at
 * rate / --fleet-size: said once per rule set, by the first worker.
 */
static void
worker_check_shared(struct worker *w)
{
	const struct rules_snapshot *snap = w->rules;
	size_t i, n = 0;
	int64_t first = 0;

	if (w->id != 0 || w->sl->cfg->has_redis || snap == NULL)
		return;
	for (i = 0; i < snap->nrules; i++)
		if (snap->rules[i].has_limit && snap->rules[i].limit.shared &&
		    n++ == 0)
			first = snap->rules[i].id;
	if (n > 0)
		log_warnx("rules: %zu shared limits (rule %lld first) but no "
		    "--redis: each decided locally at rate/%d", n,
		    (long long)first, w->sl->cfg->fleet_size);
}

struct rules_snapshot *
worker_rules(struct worker *w)
{
	uint64_t gen = rules_generation(w->sl->rules);

	if (gen != w->rules_gen) {
		rules_snapshot_unref(w->rules);
		w->rules = rules_acquire(w->sl->rules);
		w->rules_gen = gen;
		worker_check_shared(w);
	}
	return w->rules;
}

static const char *const worker_decisions[WORKER_NDECISIONS] = {
	"forwarded", "denied", "rate_limited", "cached", "passthrough",
	"error", "would_deny", "revalidated", "other",
};

const char *
worker_decision_name(enum worker_decision d)
{
	return worker_decisions[d];
}

static const char *const worker_tls_failures[WORKER_NTLS_FAILURES] = {
	"verify", "alpn", "protocol", "closed",
};

const char *
worker_tls_failure_name(enum worker_tls_failure f)
{
	return worker_tls_failures[f];
}

/* Only this thread writes the counter: a relaxed load and store suffice. */
static void
worker_add(_Atomic uint64_t *n, uint64_t v)
{
	atomic_store_explicit(n, atomic_load_explicit(n,
	    memory_order_relaxed) + v, memory_order_relaxed);
}

static void
worker_bump(_Atomic uint64_t *n)
{
	worker_add(n, 1);
}

static uint64_t
worker_rule_hash(int64_t id)
{
	return ((uint64_t)id * 0x9e3779b97f4a7c15ULL) >> 32;
}

/*
 * The slot of id, or NULL.  create: take a free slot for it (the owner
 * thread only); the id is stored before the slot's count ever moves, and
 * never changes after, so a reader probing alongside sees either a free
 * slot or a settled one.
 */
static struct worker_rule_count *
worker_rule_slot(struct worker_counters *wc, int64_t id, int create)
{
	struct worker_rule_count *s;
	uint64_t h = worker_rule_hash(id);
	int64_t have;
	int i;

	if (id < 0 || id == INT64_MAX)	/* no rule, or no id + 1 */
		return NULL;
	for (i = 0; i < WORKER_RULE_SLOTS; i++) {
		s = &wc->by_rule[(h + i) % WORKER_RULE_SLOTS];
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
worker_rule_requests(const struct worker *w, int64_t rule_id)
{
	struct worker_rule_count *s;

	s = worker_rule_slot((struct worker_counters *)&w->counters, rule_id,
	    0);
	return s != NULL ? atomic_load_explicit(&s->requests,
	    memory_order_relaxed) : 0;
}

void
worker_count_request(struct worker *w, const char *decision, int status,
    int64_t rule_id, const char *cache_status)
{
	struct worker_counters *wc = &w->counters;
	struct worker_rule_count *s;
	int d = 0;

	if (decision == NULL)
		d = WORKER_OTHER;
	for (; d < WORKER_OTHER; d++)
		if (strcmp(decision, worker_decisions[d]) == 0)
			break;
	worker_bump(&wc->requests[d]);
	if (status >= 100 && status < 100 * (WORKER_NSTATUS + 1))
		worker_bump(&wc->status[status / 100 - 1]);
	if ((s = worker_rule_slot(wc, rule_id, 1)) != NULL)
		worker_bump(&s->requests);
	/* A revalidated entry is served too, but the upstream was asked. */
	if (d == WORKER_CACHED && cache_status == NULL)
		worker_bump(&wc->cache_hits);
	else if (cache_status != NULL &&
	    (strcmp(cache_status, "fwd=miss") == 0 ||
	    strcmp(cache_status, "fwd=stale") == 0))
		worker_bump(&wc->cache_misses);
}

void
worker_count_shared_local(struct worker *w)
{
	worker_bump(&w->counters.shared_local);
}

void
worker_count_latency(struct worker *w, double ms)
{
	static const int bounds[WORKER_NLATENCY] = WORKER_LATENCY_BOUNDS;
	int i;

	if (ms < 0)
		ms = 0;
	for (i = 0; i < WORKER_NLATENCY && ms > bounds[i]; i++)
		;
	worker_bump(&w->counters.latency[i]);
	worker_add(&w->counters.latency_sum_us, (uint64_t)(ms * 1000));
}

void
worker_count_handshake(struct worker *w, enum worker_leg leg)
{
	worker_bump(&w->counters.tls_ok[leg]);
}

void
worker_count_tls_failure(struct worker *w, enum worker_leg leg,
    enum worker_tls_failure why)
{
	worker_bump(&w->counters.tls_failed[leg][why]);
}

void
worker_count_upstream(struct worker *w, int delta)
{
	_Atomic int64_t *n = &w->counters.upstreams;

	atomic_store_explicit(n, atomic_load_explicit(n,
	    memory_order_relaxed) + delta, memory_order_relaxed);
}
