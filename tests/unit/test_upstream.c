/*
 * test_upstream.c - the idle pool (upstream.c): a pooled connection is
 * handed out only for the address, SNI and ALPN protocol it was made with;
 * the newest that fits first; the pool holds UPSTREAM_POOL_MAX, closing the
 * oldest beyond; a connection idle for the pool's time, or one the server
 * writes to, is closed.
 *
 * The key cases make a real TLS connection over a socketpair in one event
 * base, the server picking the ALPN protocol the case asks for (or none),
 * give the client end to the pool and take it back with various keys.  The
 * others pool plain socketpair ends.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "counters.h"
#include "dpenv.h"
#include "sock.h"
#include "unit.h"
#include "unit_tls.h"
#include "upstream.h"

static struct event_base *base;
static SSL_CTX *server_ctx, *client_ctx;
static const char *server_picks;	/* NULL: answer no ALPN */
static int connected[2];

static struct counters counters;
static struct upstream_pool pool;
static int draining;
static struct dp_env env;

static void
on_event(struct sock *s, short what, void *arg)
{
	(void)s;
	if (what & SOCK_EV_CONNECTED)
		connected[*(int *)arg] = 1;
	if (connected[0] && connected[1])
		event_base_loopbreak(base);
}

static void
ctx_init(void)
{
	unit_tls_contexts(&server_ctx, &client_ctx);
	if (SSL_CTX_set_alpn_protos(client_ctx,
	    (const unsigned char *)"\x02h2\x08http/1.1", 12) != 0) {
		fprintf(stderr, "cannot set the ALPN list\n");
		exit(1);
	}
	SSL_CTX_set_alpn_select_cb(server_ctx, unit_tls_alpn_pick,
	    &server_picks);
}

/*
 * A handshaken client sock whose server chose picks; *server is its peer,
 * for the caller to free.
 */
static struct sock *
connection(const char *picks, struct sock **server)
{
	static int ids[2] = { 0, 1 };
	struct timeval guard = { 10, 0 };
	struct sock *c, *s;
	int fds[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == -1) {
		perror("socketpair");
		exit(1);
	}
	server_picks = picks;
	connected[0] = connected[1] = 0;
	c = sock_new_tls(base, fds[0], SSL_new(client_ctx), SOCK_TLS_CONNECT);
	s = sock_new_tls(base, fds[1], SSL_new(server_ctx), SOCK_TLS_ACCEPT);
	if (c == NULL || s == NULL) {
		fprintf(stderr, "sock_new_tls failed\n");
		exit(1);
	}
	sock_setcb(c, NULL, NULL, on_event, &ids[0]);
	sock_setcb(s, NULL, NULL, on_event, &ids[1]);
	event_base_loopexit(base, &guard);
	event_base_dispatch(base);
	if (!connected[0] || !connected[1]) {
		fprintf(stderr, "handshake did not finish\n");
		exit(1);
	}
	*server = s;
	return c;
}

static struct sockaddr_in
address(int port)
{
	struct sockaddr_in sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(port);
	return sin;
}

/* Pool a connection negotiated for picks; take it back for want. */
static int
pooled_for(const char *picks, const char *want, const char *sni, int port)
{
	struct sockaddr_in put = address(443), take = address(port);
	struct sock *server, *c = connection(picks, &server), *got;

	upstream_pool_put(&env, c, (struct sockaddr *)&put, sizeof(put),
	    "api.example");
	got = upstream_pool_take(&env, (struct sockaddr *)&take, sizeof(take),
	    sni, want);
	if (got != NULL)
		upstream_free(&env, got);
	upstream_pool_clear(&env);
	sock_free(server);
	return got == c;
}

/* A plain connected sock; *peer is the other end's fd. */
static struct sock *
plain(int *peer)
{
	int fds[2];
	struct sock *s;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == -1 ||
	    (s = sock_new_plain(base, fds[0])) == NULL) {
		perror("socketpair");
		exit(1);
	}
	*peer = fds[1];
	atomic_fetch_add(&counters.upstreams, 1);
	return s;
}

static void
put_port(struct sock *s, int port)
{
	struct sockaddr_in sin = address(port);

	upstream_pool_put(&env, s, (struct sockaddr *)&sin, sizeof(sin),
	    "api.example");
}

static struct sock *
take_port(int port)
{
	struct sockaddr_in sin = address(port);

	return upstream_pool_take(&env, (struct sockaddr *)&sin, sizeof(sin),
	    "api.example", UPSTREAM_ALPN_HTTP1);
}

static void
run_ms(int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

static void
test_newest_first(void)
{
	int p1, p2;
	struct sock *a = plain(&p1), *b = plain(&p2);

	put_port(a, 443);
	put_port(b, 443);
	CHECK(take_port(443) == b && take_port(443) == a,
	    "the newest idle connection is handed out first");
	upstream_free(&env, a);
	upstream_free(&env, b);
	close(p1);
	close(p2);
}

static void
test_cap(void)
{
	int peers[UPSTREAM_POOL_MAX + 1], i;
	struct sock *s;
	char c;

	for (i = 0; i <= UPSTREAM_POOL_MAX; i++)
		put_port(plain(&peers[i]), 1000 + i);
	CHECK(pool.n == UPSTREAM_POOL_MAX,
	    "the pool holds UPSTREAM_POOL_MAX connections");
	CHECK(read(peers[0], &c, 1) == 0 && take_port(1000) == NULL,
	    "beyond it, the oldest is closed");
	s = take_port(1001);
	CHECK(s != NULL, "the next oldest is kept");
	upstream_free(&env, s);
	upstream_pool_clear(&env);
	for (i = 0; i <= UPSTREAM_POOL_MAX; i++)
		close(peers[i]);
}

static void
test_idle_and_readable(void)
{
	int p1, p2, p3;
	struct sock *s;

	pool.idle_ms = 300;
	put_port(plain(&p1), 1);
	run_ms(150);
	put_port(plain(&p2), 2);
	put_port(plain(&p3), 3);
	CHECK(write(p3, "x", 1) == 1, "the server writes");
	run_ms(50);
	CHECK(take_port(3) == NULL && pool.n == 2,
	    "a connection the server writes to is closed");
	run_ms(200);
	CHECK(pool.n == 1 && take_port(1) == NULL,
	    "a connection idle for the pool's time is closed");
	run_ms(200);
	CHECK(pool.n == 0, "and the next when its time runs out");
	s = take_port(2);
	CHECK(s == NULL, "nothing is left");
	close(p1);
	close(p2);
	close(p3);
}

int
main(void)
{
	ctx_init();
	base = event_base_new();
	if (upstream_pool_init(&pool, base, 30000) == -1)
		return 1;
	env = (struct dp_env){ .base = base, .draining = &draining,
	    .counters = &counters, .pool = &pool };

	CHECK(pooled_for("http/1.1", "http/1.1", "api.example", 443),
	    "an http/1.1 connection is reused for http/1.1");
	CHECK(!pooled_for("h2", "http/1.1", "api.example", 443),
	    "an h2 connection is not handed out for http/1.1");
	CHECK(pooled_for("h2", "h2", "api.example", 443),
	    "an h2 connection is handed out for h2");
	CHECK(!pooled_for("http/1.1", "h2", "api.example", 443),
	    "an http/1.1 connection is not handed out for h2");
	CHECK(pooled_for(NULL, UPSTREAM_ALPN_HTTP1, "api.example", 443),
	    "a server that answered no ALPN counts as http/1.1");
	CHECK(!pooled_for("http/1.1", "http/1.1", "other.example", 443),
	    "not for another SNI");
	CHECK(!pooled_for("http/1.1", "http/1.1", "api.example", 8443),
	    "not for another address");
	/* None was opened by upstream_connect_*(); each closed once. */
	CHECK(pool.n == 0 && atomic_load(&counters.upstreams) == -7,
	    "the pool is empty and each connection was closed once");

	atomic_store(&counters.upstreams, 0);
	test_newest_first();
	test_cap();
	test_idle_and_readable();
	CHECK(atomic_load(&counters.upstreams) == 0,
	    "every plain connection was closed once");

	upstream_pool_free(&pool);

	event_base_free(base);
	SSL_CTX_free(server_ctx);
	SSL_CTX_free(client_ctx);
	return unit_done();
}
