/*
 * front_h1.c - the HTTP/1 server side of a client connection, as the
 * exchange sees it (struct front_codec): a response message written as
 * HTTP/1.1 bytes on c->csock, its body as it came (a known length, or
 * until close) or in sluice's chunks, and the trailers after the last
 * chunk; the request body decoded from the client's input and handed to
 * the exchange as data and an end with trailers; between requests, the
 * next head parsed and its exchange begun (policy_dispatch()), or sluice's
 * 400 or 431 for one that cannot be.  One exchange at a time: the
 * connection's bytes are its.
 *
 * HTTP/1 decides here what only it has: a body of unknown length goes
 * chunked to an HTTP/1.1 client and close-delimited to an HTTP/1.0 one or
 * when the upstream's own ends with its close (the client is then not
 * kept), and "Connection: close" tells a client it will not be.
 */
#include <string.h>

#include <event2/buffer.h>

#include "datapath.h"
#include "h1codec.h"
#include "http1.h"
#include "log.h"

/* Is there a LF without a CR before it at or after offset from? */
static int
front_h1_has_bare_lf(struct evbuffer *in, size_t from)
{
	struct evbuffer_ptr pos, lf;
	char prev;

	if (evbuffer_ptr_set(in, &pos, from, EVBUFFER_PTR_SET) == -1)
		return 0;
	for (;;) {
		lf = evbuffer_search(in, "\n", 1, &pos);
		if (lf.pos == -1)
			return 0;
		if (lf.pos == 0 ||
		    evbuffer_ptr_set(in, &pos, lf.pos - 1, EVBUFFER_PTR_SET) ==
		    -1 || evbuffer_copyout_from(in, &pos, &prev, 1) != 1 ||
		    prev != '\r')
			return 1;
		if (evbuffer_ptr_set(in, &pos, lf.pos + 1, EVBUFFER_PTR_SET) ==
		    -1)
			return 0;
	}
}

/*
 * Is there a whole head (or more than the limit, or a bare LF that the
 * parser refuses at once) in the buffer?  Remembers how far it looked, so
 * a head arriving in small pieces costs linear time.
 */
static int
front_h1_head_complete(struct evbuffer *in, size_t *scanned)
{
	size_t len = evbuffer_get_length(in);
	struct evbuffer_ptr start, found;

	if (len >= HTTP1_MAX_HEAD)
		return 1;
	if (evbuffer_ptr_set(in, &start, *scanned > 3 ? *scanned - 3 : 0,
	    EVBUFFER_PTR_SET) == -1)
		return 1;
	found = evbuffer_search(in, "\r\n\r\n", 4, &start);
	if (found.pos != -1 || front_h1_has_bare_lf(in, *scanned))
		return 1;
	*scanned = len;
	return 0;
}

static int
front_h1_read_head(struct conn *c)
{
	struct evbuffer *in = sock_input(c->csock);
	size_t len = evbuffer_get_length(in);
	struct http1_head h;
	struct exchange *r;
	const char *why = "malformed request";
	enum http1_result res;
	char *p;

	if (len == 0 || !front_h1_head_complete(in, &c->head_scanned))
		return 0;
	c->head_scanned = 0;
	if (len > HTTP1_MAX_HEAD)
		len = HTTP1_MAX_HEAD;
	p = (char *)evbuffer_pullup(in, len);
	if ((res = http1_parse_request(p, len, &h, &why)) == HTTP1_INCOMPLETE)
		return 0;
	if (res != HTTP1_OK)
		memset(&h, 0, sizeof(h));
	if ((r = exchange_begin(c, &h)) == NULL) {
		front_kill(c);
		return 1;
	}
	switch (res) {
	case HTTP1_OK:
		policy_dispatch(r, &h, p);
		evbuffer_drain(in, h.head_len);	/* r works from its message */
		return 1;
	case HTTP1_ERR_TOO_LARGE:
		c->state = CONN_EXCHANGE;
		respond_error(r, 431, "too_large",
		    "request head larger than 64 KiB");
		return 1;
	default:
		break;
	}
	c->state = CONN_EXCHANGE;
	respond_error(r, 400, "bad_request", why);
	log_event(LOG_INFO, "malformed_request", "client=%s sni=%s err=%s",
	    c->client_str, c->sni, why);
	return 1;
}

static int
front_h1_write_head(struct exchange *r, const struct msg *m, int flags)
{
	struct conn *c = r->c;
	struct evbuffer *out = sock_output(c->csock);
	int close_delimited;

	if (m->status < 200)
		return h1codec_write_response(out, m, 0);
	close_delimited = m->body == MSG_BODY_UNKNOWN &&
	    ((flags & FRONT_UNTIL_CLOSE) || r->client_minor == 0);
	if (close_delimited)
		r->client_keepalive = 0;
	r->resp_chunked = m->body == MSG_BODY_UNKNOWN && !close_delimited;
	if (h1codec_write_response(out, m, H1CODEC_OPEN |
	    (close_delimited ? H1CODEC_CLOSE_DELIMITED : 0)) == -1)
		return -1;
	if (!r->client_keepalive || *c->env->draining)
		evbuffer_add(out, "Connection: close\r\n", 19);
	return evbuffer_add(out, "\r\n", 2);
}

static int
front_h1_write_body(struct exchange *r, struct evbuffer *src, size_t n)
{
	return h1codec_move_data(sock_output(r->c->csock), src, n,
	    r->resp_chunked);
}

static int
front_h1_write_end(struct exchange *r, const struct msg *t)
{
	struct msg none;
	int rc;

	if (!r->resp_chunked)
		return 0;
	if (t != NULL)
		return h1codec_write_end(sock_output(r->c->csock), t);
	msg_init(&none, MSG_RESPONSE);
	rc = h1codec_write_end(sock_output(r->c->csock), &none);
	msg_free(&none);
	return rc;
}

static int
front_h1_room(struct exchange *r)
{
	return front_has_room(r->c->csock);
}

/*
 * The end of a chunked request body: its trailers, as a message's, for
 * the exchange.  -1 on a field msg.c refuses (or no memory).
 */
static int
front_h1_body_end(struct exchange *r)
{
	struct msg m;
	int rc;

	msg_init(&m, MSG_REQUEST);
	rc = h1codec_trailers_msg(&r->body_trailers, &m);
	if (rc == 0)
		rc = exchange_body_end(r, &m);
	msg_free(&m);
	h1codec_trailers_free(&r->body_trailers);
	return rc;
}

static int
front_h1_body_room(void *arg)
{
	return exchange_body_room(arg);
}

static int
front_h1_body_data(void *arg, struct evbuffer *src, size_t n)
{
	return exchange_body_data(arg, src, n);
}

/*
 * Decode the request body from the client's input: data goes to the
 * exchange as it has room, the framing that came is dropped, the trailers
 * are kept until the end.  Those of a request sluice answered itself are
 * dropped with the rest of its body.
 */
static int
front_h1_read_body(struct exchange *r)
{
	struct h1codec_sink sink = { front_h1_body_room, front_h1_body_data,
	    NULL, r };
	int n;

	n = h1codec_read_body(sock_input(r->c->csock), &r->body,
	    r->local ? NULL : &r->body_trailers, &sink);
	if (n == 1 && r->body.done && !r->local)
		return front_h1_body_end(r) == -1 ? -1 : 1;
	return n;
}

/* front_free() resets a client whose response was cut, once flushed. */
static void
front_h1_reset(struct exchange *r)
{
	r->client_keepalive = 0;
	front_flush(r->c);
}

/*
 * The exchange is complete: keep the connection for the next request, or
 * close it (lingering, when the client may still be sending its body).
 */
static void
front_h1_finish(struct exchange *r)
{
	struct conn *c = r->c;
	int keep, linger = r->body_cut;

	keep = r->client_keepalive && r->body.done && !*c->env->draining;
	exchange_audit(r);
	if (keep) {
		c->state = CONN_REQ_HEAD;
		front_arm(c, front_cfg(c)->idle_timeout);
	} else if (linger)
		front_linger(c);
	else
		front_flush(c);
}

/* The codec keeps nothing per exchange or connection, and writes at once. */
static void
front_h1_release(struct exchange *r)
{
}

static int
front_h1_output(struct conn *c)
{
	return 0;
}

static void
front_h1_free(struct conn *c)
{
}

const struct front_codec front_h1 = {
	.read_head = front_h1_read_head,
	.write_head = front_h1_write_head,
	.write_body = front_h1_write_body,
	.write_end = front_h1_write_end,
	.room = front_h1_room,
	.read_body = front_h1_read_body,
	.reset = front_h1_reset,
	.finish = front_h1_finish,
	.release = front_h1_release,
	.output = front_h1_output,
	.free = front_h1_free,
};
