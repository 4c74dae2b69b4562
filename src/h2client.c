/*
 * h2client.c - HTTP/2 client codec: neutral messages -> frames to an
 * upstream, its frames -> response messages, on libnghttp2.
 *
 * Owns what is HTTP/2 about an upstream connection: the session (framing,
 * HPACK, stream states, flow control: nghttp2's), a request message as a
 * head (h2nv.c), each stream's request body buffer (h2out.c), a response
 * head checked and turned into a message, the capacity the server grants,
 * and the limits that keep a hostile server bounded.  Does not own the
 * socket, the TLS, timeouts or which exchange a stream belongs to: the
 * owner's (h2up.c).
 *
 * A stream, as the codec sees it:
 *
 *   h2client_request --> h2client_write* --> h2client_end   (request side)
 *        |
 *        v   (1xx heads: on_response, interim, any number)
 *   on_response --> on_data* --> on_end                     (response side)
 *        \________________ on_close (either way, once) ______/
 *
 * Invariants: a struct h2client_stream lives from h2client_request() to
 * its on_close, and is on c->streams meanwhile (c->n counts them); every
 * stream the owner opened gets exactly one on_close, also when the
 * session fails (h2client_input -1) or its HEADERS never went out;
 * response bytes nobody will read are credited back at once, the owner's
 * only when it consumed them; the connection window is credited as bytes
 * arrive (the stream windows bound memory), so one stalled stream never
 * stalls the others.  Streams open only within the server's
 * SETTINGS_MAX_CONCURRENT_STREAMS, so nghttp2 never queues a request.
 *
 * Abuse: nghttp2 checks responses (RFC 9113 8.3.2 pseudo-fields, no
 * connection-specific field, content-length against DATA) and bounds
 * CONTINUATION runs, SETTINGS entries and the acks queued for a server
 * that does not read; the codec adds the header list limit (on the
 * decoded size: an HPACK bomb hits it) and refuses server push.  A
 * stream reset for what the server sent closes with why (a static
 * string naming the rule), for the owner's audit.
 */
#include <sys/queue.h>
#include <sys/types.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <nghttp2/nghttp2.h>

#include "h2client.h"
#include "h2nv.h"
#include "h2out.h"
#include "h2session.h"
#include "msg.h"

/* nghttp2's HTTP messaging checks reset a stream for this. */
#define H2CLIENT_BAD_DATA	"malformed upstream response: its DATA " \
				"contradicts its head (RFC 9113 8.1.1)"

struct h2client_stream {
	TAILQ_ENTRY(h2client_stream) link;
	struct h2client	*c;
	int32_t		 id;
	void		*user;

	/* request side */
	struct h2out	 out;		/* the body, bounded */
	int		 body;		/* a data provider is attached */
	int		 head_req;	/* HEAD: the response has no body */

	/* response side */
	struct msg	*resp;		/* the head being read */
	struct msg	*trailers;	/* trailers being read */
	int		 has_length;
	uint64_t	 length;
	size_t		 head_size;	/* decoded, RFC 9113 6.5.2 */
	int		 too_big;
	int		 final;		/* the final head came */
	int		 ended;		/* on_end ran: the response is whole */
	uint32_t	 error;		/* we reset it for a bad response */
	const char	*why;		/* what was bad in it, or NULL */

	int		 owner_reset;	/* h2client_reset */
	uint32_t	 reset_code;	/* its code */
	int		 peer_reset;	/* the server's RST_STREAM */
	int		 closing;	/* on_close is running */
};

struct h2client {
	nghttp2_session	*s;
	struct h2client_limits lim;
	struct h2client_cbs cbs;
	void		*arg;
	TAILQ_HEAD(, h2client_stream) streams;
	size_t		 n;
	int		 dead;		/* h2client_input failed */
	int		 goaway;	/* the server's GOAWAY came */
	int32_t		 goaway_last;
	uint32_t	 goaway_code;
	int		 draining;	/* our GOAWAY: no new stream */
};

void
h2client_limits_default(struct h2client_limits *lim)
{
	lim->max_streams = 100;
	lim->max_header_list = 64 * 1024;
	lim->stream_window = 128 * 1024;
	lim->conn_window = 1024 * 1024;
	lim->stream_buffer = 64 * 1024;
}

/* Unlinked, and forgotten by nghttp2 (which may outlive it). */
static void
h2client_stream_free(struct h2client_stream *st)
{
	struct h2client *c = st->c;

	TAILQ_REMOVE(&c->streams, st, link);
	if (!st->closing)
		c->n--;
	(void)nghttp2_session_set_stream_user_data(c->s, st->id, NULL);
	h2out_free(&st->out);
	h2nv_msg_free(st->resp);
	h2nv_msg_free(st->trailers);
	free(st);
}

/*
 * The stream is gone for the owner: its last callback, during which the
 * owner still finds its pointer on it but can no longer act on it.
 */
static void
h2client_stream_close(struct h2client_stream *st, uint32_t code)
{
	struct h2client *c = st->c;

	st->closing = 1;
	c->n--;
	c->cbs.on_close(c->arg, st->id, code, st->why);
	h2client_stream_free(st);
}

static struct h2client_stream *
h2client_stream(const struct h2client *c, int32_t id)
{
	return nghttp2_session_get_stream_user_data(c->s, id);
}

/* A stream by id, whether or not nghttp2 has opened it yet. */
static struct h2client_stream *
h2client_stream_find(const struct h2client *c, int32_t id)
{
	struct h2client_stream *st;

	TAILQ_FOREACH(st, &c->streams, link)
		if (st->id == id)
			return st;
	return NULL;
}

/* Does the owner read stream st's response (it did not reset it)? */
static int
h2client_owned(const struct h2client_stream *st)
{
	return st != NULL && !st->owner_reset && !st->closing;
}

/*
 * A response we will not hand over: reset, and the stream's close says
 * code and why even if the server's END_STREAM closes it first.
 */
static int
h2client_refuse(struct h2client_stream *st, uint32_t code, const char *why)
{
	st->error = code;
	st->why = why;
	return nghttp2_submit_rst_stream(st->c->s, NGHTTP2_FLAG_NONE, st->id,
	    code);
}

/* A field of the response head (nghttp2 checked names and values). */
static int
h2client_field(struct h2client_stream *st, const uint8_t *n, size_t nlen,
    const uint8_t *v, size_t vlen)
{
	int status = 0;
	size_t i;

	if (h2nv_is(n, nlen, ":status")) {
		for (i = 0; i < vlen; i++)
			status = status * 10 + (v[i] - '0');
		return msg_set_status(st->resp, status, "", 0);
	}
	if (nlen > 0 && n[0] == ':')
		return -1;	/* nghttp2 refused it already */
	if (h2nv_is(n, nlen, "content-length")) {
		st->has_length = 1;
		st->length = h2nv_length(v, vlen);
		return 0;
	}
	if (!h2nv_field_ok((const char *)n, nlen))
		return 0;
	return msg_add(st->resp, (const char *)n, nlen, (const char *)v,
	    vlen);
}

static int
h2client_on_begin_headers(nghttp2_session *s, const nghttp2_frame *f,
    void *arg)
{
	struct h2client *c = arg;
	struct h2client_stream *st;
	struct msg **m;

	(void)s;
	if (f->hd.type != NGHTTP2_HEADERS ||
	    !h2client_owned(st = h2client_stream(c, f->hd.stream_id)))
		return 0;
	/* after the final head, a HEADERS frame holds trailers */
	m = st->final ? &st->trailers : &st->resp;
	st->head_size = 0;
	st->has_length = 0;
	h2nv_msg_free(*m);
	if ((*m = h2nv_msg_new(MSG_RESPONSE)) == NULL)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	return 0;
}

static int
h2client_on_header(nghttp2_session *s, const nghttp2_frame *f,
    const uint8_t *n, size_t nlen, const uint8_t *v, size_t vlen,
    uint8_t flags, void *arg)
{
	struct h2client *c = arg;
	struct h2client_stream *st;
	int rc;

	(void)flags;
	if (f->hd.type != NGHTTP2_HEADERS ||
	    !h2client_owned(st = h2client_stream(c, f->hd.stream_id)))
		return 0;
	/* the decoded size: an HPACK bomb is small on the wire */
	st->head_size += nlen + vlen + H2NV_FIELD_COST;
	if (st->head_size > c->lim.max_header_list)
		st->too_big = 1;
	if (st->too_big)
		return 0;
	if (st->final)
		rc = msg_add_trailer(st->trailers, (const char *)n, nlen,
		    (const char *)v, vlen);
	else
		rc = h2client_field(st, n, nlen, v, vlen);
	if (rc == 0)
		return 0;
	h2client_refuse(st, NGHTTP2_PROTOCOL_ERROR, "malformed upstream "
	    "response: a field value refused (RFC 9113 8.2.1)");
	return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
}

/*
 * The final head's body fact: none for HEAD, 204, 304 or a head that
 * ends the stream (a content-length there describes the representation
 * and stays a field), else content-length's, else unknown.
 */
static int
h2client_body_fact(struct h2client_stream *st, int end)
{
	struct msg *m = st->resp;
	char num[24];
	int len;

	if (end || st->head_req || m->status == 204 || m->status == 304) {
		msg_set_body(m, MSG_BODY_NONE, 0);
		if (!st->has_length)
			return 0;
		len = snprintf(num, sizeof(num), "%llu",
		    (unsigned long long)st->length);
		return msg_add(m, "content-length", 14, num, len);
	}
	msg_set_body(m, st->has_length ? MSG_BODY_LENGTH : MSG_BODY_UNKNOWN,
	    st->length);
	return 0;
}

/* A HEADERS frame read whole: a response head (1xx or final), or the
   response's trailers. */
static int
h2client_on_headers(struct h2client *c, struct h2client_stream *st,
    const nghttp2_frame *f)
{
	int end = (f->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
	struct msg *m;

	if (st->too_big)
		return h2client_refuse(st, NGHTTP2_ENHANCE_YOUR_CALM,
		    "upstream response head over the header list limit "
		    "(RFC 9113 6.5.2)");
	if (st->final) {
		st->ended = 1;
		c->cbs.on_end(c->arg, st->id, st->trailers);
		h2nv_msg_free(st->trailers);
		st->trailers = NULL;
		return 0;
	}
	if (st->resp->status >= 200) {
		st->final = 1;
		if (h2client_body_fact(st, end) == -1)
			return h2client_refuse(st, NGHTTP2_INTERNAL_ERROR,
			    "out of memory for the upstream response head");
	}
	m = st->resp;
	st->resp = NULL;
	c->cbs.on_response(c->arg, st->id, m);
	if (end && h2client_owned(st)) {
		st->ended = 1;
		c->cbs.on_end(c->arg, st->id, NULL);
	}
	return 0;
}

static int
h2client_on_frame_recv(nghttp2_session *s, const nghttp2_frame *f, void *arg)
{
	struct h2client *c = arg;
	struct h2client_stream *st;

	(void)s;
	if (f->hd.type == NGHTTP2_GOAWAY) {
		c->goaway = 1;
		c->goaway_last = f->goaway.last_stream_id;
		c->goaway_code = f->goaway.error_code;
		return 0;
	}
	if (f->hd.stream_id == 0 ||
	    !h2client_owned(st = h2client_stream(c, f->hd.stream_id)))
		return 0;
	switch (f->hd.type) {
	case NGHTTP2_HEADERS:
		if (h2client_on_headers(c, st, f) != 0)
			return NGHTTP2_ERR_CALLBACK_FAILURE;
		break;
	case NGHTTP2_DATA:
		if (f->hd.flags & NGHTTP2_FLAG_END_STREAM) {
			st->ended = 1;
			c->cbs.on_end(c->arg, st->id, NULL);
		}
		break;
	case NGHTTP2_RST_STREAM:
		st->peer_reset = 1;
		break;
	}
	return 0;
}

static int
h2client_on_data(nghttp2_session *s, uint8_t flags, int32_t id,
    const uint8_t *p, size_t len, void *arg)
{
	struct h2client *c = arg;
	struct h2client_stream *st = h2client_stream(c, id);

	(void)flags;
	if (h2session_credit(s, id, len, h2client_owned(st)) != 0)
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	if (!h2client_owned(st))
		return 0;
	c->cbs.on_data(c->arg, id, p, len);
	return 0;
}

/*
 * A request's HEADERS could not go out (a GOAWAY came first): nghttp2
 * never opened the stream, so no on_stream_close will say so.
 */
static int
h2client_on_not_send(nghttp2_session *s, const nghttp2_frame *f,
    int error, void *arg)
{
	struct h2client *c = arg;
	struct h2client_stream *st;

	(void)error;
	if (f->hd.type != NGHTTP2_HEADERS ||
	    f->headers.cat != NGHTTP2_HCAT_REQUEST ||
	    nghttp2_session_find_stream(s, f->hd.stream_id) != NULL ||
	    (st = h2client_stream_find(c, f->hd.stream_id)) == NULL)
		return 0;
	h2client_stream_close(st, st->owner_reset ? st->reset_code :
	    NGHTTP2_REFUSED_STREAM);
	return 0;
}

/*
 * nghttp2 found a response malformed (its HTTP checks: RFC 9113 8.1.1,
 * 8.2, 8.3.2) or a stream in error, and resets it: why, for the owner's
 * audit.
 */
static int
h2client_on_invalid_frame(nghttp2_session *s, const nghttp2_frame *f,
    int lib_error, void *arg)
{
	static const char *const why[3] = {
		"malformed upstream response head: a field or pseudo-field "
		    "RFC 9113 8.2 and 8.3 forbid",
		H2CLIENT_BAD_DATA,
		"upstream stream error (RFC 9113 5.4.2)",
	};
	struct h2client_stream *st;

	(void)s;
	if (f->hd.stream_id != 0 &&
	    (st = h2client_stream(arg, f->hd.stream_id)) != NULL &&
	    st->why == NULL)
		st->why = h2session_invalid_why(lib_error, why);
	return 0;
}

static int
h2client_on_stream_close(nghttp2_session *s, int32_t id, uint32_t code,
    void *arg)
{
	struct h2client *c = arg;
	struct h2client_stream *st = h2client_stream(c, id);

	(void)s;
	if (st == NULL)
		return 0;
	/* closed before the owner had the whole response: not a success */
	if (code == NGHTTP2_NO_ERROR && !st->ended)
		code = st->error ? st->error : NGHTTP2_CANCEL;
	/* a reset nobody asked for and nghttp2 did not explain: its DATA
	   checks (content-length, a body after a head that has none) */
	if (code == NGHTTP2_PROTOCOL_ERROR && st->why == NULL &&
	    !st->peer_reset && !st->owner_reset)
		st->why = H2CLIENT_BAD_DATA;
	h2client_stream_close(st, code);
	return 0;
}

static int
h2client_session(struct h2client *c)
{
	nghttp2_session_callbacks *cb = NULL;
	nghttp2_option *opt = NULL;
	int rc = -1;

	if (nghttp2_session_callbacks_new(&cb) != 0 ||
	    nghttp2_option_new(&opt) != 0)
		goto fail;
	nghttp2_session_callbacks_set_on_begin_headers_callback(cb,
	    h2client_on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cb,
	    h2client_on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb,
	    h2client_on_frame_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb,
	    h2client_on_data);
	nghttp2_session_callbacks_set_on_frame_not_send_callback(cb,
	    h2client_on_not_send);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb,
	    h2client_on_stream_close);
	nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(cb,
	    h2client_on_invalid_frame);

	h2session_options(opt);
	/* A client has no use for closed streams: the server's frames on them
	 * are the server's error, and dropping them is safe. */
	nghttp2_option_set_no_closed_streams(opt, 1);
	if (nghttp2_session_client_new2(&c->s, cb, c, opt) == 0)
		rc = 0;
fail:
	nghttp2_option_del(opt);
	nghttp2_session_callbacks_del(cb);
	return rc;
}

struct h2client *
h2client_new(const struct h2client_limits *lim,
    const struct h2client_cbs *cbs, void *arg)
{
	struct h2client *c;
	nghttp2_settings_entry set[] = {
		{ NGHTTP2_SETTINGS_ENABLE_PUSH, 0 },
		{ NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, 0 },
		{ NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 0 },
		{ NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES, 1 },
	};

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	if (lim != NULL)
		c->lim = *lim;
	else
		h2client_limits_default(&c->lim);
	c->cbs = *cbs;
	c->arg = arg;
	TAILQ_INIT(&c->streams);
	if (h2client_session(c) == -1)
		goto fail;
	set[1].value = c->lim.max_header_list;
	set[2].value = c->lim.stream_window;
	if (nghttp2_submit_settings(c->s, NGHTTP2_FLAG_NONE, set,
	    sizeof(set) / sizeof(set[0])) != 0 ||
	    nghttp2_session_set_local_window_size(c->s, NGHTTP2_FLAG_NONE, 0,
	    (int32_t)c->lim.conn_window) != 0)
		goto fail;
	return c;
fail:
	h2client_free(c);
	return NULL;
}

void
h2client_free(struct h2client *c)
{
	if (c == NULL)
		return;
	while (!TAILQ_EMPTY(&c->streams))
		h2client_stream_free(TAILQ_FIRST(&c->streams));
	nghttp2_session_del(c->s);
	free(c);
}

void
h2client_fail(struct h2client *c, uint32_t code)
{
	c->dead = 1;
	while (!TAILQ_EMPTY(&c->streams))
		h2client_stream_close(TAILQ_FIRST(&c->streams), code);
}

int
h2client_input(struct h2client *c, struct evbuffer *in)
{
	if (!c->dead && h2session_recv(c->s, in) == 0)
		return 0;
	evbuffer_drain(in, evbuffer_get_length(in));
	h2client_fail(c, NGHTTP2_PROTOCOL_ERROR);
	return -1;
}

int
h2client_output(struct h2client *c, struct evbuffer *out, size_t room)
{
	struct h2client_stream *st, *next;

	if (h2session_send(c->s, out, room) == -1)
		return -1;
	/* a connection error's GOAWAY went: no stream will end otherwise */
	if (!nghttp2_session_want_read(c->s)) {
		h2client_fail(c, NGHTTP2_PROTOCOL_ERROR);
		return 0;
	}
	for (st = TAILQ_FIRST(&c->streams); st != NULL; st = next) {
		next = TAILQ_NEXT(st, link);
		if (h2out_writable(&st->out))
			c->cbs.on_writable(c->arg, st->id);
	}
	return 0;
}

int
h2client_want_read(const struct h2client *c)
{
	return !c->dead && nghttp2_session_want_read(c->s);
}

int
h2client_want_write(const struct h2client *c)
{
	return nghttp2_session_want_write(c->s);
}

int
h2client_is_done(const struct h2client *c)
{
	return !h2client_want_read(c) && !h2client_want_write(c);
}

int
h2client_can_open(const struct h2client *c)
{
	uint32_t max;

	max = nghttp2_session_get_remote_settings(c->s,
	    NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
	if (max > c->lim.max_streams)
		max = c->lim.max_streams;
	return !c->dead && !c->goaway && !c->draining && c->n < max &&
	    nghttp2_session_check_request_allowed(c->s);
}

size_t
h2client_streams(const struct h2client *c)
{
	return c->n;
}

int
h2client_goaway_seen(const struct h2client *c, int32_t *last,
    uint32_t *code)
{
	if (!c->goaway)
		return 0;
	*last = c->goaway_last;
	*code = c->goaway_code;
	return 1;
}

/* Can HTTP/2 carry req as an ordinary request? */
static int
h2client_request_ok(const struct msg *req)
{
	/*
	 * A plain CONNECT makes a tunnel and an upgrade needs RFC 8441,
	 * which the owner asks for over HTTP/1.1 instead; transfer codings
	 * do not exist in HTTP/2.
	 */
	return req->kind == MSG_REQUEST && req->method.len > 0 &&
	    req->authority.len > 0 && req->path.len > 0 && !req->upgrade &&
	    req->codings.len == 0 &&
	    !msg_str_eq(req, req->method, "CONNECT", 7);
}

int32_t
h2client_request(struct h2client *c, const struct msg *req)
{
	struct h2client_stream *st;
	struct h2nv nv = { NULL, 0, 0 };
	nghttp2_data_provider prd;
	int32_t id;

	if (!h2client_can_open(c) || !h2client_request_ok(req))
		return -1;
	if ((st = calloc(1, sizeof(*st))) == NULL)
		return -1;
	st->c = c;
	st->body = req->body == MSG_BODY_UNKNOWN ||
	    (req->body == MSG_BODY_LENGTH && req->length > 0);
	st->head_req = msg_str_eq(req, req->method, "HEAD", 4);
	if (h2out_init(&st->out, c->lim.stream_buffer) == -1 ||
	    h2nv_build(&nv, req, H2NV_REQUEST) == -1)
		goto fail;
	prd.source.ptr = &st->out;
	prd.read_callback = h2out_source;
	id = nghttp2_submit_request(c->s, NULL, nv.nv, nv.n,
	    st->body ? &prd : NULL, st);
	h2nv_free(&nv);
	if (id < 0)
		goto fail;
	st->id = id;
	TAILQ_INSERT_TAIL(&c->streams, st, link);
	c->n++;
	return id;
fail:
	h2nv_free(&nv);
	h2out_free(&st->out);
	free(st);
	return -1;
}

int
h2client_stream_set(struct h2client *c, int32_t id, void *p)
{
	struct h2client_stream *st = h2client_stream_find(c, id);

	if (st == NULL)
		return -1;
	st->user = p;
	return 0;
}

void *
h2client_stream_get(const struct h2client *c, int32_t id)
{
	struct h2client_stream *st = h2client_stream_find(c, id);

	return st ? st->user : NULL;
}

/* The stream id the owner may still act on, or NULL. */
static struct h2client_stream *
h2client_writable(struct h2client *c, int32_t id)
{
	struct h2client_stream *st = h2client_stream_find(c, id);

	return h2client_owned(st) ? st : NULL;
}

ssize_t
h2client_write(struct h2client *c, int32_t id, struct evbuffer *src,
    size_t n)
{
	struct h2client_stream *st = h2client_writable(c, id);

	if (st == NULL || !st->body)
		return -1;
	return h2out_write(&st->out, c->s, id, src, n);
}

int
h2client_end(struct h2client *c, int32_t id, const struct msg *m)
{
	struct h2client_stream *st = h2client_writable(c, id);

	if (st == NULL || st->out.end)
		return -1;
	if (!st->body)
		return 0;	/* ended with the head */
	return h2out_end(&st->out, c->s, id, m);
}

int
h2client_reset(struct h2client *c, int32_t id, uint32_t code)
{
	struct h2client_stream *st = h2client_writable(c, id);

	if (st == NULL)
		return -1;
	st->owner_reset = 1;
	st->reset_code = code;
	return nghttp2_submit_rst_stream(c->s, NGHTTP2_FLAG_NONE, id,
	    code) == 0 ? 0 : -1;
}

int
h2client_consume(struct h2client *c, int32_t id, size_t n)
{
	if (!h2client_owned(h2client_stream(c, id)))
		return 0;	/* closed meanwhile: no window to give */
	return nghttp2_session_consume_stream(c->s, id, n) == 0 ? 0 : -1;
}

int
h2client_ping(struct h2client *c)
{
	return nghttp2_submit_ping(c->s, NGHTTP2_FLAG_NONE, NULL) == 0 ? 0 :
	    -1;
}

int
h2client_goaway(struct h2client *c)
{
	c->draining = 1;
	return nghttp2_submit_goaway(c->s, NGHTTP2_FLAG_NONE, 0,
	    NGHTTP2_NO_ERROR, NULL, 0) == 0 ? 0 : -1;
}
