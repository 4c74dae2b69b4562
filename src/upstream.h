/*
 * upstream.h - connections to the real servers: connect, TLS with
 * verification, and a per-worker pool of idle kept-alive connections.
 */
#ifndef SLUICE_UPSTREAM_H
#define SLUICE_UPSTREAM_H

#include <sys/queue.h>
#include <sys/socket.h>

struct dp_env;
struct event;
struct event_base;
struct sock;
struct upstream_idle;

/* A worker's idle upstream connections, oldest first. */
struct upstream_pool {
	TAILQ_HEAD(upstream_idle_list, upstream_idle) idle;
	TAILQ_HEAD(, upstream_idle) spare;	/* unused entries */
	struct upstream_idle	*slots;		/* UPSTREAM_POOL_MAX entries */
	struct event		*sweep;		/* retires the oldest */
	double			 idle_ms;	/* --upstream-idle-timeout */
	int			 n;
};

/*
 * Idle connections per worker: above the requests one worker usually has
 * in flight to one upstream (an HTTP/1.1 connection carries one), and
 * bounded, since each holds a socket and its TLS state.
 */
#define UPSTREAM_POOL_MAX	256
#define UPSTREAM_ALPN_MAX	32	/* a protocol id, as negotiated */
#define UPSTREAM_ALPN_HTTP1	"http/1.1"

/*
 * Start a TLS connection to addr, sending sni and verifying the certificate
 * for verify_name.  The sock holds writes until the handshake has
 * completed and verified, so nothing written to it leaves before then.
 * NULL after logging why.
 */
struct sock *upstream_connect_tls(const struct dp_env *,
    const struct sockaddr *addr, socklen_t len, const char *sni,
    const char *verify_name);

/*
 * The same, offering the ALPN protocols alpn (wire format, e.g.
 * UPSTREAM_ALPN_OFFER_H2) instead of the context's http/1.1 only; NULL:
 * as upstream_connect_tls().
 */
#define UPSTREAM_ALPN_OFFER_H2	"\x02h2\x08http/1.1"
#define UPSTREAM_ALPN_H2	"h2"
struct sock *upstream_connect_tls_alpn(const struct dp_env *,
    const struct sockaddr *addr, socklen_t len, const char *sni,
    const char *verify_name, const char *alpn);

/*
 * How an upstream connection ended: with close_notify (a response delimited
 * by the close is whole), with a FIN but no close_notify, or with a reset
 * (both may have cut the response short).
 */
enum upstream_close {
	UPSTREAM_CLOSE_CLEAN,
	UPSTREAM_CLOSE_DIRTY,
	UPSTREAM_CLOSE_RESET,
};

enum upstream_close upstream_close_kind(struct sock *);

/*
 * Why a TCP connect failed ("Connection refused"...), or NULL if the TCP
 * connection was made (the failure came later, in TLS).
 */
const char *upstream_connect_error(struct sock *);

/* A plain TCP connection (for passthrough). */
struct sock *upstream_connect_tcp(const struct dp_env *,
    const struct sockaddr *addr, socklen_t len);

/*
 * Close a connection made by upstream_connect_tls() or _tcp() (NULL: a
 * no-op); every one ends here, so that /metrics counts those open.
 */
void upstream_free(const struct dp_env *, struct sock *);

/*
 * Close the fd of a plain connection whose sock gave it away
 * (sock_release()): it counted as open in /metrics until now.  -1: a no-op.
 */
void upstream_close_fd(const struct dp_env *, int fd);

/*
 * Take an idle connection to addr for sni that negotiated alpn (a server
 * that answered no ALPN counts as UPSTREAM_ALPN_HTTP1) from the pool, or
 * NULL.  The caller sets its own callbacks.
 */
struct sock *upstream_pool_take(const struct dp_env *,
    const struct sockaddr *addr, socklen_t len, const char *sni,
    const char *alpn);

/*
 * Give an idle, verified, reusable connection to the pool (takes it); it
 * is kept under the ALPN protocol its handshake settled on.
 */
void upstream_pool_put(const struct dp_env *, struct sock *,
    const struct sockaddr *addr, socklen_t len, const char *sni);

/*
 * The protocol a connection's handshake settled on, for the audit row:
 * "h2" or UPSTREAM_ALPN_HTTP1 (a static string); NULL before the
 * handshake finished.
 */
const char *upstream_proto(const struct sock *);

/*
 * An empty pool for a worker's base, closing connections idle for idle_ms;
 * -1 without memory.
 */
int upstream_pool_init(struct upstream_pool *, struct event_base *,
    double idle_ms);

/* Free every pooled connection (worker shutdown). */
void upstream_pool_clear(const struct dp_env *);

/* Free what init made (after clear, with the base still alive). */
void upstream_pool_free(struct upstream_pool *);

#endif
