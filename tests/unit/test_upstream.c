/*
 * test_upstream.c - the idle pool's key (upstream.c): a pooled connection
 * is handed out only for the address, SNI and ALPN protocol it was made
 * with.
 *
 * Each case makes a real TLS connection over a socketpair in one event
 * base, the server picking the ALPN protocol the case asks for (or none),
 * gives the client end to the pool and takes it back with various keys.
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

int
main(void)
{
	ctx_init();
	base = event_base_new();
	TAILQ_INIT(&pool.idle);
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

	event_base_free(base);
	SSL_CTX_free(server_ctx);
	SSL_CTX_free(client_ctx);
	return unit_done();
}
