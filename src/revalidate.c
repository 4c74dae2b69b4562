/*
 * revalidate.c - a cache entry's background revalidation
 * (stale-while-revalidate, RFC 5861, 3).
 *
 * Owns one upstream request that no client waits for: the client that
 * found the entry stale was answered from it at once.  The request is the
 * client's, with the rule's credentials set by inject.c (and the entry's
 * validators, which is why a client's own conditional or Range request is
 * not used).  It goes as an exchange's would: a stream on the worker's
 * shared HTTP/2 connection to the upstream if one has a stream to spare
 * (h2up.c), else on a new connection, verified like any other, offered h2
 * and http/1.1: the head waits for the handshake, and h2 makes the
 * connection a shared one, pooled for the worker's exchanges.  A 304
 * refreshes the entry, a storable response replaces it, anything else
 * leaves it to go stale.  Nothing here is sent to a client; the request is
 * audited like any other sluice sends upstream with a rule's credentials,
 * as its own row (decision 'revalidated', upstream_proto as the leg
 * spoke), when it ends.
 *
 * One at a time per entry: cache_entry_claim() is taken before the
 * request and released when it ends, whatever the outcome.  The request
 * is bounded by --upstream-timeout for each read and write.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/time.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <openssl/err.h>

#include "audit.h"
#include "cache.h"
#include "config.h"
#include "counters.h"
#include "dpenv.h"
#include "h1codec.h"
#include "h2client.h"
#include "h2up.h"
#include "http1.h"
#include "inject.h"
#include "log.h"
#include "revalidate.h"
#include "rules.h"
#include "sock.h"
#include "tls.h"
#include "upstream.h"
#include "urlpath.h"
#include "util.h"

struct revalidate {
	TAILQ_ENTRY(revalidate) entry;		/* in env->revalidating */
	const struct dp_env *env;
	struct sock	*sock;		/* HTTP/1.1, or dialing */
	struct h2up	*h2;		/* or a stream on it; NULL once it
					   closed */
	int32_t		 h2_id;
	int		 h2_ended;	/* the response's END_STREAM came */
	const char	*proto;		/* the leg's, for the audit */
	struct sockaddr_storage addr;	/* the destination ... */
	socklen_t	 addrlen;
	char		*name;		/* ... verified for this name: the
					   pools' key */
	struct event	*timer;		/* --upstream-timeout per wait */
	struct cache_entry *e;		/* claimed and referenced */
	struct rules_snapshot *rules;	/* keeps rule alive */
	const struct rule *rule;
	struct msg	 req;		/* the client's request, no
					   credentials */
	char		*target;	/* its path, to audit */
	char		*authority;	/* the cache key's: port included */
	int		 client_auth;
	int		 conditional;	/* the entry's validators were sent */
	time_t		 sent;
	/* For the audit row, written once the request was sent. */
	int		 audited;	/* request written: audit at the end */
	int64_t		 start_ms;
	double		 start_mono;
	char		*client;
	char		*server;
	char		*sni;
	char		*audit_target;	/* secrets masked */
	char		 injected[256];
	int		 status;	/* the upstream's, 0 without one */
	const char	*error;		/* why it ended without an answer */
	char		 why[160];	/* error's storage, when composed */
	struct http1_body body;
	struct cache_fill *fill;	/* NULL until a storable head came */
};

static void	revalidate_read(struct sock *, void *);
static void	revalidate_event(struct sock *, short, void *);
static int	revalidate_unverified(struct revalidate *, struct sock *);
static void	revalidate_timeout(evutil_socket_t, short, void *);
static int	revalidate_h2_open(struct revalidate *, struct h2up *);
static int	revalidate_head(struct revalidate *, struct evbuffer *);
static int	revalidate_body(struct revalidate *, struct evbuffer *);
static int	revalidate_request(struct revalidate *, struct http1_head *);
static void	revalidate_free(struct revalidate *);
static void	revalidate_audit(struct revalidate *);

/* A request whose answer would not be the entry's whole representation. */
static int
revalidate_usable(const struct msg *req)
{
	return req->body == MSG_BODY_NONE &&
	    msg_find(req, "if-none-match", 13) == NULL &&
	    msg_find(req, "if-modified-since", 17) == NULL &&
	    msg_find(req, "range", 5) == NULL;
}

/* The entry's validators, if the request carries them. */
static const char *
revalidate_extra(const struct revalidate *rv)
{
	return rv->conditional ? cache_entry_validators(rv->e) : NULL;
}

/* Each wait (a head, more body) gets --upstream-timeout. */
static void
revalidate_arm(struct revalidate *rv)
{
	struct timeval tv = { rv->env->cfg->upstream_timeout, 0 };

	event_add(rv->timer, &tv);
}

/*
 * The leg, as upleg.c attaches an exchange's: a stream on a shared HTTP/2
 * connection that has one to spare, else a new connection offered h2 too
 * (revalidate_event() sends the request once it is up).  -1 if neither.
 */
static int
revalidate_leg(struct revalidate *rv)
{
	const struct dp_env *env = rv->env;
	struct h2up *h = NULL;

	if (env->h2pool != NULL && (h = h2up_pool_find(env->h2pool,
	    (struct sockaddr *)&rv->addr, rv->addrlen, rv->name)) != NULL)
		return revalidate_h2_open(rv, h);
	rv->sock = upstream_connect_tls_alpn(env, (struct sockaddr *)&rv->addr,
	    rv->addrlen, rv->sni, rv->name,
	    env->h2pool != NULL ? UPSTREAM_ALPN_OFFER_H2 : NULL);
	if (rv->sock == NULL)
		return -1;
	sock_setcb(rv->sock, revalidate_read, NULL, revalidate_event, rv);
	return 0;
}

int
revalidate_start(const struct dp_env *env, const struct sockaddr *addr,
    socklen_t addrlen, const char *sni, const char *verify_name,
    struct cache_entry *e, struct rules_snapshot *rules,
    const struct rule *rule, const char *authority, const struct msg *req,
    int client_auth, const char *client, const char *server)
{
	struct revalidate *rv;
	const char *validators = cache_entry_validators(e);

	if (!revalidate_usable(req) || addrlen > sizeof(rv->addr))
		return -1;
	if (!cache_entry_claim(e))
		return 0;
	if ((rv = calloc(1, sizeof(*rv))) == NULL) {
		cache_entry_release_claim(e);
		return -1;
	}
	msg_init(&rv->req, MSG_REQUEST);
	rv->env = env;
	TAILQ_INSERT_TAIL(env->revalidating, rv, entry);
	rv->e = e;
	cache_entry_ref(e);
	rv->rules = rules;
	rules_snapshot_ref(rules);
	rv->rule = rule;
	rv->client_auth = client_auth;
	rv->conditional = validators[0] != '\0';
	rv->sent = time(NULL);
	rv->start_ms = util_wall_ms();
	rv->start_mono = util_mono_ms();
	memcpy(&rv->addr, addr, addrlen);
	rv->addrlen = addrlen;
	if (msg_clone(&rv->req, req) == -1 ||
	    (rv->target = strndup(msg_ptr(req, req->path), req->path.len)) ==
	    NULL ||
	    (rv->authority = strdup(authority)) == NULL ||
	    (rv->client = strdup(client)) == NULL ||
	    (rv->server = strdup(server)) == NULL ||
	    (rv->sni = strdup(sni)) == NULL ||
	    (rv->name = strdup(verify_name)) == NULL ||
	    (rv->timer = evtimer_new(env->base, revalidate_timeout, rv)) ==
	    NULL || revalidate_leg(rv) == -1)
		goto fail;
	rv->audited = 1;
	revalidate_arm(rv);
	log_event(LOG_DEBUG, "cache_revalidate", "host=%s target=%.*s",
	    verify_name, (int)urlpath_path_len(rv->target, strlen(rv->target)),
	    rv->target);
	return 0;

fail:
	revalidate_free(rv);
	return -1;
}

/* The saved request as the cache reads it, keyed on its normalised path. */
static int
revalidate_request(struct revalidate *rv, struct http1_head *h)
{
	return h1codec_head_view(&rv->req, h);
}

static void
revalidate_read(struct sock *sock, void *arg)
{
	struct revalidate *rv = arg;
	struct evbuffer *in = sock_input(sock);
	int r;

	revalidate_arm(rv);

	if (rv->fill == NULL)
		r = revalidate_head(rv, in);
	else
		r = revalidate_body(rv, in);
	if (r != 0)
		revalidate_free(rv);
}

/*
 * The final response head h, whichever protocol it came in: a 304 to our
 * validators refreshes the entry, a storable response starts replacing it
 * (0: its body follows into rv->fill), anything else leaves it (1: done).
 */
static int
revalidate_answer(struct revalidate *rv, const struct http1_head *h0)
{
	struct http1_head rq, as200, h;
	const struct rule_cache *pol = &rv->rule->cache;
	time_t now = time(NULL);
	int64_t lifetime;
	struct msg m;
	int rc = 1;

	rv->status = h0->status;
	/* The cache keeps what a client would get: the echoes masked. */
	if (revalidate_request(rv, &rq) == -1 ||
	    inject_body_hidden_head(rv->rule, h0))
		return 1;
	if (inject_mask_view(h0, rv->rule, &m, &h) == -1)
		goto done;
	if (h.status == 304 && rv->conditional) {
		as200 = h;
		as200.status = 200;
		lifetime = cache_storable(&rq, &as200, pol, rv->client_auth,
		    now);
		cache_refresh(rv->env->cache, rv->e, &h,
		    lifetime > 0 ? lifetime : 0, now);
		goto done;
	}
	lifetime = cache_storable(&rq, &h, pol, rv->client_auth, now);
	if (lifetime < 0)
		goto done;
	rv->fill = cache_fill_new(rv->env->cache, rv->rule->id, rv->authority,
	    &rq, &h, lifetime, pol->max_bytes, rv->sent, now);
	if (rv->fill != NULL && rv->rule->mask.n > 0)
		cache_fill_mask(rv->fill, &rv->rule->mask);
	rc = rv->fill == NULL;
done:
	msg_free(&m);
	return rc;
}

/*
 * An HTTP/1.1 response head.  0: wait for more; 1: done (refreshed,
 * replaced or given up); a storable response goes on with its body.
 */
static int
revalidate_head(struct revalidate *rv, struct evbuffer *in)
{
	struct http1_str get = { "GET", 3 };
	struct http1_head h;
	size_t len;
	char *p;

	for (;;) {
		len = evbuffer_get_length(in);
		if (len > HTTP1_MAX_HEAD)
			len = HTTP1_MAX_HEAD;
		p = (char *)evbuffer_pullup(in, len);
		switch (http1_parse_response(p, len, get, &h, NULL)) {
		case HTTP1_INCOMPLETE:
			return 0;
		case HTTP1_OK:
			break;
		default:
			rv->error = "malformed response";
			return 1;
		}
		if (h.status >= 200)
			break;
		evbuffer_drain(in, h.head_len);		/* a 1xx */
	}
	if (h.body == HTTP1_BODY_UNTIL_CLOSE) {
		rv->status = h.status;	/* a cut would look whole: not kept */
		return 1;
	}
	if (revalidate_answer(rv, &h) != 0)
		return 1;
	http1_body_init(&rv->body, h.body, h.content_length);
	evbuffer_drain(in, h.head_len);
	if (h.body == HTTP1_BODY_NONE)
		rv->body.done = 1;
	return revalidate_body(rv, in);
}

/* Copy the body into the fill; 1 once it ended (stored) or failed. */
static int
revalidate_body(struct revalidate *rv, struct evbuffer *in)
{
	struct evbuffer_iovec v;
	ssize_t n;

	while (!rv->body.done && evbuffer_peek(in, -1, NULL, &v, 1) == 1) {
		if ((n = http1_body_feed(&rv->body, v.iov_base,
		    v.iov_len)) <= 0 ||
		    cache_fill_append(rv->fill, v.iov_base, n) == -1)
			return 1;
		evbuffer_drain(in, n);
	}
	if (!rv->body.done)
		return 0;
	cache_fill_commit(rv->fill);
	rv->fill = NULL;
	return 1;
}

/*
 * The new connection is up: h2 makes it a shared connection, pooled for
 * the worker's exchanges, with the request as its first stream; anything
 * else carries the request in HTTP/1.1.  -1 if it could not be sent.
 */
static int
revalidate_connected(struct revalidate *rv)
{
	const char *proto = upstream_proto(rv->sock);
	struct h2up *h;

	if (rv->env->h2pool != NULL && proto != NULL &&
	    strcmp(proto, UPSTREAM_ALPN_H2) == 0) {
		h = h2up_new(rv->env, rv->sock, (struct sockaddr *)&rv->addr,
		    rv->addrlen, rv->name, NULL, NULL);
		if (h == NULL)
			return -1;
		rv->sock = NULL;	/* h2up's now */
		h2up_pool_add(rv->env->h2pool, h);
		return revalidate_h2_open(rv, h);
	}
	rv->proto = proto;
	return inject_write_request(sock_output(rv->sock), &rv->req, 1,
	    rv->rule, revalidate_extra(rv), &rv->audit_target, rv->injected,
	    sizeof(rv->injected));
}

static void
revalidate_event(struct sock *sock, short what, void *arg)
{
	struct revalidate *rv = arg;

	if (what & SOCK_EV_CONNECTED) {
		if (revalidate_connected(rv) == -1) {
			rv->error = "cannot send the request upstream";
			revalidate_free(rv);
		}
		return;
	}
	/* A close, an error or a timeout: what was stored stays. */
	if (!revalidate_unverified(rv, sock))
		rv->error = rv->status ? "upstream closed during body" :
		    "upstream closed";
	revalidate_free(rv);
}

/*
 * The leg's certificate did not verify: said as for a client's request
 * (upleg_failed()), so that an upstream that changed its certificate shows
 * in the revalidation's row and the log, not as a mere close.  1 if so.
 */
static int
revalidate_unverified(struct revalidate *rv, struct sock *sock)
{
	SSL *ssl = sock_ssl(sock);
	const char *verr = ssl != NULL ? tls_verify_error(ssl) : NULL;

	if (verr == NULL)
		return 0;
	counters_tls_failure(rv->env->counters, COUNTERS_LEG_UPSTREAM,
	    COUNTERS_TLS_VERIFY);
	snprintf(rv->why, sizeof(rv->why),
	    "upstream certificate verification failed: %s", verr);
	rv->error = rv->why;
	log_event(LOG_WARN, "upstream_verify_failed", "client=%s sni=%s "
	    "host=%s upstream=%s err=%s", rv->client, rv->sni, rv->name,
	    rv->server, verr);
	ERR_clear_error();
	return 1;
}

/*
 * The stream's callbacks (h2up.c).  Each wait gets the timeout again;
 * the revalidation ends when the stream closes, or as soon as there is
 * nothing left to store (freeing it resets a stream still open).
 */
static void
revalidate_h2_response(void *owner, struct msg *resp)
{
	struct revalidate *rv = owner;
	struct http1_head h;
	int done = 0;

	revalidate_arm(rv);
	if (resp->status >= 200)
		done = h1codec_response_view(resp, "", &h) == -1 ||
		    revalidate_answer(rv, &h) != 0;
	msg_free(resp);
	free(resp);
	if (done)
		revalidate_free(rv);
}

static void
revalidate_h2_data(void *owner, const uint8_t *p, size_t len)
{
	struct revalidate *rv = owner;

	revalidate_arm(rv);
	rv->body.payload += len;
	if (cache_fill_append(rv->fill, (const char *)p, len) == -1) {
		rv->error = "response too large to store";
		revalidate_free(rv);
		return;
	}
	(void)h2up_consume(rv->h2, rv->h2_id, len);
}

static void
revalidate_h2_end(void *owner, const struct msg *trailers)
{
	struct revalidate *rv = owner;

	rv->h2_ended = 1;
	cache_fill_commit(rv->fill);
	rv->fill = NULL;
}

static void
revalidate_h2_close(void *owner, uint32_t code, const char *why)
{
	struct revalidate *rv = owner;

	rv->h2 = NULL;		/* its connection may end with this call */
	if (!rv->h2_ended)
		rv->error = why != NULL ? why :
		    code == H2CLIENT_REFUSED_STREAM ?
		    "upstream refused the HTTP/2 stream" : rv->status ?
		    "upstream reset the HTTP/2 stream during body" :
		    "upstream reset the HTTP/2 stream";
	revalidate_free(rv);
}

/* The request has no body to wait for room. */
static void
revalidate_h2_writable(void *owner)
{
}

static const struct h2up_stream_cbs revalidate_h2_cbs = {
	revalidate_h2_response, revalidate_h2_data, revalidate_h2_end,
	revalidate_h2_close, revalidate_h2_writable,
};

/*
 * Send the request as a stream of h: the message with the rule's
 * credentials (sent never-indexed) and the validators, wiped once HPACK
 * has it.  -1 if it cannot be opened.
 */
static int
revalidate_h2_open(struct revalidate *rv, struct h2up *h)
{
	struct msg m;
	int32_t id;

	if (inject_request_copy(&m, &rv->req, rv->rule, revalidate_extra(rv),
	    &rv->audit_target, rv->injected, sizeof(rv->injected)) == -1)
		return -1;
	id = h2up_attach(h, &m, &revalidate_h2_cbs, rv);
	msg_free(&m);
	if (id == -1)
		return -1;
	rv->h2 = h;
	rv->h2_id = id;
	rv->proto = UPSTREAM_ALPN_H2;
	return 0;
}

static void
revalidate_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct revalidate *rv = arg;

	rv->error = "upstream timeout";
	revalidate_free(rv);
}

/* The worker is exiting: whatever still runs is given up. */
void
revalidate_cancel_all(struct revalidate_list *list)
{
	struct revalidate *rv;

	while ((rv = TAILQ_FIRST(list)) != NULL) {
		rv->error = "shutdown";
		revalidate_free(rv);
	}
}

/*
 * The row of a request that was sent: the upstream's status (none when it
 * did not answer), why it ended early if it did, the body bytes read.
 */
static void
revalidate_audit(struct revalidate *rv)
{
	struct audit_record rec = {
		.ts_ms = rv->start_ms,
		.client = rv->client,
		.server = rv->server,
		.sni = rv->sni,
		.host = rv->name,	/* an exchange's row's: no port */
		.method = "GET",
		.path = rv->audit_target ? rv->audit_target : rv->target,
		.status = rv->status,
		.decision = "revalidated",
		.rule_id = rv->rule->id,
		.injected = rv->injected[0] ? rv->injected : NULL,
		.req_bytes = 0,
		.resp_bytes = (int64_t)rv->body.payload,
		.duration_ms = util_mono_ms() - rv->start_mono,
		.error = rv->error,
		.upstream_proto = rv->proto,
	};

	audit_submit(rv->env->audit, &rec);
	counters_request(rv->env->counters, COUNTERS_REVALIDATED, rec.status,
	    rec.rule_id, NULL);
}

static void
revalidate_free(struct revalidate *rv)
{
	if (rv->audited)
		revalidate_audit(rv);
	TAILQ_REMOVE(rv->env->revalidating, rv, entry);
	cache_fill_abort(rv->fill);
	if (rv->h2 != NULL)
		h2up_detach(rv->h2, rv->h2_id);
	upstream_free(rv->env, rv->sock);
	if (rv->timer != NULL)
		event_free(rv->timer);
	cache_entry_release_claim(rv->e);
	cache_entry_unref(rv->e);
	rules_snapshot_unref(rv->rules);
	msg_free(&rv->req);
	free(rv->target);
	free(rv->authority);
	free(rv->client);
	free(rv->server);
	free(rv->sni);
	free(rv->name);
	free(rv->audit_target);
	free(rv);
}
