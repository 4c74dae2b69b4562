/*
 * redistls.c - a worker's TLS bridge to Redis (--redis-tls).
 *
 * Owns a unix socket in a private directory (mkdtemp: mode 0700, so only
 * this user can reach it), listening on the worker's event base, and the
 * relays: each connection hiredis opens to it is paired with a
 * bufferevent_openssl connected to Redis, whose certificate is verified
 * like an upstream's (tls.c: --upstream-ca or the system store, the name
 * --redis-sni or else the --redis address as an IP SAN).  A relay ends
 * when either side closes or fails: hiredis then sees its connection
 * close, which ratelimit_redis.c treats as an outage.  Why a handshake
 * failed is logged here, once until a handshake succeeds again, since
 * hiredis only sees the close.
 *
 * Buffers are bounded: a side stops being read while the other side's
 * output holds REDISTLS_MAX bytes, and is read again once that drains to
 * half.  Does not own the Redis protocol (hiredis, ratelimit_redis.c).
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/err.h>

#include "config.h"
#include "log.h"
#include "redistls.h"
#include "tls.h"

#define REDISTLS_MAX	(256 * 1024)	/* bytes queued towards one side */
#define REDISTLS_PATHMAX sizeof(((struct sockaddr_un *)0)->sun_path)

struct redistls_relay {
	struct redistls		*rt;
	struct bufferevent	*plain;		/* hiredis's connection */
	struct bufferevent	*tls;		/* to Redis */
	int			 connected;	/* the handshake succeeded */
	struct redistls_relay	*prev, *next;
};

struct redistls {
	const struct config	*cfg;
	struct event_base	*base;
	struct evconnlistener	*listener;
	struct sockaddr_storage	 addr;		/* Redis */
	socklen_t		 addrlen;
	int			 failing;	/* a failure was logged */
	char			 path[REDISTLS_PATHMAX];
	char			 dir[REDISTLS_PATHMAX - 2];	/* for "/s" */
	struct redistls_relay	*relays;
};

static SSL_CTX	*redistls_ctx;

void
redistls_set_ctx(SSL_CTX *ctx)
{
	redistls_ctx = ctx;
}

const char *
redistls_path(const struct redistls *rt)
{
	return rt->path;
}

static void
redistls_relay_free(struct redistls_relay *r)
{
	if (r->prev != NULL)
		r->prev->next = r->next;
	else
		r->rt->relays = r->next;
	if (r->next != NULL)
		r->next->prev = r->prev;
	if (r->plain != NULL)
		bufferevent_free(r->plain);
	if (r->tls != NULL)
		bufferevent_free(r->tls);	/* and its SSL */
	free(r);
}

/* Moves what from holds to the other side; stops reading when it is full. */
static void
redistls_read(struct bufferevent *from, void *arg)
{
	struct redistls_relay *r = arg;
	struct bufferevent *to = from == r->plain ? r->tls : r->plain;

	if (bufferevent_write_buffer(to, bufferevent_get_input(from)) == -1) {
		redistls_relay_free(r);
		return;
	}
	if (evbuffer_get_length(bufferevent_get_output(to)) >= REDISTLS_MAX) {
		bufferevent_disable(from, EV_READ);
		bufferevent_setwatermark(to, EV_WRITE, REDISTLS_MAX / 2, 0);
	}
}

/* to's output drained to the low mark: read its source again. */
static void
redistls_drained(struct bufferevent *to, void *arg)
{
	struct redistls_relay *r = arg;
	struct bufferevent *from = to == r->plain ? r->tls : r->plain;

	bufferevent_setwatermark(to, EV_WRITE, 0, 0);
	bufferevent_enable(from, EV_READ);
}

/*
 * Why the connection to Redis failed: the verify error first.  libevent
 * reports a refused connect as a failed handshake, so a socket without a
 * peer failed in TCP (errno, or SO_ERROR if the write did not consume it).
 */
static const char *
redistls_why(struct redistls_relay *r, short what, char *buf, size_t len)
{
	int err = EVUTIL_SOCKET_ERROR(), soerr = 0;
	SSL *ssl = bufferevent_openssl_get_ssl(r->tls);
	const char *verr = ssl != NULL ? tls_verify_error(ssl) : NULL;
	unsigned long e = bufferevent_get_openssl_error(r->tls);
	evutil_socket_t fd = bufferevent_getfd(r->tls);
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss), errlen = sizeof(soerr);

	if (fd != -1 && getpeername(fd, (struct sockaddr *)&ss, &sslen) == -1) {
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &errlen) ==
		    -1 || soerr == 0)
			soerr = err != 0 ? err : ECONNREFUSED;
		snprintf(buf, len, "connect: %s", strerror(soerr));
	} else if (verr != NULL)
		snprintf(buf, len, "certificate verify failed: %s", verr);
	else if (e != 0)
		snprintf(buf, len, "TLS: %s", ERR_reason_error_string(e) ?
		    ERR_reason_error_string(e) : "handshake failed");
	else if ((what & BEV_EVENT_ERROR) && err != 0)
		snprintf(buf, len, "%s", strerror(err));
	else
		snprintf(buf, len, "closed during the TLS handshake");
	return buf;
}

static void
redistls_tls_event(struct bufferevent *bev, short what, void *arg)
{
	struct redistls_relay *r = arg;
	struct redistls *rt = r->rt;
	char why[256];

	if (what & BEV_EVENT_CONNECTED) {
		r->connected = 1;
		rt->failing = 0;
		return;
	}
	if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
		return;
	if (!r->connected && !rt->failing) {
		log_warnx("redis: %s:%d: TLS to Redis failed: %s",
		    rt->cfg->redis_host, rt->cfg->redis_port,
		    redistls_why(r, what, why, sizeof(why)));
		rt->failing = 1;
	}
	redistls_relay_free(r);
}

static void
redistls_plain_event(struct bufferevent *bev, short what, void *arg)
{
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		redistls_relay_free(arg);
}

/* The TLS side: a socket connecting to Redis, and its verifying SSL. */
static struct bufferevent *
redistls_dial(struct redistls *rt)
{
	const char *name = rt->cfg->redis_sni != NULL ? rt->cfg->redis_sni :
	    rt->cfg->redis_host;
	struct bufferevent *bev;
	SSL *ssl;
	int fd;

	if ((ssl = tls_upstream_ssl_new(redistls_ctx, name, name)) == NULL)
		return NULL;
	if ((fd = socket(rt->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1) {
		log_warn("redis: socket");
		SSL_free(ssl);
		return NULL;
	}
	if ((bev = bufferevent_openssl_socket_new(rt->base, fd, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		close(fd);
		SSL_free(ssl);
		return NULL;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	if (bufferevent_socket_connect(bev, (struct sockaddr *)&rt->addr,
	    rt->addrlen) == -1) {
		bufferevent_free(bev);
		return NULL;
	}
	return bev;
}

/* hiredis connected: pair its connection with one to Redis. */
static void
redistls_accept(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct redistls *rt = arg;
	struct redistls_relay *r;

	if ((r = calloc(1, sizeof(*r))) == NULL) {
		log_warn("redis: calloc");
		close(fd);
		return;
	}
	r->rt = rt;
	r->next = rt->relays;
	if (rt->relays != NULL)
		rt->relays->prev = r;
	rt->relays = r;
	if ((r->plain = bufferevent_socket_new(rt->base, fd,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		close(fd);
		redistls_relay_free(r);
		return;
	}
	if ((r->tls = redistls_dial(rt)) == NULL) {
		/* hiredis sees the close: an outage. */
		redistls_relay_free(r);
		return;
	}
	bufferevent_setcb(r->plain, redistls_read, redistls_drained,
	    redistls_plain_event, r);
	bufferevent_setcb(r->tls, redistls_read, redistls_drained,
	    redistls_tls_event, r);
	bufferevent_enable(r->plain, EV_READ | EV_WRITE);
	bufferevent_enable(r->tls, EV_READ | EV_WRITE);
}

/* The --redis address, parsed once: connecting never resolves. */
static int
redistls_addr(struct redistls *rt)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&rt->addr;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&rt->addr;

	memset(&rt->addr, 0, sizeof(rt->addr));
	if (inet_pton(AF_INET, rt->cfg->redis_host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(rt->cfg->redis_port);
		rt->addrlen = sizeof(*sin);
		return 0;
	}
	if (inet_pton(AF_INET6, rt->cfg->redis_host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(rt->cfg->redis_port);
		rt->addrlen = sizeof(*sin6);
		return 0;
	}
	return -1;
}

struct redistls *
redistls_new(const struct config *cfg, struct event_base *base)
{
	struct redistls *rt;
	struct sockaddr_un sun;
	const char *tmp = getenv("TMPDIR");
	int n;

	if ((rt = calloc(1, sizeof(*rt))) == NULL) {
		log_warn("redis: calloc");
		return NULL;
	}
	rt->cfg = cfg;
	rt->base = base;
	if (redistls_ctx == NULL || redistls_addr(rt) == -1) {
		log_warnx("redis: TLS bridge not set up");
		goto fail;
	}
	if (tmp == NULL || *tmp == '\0')
		tmp = "/tmp";
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	n = snprintf(rt->dir, sizeof(rt->dir), "%s/sluice-redis.XXXXXX", tmp);
	if (n < 0 || (size_t)n >= sizeof(rt->dir)) {
		log_warnx("redis: TMPDIR '%s' is too long for a unix socket",
		    tmp);
		rt->dir[0] = '\0';
		goto fail;
	}
	if (mkdtemp(rt->dir) == NULL) {
		log_warn("redis: mkdtemp %s", rt->dir);
		rt->dir[0] = '\0';
		goto fail;
	}
	snprintf(rt->path, sizeof(rt->path), "%s/s", rt->dir);
	memcpy(sun.sun_path, rt->path, strlen(rt->path) + 1);
	if ((rt->listener = evconnlistener_new_bind(base, redistls_accept, rt,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 8,
	    (struct sockaddr *)&sun, sizeof(sun))) == NULL) {
		log_warn("redis: listening on %s", rt->path);
		goto fail;
	}
	return rt;
fail:
	redistls_free(rt);
	return NULL;
}

void
redistls_free(struct redistls *rt)
{
	if (rt == NULL)
		return;
	while (rt->relays != NULL)
		redistls_relay_free(rt->relays);
	if (rt->listener != NULL)
		evconnlistener_free(rt->listener);
	if (rt->path[0] != '\0')
		unlink(rt->path);
	if (rt->dir[0] != '\0')
		rmdir(rt->dir);
	free(rt);
}
