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
#include "h1codec.h"
#include "inject.h"
#include "revalidate.h"
#include "rules.h"
#include "sock.h"

/* Wake the requests that wait for this one's response to reach the cache. */
void
lookup_flight_end(struct exchange *r)
{
	if (r->flight != NULL) {
		cache_flight_done(r->c->env->cache, r->flight);
		r->flight = NULL;
	}
}

/*
 * The exchange's request as the cache reads it: its fields, and the
 * target as sent upstream (normalised), which is what the cache keys on.
 */
static int
lookup_request(struct exchange *r, struct http1_head *rq)
{
	return h1codec_head_view(&r->req, rq);
}

/*
 * Does the cache step apply: a rule with a cache policy, and a request
 * that does not ask to switch protocols?  A WebSocket (an Upgrade GET, or
 * an extended CONNECT made one) is no response to reuse or keep, nor one
 * to wait for: collapsed onto another's flight, it would wait for that
 * WebSocket to end.
 */
static int
lookup_applies(const struct exchange *r, const struct rule *rule)
{
	return rule != NULL && rule->has_cache && !r->req.upgrade;
}

/*
 * A miss: lead the fetch, or wait for the identical one in flight (once,
 * bounded).  1 if this request now waits.
 */
static int
lookup_collapse(struct exchange *r, const struct rule *rule,
    const struct http1_head *req)
{
	struct conn *c = r->c;

	if (r->collapsed || r->is_head)
		return 0;
	r->waiter.wake = c->env->wake;
	wake_call_init(&r->waiter.call, exchange_wake, r);
	r->flight = cache_flight_join(c->env->cache, rule->id, c->authority,
	    req->target, &r->waiter);
	if (r->flight != NULL || r->waiter.flight == NULL)
		return 0;
	r->collapsed = 1;
	r->state = EX_COLLAPSED;
	exchange_arm(r, CONN_COLLAPSE_SECS);
	return 1;
}

static void
lookup_unref(const void *data, size_t len, void *arg)
{
	cache_entry_unref(arg);
}

/*
 * The answer's head as a message, for the client's codec: the head
 * cache_answer() wrote (freed here), read back, with Age and
 * Cache-Status.  -1 without memory.
 */
static int
lookup_answer_msg(struct exchange *r, struct cache_answer *a, int64_t age,
    const char *status, struct msg *m)
{
	struct http1_str method = { r->method, strlen(r->method) };
	struct http1_head h;
	const char *why;
	char *p, v[64];
	int n, rc = -1;

	if ((p = realloc(a->head, a->headlen + 2)) == NULL) {
		free(a->head);
		return -1;
	}
	memcpy(p + a->headlen, "\r\n", 2);
	if (http1_parse_response(p, a->headlen + 2, method, &h, &why) !=
	    HTTP1_OK || h1codec_response_msg(&h, p, m) == -1)
		goto fail;
	n = snprintf(v, sizeof(v), "%lld", (long long)age);
	if (msg_add(m, "Age", 3, v, (size_t)n) == -1)
		goto fail;
	n = snprintf(v, sizeof(v), "sluice; %s", status);
	if (msg_add(m, "Cache-Status", 12, v, (size_t)n) == -1)
		goto fail;
	rc = 0;
fail:
	free(p);
	return rc;
}

/*
 * Write the answer through the client's codec: the head, the body (a
 * reference into the entry, which it holds until written) and the end.
 */
static int
lookup_write(struct exchange *r, const struct msg *m, struct cache_entry *e,
    const struct cache_answer *a)
{
	const struct front_codec *codec = r->c->codec;
	struct evbuffer *body = NULL;
	int rc = -1;

	if (codec->write_head(r, m, 0) == -1)
		goto fail;
	if (a->bodylen > 0) {
		if ((body = evbuffer_new()) == NULL ||
		    evbuffer_add_reference(body, a->body, a->bodylen,
		    lookup_unref, e) == -1)
			goto fail;
		e = NULL;		/* the body's now */
		if (exchange_write_body(r, body, a->bodylen) == -1)
			goto fail;
	}
	rc = exchange_write_end(r, NULL);
fail:
	if (body != NULL)
		evbuffer_free(body);
	if (e != NULL)
		cache_entry_unref(e);
	return rc;
}

/*
 * Answer req from a cache entry (takes the reference): the stored message
 * with sluice's framing, or the 304, 206 or 416 that req asks for.
 */
static void
lookup_serve(struct exchange *r, struct cache_entry *e,
    const struct http1_head *req, int64_t age, const char *status)
{
	struct cache_answer a;
	struct msg m;

	msg_init(&m, MSG_RESPONSE);
	if (cache_answer(e, req, &a) == -1 ||
	    lookup_answer_msg(r, &a, age, status, &m) == -1 ||
	    inject_mask_response(&m, r->rule) == -1) {
		msg_free(&m);
		cache_entry_unref(e);
		respond_error(r, 502, "bad_gateway", "out of memory");
		return;
	}
	if (r->used_upstream && !r->up.connected)
		upleg_drop(r);
	if (!r->body.done) {
		r->body.done = 1;
		r->client_keepalive = 0;
	}
	r->local = 1;
	r->local_bytes = (int64_t)a.bodylen;
	r->state = EX_DONE;
	r->resp_started = 1;
	r->status = a.status;
	r->decision = "cached";
	if (lookup_write(r, &m, e, &a) == -1)
		r->c->codec->reset(r);	/* no memory: cut, not half */
	msg_free(&m);
}

/*
 * Did the client send credentials of its own (not the rule's): an
 * Authorization, or a Cookie, which names a session as surely and makes
 * the answer as much that client's?  Then the response is shared only if
 * the origin said so (cache_storable()).
 */
static int
lookup_client_auth(struct exchange *r, const struct rule *rule)
{
	return (msg_find(&r->req, "authorization", 13) != NULL &&
	    !inject_sets_field(rule, "authorization")) ||
	    (msg_find(&r->req, "cookie", 6) != NULL &&
	    !inject_sets_field(rule, "cookie"));
}

/*
 * Within stale-while-revalidate: answer from the stale entry (takes the
 * reference) and start its one background revalidation.
 */
static void
lookup_serve_swr(struct exchange *r, const struct http1_head *req,
    const struct rule *rule, struct cache_entry *e, int64_t age)
{
	struct conn *c = r->c;

	if (revalidate_start(c->env, (struct sockaddr *)&c->up_addr, c->up_len,
	    c->sni[0] ? c->sni : c->name, c->name, e, r->rules, rule,
	    c->authority, &r->req, lookup_client_auth(r, rule), c->client_str,
	    c->server_str) == -1)
		log_event(LOG_DEBUG, "cache_revalidate_skipped", "host=%s",
		    r->host);
	lookup_serve(r, e, req, age, "hit; fwd=stale");
}

/*
 * Answer from the cache if the entry is fresh (or within
 * stale-while-revalidate), before the rate limit is asked: such a hit
 * costs the upstream nothing.  1 if answered.
 */
int
lookup_hit(struct exchange *r, const struct rule *rule)
{
	struct http1_head rq;
	struct cache_entry *e;
	int64_t age;

	if (!lookup_applies(r, rule) || lookup_request(r, &rq) == -1 ||
	    cache_request_bypass(&rq))
		return 0;
	switch (cache_lookup(r->c->env->cache, rule->id, r->c->authority, &rq,
	    time(NULL), &e, &age)) {
	case CACHE_FRESH:
		lookup_serve(r, e, &rq, age, "hit");
		return 1;
	case CACHE_STALE_SWR:
		lookup_serve_swr(r, &rq, rule, e, age);
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
 * one already on its way upstream (EX_COLLAPSED, the message kept).
 */
int
lookup_send(struct exchange *r, const struct rule *rule)
{
	struct cache *cache = r->c->env->cache;
	const char *extra = NULL;
	struct http1_head rq, *h = &rq;
	struct cache_entry *e;
	int64_t age;

	if (!msg_str_eq(&r->req, r->req.method, "GET", 3) &&
	    !msg_str_eq(&r->req, r->req.method, "HEAD", 4) &&
	    !msg_str_eq(&r->req, r->req.method, "OPTIONS", 7) &&
	    !msg_str_eq(&r->req, r->req.method, "TRACE", 5))
		r->unsafe_target = strndup(r->norm, r->norm_len);
	if (!lookup_applies(r, rule) || lookup_request(r, &rq) == -1)
		goto forward;
	if (cache_request_bypass(h)) {
		if (r->unsafe_target == NULL)
			r->cache_status = "fwd=bypass";
		goto forward;
	}
	switch (cache_lookup(cache, rule->id, r->c->authority, h, time(NULL),
	    &e, &age)) {
	case CACHE_FRESH:
		r->cache_status = NULL;	/* a hit after a collapse is no miss */
		lookup_serve(r, e, h, age, "hit");
		return 0;
	case CACHE_STALE_SWR:
		lookup_serve_swr(r, h, rule, e, age);
		return 0;
	case CACHE_STALE:
		if (cache_request_only_if_cached(h)) {
			cache_entry_unref(e);
			respond_not_cached(r);
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
			respond_not_cached(r);
			return 0;
		}
		r->cache_status = "fwd=miss";
		if (lookup_collapse(r, rule, h))
			return 1;
		break;
	}
	r->client_auth = lookup_client_auth(r, rule);
	r->fillable = 1;
forward:
	upleg_send_request(r, rule, extra);
	return 0;
}

/* A 304 answered our revalidation: refresh the entry and serve it. */
void
lookup_revalidated(struct exchange *r, const struct http1_head *h304)
{
	struct conn *c = r->c;
	struct cache_entry *e = r->cached, *fresh = NULL;
	struct http1_head rq, as200, h;
	struct msg m;
	int64_t lifetime = -1, age;
	int masked;

	/*
	 * Its fields, as the client gets them, replace the entry's (not
	 * without memory to mask them: the entry is served as it was).
	 */
	masked = inject_mask_view(h304, r->rule, &m, &h) == 0;
	/* Freshness comes from the 304's fields, read as if it were a 200. */
	as200 = h;
	as200.status = 200;
	if (lookup_request(r, &rq) == 0)
		lifetime = cache_storable(&rq, &as200, &r->rule->cache,
		    r->client_auth, time(NULL));
	if (masked)
		cache_refresh(c->env->cache, e, &h, lifetime > 0 ? lifetime : 0,
		    time(NULL));
	msg_free(&m);
	r->cached = NULL;
	/* Serve the refreshed entry (it carries the 304's fields) if it is in. */
	if (lifetime > 0 && cache_lookup(c->env->cache, r->rule->id,
	    c->authority, &rq, time(NULL), &fresh, &age) == CACHE_FRESH) {
		cache_entry_unref(e);
		e = fresh;
	} else if (fresh != NULL && fresh != e)
		cache_entry_unref(fresh);
	lookup_serve(r, e, &rq, 0, "fwd=stale; fwd-status=304");
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
lookup_serve_stale(struct exchange *r, int status)
{
	struct http1_head rq;
	struct cache_entry *e = r->cached;
	char cs[48];

	if (e == NULL || (status != 0 && status != 500 && status != 502 &&
	    status != 503 && status != 504) ||
	    !cache_entry_on_error(e, time(NULL)) ||
	    lookup_request(r, &rq) == -1)
		return 0;
	r->cached = NULL;
	if (r->used_upstream) {
		upleg_drop(r);		/* what it still sends is not wanted */
		r->used_upstream = 0;
	}
	snprintf(cs, sizeof(cs), status ? "fwd=stale; fwd-status=%d" :
	    "fwd=stale", status);
	lookup_serve(r, e, &rq, cache_entry_age(e, time(NULL)), cs);
	return 1;
}

/*
 * Start copying this response into the cache, if it may be stored: its
 * head and body as the client gets them, every secret they echo masked.
 */
void
lookup_fill(struct exchange *r, const struct http1_head *h0)
{
	struct http1_head rq, h;
	struct msg m;
	int64_t lifetime;

	if (r->cached != NULL) {
		cache_entry_unref(r->cached);
		r->cached = NULL;
	}
	if (r->is_head || lookup_request(r, &rq) == -1) {
		lookup_flight_end(r);
		return;
	}
	if (inject_mask_view(h0, r->rule, &m, &h) == -1)
		goto done;
	lifetime = cache_storable(&rq, &h, &r->rule->cache, r->client_auth,
	    time(NULL));
	if (lifetime < 0)
		goto done;	/* nothing will be stored to wait for */
	r->fill = cache_fill_new(r->c->env->cache, r->rule->id, r->c->authority,
	    &rq, &h,
	    lifetime, r->rule->cache.max_bytes, (time_t)(r->start_ms / 1000),
	    time(NULL));
	if (r->fill != NULL && r->rule->mask.n > 0)
		cache_fill_mask(r->fill, &r->rule->mask);
	msg_free(&m);
	return;
done:
	msg_free(&m);
	lookup_flight_end(r);
}
