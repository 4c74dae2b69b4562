/*
 * test_h2codec.c - the HTTP/2 server codec driven by an nghttp2 client
 * session in memory (and by raw frames where a client library would not
 * misbehave): round trips, bodies and trailers, flow control both ways,
 * responses without a body, GOAWAY drain, and the abuse bounds.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <nghttp2/nghttp2.h>

#include "h2codec.h"
#include "msg.h"
#include "unit.h"

#define S(lit)		lit, sizeof(lit) - 1
#define MAXID		256

/* What the owner (the exchange, later) saw. */
struct owner {
	struct h2codec	*h2;
	struct msg	*req[MAXID];
	struct evbuffer	*data[MAXID];
	int		 ended[MAXID];
	int		 closed[MAXID];
	uint32_t	 code[MAXID];
	char		 trailer[MAXID][64];
	int		 writable[MAXID];
	const char	*malformed[MAXID];
	int		 nreq;
	int		 consume;	/* give the window back at once */
};

/* What the client saw. */
struct client {
	nghttp2_session	*s;
	int		 status[MAXID];
	int		 final[MAXID];	/* the final head came whole */
	char		 head[MAXID][512];	/* "name: value\n"... */
	char		 trailers[MAXID][256];
	struct evbuffer	*body[MAXID];
	int		 closed[MAXID];
	uint32_t	 code[MAXID];
	int		 goaway;
	uint32_t	 goaway_code;
	int32_t		 goaway_last;
	const char	*post;		/* request body, then trailers */
	size_t		 post_len, post_off;
	const nghttp2_nv *tnv;		/* NULL: grpc-status: 0 */
	size_t		 tn;
};

static void
own_request(void *arg, int32_t id, struct msg *req)
{
	struct owner *o = arg;

	o->nreq++;
	if (id >= MAXID) {	/* counted only */
		msg_free(req);
		free(req);
		return;
	}
	o->req[id] = req;
	h2codec_stream_set(o->h2, id, o);
}

static void
own_data(void *arg, int32_t id, const uint8_t *p, size_t len)
{
	struct owner *o = arg;

	if (id >= MAXID)
		return;
	evbuffer_add(o->data[id], p, len);
	if (o->consume)
		h2codec_consume(o->h2, id, len);
}

static void
own_end(void *arg, int32_t id, const struct msg *t)
{
	struct owner *o = arg;
	const struct msg_field *f;

	if (id >= MAXID)
		return;
	o->ended[id]++;
	if (t != NULL && t->trailers.n > 0) {
		f = &t->trailers.v[0];
		snprintf(o->trailer[id], sizeof(o->trailer[id]), "%.*s: %.*s",
		    (int)f->name.len, msg_ptr(t, f->name), (int)f->value.len,
		    msg_ptr(t, f->value));
	}
}

static void
own_close(void *arg, int32_t id, uint32_t code)
{
	struct owner *o = arg;

	if (id >= MAXID)
		return;
	o->closed[id]++;
	o->code[id] = code;
}

static void
own_writable(void *arg, int32_t id)
{
	struct owner *o = arg;

	if (id < MAXID)
		o->writable[id]++;
}

static void
own_malformed(void *arg, int32_t id, const char *why)
{
	struct owner *o = arg;

	if (id < MAXID)
		o->malformed[id] = why;
}

static const struct h2codec_cbs own_cbs = {
	own_request, own_data, own_end, own_close, own_writable,
	NULL,		/* the codec answers refused heads itself */
	own_malformed,
};

static int
cl_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *n,
    size_t nlen, const uint8_t *v, size_t vlen, uint8_t flags, void *arg)
{
	struct client *c = arg;
	int32_t id = f->hd.stream_id;
	char *dst;
	size_t cap, len;

	(void)s;
	(void)flags;
	if (id >= MAXID)
		return 0;
	if (nlen == 7 && memcmp(n, ":status", 7) == 0) {
		c->status[id] = atoi((const char *)v);
		return 0;
	}
	if (c->final[id]) {
		dst = c->trailers[id];
		cap = sizeof(c->trailers[id]);
	} else {
		dst = c->head[id];
		cap = sizeof(c->head[id]);
	}
	len = strlen(dst);
	snprintf(dst + len, cap - len, "%.*s: %.*s\n", (int)nlen, n,
	    (int)vlen, v);
	return 0;
}

static int
cl_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *p,
    size_t len, void *arg)
{
	struct client *c = arg;

	(void)s;
	(void)flags;
	if (id < MAXID)
		evbuffer_add(c->body[id], p, len);
	return 0;
}

static int
cl_close(nghttp2_session *s, int32_t id, uint32_t code, void *arg)
{
	struct client *c = arg;

	(void)s;
	if (id < MAXID) {
		c->closed[id]++;
		c->code[id] = code;
	}
	return 0;
}

static int
cl_frame(nghttp2_session *s, const nghttp2_frame *f, void *arg)
{
	struct client *c = arg;

	(void)s;
	if (f->hd.type == NGHTTP2_HEADERS && f->hd.stream_id < MAXID &&
	    c->status[f->hd.stream_id] >= 200)
		c->final[f->hd.stream_id] = 1;
	if (f->hd.type == NGHTTP2_GOAWAY) {
		c->goaway++;
		c->goaway_code = f->goaway.error_code;
		c->goaway_last = f->goaway.last_stream_id;
	}
	return 0;
}

static void
cl_init(struct client *c, size_t max_block)
{
	nghttp2_session_callbacks *cb;
	nghttp2_option *opt;
	int i;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < MAXID; i++)
		c->body[i] = evbuffer_new();
	nghttp2_session_callbacks_new(&cb);
	nghttp2_session_callbacks_set_on_header_callback(cb, cl_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, cl_data);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, cl_close);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, cl_frame);
	nghttp2_option_new(&opt);
	/* open streams before our SETTINGS arrive, as a hostile one would */
	nghttp2_option_set_peer_max_concurrent_streams(opt, 1000);
	if (max_block > 0)
		nghttp2_option_set_max_send_header_block_length(opt, max_block);
	nghttp2_session_client_new2(&c->s, cb, c, opt);
	nghttp2_option_del(opt);
	nghttp2_session_callbacks_del(cb);
	nghttp2_submit_settings(c->s, NGHTTP2_FLAG_NONE, NULL, 0);
}

static void
cl_free(struct client *c)
{
	int i;

	nghttp2_session_del(c->s);
	for (i = 0; i < MAXID; i++)
		evbuffer_free(c->body[i]);
}

static void
own_init(struct owner *o, const struct h2codec_limits *lim)
{
	int i;

	memset(o, 0, sizeof(*o));
	for (i = 0; i < MAXID; i++)
		o->data[i] = evbuffer_new();
	o->consume = 1;
	o->h2 = h2codec_new(lim, &own_cbs, o);
}

static void
own_free(struct owner *o)
{
	int i;

	h2codec_free(o->h2);
	for (i = 0; i < MAXID; i++) {
		evbuffer_free(o->data[i]);
		if (o->req[i] != NULL) {
			msg_free(o->req[i]);
			free(o->req[i]);
		}
	}
}

/* The client's pending frames into buf (not yet to the server). */
static void
cl_send(struct client *c, struct evbuffer *buf)
{
	const uint8_t *p;
	ssize_t n;

	while ((n = nghttp2_session_mem_send(c->s, &p)) > 0)
		evbuffer_add(buf, p, n);
}

/* Frames both ways until neither side has more; the server's input rc. */
static int
pump(struct client *c, struct owner *o)
{
	struct evbuffer *buf = evbuffer_new();
	size_t len;
	int rc = 0, moved = 1;

	while (moved) {
		moved = 0;
		cl_send(c, buf);
		if (evbuffer_get_length(buf) > 0) {
			moved = 1;
			if (h2codec_input(o->h2, buf) == -1)
				rc = -1;
		}
		h2codec_output(o->h2, buf, 1 << 20);
		if ((len = evbuffer_get_length(buf)) > 0) {
			moved = 1;
			nghttp2_session_mem_recv(c->s,
			    evbuffer_pullup(buf, len), len);
			evbuffer_drain(buf, len);
		}
	}
	evbuffer_free(buf);
	return rc;
}

static int32_t
cl_get(struct client *c, const char *method, const char *path,
    const nghttp2_nv *extra, size_t nextra)
{
	nghttp2_nv nv[64] = {
		{ (uint8_t *)":method", (uint8_t *)method, 7, strlen(method), 0 },
		{ (uint8_t *)":scheme", (uint8_t *)"https", 7, 5, 0 },
		{ (uint8_t *)":authority", (uint8_t *)"api.test", 10, 8, 0 },
		{ (uint8_t *)":path", (uint8_t *)path, 5, strlen(path), 0 },
	};

	if (nextra > 0)
		memcpy(nv + 4, extra, nextra * sizeof(*nv));
	return nghttp2_submit_request(c->s, NULL, nv, 4 + nextra, NULL, NULL);
}

#define NV(n, v)	{ (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, \
			  sizeof(v) - 1, 0 }

static char *
body_str(struct evbuffer *b)
{
	evbuffer_add(b, "", 1);
	return (char *)evbuffer_pullup(b, -1);
}

static void
respond(struct owner *o, int32_t id, int status, enum msg_body body,
    uint64_t len)
{
	struct msg m;

	msg_init(&m, MSG_RESPONSE);
	msg_set_status(&m, status, "", 0);
	msg_add(&m, S("Content-Type"), S("text/plain"));
	msg_add(&m, S("Connection"), S("close"));
	msg_add(&m, S("Transfer-Encoding"), S("chunked"));
	msg_add(&m, S("X-Up"), S("Yes"));
	if (body == MSG_BODY_NONE)
		msg_add(&m, S("Content-Length"), S("1234"));
	msg_set_body(&m, body, len);
	CHECK(h2codec_respond(o->h2, id, &m) == 0, "respond");
	msg_free(&m);
}

static void
write_str(struct owner *o, int32_t id, const char *s)
{
	struct evbuffer *b = evbuffer_new();

	evbuffer_add(b, s, strlen(s));
	h2codec_write(o->h2, id, b, strlen(s));
	evbuffer_free(b);
}

static void
end_with(struct owner *o, int32_t id, const char *name, const char *value)
{
	struct msg t;

	msg_init(&t, MSG_RESPONSE);
	if (name != NULL) {
		msg_add_trailer(&t, name, strlen(name), value, strlen(value));
		msg_add_trailer(&t, S("Authorization"), S("Bearer no"));
	}
	CHECK(h2codec_end(o->h2, id, &t) == 0, "end");
	msg_free(&t);
}

static void
test_get(void)
{
	struct owner o;
	struct client c;
	nghttp2_nv extra[] = {
		NV("cookie", "a=1"), NV("x-a", "1"), NV("cookie", "b=2"),
		NV("te", "trailers"), NV("proxy-authorization", "Basic x"),
	};
	struct msg *r;
	int32_t id;

	own_init(&o, NULL);
	cl_init(&c, 0);
	id = cl_get(&c, "GET", "/v1/x?q=1", extra, 5);
	pump(&c, &o);
	r = o.req[id];
	CHECK(r != NULL && o.nreq == 1, "get: on_request");
	CHECK(r && msg_str_eq(r, r->method, S("GET")) &&
	    msg_str_eq(r, r->authority, S("api.test")) &&
	    msg_str_eq(r, r->path, S("/v1/x?q=1")) &&
	    msg_str_eq(r, r->scheme, S("https")), "get: pseudo-fields");
	CHECK(r && r->body == MSG_BODY_NONE && r->trailers_ok,
	    "get: no body, trailers ok");
	CHECK(r && msg_find(r, S("cookie")) &&
	    msg_str_eq(r, msg_find(r, S("cookie"))->value, S("a=1; b=2")),
	    "get: cookie crumbs joined");
	CHECK(r && r->fields.n == 2 && !msg_find(r, S("te")) &&
	    !msg_find(r, S("proxy-authorization")),
	    "get: te and proxy-* not fields");
	CHECK(o.ended[id] == 1, "get: on_end");
	CHECK(h2codec_stream_get(o.h2, id) == &o, "get: owner's pointer");

	respond(&o, id, 200, MSG_BODY_UNKNOWN, 0);
	write_str(&o, id, "hello");
	end_with(&o, id, "X-Checksum", "abc");
	pump(&c, &o);
	CHECK(c.status[id] == 200, "get: client sees 200");
	CHECK(strstr(c.head[id], "x-up: Yes\n") &&
	    strstr(c.head[id], "content-type: text/plain\n"),
	    "get: fields lowercased");
	CHECK(!strstr(c.head[id], "connection") &&
	    !strstr(c.head[id], "transfer-encoding") &&
	    !strstr(c.head[id], "content-length"),
	    "get: no connection-specific field, no length for unknown");
	CHECK(strcmp(body_str(c.body[id]), "hello") == 0, "get: body");
	CHECK(strcmp(c.trailers[id], "x-checksum: abc\n") == 0,
	    "get: trailers, without those a trailer may not be");
	CHECK(c.closed[id] && c.code[id] == 0 && o.closed[id] == 1 &&
	    o.code[id] == 0, "get: closed cleanly both sides");
	CHECK(h2codec_stream_get(o.h2, id) == NULL, "get: stream gone");
	cl_free(&c);
	own_free(&o);
}

static ssize_t
cl_read_post(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len,
    uint32_t *flags, nghttp2_data_source *src, void *arg)
{
	struct client *c = arg;
	nghttp2_nv t[] = { NV("grpc-status", "0") };
	size_t n = c->post_len - c->post_off;

	(void)src;
	if (n > len)
		n = len;
	memcpy(buf, c->post + c->post_off, n);
	c->post_off += n;
	if (c->post_off == c->post_len) {
		*flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
		if (c->tnv != NULL)
			nghttp2_submit_trailer(s, id, c->tnv, c->tn);
		else
			nghttp2_submit_trailer(s, id, t, 1);
	}
	return n;
}

static int32_t
cl_post(struct client *c, const char *body, size_t len)
{
	nghttp2_nv nv[] = {
		NV(":method", "POST"), NV(":scheme", "https"),
		NV(":authority", "api.test"), NV(":path", "/pkg.Svc/Call"),
		NV("content-type", "application/grpc"),
	};
	nghttp2_data_provider prd;

	c->post = body;
	c->post_len = len;
	c->post_off = 0;
	prd.read_callback = cl_read_post;
	return nghttp2_submit_request(c->s, NULL, nv, 5, &prd, NULL);
}

static void
test_post(void)
{
	struct owner o;
	struct client c;
	size_t len = 40000;
	char *body = malloc(len);
	int32_t id;

	memset(body, 'p', len);
	own_init(&o, NULL);
	cl_init(&c, 0);
	id = cl_post(&c, body, len);
	pump(&c, &o);
	CHECK(o.req[id] && o.req[id]->body == MSG_BODY_UNKNOWN,
	    "post: body unknown without content-length");
	CHECK(evbuffer_get_length(o.data[id]) == len &&
	    memcmp(evbuffer_pullup(o.data[id], -1), body, len) == 0,
	    "post: body in several DATA frames, whole");
	CHECK(o.ended[id] == 1 && strcmp(o.trailer[id], "grpc-status: 0") == 0,
	    "post: trailers at the end");
	respond(&o, id, 200, MSG_BODY_LENGTH, 2);
	write_str(&o, id, "ok");
	end_with(&o, id, NULL, NULL);
	pump(&c, &o);
	CHECK(c.status[id] == 200 && strstr(c.head[id], "content-length: 2\n")
	    && strcmp(body_str(c.body[id]), "ok") == 0,
	    "post: response with its length");
	CHECK(o.closed[id] == 1 && o.code[id] == 0, "post: closed cleanly");
	cl_free(&c);
	own_free(&o);
	free(body);
}

static void
test_flow(void)
{
	struct owner o;
	struct client c;
	struct h2codec_limits lim;
	struct evbuffer *big = evbuffer_new();
	size_t len = 300000, got;
	char *body = calloc(1, len);
	int32_t a, b, i;
	ssize_t took;

	h2codec_limits_default(&lim);
	lim.stream_window = 65536;
	own_init(&o, &lim);
	o.consume = 0;
	cl_init(&c, 0);
	a = cl_post(&c, body, len);
	pump(&c, &o);
	b = cl_get(&c, "GET", "/b", NULL, 0);
	pump(&c, &o);
	got = evbuffer_get_length(o.data[a]);
	CHECK(got == lim.stream_window,
	    "flow: an unread stream stops at its window");
	CHECK(o.req[b] != NULL && o.ended[b], "flow: another stream flows");
	respond(&o, b, 200, MSG_BODY_LENGTH, 2);
	write_str(&o, b, "ok");
	end_with(&o, b, NULL, NULL);
	pump(&c, &o);
	CHECK(c.status[b] == 200 && o.closed[b], "flow: and completes");
	for (i = 0, got = 0; i < 10 && got < len; i++) {
		h2codec_consume(o.h2, a, evbuffer_get_length(o.data[a]) - got);
		got = evbuffer_get_length(o.data[a]);
		pump(&c, &o);
	}
	CHECK(evbuffer_get_length(o.data[a]) == len && o.ended[a],
	    "flow: consume resumes it");

	/* the response side: a bounded buffer, on_writable when it drains */
	respond(&o, a, 200, MSG_BODY_UNKNOWN, 0);
	evbuffer_add(big, body, len);
	took = h2codec_write(o.h2, a, big, len);
	CHECK(took == (ssize_t)lim.stream_buffer,
	    "flow: a write takes what the stream buffer holds");
	CHECK(h2codec_write(o.h2, a, big, len - took) == 0 && !o.writable[a],
	    "flow: nothing more until it drains");
	pump(&c, &o);
	CHECK(o.writable[a] == 1, "flow: on_writable once it drained");
	while (evbuffer_get_length(big) > 0) {
		h2codec_write(o.h2, a, big, evbuffer_get_length(big));
		pump(&c, &o);
	}
	end_with(&o, a, NULL, NULL);
	pump(&c, &o);
	CHECK(evbuffer_get_length(c.body[a]) == len && o.closed[a] &&
	    o.code[a] == 0, "flow: the whole response went");
	evbuffer_free(big);
	cl_free(&c);
	own_free(&o);
	free(body);
}

static void
test_no_body(void)
{
	struct owner o;
	struct client c;
	int32_t h, n;

	own_init(&o, NULL);
	cl_init(&c, 0);
	h = cl_get(&c, "HEAD", "/h", NULL, 0);
	n = cl_get(&c, "GET", "/n", NULL, 0);
	pump(&c, &o);
	respond(&o, h, 200, MSG_BODY_NONE, 0);
	respond(&o, n, 304, MSG_BODY_NONE, 0);
	CHECK(h2codec_write(o.h2, h, NULL, 0) == -1, "head: no body to write");
	pump(&c, &o);
	CHECK(c.status[h] == 200 && c.status[n] == 304, "head/304: status");
	CHECK(strstr(c.head[h], "content-length: 1234\n") &&
	    strstr(c.head[n], "content-length: 1234\n"),
	    "head/304: content-length describes, kept");
	CHECK(evbuffer_get_length(c.body[h]) == 0 &&
	    evbuffer_get_length(c.body[n]) == 0 && c.code[h] == 0 &&
	    c.code[n] == 0 && o.closed[h] && o.closed[n],
	    "head/304: ended with the head");
	cl_free(&c);
	own_free(&o);
}

/* A response complete before the request: the client may stop sending. */
/* Interim heads, and what HTTP/2 cannot carry. */
static void
test_heads(void)
{
	struct owner o;
	struct client c;
	struct msg m;
	int32_t id;

	own_init(&o, NULL);
	cl_init(&c, 0);
	id = cl_get(&c, "GET", "/", NULL, 0);
	pump(&c, &o);
	msg_init(&m, MSG_RESPONSE);
	msg_set_status(&m, 101, "", 0);
	CHECK(h2codec_respond(o.h2, id, &m) == -1, "heads: no 101");
	msg_reset(&m, MSG_RESPONSE);
	msg_set_status(&m, 200, "", 0);
	msg_set_body(&m, MSG_BODY_UNKNOWN, 0);
	msg_copy(&m, S("gzip"), &m.codings);
	CHECK(h2codec_respond(o.h2, id, &m) == -1,
	    "heads: no transfer coding");
	msg_reset(&m, MSG_RESPONSE);
	msg_set_status(&m, 103, "", 0);
	msg_add(&m, S("Link"), S("</a.css>; rel=preload"));
	CHECK(h2codec_respond(o.h2, id, &m) == 0, "heads: a 103 first");
	msg_free(&m);
	respond(&o, id, 200, MSG_BODY_LENGTH, 1);
	write_str(&o, id, "x");
	end_with(&o, id, NULL, NULL);
	pump(&c, &o);
	CHECK(c.status[id] == 200 && strstr(c.head[id], "link: </a.css>") &&
	    strstr(c.head[id], "x-up: Yes") && o.code[id] == 0,
	    "heads: the client got the 103's fields, then the 200");
	cl_free(&c);
	own_free(&o);
}

static void
test_early(void)
{
	struct owner o;
	struct client c;
	size_t len = 300000;
	char *body = calloc(1, len);
	int32_t id;

	own_init(&o, NULL);
	o.consume = 0;
	cl_init(&c, 0);
	id = cl_post(&c, body, len);
	pump(&c, &o);
	respond(&o, id, 403, MSG_BODY_NONE, 0);
	pump(&c, &o);
	CHECK(c.status[id] == 403 && c.closed[id] && c.code[id] == 0,
	    "early: 403 and RST_STREAM NO_ERROR, the upload stops");
	CHECK(o.closed[id] == 1 && o.code[id] == 0 && !o.ended[id],
	    "early: closed cleanly for the owner");
	cl_free(&c);
	own_free(&o);
	free(body);
}

/* Either side resets a stream: the owner hears it once, with the code. */
static void
test_resets(void)
{
	struct owner o;
	struct client c;
	int32_t ours, theirs;

	own_init(&o, NULL);
	cl_init(&c, 0);
	ours = cl_get(&c, "GET", "/ours", NULL, 0);
	theirs = cl_post(&c, "abc", 3);
	pump(&c, &o);
	CHECK(h2codec_reset(o.h2, ours, H2CODEC_INTERNAL_ERROR) == 0,
	    "reset: ours queued");
	CHECK(h2codec_respond(o.h2, ours, NULL) == -1,
	    "reset: nothing more written on it");
	nghttp2_submit_rst_stream(c.s, NGHTTP2_FLAG_NONE, theirs,
	    NGHTTP2_CANCEL);
	pump(&c, &o);
	CHECK(c.closed[ours] && c.code[ours] == NGHTTP2_INTERNAL_ERROR &&
	    o.closed[ours] == 1 && o.code[ours] == NGHTTP2_INTERNAL_ERROR,
	    "reset: ours, the client and the owner see the code");
	CHECK(o.closed[theirs] == 1 && o.code[theirs] == NGHTTP2_CANCEL,
	    "reset: the client's, the owner sees CANCEL");
	CHECK(h2codec_stream_get(o.h2, theirs) == NULL && c.goaway == 0,
	    "reset: streams gone, the connection lives on");
	cl_free(&c);
	own_free(&o);
}

static void
test_goaway(void)
{
	struct owner o;
	struct client c;
	int32_t a, b, late;

	own_init(&o, NULL);
	cl_init(&c, 0);
	a = cl_get(&c, "GET", "/a", NULL, 0);
	b = cl_get(&c, "GET", "/b", NULL, 0);
	pump(&c, &o);
	CHECK(h2codec_goaway(o.h2) == 0, "goaway: queued");
	pump(&c, &o);
	CHECK(c.goaway == 1 && c.goaway_code == 0 && c.goaway_last == b,
	    "goaway: NO_ERROR, last stream the open one");
	CHECK(!h2codec_is_done(o.h2), "goaway: not done while streams open");
	late = cl_get(&c, "GET", "/late", NULL, 0);
	pump(&c, &o);
	CHECK(late < 0 || o.req[late] == NULL, "goaway: no new stream");
	respond(&o, a, 204, MSG_BODY_NONE, 0);
	respond(&o, b, 200, MSG_BODY_LENGTH, 1);
	write_str(&o, b, "b");
	end_with(&o, b, NULL, NULL);
	pump(&c, &o);
	CHECK(c.status[a] == 204 && c.status[b] == 200 &&
	    strcmp(body_str(c.body[b]), "b") == 0, "goaway: open ones finish");
	CHECK(h2codec_is_done(o.h2), "goaway: then done");
	cl_free(&c);
	own_free(&o);
}

static void
test_extended_connect(void)
{
	struct owner o;
	struct client c;
	nghttp2_nv nv[] = {
		NV(":method", "CONNECT"), NV(":protocol", "websocket"),
		NV(":scheme", "https"), NV(":authority", "api.test"),
		NV(":path", "/chat"), NV("sec-websocket-version", "13"),
	};
	struct msg *r;
	int32_t id;

	own_init(&o, NULL);
	cl_init(&c, 0);
	pump(&c, &o);		/* our SETTINGS first: RFC 8441 3 */
	id = nghttp2_submit_request(c.s, NULL, nv, 6, NULL, NULL);
	pump(&c, &o);
	r = o.req[id];
	CHECK(r && r->upgrade && msg_str_eq(r, r->method, S("CONNECT")) &&
	    msg_find(r, S("upgrade")) &&
	    msg_str_eq(r, msg_find(r, S("upgrade"))->value, S("websocket")),
	    "connect: extended CONNECT marked, with its protocol");
	cl_free(&c);
	own_free(&o);
}

/* Each request is reset by the client with a field nghttp2 refuses. */
static void
test_invalid(void)
{
	static const nghttp2_nv bad[][1] = {
		{ NV("connection", "close") },
		{ NV("transfer-encoding", "chunked") },
		{ NV("x-bad name", "1") },
		{ NV("x-crlf", "a\r\nb") },
		{ NV("host", "other.test") },
		{ NV("te", "gzip") },
	};
	struct owner o;
	struct client c;
	int32_t id[6], good;
	int i, ok = 1;

	own_init(&o, NULL);
	cl_init(&c, 0);
	for (i = 0; i < 6; i++)
		id[i] = cl_get(&c, "GET", "/", bad[i], 1);
	good = cl_get(&c, "GET", "/", (nghttp2_nv[]){ NV("host", "api.test") },
	    1);
	pump(&c, &o);
	for (i = 0; i < 6; i++)
		if (o.req[id[i]] != NULL || c.code[id[i]] != 1 ||
		    o.malformed[id[i]] == NULL ||
		    strstr(o.malformed[id[i]], "RFC 9113 8.") == NULL ||
		    o.closed[id[i]] != 0)
			ok = 0;
	CHECK(ok && o.nreq == 1, "invalid: each stream reset, PROTOCOL_ERROR");
	CHECK(ok, "invalid: the owner told why, naming the rule, no close");
	CHECK(o.malformed[id[4]] != NULL && strstr(o.malformed[id[4]],
	    "Host differs") != NULL, "invalid: Host disagreeing named");
	CHECK(o.malformed[good] == NULL, "invalid: a good stream is not");
	CHECK(o.req[good] != NULL, "invalid: a Host agreeing is fine");
	CHECK(c.goaway == 0, "invalid: the connection lives on");
	cl_free(&c);
	own_free(&o);
}

static void
test_header_list(void)
{
	struct owner o;
	struct client c;
	char *v = malloc(4000);
	nghttp2_nv nv[60];
	int32_t big, bomb, fine;
	int i;

	memset(v, 'v', 4000);
	own_init(&o, NULL);
	cl_init(&c, 1 << 24);
	pump(&c, &o);
	for (i = 0; i < 60; i++) {
		nv[i] = (nghttp2_nv)NV("x-big", "");
		nv[i].value = (uint8_t *)v;
		nv[i].valuelen = 2000;	/* small enough to be indexed */
		nv[i].flags = NGHTTP2_NV_FLAG_NO_INDEX;
	}
	big = cl_get(&c, "GET", "/big", nv, 40);
	fine = cl_get(&c, "GET", "/fine", nv, 20);
	pump(&c, &o);
	CHECK(c.status[big] == 431 && o.req[big] == NULL,
	    "header list > 64 KiB: 431, the owner never sees it");
	CHECK(o.req[fine] != NULL, "header list < 64 KiB: fine");

	/* one indexed entry, referenced again and again: small on the wire */
	for (i = 0; i < 60; i++)
		nv[i].flags = NGHTTP2_NV_FLAG_NONE;
	bomb = cl_get(&c, "GET", "/bomb", nv, 60);
	pump(&c, &o);
	CHECK(c.status[bomb] == 431 && o.req[bomb] == NULL,
	    "HPACK bomb: the decoded size counts");

	c.tnv = nv;
	c.tn = 40;
	bomb = cl_post(&c, "abc", 3);
	pump(&c, &o);
	CHECK(o.req[bomb] != NULL && !o.ended[bomb] &&
	    o.code[bomb] == NGHTTP2_ENHANCE_YOUR_CALM &&
	    c.code[bomb] == NGHTTP2_ENHANCE_YOUR_CALM,
	    "trailers > 64 KiB: the stream is reset");
	CHECK(c.goaway == 0, "header limits: the connection lives on");
	cl_free(&c);
	own_free(&o);
	free(v);
}

static void
test_streams(void)
{
	struct owner o;
	struct client c;
	struct h2codec_limits lim;
	int32_t id[11];
	int i;

	h2codec_limits_default(&lim);
	lim.max_streams = 10;
	own_init(&o, &lim);
	cl_init(&c, 0);
	/* all sent before the client read our SETTINGS */
	for (i = 0; i < 11; i++)
		id[i] = cl_get(&c, "GET", "/", NULL, 0);
	pump(&c, &o);
	CHECK(o.nreq == 10, "streams: 10 taken");
	CHECK(c.closed[id[10]] && c.code[id[10]] == NGHTTP2_REFUSED_STREAM,
	    "streams: the 11th REFUSED_STREAM");
	CHECK(c.goaway == 0, "streams: the connection lives on");
	cl_free(&c);
	own_free(&o);
}

static void
test_rapid_reset(void)
{
	struct owner o;
	struct client c;
	struct evbuffer *buf = evbuffer_new();
	int32_t id;
	int i, rc;

	own_init(&o, NULL);
	cl_init(&c, 0);
	pump(&c, &o);
	for (i = 0; i < 600; i++) {
		id = cl_get(&c, "GET", "/", NULL, 0);
		cl_send(&c, buf);
		nghttp2_submit_rst_stream(c.s, NGHTTP2_FLAG_NONE, id,
		    NGHTTP2_CANCEL);
		cl_send(&c, buf);
	}
	rc = h2codec_input(o.h2, buf);
	pump(&c, &o);
	CHECK(rc == 0 && c.goaway == 1 &&
	    c.goaway_code == NGHTTP2_ENHANCE_YOUR_CALM,
	    "rapid reset: GOAWAY ENHANCE_YOUR_CALM");
	CHECK(o.nreq > 100 && o.nreq < 300, "rapid reset: past the burst, no "
	    "more requests");
	CHECK(h2codec_is_done(o.h2), "rapid reset: the connection ends");
	evbuffer_free(buf);
	cl_free(&c);
	own_free(&o);
}

/* Raw frames, for what a client library will not send. */
static void
frame(struct evbuffer *b, uint8_t type, uint8_t flags, uint32_t id,
    const void *p, size_t len)
{
	uint8_t h[9] = {
		len >> 16, len >> 8, len, type, flags,
		id >> 24, id >> 16, id >> 8, id,
	};

	evbuffer_add(b, h, 9);
	evbuffer_add(b, p, len);
}

static void
preface(struct evbuffer *b)
{
	evbuffer_add(b, S("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"));
	frame(b, NGHTTP2_SETTINGS, 0, 0, NULL, 0);
}

/* The error code of the first frame of type on stream id in b, or -1. */
static long
frame_code(struct evbuffer *b, uint8_t type, uint32_t id)
{
	size_t len = evbuffer_get_length(b), off = 0, flen, at;
	const uint8_t *p = evbuffer_pullup(b, -1);
	uint32_t fid;

	/* GOAWAY's code follows the last stream id */
	at = type == NGHTTP2_GOAWAY ? 13 : 9;
	while (off + 9 <= len) {
		flen = (p[off] << 16) | (p[off + 1] << 8) | p[off + 2];
		fid = ((uint32_t)p[off + 5] << 24) | (p[off + 6] << 16) |
		    (p[off + 7] << 8) | p[off + 8];
		if (p[off + 3] == type && fid == id && off + 9 + flen <= len)
			return ((long)p[off + at] << 24) |
			    (p[off + at + 1] << 16) | (p[off + at + 2] << 8) |
			    p[off + at + 3];
		off += 9 + flen;
	}
	return -1;
}

/* Feed in, collect what the server says. */
static int
raw(struct owner *o, struct evbuffer *in, struct evbuffer *out)
{
	int rc = h2codec_input(o->h2, in);

	while (h2codec_want_write(o->h2) &&
	    h2codec_output(o->h2, out, 1 << 20) == 0 &&
	    evbuffer_get_length(out) < (64u << 20))
		if (!h2codec_want_write(o->h2))
			break;
	return rc;
}

static void
test_continuation(void)
{
	struct owner o;
	struct evbuffer *in = evbuffer_new(), *out = evbuffer_new();
	/* GET https://a/ then a literal field repeated in CONTINUATIONs */
	static const uint8_t head[] = { 0x82, 0x87, 0x84, 0x01, 1, 'a' };
	uint8_t lit[1 + 1 + 1 + 1 + 100] = { 0x00, 1, 'x', 100 };
	int i, rc;

	memset(lit + 4, 'y', 100);
	own_init(&o, NULL);
	preface(in);
	frame(in, NGHTTP2_HEADERS, NGHTTP2_FLAG_END_STREAM, 1, head,
	    sizeof(head));
	for (i = 0; i < 1000; i++)
		frame(in, NGHTTP2_CONTINUATION, 0, 1, lit, sizeof(lit));
	rc = raw(&o, in, out);
	CHECK(rc == -1 && o.nreq == 0,
	    "CONTINUATION without END_HEADERS: refused, no request");
	CHECK(frame_code(out, NGHTTP2_GOAWAY, 0) >= 0 && h2codec_is_done(o.h2),
	    "CONTINUATION flood: GOAWAY, done");
	evbuffer_free(in);
	evbuffer_free(out);
	own_free(&o);
}

/* An uppercase name: a client library lowercases it, a hostile one not. */
static void
test_uppercase(void)
{
	struct owner o;
	struct evbuffer *in = evbuffer_new(), *out = evbuffer_new();
	static const uint8_t head[] = {
		0x82, 0x87, 0x84, 0x01, 1, 'a',
		0x00, 7, 'X', '-', 'U', 'p', 'p', 'e', 'r', 1, '1',
	};

	own_init(&o, NULL);
	preface(in);
	frame(in, NGHTTP2_HEADERS,
	    NGHTTP2_FLAG_END_STREAM | NGHTTP2_FLAG_END_HEADERS, 1, head,
	    sizeof(head));
	CHECK(raw(&o, in, out) == 0 && o.nreq == 0 &&
	    frame_code(out, NGHTTP2_RST_STREAM, 1) == NGHTTP2_PROTOCOL_ERROR,
	    "uppercase field name: RST_STREAM PROTOCOL_ERROR");
	evbuffer_free(in);
	evbuffer_free(out);
	own_free(&o);
}

/*
 * content-length 4 on streams left open: the owner gets 3 bytes until the
 * stream ends, then the 4th and the end; DATA beyond makes it malformed
 * with the owner never holding the whole body.
 */
static void
test_length_tail(void)
{
	struct owner o;
	struct evbuffer *in = evbuffer_new(), *out = evbuffer_new();
	/* POST https://a/, content-length: 4 */
	static const uint8_t head[] = {
		0x83, 0x87, 0x84, 0x01, 1, 'a', 0x0f, 0x0d, 1, '4',
	};
	static const uint8_t trailer[] = { 0x00, 1, 'x', 1, '1' };
	uint32_t id;

	own_init(&o, NULL);
	preface(in);
	for (id = 1; id <= 5; id += 2) {
		frame(in, NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS, id, head,
		    sizeof(head));
		frame(in, NGHTTP2_DATA, 0, id, "fo", 2);
		frame(in, NGHTTP2_DATA, 0, id, "ur", 2);
	}
	raw(&o, in, out);
	CHECK(evbuffer_get_length(o.data[1]) == 3 &&
	    evbuffer_get_length(o.data[3]) == 3 &&
	    evbuffer_get_length(o.data[5]) == 3 && !o.ended[1] &&
	    !o.ended[3] && !o.ended[5],
	    "length tail: the last byte waits for the end");
	frame(in, NGHTTP2_DATA, NGHTTP2_FLAG_END_STREAM, 1, "x", 1);
	frame(in, NGHTTP2_DATA, NGHTTP2_FLAG_END_STREAM, 3, NULL, 0);
	frame(in, NGHTTP2_HEADERS,
	    NGHTTP2_FLAG_END_STREAM | NGHTTP2_FLAG_END_HEADERS, 5, trailer,
	    sizeof(trailer));
	raw(&o, in, out);
	CHECK(frame_code(out, NGHTTP2_RST_STREAM, 1) == NGHTTP2_PROTOCOL_ERROR
	    && strcmp(body_str(o.data[1]), "fou") == 0 && !o.ended[1] &&
	    o.closed[1] == 1 && o.code[1] == NGHTTP2_PROTOCOL_ERROR,
	    "length tail: DATA beyond it, malformed, never whole");
	CHECK(strcmp(body_str(o.data[3]), "four") == 0 && o.ended[3] == 1,
	    "length tail: an empty DATA ending it brings the last byte");
	CHECK(strcmp(body_str(o.data[5]), "four") == 0 && o.ended[5] == 1 &&
	    strcmp(o.trailer[5], "x: 1") == 0,
	    "length tail: so do trailers");
	evbuffer_free(in);
	evbuffer_free(out);
	own_free(&o);
}

static void
test_floods(void)
{
	static const uint8_t ping[8];
	uint8_t set[40 * 6];
	struct owner o;
	struct evbuffer *in, *out;
	int i, rc;

	for (i = 0; i < 40; i++) {
		set[i * 6] = 0;
		set[i * 6 + 1] = NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS;
		memset(set + i * 6 + 2, 0, 3);
		set[i * 6 + 5] = 50;
	}
	for (i = 0; i < 3; i++) {
		own_init(&o, NULL);
		in = evbuffer_new();
		out = evbuffer_new();
		preface(in);
		if (i == 2)
			frame(in, NGHTTP2_SETTINGS, 0, 0, set, sizeof(set));
		else
			for (int j = 0; j < 5000; j++)
				if (i == 0)
					frame(in, NGHTTP2_PING, 0, 0, ping, 8);
				else
					frame(in, NGHTTP2_SETTINGS, 0, 0, NULL, 0);
		/* a client that never reads what we answer */
		rc = h2codec_input(o.h2, in);
		if (i < 2) {
			CHECK(rc == -1, i == 0 ? "PING flood: refused" :
			    "SETTINGS flood: refused");
		} else {
			raw(&o, in, out);
			CHECK(frame_code(out, NGHTTP2_GOAWAY, 0) == NGHTTP2_ENHANCE_YOUR_CALM,
			    "SETTINGS with 40 entries: ENHANCE_YOUR_CALM");
		}
		CHECK(!h2codec_want_read(o.h2), "flood: nothing more read");
		evbuffer_free(in);
		evbuffer_free(out);
		own_free(&o);
	}
}

int
main(void)
{
	test_get();
	test_post();
	test_flow();
	test_no_body();
	test_heads();
	test_early();
	test_resets();
	test_goaway();
	test_extended_connect();
	test_invalid();
	test_header_list();
	test_streams();
	test_rapid_reset();
	test_continuation();
	test_uppercase();
	test_length_tail();
	test_floods();
	return unit_done();
}
