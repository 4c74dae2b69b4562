/*
 * front_h1.c - the HTTP/1 server side of a client connection, as the
 * exchange sees it (struct front_codec): a response message written as
 * HTTP/1.1 bytes on c->csock, its body as it came (a known length, or
 * until close) or in sluice's chunks, and the trailers after the last
 * chunk.  One exchange at a time: the connection's output is its.
 *
 * HTTP/1 decides here what only it has: a body of unknown length goes
 * chunked to an HTTP/1.1 client and close-delimited to an HTTP/1.0 one or
 * when the upstream's own ends with its close (the client is then not
 * kept), and "Connection: close" tells a client it will not be.
 */
#include <event2/buffer.h>

#include "datapath.h"
#include "h1codec.h"

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
	struct evbuffer *out = sock_output(r->c->csock);

	if (r->resp_chunked)
		return h1codec_move_chunk(out, src, n);
	return evbuffer_remove_buffer(src, out, n) == (int)n ? 0 : -1;
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

/* front_free() resets a client whose response was cut, once flushed. */
static void
front_h1_reset(struct exchange *r)
{
	r->client_keepalive = 0;
	front_flush(r->c);
}

const struct front_codec front_h1 = {
	.write_head = front_h1_write_head,
	.write_body = front_h1_write_body,
	.write_end = front_h1_write_end,
	.room = front_h1_room,
	.reset = front_h1_reset,
};
