/*
 * h2codec.c - HTTP/2 server codec: client frames <-> neutral messages, on
 * libnghttp2.
 *
 * Owns what is HTTP/2 about a client connection: the session (framing,
 * HPACK, stream states, flow control: nghttp2's), turning a stream's
 * pseudo-fields and fields into a request message and a response message
 * into a head, each stream's response buffer, and the limits that keep a
 * hostile client bounded.  Does not own the socket, timeouts, policy or
 * the path's normalisation: the owner's.
 *
 * A stream, as the codec sees it:
 *
 *   begin_headers --> head (fields summed against max_header_list)
 *        | too big: 431 ourselves    | malformed: RST_STREAM (nghttp2's
 *        v                           v  HTTP checks, or msg.c refusing)
 *   on_request --> on_data* --> on_end     (request side)
 *   h2codec_respond --> h2codec_write* --> h2codec_end  (response side)
 *        \________________ on_close (either way, once) ______/
 *
 * Invariants: a struct h2codec_stream lives from its first HEADERS to
 * nghttp2's on_stream_close, and is on h2->streams meanwhile; the owner
 * hears of a stream (on_data, on_end, on_close) only once on_request
 * handed it the request; request bytes nobody will read are credited back
 * at once, the owner's only when it consumed them; the connection window
 * is credited as bytes arrive (the stream windows bound memory), so one
 * stalled stream never stalls the others.  The owner never holds a whole
 * request that its stream's end may yet make malformed (RFC 9113 8.1.1):
 * with content-length 0 the head, with N > 0 the body's last byte, waits
 * for END_STREAM.
 *
 * Abuse: nghttp2 bounds CONTINUATION runs, SETTINGS entries, the acks
 * queued for a peer that does not read (PING and SETTINGS floods) and our
 * HPACK encoder's table.  The codec adds the header list limit (on the
 * decoded size, so an HPACK bomb hits it) and a rate on streams the client
 * gets reset, by RST_STREAM or by a stream error it provoked (rapid reset,
 * CVE-2023-44487): past it, GOAWAY ENHANCE_YOUR_CALM.
 */
#include <sys/queue.h>
#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <nghttp2/nghttp2.h>

#include "h2codec.h"
#include "h2nv.h"
#include "h2out.h"
#include "h2session.h"
#include "msg.h"

#include "config.h"

struct h2codec_stream {
	TAILQ_ENTRY(h2codec_stream) link;
	struct h2codec	*h2;
	int32_t		 id;
	void		*user;

	/* request side */
	struct msg	*req;		/* the head being read; the owner's
					   once on_request ran */
	struct msg	*trailers;	/* trailers being read */
	char		*pseudo;	/* pseudo-fields and Host, apart from
					   the message they become part of:
					   pseudo_inline, or on the heap */
	size_t		 pseudo_len, pseudo_cap;
	char		 pseudo_inline[256];	/* no realloc per field */
	struct msg_str	 method, scheme, authority, path, protocol, host;
	int		 has_host, has_length;
	uint64_t	 length;
	size_t		 cookies;	/* cookie fields in req */
	size_t		 head_size;	/* decoded, RFC 9113 6.5.2 */
	int		 too_big;
	int		 refused;	/* the status on_refused gets */
	int		 seen;		/* on_request or on_refused ran */
	int		 held;		/* st->req waits for END_STREAM */
	uint64_t	 body_got;	/* DATA bytes read, under length */
	uint8_t		 tail;		/* the body's last byte, */
	int		 tail_held;	/* waiting for END_STREAM */

	/* response side */
	struct h2out	 out;		/* the body, bounded */
	int		 head_sent;	/* the final response head */
	int		 body;		/* a data provider is attached */
	int		 resp_done;	/* END_STREAM went out */

	int		 owner_reset;	/* h2codec_reset, not the client */
	int		 peer_reset;	/* the client's RST_STREAM */
	const char	*malformed;	/* why we reset it, or NULL */
};

struct h2codec {
	nghttp2_session	*s;
	struct h2codec_limits lim;
	struct h2codec_cbs cbs;
	void		*arg;
	TAILQ_HEAD(, h2codec_stream) streams;
	int		 dead;		/* h2codec_input failed */

	/* rapid reset: a token bucket, in thousandths of a reset */
	uint64_t	 reset_tokens;
	uint64_t	 reset_ms;	/* when it was last filled */
};

void
h2codec_limits_default(struct h2codec_limits *lim)
{
	lim->max_streams = 100;
	lim->max_header_list = 64 * 1024;
	lim->stream_window = 128 * 1024;
	lim->conn_window = 1024 * 1024;
	lim->stream_buffer = 64 * 1024;
	lim->reset_burst = 200;
	lim->reset_rate = 50;
}

static uint64_t
h2codec_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * The client got one more stream reset.  Cheap for it, not for us (the
 * owner may have started an upstream request): past the rate, the
 * connection ends.
 */
static void
h2codec_reset_charge(struct h2codec *h2)
{
	uint64_t now = h2codec_now_ms(), max;

	max = (uint64_t)h2->lim.reset_burst * 1000;
	h2->reset_tokens += (now - h2->reset_ms) * h2->lim.reset_rate;
	if (h2->reset_tokens > max)
		h2->reset_tokens = max;
	h2->reset_ms = now;
	if (h2->reset_tokens >= 1000) {
		h2->reset_tokens -= 1000;
		return;
	}
	(void)nghttp2_session_terminate_session(h2->s,
	    NGHTTP2_ENHANCE_YOUR_CALM);
}

static void
h2codec_stream_free(struct h2codec_stream *st)
{
	TAILQ_REMOVE(&st->h2->streams, st, link);
	h2out_free(&st->out);
	h2nv_msg_free(st->req);
	h2nv_msg_free(st->trailers);
	if (st->pseudo != st->pseudo_inline)
		free(st->pseudo);
	free(st);
}

static struct h2codec_stream *
h2codec_stream(const struct h2codec *h2, int32_t id)
{
	return nghttp2_session_get_stream_user_data(h2->s, id);
}

/* Does the owner read stream st's request (it got it and kept it)? */
static int
h2codec_owned(const struct h2codec_stream *st)
{
	return st != NULL && st->seen && !st->owner_reset && !st->resp_done;
}

/* v[0..len) appended to st->pseudo, at *s. */
static int
h2codec_pseudo_copy(struct h2codec_stream *st, const uint8_t *v, size_t len,
    struct msg_str *s)
{
	size_t cap = st->pseudo_cap;
	char *p;

	if (st->pseudo_len + len > cap) {
		while (cap < st->pseudo_len + len)
			cap *= 2;
		if ((p = malloc(cap)) == NULL)
			return -1;
		memcpy(p, st->pseudo, st->pseudo_len);
		if (st->pseudo != st->pseudo_inline)
			free(st->pseudo);
		st->pseudo = p;
		st->pseudo_cap = cap;
	}
	memcpy(st->pseudo + st->pseudo_len, v, len);
	s->off = st->pseudo_len;
	s->len = len;
	st->pseudo_len += len;
	return 0;
}

/* A pseudo-field of the request head (nghttp2 refused duplicates). */
static int
h2codec_pseudo(struct h2codec_stream *st, const uint8_t *n, size_t nlen,
    const uint8_t *v, size_t vlen)
{
	struct msg_str *s;

	if (h2nv_is(n, nlen, ":method"))
		s = &st->method;
	else if (h2nv_is(n, nlen, ":scheme"))
		s = &st->scheme;
	else if (h2nv_is(n, nlen, ":authority"))
		s = &st->authority;
	else if (h2nv_is(n, nlen, ":path"))
		s = &st->path;
	else if (h2nv_is(n, nlen, ":protocol"))
		s = &st->protocol;
	else
		return -1;	/* nghttp2 refused it already */
	return h2codec_pseudo_copy(st, v, vlen, s);
}

/* A regular field of the request head. */
static int
h2codec_field(struct h2codec_stream *st, const uint8_t *n, size_t nlen,
    const uint8_t *v, size_t vlen)
{
	struct msg *m = st->req;

	if (h2nv_is(n, nlen, "host")) {
		st->has_host = 1;
		return h2codec_pseudo_copy(st, v, vlen, &st->host);
	}
	if (h2nv_is(n, nlen, "te")) {
		m->trailers_ok = 1;	/* nghttp2 lets "trailers" only */
		return 0;
	}
	if (h2nv_is(n, nlen, "content-length")) {
		/* nghttp2 checked the digits and will check the body */
		st->has_length = 1;
		st->length = h2nv_length(v, vlen);
		return 0;
	}
	if (!h2nv_field_ok((const char *)n, nlen))
		return 0;
	if (h2nv_is(n, nlen, "cookie"))
		st->cookies++;
	return msg_add(m, (const char *)n, nlen, (const char *)v, vlen);
}

/* Cookie crumbs back into one field (RFC 9113 8.2.3), for HTTP/1 hops. */
static int
h2codec_join_cookies(struct msg *m)
{
	const struct msg_field *f;
	size_t i = 0, len = 0;
	char *s;
	int rc;

	while (msg_next(m, "cookie", 6, &i, &f) == 0)
		len += f->value.len + 2;
	if ((s = malloc(len)) == NULL)
		return -1;
	len = 0;
	i = 0;
	while (msg_next(m, "cookie", 6, &i, &f) == 0) {
		if (len > 0) {
			memcpy(s + len, "; ", 2);
			len += 2;
		}
		memcpy(s + len, msg_ptr(m, f->value), f->value.len);
		len += f->value.len;
	}
	rc = msg_set(m, "cookie", 6, s, len);
	explicit_bzero(s, len);
	free(s);
	return rc;
}

/*
 * A head that is no request the owner can act on (too big, a plain
 * CONNECT): the owner answers it with on_refused, or the codec does with
 * a bare status.
 */
static int
h2codec_refuse(struct h2codec_stream *st, int status)
{
	char code[4];
	nghttp2_nv nv = {
		(uint8_t *)":status", (uint8_t *)code, 7, 3,
		NGHTTP2_NV_FLAG_NONE
	};

	if (st->h2->cbs.on_refused != NULL) {
		st->refused = status;
		return 0;
	}
	snprintf(code, sizeof(code), "%03d", status);
	if (nghttp2_submit_response(st->h2->s, st->id, &nv, 1, NULL) != 0)
		return -1;
	st->head_sent = 1;
	return 0;
}

/* The head in st->req, whole: finish the message, or refuse it. */
static int
h2codec_request(struct h2codec_stream *st, int end_stream)
{
	struct msg *m = st->req;
	struct msg_str a = st->authority;
	const char *p = st->pseudo;
	enum msg_body body;

	if (st->too_big)
		return h2codec_refuse(st, 431);
	if (a.len == 0 && st->has_host)
		a = st->host;
	else if (st->has_host && (st->host.len != a.len ||
	    strncasecmp(p + st->host.off, p + a.off, a.len) != 0)) {
		st->malformed = "malformed request: Host differs from "
		    ":authority (RFC 9113 8.3.1)";
		return -1;
	}
	if (a.len == 0) {	/* nothing to check against the SNI */
		st->malformed = "malformed request: neither :authority nor "
		    "Host (RFC 9113 8.3.1)";
		return -1;
	}
	if (st->path.len == 0)	/* a CONNECT for a tunnel: not from us */
		return h2codec_refuse(st, 405);
	if (msg_set_request(m, p + st->method.off, st->method.len,
	    p + st->scheme.off, st->scheme.len, p + a.off, a.len,
	    p + st->path.off, st->path.len) == -1) {
		st->malformed = "malformed request: a pseudo-field value "
		    "refused (RFC 9113 8.3.1)";
		return -1;
	}
	if (st->protocol.len > 0) {
		m->upgrade = 1;
		if (msg_add(m, "upgrade", 7, p + st->protocol.off,
		    st->protocol.len) == -1)
			return -1;
	}
	if (st->cookies > 1 && h2codec_join_cookies(m) == -1)
		return -1;
	if (st->has_length)
		body = MSG_BODY_LENGTH;
	else
		body = end_stream ? MSG_BODY_NONE : MSG_BODY_UNKNOWN;
	msg_set_body(m, body, st->length);
	return 0;
}

static int
h2codec_on_begin_headers(nghttp2_session *s, const nghttp2_frame *f,
    void *arg)
{
	struct h2codec *h2 = arg;
	struct h2codec_stream *st;

	if (f->hd.type != NGHTTP2_HEADERS)
		return 0;
	if (f->headers.cat != NGHTTP2_HCAT_REQUEST) {
		st = h2codec_stream(h2, f->hd.stream_id);
		if (!h2codec_owned(st) && (st == NULL || !st->held))
			return 0;
		st->head_size = 0;
		st->trailers = h2nv_msg_new(MSG_REQUEST);
		return st->trailers ? 0 : NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	}
	if ((st = calloc(1, sizeof(*st))) == NULL)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	st->h2 = h2;
	st->id = f->hd.stream_id;
	st->pseudo = st->pseudo_inline;
	st->pseudo_cap = sizeof(st->pseudo_inline);
	if (h2out_init(&st->out, h2->lim.stream_buffer) == -1 ||
	    (st->req = h2nv_msg_new(MSG_REQUEST)) == NULL) {
		h2out_free(&st->out);
		free(st);
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	}
	/* a request may carry a credential */
	msg_hold_secret(st->req);
	TAILQ_INSERT_TAIL(&h2->streams, st, link);
	if (nghttp2_session_set_stream_user_data(s, st->id, st) != 0) {
		h2codec_stream_free(st);
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	}
	return 0;
}

static int
h2codec_on_header(nghttp2_session *s, const nghttp2_frame *f,
    const uint8_t *n, size_t nlen, const uint8_t *v, size_t vlen,
    uint8_t flags, void *arg)
{
	struct h2codec *h2 = arg;
	struct h2codec_stream *st;
	int rc;

	(void)flags;
	if (f->hd.type != NGHTTP2_HEADERS ||
	    (st = h2codec_stream(h2, f->hd.stream_id)) == NULL)
		return 0;
	/* the decoded size: an HPACK bomb is small on the wire */
	st->head_size += nlen + vlen + H2NV_FIELD_COST;
	if (st->head_size > h2->lim.max_header_list)
		st->too_big = 1;
	if (st->too_big)
		return 0;
	if (f->headers.cat != NGHTTP2_HCAT_REQUEST)
		rc = st->trailers == NULL ? 0 : msg_add_trailer(st->trailers,
		    (const char *)n, nlen, (const char *)v, vlen);
	else if (nlen > 0 && n[0] == ':')
		rc = h2codec_pseudo(st, n, nlen, v, vlen);
	else
		rc = h2codec_field(st, n, nlen, v, vlen);
	if (rc == 0)
		return 0;
	st->malformed = "malformed request: a field value refused "
	    "(RFC 9113 8.2.1)";
	(void)nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, st->id,
	    NGHTTP2_PROTOCOL_ERROR);
	return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
}

/* The head in st->req goes to the owner: a request, or one it refused. */
static void
h2codec_deliver(struct h2codec *h2, struct h2codec_stream *st)
{
	struct msg *m;

	st->seen = 1;
	st->held = 0;
	if (st->refused != 0) {
		h2->cbs.on_refused(h2->arg, st->id, st->refused);
		return;
	}
	m = st->req;
	st->req = NULL;
	h2->cbs.on_request(h2->arg, st->id, m);
}

/*
 * The client ended stream st's request, with trailers t or none: a head or
 * a last byte held back for that goes to the owner first.
 */
static void
h2codec_request_end(struct h2codec *h2, struct h2codec_stream *st,
    const struct msg *t)
{
	if (st->held)
		h2codec_deliver(h2, st);
	if (h2codec_owned(st) && st->tail_held) {
		st->tail_held = 0;
		h2->cbs.on_data(h2->arg, st->id, &st->tail, 1);
	}
	if (h2codec_owned(st))
		h2->cbs.on_end(h2->arg, st->id, t);
}

/* A HEADERS frame read whole: a request head, or the request's trailers. */
static int
h2codec_on_headers(struct h2codec *h2, struct h2codec_stream *st,
    const nghttp2_frame *f)
{
	int end = (f->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;

	if (st->trailers != NULL) {
		if (st->held)
			h2codec_deliver(h2, st);
		if (st->too_big && h2codec_owned(st))
			return nghttp2_submit_rst_stream(h2->s,
			    NGHTTP2_FLAG_NONE, st->id,
			    NGHTTP2_ENHANCE_YOUR_CALM);
		h2codec_request_end(h2, st, st->trailers);
		h2nv_msg_free(st->trailers);
		st->trailers = NULL;
		return 0;
	}
	if (st->seen || st->head_sent || st->held)
		return 0;
	if (h2codec_request(st, end) == -1)
		return nghttp2_submit_rst_stream(h2->s, NGHTTP2_FLAG_NONE,
		    st->id, NGHTTP2_PROTOCOL_ERROR);
	if (st->head_sent)
		return 0;	/* refused by us */
	/*
	 * content-length 0 on an open stream: the request is whole only if
	 * the stream ends without DATA (nghttp2 resets it otherwise), so it
	 * goes nowhere until then; forwarded at once, the upstream could
	 * answer a request the client then makes malformed (RFC 9113 8.1.1).
	 */
	if (!end && st->refused == 0 && st->has_length && st->length == 0) {
		st->held = 1;
		return 0;
	}
	h2codec_deliver(h2, st);
	if (end)
		h2->cbs.on_end(h2->arg, st->id, NULL);
	return 0;
}

static int
h2codec_on_frame_recv(nghttp2_session *s, const nghttp2_frame *f, void *arg)
{
	struct h2codec *h2 = arg;
	struct h2codec_stream *st;

	(void)s;
	if (f->hd.stream_id == 0 ||
	    (st = h2codec_stream(h2, f->hd.stream_id)) == NULL)
		return 0;
	switch (f->hd.type) {
	case NGHTTP2_HEADERS:
		if (h2codec_on_headers(h2, st, f) != 0)
			return NGHTTP2_ERR_CALLBACK_FAILURE;
		break;
	case NGHTTP2_DATA:
		if (f->hd.flags & NGHTTP2_FLAG_END_STREAM)
			h2codec_request_end(h2, st, NULL);
		break;
	case NGHTTP2_RST_STREAM:
		st->peer_reset = 1;
		break;
	}
	return 0;
}

static int
h2codec_on_data(nghttp2_session *s, uint8_t flags, int32_t id,
    const uint8_t *p, size_t len, void *arg)
{
	struct h2codec *h2 = arg;
	struct h2codec_stream *st = h2codec_stream(h2, id);

	(void)flags;
	if (h2session_credit(s, id, len, h2codec_owned(st)) != 0)
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	if (!h2codec_owned(st) || len == 0)
		return 0;
	/*
	 * The chunk that completes a declared content-length keeps its last
	 * byte until the stream ends (h2codec_request_end()): DATA after it
	 * makes the request malformed (RFC 9113 8.1.1, nghttp2 resets the
	 * stream), and by then the upstream must not have a whole body.
	 * nghttp2 never passes bytes beyond the length.
	 */
	st->body_got += len;
	if (st->has_length && st->body_got == st->length) {
		st->tail = p[len - 1];
		st->tail_held = 1;
		len--;
	}
	if (len > 0)
		h2->cbs.on_data(h2->arg, id, p, len);
	return 0;
}

/* Can the client end stream st's request with the window it has now? */
static int
h2codec_can_finish(nghttp2_session *s, const struct h2codec_stream *st)
{
	int32_t room;

	room = nghttp2_session_get_stream_effective_local_window_size(s,
	    st->id) - nghttp2_session_get_stream_effective_recv_data_length(s,
	    st->id);
	return st->has_length && room >= 0 &&
	    st->length - st->body_got <= (uint64_t)room;
}

static int
h2codec_on_frame_send(nghttp2_session *s, const nghttp2_frame *f, void *arg)
{
	struct h2codec_stream *st;

	(void)arg;
	if (f->hd.stream_id == 0 || !(f->hd.flags & NGHTTP2_FLAG_END_STREAM) ||
	    (st = nghttp2_session_get_stream_user_data(s, f->hd.stream_id)) ==
	    NULL)
		return 0;
	st->resp_done = 1;
	/*
	 * Answered before the request ended (a deny, a 413...): the client
	 * may stop (RFC 9113 8.1), and is told so with RST_STREAM(NO_ERROR),
	 * unless the rest of a declared body fits the window it has: then
	 * it may finish, and what comes is dropped.  curl 7.88 (Debian
	 * 12's) fails a transfer whose upload is cut so, even after a whole
	 * response: a denied POST would read as an error.
	 */
	if (nghttp2_session_get_stream_remote_close(s, st->id) == 0 &&
	    !h2codec_can_finish(s, st) &&
	    nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, st->id,
	    NGHTTP2_NO_ERROR) != 0)
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	return 0;
}

/*
 * nghttp2 found a stream malformed (its HTTP checks: RFC 9113 8.1.1, 8.2,
 * 8.3) or in error: why, for the owner's audit.
 */
static int
h2codec_on_invalid_frame(nghttp2_session *s, const nghttp2_frame *f,
    int lib_error, void *arg)
{
	static const char *const why[3] = {
		"malformed request head: a field or pseudo-field RFC 9113 "
		    "8.2 and 8.3 forbid",
		"malformed request: its DATA contradicts content-length or "
		    "the method (RFC 9113 8.1.1)",
		"stream error (RFC 9113 5.4.2)",
	};
	struct h2codec_stream *st;

	(void)s;
	if (f->hd.stream_id != 0 &&
	    (st = h2codec_stream(arg, f->hd.stream_id)) != NULL &&
	    st->malformed == NULL)
		st->malformed = h2session_invalid_why(lib_error, why);
	return 0;
}

static int
h2codec_on_stream_close(nghttp2_session *s, int32_t id, uint32_t code,
    void *arg)
{
	struct h2codec *h2 = arg;
	struct h2codec_stream *st = h2codec_stream(h2, id);

	(void)s;
	if (st == NULL) {
		if (code != NGHTTP2_NO_ERROR)
			h2codec_reset_charge(h2);
		return 0;
	}
	/* a reset costs us only while we still work on the stream */
	if ((st->peer_reset && !st->resp_done) ||
	    (code != NGHTTP2_NO_ERROR && !st->owner_reset && !st->peer_reset))
		h2codec_reset_charge(h2);
	/* a reset saying NO_ERROR before our response ended is a cancel */
	if (code == NGHTTP2_NO_ERROR && !st->resp_done)
		code = NGHTTP2_CANCEL;
	if (st->malformed != NULL && code != NGHTTP2_NO_ERROR &&
	    !st->peer_reset && h2->cbs.on_malformed != NULL)
		h2->cbs.on_malformed(h2->arg, id, st->malformed);
	if (st->seen)
		h2->cbs.on_close(h2->arg, id, code);
	h2codec_stream_free(st);
	return 0;
}

static int
h2codec_session(struct h2codec *h2)
{
	nghttp2_session_callbacks *cb = NULL;
	nghttp2_option *opt = NULL;
	int rc = -1;

	if (nghttp2_session_callbacks_new(&cb) != 0 ||
	    nghttp2_option_new(&opt) != 0)
		goto fail;
	nghttp2_session_callbacks_set_on_begin_headers_callback(cb,
	    h2codec_on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cb,
	    h2codec_on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb,
	    h2codec_on_frame_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb,
	    h2codec_on_data);
	nghttp2_session_callbacks_set_on_frame_send_callback(cb,
	    h2codec_on_frame_send);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb,
	    h2codec_on_stream_close);
	nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(cb,
	    h2codec_on_invalid_frame);

	h2session_options(opt);
	/* nghttp2's own rapid reset bound stays behind ours */
	nghttp2_option_set_stream_reset_rate_limit(opt,
	    2 * (uint64_t)h2->lim.reset_burst,
	    2 * (uint64_t)h2->lim.reset_rate);
	if (nghttp2_session_server_new2(&h2->s, cb, h2, opt) == 0)
		rc = 0;
fail:
	nghttp2_option_del(opt);
	nghttp2_session_callbacks_del(cb);
	return rc;
}

struct h2codec *
h2codec_new(const struct h2codec_limits *lim, const struct h2codec_cbs *cbs,
    void *arg)
{
	struct h2codec *h2;
	/*
	 * Not SETTINGS_NO_RFC7540_PRIORITIES: with it nghttp2 neither checks
	 * PRIORITY frames nor keeps its bounded set of closed streams, and
	 * RFC 9113 wants PROTOCOL_ERROR for PRIORITY on stream 0 (6.3) and
	 * STREAM_CLOSED for DATA on a closed stream (6.1).
	 */
	nghttp2_settings_entry set[] = {
		{ NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 0 },
		{ NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, 0 },
		{ NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 0 },
		{ NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL, 1 },
	};

	if ((h2 = calloc(1, sizeof(*h2))) == NULL)
		return NULL;
	if (lim != NULL)
		h2->lim = *lim;
	else
		h2codec_limits_default(&h2->lim);
	h2->cbs = *cbs;
	h2->arg = arg;
	TAILQ_INIT(&h2->streams);
	h2->reset_tokens = (uint64_t)h2->lim.reset_burst * 1000;
	h2->reset_ms = h2codec_now_ms();
	if (h2codec_session(h2) == -1)
		goto fail;
	set[0].value = h2->lim.max_streams;
	set[1].value = h2->lim.max_header_list;
	set[2].value = h2->lim.stream_window;
	if (nghttp2_submit_settings(h2->s, NGHTTP2_FLAG_NONE, set,
	    sizeof(set) / sizeof(set[0])) != 0 ||
	    nghttp2_session_set_local_window_size(h2->s, NGHTTP2_FLAG_NONE, 0,
	    (int32_t)h2->lim.conn_window) != 0)
		goto fail;
	return h2;
fail:
	h2codec_free(h2);
	return NULL;
}

void
h2codec_free(struct h2codec *h2)
{
	struct h2codec_stream *st;

	if (h2 == NULL)
		return;
	/* nghttp2_session_del calls no stream callback: the list is ours */
	while ((st = TAILQ_FIRST(&h2->streams)) != NULL)
		h2codec_stream_free(st);
	nghttp2_session_del(h2->s);
	free(h2);
}

int
h2codec_input(struct h2codec *h2, struct evbuffer *in)
{
	if (h2session_recv(h2->s, in) == 0)
		return 0;
	h2->dead = 1;
	return -1;
}

int
h2codec_output(struct h2codec *h2, struct evbuffer *out, size_t room)
{
	struct h2codec_stream *st, *next;

	if (h2session_send(h2->s, out, room) == -1)
		return -1;
	for (st = TAILQ_FIRST(&h2->streams); st != NULL; st = next) {
		next = TAILQ_NEXT(st, link);
		if (h2out_writable(&st->out))
			h2->cbs.on_writable(h2->arg, st->id);
	}
	return 0;
}

int
h2codec_want_read(const struct h2codec *h2)
{
	return !h2->dead && nghttp2_session_want_read(h2->s);
}

int
h2codec_want_write(const struct h2codec *h2)
{
	return nghttp2_session_want_write(h2->s);
}

int
h2codec_is_done(const struct h2codec *h2)
{
	return !h2codec_want_read(h2) && !h2codec_want_write(h2);
}

int
h2codec_stream_set(struct h2codec *h2, int32_t id, void *p)
{
	struct h2codec_stream *st = h2codec_stream(h2, id);

	if (st == NULL || !st->seen)
		return -1;
	st->user = p;
	return 0;
}

void *
h2codec_stream_get(const struct h2codec *h2, int32_t id)
{
	struct h2codec_stream *st = h2codec_stream(h2, id);

	return st ? st->user : NULL;
}

int
h2codec_consume(struct h2codec *h2, int32_t id, size_t n)
{
	if (h2codec_stream(h2, id) == NULL)
		return 0;	/* closed meanwhile: no window to give */
	return nghttp2_session_consume_stream(h2->s, id, n) == 0 ? 0 : -1;
}

/* The stream id the owner may write on, or NULL. */
static struct h2codec_stream *
h2codec_writable(struct h2codec *h2, int32_t id)
{
	struct h2codec_stream *st = h2codec_stream(h2, id);

	return h2codec_owned(st) ? st : NULL;
}

int
h2codec_respond(struct h2codec *h2, int32_t id, const struct msg *resp)
{
	struct h2codec_stream *st = h2codec_writable(h2, id);
	struct h2nv nv;
	nghttp2_data_provider prd;
	int rc;

	/*
	 * 101 does not exist in HTTP/2 (RFC 9113 8.6), nor transfer codings:
	 * the owner decodes such a body or answers otherwise.
	 */
	if (st == NULL || st->head_sent || resp->kind != MSG_RESPONSE ||
	    resp->status == 101 || resp->codings.len > 0)
		return -1;
	if (h2nv_build(&nv, resp, H2NV_RESPONSE) == -1)
		return -1;
	if (resp->status < 200) {
		rc = nghttp2_submit_headers(h2->s, NGHTTP2_FLAG_NONE, id, NULL,
		    nv.nv, nv.n, NULL);
	} else {
		prd.source.ptr = &st->out;
		prd.read_callback = h2out_source;
		st->head_sent = 1;
		st->body = resp->body != MSG_BODY_NONE;
		rc = nghttp2_submit_response(h2->s, id, nv.nv, nv.n,
		    st->body ? &prd : NULL);
	}
	h2nv_free(&nv);
	return rc == 0 ? 0 : -1;
}

ssize_t
h2codec_write(struct h2codec *h2, int32_t id, struct evbuffer *src,
    size_t n)
{
	struct h2codec_stream *st = h2codec_writable(h2, id);

	if (st == NULL || !st->body)
		return -1;
	return h2out_write(&st->out, h2->s, id, src, n);
}

int
h2codec_end(struct h2codec *h2, int32_t id, const struct msg *m)
{
	struct h2codec_stream *st = h2codec_writable(h2, id);

	if (st == NULL || !st->head_sent || st->out.end)
		return -1;
	if (!st->body)
		return 0;	/* ended with the head */
	return h2out_end(&st->out, h2->s, id, m);
}

int
h2codec_reset(struct h2codec *h2, int32_t id, uint32_t code)
{
	struct h2codec_stream *st = h2codec_writable(h2, id);

	if (st == NULL)
		return -1;
	st->owner_reset = 1;
	return nghttp2_submit_rst_stream(h2->s, NGHTTP2_FLAG_NONE, id,
	    code) == 0 ? 0 : -1;
}

int
h2codec_goaway(struct h2codec *h2)
{
	return nghttp2_submit_goaway(h2->s, NGHTTP2_FLAG_NONE,
	    nghttp2_session_get_last_proc_stream_id(h2->s), NGHTTP2_NO_ERROR,
	    NULL, 0) == 0 ? 0 : -1;
}
