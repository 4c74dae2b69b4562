/*
 * upleg_h2.c - an exchange's upstream leg when it is a stream on a shared
 * HTTP/2 connection (h2up.c) instead of a sock of its own: whether a
 * request may go over h2 at all, the pooled connection it joins or the
 * one its dial turned into, the request head (the message with the rule's
 * credentials) and body with backpressure both ways, the response back
 * through the client's codec, and what a reset or a dead connection means
 * (sent again once if the server never processed it, else 502 or a cut).
 *
 * The stream's callbacks only record and move what came, then run the
 * connection (front_run), as the sock callbacks of an HTTP/1 leg do; the
 * exchange's pump forwards the response data as the client takes it
 * (upleg_h2_forward), and only then is it credited to the server.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "datapath.h"
#include "h2client.h"
#include "h2up.h"
#include "inject.h"
#include "log.h"

/*
 * How long a request waits for another exchange's dial to the same
 * upstream before it dials itself: a handshake on a sane network takes
 * well under this.  The exchange's own --upstream-timeout keeps running
 * meanwhile, so a wait never outlives it.
 */
#define UPLEG_H2_WAIT_MS	1000

/* A request waiting for another exchange's dial (upleg_h2_wait()). */
struct upleg_h2_wait {
	struct h2up_wait w;		/* first: done is given it */
	struct event	*ev;		/* the bound, and the wake-up */
};

/*
 * May r go over HTTP/2?  Not an upgrade (WebSocket: h2client has no
 * extended CONNECT), and only with a worker's pool to share connections
 * in.  A revalidation may: exchange_response_msg() reads its 304.
 */
int
upleg_h2_wanted(const struct exchange *r)
{
	return r->c->env->h2pool != NULL && r->upgrade == NULL &&
	    !r->req.upgrade;
}

/*
 * Join a pooled connection with a stream to spare: 1 if one was found.
 * The connections row names its TLS, as it would a pooled HTTP/1 leg's.
 */
int
upleg_h2_find(struct exchange *r)
{
	struct conn *c = r->c;

	r->up.h2 = h2up_pool_find(c->env->h2pool,
	    (struct sockaddr *)&c->up_addr, c->up_len, c->name);
	if (r->up.h2 == NULL)
		return 0;
	if (c->up_subject[0] == '\0')
		upleg_note(c, h2up_ssl(r->up.h2));
	r->up.is_h2 = 1;
	r->up.connected = 1;
	r->up.reused = 1;
	return 1;
}

static void
upleg_h2_trailers_free(struct msg **m)
{
	if (*m == NULL)
		return;
	msg_free(*m);
	free(*m);
	*m = NULL;
}

/* A copy of m's trailers to keep, NULL if it has none (or no memory). */
static struct msg *
upleg_h2_trailers_keep(const struct msg *m)
{
	struct msg *t;

	if (m == NULL || m->trailers.n == 0 || (t = malloc(sizeof(*t))) ==
	    NULL)
		return NULL;
	if (msg_clone(t, m) == -1) {
		free(t);
		return NULL;
	}
	return t;
}

/*
 * The dial r makes offers h2: until its handshake settles, other requests
 * to the same upstream wait for it rather than dial too.  Without memory
 * to say so, they just dial.
 */
void
upleg_h2_dial(struct exchange *r)
{
	struct conn *c = r->c;

	if (r->up.h2_dial == NULL)
		r->up.h2_dial = h2up_pool_dial(c->env->h2pool,
		    (struct sockaddr *)&c->up_addr, c->up_len, c->name);
}

/*
 * The dial r made settled (http1: on http/1.1), or r let go of it: its
 * waiters go on.
 */
static void
upleg_h2_dial_end(struct exchange *r, int http1)
{
	h2up_dial_end(r->up.h2_dial, http1);
	r->up.h2_dial = NULL;
}

static void
upleg_h2_wait_free(struct exchange *r)
{
	struct upleg_h2_wait *hw = r->up.h2_wait;

	if (hw == NULL)
		return;
	h2up_wait_leave(&hw->w);
	event_free(hw->ev);
	free(hw);
	r->up.h2_wait = NULL;
}

/* h2up: the dial waited for settled; r goes on from the event loop. */
static void
upleg_h2_wait_done(struct h2up_wait *w)
{
	struct upleg_h2_wait *hw = (struct upleg_h2_wait *)w;

	event_active(hw->ev, EV_TIMEOUT, 0);
}

/*
 * The wait is over (the dial settled, or is slow): r attaches again, to
 * the h2 connection the dial made if it has a stream to spare, else as
 * any request does, but never waits again.
 */
static void
upleg_h2_waited(evutil_socket_t fd, short what, void *arg)
{
	struct exchange *r = arg;
	struct conn *c = r->c;

	(void)fd;
	(void)what;
	upleg_h2_wait_free(r);
	r->up.is_h2 = 0;
	r->up.dialing = 0;
	if (r->state == EX_UPSTREAM)
		upleg_send_request(r, r->up.rule, NULL);
	front_run(c);
}

/*
 * Simultaneous first requests to an upstream whose protocol is not known
 * yet: if another exchange is dialing it offering h2, r waits for that
 * dial (at most UPLEG_H2_WAIT_MS) instead of dialing too; 1 if it waits.
 * Once per request, and only for one whose body is whole: the body of one
 * that waited would have to go either way.
 */
int
upleg_h2_wait(struct exchange *r)
{
	struct conn *c = r->c;
	struct upleg_h2_wait *hw;
	struct h2up_dial *d;
	struct timeval tv = { UPLEG_H2_WAIT_MS / 1000,
	    (UPLEG_H2_WAIT_MS % 1000) * 1000 };

	if (r->up.h2_waited || !r->body.done ||
	    (d = h2up_pool_dialing(c->env->h2pool,
	    (struct sockaddr *)&c->up_addr, c->up_len, c->name)) == NULL ||
	    (hw = calloc(1, sizeof(*hw))) == NULL)
		return 0;
	if ((hw->ev = evtimer_new(c->env->base, upleg_h2_waited, r)) == NULL ||
	    evtimer_add(hw->ev, &tv) == -1) {
		if (hw->ev != NULL)
			event_free(hw->ev);
		free(hw);
		return 0;
	}
	hw->w.done = upleg_h2_wait_done;
	h2up_dial_wait(d, &hw->w);
	r->up.h2_wait = hw;
	r->up.h2_waited = 1;
	r->up.is_h2 = 1;	/* no sock: a stream to be, once it is over */
	r->up.dialing = 1;	/* the head and the body wait */
	r->up.connected = 0;
	return 1;
}

/*
 * The leg lets go of its stream (reset if still open), its buffers, the
 * dial it waits for and the one it makes.
 */
void
upleg_h2_drop(struct exchange *r)
{
	struct upleg *u = &r->up;

	upleg_h2_wait_free(r);
	/* a dial still here that connected settled on http/1.1 (not h2) */
	upleg_h2_dial_end(r, u->connected);
	if (u->h2 != NULL && u->h2_id > 0)
		h2up_detach(u->h2, u->h2_id);
	u->h2 = NULL;
	u->h2_id = 0;
	u->is_h2 = 0;
	u->h2_ended = 0;
	u->h2_body_end = 0;
	if (u->h2_in != NULL)
		evbuffer_free(u->h2_in);
	if (u->h2_out != NULL)
		evbuffer_free(u->h2_out);
	u->h2_in = NULL;
	u->h2_out = NULL;
	upleg_h2_trailers_free(&u->h2_req_trailers);
	upleg_h2_trailers_free(&u->h2_resp_trailers);
}

/*
 * A response head: HTTP/2 carries no reason phrase, so it gets the
 * status's standard one, which an HTTP/1.1 client reads in its status line
 * (the h2 codec writes none).
 */
static void
upleg_h2_on_response(void *owner, struct msg *resp)
{
	struct exchange *r = owner;
	struct conn *c = r->c;
	const char *reason = h1codec_reason(resp->status);

	/* without memory for it the head goes without, as it came */
	(void)msg_set_status(resp, resp->status, reason, strlen(reason));
	if (r->state == EX_UPSTREAM)
		(void)exchange_response_msg(r, resp);
	msg_free(resp);
	free(resp);
	front_run(c);
}

static void
upleg_h2_on_data(void *owner, const uint8_t *p, size_t len)
{
	struct exchange *r = owner;
	struct upleg *u = &r->up;

	if ((u->h2_in == NULL && (u->h2_in = evbuffer_new()) == NULL) ||
	    evbuffer_add(u->h2_in, p, len) == -1)
		(void)h2up_reset(u->h2, u->h2_id, H2CLIENT_INTERNAL_ERROR);
	front_run(r->c);
}

static void
upleg_h2_on_end(void *owner, const struct msg *t)
{
	struct exchange *r = owner;

	r->up.h2_ended = 1;
	r->up.h2_resp_trailers = upleg_h2_trailers_keep(t);
	front_run(r->c);
}

/*
 * The stream closed before the response ended: sent again once when the
 * server never processed it and nothing of the request body went, else
 * 502 before the head and a cut after it, audited with why the codec
 * reset it (a malformed response) if it did.
 */
static void
upleg_h2_failed(struct exchange *r, uint32_t code, const char *malformed)
{
	struct conn *c = r->c;
	char why[160];

	if (!r->resp_started && code == H2CLIENT_REFUSED_STREAM &&
	    !r->up.h2_retried && r->body.payload == 0 &&
	    r->state == EX_UPSTREAM) {
		upleg_h2_drop(r);
		r->up.h2_retried = 1;
		upleg_send_request(r, r->up.rule, r->up.extra);
		return;
	}
	if (malformed != NULL)
		snprintf(why, sizeof(why), "%s", malformed);
	else if (code == H2CLIENT_REFUSED_STREAM)
		snprintf(why, sizeof(why),
		    "upstream refused the HTTP/2 stream");
	else
		snprintf(why, sizeof(why), "upstream reset the HTTP/2 stream "
		    "(code %u) before the response ended", code);
	if (!r->resp_started && lookup_serve_stale(r, 0))
		return;
	if (!r->resp_started) {
		log_event(LOG_WARN, "upstream_failed", "client=%s sni=%s "
		    "upstream=%s err=%s", c->client_str, c->sni,
		    c->server_str, why);
		respond_error(r, 502, "bad_gateway", why);
		return;
	}
	snprintf(r->error, sizeof(r->error), "%s", why);
	r->decision = "error";
	r->client_keepalive = 0;
	upleg_drop(r);
	c->codec->reset(r);
}

static void
upleg_h2_on_close(void *owner, uint32_t code, const char *why)
{
	struct exchange *r = owner;
	struct conn *c = r->c;

	r->up.h2 = NULL;	/* its connection may end with this call */
	if (code != 0 && !r->up.h2_ended && !r->local &&
	    r->state != EX_DONE)
		upleg_h2_failed(r, code, why);
	else
		r->up.h2_ended = 1;
	front_run(c);
}

/* Send what waited for room, then the end that waited for it. */
static void
upleg_h2_flush(struct exchange *r)
{
	struct upleg *u = &r->up;
	size_t n = u->h2_out ? evbuffer_get_length(u->h2_out) : 0;

	if (u->h2 == NULL)
		return;
	if (n > 0 && h2up_write(u->h2, u->h2_id, u->h2_out, n) < 0)
		return;
	if (u->h2_body_end && (u->h2_out == NULL ||
	    evbuffer_get_length(u->h2_out) == 0)) {
		u->h2_body_end = 0;
		(void)h2up_end(u->h2, u->h2_id, u->h2_req_trailers);
		upleg_h2_trailers_free(&u->h2_req_trailers);
	}
}

static void
upleg_h2_on_writable(void *owner)
{
	struct exchange *r = owner;

	upleg_h2_flush(r);
	front_run(r->c);
}

static const struct h2up_stream_cbs upleg_h2_cbs = {
	upleg_h2_on_response, upleg_h2_on_data, upleg_h2_on_end,
	upleg_h2_on_close, upleg_h2_on_writable,
};

/*
 * Open r's stream on its connection: the request message with the rule's
 * credentials (sent never-indexed, h2nv.c) and a stale entry's
 * validators, wiped once HPACK has it.  -1 (answered 502) if it cannot be.
 */
int
upleg_h2_open(struct exchange *r)
{
	struct msg m;
	char *audit_target = NULL;
	int32_t id = -1;

	if (inject_request_copy(&m, &r->req, r->up.rule, r->up.extra,
	    &audit_target, r->injected, sizeof(r->injected)) == -1)
		goto fail;
	id = h2up_attach(r->up.h2, &m, &upleg_h2_cbs, r);
	msg_free(&m);
	if (audit_target != NULL) {
		free(r->target);
		r->target = audit_target;
	}
	if (id == -1)
		goto fail;
	r->up.h2_id = id;
	r->upstream_proto = UPSTREAM_ALPN_H2;
	upleg_h2_flush(r);	/* a body that ended while it dialed */
	return 0;
fail:
	r->up.h2 = NULL;
	respond_error(r, 502, "bad_gateway",
	    "cannot open an HTTP/2 stream upstream");
	return -1;
}

/*
 * The leg's dial settled on h2: the sock becomes a shared connection,
 * pooled for the worker's other exchanges, and r its first stream.
 */
int
upleg_h2_connected(struct exchange *r)
{
	struct conn *c = r->c;
	struct h2up *h;

	upleg_note_first(r);
	/* its waiters run from the loop, and find h in the pool by then */
	upleg_h2_dial_end(r, 0);
	h = h2up_new(c->env, r->up.sock, (struct sockaddr *)&c->up_addr,
	    c->up_len, c->name, NULL, NULL);
	if (h == NULL) {
		respond_error(r, 502, "bad_gateway", "out of memory");
		return -1;
	}
	r->up.sock = NULL;	/* h2up's now */
	h2up_pool_add(c->env->h2pool, h);
	r->up.h2 = h;
	r->up.is_h2 = 1;
	return upleg_h2_open(r);
}

/* Request body: room while h2up took everything so far. */
int
upleg_h2_body_room(struct exchange *r)
{
	return !r->up.dialing && (r->up.h2_out == NULL ||
	    evbuffer_get_length(r->up.h2_out) == 0);
}

/* What h2up does not take now waits in h2_out for on_writable. */
int
upleg_h2_body_data(struct exchange *r, struct evbuffer *src, size_t n)
{
	struct upleg *u = &r->up;
	ssize_t took;

	if (u->h2 == NULL || (took = h2up_write(u->h2, u->h2_id, src, n)) < 0)
		return evbuffer_drain(src, n);	/* the stream is gone */
	if ((size_t)took == n)
		return 0;
	if (u->h2_out == NULL && (u->h2_out = evbuffer_new()) == NULL)
		return -1;
	return evbuffer_remove_buffer(src, u->h2_out, n - (size_t)took) ==
	    (int)(n - (size_t)took) ? 0 : -1;
}

int
upleg_h2_body_end(struct exchange *r, const struct msg *trailers)
{
	struct upleg *u = &r->up;

	if (u->dialing || (u->h2_out != NULL &&
	    evbuffer_get_length(u->h2_out) > 0)) {
		u->h2_body_end = 1;
		u->h2_req_trailers = upleg_h2_trailers_keep(trailers);
		return 0;
	}
	if (u->h2 == NULL)
		return 0;
	if (trailers != NULL && trailers->trailers.n == 0)
		trailers = NULL;
	return h2up_end(u->h2, u->h2_id, trailers);
}

/*
 * The response data that came, to the client's codec as it has room,
 * credited to the server as it goes; then the end with the trailers.
 * 1 if anything moved, 0 if not, -1 without memory.
 */
int
upleg_h2_forward(struct exchange *r)
{
	struct upleg *u = &r->up;
	size_t n;
	int moved = 0, rc;

	while (u->h2_in != NULL && (n = evbuffer_get_length(u->h2_in)) > 0 &&
	    r->c->codec->room(r)) {
		if (r->fill != NULL)
			exchange_fill_append(r, evbuffer_pullup(u->h2_in, n),
			    n);
		if (exchange_write_body(r, u->h2_in, n) == -1)
			return -1;
		r->resp.payload += n;
		if (u->h2 != NULL)
			(void)h2up_consume(u->h2, u->h2_id, n);
		moved = 1;
	}
	if (!u->h2_ended || (u->h2_in != NULL &&
	    evbuffer_get_length(u->h2_in) > 0))
		return moved;
	rc = exchange_write_end(r, u->h2_resp_trailers);
	upleg_h2_trailers_free(&u->h2_resp_trailers);
	r->resp.done = 1;
	return rc == -1 ? -1 : 1;
}
