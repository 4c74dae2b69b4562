/*
 * upstream.c - connections towards the real servers.
 *
 * A TLS upstream is a bufferevent_openssl in the CONNECTING state: libevent
 * holds anything written to it until the handshake has finished, and the
 * handshake only finishes if OpenSSL verified the chain and the name
 * (tls_upstream_ssl_new), so no request byte - and so no secret - ever
 * reaches a server that failed verification.
 *
 * The pool keeps up to UPSTREAM_POOL_MAX idle connections per worker, keyed
 * by address and SNI (the SNI also fixes the name that was verified).  An
 * idle connection that becomes readable or closes is dropped: a server may
 * not send anything unsolicited on an idle HTTP/1.1 connection.
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
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "log.h"
#include "netmark.h"
#include "tls.h"
#include "upstream.h"
#include "util.h"
#include "worker.h"

struct upstream_idle {
	TAILQ_ENTRY(upstream_idle) entry;
	struct worker		*w;
	struct bufferevent	*bev;
	struct sockaddr_storage	 addr;
	socklen_t		 len;
	char			 sni[CONFIG_HOST_MAX];
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

struct bufferevent *
upstream_connect_tls(struct worker *w, const struct sockaddr *addr,
    socklen_t len, const char *sni, const char *verify_name)
{
	struct bufferevent *bev;
	SSL *ssl;

	int fd;

	ssl = tls_upstream_ssl_new(w->sl->upstream_ctx, sni, verify_name);
	if (ssl == NULL)
		return NULL;
	if ((fd = upstream_socket(addr)) == -1) {
		SSL_free(ssl);
		return NULL;
	}
	bev = bufferevent_openssl_socket_new(w->base, fd, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		close(fd);
		SSL_free(ssl);
		log_event(LOG_WARN, "upstream_bufferevent_failed", "sni=%s",
		    sni);
		return NULL;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	if (bufferevent_socket_connect(bev, addr, len) == -1) {
		bufferevent_free(bev);
		return NULL;
	}
	worker_count_upstream(w, 1);
	return bev;
}

/*
 * libevent reports a refused connect on a bufferevent_openssl as a failed
 * (or dirtily closed) handshake, so ask the socket: a connection that never
 * got a peer failed in TCP, and err (errno in the callback: the failed
 * write consumed SO_ERROR) or SO_ERROR says why.
 */
const char *
upstream_connect_error(struct bufferevent *bev, int err)
{
	struct sockaddr_storage peer;
	socklen_t len = sizeof(peer), elen = sizeof(int);
	evutil_socket_t fd = bufferevent_getfd(bev);
	int soerr = 0;

	if (fd < 0 || getpeername(fd, (struct sockaddr *)&peer, &len) == 0 ||
	    errno != ENOTCONN)
		return NULL;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &elen) == 0 &&
	    soerr != 0)
		err = soerr;
	return err != 0 ? evutil_socket_error_to_string(err) :
	    "connection failed";
}

/*
 * bufferevent_openssl reports a FIN without close_notify and a reset as
 * EOF (allow_dirty_shutdown) or as an error.  OpenSSL knows whether a
 * close_notify came, and names a bare FIN (unexpected eof); a reset is
 * ECONNRESET from the read.  The kernel's TCP state cannot tell: OpenSSL
 * answers a bare FIN with an alert, which the peer answers with a reset.
 */
enum upstream_close
upstream_close_kind(struct bufferevent *bev, int err)
{
	SSL *ssl = bufferevent_openssl_get_ssl(bev);
	unsigned long e;
	int bare_fin = 0;

	if (ssl != NULL && (SSL_get_shutdown(ssl) & SSL_RECEIVED_SHUTDOWN))
		return UPSTREAM_CLOSE_CLEAN;
	while ((e = bufferevent_get_openssl_error(bev)) != 0)
		if (ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
			bare_fin = 1;
	if (!bare_fin && (err == ECONNRESET || err == EPIPE))
		return UPSTREAM_CLOSE_RESET;
	return UPSTREAM_CLOSE_DIRTY;
}

struct bufferevent *
upstream_connect_tcp(struct worker *w, const struct sockaddr *addr,
    socklen_t len)
{
	struct bufferevent *bev;
	int fd;

	if ((fd = upstream_socket(addr)) == -1)
		return NULL;
	bev = bufferevent_socket_new(w->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		close(fd);
		return NULL;
	}
	if (bufferevent_socket_connect(bev, addr, len) == -1) {
		bufferevent_free(bev);
		return NULL;
	}
	worker_count_upstream(w, 1);
	return bev;
}

void
upstream_free(struct worker *w, struct bufferevent *bev)
{
	if (bev == NULL)
		return;
	bufferevent_free(bev);
	worker_count_upstream(w, -1);
}

static int
upstream_same(const struct upstream_idle *u, const struct sockaddr *addr,
    socklen_t len, const char *sni)
{
	return u->len == len && memcmp(&u->addr, addr, len) == 0 &&
	    strcmp(u->sni, sni) == 0;
}

static void
upstream_idle_free(struct upstream_idle *u)
{
	TAILQ_REMOVE(&u->w->idle, u, entry);
	u->w->nidle--;
	upstream_free(u->w, u->bev);
	free(u);
}

/* Anything on an idle connection (data, close, timeout) retires it. */
static void
upstream_idle_read(struct bufferevent *bev, void *arg)
{
	upstream_idle_free(arg);
}

static void
upstream_idle_event(struct bufferevent *bev, short what, void *arg)
{
	upstream_idle_free(arg);
}

struct bufferevent *
upstream_pool_take(struct worker *w, const struct sockaddr *addr,
    socklen_t len, const char *sni)
{
	struct upstream_idle *u;
	struct bufferevent *bev;

	TAILQ_FOREACH(u, &w->idle, entry) {
		if (!upstream_same(u, addr, len, sni))
			continue;
		bev = u->bev;
		TAILQ_REMOVE(&w->idle, u, entry);
		w->nidle--;
		free(u);
		bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
		bufferevent_set_timeouts(bev, NULL, NULL);
		return bev;
	}
	return NULL;
}

void
upstream_pool_put(struct worker *w, struct bufferevent *bev,
    const struct sockaddr *addr, socklen_t len, const char *sni)
{
	struct timeval idle = { UPSTREAM_IDLE_SECS, 0 };
	struct upstream_idle *u;

	if (w->draining ||
	    evbuffer_get_length(bufferevent_get_input(bev)) != 0 ||
	    (u = calloc(1, sizeof(*u))) == NULL) {
		upstream_free(w, bev);
		return;
	}
	if (w->nidle >= UPSTREAM_POOL_MAX)
		upstream_idle_free(TAILQ_FIRST(&w->idle));
	u->w = w;
	u->bev = bev;
	memcpy(&u->addr, addr, len);
	u->len = len;
	snprintf(u->sni, sizeof(u->sni), "%s", sni);
	TAILQ_INSERT_TAIL(&w->idle, u, entry);
	w->nidle++;
	bufferevent_setcb(bev, upstream_idle_read, NULL, upstream_idle_event,
	    u);
	bufferevent_set_timeouts(bev, &idle, NULL);
	bufferevent_enable(bev, EV_READ);
}

void
upstream_pool_clear(struct worker *w)
{
	while (!TAILQ_EMPTY(&w->idle))
		upstream_idle_free(TAILQ_FIRST(&w->idle));
}
