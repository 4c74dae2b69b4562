/*
 * h2up.h - one HTTP/2 upstream connection shared by many exchanges: a
 * sock (TLS, ALPN h2) and an h2client session, multiplexing the streams
 * of any client connection of the worker within the server's
 * SETTINGS_MAX_CONCURRENT_STREAMS.
 *
 * An exchange attaches a request (h2up_attach) and gets a stream id; its
 * callbacks then come with its own pointer (owner), never another
 * exchange's.  It writes the body, ends it, credits what it forwarded,
 * and detaches when it goes away before the stream ended.  The
 * connection lives on its own: it pings a server that went silent while
 * streams are open, closes itself after an idle time without streams, on
 * the server's GOAWAY once its streams are done, on EOF or error, and
 * frees itself (and leaves its pool) when it ends.
 *
 * Owner callbacks run from the event loop, never from inside an h2up_*
 * call but h2up_free() and h2up_pool_clear() (their on_close); they may
 * call any h2up_* function.
 */
#ifndef SLUICE_H2UP_H
#define SLUICE_H2UP_H

#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include "msg.h"

struct config;
struct dp_env;
struct evbuffer;
struct h2client_limits;
struct h2up;
struct sock;
struct ssl_st;

/* What a stream's owner hears: as h2client_cbs, with its own pointer. */
struct h2up_stream_cbs {
	/* A response head (1xx: interim); the owner takes resp. */
	void	(*on_response)(void *owner, struct msg *resp);
	/* Body bytes: h2up_consume() once they went on. */
	void	(*on_data)(void *owner, const uint8_t *p, size_t len);
	/* The response ended, with trailers (valid during the call) or NULL. */
	void	(*on_end)(void *owner, const struct msg *t);
	/*
	 * The stream is gone (the last callback): 0 once the response
	 * ended, else the reset's code.  H2CLIENT_REFUSED_STREAM: the server
	 * never processed the request (GOAWAY, refused, the connection ended
	 * before it was sent): the owner may send it again elsewhere.  why:
	 * what was wrong with the response, as h2client_cbs says, or NULL.
	 */
	void	(*on_close)(void *owner, uint32_t code, const char *why);
	/* The request buffer has room again after a short h2up_write(). */
	void	(*on_writable)(void *owner);
};

struct h2up_times {
	unsigned	 idle_ms;	/* without streams: GOAWAY and close */
	unsigned	 ping_ms;	/* silent this long with streams: PING;
					   no answer as long again: dead */
};

/* --upstream-idle-timeout idle, a PING after 15 s of silence. */
void h2up_times_default(struct h2up_times *, const struct config *);

/*
 * A dial offering h2 to an upstream (address, SNI) whose protocol is not
 * known yet.  Exchanges that want the same upstream wait for it rather
 * than dial too; once it settles (h2: its connection is pooled before;
 * http/1.1; failed) each waiter's done runs, once, and the waiter is off
 * the dial.
 */
struct h2up_dial;
struct h2up_wait {
	TAILQ_ENTRY(h2up_wait) link;
	struct h2up_dial *dial;		/* NULL: not waiting */
	void	(*done)(struct h2up_wait *);
};

/* A worker's shared HTTP/2 upstream connections, and dials in progress. */
struct h2up_pool {
	TAILQ_HEAD(, h2up) conns;
	int		 n;
	TAILQ_HEAD(, h2up_dial) dials;	/* and upstreams known to be h1 */
	int		 known_h1;
};

/*
 * Take s (made by upstream_connect_tls_alpn() offering h2, connected or
 * still connecting; a plain sock in tests) to addr for sni and start the
 * session on it.  A TLS sock whose handshake settles on anything but h2
 * ends the connection (its streams refused).  limits and times NULL: the
 * defaults.  NULL without memory, s then still the caller's.
 */
struct h2up *h2up_new(const struct dp_env *, struct sock *s,
    const struct sockaddr *addr, socklen_t len, const char *sni,
    const struct h2client_limits *, const struct h2up_times *);
/*
 * Close now: every attached stream gets on_close (H2CLIENT_CANCEL), the
 * sock is freed.  h2up frees itself when it ends; this is for the
 * worker's shutdown.
 */
void h2up_free(struct h2up *);

/* Can it take another stream now (and is it alive)? */
int h2up_can_open(const struct h2up *);
/* Streams attached and not yet closed. */
size_t h2up_streams(const struct h2up *);
int h2up_is_dead(const struct h2up *);
/* The connection's TLS (NULL: plain), for the audit of those who join. */
struct ssl_st *h2up_ssl(const struct h2up *);

/*
 * Open a stream for req (see h2client_request() for what is sent) on
 * behalf of owner, whose callbacks are cbs (not copied: static).  The
 * stream id, or -1 (no room, dead, or what HTTP/2 cannot carry).
 */
int32_t h2up_attach(struct h2up *, const struct msg *req,
    const struct h2up_stream_cbs *cbs, void *owner);
/*
 * The owner goes away: the stream is reset (CANCEL) if it is still open,
 * and the owner hears nothing more, not even on_close.
 */
void h2up_detach(struct h2up *, int32_t id);

/* As h2client_write(), _end(), _consume() for the stream. */
ssize_t h2up_write(struct h2up *, int32_t id, struct evbuffer *src,
    size_t n);
int h2up_end(struct h2up *, int32_t id, const struct msg *trailers);
int h2up_consume(struct h2up *, int32_t id, size_t n);
/* RST_STREAM with code; on_close follows. */
int h2up_reset(struct h2up *, int32_t id, uint32_t code);

void h2up_pool_init(struct h2up_pool *);
/* Keep c for others to find (unless the worker drains); it leaves the
   pool when it ends. */
void h2up_pool_add(struct h2up_pool *, struct h2up *c);
/* A live connection to addr for sni with a stream to spare, or NULL. */
struct h2up *h2up_pool_find(struct h2up_pool *,
    const struct sockaddr *addr, socklen_t len, const char *sni);
/*
 * Say a dial to addr for sni is in progress; NULL without memory, or if a
 * dial found it speaks http/1.1 (nobody need wait for a dial to learn it).
 */
struct h2up_dial *h2up_pool_dial(struct h2up_pool *,
    const struct sockaddr *addr, socklen_t len, const char *sni);
/* The dial in progress to addr for sni, or NULL. */
struct h2up_dial *h2up_pool_dialing(struct h2up_pool *,
    const struct sockaddr *addr, socklen_t len, const char *sni);
/* w waits for d (w->done set by the caller). */
void h2up_dial_wait(struct h2up_dial *d, struct h2up_wait *w);
/* w stops waiting (if it was); its done will not run. */
void h2up_wait_leave(struct h2up_wait *w);
/*
 * The dial settled (http1: on http/1.1, which the pool then remembers for
 * the upstream until an h2 connection to it is pooled): every waiter's
 * done runs, then d is the pool's or freed.
 */
void h2up_dial_end(struct h2up_dial *d, int http1);

/*
 * The worker drains: each pooled connection sends GOAWAY, leaves the
 * pool, and closes once its streams ended.
 */
void h2up_pool_drain(struct h2up_pool *);
/*
 * Close every pooled connection and forget what it knows (worker
 * shutdown, once the connections are gone: the dials ended with the
 * exchanges that made them).
 */
void h2up_pool_clear(struct h2up_pool *);

#endif
