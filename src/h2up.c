/*
 * h2up.c - a shared HTTP/2 upstream connection: the sock, the h2client
 * session on it, which owner each stream belongs to, and the
 * connection's own life (ALPN check, PING, idle close, GOAWAY, the end).
 *
 * Owns the connection; does not own the exchanges using it (they attach
 * and detach), the dial and verification (upstream.c), or what a stream
 * means (h2client.c).  One place runs the session (h2up_run): frames out
 * within the sock's output budget, the reading switch, the timer, and
 * the close once h2client says it is done.  Calls from owners change the
 * session only and ask for a run from the event loop (the kick event),
 * so no owner call ever re-enters h2client from inside its callbacks.
 *
 *   new --(CONNECTED, ALPN h2)--> open --(GOAWAY either way, its
 *    |                             |       streams done; idle time)--.
 *    |  wrong ALPN, EOF, error,    |  EOF, error, no PING answer     |
 *    `---------------------------> closed (h2up_close) <-------------'
 *
 * Invariants: every attached stream hears on_close exactly once unless
 * its owner detached; once closed (dead) the h2up is off its pool and
 * freed before h2up_close returns; the timer runs as the idle timer
 * while no stream is open, as the PING timer otherwise.
 */
#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <openssl/ssl.h>

#include "config.h"
#include "dpenv.h"
#include "h2client.h"
#include "h2up.h"
#include "sock.h"
#include "upstream.h"

#define H2UP_OUT_HIGH	(64 * 1024)	/* frames queued on the sock */
#define H2UP_OUT_LOW	(16 * 1024)	/* writecb: room again */

enum h2up_timer {
	H2UP_TIMER_NONE,
	H2UP_TIMER_IDLE,	/* no stream: close when it fires */
	H2UP_TIMER_PING,	/* streams: PING when it fires, then dead */
};

/* A stream's owner. */
struct h2up_att {
	const struct h2up_stream_cbs *cbs;
	void		*owner;
};

/*
 * Which upstream a connection or a dial is for: its address, and the name
 * its certificate is verified for (the SNI).
 */
struct h2up_key {
	struct sockaddr_storage addr;
	socklen_t	 len;
	char		 sni[CONFIG_HOST_MAX];
};

struct h2up {
	TAILQ_ENTRY(h2up) link;		/* on pool's list */
	struct h2up_pool *pool;		/* NULL: not pooled */
	const struct dp_env *env;
	struct sock	*sock;
	struct h2client	*c;
	struct event	*kick;		/* a run from the event loop */
	struct event	*timer;
	enum h2up_timer	 timer_is;
	struct h2up_times times;
	int		 heard;		/* read since the timer was armed */
	int		 pinging;	/* a PING is out, unanswered */
	int		 dead;
	struct h2up_key	 key;
};

/*
 * Upstreams a dial found speaking http/1.1, remembered (the oldest
 * forgotten past this many) so that requests to them do not wait for
 * each other's dials: only an upstream whose protocol is not known is
 * worth waiting for.
 */
#define H2UP_KNOWN_H1_MAX	256

struct h2up_dial {
	TAILQ_ENTRY(h2up_dial) link;	/* on pool's list */
	struct h2up_pool *pool;
	int		 known_h1;	/* settled on http/1.1: no dial */
	TAILQ_HEAD(, h2up_wait) waiters;
	struct h2up_key	 key;
};

static void h2up_close(struct h2up *, uint32_t code);
static void h2up_pool_remove(struct h2up *);

/* k is addr[0..len) and sni; -1 if the address does not fit. */
static int
h2up_key_set(struct h2up_key *k, const struct sockaddr *addr, socklen_t len,
    const char *sni)
{
	if (len > sizeof(k->addr))
		return -1;
	memcpy(&k->addr, addr, len);
	k->len = len;
	snprintf(k->sni, sizeof(k->sni), "%s", sni);
	return 0;
}

static int
h2up_key_is(const struct h2up_key *k, const struct sockaddr *addr,
    socklen_t len, const char *sni)
{
	return k->len == len && memcmp(&k->addr, addr, len) == 0 &&
	    strcmp(k->sni, sni) == 0;
}

void
h2up_times_default(struct h2up_times *t, const struct config *cfg)
{
	t->idle_ms = (unsigned)cfg->upstream_idle_timeout * 1000;
	t->ping_ms = 15 * 1000;
}

static void
h2up_kick(struct h2up *u)
{
	if (!u->dead)
		event_active(u->kick, EV_TIMEOUT, 0);
}

static void
h2up_timer_add(struct h2up *u, enum h2up_timer what, unsigned ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	u->timer_is = what;
	u->heard = 0;
	evtimer_add(u->timer, &tv);
}

/*
 * Without streams, the idle timer (armed once); with streams, the PING
 * timer, armed again whenever the server was heard from.
 */
static void
h2up_arm(struct h2up *u)
{
	if (h2client_streams(u->c) == 0) {
		u->pinging = 0;
		if (u->timer_is != H2UP_TIMER_IDLE)
			h2up_timer_add(u, H2UP_TIMER_IDLE, u->times.idle_ms);
	} else if (u->timer_is != H2UP_TIMER_PING || u->heard) {
		u->pinging = 0;
		h2up_timer_add(u, H2UP_TIMER_PING, u->times.ping_ms);
	}
}

/* The session's one driver: frames out, reading, timer, the end. */
static void
h2up_run(struct h2up *u)
{
	struct evbuffer *out = sock_output(u->sock);
	size_t len = evbuffer_get_length(out);

	if (len < H2UP_OUT_HIGH &&
	    h2client_output(u->c, out, H2UP_OUT_HIGH - len) == -1) {
		h2up_close(u, H2CLIENT_INTERNAL_ERROR);
		return;
	}
	if (h2client_is_done(u->c)) {
		h2up_close(u, H2CLIENT_INTERNAL_ERROR);
		return;
	}
	sock_set_read(u->sock, h2client_want_read(u->c));
	h2up_arm(u);
}

/* Did the handshake settle on h2?  (A plain sock: tests, h2 assumed.) */
static int
h2up_alpn_ok(struct sock *s)
{
	const unsigned char *p = NULL;
	unsigned int n = 0;

	if (sock_ssl(s) == NULL)
		return 1;
	SSL_get0_alpn_selected(sock_ssl(s), &p, &n);
	return n == strlen(UPSTREAM_ALPN_H2) &&
	    memcmp(p, UPSTREAM_ALPN_H2, n) == 0;
}

static void
h2up_sock_read(struct sock *s, void *arg)
{
	struct h2up *u = arg;

	u->heard = 1;
	if (h2client_input(u->c, sock_input(s)) == -1)
		sock_set_read(s, 0);	/* the run writes the GOAWAY, closes */
	h2up_run(u);
}

static void
h2up_sock_write(struct sock *s, void *arg)
{
	(void)s;
	h2up_run(arg);
}

static void
h2up_sock_event(struct sock *s, short what, void *arg)
{
	struct h2up *u = arg;

	if (what & SOCK_EV_CONNECTED) {
		if (!h2up_alpn_ok(s))
			h2up_close(u, H2CLIENT_REFUSED_STREAM);
		else
			h2up_run(u);
		return;
	}
	/* nothing went out if we never connected: safe to send elsewhere */
	h2up_close(u, sock_is_connected(s) ? H2CLIENT_INTERNAL_ERROR :
	    H2CLIENT_REFUSED_STREAM);
}

static void
h2up_on_kick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	h2up_run(arg);
}

static void
h2up_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct h2up *u = arg;
	enum h2up_timer was = u->timer_is;

	(void)fd;
	(void)what;
	u->timer_is = H2UP_TIMER_NONE;
	if (was == H2UP_TIMER_IDLE) {
		/* as an idle HTTP/1.1 connection: closed, nothing to wait for */
		h2up_close(u, H2CLIENT_CANCEL);
		return;
	} else if (u->pinging && !u->heard) {
		h2up_close(u, H2CLIENT_INTERNAL_ERROR);	/* the server is gone */
		return;
	} else if (!u->heard) {
		if (h2client_ping(u->c) == -1) {
			h2up_close(u, H2CLIENT_INTERNAL_ERROR);
			return;
		}
		h2up_timer_add(u, H2UP_TIMER_PING, u->times.ping_ms);
		u->pinging = 1;
	}
	h2up_run(u);
}

/* h2client's callbacks, each passed on to the stream's owner. */

static struct h2up_att *
h2up_att(struct h2up *u, int32_t id)
{
	return h2client_stream_get(u->c, id);
}

static void
h2up_on_response(void *arg, int32_t id, struct msg *resp)
{
	struct h2up_att *a = h2up_att(arg, id);

	if (a == NULL) {
		msg_free(resp);
		free(resp);
		return;
	}
	a->cbs->on_response(a->owner, resp);
}

static void
h2up_on_data(void *arg, int32_t id, const uint8_t *p, size_t len)
{
	struct h2up *u = arg;
	struct h2up_att *a = h2up_att(u, id);

	if (a == NULL)
		(void)h2client_consume(u->c, id, len);
	else
		a->cbs->on_data(a->owner, p, len);
}

static void
h2up_on_end(void *arg, int32_t id, const struct msg *t)
{
	struct h2up_att *a = h2up_att(arg, id);

	if (a != NULL)
		a->cbs->on_end(a->owner, t);
}

static void
h2up_on_close(void *arg, int32_t id, uint32_t code, const char *why)
{
	struct h2up *u = arg;
	struct h2up_att *a = h2up_att(u, id);

	if (a == NULL)
		return;
	(void)h2client_stream_set(u->c, id, NULL);
	a->cbs->on_close(a->owner, code, why);
	free(a);
}

static void
h2up_on_writable(void *arg, int32_t id)
{
	struct h2up_att *a = h2up_att(arg, id);

	if (a != NULL)
		a->cbs->on_writable(a->owner);
}

static const struct h2client_cbs h2up_cbs = {
	h2up_on_response, h2up_on_data, h2up_on_end, h2up_on_close,
	h2up_on_writable,
};

struct h2up *
h2up_new(const struct dp_env *env, struct sock *s,
    const struct sockaddr *addr, socklen_t len, const char *sni,
    const struct h2client_limits *lim, const struct h2up_times *times)
{
	struct h2up *u;

	if (sock_is_connected(s) && !h2up_alpn_ok(s))
		return NULL;
	if ((u = calloc(1, sizeof(*u))) == NULL)
		return NULL;
	u->env = env;
	if (times != NULL)
		u->times = *times;
	else
		h2up_times_default(&u->times, env->cfg);
	if (h2up_key_set(&u->key, addr, len, sni) == -1 ||
	    (u->c = h2client_new(lim, &h2up_cbs, u)) == NULL ||
	    (u->kick = event_new(env->base, -1, 0, h2up_on_kick, u)) ==
	    NULL ||
	    (u->timer = evtimer_new(env->base, h2up_on_timer, u)) == NULL)
		goto fail;
	u->sock = s;
	sock_set_watermarks(s, 0, H2UP_OUT_LOW);
	sock_setcb(s, h2up_sock_read, h2up_sock_write, h2up_sock_event, u);
	sock_set_read(s, 1);
	h2up_kick(u);	/* the preface and SETTINGS */
	return u;
fail:
	if (u->kick != NULL)
		event_free(u->kick);
	h2client_free(u->c);
	free(u);
	return NULL;
}

/*
 * The end: off the pool, every stream closed for its owner with code,
 * everything freed.  The owners' on_close may call h2up_* on u: dead
 * says no to all.
 */
static void
h2up_close(struct h2up *u, uint32_t code)
{
	if (u->dead)
		return;
	u->dead = 1;
	h2up_pool_remove(u);
	h2client_fail(u->c, code);
	upstream_free(u->env, u->sock);
	event_free(u->kick);
	event_free(u->timer);
	h2client_free(u->c);
	free(u);
}

void
h2up_free(struct h2up *u)
{
	if (u != NULL)
		h2up_close(u, H2CLIENT_CANCEL);
}

int
h2up_can_open(const struct h2up *u)
{
	return !u->dead && h2client_can_open(u->c);
}

size_t
h2up_streams(const struct h2up *u)
{
	return h2client_streams(u->c);
}

int
h2up_is_dead(const struct h2up *u)
{
	return u->dead;
}

SSL *
h2up_ssl(const struct h2up *u)
{
	return sock_ssl(u->sock);
}

int32_t
h2up_attach(struct h2up *u, const struct msg *req,
    const struct h2up_stream_cbs *cbs, void *owner)
{
	struct h2up_att *a;
	int32_t id;

	if (u->dead || (a = malloc(sizeof(*a))) == NULL)
		return -1;
	a->cbs = cbs;
	a->owner = owner;
	if ((id = h2client_request(u->c, req)) == -1) {
		free(a);
		return -1;
	}
	(void)h2client_stream_set(u->c, id, a);
	h2up_kick(u);
	return id;
}

void
h2up_detach(struct h2up *u, int32_t id)
{
	struct h2up_att *a;

	if (u->dead || (a = h2up_att(u, id)) == NULL)
		return;
	(void)h2client_stream_set(u->c, id, NULL);
	free(a);
	(void)h2client_reset(u->c, id, H2CLIENT_CANCEL);
	h2up_kick(u);
}

ssize_t
h2up_write(struct h2up *u, int32_t id, struct evbuffer *src, size_t n)
{
	ssize_t took;

	if (u->dead)
		return -1;
	if ((took = h2client_write(u->c, id, src, n)) > 0)
		h2up_kick(u);
	return took;
}

int
h2up_end(struct h2up *u, int32_t id, const struct msg *trailers)
{
	if (u->dead || h2client_end(u->c, id, trailers) == -1)
		return -1;
	h2up_kick(u);
	return 0;
}

int
h2up_consume(struct h2up *u, int32_t id, size_t n)
{
	if (u->dead || h2client_consume(u->c, id, n) == -1)
		return -1;
	h2up_kick(u);
	return 0;
}

int
h2up_reset(struct h2up *u, int32_t id, uint32_t code)
{
	if (u->dead || h2client_reset(u->c, id, code) == -1)
		return -1;
	h2up_kick(u);
	return 0;
}

void
h2up_pool_init(struct h2up_pool *p)
{
	TAILQ_INIT(&p->conns);
	p->n = 0;
	TAILQ_INIT(&p->dials);
	p->known_h1 = 0;
}

/* The entry for addr and sni that is known_h1 or not, or NULL. */
static struct h2up_dial *
h2up_dial_find(struct h2up_pool *p, const struct sockaddr *addr,
    socklen_t len, const char *sni, int known_h1)
{
	struct h2up_dial *d;

	TAILQ_FOREACH(d, &p->dials, link)
		if (d->known_h1 == known_h1 &&
		    h2up_key_is(&d->key, addr, len, sni))
			return d;
	return NULL;
}

static void
h2up_dial_free(struct h2up_dial *d)
{
	TAILQ_REMOVE(&d->pool->dials, d, link);
	if (d->known_h1)
		d->pool->known_h1--;
	free(d);
}

struct h2up_dial *
h2up_pool_dial(struct h2up_pool *p, const struct sockaddr *addr,
    socklen_t len, const char *sni)
{
	struct h2up_dial *d;

	if (h2up_dial_find(p, addr, len, sni, 1) != NULL ||
	    (d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	if (h2up_key_set(&d->key, addr, len, sni) == -1) {
		free(d);
		return NULL;
	}
	d->pool = p;
	TAILQ_INIT(&d->waiters);
	TAILQ_INSERT_TAIL(&p->dials, d, link);
	return d;
}

struct h2up_dial *
h2up_pool_dialing(struct h2up_pool *p, const struct sockaddr *addr,
    socklen_t len, const char *sni)
{
	return h2up_dial_find(p, addr, len, sni, 0);
}

void
h2up_dial_wait(struct h2up_dial *d, struct h2up_wait *w)
{
	w->dial = d;
	TAILQ_INSERT_TAIL(&d->waiters, w, link);
}

void
h2up_wait_leave(struct h2up_wait *w)
{
	if (w->dial == NULL)
		return;
	TAILQ_REMOVE(&w->dial->waiters, w, link);
	w->dial = NULL;
}

void
h2up_dial_end(struct h2up_dial *d, int http1)
{
	struct h2up_pool *p;
	struct h2up_dial *old;
	struct h2up_wait *w;

	if (d == NULL)
		return;
	while ((w = TAILQ_FIRST(&d->waiters)) != NULL) {
		h2up_wait_leave(w);
		w->done(w);
	}
	p = d->pool;
	if (!http1 || h2up_dial_find(p, (struct sockaddr *)&d->key.addr,
	    d->key.len, d->key.sni, 1) != NULL) {
		h2up_dial_free(d);
		return;
	}
	/* known from now on, the newest at the end */
	TAILQ_REMOVE(&p->dials, d, link);
	TAILQ_INSERT_TAIL(&p->dials, d, link);
	d->known_h1 = 1;
	if (++p->known_h1 <= H2UP_KNOWN_H1_MAX)
		return;
	TAILQ_FOREACH(old, &p->dials, link)
		if (old->known_h1)
			break;
	h2up_dial_free(old);
}

void
h2up_pool_add(struct h2up_pool *p, struct h2up *u)
{
	struct h2up_dial *d;

	if (u->dead || u->pool != NULL || *u->env->draining)
		return;
	TAILQ_INSERT_TAIL(&p->conns, u, link);
	p->n++;
	u->pool = p;
	/* it speaks h2 now, whatever a dial found before */
	if ((d = h2up_dial_find(p, (struct sockaddr *)&u->key.addr,
	    u->key.len, u->key.sni, 1)) != NULL)
		h2up_dial_free(d);
}

struct h2up *
h2up_pool_find(struct h2up_pool *p, const struct sockaddr *addr,
    socklen_t len, const char *sni)
{
	struct h2up *u;

	TAILQ_FOREACH(u, &p->conns, link)
		if (h2up_key_is(&u->key, addr, len, sni) && h2up_can_open(u))
			return u;
	return NULL;
}

/* Off p; the caller closes it or lets it finish. */
static void
h2up_pool_remove(struct h2up *u)
{
	if (u->pool == NULL)
		return;
	TAILQ_REMOVE(&u->pool->conns, u, link);
	u->pool->n--;
	u->pool = NULL;
}

void
h2up_pool_drain(struct h2up_pool *p)
{
	struct h2up *u;

	while ((u = TAILQ_FIRST(&p->conns)) != NULL) {
		h2up_pool_remove(u);
		if (h2client_goaway(u->c) == -1)
			h2up_close(u, H2CLIENT_INTERNAL_ERROR);
		else
			h2up_kick(u);
	}
}

void
h2up_pool_clear(struct h2up_pool *p)
{
	while (!TAILQ_EMPTY(&p->conns))
		h2up_free(TAILQ_FIRST(&p->conns));
	/* what is left is what the pool knows; the dials ended with theirs */
	while (!TAILQ_EMPTY(&p->dials))
		h2up_dial_free(TAILQ_FIRST(&p->dials));
}
