/*
 * exchange.c - one request's life on a connection (struct exchange): begun
 * for a head the client's codec parsed, policy asked (policy.c), sent
 * upstream (upleg.c) or answered from the cache (lookup.c) or by sluice
 * (respond.c), both bodies streamed with backpressure (the request's from
 * the codec, the response's to it), the response head rewritten as a
 * message for the codec, and exactly one audit row at the end, when the
 * exchange is freed.  It never reads or writes the client's socket.
 */
#include <assert.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "audit.h"
#include "datapath.h"
#include "h1codec.h"
#include "inject.h"
#include "mask.h"
#include "msg.h"
#include "ratelimit.h"
#include "ratelimit_redis.h"
#include "rules.h"
#include "sock.h"
#include "urlpath.h"
#include "util.h"

/*
 * Normalise the target once: rules match it, the upstream gets it, the
 * cache keys on it and the audit shows it.  One that cannot be (a bad
 * escape, a "..;" segment, or no memory) is audited as sent, and
 * policy_dispatch() refuses it.
 */
static void
exchange_target(struct exchange *r, struct http1_str t)
{
	ssize_t n = -1;

	if (t.p == NULL)
		return;
	if ((r->norm = malloc(t.len + 1)) != NULL &&
	    (n = urlpath_normalise(t.p, t.len, r->norm)) >= 0) {
		r->norm_len = (size_t)n;
		r->target = strdup(r->norm);
		return;
	}
	free(r->norm);
	r->norm = NULL;
	r->target = strndup(t.p, t.len);
}

/*
 * A new exchange on c, the last one's memory if the connection kept it
 * (HTTP/1 keep-alive costs no malloc per request).  NULL without memory.
 */
static struct exchange *
exchange_new(struct conn *c)
{
	struct exchange *r = c->spare;

	if (r != NULL)
		c->spare = NULL;
	else if ((r = malloc(sizeof(*r))) == NULL)
		return NULL;
	memset(r, 0, sizeof(*r));
	r->c = c;
	TAILQ_INSERT_TAIL(&c->exs, r, entry);
	return r;
}

/*
 * What every exchange starts with, whichever codec parsed its head: the
 * method, the target normalised, the host rules see.  NULL without memory.
 */
static struct exchange *
exchange_start(struct conn *c, struct http1_str method,
    struct http1_str target)
{
	struct exchange *r;

	if ((r = exchange_new(c)) == NULL)
		return NULL;
	msg_init(&r->req, MSG_REQUEST);
	r->start_ms = util_wall_ms();
	r->start_mono = util_mono_ms();
	util_copy(r->method, sizeof(r->method), method.p, method.len);
	exchange_target(r, target);
	r->is_head = http1_str_eq(method, "HEAD");
	r->upstream_keepalive = 1;
	r->rule_id = -1;
	r->decision = "forwarded";
	r->state = EX_POLICY;
	/* The host rules see: the SNI, the CONNECT host or the destination IP. */
	util_copy(r->host, sizeof(r->host), c->name, strlen(c->name));
	return r;
}

/* Start an exchange on c for the request head h; NULL without memory. */
struct exchange *
exchange_begin(struct conn *c, const struct http1_head *h)
{
	struct exchange *r;
	const struct http1_header *up;

	if ((r = exchange_start(c, h->method, h->target)) == NULL)
		return NULL;
	r->minor = h->version_minor;
	r->expect_continue = h->expect_continue;
	/* HTTP/1.0 clients are not kept: they would need Connection: keep-alive */
	r->client_keepalive = h->keep_alive && h->version_minor == 1;
	if (h->upgrade && (up = http1_find(h, "upgrade")) != NULL)
		r->upgrade = strndup(up->value.p, up->value.len);
	http1_body_init(&r->body, h->body, h->content_length);
	if (h->body == HTTP1_BODY_NONE)
		r->body.done = 1;
	r->client_minor = h->version_minor;
	/* The upstream is told chunked (h1codec_write_request()). */
	r->body_chunked = h->body == HTTP1_BODY_CHUNKED;
	return r;
}

/*
 * Start an exchange on c for a request that came as a message (an HTTP/2
 * stream's, with the path as sent).  The message moves into the exchange,
 * not copied (once per HTTP/2 request): req is left empty, for the caller
 * to free.  The body is a fact: a known length goes to an HTTP/1.1
 * upstream as it is, an unknown one in sluice's chunks.  NULL without
 * memory (req untouched).
 */
struct exchange *
exchange_begin_msg(struct conn *c, struct msg *req)
{
	struct exchange *r;

	if ((r = exchange_start(c, (struct http1_str){ msg_ptr(req,
	    req->method), req->method.len }, (struct http1_str){ msg_ptr(req,
	    req->path), req->path.len })) == NULL)
		return NULL;
	msg_move(&r->req, req);
	req = &r->req;
	r->minor = 1;
	r->client_minor = 1;
	r->client_keepalive = 1;
	switch (req->body) {
	case MSG_BODY_NONE:
		http1_body_init(&r->body, HTTP1_BODY_NONE, 0);
		r->body.done = 1;
		break;
	case MSG_BODY_LENGTH:
		http1_body_init(&r->body, HTTP1_BODY_LENGTH, req->length);
		r->body.done = req->length == 0;
		break;
	case MSG_BODY_UNKNOWN:
		http1_body_init(&r->body, HTTP1_BODY_CHUNKED, 0);
		r->body_chunked = 1;
		break;
	}
	return r;
}

static void
exchange_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct exchange *r = arg;
	struct conn *c = r->c;

	exchange_timeout(r);
	front_run(c);
}

/*
 * The exchange's deadline.  The connection's one timer serves it while a
 * connection carries one exchange at a time; with many (HTTP/2) each has
 * its own.  Without memory for one, the exchange waits on its stream's
 * and the connection's other ends.
 */
void
exchange_arm(struct exchange *r, double secs)
{
	struct conn *c = r->c;

	if (!c->codec->multiplexed) {
		front_arm(c, secs);
		return;
	}
	if (r->timer == NULL && (r->timer = evtimer_new(c->env->base,
	    exchange_timer_cb, r)) == NULL)
		return;
	front_timer_add(r->timer, secs);
}

/* Run the exchange's deadline now (a shared limit's answer came). */
void
exchange_fire(struct exchange *r)
{
	event_active(r->timer != NULL ? r->timer : r->c->timer, EV_TIMEOUT,
	    0);
}

/*
 * Write the request's audit row and free the exchange (the connection
 * keeps one for its next): nothing may use r afterwards.
 */
void
exchange_audit(struct exchange *r)
{
	struct conn *c = r->c;
	struct audit_record rec = {
		.ts_ms = r->start_ms,
		.client = c->client_str,
		.server = c->server_str,
		.sni = c->sni[0] ? c->sni : NULL,
		.host = r->host[0] ? r->host : NULL,
		.method = r->method[0] ? r->method : NULL,
		.path = r->target,
		.status = r->status,
		.decision = r->decision,
		.rule_id = r->rule_id,
		.injected = r->injected[0] ? r->injected : NULL,
		.req_bytes = (int64_t)r->body.payload,
		.resp_bytes = r->local ? r->local_bytes : (int64_t)r->resp.payload,
		.duration_ms = util_mono_ms() - r->start_mono,
		.error = r->error[0] ? r->error : NULL,
		.conn_id = c->audit_id,
		.limit_source = r->limit_source,
		.client_proto = front_proto(r),
		.upstream_proto = r->upstream_proto,
		.upgrade = r->tunneled ? r->upgrade : NULL,
	};

	if (r->shared != NULL)
		ratelimit_redis_abandon(r->shared);
	if (r->held)
		ratelimit_held_done(c->env->ratelimit);
	cache_flight_leave(c->env->cache, &r->waiter);
	upleg_note_first(r);
	audit_submit(c->env->audit, &rec);
	counters_request(c->env->counters, counters_decision(r->decision),
	    r->status, r->rule_id, r->cache_status);
	if (r->error[0] != '\0')
		log_event(LOG_DEBUG, "request_failed", "client=%s method=%s "
		    "host=%s status=%d err=%s", c->client_str, r->method,
		    r->host, r->status, r->error);
	if (r->fill != NULL)
		cache_fill_abort(r->fill);
	mask_stream_free(r->mask);
	lookup_flight_end(r);
	if (r->cached != NULL)
		cache_entry_unref(r->cached);
	msg_free(&r->req);
	free(r->unsafe_target);
	free(r->upgrade);
	if (r->rules != NULL)
		rules_snapshot_unref(r->rules);
	upleg_retry_drop(r);
	upleg_drop(r);
	free(r->target);
	free(r->norm);
	h1codec_trailers_free(&r->body_trailers);
	h1codec_trailers_free(&r->resp_trailers);
	if (r->timer != NULL)
		event_free(r->timer);
	c->codec->release(r);
	TAILQ_REMOVE(&c->exs, r, entry);
	if (c->spare == NULL)
		c->spare = r;
	else
		free(r);
}

/*
 * The exchange is complete: its upstream leg is kept or closed, then the
 * client's codec frees it and says what the connection does next.
 */
static void
exchange_end(struct exchange *r)
{
	if (r->used_upstream)
		upleg_end(r);
	r->c->codec->finish(r);
}

/*
 * Write the response head m through the client's codec: Alt-Svc goes (no
 * QUIC; the upstream's Age stays), a credential the upstream echoed is
 * masked, sluice's Cache-Status comes.  -1 if it cannot be written.
 */
static int
exchange_write_msg(struct exchange *r, struct msg *m, int flags)
{
	char cs[64];
	int n;

	msg_remove(m, "alt-svc", 7);
	if (inject_mask_response(m, r->rule) == -1)
		return -1;
	if (m->status >= 200 && r->cache_status != NULL) {
		n = snprintf(cs, sizeof(cs), "sluice; %s", r->cache_status);
		if (msg_add(m, "Cache-Status", 12, cs, (size_t)n) == -1)
			return -1;
	}
	return r->c->codec->write_head(r, m, flags);
}

/*
 * Write the response head h (parsed from p) through the client's codec,
 * as a message: the status, the fields that do not end here (hop-by-hop
 * ones never enter the message), and the body's framing as a fact for the
 * codec to write.  -1 if it cannot be written.
 */
static int
exchange_write_response_head(struct exchange *r, const struct http1_head *h,
    const char *p, int flags)
{
	struct msg m;
	int rc = -1;

	msg_init(&m, MSG_RESPONSE);
	if (h1codec_response_msg(h, p, &m) == -1)
		goto fail;
	rc = exchange_write_msg(r, &m, flags);
fail:
	msg_free(&m);
	return rc;
}

/*
 * A 101 switches protocols only to one the request asked for (RFC 9110
 * 7.8): the request had Connection: upgrade and Upgrade, and every
 * protocol the response names is in the request's list.
 */
static int
exchange_upgrade_asked(const struct exchange *r, const struct http1_head *h)
{
	const struct http1_header *up = http1_find(h, "upgrade");
	struct http1_str want, rest, tok;
	const char *comma;

	if (r->upgrade == NULL || up == NULL || up->value.len == 0)
		return 0;
	want.p = r->upgrade;
	want.len = strlen(r->upgrade);
	for (rest = up->value; rest.len > 0; ) {
		comma = memchr(rest.p, ',', rest.len);
		tok.p = rest.p;
		tok.len = comma ? (size_t)(comma - rest.p) : rest.len;
		while (tok.len > 0 && (*tok.p == ' ' || *tok.p == '\t')) {
			tok.p++;
			tok.len--;
		}
		while (tok.len > 0 && (tok.p[tok.len - 1] == ' ' ||
		    tok.p[tok.len - 1] == '\t'))
			tok.len--;
		if (tok.len > 0 && !http1_list_has(want, tok))
			return 0;
		if (comma == NULL)
			break;
		rest.len -= comma + 1 - rest.p;
		rest.p = comma + 1;
	}
	return 1;
}

/*
 * A 101 switched to the protocol its Upgrade names (exchange_upgrade_asked()
 * checked it is one the request asked for): the audit row names it,
 * lowercased.  Without memory it keeps the request's list.
 */
static void
exchange_switched(struct exchange *r, const struct http1_head *h)
{
	const struct http1_header *up = http1_find(h, "upgrade");
	char *p;

	r->tunneled = 1;
	if (up == NULL || (p = strndup(up->value.p, up->value.len)) == NULL)
		return;
	free(r->upgrade);
	r->upgrade = p;
	for (; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
}

/*
 * A request that waited (for its rate-limit token, or for an identical
 * request's response to reach the cache) goes on.
 */
void
exchange_resume(struct exchange *r)
{
	struct conn *c = r->c;
	enum policy_limit limit = POLICY_LIMIT_PASS;

	if (r->held) {
		ratelimit_held_done(c->env->ratelimit);
		r->held = 0;
	}
	cache_flight_leave(c->env->cache, &r->waiter);
	r->state = EX_POLICY;
	exchange_arm(r, front_cfg(c)->upstream_timeout);
	if (r->shared != NULL &&
	    (limit = policy_limit_collect(r)) == POLICY_LIMIT_HELD)
		return;
	if (limit != POLICY_LIMIT_REFUSED)
		lookup_send(r, r->rule);
}

void
exchange_wake(void *arg)
{
	struct exchange *r = arg;
	struct conn *c = r->c;

	if (c->state == CONN_EXCHANGE && r->state == EX_COLLAPSED)
		exchange_resume(r);
	front_run(c);
}

/*
 * The exchange's deadline passed: a wait ends, or the body, the upstream or
 * a stream was too slow.
 */
void
exchange_timeout(struct exchange *r)
{
	struct conn *c = r->c;

	if (exchange_waits(r)) {
		exchange_resume(r);
	} else if (!r->body.done && !r->resp_started) {
		respond_error(r, 408, "timeout",
		    "client sent no request body for too long");
	} else if (!r->resp_started && lookup_serve_stale(r, 0)) {
		return;		/* stale-if-error */
	} else if (!r->resp_started) {
		log_event(LOG_WARN, "upstream_timeout", "client=%s "
		    "sni=%s upstream=%s", c->client_str, c->sni,
		    c->server_str);
		respond_error(r, 504, "gateway_timeout",
		    "upstream timed out");
	} else {
		/* front_free() resets the client: the body was cut. */
		if (r->state == EX_UPSTREAM && r->body.done)
			snprintf(r->error, sizeof(r->error),
			    "upstream timed out");	/* after a 1xx */
		else
			snprintf(r->error, sizeof(r->error),
			    "stream idle for %d s",
			    front_cfg(c)->stream_idle_timeout);
		r->decision = "error";
		r->client_keepalive = 0;
		/* HTTP/2 resets the stream; HTTP/1 can only close. */
		if (c->codec->multiplexed)
			c->codec->reset(r);
		else
			front_kill(c);
	}
}

/*
 * The request body from the client's codec: may more come now (the
 * upstream's output has room, or the body is dropped), its data, and its
 * end with the trailers that came.  Sent on as it is (a known length) or
 * in sluice's chunks with the trailers (h1codec_write_request() said
 * chunked); dropped when sluice answered the request itself.
 */
int
exchange_body_room(struct exchange *r)
{
	/* An extended CONNECT's data is the WebSocket's: not before its 101. */
	if (!r->local && r->ws_accept[0] != '\0' && !r->tunneled)
		return 0;
	if (!r->local && (r->up.is_h2 || r->up.dialing))
		return upleg_h2_body_room(r);
	return r->local || r->up.sock == NULL ||
	    evbuffer_get_length(sock_output(r->up.sock)) < CONN_HIGH_WATER;
}

int
exchange_body_data(struct exchange *r, struct evbuffer *src, size_t n)
{
	if (!r->local && r->up.is_h2)
		return upleg_h2_body_data(r, src, n);
	if (r->local || r->up.sock == NULL)
		return evbuffer_drain(src, n);
	return h1codec_move_data(sock_output(r->up.sock), src, n,
	    r->body_chunked);
}

int
exchange_body_end(struct exchange *r, const struct msg *trailers)
{
	if (!r->local && (r->up.is_h2 || r->up.dialing))
		return upleg_h2_body_end(r, trailers);
	/* The client ended its side of a WebSocket: so does the upstream's. */
	if (!r->local && r->tunneled && r->up.sock != NULL)
		sock_shutdown(r->up.sock);
	if (r->local || r->up.sock == NULL || !r->body_chunked)
		return 0;
	return h1codec_write_end(sock_output(r->up.sock), trailers);
}

/*
 * Does the response body go through the masker: its rule injects, and it
 * is a response's (a WebSocket's messages after an extended CONNECT's
 * 200, like those after a 101, are relayed as they are)?
 */
static int
exchange_masks(const struct exchange *r)
{
	return r->rule != NULL && r->rule->mask.n > 0 && !r->tunneled;
}

/*
 * n bytes of response body from src, whoever read them (the upstream's
 * codec, the cache), to the client's codec.  Under a rule that injects,
 * every form of its secrets is starred on the way, the same length, so
 * the framing stands (a Content-Length as sent); an end that a form may
 * continue waits for the next bytes or the body's end.
 */
int
exchange_write_body(struct exchange *r, struct evbuffer *src, size_t n)
{
	size_t ready;

	if (!exchange_masks(r))
		return r->c->codec->write_body(r, src, n);
	if (r->mask == NULL &&
	    (r->mask = mask_stream_new(&r->rule->mask)) == NULL)
		return -1;
	if (mask_stream_put(r->mask, src, n, 0, &ready) == -1)
		return -1;
	if (ready == 0)
		return 0;
	return r->c->codec->write_body(r, mask_stream_out(r->mask), ready);
}

/*
 * The response body ended: what the masker held back, then the trailers
 * t (NULL: none), masked as head fields are, to the client's codec.
 */
int
exchange_write_end(struct exchange *r, struct msg *t)
{
	size_t ready;

	if (r->mask != NULL &&
	    (mask_stream_put(r->mask, NULL, 0, 1, &ready) == -1 ||
	    (ready > 0 && r->c->codec->write_body(r, mask_stream_out(r->mask),
	    ready) == -1)))
		return -1;
	if (t != NULL && inject_mask_response(t, r->rule) == -1)
		return -1;
	return r->c->codec->write_end(r, t);
}

/*
 * The response body ended: the trailers kept meanwhile (as a message's
 * trailers: the kind does not matter) go to the client.
 */
static int
exchange_response_end(struct exchange *r)
{
	struct msg m;
	int rc;

	msg_init(&m, MSG_RESPONSE);
	rc = h1codec_trailers_msg(&r->resp_trailers, &m);
	if (rc == 0)
		rc = exchange_write_end(r, &m);
	msg_free(&m);
	h1codec_trailers_free(&r->resp_trailers);
	return rc;
}

static int
exchange_sink_room(void *arg)
{
	struct exchange *r = arg;

	return r->c->codec->room(r);
}

static int
exchange_sink_data(void *arg, struct evbuffer *src, size_t n)
{
	return exchange_write_body(arg, src, n);
}

/* The cache fill gets the bytes as they came: cache_fill_append() wants. */
static void
exchange_sink_seen(void *arg, const void *p, size_t n)
{
	exchange_fill_append(arg, p, n);
}

void
exchange_fill_append(struct exchange *r, const void *p, size_t n)
{
	if (r->fill != NULL && cache_fill_append(r->fill, p, n) == -1) {
		cache_fill_abort(r->fill);	/* too big: stream only */
		r->fill = NULL;
	}
}

/*
 * Decode the response body from the upstream's input and hand its data to
 * the client's codec until the message ends, the input is empty or the
 * codec has no room; the trailers of a chunked body are kept until its
 * end.  1 if anything moved, 0 if not, -1 on a framing error (or no
 * memory).
 */
static int
exchange_forward(struct exchange *r)
{
	struct h1codec_sink sink = { exchange_sink_room, exchange_sink_data,
	    exchange_sink_seen, r };
	int n;

	n = h1codec_read_body(sock_input(r->up.sock), &r->resp,
	    &r->resp_trailers, &sink);
	if (n == 1 && r->resp.done)
		return exchange_response_end(r) == -1 ? -1 : 1;
	return n;
}

/* A response head came (a 1xx too): its latency, and it has begun. */
static void
exchange_head_came(struct exchange *r)
{
	if (!r->resp_started)
		counters_latency(r->c->env->counters,
		    util_mono_ms() - r->start_mono);
	r->resp_started = 1;
}

/* A final response that succeeded ends what the cache kept of the target. */
static void
exchange_invalidate(struct exchange *r)
{
	if (r->unsafe_target != NULL && r->status >= 200 && r->status < 400)
		cache_invalidate(r->c->env->cache, r->c->authority,
		    (struct http1_str){ r->unsafe_target,
		    strlen(r->unsafe_target) });
}

/* The final head went out: its body streams next, if it has one. */
static void
exchange_resp_begin(struct exchange *r, enum http1_body_kind kind,
    uint64_t length)
{
	http1_body_init(&r->resp, kind, length);
	r->state = EX_RESPONSE;
	if (kind != HTTP1_BODY_NONE)
		return;
	r->resp.done = 1;
	r->state = EX_DONE;
	if (r->fill != NULL) {
		cache_fill_commit(r->fill);
		r->fill = NULL;
	}
	lookup_flight_end(r);
}

/*
 * The response's body is coded although the request asked for identity:
 * the masker could not read it, so none of it reaches the client (502).
 */
static void
exchange_refuse_hidden(struct exchange *r)
{
	struct conn *c = r->c;

	log_event(LOG_WARN, "bad_response", "client=%s upstream=%s err=%s",
	    c->client_str, c->server_str, "coded body under a rule that "
	    "injects");
	respond_error(r, 502, "bad_gateway", "the upstream sent a coded body, "
	    "which sluice cannot scan for the credentials it injected");
}

/*
 * A cache rule's response from an HTTP/2 upstream: the cache sees it as an
 * HTTP/1.1 head whose body comes as it is, with the status's usual reason.
 */
static void
exchange_fill_msg(struct exchange *r, const struct msg *m)
{
	struct http1_head h;

	if (h1codec_response_view(m, h1codec_reason(m->status), &h) == -1) {
		lookup_flight_end(r);
		return;
	}
	lookup_fill(r, &h);
}

/*
 * A 304 from an HTTP/2 upstream to the stale entry's validators: the
 * entry is refreshed from its fields and served.  -1 if the exchange
 * ended (502: the head cannot be read).
 */
static int
exchange_revalidated_msg(struct exchange *r, const struct msg *m)
{
	struct http1_head h;

	if (h1codec_response_view(m, "", &h) == -1) {
		respond_error(r, 502, "bad_gateway",
		    "response head cannot be read");
		return -1;
	}
	lookup_revalidated(r, &h);
	r->resp.done = 1;	/* a 304 has no body */
	return 0;
}

/*
 * A response head from an HTTP/2 upstream (upleg_h2.c), as a message: as
 * an HTTP/1 one, but its framing is already a fact.  -1 if the exchange
 * ended (502: the head cannot be written).
 */
int
exchange_response_msg(struct exchange *r, struct msg *m)
{
	exchange_head_came(r);
	if (m->status < 200) {
		if (exchange_write_msg(r, m, 0) == -1)
			goto unwritable;
		return 0;
	}
	r->status = m->status;
	exchange_invalidate(r);
	if (r->cached != NULL && m->status == 304)
		return exchange_revalidated_msg(r, m);
	if (lookup_serve_stale(r, m->status))
		return 0;
	if (inject_body_hidden(r->rule, m)) {
		exchange_refuse_hidden(r);
		return -1;
	}
	/* As the upstream sent it: the head written gains Cache-Status. */
	if (r->fillable)
		exchange_fill_msg(r, m);
	if (exchange_write_msg(r, m, 0) == -1)
		goto unwritable;
	exchange_resp_begin(r, m->body == MSG_BODY_NONE ? HTTP1_BODY_NONE :
	    m->body == MSG_BODY_LENGTH ? HTTP1_BODY_LENGTH :
	    HTTP1_BODY_CHUNKED, m->length);
	return 0;
unwritable:
	respond_error(r, 502, "bad_gateway",
	    "response head cannot be written");
	return -1;
}

/*
 * The 101 h (parsed from p) to an extended CONNECT (RFC 8441): the stream
 * is answered :status 200 and carries the WebSocket as its two bodies, the
 * upstream's until it closes.  1, or -1 once answered 502.
 */
static int
exchange_ws_open(struct exchange *r, const struct http1_head *h,
    const char *p)
{
	struct conn *c = r->c;
	struct msg m;
	const char *why;
	int rc;

	msg_init(&m, MSG_RESPONSE);
	if (extconnect_response(r, h, p, &m, &why) == -1) {
		msg_free(&m);
		log_event(LOG_WARN, "bad_response", "client=%s upstream=%s "
		    "err=%s", c->client_str, c->server_str, why);
		respond_error(r, 502, "bad_gateway", why);
		return -1;
	}
	exchange_head_came(r);
	exchange_switched(r, h);
	r->status = 200;
	r->upstream_keepalive = 0;
	rc = exchange_write_msg(r, &m, 0);
	msg_free(&m);
	if (rc == -1) {
		respond_error(r, 502, "bad_gateway",
		    "response head cannot be written");
		return -1;
	}
	evbuffer_drain(sock_input(r->up.sock), h->head_len);
	exchange_resp_begin(r, HTTP1_BODY_UNTIL_CLOSE, 0);
	return 1;
}

/* 1: a head was handled, 0: need more, -1: the exchange ended badly. */
static int
exchange_response_head(struct exchange *r)
{
	struct conn *c = r->c;
	struct evbuffer *in = sock_input(r->up.sock);
	size_t len = evbuffer_get_length(in);
	struct http1_str method = { r->method, strlen(r->method) };
	struct http1_head h;
	const char *why = "malformed response";
	char *p;

	if (len == 0)
		return 0;
	if (len > HTTP1_MAX_HEAD)
		len = HTTP1_MAX_HEAD;
	p = (char *)evbuffer_pullup(in, len);
	switch (http1_parse_response(p, len, method, &h, &why)) {
	case HTTP1_INCOMPLETE:
		return 0;
	case HTTP1_OK:
		break;
	default:
		log_event(LOG_WARN, "bad_response", "client=%s upstream=%s "
		    "err=%s", c->client_str, c->server_str, why);
		respond_error(r, 502, "bad_gateway", why);
		return -1;
	}
	upleg_retry_drop(r);
	if (h.status == 101 && !exchange_upgrade_asked(r, &h)) {
		log_event(LOG_WARN, "bad_response", "client=%s upstream=%s "
		    "err=%s", c->client_str, c->server_str,
		    "101 without a matching upgrade request");
		respond_error(r, 502, "bad_gateway",
		    "upstream switched protocols without being asked");
		return -1;
	}
	if (h.status == 101 && r->ws_accept[0] != '\0')
		return exchange_ws_open(r, &h, p);
	exchange_head_came(r);
	if (h.status < 200) {
		if (exchange_write_response_head(r, &h, p, 0) == -1)
			goto unwritable;
		if (h.status == 101)
			exchange_switched(r, &h);	/* h is in the input */
		evbuffer_drain(in, h.head_len);
		if (h.status != 101)
			return 1;
		r->status = 101;
		tunnel_upgrade(c, r);
		return -1;
	}
	r->status = h.status;
	if (!h.keep_alive)
		r->upstream_keepalive = 0;
	/*
	 * A body that ends with the upstream's close ends the client's
	 * connection too; so does chunked for an HTTP/1.0 client (the codec).
	 */
	if (h.body == HTTP1_BODY_UNTIL_CLOSE)
		r->client_keepalive = 0;
	exchange_invalidate(r);
	if (r->cached != NULL && h.status == 304) {
		lookup_revalidated(r, &h);
		evbuffer_drain(in, h.head_len);
		r->resp.done = 1;	/* a 304 has no body */
		return 1;
	}
	if (lookup_serve_stale(r, h.status))
		return 1;
	if (inject_body_hidden_head(r->rule, &h)) {
		exchange_refuse_hidden(r);
		return -1;
	}
	/* The upstream's Age goes on: the cache adds to it only on a hit. */
	if (exchange_write_response_head(r, &h, p,
	    h.body == HTTP1_BODY_UNTIL_CLOSE ? FRONT_UNTIL_CLOSE : 0) == -1)
		goto unwritable;
	if (r->fillable)
		lookup_fill(r, &h);
	evbuffer_drain(in, h.head_len);
	exchange_resp_begin(r, h.body, h.content_length);
	return 1;
unwritable:
	/* No memory, or a coding list too long to add chunked to. */
	respond_error(r, 502, "bad_gateway",
	    "response head cannot be written");
	return -1;
}

int
exchange_pump(struct exchange *r)
{
	struct conn *c = r->c;
	int progress = 0, n;

	if (exchange_waits(r))
		return 0;		/* a timer or a waiter wakes it */
	if (!r->body.done) {
		n = c->codec->read_body(r);
		if (n == -1) {
			snprintf(r->error, sizeof(r->error),
			    "malformed chunked request body");
			if (!r->resp_started)
				respond_error(r, 400, "bad_request",
				    r->error);
			else
				r->body.done = 1;
			r->client_keepalive = 0;
			return 1;
		}
		progress |= n;
	}
	while (r->state == EX_UPSTREAM && r->up.sock != NULL) {
		n = exchange_response_head(r);
		if (n == -1)
			return 1;
		if (n == 0)
			break;
		progress = 1;
	}
	if (r->state == EX_RESPONSE) {
		n = r->up.is_h2 ? upleg_h2_forward(r) : exchange_forward(r);
		if (n == -1) {
			snprintf(r->error, sizeof(r->error),
			    "malformed chunked response body");
			r->resp.done = 1;
			r->client_keepalive = 0;
			r->upstream_keepalive = 0;
		}
		progress |= n != 0;
		if (r->resp.done)
			r->state = EX_DONE;
		if (r->resp.done && r->fill != NULL && r->error[0] == '\0') {
			cache_fill_commit(r->fill);
			r->fill = NULL;
			lookup_flight_end(r);
		}
	}
	if (r->up.eof && !r->local && r->state != EX_DONE &&
	    evbuffer_get_length(sock_input(r->up.sock)) == 0) {
		if (upleg_eof(r) == -1)
			return 1;
		/* A body the close ended: HTTP/2 ends the stream. */
		if (exchange_response_end(r) == -1)
			r->client_keepalive = 0;
	}
	if (r->state == EX_DONE && !r->body.done && !r->local) {
		/*
		 * Answered before the body ended: neither side can be reused,
		 * and the client gets a lingering close.
		 */
		r->body_cut = 1;
		r->body.done = 1;
		r->client_keepalive = 0;
		r->upstream_keepalive = 0;
	}
	if (r->state == EX_DONE && r->body.done) {
		exchange_end(r);
		return 1;
	}
	/*
	 * --upstream-timeout bounds the wait for a response head; a body
	 * streaming either way may pause longer (LLM streams do).
	 */
	if (progress)
		exchange_arm(r, r->state == EX_RESPONSE || !r->body.done ?
		    front_cfg(c)->stream_idle_timeout :
		    front_cfg(c)->upstream_timeout);
	return progress;
}

/* A held or collapsed request: it neither reads nor sends until woken. */
int
exchange_waits(const struct exchange *r)
{
	return r->state == EX_HELD || r->state == EX_COLLAPSED;
}

#ifdef SLUICE_DEBUG
/* What exchange r's state promises (SQLite's assert_pager_state()). */
static void
exchange_assert_one(const struct conn *c, const struct exchange *r)
{
	assert(r->c == c);
	assert(r->start_ms != 0);
	assert(!r->local || r->state == EX_DONE);
	/* A leg in use is one exchange's, never also the connection's. */
	assert(r->up.sock == NULL || r->used_upstream);
	assert(r->up.sock == NULL || c->idle.sock == NULL);
	assert(r->waiter.flight == NULL || r->state == EX_COLLAPSED);
	switch (r->state) {
	case EX_HEAD:
	case EX_POLICY:
		assert(!"an exchange left undecided");
		break;
	case EX_HELD:
		/* What waits is the message: its head left the input. */
		assert(r->req.method.len > 0);
		assert(r->limit_rule != NULL && r->limit_rule->has_limit);
		assert(!r->resp_started && !r->used_upstream);
		assert(r->fill == NULL && r->flight == NULL);
		break;
	case EX_COLLAPSED:
		assert(r->req.method.len > 0);
		assert(r->collapsed && r->waiter.flight != NULL);
		assert(r->flight == NULL && !r->resp_started &&
		    !r->used_upstream);
		break;
	case EX_UPSTREAM:
		assert(r->req.method.len > 0);
		assert(r->used_upstream && (r->up.sock != NULL ||
		    r->up.is_h2));
		assert(r->status < 200 && r->fill == NULL);
		assert(!r->resp_chunked && r->resp_trailers.p == NULL);
		break;
	case EX_RESPONSE:
		assert(r->used_upstream && r->resp_started);
		assert(r->status >= 200 && !r->resp.done);
		break;
	case EX_DONE:
		assert(r->resp_started && r->status != 0);
		break;
	}
}

/*
 * What the connection's exchanges promise, checked after every step of a
 * connection in debug builds.  Between requests there is none (the spare
 * is memory, not a request); HTTP/1 has one at a time; a kept upstream
 * leg is idle and whole.
 */
void
exchange_assert(const struct conn *c)
{
	const struct exchange *r;
	int n = 0;

	assert(c->idle.sock == NULL || (c->idle.connected &&
	    c->idle.reusable && !c->idle.eof && c->idle.retry_head == NULL));
	assert(c->spare == NULL || c->spare != TAILQ_FIRST(&c->exs));
	if (c->state == CONN_REQ_HEAD) {
		assert(TAILQ_EMPTY(&c->exs));
		return;
	}
	if (c->state != CONN_EXCHANGE)
		return;
	TAILQ_FOREACH(r, &c->exs, entry) {
		exchange_assert_one(c, r);
		n++;
	}
	assert(n == 1 || (n > 1 && c->codec != &front_h1));
}
#endif

