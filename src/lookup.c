/*
 * lookup.c - the cache step of an exchange: serve a fresh hit, wait for an
 * identical miss already on its way (collapsed forwarding), send a stale
 * entry's validators and serve it on a 304, and copy a storable response
 * into the cache as it streams to the client.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "datapath.h"
#include "inject.h"
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
	    (c->waiter.ev = event_new(c->w->base, -1, 0, exchange_wake, c)) == NULL)
		return 0;
	r->flight = cache_flight_join(c->w->sl->cache, rule->id, r->host,
	    h->target, &c->waiter);
	if (r->flight != NULL || c->waiter.flight == NULL)
		return 0;
	r->collapsed = 1;
	c->state = CONN_COLLAPSED;
	front_arm(c, CONN_COLLAPSE_SECS);
	return 1;
}

static void
lookup_unref(const void *data, size_t len, void *arg)
{
	cache_entry_unref(arg);
}

/* Answer from a cache entry (takes the reference). */
static void
lookup_serve(struct conn *c, struct cache_entry *e, int64_t age,
    const char *status)
{
	struct exchange *r = &c->ex;
	struct evbuffer *out = sock_output(c->cbev);
	const char *head, *body;
	size_t hl, bl;

	if (r->used_upstream && !c->ubev_connected)
		upleg_drop(c);
	if (!r->body.done) {
		r->body.done = 1;
		r->client_keepalive = 0;
	}
	head = cache_entry_head(e, &hl);
	body = cache_entry_body(e, &bl);
	evbuffer_add(out, head, hl);
	evbuffer_add_printf(out, "Age: %lld\r\nCache-Status: sluice; %s\r\n%s"
	    "\r\n", (long long)age, status, r->client_keepalive &&
	    !c->w->draining ? "" : "Connection: close\r\n");
	r->local = 1;
	r->local_bytes = r->is_head ? 0 : (int64_t)cache_entry_payload(e);
	r->resp_state = RESP_DONE;
	r->resp_started = 1;
	r->status = cache_entry_status(e);
	r->decision = "cached";
	if (r->is_head || bl == 0 ||
	    evbuffer_add_reference(out, body, bl, lookup_unref, e) == -1)
		cache_entry_unref(e);
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
		lookup_serve(c, e, age, "hit");
		return 0;
	case CACHE_STALE:
		/* The client's own conditions would clash with ours. */
		if (http1_find(h, "if-none-match") == NULL &&
		    http1_find(h, "if-modified-since") == NULL) {
			r->cached = e;
			extra = cache_entry_validators(e);
		} else
			cache_entry_unref(e);
		r->cache_status = "fwd=stale";
		break;
	case CACHE_MISS:
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
	lookup_serve(c, e, 0, "fwd=stale; fwd-status=304");
	/* The upstream answered in full: keep it. */
	r->local = 0;
	r->resp.payload = (uint64_t)r->local_bytes;
	r->local_bytes = 0;
}

/* Start copying this response into the cache, if it may be stored. */
void
lookup_fill(struct conn *c, const struct http1_head *h,
    struct evbuffer *out, size_t before)
{
	struct exchange *r = &c->ex;
	struct evbuffer_ptr pos;
	struct http1_head rq;
	int64_t lifetime;
	size_t len = evbuffer_get_length(out) - before;
	char *head;

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
	if (lifetime < 0 || (head = malloc(len)) == NULL) {
		lookup_flight_end(c);	/* nothing will be stored to wait for */
		return;
	}
	if (evbuffer_ptr_set(out, &pos, before, EVBUFFER_PTR_SET) == 0 &&
	    evbuffer_copyout_from(out, &pos, head, len) == (ssize_t)len)
		r->fill = cache_fill_new(c->w->sl->cache, r->rule->id, r->host,
		    &rq, h, head, len, lifetime, r->rule->cache.max_bytes,
		    time(NULL));
	free(head);
}
