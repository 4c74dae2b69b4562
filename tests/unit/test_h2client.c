/*
 * test_h2client.c - the HTTP/2 client codec driven against sluice's own
 * server codec (h2codec.c) in memory, and against an nghttp2 server
 * session (raw frames where a server library would not misbehave): round
 * trips, bodies and trailers, 1xx, flow control both ways, resets both
 * ways, GOAWAY, the server's concurrency limit, malformed responses.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <nghttp2/nghttp2.h>

#include "h2client.h"
#include "h2codec.h"
#include "msg.h"
#include "unit.h"

#define S(lit)		lit, sizeof(lit) - 1
#define MAXID		64
#define NV(n, v)	{ (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, \
			  sizeof(v) - 1, 0 }

/* What the owner of the client codec (h2up, later an exchange) saw. */
struct owner {
	struct h2client	*c;
	struct msg	*resp[MAXID];
	int		 interim[MAXID];	/* 1xx heads */
	struct evbuffer	*data[MAXID];
	int		 ended[MAXID];
	char		 trailer[MAXID][64];
	int		 closed[MAXID];
	uint32_t	 code[MAXID];
	const char	*why[MAXID];	/* on_close's */
	int		 writable[MAXID];
	int		 consume;	/* give the window back at once */
	int		 reset_on_head;	/* h2client_reset in on_response */
};

/* sluice's server codec and what its owner saw. */
struct server {
	struct h2codec	*h2;
	struct msg	*req[MAXID];
	struct evbuffer	*data[MAXID];
	int		 ended[MAXID];
	char		 trailer[MAXID][64];
	int		 closed[MAXID];
	uint32_t	 code[MAXID];
	int		 consume;
};

/* An nghttp2 server session. */
struct ngsrv {
	nghttp2_session	*s;
	char		 head[MAXID][512];	/* "name: value\n"... */
	int		 never_indexed[MAXID];
	int		 nreq;
	int		 closed[MAXID];
	uint32_t	 code[MAXID];
};

static void
own_response(void *arg, int32_t id, struct msg *resp)
{
	struct owner *o = arg;

	if (resp->status < 200) {
		o->interim[id]++;
		msg_free(resp);
		free(resp);
		return;
	}
	o->resp[id] = resp;
	if (o->reset_on_head)
		h2client_reset(o->c, id, H2CLIENT_CANCEL);
}

static void
own_data(void *arg, int32_t id, const uint8_t *p, size_t len)
{
	struct owner *o = arg;

	evbuffer_add(o->data[id], p, len);
	if (o->consume)
		h2client_consume(o->c, id, len);
}

static void
own_end(void *arg, int32_t id, const struct msg *t)
{
	struct owner *o = arg;
	const struct msg_field *f;

	o->ended[id]++;
	if (t != NULL && t->trailers.n > 0) {
		f = &t->trailers.v[0];
		snprintf(o->trailer[id], sizeof(o->trailer[id]), "%.*s: %.*s",
		    (int)f->name.len, msg_ptr(t, f->name), (int)f->value.len,
		    msg_ptr(t, f->value));
	}
}

static void
own_close(void *arg, int32_t id, uint32_t code, const char *why)
{
	struct owner *o = arg;

	o->closed[id]++;
	o->code[id] = code;
	o->why[id] = why;
}

static void
own_writable(void *arg, int32_t id)
{
	struct owner *o = arg;

	o->writable[id]++;
}

static const struct h2client_cbs own_cbs = {
	own_response, own_data, own_end, own_close, own_writable,
};

static void
own_init(struct owner *o, const struct h2client_limits *lim)
{
	int i;

	memset(o, 0, sizeof(*o));
	for (i = 0; i < MAXID; i++)
		o->data[i] = evbuffer_new();
	o->consume = 1;
	o->c = h2client_new(lim, &own_cbs, o);
}

static void
own_free(struct owner *o)
{
	int i;

	h2client_free(o->c);
	for (i = 0; i < MAXID; i++) {
		evbuffer_free(o->data[i]);
		if (o->resp[i] != NULL) {
			msg_free(o->resp[i]);
			free(o->resp[i]);
		}
	}
}

/* sluice's server side */

static void
srv_request(void *arg, int32_t id, struct msg *req)
{
	struct server *sv = arg;

	sv->req[id] = req;
}

static void
srv_data(void *arg, int32_t id, const uint8_t *p, size_t len)
{
	struct server *sv = arg;

	evbuffer_add(sv->data[id], p, len);
	if (sv->consume)
		h2codec_consume(sv->h2, id, len);
}

static void
srv_end(void *arg, int32_t id, const struct msg *t)
{
	struct server *sv = arg;
	const struct msg_field *f;

	sv->ended[id]++;
	if (t != NULL && t->trailers.n > 0) {
		f = &t->trailers.v[0];
		snprintf(sv->trailer[id], sizeof(sv->trailer[id]),
		    "%.*s: %.*s", (int)f->name.len, msg_ptr(t, f->name),
		    (int)f->value.len, msg_ptr(t, f->value));
	}
}

static void
srv_close(void *arg, int32_t id, uint32_t code)
{
	struct server *sv = arg;

	sv->closed[id]++;
	sv->code[id] = code;
}

static void
srv_writable(void *arg, int32_t id)
{
	(void)arg;
	(void)id;
}

static const struct h2codec_cbs srv_cbs = {
	srv_request, srv_data, srv_end, srv_close, srv_writable, NULL, NULL,
};

static void
srv_init(struct server *sv, const struct h2codec_limits *lim)
{
	int i;

	memset(sv, 0, sizeof(*sv));
	for (i = 0; i < MAXID; i++)
		sv->data[i] = evbuffer_new();
	sv->consume = 1;
	sv->h2 = h2codec_new(lim, &srv_cbs, sv);
}

static void
srv_free(struct server *sv)
{
	int i;

	h2codec_free(sv->h2);
	for (i = 0; i < MAXID; i++) {
		evbuffer_free(sv->data[i]);
		if (sv->req[i] != NULL) {
			msg_free(sv->req[i]);
			free(sv->req[i]);
		}
	}
}

/* Frames both ways between client and server codecs until both are quiet. */
static void
pump(struct owner *o, struct server *sv)
{
	struct evbuffer *buf = evbuffer_new();
	int moved = 1;

	while (moved) {
		moved = 0;
		h2client_output(o->c, buf, 1 << 20);
		if (evbuffer_get_length(buf) > 0) {
			moved = 1;
			h2codec_input(sv->h2, buf);
		}
		h2codec_output(sv->h2, buf, 1 << 20);
		if (evbuffer_get_length(buf) > 0) {
			moved = 1;
			h2client_input(o->c, buf);
		}
	}
	evbuffer_free(buf);
}

/* A request as the exchange would hand it over. */
static void
req_init(struct msg *m, const char *method, const char *path,
    enum msg_body body, uint64_t len)
{
	msg_init(m, MSG_REQUEST);
	msg_set_request(m, method, strlen(method), S("https"), S("api.test"),
	    path, strlen(path));
	msg_set_body(m, body, len);
}

static int32_t
request(struct owner *o, const char *method, const char *path,
    enum msg_body body, uint64_t len)
{
	struct msg m;
	int32_t id;

	req_init(&m, method, path, body, len);
	id = h2client_request(o->c, &m);
	msg_free(&m);
	return id;
}

static void
respond(struct server *sv, int32_t id, int status, enum msg_body body,
    uint64_t len)
{
	struct msg m;

	msg_init(&m, MSG_RESPONSE);
	msg_set_status(&m, status, "", 0);
	msg_add(&m, S("Content-Type"), S("application/grpc"));
	if (body == MSG_BODY_NONE)
		msg_add(&m, S("Content-Length"), S("1234"));
	msg_set_body(&m, body, len);
	CHECK(h2codec_respond(sv->h2, id, &m) == 0, "server responds");
	msg_free(&m);
}

static void
srv_write(struct server *sv, int32_t id, const char *s, size_t len)
{
	struct evbuffer *b = evbuffer_new();

	evbuffer_add(b, s, len);
	h2codec_write(sv->h2, id, b, len);
	evbuffer_free(b);
}

static void
srv_end_with(struct server *sv, int32_t id, const char *name,
    const char *value)
{
	struct msg t;

	msg_init(&t, MSG_RESPONSE);
	if (name != NULL)
		msg_add_trailer(&t, name, strlen(name), value, strlen(value));
	h2codec_end(sv->h2, id, &t);
	msg_free(&t);
}

static char *
body_str(struct evbuffer *b)
{
	evbuffer_add(b, "", 1);
	return (char *)evbuffer_pullup(b, -1);
}

static void
test_get(void)
{
	struct owner o;
	struct server sv;
	struct msg m, *r;
	int32_t id;

	own_init(&o, NULL);
	srv_init(&sv, NULL);
	req_init(&m, "GET", "/v1/x?q=1", MSG_BODY_NONE, 0);
	msg_add(&m, S("Accept"), S("*/*"));
	msg_add(&m, S("Connection"), S("keep-alive"));
	msg_add(&m, S("Keep-Alive"), S("5"));
	msg_add(&m, S("Host"), S("api.test"));
	msg_add(&m, S("TE"), S("gzip"));
	msg_add(&m, S("Proxy-Authorization"), S("Basic x"));
	msg_add(&m, S("Transfer-Encoding"), S("chunked"));
	msg_add(&m, S("Content-Length"), S("10"));
	m.trailers_ok = 1;
	id = h2client_request(o.c, &m);
	msg_free(&m);
	CHECK(id == 1 && h2client_streams(o.c) == 1, "get: stream 1 opened");
	CHECK(h2client_stream_set(o.c, id, &o) == 0 &&
	    h2client_stream_get(o.c, id) == &o, "get: owner's pointer");
	pump(&o, &sv);
	r = sv.req[id];
	CHECK(r != NULL && msg_str_eq(r, r->method, S("GET")) &&
	    msg_str_eq(r, r->authority, S("api.test")) &&
	    msg_str_eq(r, r->path, S("/v1/x?q=1")) &&
	    msg_str_eq(r, r->scheme, S("https")), "get: pseudo-fields");
	CHECK(r && r->fields.n == 1 && msg_find(r, S("accept")),
	    "get: no connection-specific field, Host or length");
	CHECK(r && r->trailers_ok && r->body == MSG_BODY_NONE &&
	    sv.ended[id] == 1, "get: te trailers, no body");

	respond(&sv, id, 200, MSG_BODY_UNKNOWN, 0);
	srv_write(&sv, id, S("hello"));
	srv_end_with(&sv, id, "grpc-status", "0");
	pump(&o, &sv);
	r = o.resp[id];
	CHECK(r && r->status == 200 && r->body == MSG_BODY_UNKNOWN &&
	    r->reason.len == 0, "get: response head, body unknown");
	CHECK(r && msg_find(r, S("content-type")) && r->fields.n == 1,
	    "get: fields lowercase");
	CHECK(strcmp(body_str(o.data[id]), "hello") == 0, "get: body");
	CHECK(o.ended[id] == 1 && strcmp(o.trailer[id], "grpc-status: 0") == 0,
	    "get: trailers");
	CHECK(o.closed[id] == 1 && o.code[id] == 0 && sv.closed[id] == 1 &&
	    sv.code[id] == 0, "get: closed cleanly both sides");
	CHECK(h2client_streams(o.c) == 0 && h2client_stream_get(o.c, id) ==
	    NULL, "get: stream gone");
	CHECK(request(&o, "GET", "/2", MSG_BODY_NONE, 0) == 3,
	    "get: next stream 3");
	srv_free(&sv);
	own_free(&o);
}

static void
test_refused_requests(void)
{
	struct owner o;
	struct msg m;

	own_init(&o, NULL);
	CHECK(request(&o, "CONNECT", "/", MSG_BODY_NONE, 0) == -1,
	    "refused: CONNECT");
	req_init(&m, "GET", "/ws", MSG_BODY_NONE, 0);
	m.upgrade = 1;
	CHECK(h2client_request(o.c, &m) == -1, "refused: an upgrade");
	msg_free(&m);
	msg_init(&m, MSG_RESPONSE);
	msg_set_status(&m, 200, "", 0);
	CHECK(h2client_request(o.c, &m) == -1, "refused: not a request");
	msg_free(&m);
	CHECK(h2client_streams(o.c) == 0, "refused: nothing opened");
	own_free(&o);
}

static void
test_post_flow(void)
{
	struct owner o;
	struct server sv;
	struct h2codec_limits slim;
	struct evbuffer *src = evbuffer_new();
	size_t len = 300000, i;
	char *body = malloc(len);
	ssize_t took;
	int32_t a, b;

	for (i = 0; i < len; i++)
		body[i] = 'a' + i % 26;
	h2codec_limits_default(&slim);
	slim.stream_window = 65536;
	own_init(&o, NULL);
	srv_init(&sv, &slim);
	sv.consume = 0;
	a = request(&o, "POST", "/pkg.Svc/Call", MSG_BODY_LENGTH, len);
	evbuffer_add(src, body, len);
	took = h2client_write(o.c, a, src, len);
	CHECK(took == 64 * 1024, "post: a write takes what the buffer holds");
	CHECK(h2client_write(o.c, a, src, len - took) == 0 &&
	    !o.writable[a], "post: nothing more until it drains");
	pump(&o, &sv);
	CHECK(sv.req[a] && sv.req[a]->body == MSG_BODY_LENGTH &&
	    sv.req[a]->length == len, "post: content-length from the fact");
	CHECK(evbuffer_get_length(sv.data[a]) == 65536,
	    "post: the server's window stops it");
	CHECK(o.writable[a] == 1, "post: on_writable once it drained");
	b = request(&o, "GET", "/b", MSG_BODY_NONE, 0);
	pump(&o, &sv);
	respond(&sv, b, 304, MSG_BODY_NONE, 0);
	pump(&o, &sv);
	CHECK(o.resp[b] && o.resp[b]->status == 304 && o.closed[b] &&
	    o.code[b] == 0, "post: another stream flows meanwhile");
	for (i = 0; i < 100 && evbuffer_get_length(sv.data[a]) < len; i++) {
		h2codec_consume(sv.h2, a, 65536);
		if (evbuffer_get_length(src) > 0)
			h2client_write(o.c, a, src, evbuffer_get_length(src));
		else if (!sv.ended[a])
			h2client_end(o.c, a, NULL);
		pump(&o, &sv);
	}
	if (!sv.ended[a]) {
		h2client_end(o.c, a, NULL);
		pump(&o, &sv);
	}
	CHECK(evbuffer_get_length(sv.data[a]) == len &&
	    memcmp(evbuffer_pullup(sv.data[a], -1), body, len) == 0 &&
	    sv.ended[a] == 1, "post: the whole body, in order");
	respond(&sv, a, 200, MSG_BODY_LENGTH, 2);
	srv_write(&sv, a, S("ok"));
	srv_end_with(&sv, a, NULL, NULL);
	pump(&o, &sv);
	CHECK(o.resp[a] && o.resp[a]->body == MSG_BODY_LENGTH &&
	    o.resp[a]->length == 2 && !msg_find(o.resp[a], S("content-length"))
	    && strcmp(body_str(o.data[a]), "ok") == 0 && o.code[a] == 0,
	    "post: response with its length as the body fact");
	evbuffer_free(src);
	srv_free(&sv);
	own_free(&o);
	free(body);
}

static void
test_grpc_trailers(void)
{
	struct owner o;
	struct server sv;
	struct evbuffer *src = evbuffer_new();
	struct msg m, t;
	int32_t id;

	own_init(&o, NULL);
	srv_init(&sv, NULL);
	req_init(&m, "POST", "/pkg.Svc/Stream", MSG_BODY_UNKNOWN, 0);
	msg_add(&m, S("content-type"), S("application/grpc"));
	m.trailers_ok = 1;
	id = h2client_request(o.c, &m);
	msg_free(&m);
	evbuffer_add(src, "\0\0\0\0\2hi", 7);
	h2client_write(o.c, id, src, 7);
	pump(&o, &sv);
	CHECK(sv.req[id] && sv.req[id]->body == MSG_BODY_UNKNOWN &&
	    evbuffer_get_length(sv.data[id]) == 7 && !sv.ended[id],
	    "grpc: a message, the stream still open");
	respond(&sv, id, 200, MSG_BODY_UNKNOWN, 0);
	srv_write(&sv, id, "\0\0\0\0\2ho", 7);
	pump(&o, &sv);
	CHECK(o.resp[id] && evbuffer_get_length(o.data[id]) == 7 &&
	    !o.ended[id], "grpc: both ways at once");
	msg_init(&t, MSG_REQUEST);
	msg_add_trailer(&t, S("x-request-checksum"), S("1"));
	msg_add_trailer(&t, S("content-length"), S("1"));
	CHECK(h2client_end(o.c, id, &t) == 0, "grpc: end with trailers");
	CHECK(h2client_end(o.c, id, &t) == -1, "grpc: end only once");
	msg_free(&t);
	pump(&o, &sv);
	CHECK(sv.ended[id] == 1 &&
	    strcmp(sv.trailer[id], "x-request-checksum: 1") == 0 &&
	    sv.req[id]->trailers.n == 0, "grpc: request trailers arrive");
	srv_end_with(&sv, id, "grpc-status", "7");
	pump(&o, &sv);
	CHECK(o.ended[id] == 1 && strcmp(o.trailer[id], "grpc-status: 7") == 0
	    && o.closed[id] == 1 && o.code[id] == 0,
	    "grpc: grpc-status in the trailers");
	evbuffer_free(src);
	srv_free(&sv);
	own_free(&o);
}

static void
test_interim_and_head(void)
{
	struct owner o;
	struct server sv;
	struct msg m;
	int32_t a, b;

	own_init(&o, NULL);
	srv_init(&sv, NULL);
	a = request(&o, "GET", "/early", MSG_BODY_NONE, 0);
	b = request(&o, "HEAD", "/head", MSG_BODY_NONE, 0);
	pump(&o, &sv);
	msg_init(&m, MSG_RESPONSE);
	msg_set_status(&m, 103, "", 0);
	msg_add(&m, S("link"), S("</s.css>; rel=preload"));
	CHECK(h2codec_respond(sv.h2, a, &m) == 0, "interim: 103 sent");
	msg_free(&m);
	pump(&o, &sv);
	CHECK(o.interim[a] == 1 && o.resp[a] == NULL,
	    "interim: handed over as a head of its own");
	respond(&sv, a, 200, MSG_BODY_LENGTH, 0);
	srv_end_with(&sv, a, NULL, NULL);
	respond(&sv, b, 200, MSG_BODY_NONE, 0);
	pump(&o, &sv);
	CHECK(o.resp[a] && o.resp[a]->status == 200 && o.ended[a] &&
	    o.code[a] == 0, "interim: then the final head");
	CHECK(o.resp[b] && o.resp[b]->body == MSG_BODY_NONE &&
	    msg_find(o.resp[b], S("content-length")) && o.ended[b] == 1,
	    "head: no body, content-length kept as a field");
	srv_free(&sv);
	own_free(&o);
}

static void
test_resets(void)
{
	struct owner o;
	struct server sv;
	int32_t a, b, c;

	own_init(&o, NULL);
	srv_init(&sv, NULL);
	a = request(&o, "POST", "/a", MSG_BODY_UNKNOWN, 0);
	b = request(&o, "GET", "/b", MSG_BODY_NONE, 0);
	c = request(&o, "GET", "/c", MSG_BODY_NONE, 0);
	pump(&o, &sv);
	CHECK(h2client_reset(o.c, a, H2CLIENT_CANCEL) == 0, "reset: ours");
	CHECK(h2client_reset(o.c, a, H2CLIENT_CANCEL) == -1 &&
	    h2client_write(o.c, a, NULL, 0) == -1,
	    "reset: the stream is no longer ours to act on");
	pump(&o, &sv);
	CHECK(o.closed[a] == 1 && o.code[a] == H2CLIENT_CANCEL &&
	    sv.closed[a] == 1 && sv.code[a] == H2CODEC_CANCEL,
	    "reset: both sides see the cancel");
	h2codec_reset(sv.h2, b, H2CODEC_PROTOCOL_ERROR);
	pump(&o, &sv);
	CHECK(o.closed[b] == 1 && o.code[b] == H2CLIENT_PROTOCOL_ERROR &&
	    o.why[b] == NULL && o.resp[b] == NULL,
	    "reset: the server's, with its code, not called malformed");
	/* a response the owner resets as it sees the head gets no data */
	o.reset_on_head = 1;
	respond(&sv, c, 200, MSG_BODY_UNKNOWN, 0);
	srv_write(&sv, c, S("unwanted"));
	pump(&o, &sv);
	CHECK(o.resp[c] && evbuffer_get_length(o.data[c]) == 0 &&
	    o.ended[c] == 0 && o.closed[c] == 1 && o.code[c] ==
	    H2CLIENT_CANCEL, "reset: none of the body after our reset");
	CHECK(h2client_streams(o.c) == 0 && h2client_can_open(o.c),
	    "reset: the connection goes on");
	/* reset before its HEADERS went out: never sent, closed once */
	a = request(&o, "GET", "/never", MSG_BODY_NONE, 0);
	CHECK(h2client_reset(o.c, a, H2CLIENT_CANCEL) == 0,
	    "reset: before the request went out");
	pump(&o, &sv);
	CHECK(o.closed[a] == 1 && o.code[a] == H2CLIENT_CANCEL &&
	    sv.req[a] == NULL && h2client_streams(o.c) == 0,
	    "reset: the server never saw it, the owner heard once");
	srv_free(&sv);
	own_free(&o);
}

/* A server that answers before the upload ended stops it (RFC 9113 8.1). */
static void
test_early_answer(void)
{
	struct owner o;
	struct server sv;
	struct evbuffer *src = evbuffer_new();
	int32_t id;

	own_init(&o, NULL);
	srv_init(&sv, NULL);
	id = request(&o, "POST", "/upload", MSG_BODY_UNKNOWN, 0);
	evbuffer_add(src, "part", 4);
	h2client_write(o.c, id, src, 4);
	pump(&o, &sv);
	respond(&sv, id, 413, MSG_BODY_LENGTH, 0);
	srv_end_with(&sv, id, NULL, NULL);
	pump(&o, &sv);
	CHECK(o.resp[id] && o.resp[id]->status == 413 && o.ended[id] == 1 &&
	    o.closed[id] == 1 && o.code[id] == 0,
	    "early answer: whole, the stream closed without error");
	evbuffer_add(src, "more", 4);
	CHECK(h2client_write(o.c, id, src, 4) == -1,
	    "early answer: the rest of the upload is not taken");
	evbuffer_free(src);
	srv_free(&sv);
	own_free(&o);
}

/* A stream whose owner never reads holds its window, not more. */
static void
test_never_reads(void)
{
	struct owner o;
	struct server sv;
	char *chunk = calloc(1, 65536);
	int32_t a, b;
	int i;

	own_init(&o, NULL);
	srv_init(&sv, NULL);
	o.consume = 0;
	a = request(&o, "GET", "/big", MSG_BODY_NONE, 0);
	b = request(&o, "GET", "/small", MSG_BODY_NONE, 0);
	pump(&o, &sv);
	respond(&sv, a, 200, MSG_BODY_UNKNOWN, 0);
	for (i = 0; i < 32; i++) {
		srv_write(&sv, a, chunk, 65536);
		pump(&o, &sv);
	}
	CHECK(evbuffer_get_length(o.data[a]) == 128 * 1024,
	    "never reads: the stream stops at its window (128 KiB)");
	respond(&sv, b, 200, MSG_BODY_LENGTH, 5);
	srv_write(&sv, b, S("small"));
	srv_end_with(&sv, b, NULL, NULL);
	pump(&o, &sv);
	CHECK(o.ended[b] == 1 && evbuffer_get_length(o.data[b]) == 5,
	    "never reads: another stream completes");
	h2client_consume(o.c, a, evbuffer_get_length(o.data[a]));
	for (i = 0; i < 32; i++) {
		srv_write(&sv, a, chunk, 65536);
		pump(&o, &sv);
	}
	CHECK(evbuffer_get_length(o.data[a]) == 2 * 128 * 1024,
	    "never reads: consume lets a window more come");
	srv_free(&sv);
	own_free(&o);
	free(chunk);
}

/* the nghttp2 server */

static int
ng_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *n,
    size_t nlen, const uint8_t *v, size_t vlen, uint8_t flags, void *arg)
{
	struct ngsrv *g = arg;
	int32_t id = f->hd.stream_id;
	size_t len;

	(void)s;
	if (id >= MAXID)
		return 0;
	if (flags & NGHTTP2_NV_FLAG_NO_INDEX)
		g->never_indexed[id]++;
	len = strlen(g->head[id]);
	snprintf(g->head[id] + len, sizeof(g->head[id]) - len,
	    "%.*s: %.*s\n", (int)nlen, n, (int)vlen, v);
	return 0;
}

static int
ng_frame(nghttp2_session *s, const nghttp2_frame *f, void *arg)
{
	struct ngsrv *g = arg;

	(void)s;
	if (f->hd.type == NGHTTP2_HEADERS &&
	    f->headers.cat == NGHTTP2_HCAT_REQUEST)
		g->nreq++;
	return 0;
}

static int
ng_close(nghttp2_session *s, int32_t id, uint32_t code, void *arg)
{
	struct ngsrv *g = arg;

	(void)s;
	if (id < MAXID) {
		g->closed[id]++;
		g->code[id] = code;
	}
	return 0;
}

static void
ng_init(struct ngsrv *g, uint32_t max_streams)
{
	nghttp2_session_callbacks *cb;
	nghttp2_settings_entry set = {
		NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, max_streams
	};

	memset(g, 0, sizeof(*g));
	nghttp2_session_callbacks_new(&cb);
	nghttp2_session_callbacks_set_on_header_callback(cb, ng_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, ng_frame);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, ng_close);
	nghttp2_session_server_new(&g->s, cb, g);
	nghttp2_session_callbacks_del(cb);
	nghttp2_submit_settings(g->s, NGHTTP2_FLAG_NONE, &set, 1);
}

/* Client frames to the nghttp2 server, its frames (and raw) back. */
static int
ng_pump(struct owner *o, struct ngsrv *g, const void *raw, size_t rawlen)
{
	struct evbuffer *buf = evbuffer_new();
	const uint8_t *p;
	ssize_t n;
	size_t len;
	int moved = 1, rc = 0;

	while (moved) {
		moved = 0;
		h2client_output(o->c, buf, 1 << 20);
		if ((len = evbuffer_get_length(buf)) > 0) {
			moved = 1;
			nghttp2_session_mem_recv(g->s, evbuffer_pullup(buf, len),
			    len);
			evbuffer_drain(buf, len);
		}
		while ((n = nghttp2_session_mem_send(g->s, &p)) > 0)
			evbuffer_add(buf, p, n);
		if (raw != NULL) {
			evbuffer_add(buf, raw, rawlen);
			raw = NULL;
		}
		if (evbuffer_get_length(buf) > 0) {
			moved = 1;
			if (h2client_input(o->c, buf) == -1)
				rc = -1;
		}
	}
	evbuffer_free(buf);
	return rc;
}

static void
ng_respond(struct ngsrv *g, int32_t id, const nghttp2_nv *nv, size_t n)
{
	nghttp2_submit_response(g->s, id, nv, n, NULL);
}

static void
test_concurrency(void)
{
	struct owner o;
	struct ngsrv g;
	nghttp2_nv ok[] = { NV(":status", "200") };
	int32_t id[3];

	own_init(&o, NULL);
	ng_init(&g, 2);
	ng_pump(&o, &g, NULL, 0);
	CHECK(h2client_can_open(o.c), "limit: room at first");
	id[0] = request(&o, "GET", "/1", MSG_BODY_NONE, 0);
	id[1] = request(&o, "GET", "/2", MSG_BODY_NONE, 0);
	CHECK(id[0] == 1 && id[1] == 3 && !h2client_can_open(o.c),
	    "limit: the server's 2 streams taken");
	id[2] = request(&o, "GET", "/3", MSG_BODY_NONE, 0);
	CHECK(id[2] == -1 && h2client_streams(o.c) == 2,
	    "limit: a third is refused, not queued");
	ng_pump(&o, &g, NULL, 0);
	CHECK(g.nreq == 2, "limit: the server saw two");
	ng_respond(&g, id[0], ok, 1);
	ng_pump(&o, &g, NULL, 0);
	CHECK(o.closed[1] == 1 && o.code[1] == 0 && h2client_can_open(o.c),
	    "limit: room again once one closed");
	nghttp2_session_del(g.s);
	own_free(&o);
}

static void
test_goaway(void)
{
	struct owner o;
	struct ngsrv g;
	nghttp2_nv ok[] = { NV(":status", "200") };
	int32_t last;
	uint32_t code;

	own_init(&o, NULL);
	ng_init(&g, 100);
	request(&o, "GET", "/1", MSG_BODY_NONE, 0);
	request(&o, "GET", "/3", MSG_BODY_NONE, 0);
	request(&o, "GET", "/5", MSG_BODY_NONE, 0);
	ng_pump(&o, &g, NULL, 0);
	CHECK(!h2client_goaway_seen(o.c, &last, &code), "goaway: none yet");
	nghttp2_submit_goaway(g.s, NGHTTP2_FLAG_NONE, 1, NGHTTP2_NO_ERROR,
	    NULL, 0);
	ng_pump(&o, &g, NULL, 0);
	CHECK(h2client_goaway_seen(o.c, &last, &code) && last == 1 &&
	    code == 0, "goaway: seen, last stream 1");
	CHECK(o.closed[3] == 1 && o.code[3] == H2CLIENT_REFUSED_STREAM &&
	    o.closed[5] == 1 && o.code[5] == H2CLIENT_REFUSED_STREAM,
	    "goaway: streams above it refused (retryable)");
	CHECK(!o.closed[1] && !h2client_can_open(o.c) &&
	    request(&o, "GET", "/7", MSG_BODY_NONE, 0) == -1,
	    "goaway: stream 1 goes on, no new one");
	ng_respond(&g, 1, ok, 1);
	ng_pump(&o, &g, NULL, 0);
	CHECK(o.resp[1] && o.closed[1] == 1 && o.code[1] == 0,
	    "goaway: stream 1 completes");
	CHECK(h2client_is_done(o.c), "goaway: then the connection is done");
	nghttp2_session_del(g.s);
	own_free(&o);
}

/* A GOAWAY read between h2client_request() and its HEADERS going out. */
static void
test_goaway_race(void)
{
	struct owner o;
	struct ngsrv g;
	struct evbuffer *buf = evbuffer_new();
	const uint8_t *p;
	ssize_t n;
	int32_t id;

	own_init(&o, NULL);
	ng_init(&g, 100);
	ng_pump(&o, &g, NULL, 0);
	id = request(&o, "GET", "/late", MSG_BODY_NONE, 0);
	nghttp2_submit_goaway(g.s, NGHTTP2_FLAG_NONE, 0, NGHTTP2_NO_ERROR,
	    NULL, 0);
	while ((n = nghttp2_session_mem_send(g.s, &p)) > 0)
		evbuffer_add(buf, p, n);
	h2client_input(o.c, buf);
	h2client_output(o.c, buf, 1 << 20);
	CHECK(o.closed[id] == 1 && o.code[id] == H2CLIENT_REFUSED_STREAM &&
	    h2client_streams(o.c) == 0,
	    "goaway race: the unsent request is refused, once");
	evbuffer_free(buf);
	nghttp2_session_del(g.s);
	own_free(&o);
}

static void
test_secrets_not_indexed(void)
{
	struct owner o;
	struct ngsrv g;
	struct msg m;

	own_init(&o, NULL);
	ng_init(&g, 100);
	req_init(&m, "GET", "/", MSG_BODY_NONE, 0);
	msg_add(&m, S("authorization"), S("Bearer sk-1"));
	msg_add(&m, S("accept"), S("*/*"));
	h2client_request(o.c, &m);
	msg_free(&m);
	req_init(&m, "GET", "/", MSG_BODY_NONE, 0);
	msg_add(&m, S("x-api-key"), S("k-2"));
	msg_hold_secret(&m);
	h2client_request(o.c, &m);
	msg_free(&m);
	ng_pump(&o, &g, NULL, 0);
	CHECK(strstr(g.head[1], "authorization: Bearer sk-1\n") &&
	    g.never_indexed[1] == 1, "secrets: authorization never indexed");
	CHECK(strstr(g.head[3], "x-api-key: k-2\n") && g.never_indexed[3] == 1,
	    "secrets: every field of a message holding a credential");
	nghttp2_session_del(g.s);
	own_free(&o);
}

/* A HEADERS frame on stream 1 with a header block coded by hand. */
static size_t
raw_headers(uint8_t *f, const void *block, size_t len, uint8_t flags)
{
	f[0] = 0;
	f[1] = 0;
	f[2] = len;
	f[3] = NGHTTP2_HEADERS;
	f[4] = NGHTTP2_FLAG_END_HEADERS | flags;
	f[5] = f[6] = f[7] = 0;
	f[8] = 1;
	memcpy(f + 9, block, len);
	return 9 + len;
}

/*
 * The server's response to a GET on stream 1: pairs the nghttp2 server
 * session sends as given, or a raw frame.  The stream's fate.
 */
static void
malformed(const nghttp2_nv *nv, size_t n, const void *raw, size_t rawlen,
    uint32_t want, const char *what)
{
	struct owner o;
	struct ngsrv g;
	uint8_t f[256];

	own_init(&o, NULL);
	ng_init(&g, 100);
	request(&o, "GET", "/", MSG_BODY_NONE, 0);
	ng_pump(&o, &g, NULL, 0);
	if (raw != NULL) {
		ng_pump(&o, &g, f, raw_headers(f, raw, rawlen,
		    NGHTTP2_FLAG_END_STREAM));
	} else {
		nghttp2_submit_response(g.s, 1, nv, n, NULL);
		ng_pump(&o, &g, NULL, 0);
	}
	CHECK(o.resp[1] == NULL && o.ended[1] == 0 && o.closed[1] == 1 &&
	    o.code[1] == want && o.why[1] != NULL &&
	    strncmp(o.why[1], "malformed upstream response", 27) == 0, what);
	CHECK(h2client_can_open(o.c), "malformed: a stream error only");
	nghttp2_session_del(g.s);
	own_free(&o);
}

static ssize_t
ng_read_short(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len,
    uint32_t *flags, nghttp2_data_source *src, void *arg)
{
	(void)s;
	(void)id;
	(void)len;
	(void)src;
	(void)arg;
	memcpy(buf, "abc", 3);
	*flags |= NGHTTP2_DATA_FLAG_EOF;
	return 3;
}

/* content-length: 5 and 3 bytes of DATA. */
static void
test_length_mismatch(void)
{
	struct owner o;
	struct ngsrv g;
	nghttp2_nv nv[] = { NV(":status", "200"), NV("content-length", "5") };
	nghttp2_data_provider prd;

	own_init(&o, NULL);
	ng_init(&g, 100);
	request(&o, "GET", "/", MSG_BODY_NONE, 0);
	ng_pump(&o, &g, NULL, 0);
	prd.source.ptr = NULL;
	prd.read_callback = ng_read_short;
	nghttp2_submit_response(g.s, 1, nv, 2, &prd);
	ng_pump(&o, &g, NULL, 0);
	CHECK(o.resp[1] && o.resp[1]->length == 5 && o.ended[1] == 0 &&
	    o.closed[1] == 1 && o.code[1] == H2CLIENT_PROTOCOL_ERROR &&
	    o.why[1] != NULL && strstr(o.why[1], "its DATA") != NULL,
	    "malformed: DATA short of content-length never ends well");
	nghttp2_session_del(g.s);
	own_free(&o);
}

/* A head over max_header_list (decoded: the same field, indexed). */
static void
test_head_too_big(void)
{
	struct owner o;
	struct ngsrv g;
	nghttp2_nv nv[1200];
	int i;

	nv[0] = (nghttp2_nv)NV(":status", "200");
	for (i = 1; i < 1200; i++)
		nv[i] = (nghttp2_nv)NV("x-padding", "0123456789012345678901");
	own_init(&o, NULL);
	ng_init(&g, 100);
	request(&o, "GET", "/", MSG_BODY_NONE, 0);
	ng_pump(&o, &g, NULL, 0);
	nghttp2_submit_response(g.s, 1, nv, 1200, NULL);
	ng_pump(&o, &g, NULL, 0);
	CHECK(o.resp[1] == NULL && o.closed[1] == 1 &&
	    o.code[1] == H2CLIENT_ENHANCE_YOUR_CALM && o.why[1] != NULL &&
	    strstr(o.why[1], "header list limit") != NULL,
	    "too big: a head over 64 KiB decoded is reset");
	nghttp2_session_del(g.s);
	own_free(&o);
}

/* The server breaks the connection: every stream ends, once. */
static void
test_fatal(void)
{
	struct owner o;
	struct ngsrv g;
	static const uint8_t junk[] = "\0\0\4\x08\0\0\0\0\0\0\0\0\0";

	own_init(&o, NULL);
	ng_init(&g, 100);
	request(&o, "GET", "/1", MSG_BODY_NONE, 0);
	request(&o, "GET", "/3", MSG_BODY_NONE, 0);
	ng_pump(&o, &g, NULL, 0);
	ng_pump(&o, &g, junk, sizeof(junk) - 1);
	CHECK(h2client_is_done(o.c),
	    "fatal: a zero WINDOW_UPDATE on the connection ends it");
	CHECK(o.closed[1] == 1 && o.closed[3] == 1 &&
	    o.code[1] == H2CLIENT_PROTOCOL_ERROR && h2client_streams(o.c) == 0,
	    "fatal: the open streams closed");
	CHECK(!h2client_can_open(o.c) && !h2client_want_read(o.c),
	    "fatal: no more streams or reading");
	nghttp2_session_del(g.s);
	own_free(&o);
}

static void
test_malformed(void)
{
	nghttp2_nv conn[] = { NV(":status", "200"), NV("connection", "x") };
	nghttp2_nv nostatus[] = { NV("x-a", "1") };
	nghttp2_nv path[] = { NV(":status", "200"), NV(":path", "/") };
	nghttp2_nv two[] = { NV(":status", "200"), NV(":status", "204") };
	nghttp2_nv badstatus[] = { NV(":status", "2x0") };
	nghttp2_nv te[] = { NV(":status", "200"), NV("te", "gzip") };
	nghttp2_nv sp[] = { NV(":status", "200"), NV("x-a", "a\nb") };
	nghttp2_nv sw[] = { NV(":status", "101") };
	/* :status 200 (static 8), then a literal not indexed, new name */
	static const uint8_t upper[] = "\x88\x00\x04X-Up\x01" "1";
	static const uint8_t after[] = "\x88\x00\x03x-a\x01" "1\x84";

	malformed(conn, 2, NULL, 0, H2CLIENT_PROTOCOL_ERROR,
	    "malformed: a connection-specific field");
	malformed(nostatus, 1, NULL, 0, H2CLIENT_PROTOCOL_ERROR,
	    "malformed: no :status");
	malformed(path, 2, NULL, 0, H2CLIENT_PROTOCOL_ERROR,
	    "malformed: a request pseudo-field");
	malformed(two, 2, NULL, 0, H2CLIENT_PROTOCOL_ERROR,
	    "malformed: two :status");
	malformed(badstatus, 1, NULL, 0, H2CLIENT_PROTOCOL_ERROR,
	    "malformed: :status not three digits");
	malformed(te, 2, NULL, 0, H2CLIENT_PROTOCOL_ERROR,
	    "malformed: te other than trailers");
	malformed(sp, 2, NULL, 0, H2CLIENT_PROTOCOL_ERROR,
	    "malformed: a line break in a value");
	malformed(sw, 1, NULL, 0, H2CLIENT_PROTOCOL_ERROR,
	    "malformed: 101 in HTTP/2");
	malformed(NULL, 0, upper, sizeof(upper) - 1, H2CLIENT_PROTOCOL_ERROR,
	    "malformed: an uppercase name");
	malformed(NULL, 0, after, sizeof(after) - 1, H2CLIENT_PROTOCOL_ERROR,
	    "malformed: a pseudo-field after a field");
}

int
main(void)
{
	test_get();
	test_refused_requests();
	test_post_flow();
	test_grpc_trailers();
	test_interim_and_head();
	test_resets();
	test_early_answer();
	test_never_reads();
	test_concurrency();
	test_goaway();
	test_goaway_race();
	test_secrets_not_indexed();
	test_malformed();
	test_length_mismatch();
	test_head_too_big();
	test_fatal();
	return unit_done();
}
