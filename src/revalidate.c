/*
 * revalidate.c - a cache entry's background revalidation
 * (stale-while-revalidate, RFC 5861, 3).
 *
 * Owns one upstream request that no client waits for: the client that
 * found the entry stale was answered from it at once.  The request is the
 * client's, written by inject.c with the rule's credentials (and the
 * entry's validators, which is why a client's own conditional or Range
 * request is not used), on a new connection verified like any other.  A
 * 304 refreshes the entry, a storable response replaces it, anything else
 * leaves it to go stale.  Nothing here is sent to a client; the request is
 * audited like any other sluice sends upstream with a rule's credentials,
 * as its own row (decision 'revalidated'), when it ends.
 *
 * One at a time per entry: cache_entry_claim() is taken before the
 * request and released when it ends, whatever the outcome.  The request
 * is bounded by --upstream-timeout for each read and write.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/time.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "audit.h"
#include "cache.h"
#include "config.h"
#include "counters.h"
#include "dpenv.h"
#include "h1codec.h"
#include "http1.h"
#include "inject.h"
#include "log.h"
#include "revalidate.h"
#include "rules.h"
#include "sock.h"
#include "upstream.h"
#include "util.h"

struct revalidate {
	TAILQ_ENTRY(revalidate) entry;		/* in env->revalidating */
	const struct dp_env *env;
	struct sock	*sock;
	struct event	*timer;		/* --upstream-timeout per wait */
	struct cache_entry *e;		/* claimed and referenced */
	struct rules_snapshot *rules;	/* keeps rule alive */
	const struct rule *rule;
	struct msg	 req;		/* the client's request, no
					   credentials */
	char		*target;	/* its path, to audit */
	char		*host;
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
	struct http1_body body;
	struct cache_fill *fill;	/* NULL until a storable head came */
};

static void	revalidate_read(struct sock *, void *);
static void	revalidate_event(struct sock *, short, void *);
static void	revalidate_timeout(evutil_socket_t, short, void *);
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

int
revalidate_start(const struct dp_env *env, const struct sockaddr *addr,
    socklen_t addrlen, const char *sni, const char *verify_name,
    struct cache_entry *e, struct rules_snapshot *rules,
    const struct rule *rule, const char *host, const struct msg *req,
    int client_auth, const char *client, const char *server)
{
	struct revalidate *rv;
	struct timeval tv = { env->cfg->upstream_timeout, 0 };
	const char *validators = cache_entry_validators(e);

	if (!revalidate_usable(req))
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
	if (msg_clone(&rv->req, req) == -1 ||
	    (rv->target = strndup(msg_ptr(req, req->path), req->path.len)) ==
	    NULL ||
	    (rv->host = strdup(host)) == NULL ||
	    (rv->client = strdup(client)) == NULL ||
	    (rv->server = strdup(server)) == NULL ||
	    (rv->sni = strdup(sni)) == NULL ||
	    (rv->timer = evtimer_new(env->base, revalidate_timeout, rv)) ==
	    NULL ||
	    (rv->sock = upstream_connect_tls(env, addr, addrlen, sni,
	    verify_name)) == NULL)
		goto fail;
	if (inject_write_request(sock_output(rv->sock), &rv->req, 1, rule,
	    rv->conditional ? validators : NULL, &rv->audit_target,
	    rv->injected, sizeof(rv->injected)) == -1)
		goto fail;
	rv->audited = 1;
	sock_setcb(rv->sock, revalidate_read, NULL, revalidate_event, rv);
	event_add(rv->timer, &tv);
	log_event(LOG_DEBUG, "cache_revalidate", "host=%s target=%s", host,
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
	struct timeval tv = { rv->env->cfg->upstream_timeout, 0 };
	int r;

	event_add(rv->timer, &tv);

	if (rv->fill == NULL)
		r = revalidate_head(rv, in);
	else
		r = revalidate_body(rv, in);
	if (r != 0)
		revalidate_free(rv);
}

/*
 * 0: wait for more; 1: done (refreshed, replaced or given up); a storable
 * response goes on with its body.
 */
static int
revalidate_head(struct revalidate *rv, struct evbuffer *in)
{
	struct http1_str get = { "GET", 3 };
	struct http1_head h, rq, as200;
	const struct rule_cache *pol = &rv->rule->cache;
	time_t now = time(NULL);
	int64_t lifetime;
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
	rv->status = h.status;
	if (revalidate_request(rv, &rq) == -1)
		return 1;
	if (h.status == 304 && rv->conditional) {
		as200 = h;
		as200.status = 200;
		lifetime = cache_storable(&rq, &as200, pol, rv->client_auth,
		    now);
		cache_refresh(rv->env->cache, rv->e, &h,
		    lifetime > 0 ? lifetime : 0, now);
		return 1;
	}
	lifetime = cache_storable(&rq, &h, pol, rv->client_auth, now);
	if (lifetime < 0 || h.body == HTTP1_BODY_UNTIL_CLOSE)
		return 1;
	rv->fill = cache_fill_new(rv->env->cache, rv->rule->id, rv->host,
	    &rq, &h, lifetime, pol->max_bytes, rv->sent, now);
	if (rv->fill == NULL)
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

static void
revalidate_event(struct sock *sock, short what, void *arg)
{
	struct revalidate *rv = arg;

	if (what & SOCK_EV_CONNECTED)
		return;
	/* A close, an error or a timeout: what was stored stays. */
	rv->error = rv->status ? "upstream closed during body" :
	    "upstream closed";
	revalidate_free(rv);
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
		.host = rv->host,
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
		.upstream_proto = upstream_proto(rv->sock),
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
	upstream_free(rv->env, rv->sock);
	if (rv->timer != NULL)
		event_free(rv->timer);
	cache_entry_release_claim(rv->e);
	cache_entry_unref(rv->e);
	rules_snapshot_unref(rv->rules);
	msg_free(&rv->req);
	free(rv->target);
	free(rv->host);
	free(rv->client);
	free(rv->server);
	free(rv->sni);
	free(rv->audit_target);
	free(rv);
}
