/*
 * ratelimit_redis.c - rate limits shared by a fleet of gateways, in Redis.
 *
 * Owns each worker's Redis client (hiredis, async, on the worker's event
 * base through hiredis's libevent adapter), the GCRA script and the
 * worker's leased tokens.  Does not own the local buckets (ratelimit.c),
 * nor what a decision does to a request (policy.c), nor the per-request
 * deadline: the caller arms its own timer and collects when it fires.
 *
 * The bucket of a shared limit is a GCRA "theoretical arrival time" kept
 * in Redis under <prefix>rl:<rule id>[:<client>], read and written by one
 * Lua script that takes Redis's TIME, so the gateways' clocks never meet.
 * The script is loaded with SCRIPT LOAD when a connection opens and called
 * with EVALSHA; its SHA-1 is computed here, so requests are pipelined
 * behind the load without waiting for it; NOSCRIPT (a Redis restarted or
 * flushed) loads it again and retries that call once.
 *
 *	           take() while down: LOCAL
 *	   +------+  first take   +------------+  SCRIPT LOAD ok  +----+
 *	   | IDLE | ------------> | CONNECTING | ---------------> | UP |
 *	   +------+               +------------+                  +----+
 *	                             |      ^                       |
 *	              failed, closed |      | backoff timer          | closed, error,
 *	              or no answer   v      |                       | deadline missed
 *	                           +----------+ <-------------------+
 *	                           |  OUTAGE  |  (logged once, until UP again)
 *	                           +----------+
 *
 * A take while IDLE or CONNECTING (not in outage) is sent at once and
 * waits like any other; in OUTAGE it is LOCAL straight away, and the
 * backoff timer probes Redis (connect + SCRIPT LOAD, bounded by
 * RATELIMIT_REDIS_PROBE_MS) until it answers.  A deadline missed by one
 * request is an outage: Redis that is slow for one is slow for all the
 * requests pipelined behind it, and freeing the context answers them all
 * at once (LOCAL) instead of each at its own deadline.
 *
 * A wait is shared by the caller and hiredis: arg is cleared when the
 * caller lets go (collect, abandon), in_redis when hiredis has run the
 * reply callback (with a reply, or NULL when the context is freed), and
 * whichever lets go last frees it.  So a late reply for a request or
 * connection that is gone finds a wait without a caller, and is dropped.
 */
#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <hiredis/adapters/libevent.h>
#include <openssl/evp.h>

#include "config.h"
#include "log.h"
#include "ratelimit_redis.h"
#include "redistls.h"
#include "rules.h"

#define RATELIMIT_REDIS_BACKOFF_MIN	100	/* ms, doubled per failure */
#define RATELIMIT_REDIS_BACKOFF_MAX	2000
#define RATELIMIT_REDIS_PROBE_MS	1000	/* a probe's connect + load */

/*
 * KEYS[1]: the bucket.  ARGV: the emission interval T (ms per token),
 * burst, the longest delay (0: reject), and n, the tokens wanted.
 * Returns {granted, wait_ms}: {k >= 1, 0} pass with k tokens (k < n when
 * fewer are there), {1, w} hold w ms (delay), {0, w} refused for w ms.
 * tat, the time the bucket would be empty again, starts at now (full).
 */
static const char ratelimit_redis_script[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000\n"
    "local T = tonumber(ARGV[1])\n"
    "local tol = T * tonumber(ARGV[2])\n"
    "local maxd = tonumber(ARGV[3])\n"
    "local n = tonumber(ARGV[4])\n"
    "local tat = tonumber(redis.call('GET', KEYS[1])) or now\n"
    "if tat < now then tat = now end\n"
    "local k = math.floor((now + tol - tat) / T + 1e-6)\n"
    "if k > n then k = n end\n"
    "local function put(v)\n"
    "  redis.call('SET', KEYS[1], string.format('%.3f', v), 'PX',\n"
    "    math.ceil(v - now) + 1000)\n"
    "end\n"
    "if k >= 1 then\n"
    "  put(tat + k * T)\n"
    "  return {k, 0}\n"
    "end\n"
    "local w = math.ceil(tat + T - now - tol)\n"
    "if w < 1 then w = 1 end\n"
    "if maxd > 0 and w <= maxd then\n"
    "  put(tat + T)\n"
    "  return {1, w}\n"
    "end\n"
    "return {0, w}\n";

struct ratelimit_redis {
	const struct config	*cfg;
	struct event_base	*base;
	redisAsyncContext	*ac;		/* NULL: IDLE or between probes */
	struct redistls		*tls;		/* --redis-tls: hiredis's way */
	int			 outage;	/* logged; takes are LOCAL */
	int			 erroring;	/* an error reply was logged */
	int			 backoff_ms;
	struct event		*retry;		/* backoff, then probe timeout */
	char			 sha[41];	/* of ratelimit_redis_script */
	uint64_t		 outages;
	struct ratelimit_lease	 leases[RATELIMIT_REDIS_LEASES];
};

struct ratelimit_redis_wait {
	struct ratelimit_redis	*rr;
	void			(*done)(void *);
	void			*arg;		/* NULL: the caller let go */
	int			 in_redis;	/* a reply callback is due */
	int			 answered;
	int64_t			 wait_ms;
	int			 retried;	/* after NOSCRIPT */
	int64_t			 rule_id;
	char			 client[INET6_ADDRSTRLEN];	/* "": per rule */
	int			 lease;		/* tokens asked for */
	double			 lifetime_ms;	/* of leftover tokens */
	char			 key[RATELIMIT_REDIS_KEYMAX];
	char			 interval[32], burst[16], maxdelay[16], n[16];
};

static int	ratelimit_redis_connect(struct ratelimit_redis *);
static void	ratelimit_redis_down(struct ratelimit_redis *, const char *);
static int	ratelimit_redis_send(struct ratelimit_redis *,
		    struct ratelimit_redis_wait *);
static void	ratelimit_redis_reply(redisAsyncContext *, void *, void *);
static void	ratelimit_redis_finish(struct ratelimit_redis_wait *);
static void	ratelimit_redis_retry(evutil_socket_t, short, void *);

struct ratelimit_redis *
ratelimit_redis_new(const struct config *cfg, struct event_base *base)
{
	struct ratelimit_redis *rr;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen, i;

	if ((rr = calloc(1, sizeof(*rr))) == NULL) {
		log_warn("redis: calloc");
		return NULL;
	}
	rr->cfg = cfg;
	rr->base = base;
	rr->backoff_ms = RATELIMIT_REDIS_BACKOFF_MIN;
	if ((rr->retry = evtimer_new(base, ratelimit_redis_retry, rr)) ==
	    NULL ||
	    EVP_Digest(ratelimit_redis_script, strlen(ratelimit_redis_script),
	    md, &mdlen, EVP_sha1(), NULL) != 1) {
		log_warnx("redis: cannot set up the client");
		ratelimit_redis_free(rr);
		return NULL;
	}
	for (i = 0; i < mdlen && i < 20; i++)
		snprintf(rr->sha + 2 * i, 3, "%02x", md[i]);
	return rr;
}

void
ratelimit_redis_free(struct ratelimit_redis *rr)
{
	redisAsyncContext *ac;

	if (rr == NULL)
		return;
	if ((ac = rr->ac) != NULL) {
		rr->ac = NULL;
		redisAsyncFree(ac);
	}
	redistls_free(rr->tls);
	if (rr->retry != NULL)
		event_free(rr->retry);
	free(rr);
}

uint64_t
ratelimit_redis_outages(const struct ratelimit_redis *rr)
{
	return rr->outages;
}

/* ---- pure parts ---- */

int
ratelimit_redis_key(char *buf, size_t len, const char *prefix,
    int64_t rule_id, const char *client)
{
	int n;

	if (client != NULL)
		n = snprintf(buf, len, "%srl:%lld:%s", prefix,
		    (long long)rule_id, client);
	else
		n = snprintf(buf, len, "%srl:%lld", prefix, (long long)rule_id);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/*
 * The same requests over fleet times the period: rate / fleet exactly;
 * the burst shrinks with it, keeping at least one token.
 */
void
ratelimit_redis_local_limit(const struct rule_limit *shared, int fleet,
    struct rule_limit *local)
{
	int64_t per = (int64_t)shared->per_seconds * (fleet > 1 ? fleet : 1);

	*local = *shared;
	if (fleet <= 1)
		return;
	local->per_seconds = per > INT32_MAX ? INT32_MAX : (int)per;
	local->burst = (shared->burst + fleet - 1) / fleet;
}

static size_t
ratelimit_lease_slot(size_t n, int64_t rule_id, const char *client)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ (uint64_t)rule_id;
	const unsigned char *p;

	h *= 0x100000001b3ULL;
	for (p = (const unsigned char *)client; *p != '\0'; p++)
		h = (h ^ *p) * 0x100000001b3ULL;
	return (size_t)(h % n);
}

int
ratelimit_lease_take(struct ratelimit_lease *t, size_t n, int64_t rule_id,
    const char *client, double now_ms)
{
	struct ratelimit_lease *l = &t[ratelimit_lease_slot(n, rule_id,
	    client)];

	if (!l->used || l->rule_id != rule_id ||
	    strcmp(l->client, client) != 0 || l->tokens <= 0)
		return 0;
	if (now_ms >= l->expires_ms) {
		l->tokens = 0;
		return 0;
	}
	l->tokens--;
	return 1;
}

void
ratelimit_lease_add(struct ratelimit_lease *t, size_t n, int64_t rule_id,
    const char *client, int tokens, double now_ms, double lifetime_ms)
{
	struct ratelimit_lease *l = &t[ratelimit_lease_slot(n, rule_id,
	    client)];

	if (tokens <= 0)
		return;
	if (!l->used || l->rule_id != rule_id ||
	    strcmp(l->client, client) != 0 || now_ms >= l->expires_ms) {
		l->used = 1;
		l->rule_id = rule_id;
		snprintf(l->client, sizeof(l->client), "%s", client);
		l->tokens = 0;
	}
	l->tokens += tokens;
	l->expires_ms = now_ms + lifetime_ms;
}

/* ---- the client ---- */

static double
ratelimit_redis_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

enum ratelimit_redis_answer
ratelimit_redis_take(struct ratelimit_redis *rr, const struct rule_limit *lim,
    int64_t rule_id, const char *client, void (*done)(void *), void *arg,
    struct ratelimit_redis_wait **waitp, int64_t *wait_ms)
{
	struct ratelimit_redis_wait *w;
	const char *who = lim->per_client && client != NULL ? client : "";

	*waitp = NULL;
	if (lim->lease > 1 && ratelimit_lease_take(rr->leases,
	    RATELIMIT_REDIS_LEASES, rule_id, who, ratelimit_redis_now())) {
		*wait_ms = 0;
		return RATELIMIT_REDIS_DECIDED;
	}
	if (rr->outage)
		return RATELIMIT_REDIS_LOCAL;
	if (rr->ac == NULL && ratelimit_redis_connect(rr) == -1)
		return RATELIMIT_REDIS_LOCAL;
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		log_warn("redis: calloc");
		return RATELIMIT_REDIS_LOCAL;
	}
	w->rr = rr;
	w->done = done;
	w->arg = arg;
	w->rule_id = rule_id;
	snprintf(w->client, sizeof(w->client), "%s", who);
	w->lease = lim->lease > 1 ? lim->lease : 1;
	w->lifetime_ms = lim->per_seconds * 1000.0;
	if (ratelimit_redis_key(w->key, sizeof(w->key), rr->cfg->redis_prefix,
	    rule_id, who[0] != '\0' ? who : NULL) == -1) {
		free(w);
		return RATELIMIT_REDIS_LOCAL;
	}
	snprintf(w->interval, sizeof(w->interval), "%.6f",
	    lim->per_seconds * 1000.0 / lim->requests);
	snprintf(w->burst, sizeof(w->burst), "%d", lim->burst);
	snprintf(w->maxdelay, sizeof(w->maxdelay), "%d",
	    lim->delay ? lim->max_delay_ms : 0);
	snprintf(w->n, sizeof(w->n), "%d", w->lease);
	if (ratelimit_redis_send(rr, w) == -1) {
		free(w);
		ratelimit_redis_down(rr, "cannot queue a command");
		return RATELIMIT_REDIS_LOCAL;
	}
	*waitp = w;
	return RATELIMIT_REDIS_PENDING;
}

enum ratelimit_redis_answer
ratelimit_redis_collect(struct ratelimit_redis *rr,
    struct ratelimit_redis_wait *w, int64_t *wait_ms)
{
	int answered = w->answered, missed = w->in_redis;

	*wait_ms = w->wait_ms;
	w->arg = NULL;
	w->done = NULL;
	if (!w->in_redis)
		free(w);
	/* After the free: freeing the context runs w's callback. */
	if (missed && !rr->outage) {
		char why[64];

		snprintf(why, sizeof(why), "no answer within %d ms",
		    rr->cfg->redis_timeout_ms);
		ratelimit_redis_down(rr, why);
	}
	return answered ? RATELIMIT_REDIS_DECIDED : RATELIMIT_REDIS_LOCAL;
}

void
ratelimit_redis_abandon(struct ratelimit_redis_wait *w)
{
	w->arg = NULL;
	w->done = NULL;
	if (!w->in_redis)
		free(w);
}

static int
ratelimit_redis_send(struct ratelimit_redis *rr, struct ratelimit_redis_wait *w)
{
	const char *argv[] = { "EVALSHA", rr->sha, "1", w->key, w->interval,
	    w->burst, w->maxdelay, w->n };

	if (redisAsyncCommandArgv(rr->ac, ratelimit_redis_reply, w,
	    sizeof(argv) / sizeof(argv[0]), argv, NULL) != REDIS_OK)
		return -1;
	w->in_redis = 1;
	return 0;
}

/* The caller learns of its answer from its own event, never from here. */
static void
ratelimit_redis_finish(struct ratelimit_redis_wait *w)
{
	if (w->done != NULL)
		w->done(w->arg);
	else
		free(w);
}

/* {granted, wait_ms}, as the script returns it; -1 if it is not that. */
static int
ratelimit_redis_parse(const redisReply *reply, long long *granted,
    long long *wait)
{
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
	    reply->element[0]->type != REDIS_REPLY_INTEGER ||
	    reply->element[1]->type != REDIS_REPLY_INTEGER)
		return -1;
	*granted = reply->element[0]->integer;
	*wait = reply->element[1]->integer;
	return 0;
}

static void ratelimit_redis_loaded(redisAsyncContext *, void *, void *);

static void
ratelimit_redis_reply(redisAsyncContext *ac, void *r, void *privdata)
{
	struct ratelimit_redis_wait *w = privdata;
	struct ratelimit_redis *rr = w->rr;
	const redisReply *reply = r;
	long long granted, wait;
	int keep;

	w->in_redis = 0;
	if (reply == NULL) {			/* the context is going */
		ratelimit_redis_finish(w);
		return;
	}
	if (reply->type == REDIS_REPLY_ERROR && !w->retried &&
	    strncmp(reply->str, "NOSCRIPT", 8) == 0 && ac == rr->ac) {
		w->retried = 1;
		if (redisAsyncCommand(ac, ratelimit_redis_loaded, rr,
		    "SCRIPT LOAD %s", ratelimit_redis_script) == REDIS_OK &&
		    ratelimit_redis_send(rr, w) == 0)
			return;
	}
	if (ratelimit_redis_parse(reply, &granted, &wait) == -1) {
		if (!rr->erroring)
			log_warnx("redis: %s:%d: unexpected answer (%.80s); "
			    "shared limits decided locally until it answers "
			    "well", rr->cfg->redis_host, rr->cfg->redis_port,
			    reply->type == REDIS_REPLY_ERROR ? reply->str :
			    "not {granted, wait}");
		rr->erroring = 1;
		ratelimit_redis_finish(w);
		return;
	}
	if (rr->erroring)
		log_info("redis: %s:%d: answers well again",
		    rr->cfg->redis_host, rr->cfg->redis_port);
	rr->erroring = 0;
	w->answered = 1;
	if (granted <= 0)
		w->wait_ms = wait > 0 ? wait : 1;
	else
		w->wait_ms = wait > 0 ? -wait : 0;
	/* Leftover leased tokens, and all of them for a caller gone. */
	keep = granted > 0 && w->wait_ms == 0 ? (int)granted -
	    (w->done != NULL) : 0;
	if (w->lease > 1)
		ratelimit_lease_add(rr->leases, RATELIMIT_REDIS_LEASES,
		    w->rule_id, w->client, keep, ratelimit_redis_now(),
		    w->lifetime_ms);
	ratelimit_redis_finish(w);
}

/* SCRIPT LOAD answered: the connection is UP (again). */
static void
ratelimit_redis_loaded(redisAsyncContext *ac, void *r, void *privdata)
{
	struct ratelimit_redis *rr = privdata;
	const redisReply *reply = r;

	if (reply == NULL || ac != rr->ac)
		return;
	if (reply->type != REDIS_REPLY_STRING ||
	    strcmp(reply->str, rr->sha) != 0) {
		ratelimit_redis_down(rr, reply->type == REDIS_REPLY_ERROR ?
		    reply->str : "SCRIPT LOAD gave another SHA-1");
		return;
	}
	if (rr->outage)
		log_info("redis: %s:%d: answers again; shared limits decided "
		    "by Redis", rr->cfg->redis_host, rr->cfg->redis_port);
	rr->outage = 0;
	rr->backoff_ms = RATELIMIT_REDIS_BACKOFF_MIN;
	evtimer_del(rr->retry);
}

static void
ratelimit_redis_authed(redisAsyncContext *ac, void *r, void *privdata)
{
	struct ratelimit_redis *rr = privdata;
	const redisReply *reply = r;

	/* Redis's message, never the password. */
	if (reply != NULL && ac == rr->ac && reply->type == REDIS_REPLY_ERROR)
		ratelimit_redis_down(rr, "AUTH refused");
}

static void
ratelimit_redis_connected(const redisAsyncContext *ac, int status)
{
	struct ratelimit_redis *rr = ac->data;

	if (status == REDIS_OK || ac != rr->ac)
		return;
	/* hiredis frees the context when this returns. */
	rr->ac = NULL;
	ratelimit_redis_down(rr, ac->errstr[0] ? ac->errstr :
	    "cannot connect");
}

static void
ratelimit_redis_disconnected(const redisAsyncContext *ac, int status)
{
	struct ratelimit_redis *rr = ac->data;

	if (ac != rr->ac)
		return;
	rr->ac = NULL;
	ratelimit_redis_down(rr, status == REDIS_OK || !ac->errstr[0] ?
	    "connection closed" : ac->errstr);
}

static void
ratelimit_redis_retry(evutil_socket_t fd, short what, void *arg)
{
	struct ratelimit_redis *rr = arg;
	struct timeval tv = { RATELIMIT_REDIS_PROBE_MS / 1000,
	    (RATELIMIT_REDIS_PROBE_MS % 1000) * 1000 };

	if (rr->ac != NULL) {
		ratelimit_redis_down(rr, "no answer to the probe");
		return;
	}
	if (ratelimit_redis_connect(rr) == 0)
		evtimer_add(rr->retry, &tv);
}

/*
 * Open the connection (to Redis, or with --redis-tls to the worker's TLS
 * bridge, made at the first connect) and queue AUTH and SCRIPT LOAD;
 * commands queued after them go out once it connects.
 */
static int
ratelimit_redis_connect(struct ratelimit_redis *rr)
{
	const struct config *cfg = rr->cfg;
	redisAsyncContext *ac;

	/* hiredis 0.14 has no TLS: it talks to the bridge, which has. */
	if (cfg->redis_tls && rr->tls == NULL &&
	    (rr->tls = redistls_new(cfg, rr->base)) == NULL) {
		ratelimit_redis_down(rr, "cannot set up the TLS bridge");
		return -1;
	}
	if ((ac = rr->tls != NULL ?
	    redisAsyncConnectUnix(redistls_path(rr->tls)) :
	    redisAsyncConnect(cfg->redis_host, cfg->redis_port)) == NULL) {
		ratelimit_redis_down(rr, "out of memory");
		return -1;
	}
	if (ac->err) {
		char why[128];

		snprintf(why, sizeof(why), "%s", ac->errstr);
		redisAsyncFree(ac);
		ratelimit_redis_down(rr, why);
		return -1;
	}
	ac->data = rr;
	rr->ac = ac;
	if (redisLibeventAttach(ac, rr->base) != REDIS_OK ||
	    redisAsyncSetConnectCallback(ac, ratelimit_redis_connected) !=
	    REDIS_OK ||
	    redisAsyncSetDisconnectCallback(ac, ratelimit_redis_disconnected)
	    != REDIS_OK ||
	    (cfg->redis_password != NULL && redisAsyncCommand(ac,
	    ratelimit_redis_authed, rr, "AUTH %s", cfg->redis_password) !=
	    REDIS_OK) ||
	    redisAsyncCommand(ac, ratelimit_redis_loaded, rr, "SCRIPT LOAD %s",
	    ratelimit_redis_script) != REDIS_OK) {
		ratelimit_redis_down(rr, "cannot set up the connection");
		return -1;
	}
	return 0;
}

/*
 * Redis failed: log it once per outage, drop the connection (its pending
 * callbacks run now, with no reply: their callers decide locally) and
 * probe again after the backoff.
 */
static void
ratelimit_redis_down(struct ratelimit_redis *rr, const char *why)
{
	redisAsyncContext *ac = rr->ac;
	struct timeval tv;

	if (!rr->outage) {
		log_warnx("redis: %s:%d: %s; shared limits decided locally at "
		    "rate/%d until it answers", rr->cfg->redis_host,
		    rr->cfg->redis_port, why, rr->cfg->fleet_size);
		rr->outage = 1;
		rr->outages++;
	}
	rr->ac = NULL;
	if (ac != NULL)
		redisAsyncFree(ac);
	tv.tv_sec = rr->backoff_ms / 1000;
	tv.tv_usec = (rr->backoff_ms % 1000) * 1000;
	evtimer_add(rr->retry, &tv);
	rr->backoff_ms *= 2;
	if (rr->backoff_ms > RATELIMIT_REDIS_BACKOFF_MAX)
		rr->backoff_ms = RATELIMIT_REDIS_BACKOFF_MAX;
}
