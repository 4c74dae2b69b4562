/*
 * upstream.h - connections to the real servers: connect, TLS with
 * verification, and a per-worker pool of idle kept-alive connections.
 */
#ifndef SLUICE_UPSTREAM_H
#define SLUICE_UPSTREAM_H

#include <sys/socket.h>

struct bufferevent;
struct worker;

#define UPSTREAM_POOL_MAX	64	/* idle connections per worker */
#define UPSTREAM_IDLE_SECS	30

/*
 * Start a TLS connection to addr, sending sni and verifying the certificate
 * for verify_name.  The bufferevent buffers writes until the handshake has
 * completed and verified, so nothing written to it leaves before then.
 * NULL after logging why.
 */
struct bufferevent *upstream_connect_tls(struct worker *,
    const struct sockaddr *addr, socklen_t len, const char *sni,
    const char *verify_name);

/* A plain TCP connection (for passthrough). */
struct bufferevent *upstream_connect_tcp(struct worker *,
    const struct sockaddr *addr, socklen_t len);

/*
 * Take an idle connection to addr for sni from the pool, or NULL.  The
 * caller sets its own callbacks.
 */
struct bufferevent *upstream_pool_take(struct worker *,
    const struct sockaddr *addr, socklen_t len, const char *sni);

/* Give an idle, verified, reusable connection to the pool (takes it). */
void upstream_pool_put(struct worker *, struct bufferevent *,
    const struct sockaddr *addr, socklen_t len, const char *sni);

/* Free every pooled connection (worker shutdown). */
void upstream_pool_clear(struct worker *);

#endif
