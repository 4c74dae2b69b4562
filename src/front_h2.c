/*
 * front_h2.c - the HTTP/2 server side of a client connection, as the
 * exchange sees it (struct front_codec), on h2codec.c: every stream is an
 * exchange of its own (c->exs holds them all), begun from the stream's
 * request message (exchange_begin_msg(), policy_dispatch_msg()), its
 * request body handed to the exchange as the upstream takes it, its
 * response written on the stream.  Owns the connection's h2codec and what
 * each stream holds between the codec and its exchange
 * (struct front_h2_stream).
 *
 * Backpressure, per stream both ways.  Request data waits in the stream's
 * buffer until its exchange's upstream leg has room; only then is it
 * credited back to the client (h2codec_consume()), so the stream's window
 * bounds that buffer.  Response data the codec's bounded stream buffer does
 * not take waits in the stream's backlog, and the exchange is told there
 * is no room (its upstream leg stops reading) until the codec says the
 * stream is writable again.  The backlog only grows past one write for an
 * answer sluice makes whole (a cache hit's body, held by reference).
 *
 * Life of a stream's state: made for the request (on_request), it outlives
 * its exchange while a backlog is still to be written, and goes with the
 * stream (on_close), or with the connection.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "capture.h"
#include "datapath.h"
#include "h2codec.h"
#include "log.h"
#include "msg.h"

struct front_h2_stream {
	TAILQ_ENTRY(front_h2_stream) entry;	/* in the connection's list */
	int32_t		 id;
	struct exchange	*r;			/* NULL once it ended */
	struct evbuffer	*body;			/* request data not yet taken */
	int		 body_end;		/* the request ended */
	struct msg	*trailers;		/* the request's, or NULL */
	struct evbuffer	*out;			/* response data not yet taken */
	int		 out_end;		/* end the response after out */
	struct msg	*out_trailers;		/* the response's, or NULL */
	int		 closed;		/* the codec forgot the stream */
};

struct front_h2 {
	struct h2codec	*codec;
	TAILQ_HEAD(, front_h2_stream) streams;
	unsigned	 malformed;		/* heads audited as such */
};

/*
 * Malformed heads audited per connection.  HTTP/1 audits one: its
 * connection ends with the 400.  An HTTP/2 stream error leaves the
 * connection open, and each one costs a token of the codec's reset rate
 * (200 at once, 50 a second, then GOAWAY), so a connection could write
 * hundreds of rows: past this many, /metrics counts them and the log
 * says so once.
 */
#define FRONT_H2_MALFORMED_ROWS	10

static struct h2codec *
front_h2_codec(struct exchange *r)
{
	return r->c->h2->codec;
}

static void
front_h2_msg_free(struct msg *m)
{
	if (m == NULL)
		return;
	msg_free(m);
	free(m);
}

/* A copy of m's trailers on the heap (NULL: none, or no memory). */
static struct msg *
front_h2_keep_trailers(const struct msg *m)
{
	struct msg *t;

	if (m == NULL || m->trailers.n == 0 ||
	    (t = malloc(sizeof(*t))) == NULL)
		return NULL;
	if (msg_clone(t, m) == -1) {
		free(t);
		return NULL;
	}
	return t;
}

static void
front_h2_stream_free(struct front_h2 *fh, struct front_h2_stream *s)
{
	TAILQ_REMOVE(&fh->streams, s, entry);
	if (!s->closed)
		h2codec_stream_set(fh->codec, s->id, NULL);
	if (s->body != NULL)
		evbuffer_free(s->body);
	if (s->out != NULL)
		evbuffer_free(s->out);
	front_h2_msg_free(s->trailers);
	front_h2_msg_free(s->out_trailers);
	free(s);
}

/* Free s if nothing needs it: its exchange ended, its backlog went. */
static void
front_h2_stream_done(struct front_h2 *fh, struct front_h2_stream *s)
{
	if (s->r == NULL && (s->closed || s->out == NULL ||
	    evbuffer_get_length(s->out) == 0))
		front_h2_stream_free(fh, s);
}

/* The connection has no exchange left: it waits for the next stream. */
static void
front_h2_idle(struct conn *c)
{
	if (TAILQ_EMPTY(&c->exs) && c->state == CONN_EXCHANGE) {
		c->state = CONN_REQ_HEAD;
		front_arm(c, front_cfg(c)->idle_timeout);
	}
}

/*
 * Write the stream's backlog into the codec as far as it takes it, then
 * the end it waits for.  -1 on a codec error.
 */
static int
front_h2_flush(struct front_h2 *fh, struct front_h2_stream *s)
{
	size_t n = s->out != NULL ? evbuffer_get_length(s->out) : 0;
	ssize_t took = 0;
	int rc;

	if (n > 0 && (took = h2codec_write(fh->codec, s->id, s->out, n)) < 0)
		return -1;
	if ((size_t)took < n || !s->out_end)
		return 0;
	s->out_end = 0;
	rc = h2codec_end(fh->codec, s->id, s->out_trailers);
	front_h2_msg_free(s->out_trailers);
	s->out_trailers = NULL;
	return rc;
}

/*
 * Stream id's state and its exchange, begun from req (its message moves
 * into the exchange; the caller frees what is left); NULL if there is no
 * memory, with the stream reset REFUSED_STREAM: nothing of it was
 * processed, the client may send it again (RFC 9113 8.7).
 */
static struct exchange *
front_h2_stream_begin(struct conn *c, int32_t id, struct msg *req)
{
	struct front_h2 *fh = c->h2;
	struct front_h2_stream *s;
	struct exchange *r = NULL;

	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (r = exchange_begin_msg(c, req)) == NULL) {
		free(s);
		h2codec_reset(fh->codec, id, H2CODEC_REFUSED_STREAM);
		return NULL;
	}
	s->id = id;
	s->r = r;
	r->h2 = s;
	TAILQ_INSERT_TAIL(&fh->streams, s, entry);
	h2codec_stream_set(fh->codec, id, s);
	return r;
}

/*
 * An exchange with no method or path, from an empty message, for a head
 * that made no request: stream id's (as front_h2_stream_begin()), or,
 * with id 0, one on no stream.  NULL without memory.
 */
static struct exchange *
front_h2_bare(struct conn *c, int32_t id)
{
	struct msg none;
	struct exchange *r;

	msg_init(&none, MSG_REQUEST);
	r = id != 0 ? front_h2_stream_begin(c, id, &none) :
	    exchange_begin_msg(c, &none);
	msg_free(&none);
	return r;
}

/* h2codec: a stream's request head came; its exchange begins. */
static void
front_h2_on_request(void *arg, int32_t id, struct msg *req)
{
	struct exchange *r = front_h2_stream_begin(arg, id, req);

	msg_free(req);
	free(req);
	if (r != NULL)
		policy_dispatch_msg(r);
}

/*
 * h2codec: a head that is no request (too big, a plain CONNECT): answered
 * and audited as HTTP/1's 431 and 400 are, from an exchange with no
 * method or path.
 */
static void
front_h2_on_refused(void *arg, int32_t id, int status)
{
	struct exchange *r = front_h2_bare(arg, id);

	if (r == NULL)
		return;
	r->c->state = CONN_EXCHANGE;	/* as policy_dispatch_msg() does */
	if (status == 431)
		respond_error(r, 431, "too_large",
		    "request head larger than 64 KiB");
	else
		respond_error(r, status, "not_allowed",
		    "CONNECT without :protocol (RFC 8441)");
}

/*
 * h2codec: a stream reset as malformed.  One with an exchange gets why as
 * its error (its close audits it); a head that never made a request is
 * audited here, from an exchange with no method or path, as HTTP/1's
 * malformed heads are, up to FRONT_H2_MALFORMED_ROWS.
 */
static void
front_h2_on_malformed(void *arg, int32_t id, const char *why)
{
	struct conn *c = arg;
	struct front_h2_stream *s = h2codec_stream_get(c->h2->codec, id);
	struct exchange *r;

	if (s != NULL) {
		if (s->r != NULL && s->r->error[0] == '\0')
			snprintf(s->r->error, sizeof(s->r->error), "%s", why);
		return;
	}
	if (c->h2->malformed >= FRONT_H2_MALFORMED_ROWS) {
		if (c->h2->malformed++ == FRONT_H2_MALFORMED_ROWS)
			log_event(LOG_INFO, "h2_malformed_unaudited", "client=%s "
			    "sni=%s rows=%d", c->client_str, c->sni,
			    FRONT_H2_MALFORMED_ROWS);
		counters_request(c->env->counters, COUNTERS_ERROR, 0, -1,
		    NULL);
		return;
	}
	c->h2->malformed++;
	log_event(LOG_INFO, "malformed_request", "client=%s sni=%s err=%s",
	    c->client_str, c->sni, why);
	if ((r = front_h2_bare(c, 0)) == NULL)
		return;
	r->decision = "error";
	snprintf(r->error, sizeof(r->error), "%s", why);
	r->state = EX_DONE;
	exchange_audit(r);
}

/* h2codec: request data; held until the exchange's upstream takes it. */
static void
front_h2_on_data(void *arg, int32_t id, const uint8_t *p, size_t len)
{
	struct conn *c = arg;
	struct front_h2_stream *s = h2codec_stream_get(c->h2->codec, id);

	if (s == NULL || s->r == NULL || (s->body == NULL &&
	    (s->body = evbuffer_new()) == NULL) ||
	    evbuffer_add(s->body, p, len) == -1)
		h2codec_consume(c->h2->codec, id, len);	/* nobody reads it */
}

/* h2codec: the request ended, with trailers or without. */
static void
front_h2_on_end(void *arg, int32_t id, const struct msg *t)
{
	struct conn *c = arg;
	struct front_h2_stream *s = h2codec_stream_get(c->h2->codec, id);

	if (s == NULL || s->r == NULL)
		return;
	s->body_end = 1;
	s->trailers = front_h2_keep_trailers(t);
}

/*
 * h2codec: the stream is gone.  An exchange still running was cut (the
 * client reset it, or a stream error): audited as such, like a request
 * whose connection closed.  One that had answered in full but not yet
 * read the end of its request ends as usual.
 */
static void
front_h2_on_close(void *arg, int32_t id, uint32_t code)
{
	struct conn *c = arg;
	struct front_h2_stream *s = h2codec_stream_get(c->h2->codec, id);
	struct exchange *r;

	if (s == NULL)
		return;
	s->closed = 1;
	if ((r = s->r) == NULL) {
		front_h2_stream_free(c->h2, s);
		return;
	}
	if (code == 0 && r->state == EX_DONE) {
		s->body_end = 1;
		return;
	}
	if (r->error[0] == '\0')
		snprintf(r->error, sizeof(r->error), "client reset the stream "
		    "before the response ended (code %u)", code);
	if (r->status == 0)
		r->decision = "error";
	exchange_audit(r);	/* frees s with it (front_h2_release) */
	front_h2_idle(c);
}

/* h2codec: the stream's response buffer has room again. */
static void
front_h2_on_writable(void *arg, int32_t id)
{
	struct conn *c = arg;
	struct front_h2_stream *s = h2codec_stream_get(c->h2->codec, id);

	if (s == NULL)
		return;
	if (front_h2_flush(c->h2, s) == -1)
		h2codec_reset(c->h2->codec, id, H2CODEC_INTERNAL_ERROR);
	front_h2_stream_done(c->h2, s);
}

/* The TLS handshake chose h2: the codec, our SETTINGS queued. */
int
front_h2_start(struct conn *c)
{
	static const struct h2codec_cbs cbs = {
		.on_request = front_h2_on_request,
		.on_data = front_h2_on_data,
		.on_end = front_h2_on_end,
		.on_close = front_h2_on_close,
		.on_writable = front_h2_on_writable,
		.on_refused = front_h2_on_refused,
		.on_malformed = front_h2_on_malformed,
	};
	struct front_h2 *fh;

	if ((fh = calloc(1, sizeof(*fh))) == NULL)
		return -1;
	TAILQ_INIT(&fh->streams);
	if ((fh->codec = h2codec_new(NULL, &cbs, c)) == NULL) {
		free(fh);
		return -1;
	}
	c->h2 = fh;
	return 0;
}

/*
 * The client's frames: streams begin, data and ends come, streams close
 * (the callbacks above).  A client that broke the protocol past recovery
 * gets what the codec still writes (its GOAWAY), then the close.
 */
static int
front_h2_read_head(struct conn *c)
{
	struct evbuffer *in = sock_input(c->csock);

	if (evbuffer_get_length(in) == 0)
		return 0;
	if (h2codec_input(c->h2->codec, in) == -1) {
		log_event(LOG_INFO, "h2_protocol_error", "client=%s sni=%s",
		    c->client_str, c->sni);
		c->end_reason = "h2_protocol_error";
		front_flush(c);
	}
	return 1;
}

/*
 * The codec's frames to the client's socket, up to its high-water mark;
 * a codec that is done (GOAWAY both ways, or a fatal error) ends the
 * connection once they are written.
 */
static int
front_h2_output(struct conn *c)
{
	struct evbuffer *out;
	size_t len;

	if (c->csock == NULL)
		return 0;
	out = sock_output(c->csock);
	len = evbuffer_get_length(out);
	if (len < CONN_HIGH_WATER && h2codec_output(c->h2->codec, out,
	    CONN_HIGH_WATER - len) == -1) {
		front_kill(c);
		return 0;
	}
	if (h2codec_is_done(c->h2->codec) && c->state != CONN_FLUSH)
		front_flush(c);
	return evbuffer_get_length(out) > len;
}

static int
front_h2_write_head(struct exchange *r, const struct msg *m, int flags)
{
	/* --pcap masks the stream's credentials in the frames it captures. */
	capture_rule(r->c->cap, r->rule);
	return h2codec_respond(front_h2_codec(r), r->h2->id, m);
}

static int
front_h2_write_body(struct exchange *r, struct evbuffer *src, size_t n)
{
	struct front_h2_stream *s = r->h2;
	ssize_t took = 0;

	if (s->out == NULL || evbuffer_get_length(s->out) == 0) {
		if ((took = h2codec_write(front_h2_codec(r), s->id, src, n)) < 0)
			return -1;
		n -= (size_t)took;
	}
	if (n == 0)
		return 0;
	if (s->out == NULL && (s->out = evbuffer_new()) == NULL)
		return -1;
	return evbuffer_remove_buffer(src, s->out, n) == (int)n ? 0 : -1;
}

static int
front_h2_write_end(struct exchange *r, const struct msg *t)
{
	struct front_h2_stream *s = r->h2;

	if (s->out != NULL && evbuffer_get_length(s->out) > 0) {
		s->out_end = 1;
		s->out_trailers = front_h2_keep_trailers(t);
		return 0;
	}
	return h2codec_end(front_h2_codec(r), s->id, t);
}

static int
front_h2_room(struct exchange *r)
{
	return r->h2->out == NULL || evbuffer_get_length(r->h2->out) == 0;
}

/*
 * The request data that came to the exchange as its upstream leg has
 * room, credited back to the client as it goes; then the end, with the
 * trailers.
 */
static int
front_h2_read_body(struct exchange *r)
{
	struct front_h2_stream *s = r->h2;
	size_t n;
	struct msg none;
	int moved = 0, rc;

	while (s->body != NULL && (n = evbuffer_get_length(s->body)) > 0 &&
	    exchange_body_room(r)) {
		if (exchange_body_data(r, s->body, n) == -1)
			return -1;
		r->body.payload += n;
		h2codec_consume(front_h2_codec(r), s->id, n);
		moved = 1;
	}
	if (!s->body_end || (s->body != NULL &&
	    evbuffer_get_length(s->body) > 0))
		return moved;
	msg_init(&none, MSG_REQUEST);
	rc = exchange_body_end(r, s->trailers != NULL ? s->trailers : &none);
	msg_free(&none);
	r->body.done = 1;
	return rc == -1 ? -1 : 1;
}

/*
 * The response cannot be finished: RST_STREAM(INTERNAL_ERROR) on its
 * stream, the others go on.  The upstream cut it, stalled past the
 * stream idle timeout, or memory ran out: a failure on our side of the
 * stream, which is what INTERNAL_ERROR says (as nginx does); CANCEL is
 * for a stream no longer wanted, and NO_ERROR after part of a response
 * would read as the RFC 9113 8.1 early end of a complete one.  The
 * exchange ends at once (its upstream leg is not kept); the stream's
 * close comes later and finds it gone.
 */
static void
front_h2_reset(struct exchange *r)
{
	struct front_h2_stream *s = r->h2;

	h2codec_reset(front_h2_codec(r), s->id, H2CODEC_INTERNAL_ERROR);
	if (s->out != NULL)
		evbuffer_drain(s->out, evbuffer_get_length(s->out));
	s->out_end = 0;
	r->upstream_keepalive = 0;
	r->body.done = 1;
	r->state = EX_DONE;
}

/* The exchange is complete: audited and freed; the connection goes on. */
static void
front_h2_finish(struct exchange *r)
{
	struct conn *c = r->c;

	exchange_audit(r);
	front_h2_idle(c);
}

/*
 * The exchange is freed: its stream's unread request data is credited
 * back (nobody will read it), its backlog still goes out.
 */
static void
front_h2_release(struct exchange *r)
{
	struct front_h2_stream *s = r->h2;

	if (s == NULL)
		return;
	r->h2 = NULL;
	s->r = NULL;
	if (s->body != NULL) {
		h2codec_consume(r->c->h2->codec, s->id,
		    evbuffer_get_length(s->body));
		evbuffer_drain(s->body, evbuffer_get_length(s->body));
	}
	front_h2_stream_done(r->c->h2, s);
}

/* Reload or shutdown: GOAWAY; the codec is done once its streams are. */
static void
front_h2_drain(struct conn *c)
{
	h2codec_goaway(c->h2->codec);
}

/* The connection is freed: its exchanges went first. */
static void
front_h2_free(struct conn *c)
{
	struct front_h2 *fh = c->h2;
	struct front_h2_stream *s;

	if (fh == NULL)
		return;
	while ((s = TAILQ_FIRST(&fh->streams)) != NULL)
		front_h2_stream_free(fh, s);
	h2codec_free(fh->codec);
	free(fh);
	c->h2 = NULL;
}

const struct front_codec front_h2 = {
	.read_head = front_h2_read_head,
	.write_head = front_h2_write_head,
	.write_body = front_h2_write_body,
	.write_end = front_h2_write_end,
	.room = front_h2_room,
	.read_body = front_h2_read_body,
	.reset = front_h2_reset,
	.finish = front_h2_finish,
	.release = front_h2_release,
	.output = front_h2_output,
	.drain = front_h2_drain,
	.free = front_h2_free,
	.multiplexed = 1,
};
