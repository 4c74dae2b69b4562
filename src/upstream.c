/*
 * upstream.c - connections towards the real servers.
 *
 * A TLS upstream is a sock in its TCP connect, then its TLS handshake: the
 * sock holds anything written to it until the handshake has finished, and the
 * handshake only finishes if OpenSSL verified the chain and the name
 * (tls_upstream_ssl_new), so no request byte - and so no secret - ever
 * reaches a server that failed verification.
 *
 * The pool keeps up to UPSTREAM_POOL_MAX idle connections per worker, keyed
 * by address, SNI (the SNI also fixes the name that was verified) and the
 * protocol ALPN settled on: a connection that negotiated h2 can carry no
 * HTTP/1.1 exchange, nor the reverse.  An idle connection that becomes
 * readable or closes is dropped: a server may not send anything
 * unsolicited on an idle HTTP/1.1 connection.
 *
 * The idle list is in the order connections were put: take() hands out the
 * newest that fits, so the oldest are those no burst needed lately, and they
 * are retired once idle for --upstream-idle-timeout by one timer set for the
 * oldest.  The cap is above any concurrency one worker usually carries to
 * one upstream: a burst of answers must not close what the next burst would
 * dial again (a full TLS handshake each).  Entries come from an array made
 * at start, so putting a connection allocates nothing.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "config.h"
#include "counters.h"
#include "dpenv.h"
#include "log.h"
#include "netmark.h"
#include "sock.h"
#include "tls.h"
#include "upstream.h"
#include "util.h"

struct upstream_idle {
	TAILQ_ENTRY(upstream_idle) entry;	/* in idle or spare */
	const struct dp_env	*env;
	struct sock		*sock;
	double			 since_ms;	/* util_mono_ms() when put */
	struct sockaddr_storage	 addr;
	socklen_t		 len;
	size_t			 sni_len;
	char			 sni[CONFIG_HOST_MAX];
	char			 alpn[UPSTREAM_ALPN_MAX];	/* negotiated */
};

/*
 * NETMARK_UPSTREAM on every socket towards a server, so that the gateway's
 * own rules (tools/sluice-netfilter) never divert sluice back to itself.
 * Without CAP_NET_ADMIN this fails: said once, since the rules can also
 * exclude sluice's user instead, and sluice works without the mark when
 * nothing would divert its traffic anyway.
 */
static void
upstream_mark(int fd)
{
	static atomic_flag warned = ATOMIC_FLAG_INIT;
	int mark = NETMARK_UPSTREAM;

	if (setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) == -1 &&
	    !atomic_flag_test_and_set(&warned))
		log_warn("upstream: cannot set SO_MARK 0x%x (needs "
		    "CAP_NET_ADMIN); netfilter rules cannot tell sluice's own "
		    "connections apart", NETMARK_UPSTREAM);
}

/*
 * A non-blocking socket for addr with TCP_NODELAY: heads and small bodies
 * must not wait for the peer's delayed ACK.
 */
static int
upstream_socket(const struct sockaddr *addr)
{
	int fd, on = 1;

	fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1) {
		log_event(LOG_WARN, "upstream_socket_failed", "err=%s",
		    strerror(errno));
		return -1;
	}
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) == -1)
		log_event(LOG_WARN, "upstream_nodelay_failed", "err=%s",
		    strerror(errno));
	upstream_mark(fd);
	return fd;
}

/* Connect s, made on fd, to addr; s on success, NULL after freeing both. */
static struct sock *
upstream_start(const struct dp_env *env, struct sock *s, int fd,
    const struct sockaddr *addr, socklen_t len)
{
	if (s == NULL) {
		log_event(LOG_WARN, "upstream_sock_failed", "err=%s",
		    strerror(errno));
		close(fd);
		return NULL;
	}
	if (sock_connect(s, addr, len) == -1) {
		sock_free(s);
		return NULL;
	}
	counters_upstream(env->counters, 1);
	return s;
}

struct sock *
upstream_connect_tls(const struct dp_env *env, const struct sockaddr *addr,
    socklen_t len, const char *sni, const char *verify_name)
{
	return upstream_connect_tls_alpn(env, addr, len, sni, verify_name,
	    NULL);
}

struct sock *
upstream_connect_tls_alpn(const struct dp_env *env,
    const struct sockaddr *addr, socklen_t len, const char *sni,
    const char *verify_name, const char *alpn)
{
	struct sock *s;
	SSL *ssl;
	int fd;

	ssl = tls_upstream_ssl_new(env->upstream_ctx, sni, verify_name);
	if (ssl == NULL)
		return NULL;
	if (alpn != NULL && SSL_set_alpn_protos(ssl,
	    (const unsigned char *)alpn, strlen(alpn)) != 0) {
		SSL_free(ssl);
		return NULL;
	}
	if ((fd = upstream_socket(addr)) == -1) {
		SSL_free(ssl);
		return NULL;
	}
	if ((s = sock_new_tls(env->base, fd, ssl, SOCK_TLS_CONNECT)) == NULL)
		SSL_free(ssl);
	else
		sock_set_wipe(s);	/* requests carry injected credentials */
	return upstream_start(env, s, fd, addr, len);
}

/*
 * Why a TCP connect failed: a sock that never got a peer failed in TCP,
 * and the connect's error (SO_ERROR, kept by the sock) says why.
 */
const char *
upstream_connect_error(struct sock *s)
{
	struct sockaddr_storage peer;
	socklen_t len = sizeof(peer);

	if (sock_is_connected(s) || getpeername(sock_fd(s),
	    (struct sockaddr *)&peer, &len) == 0 || errno != ENOTCONN)
		return NULL;
	return sock_errno(s) != 0 ? strerror(sock_errno(s)) :
	    "connection failed";
}

enum upstream_close
upstream_close_kind(struct sock *s)
{
	switch (sock_close_kind(s)) {
	case SOCK_CLOSE_NOTIFY:
		return UPSTREAM_CLOSE_CLEAN;
	case SOCK_CLOSE_RESET:
		return UPSTREAM_CLOSE_RESET;
	default:
		return UPSTREAM_CLOSE_DIRTY;
	}
}

struct sock *
upstream_connect_tcp(const struct dp_env *env, const struct sockaddr *addr,
    socklen_t len)
{
	int fd;

	if ((fd = upstream_socket(addr)) == -1)
		return NULL;
	return upstream_start(env, sock_new_plain(env->base, fd), fd, addr, len);
}

void
upstream_free(const struct dp_env *env, struct sock *s)
{
	if (s == NULL)
		return;
	sock_free(s);
	counters_upstream(env->counters, -1);
}

void
upstream_close_fd(const struct dp_env *env, int fd)
{
	if (fd == -1)
		return;
	close(fd);
	counters_upstream(env->counters, -1);
}

static int
upstream_same(const struct upstream_idle *u, const struct sockaddr *addr,
    socklen_t len, const char *sni, size_t sni_len, const char *alpn)
{
	return u->len == len && u->sni_len == sni_len &&
	    memcmp(&u->addr, addr, len) == 0 &&
	    memcmp(u->sni, sni, sni_len) == 0 && strcmp(u->alpn, alpn) == 0;
}

/*
 * The protocol the handshake settled on; a server that answered no ALPN
 * speaks HTTP/1.1 (RFC 7301, 3.2: the client's default).
 */
static void
upstream_alpn(const struct sock *s, char *buf, size_t size)
{
	const unsigned char *p = NULL;
	unsigned int n = 0;

	if (sock_ssl(s) != NULL)
		SSL_get0_alpn_selected(sock_ssl(s), &p, &n);
	if (n == 0)
		snprintf(buf, size, "%s", UPSTREAM_ALPN_HTTP1);
	else
		snprintf(buf, size, "%.*s", (int)n, (const char *)p);
}

/* Once per request: read the selected protocol in place, no copy. */
const char *
upstream_proto(const struct sock *s)
{
	const unsigned char *p = NULL;
	unsigned int n = 0;

	if (s == NULL || !sock_is_connected(s))
		return NULL;
	if (sock_ssl(s) != NULL)
		SSL_get0_alpn_selected(sock_ssl(s), &p, &n);
	return n == 2 && memcmp(p, "h2", 2) == 0 ? "h2" : UPSTREAM_ALPN_HTTP1;
}

/* The entry's slot goes back to the spares; its sock is the caller's. */
static struct sock *
upstream_idle_unlink(struct upstream_idle *u)
{
	struct upstream_pool *p = u->env->pool;

	TAILQ_REMOVE(&p->idle, u, entry);
	TAILQ_INSERT_HEAD(&p->spare, u, entry);
	p->n--;
	return u->sock;
}

static void
upstream_idle_free(struct upstream_idle *u)
{
	const struct dp_env *env = u->env;

	upstream_free(env, upstream_idle_unlink(u));
}

/* Anything on an idle connection (data, close) retires it. */
static void
upstream_idle_read(struct sock *s, void *arg)
{
	(void)s;
	upstream_idle_free(arg);
}

static void
upstream_idle_event(struct sock *s, short what, void *arg)
{
	(void)s;
	(void)what;
	upstream_idle_free(arg);
}

/* The timer is set for when the oldest entry's idle time runs out. */
static void
upstream_pool_arm(struct upstream_pool *p, double now_ms)
{
	struct upstream_idle *u = TAILQ_FIRST(&p->idle);
	double ms;
	struct timeval tv;

	if (u == NULL)
		return;
	ms = u->since_ms + p->idle_ms - now_ms;
	if (ms < 0)
		ms = 0;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)((ms - tv.tv_sec * 1000.0) * 1000);
	evtimer_add(p->sweep, &tv);
}

static void
upstream_pool_sweep(evutil_socket_t fd, short what, void *arg)
{
	struct upstream_pool *p = arg;
	struct upstream_idle *u;
	double now = util_mono_ms();

	(void)fd;
	(void)what;
	while ((u = TAILQ_FIRST(&p->idle)) != NULL &&
	    now - u->since_ms >= p->idle_ms)
		upstream_idle_free(u);
	upstream_pool_arm(p, now);
}

int
upstream_pool_init(struct upstream_pool *p, struct event_base *base,
    double idle_ms)
{
	int i;

	TAILQ_INIT(&p->idle);
	TAILQ_INIT(&p->spare);
	p->n = 0;
	p->idle_ms = idle_ms;
	p->slots = calloc(UPSTREAM_POOL_MAX, sizeof(*p->slots));
	p->sweep = evtimer_new(base, upstream_pool_sweep, p);
	if (p->slots == NULL || p->sweep == NULL)
		return -1;
	for (i = 0; i < UPSTREAM_POOL_MAX; i++)
		TAILQ_INSERT_TAIL(&p->spare, &p->slots[i], entry);
	return 0;
}

struct sock *
upstream_pool_take(const struct dp_env *env, const struct sockaddr *addr,
    socklen_t len, const char *sni, const char *alpn)
{
	struct upstream_idle *u;
	struct sock *s;
	size_t sni_len = strlen(sni);

	TAILQ_FOREACH_REVERSE(u, &env->pool->idle, upstream_idle_list,
	    entry) {
		if (!upstream_same(u, addr, len, sni, sni_len, alpn))
			continue;
		s = upstream_idle_unlink(u);
		sock_setcb(s, NULL, NULL, NULL, NULL);
		return s;
	}
	return NULL;
}

void
upstream_pool_put(const struct dp_env *env, struct sock *s,
    const struct sockaddr *addr, socklen_t len, const char *sni)
{
	struct upstream_pool *p = env->pool;
	struct upstream_idle *u;
	size_t sni_len = strlen(sni);

	if (*env->draining || evbuffer_get_length(sock_input(s)) != 0 ||
	    sni_len >= sizeof(u->sni) || len > sizeof(u->addr)) {
		upstream_free(env, s);
		return;
	}
	if (TAILQ_EMPTY(&p->spare))
		upstream_idle_free(TAILQ_FIRST(&p->idle));
	u = TAILQ_FIRST(&p->spare);
	TAILQ_REMOVE(&p->spare, u, entry);
	u->env = env;
	u->sock = s;
	u->since_ms = util_mono_ms();
	memcpy(&u->addr, addr, len);
	u->len = len;
	memcpy(u->sni, sni, sni_len + 1);
	u->sni_len = sni_len;
	upstream_alpn(s, u->alpn, sizeof(u->alpn));
	TAILQ_INSERT_TAIL(&p->idle, u, entry);
	p->n++;
	sock_setcb(s, upstream_idle_read, NULL, upstream_idle_event, u);
	sock_set_read(s, 1);
	if (!evtimer_pending(p->sweep, NULL))
		upstream_pool_arm(p, u->since_ms);
}

void
upstream_pool_clear(const struct dp_env *env)
{
	while (!TAILQ_EMPTY(&env->pool->idle))
		upstream_idle_free(TAILQ_FIRST(&env->pool->idle));
	if (env->pool->sweep != NULL)
		evtimer_del(env->pool->sweep);
}

void
upstream_pool_free(struct upstream_pool *p)
{
	if (p->sweep != NULL)
		event_free(p->sweep);
	free(p->slots);
}
