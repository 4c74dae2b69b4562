/*
 * lookup.c - the cache step of an exchange: serve a fresh hit (or the
 * 304, 206 or 416 it answers), wait for an identical miss already on its
 * way (collapsed forwarding), send a stale entry's validators and serve it
 * on a 304, serve it when the upstream fails (stale-if-error) or at once
 * while it is revalidated in the background (stale-while-revalidate), and
 * copy a storable response into the cache as it streams to the client.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "datapath.h"
#include "inject.h"
#include "revalidate.h"
#include "rules.h"
#include "sock.h"
#include "worker.h"

/* Wake the requests that wait for this one's response to reach the cache. */
void
lookup_flight_end(struct conn *c)
{
	if (c->ex.flight != NULL) {
		cache_flight_done(c->w->sl->cache, c->ex.flight);
		c->ex.flight = NULL;
	}
}

/*
 * A miss: lead the fetch, or wait for the identical one in flight (once,
 * bounded).  1 if this request now waits.
 */
static int
lookup_collapse(struct conn *c, const struct rule *rule,
    const struct http1_head *h)
{
	struct exchange *r = &c->ex;

	if (r->collapsed || r->is_head)
		return 0;
	if (c->waiter.ev == NULL &&
	    (c->waiter.ev = event_new(c->w->base, -1, 0, exchange_wake, c)) ==
	    NULL)
		return 0;
	r->flight = cache_flight_join(c->w->sl->cache, rule->id, r->host,
	    h->target, &c->waiter);
	if (r->flight != NULL || c->waiter.flight == NULL)
		return 0;
	r->collapsed = 1;
	r->state = EX_COLLAPSED;
	front_arm(c, CONN_COLLAPSE_SECS);
	return 1;
}

static void
lookup_unref(const void *data, size_t len, void *arg)
{
	cache_entry_unref(arg);
}

/*
 * Answer req from a cache entry (takes the reference): the stored message
 * with sluice's framing, or the 304, 206 or 416 that req asks for.
 */
static void
lookup_serve(struct conn *c, struct cache_entry *e,
    const struct http1_head *req, int64_t age, const char *status)
{
	struct exchange *r = &c->ex;
	struct evbuffer *out = sock_output(c->csock);
	struct cache_answer a;

	if (cache_answer(e, req, &a) == -1) {
		cache_entry_unref(e);
		respond_error(c, 502, "bad_gateway", "out of memory");
		return;
	}
	if (r->used_upstream && !c->usock_connected)
		upleg_drop(c);
	if (!r->body.done) {
		r->body.done = 1;
		r->client_keepalive = 0;
	}
	evbuffer_add(out, a.head, a.headlen);
	free(a.head);
	evbuffer_add_printf(out, "Age: %lld\r\nCache-Status: sluice; %s\r\n%s"
	    "\r\n", (long long)age, status, r->client_keepalive &&
	    !c->w->draining ? "" : "Connection: close\r\n");
	r->local = 1;
	r->local_bytes = (int64_t)a.bodylen;
	r->state = EX_DONE;
	r->resp_started = 1;
	r->status = a.status;
	r->decision = "cached";
	if (a.bodylen == 0 || evbuffer_add_reference(out, a.body, a.bodylen,
	    lookup_unref, e) == -1)
		cache_entry_unref(e);
}

/*
 * Within stale-while-revalidate: answer from the stale entry (takes the
 * reference) and start its one background revalidation.
 */
static void
lookup_serve_swr(struct conn *c, const struct http1_head *h, const char *p,
    const struct rule *rule, struct cache_entry *e, int64_t age)
{
	struct exchange *r = &c->ex;
	int client_auth = http1_find(h, "authorization") != NULL &&
	    !inject_sets_field(rule, "authorization");

	if (revalidate_start(c->w, (struct sockaddr *)&c->up_addr, c->up_len,
	    c->sni[0] ? c->sni : c->name, c->name, e, r->rules, rule, r->host,
	    p, h->head_len, h->target, client_auth, c->client_str,
	    c->server_str) == -1)
		log_event(LOG_DEBUG, "cache_revalidate_skipped", "host=%s",
		    r->host);
	lookup_serve(c, e, h, age, "hit; fwd=stale");
}

/*
 * Answer from the cache if the entry is fresh (or within
 * stale-while-revalidate), before the rate limit is asked: such a hit
 * costs the upstream nothing.  1 if answered.
 */
int
lookup_hit(struct conn *c, const struct http1_head *h, const char *p,
    const struct rule *rule)
{
	struct http1_head keyed;
	struct cache_entry *e;
	int64_t age;

	if (!rule->has_cache)
		return 0;
	keyed = *h;
	keyed.target.p = c->ex.norm;
	keyed.target.len = c->ex.norm_len;
	if (cache_request_bypass(&keyed))
		return 0;
	switch (cache_lookup(c->w->sl->cache, rule->id, c->ex.host, &keyed,
	    time(NULL), &e, &age)) {
	case CACHE_FRESH:
		lookup_serve(c, e, &keyed, age, "hit");
		return 1;
	case CACHE_STALE_SWR:
		lookup_serve_swr(c, &keyed, p, rule, e, age);
		return 1;
	case CACHE_STALE:
		cache_entry_unref(e);
		break;
	case CACHE_MISS:
		break;
	}
	return 0;
}

/*
 * Serve the request from the cache, or send it upstream (conditionally,
 * for a stale entry).  Returns 1 when the request waits for an identical
 * one already on its way upstream; its head then stays in the input.
 */
int
lookup_send(struct conn *c, const struct http1_head *h, const char *p,
    const struct rule *rule)
{
	struct exchange *r = &c->ex;
	struct cache *cache = c->w->sl->cache;
	const char *extra = NULL;
	struct http1_head keyed;
	struct cache_entry *e;
	int64_t age;

	if (!http1_str_eq(h->method, "GET") && !http1_str_eq(h->method, "HEAD")
	    && !http1_str_eq(h->method, "OPTIONS") &&
	    !http1_str_eq(h->method, "TRACE"))
		r->unsafe_target = strndup(r->norm, r->norm_len);
	if (rule == NULL || !rule->has_cache)
		goto forward;
	/* The cache keys on the target as sent upstream, not as spelt. */
	keyed = *h;
	keyed.target.p = r->norm;
	keyed.target.len = r->norm_len;
	h = &keyed;
	if (cache_request_bypass(h)) {
		if (r->unsafe_target == NULL)
			r->cache_status = "fwd=bypass";
		goto forward;
	}
	switch (cache_lookup(cache, rule->id, r->host, h, time(NULL), &e,
	    &age)) {
	case CACHE_FRESH:
		r->cache_status = NULL;	/* a hit after a collapse is no miss */
		lookup_serve(c, e, h, age, "hit");
		return 0;
	case CACHE_STALE_SWR:
		lookup_serve_swr(c, h, p, rule, e, age);
		return 0;
	case CACHE_STALE:
		if (cache_request_only_if_cached(h)) {
			cache_entry_unref(e);
			respond_not_cached(c);
			return 0;
		}
		/*
		 * The client's own conditions would clash with ours.  Kept
		 * without validators, the entry is there for stale-if-error.
		 */
		if (http1_find(h, "if-none-match") == NULL &&
		    http1_find(h, "if-modified-since") == NULL) {
			r->cached = e;
			if (cache_entry_validators(e)[0] != '\0')
				extra = cache_entry_validators(e);
		} else
			cache_entry_unref(e);
		r->cache_status = "fwd=stale";
		break;
	case CACHE_MISS:
		if (cache_request_only_if_cached(h)) {
			respond_not_cached(c);
			return 0;
		}
		r->cache_status = "fwd=miss";
		if (lookup_collapse(c, rule, h))
			return 1;
		break;
	}
	r->client_auth = http1_find(h, "authorization") != NULL &&
	    !inject_sets_field(rule, "authorization");
	if ((r->cache_req = malloc(h->head_len)) != NULL) {
		memcpy(r->cache_req, p, h->head_len);
		r->cache_req_len = h->head_len;
	}
forward:
	upleg_send_request(c, h, p, rule, extra);
	return 0;
}

/*
 * Parse the saved request head (it parsed once; only the copy is new),
 * keyed like the lookup on the target as sent upstream.
 */
static int
lookup_request(struct conn *c, struct http1_head *rq)
{
	const char *why;

	if (http1_parse_request(c->ex.cache_req, c->ex.cache_req_len, rq,
	    &why) != HTTP1_OK)
		return -1;
	rq->target.p = c->ex.norm;
	rq->target.len = c->ex.norm_len;
	return 0;
}

/* A 304 answered our revalidation: refresh the entry and serve it. */
void
lookup_revalidated(struct conn *c, const struct http1_head *h304)
{
	struct exchange *r = &c->ex;
	struct cache_entry *e = r->cached, *fresh = NULL;
	struct http1_head rq, as200;
	int64_t lifetime = -1, age;

	/* Freshness comes from the 304's fields, read as if it were a 200. */
	as200 = *h304;
	as200.status = 200;
	if (lookup_request(c, &rq) == 0)
		lifetime = cache_storable(&rq, &as200, &r->rule->cache,
		    r->client_auth, time(NULL));
	cache_refresh(c->w->sl->cache, e, h304, lifetime > 0 ? lifetime : 0,
	    time(NULL));
	r->cached = NULL;
	/* Serve the refreshed entry (it carries the 304's fields) if it is in. */
	if (lifetime > 0 && cache_lookup(c->w->sl->cache, r->rule->id, r->host,
	    &rq, time(NULL), &fresh, &age) == CACHE_FRESH) {
		cache_entry_unref(e);
		e = fresh;
	} else if (fresh != NULL && fresh != e)
		cache_entry_unref(fresh);
	lookup_serve(c, e, &rq, 0, "fwd=stale; fwd-status=304");
	/* The upstream answered in full: keep it. */
	r->local = 0;
	r->resp.payload = (uint64_t)r->local_bytes;
	r->local_bytes = 0;
}

/*
 * The upstream failed (status: its 5xx, 0: no answer): serve the stale
 * entry instead if stale-if-error allows.  1 if it was served.
 */
int
lookup_serve_stale(struct conn *c, int status)
{
	struct exchange *r = &c->ex;
	struct http1_head rq;
	struct cache_entry *e = r->cached;
	char cs[48];

	if (e == NULL || (status != 0 && status != 500 && status != 502 &&
	    status != 503 && status != 504) ||
	    !cache_entry_on_error(e, time(NULL)) ||
	    lookup_request(c, &rq) == -1)
		return 0;
	r->cached = NULL;
	if (r->used_upstream) {
		upleg_drop(c);		/* what it still sends is not wanted */
		r->used_upstream = 0;
	}
	snprintf(cs, sizeof(cs), status ? "fwd=stale; fwd-status=%d" :
	    "fwd=stale", status);
	lookup_serve(c, e, &rq, cache_entry_age(e, time(NULL)), cs);
	return 1;
}

/* Start copying this response into the cache, if it may be stored. */
void
lookup_fill(struct conn *c, const struct http1_head *h)
{
	struct exchange *r = &c->ex;
	struct http1_head rq;
	int64_t lifetime;

	if (r->cached != NULL) {
		cache_entry_unref(r->cached);
		r->cached = NULL;
	}
	if (r->is_head || lookup_request(c, &rq) == -1) {
		lookup_flight_end(c);
		return;
	}
	lifetime = cache_storable(&rq, h, &r->rule->cache, r->client_auth,
	    time(NULL));
	if (lifetime < 0) {
		lookup_flight_end(c);	/* nothing will be stored to wait for */
		return;
	}
	r->fill = cache_fill_new(c->w->sl->cache, r->rule->id, r->host, &rq, h,
	    lifetime, r->rule->cache.max_bytes, (time_t)(r->start_ms / 1000),
	    time(NULL));
}
