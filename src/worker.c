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
#include "h2up.h"
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
	front_accept(&w->env, fd, sa, salen, connect_mode);
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
	if (w->draining && w->conns.n == 0)
		event_base_loopexit(w->base, NULL);
}

/* dp_env's conn_closed: a connection ended (draining waits for the last). */
static void
worker_conn_closed(void *owner)
{
	worker_maybe_exit(owner);
}

static void
worker_drain_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	if (w->conns.n > 0)
		log_event(LOG_WARN, "drain_timeout", "worker=%d closing=%d",
		    w->id, w->conns.n);
	front_close_all(&w->conns);
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
	upstream_pool_clear(&w->env);
	h2up_pool_drain(&w->h2pool);
	front_close_idle(&w->conns);
	evtimer_add(w->drain_timer, &tv);
	worker_maybe_exit(w);
}

static void worker_check_shared(struct worker *);
static void worker_env(struct worker *);

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
	TAILQ_INIT(&w->conns.list);
	h2up_pool_init(&w->h2pool);
	TAILQ_INIT(&w->revalidating);
	if ((w->base = worker_base_new()) == NULL ||
	    upstream_pool_init(&w->pool, w->base,
	    cfg->upstream_idle_timeout * 1000.0) == -1)
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
	worker_env(w);
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
	front_close_all(&w->conns);
	revalidate_cancel_all(&w->revalidating);
	upstream_pool_clear(&w->env);
	h2up_pool_clear(&w->h2pool);
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
		upstream_pool_free(&ws[i].pool);
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

/* dp_env's rules: the current snapshot, re-acquired when it moved. */
static struct rules_snapshot *
worker_rules(void *owner)
{
	struct worker *w = owner;
	uint64_t gen = rules_generation(w->sl->rules);

	if (gen != w->rules_gen) {
		rules_snapshot_unref(w->rules);
		w->rules = rules_acquire(w->sl->rules);
		w->rules_gen = gen;
		worker_check_shared(w);
	}
	return w->rules;
}

/* What the data path sees of this worker, filled once before it accepts. */
static void
worker_env(struct worker *w)
{
	struct sluice *sl = w->sl;

	w->env = (struct dp_env){
		.base = w->base,
		.dns = w->dns,
		.wake = w->wake,
		.cfg = sl->cfg,
		.certforge = sl->certforge,
		.client_ctx = sl->client_ctx,
		.upstream_ctx = sl->upstream_ctx,
		.audit = sl->audit,
		.ratelimit = sl->ratelimit,
		.cache = sl->cache,
		.capture = sl->capture,
		.redis = w->redis,
		.nconns = &sl->nconns,
		.draining = &w->draining,
		.counters = &w->counters,
		.pool = &w->pool,
		.h2pool = &w->h2pool,
		.conns = &w->conns,
		.revalidating = &w->revalidating,
		.rules = worker_rules,
		.conn_closed = worker_conn_closed,
		.owner = w,
	};
}

uint64_t
worker_rule_requests(const struct worker *w, int64_t rule_id)
{
	return counters_rule_requests(&w->counters, rule_id);
}
