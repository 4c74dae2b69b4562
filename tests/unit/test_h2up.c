/*
 * test_h2up.c - one shared HTTP/2 upstream connection (h2up.c) over real
 * TLS with ALPN h2, in one event base: the server end is sluice's own
 * server codec (h2codec.c) on a sock.
 *
 * Checked: streams of several owners multiplexed on one connection, each
 * owner hearing only its own; a request body with backpressure; the pool
 * finding a connection with a stream to spare (and not one at the
 * server's limit); detach; the server going away mid-stream; a handshake
 * that did not settle on h2; the idle close; the PING that finds a server
 * gone silent, and keeps a slow stream alive while it answers; the
 * worker's drain.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <openssl/ssl.h>

#include "config.h"
#include "counters.h"
#include "dpenv.h"
#include "h2client.h"
#include "h2codec.h"
#include "h2up.h"
#include "sock.h"
#include "unit.h"
#include "unit_tls.h"
#include "upstream.h"

#define S(lit)		lit, sizeof(lit) - 1

static struct event_base *base;
static SSL_CTX *server_ctx, *client_ctx;
static const char *server_picks;
static struct counters counters;
static struct upstream_pool upool;
static struct h2up_pool pool;
static int draining;
static struct dp_env env;
static struct config cfg = { .upstream_idle_timeout = 30 };

/* The upstream: an h2codec on the server end of the socketpair. */
struct srv {
	struct sock	*s;
	struct h2codec	*h2;
	int		 connected;
	int		 deaf;		/* reads nothing more */
	int		 nreq;
	size_t		 got[64];	/* request body bytes per stream */
	uint32_t	 closed[64];	/* 1 + the code */
};

/* An exchange owning a stream. */
struct ex {
	int		 status;
	struct evbuffer	*body;
	int		 ended;
	char		 trailer[64];
	int		 closed;
	uint32_t	 code;
	int		 writable;
};

static struct srv srv;

static void
srv_flush(void)
{
	if (srv.h2 != NULL)
		h2codec_output(srv.h2, sock_output(srv.s), 1 << 20);
}

/* Answer with the path as the body, and gRPC's trailer. */
static void
srv_answer(int32_t id, const char *path, size_t len)
{
	struct evbuffer *b = evbuffer_new();
	struct msg m;

	msg_init(&m, MSG_RESPONSE);
	msg_set_status(&m, 200, "", 0);
	msg_set_body(&m, MSG_BODY_UNKNOWN, 0);
	msg_add_trailer(&m, S("grpc-status"), S("0"));
	h2codec_respond(srv.h2, id, &m);
	evbuffer_add(b, path, len);
	h2codec_write(srv.h2, id, b, len);
	h2codec_end(srv.h2, id, &m);
	msg_free(&m);
	evbuffer_free(b);
}

static void
srv_request(void *arg, int32_t id, struct msg *req)
{
	char path[64];

	(void)arg;
	srv.nreq++;
	snprintf(path, sizeof(path), "%.*s", (int)req->path.len,
	    msg_ptr(req, req->path));
	/* "/hold" is never answered; a POST at its end */
	if (strcmp(path, "/hold") != 0 &&
	    !msg_str_eq(req, req->method, S("POST")))
		srv_answer(id, path, strlen(path));
	msg_free(req);
	free(req);
}

static void
srv_data(void *arg, int32_t id, const uint8_t *p, size_t len)
{
	(void)arg;
	(void)p;
	srv.got[id] += len;
	h2codec_consume(srv.h2, id, len);
}

static void
srv_end(void *arg, int32_t id, const struct msg *t)
{
	char n[32];

	(void)arg;
	(void)t;
	if (srv.got[id] > 0) {
		snprintf(n, sizeof(n), "%zu", srv.got[id]);
		srv_answer(id, n, strlen(n));
	}
}

static void
srv_close(void *arg, int32_t id, uint32_t code)
{
	(void)arg;
	srv.closed[id] = 1 + code;
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
srv_read(struct sock *s, void *arg)
{
	(void)arg;
	if (srv.deaf) {
		evbuffer_drain(sock_input(s), evbuffer_get_length(
		    sock_input(s)));
		return;
	}
	h2codec_input(srv.h2, sock_input(s));
	srv_flush();
}

static void
srv_event(struct sock *s, short what, void *arg)
{
	(void)s;
	(void)arg;
	if (what & SOCK_EV_CONNECTED)
		srv.connected = 1;
}

static void
srv_stop(void)
{
	h2codec_free(srv.h2);
	srv.h2 = NULL;
	if (srv.s != NULL)
		sock_free(srv.s);
	srv.s = NULL;
}

/* Run the loop until *flag or ms passed; *flag. */
static int
run_until(const int *flag, int ms)
{
	struct timeval tv = { 0, 10 * 1000 };
	int i;

	for (i = 0; i < ms / 10 && (flag == NULL || !*flag); i++) {
		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
	return flag == NULL || *flag;
}

static struct sockaddr_in
address(void)
{
	struct sockaddr_in sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(443);
	return sin;
}

/*
 * A TLS connection whose server picks picks, the server running h2codec
 * with lim; the client end, connected.
 */
static struct sock *
connection(const char *picks, const struct h2codec_limits *lim)
{
	struct sock *c;
	int fds[2];

	memset(&srv, 0, sizeof(srv));
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == -1) {
		perror("socketpair");
		exit(1);
	}
	server_picks = picks;
	c = sock_new_tls(base, fds[0], SSL_new(client_ctx), SOCK_TLS_CONNECT);
	srv.s = sock_new_tls(base, fds[1], SSL_new(server_ctx),
	    SOCK_TLS_ACCEPT);
	srv.h2 = h2codec_new(lim, &srv_cbs, NULL);
	if (c == NULL || srv.s == NULL || srv.h2 == NULL) {
		fprintf(stderr, "cannot make a connection\n");
		exit(1);
	}
	counters_upstream(&counters, 1);	/* as upstream_connect_tls */
	sock_setcb(srv.s, srv_read, NULL, srv_event, NULL);
	srv_flush();
	run_until(&srv.connected, 5000);
	run_until(NULL, 50);	/* the client's CONNECTED too */
	return c;
}

static struct h2up *
h2up(const char *picks, const struct h2codec_limits *lim,
    const struct h2up_times *t)
{
	struct sockaddr_in a = address();
	struct sock *c = connection(picks, lim);
	struct h2up *u;

	u = h2up_new(&env, c, (struct sockaddr *)&a, sizeof(a), "api.test",
	    NULL, t);
	if (u == NULL) {
		upstream_free(&env, c);
		return NULL;
	}
	h2up_pool_add(&pool, u);
	return u;
}

static void
ex_response(void *owner, struct msg *resp)
{
	struct ex *x = owner;

	x->status = resp->status;
	msg_free(resp);
	free(resp);
}

static void
ex_data(void *owner, const uint8_t *p, size_t len)
{
	struct ex *x = owner;

	evbuffer_add(x->body, p, len);
}

static void
ex_end(void *owner, const struct msg *t)
{
	struct ex *x = owner;
	const struct msg_field *f;

	x->ended++;
	if (t != NULL && t->trailers.n > 0) {
		f = &t->trailers.v[0];
		snprintf(x->trailer, sizeof(x->trailer), "%.*s: %.*s",
		    (int)f->name.len, msg_ptr(t, f->name), (int)f->value.len,
		    msg_ptr(t, f->value));
	}
}

static void
ex_close(void *owner, uint32_t code, const char *why)
{
	struct ex *x = owner;

	(void)why;
	x->closed++;
	x->code = code;
}

static void
ex_writable(void *owner)
{
	struct ex *x = owner;

	x->writable++;
}

static const struct h2up_stream_cbs ex_cbs = {
	ex_response, ex_data, ex_end, ex_close, ex_writable,
};

static void
ex_init(struct ex *x)
{
	memset(x, 0, sizeof(*x));
	x->body = evbuffer_new();
}

static int
body_is(struct ex *x, const char *s)
{
	size_t len = evbuffer_get_length(x->body);

	return len == strlen(s) && memcmp(evbuffer_pullup(x->body, -1), s,
	    len) == 0;
}

static int32_t
attach(struct h2up *u, struct ex *x, const char *method, const char *path,
    enum msg_body body)
{
	struct msg m;
	int32_t id;

	msg_init(&m, MSG_REQUEST);
	msg_set_request(&m, method, strlen(method), S("https"), S("api.test"),
	    path, strlen(path));
	msg_set_body(&m, body, 0);
	id = h2up_attach(u, &m, &ex_cbs, x);
	msg_free(&m);
	return id;
}

static void
test_multiplex(void)
{
	struct sockaddr_in a = address();
	struct h2up *u = h2up("h2", NULL, NULL);
	struct ex x, y;

	ex_init(&x);
	ex_init(&y);
	CHECK(u != NULL && pool.n == 1, "multiplex: an h2 connection pooled");
	CHECK(h2up_pool_find(&pool, (struct sockaddr *)&a, sizeof(a),
	    "api.test") == u, "multiplex: found for its address and SNI");
	CHECK(h2up_pool_find(&pool, (struct sockaddr *)&a, sizeof(a),
	    "other.test") == NULL, "multiplex: not for another SNI");
	CHECK(attach(u, &x, "GET", "/one", MSG_BODY_NONE) == 1 &&
	    attach(u, &y, "GET", "/two", MSG_BODY_NONE) == 3 &&
	    h2up_streams(u) == 2, "multiplex: two streams at once");
	run_until(&y.closed, 2000);
	run_until(&x.closed, 2000);
	CHECK(x.status == 200 && body_is(&x, "/one") && x.ended == 1 &&
	    strcmp(x.trailer, "grpc-status: 0") == 0 && x.closed == 1 &&
	    x.code == 0, "multiplex: the first owner got its own response");
	CHECK(y.status == 200 && body_is(&y, "/two") && y.closed == 1 &&
	    y.code == 0, "multiplex: the second its own");
	CHECK(srv.nreq == 2 && h2up_streams(u) == 0 && h2up_can_open(u),
	    "multiplex: one connection, open for more");
	h2up_pool_clear(&pool);
	CHECK(pool.n == 0, "multiplex: cleared");
	srv_stop();
	evbuffer_free(x.body);
	evbuffer_free(y.body);
}

static void
test_post(void)
{
	struct h2up *u = h2up("h2", NULL, NULL);
	struct evbuffer *src = evbuffer_new();
	char *chunk = calloc(1, 300000);
	struct ex x;
	int32_t id;
	int i;

	ex_init(&x);
	evbuffer_add(src, chunk, 300000);
	id = attach(u, &x, "POST", "/up", MSG_BODY_UNKNOWN);
	for (i = 0; i < 200 && evbuffer_get_length(src) > 0; i++) {
		h2up_write(u, id, src, evbuffer_get_length(src));
		run_until(NULL, 10);
	}
	CHECK(evbuffer_get_length(src) == 0 && x.writable > 0,
	    "post: the body went, in bounded writes");
	h2up_end(u, id, NULL);
	run_until(&x.closed, 2000);
	CHECK(x.status == 200 && body_is(&x, "300000") && x.code == 0,
	    "post: the server got all of it");
	h2up_pool_clear(&pool);
	srv_stop();
	evbuffer_free(src);
	evbuffer_free(x.body);
	free(chunk);
}

static void
test_limit_and_detach(void)
{
	struct sockaddr_in a = address();
	struct h2codec_limits lim;
	struct h2up *u;
	struct ex x, y;
	int32_t id;

	h2codec_limits_default(&lim);
	lim.max_streams = 1;
	u = h2up("h2", &lim, NULL);
	ex_init(&x);
	ex_init(&y);
	run_until(NULL, 50);	/* the server's SETTINGS */
	id = attach(u, &x, "GET", "/hold", MSG_BODY_NONE);
	run_until(&srv.nreq, 2000);
	CHECK(!h2up_can_open(u) && h2up_pool_find(&pool,
	    (struct sockaddr *)&a, sizeof(a), "api.test") == NULL &&
	    attach(u, &y, "GET", "/no", MSG_BODY_NONE) == -1,
	    "limit: at the server's 1 stream, not handed out");
	h2up_detach(u, id);
	run_until(NULL, 100);
	CHECK(srv.closed[id] == 1 + H2CODEC_CANCEL && x.closed == 0,
	    "detach: the stream cancelled, the owner hears nothing");
	CHECK(h2up_pool_find(&pool, (struct sockaddr *)&a, sizeof(a),
	    "api.test") == u, "limit: room again");
	h2up_pool_clear(&pool);
	srv_stop();
	evbuffer_free(x.body);
	evbuffer_free(y.body);
}

static void
test_server_gone(void)
{
	struct h2up *u = h2up("h2", NULL, NULL);
	int before = atomic_load(&counters.upstreams);
	struct ex x;

	ex_init(&x);
	attach(u, &x, "GET", "/hold", MSG_BODY_NONE);
	run_until(&srv.nreq, 2000);
	srv_stop();
	run_until(&x.closed, 2000);
	CHECK(x.closed == 1 && x.code == H2CLIENT_INTERNAL_ERROR,
	    "gone: the open stream ends with an error");
	CHECK(pool.n == 0 && atomic_load(&counters.upstreams) == before - 1,
	    "gone: the connection left the pool, closed once");
	evbuffer_free(x.body);
}

static void
test_not_h2(void)
{
	CHECK(h2up("http/1.1", NULL, NULL) == NULL && pool.n == 0,
	    "alpn: a connection that settled on http/1.1 is refused");
	srv_stop();
}

static void
test_idle(void)
{
	struct h2up_times t = { 100, 1000 };
	struct h2up *u = h2up("h2", NULL, &t);
	struct ex x;
	int gone = 0;

	ex_init(&x);
	attach(u, &x, "GET", "/one", MSG_BODY_NONE);
	run_until(&x.closed, 2000);
	CHECK(x.code == 0 && pool.n == 1, "idle: used, kept");
	run_until(NULL, 400);
	gone = pool.n == 0;
	CHECK(gone, "idle: closed after its idle time without streams");
	if (!gone)
		h2up_pool_clear(&pool);
	srv_stop();
	evbuffer_free(x.body);
}

static void
test_ping(void)
{
	struct h2up_times t = { 10000, 100 };
	struct h2up *u = h2up("h2", NULL, &t);
	struct ex x;

	ex_init(&x);
	attach(u, &x, "GET", "/hold", MSG_BODY_NONE);
	run_until(NULL, 600);
	CHECK(x.closed == 0 && pool.n == 1,
	    "ping: a silent stream lives while the server answers PINGs");
	srv.deaf = 1;
	run_until(&x.closed, 2000);
	CHECK(x.closed == 1 && x.code == H2CLIENT_INTERNAL_ERROR &&
	    pool.n == 0, "ping: a server gone deaf is found out");
	srv_stop();
	evbuffer_free(x.body);
}

static void
test_drain(void)
{
	struct sockaddr_in a = address();
	struct h2up *u = h2up("h2", NULL, NULL);
	int before = atomic_load(&counters.upstreams);
	struct ex x;
	int32_t id;

	ex_init(&x);
	id = attach(u, &x, "GET", "/hold", MSG_BODY_NONE);
	run_until(&srv.nreq, 2000);
	h2up_pool_drain(&pool);
	run_until(NULL, 50);
	CHECK(pool.n == 0 && !h2up_can_open(u) && h2up_pool_find(&pool,
	    (struct sockaddr *)&a, sizeof(a), "api.test") == NULL,
	    "drain: out of the pool, no new stream");
	CHECK(x.closed == 0 && atomic_load(&counters.upstreams) == before,
	    "drain: the open stream goes on");
	srv_answer(id, "late", 4);
	srv_flush();
	run_until(&x.closed, 2000);
	run_until(NULL, 50);
	CHECK(x.code == 0 && body_is(&x, "late"),
	    "drain: it completes");
	CHECK(atomic_load(&counters.upstreams) == before - 1,
	    "drain: then the connection closes");
	srv_stop();
	evbuffer_free(x.body);
}

static int woken;

static void
wait_done(struct h2up_wait *w)
{
	(void)w;
	woken++;
}

/* Dials others wait for: found by address and SNI, each waiter woken once. */
static void
test_dials(void)
{
	struct sockaddr_in a = address();
	struct sockaddr *sa = (struct sockaddr *)&a;
	struct h2up_wait w1 = { .done = wait_done }, w2 = { .done = wait_done };
	struct h2up_dial *d;

	d = h2up_pool_dial(&pool, sa, sizeof(a), "api.test");
	CHECK(d != NULL && h2up_pool_dialing(&pool, sa, sizeof(a),
	    "api.test") == d, "dials: found for its address and SNI");
	CHECK(h2up_pool_dialing(&pool, sa, sizeof(a), "other.test") == NULL,
	    "dials: not for another SNI");
	h2up_dial_wait(d, &w1);
	h2up_dial_wait(d, &w2);
	h2up_wait_leave(&w2);
	h2up_dial_end(d, 0);
	CHECK(woken == 1 && w1.dial == NULL && w2.dial == NULL,
	    "dials: the end wakes who still waits, once");
	CHECK(h2up_pool_dialing(&pool, sa, sizeof(a), "api.test") == NULL,
	    "dials: gone once ended");
	d = h2up_pool_dial(&pool, sa, sizeof(a), "api.test");
	h2up_dial_end(d, 1);
	CHECK(h2up_pool_dial(&pool, sa, sizeof(a), "api.test") == NULL &&
	    h2up_pool_dialing(&pool, sa, sizeof(a), "api.test") == NULL &&
	    pool.known_h1 == 1,
	    "dials: an upstream found http/1.1 is not dialed for waiting");
	h2up_pool_clear(&pool);
	CHECK(pool.known_h1 == 0 && TAILQ_EMPTY(&pool.dials),
	    "dials: the pool forgets at the end");
}

int
main(void)
{
	unit_tls_contexts(&server_ctx, &client_ctx);
	if (SSL_CTX_set_alpn_protos(client_ctx,
	    (const unsigned char *)UPSTREAM_ALPN_OFFER_H2,
	    strlen(UPSTREAM_ALPN_OFFER_H2)) != 0) {
		fprintf(stderr, "cannot set the ALPN list\n");
		return 1;
	}
	SSL_CTX_set_alpn_select_cb(server_ctx, unit_tls_alpn_pick,
	    &server_picks);
	base = event_base_new();
	if (upstream_pool_init(&upool, base, 30000) == -1)
		return 1;
	h2up_pool_init(&pool);
	env = (struct dp_env){ .base = base, .cfg = &cfg,
	    .draining = &draining, .counters = &counters, .pool = &upool };

	test_multiplex();
	test_post();
	test_limit_and_detach();
	test_server_gone();
	test_not_h2();
	test_idle();
	test_ping();
	test_drain();
	test_dials();

	upstream_pool_clear(&env);
	upstream_pool_free(&upool);
	event_base_free(base);
	SSL_CTX_free(server_ctx);
	SSL_CTX_free(client_ctx);
	return unit_done();
}
