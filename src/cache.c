/*
 * cache.c - the shared response cache (RFC 9111, as a shared cache).
 *
 * Owns the stored responses, their keys, their freshness and the byte
 * budget.  Does not own the rule's policy (rules.c loads it, the caller
 * passes it in), nor the wire: the caller sends the stored head with its
 * own Age and Cache-Status, and decides when to look up, fill or
 * invalidate.
 *
 * An entry is one response as a message: its head (status line and
 * end-to-end fields; never hop-by-hop, framing, Alt-Svc or Age fields),
 * its body unframed (a chunked body is decoded as it is copied), and its
 * key.  cache_answer() writes the framing when the entry is served, and
 * turns it into a 304, 206 or 416 when the request asks for that.  The primary key is (rule id, host,
 * target); under one primary key several variants may live side by side,
 * each remembering the request values of the fields its response's Vary
 * names (a missing field is distinct from an empty one).  The variant is a
 * string of records "name\n=value\n" or "name\n!\n" (absent); the parser
 * refuses CR and LF in values, so "\n" cannot occur inside one.
 *
 * Shards are chosen by a seeded hash of host and target only, not the rule
 * id: cache_invalidate must find every rule's entries for a URL, and so
 * finds them all in one shard.  The seed keeps clients, who choose their
 * targets, from aiming them all at one shard or chain.  Small caches get
 * fewer shards, so that a shard can still hold a rule's largest response.
 * Each shard has its own byte budget (max_bytes / nshards), a chained hash
 * table and an LRU list (newest at the head); eviction never crosses a
 * shard.  An entry costs its struct, key, head, body and validator string.
 *
 * Locking: the shard mutex guards the shard and the links of the entries
 * in it (chain, newer, older, linked).  Everything else in an entry is
 * written before it is linked and never again, so a reader that took a
 * reference under the mutex reads it with the mutex released.  refcnt is
 * atomic; the shard's link is one reference, and whoever drops the last
 * one frees the entry, always outside the mutex.  cache_refresh therefore
 * never edits an entry: it builds a new one and swaps it for the old one,
 * which lives on until its last reader lets go.  Entries never point back
 * at the cache, so readers may outlive cache_free.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cache.h"
#include "http1.h"
#include "log.h"
#include "mask.h"
#include "rules.h"

#define CACHE_SHARDS		16		/* at most; a power of two */
/* Fewer shards rather than shards too small for a 1 MiB response. */
#define CACHE_SHARD_MIN		(4U << 20)
#define CACHE_CHAINS_MIN	64		/* a power of two */
#define CACHE_DELTA_MAX		2147483648LL	/* RFC 9111, 1.2.2 */

struct cache_entry {
	_Atomic unsigned refcnt;	/* the shard's link is one */

	/* Under the shard mutex. */
	struct cache_entry *chain;	/* next in the hash chain */
	struct cache_entry *newer;	/* LRU neighbours */
	struct cache_entry *older;
	int		 linked;

	/* Written before the entry is linked, then never. */
	uint64_t	 hash;		/* of host and target */
	int64_t		 rule_id;
	char		*key;		/* host NUL target NUL variant NUL */
	size_t		 keylen;	/* all of it, NULs included */
	size_t		 hostlen;
	const char	*target;	/* in key */
	size_t		 targetlen;
	const char	*variant;	/* in key */
	char		*data;		/* head, then body */
	size_t		 headlen;
	size_t		 bodylen;
	char		*validators;	/* "" without any */
	int		 status;
	time_t		 stored;	/* resident time counts from here */
	int64_t		 initial_age;	/* RFC 9111, 4.2.3, corrected */
	int64_t		 lifetime;
	int64_t		 sie;		/* stale-if-error window, or 0 */
	int64_t		 swr;		/* stale-while-revalidate window, or 0 */
	int		 stale_ok;	/* may be served stale (max-stale, 5861) */
	size_t		 size;		/* charged to the shard's budget */

	_Atomic int	 claimed;	/* a background revalidation runs */
};

struct cache_flight {
	struct cache_flight *next;
	struct cache_shard *shard;
	int64_t		 rule_id;
	uint64_t	 hash;
	char		*host;
	char		*target;
	size_t		 target_len;
	struct cache_waiter *waiters;
};

struct cache_shard {
	pthread_mutex_t	 mtx;
	struct cache_flight *flights;	/* misses being fetched, few */
	struct cache_entry **chains;
	size_t		 nchains;	/* a power of two */
	size_t		 nentries;
	size_t		 bytes;
	struct cache_entry *newest;
	struct cache_entry *oldest;
} __attribute__((aligned(64)));

struct cache {
	struct cache_shard *shards;
	unsigned	 nshards;
	unsigned	 nmutexes;	/* initialised, for _free */
	size_t		 shard_budget;
	uint64_t	 seed;
};

/* Decoding a chunked body (framing that http1.c has already checked). */
enum cache_chunk {
	CACHE_CH_SIZE = 0,	/* hex digits of a chunk size */
	CACHE_CH_EXT,		/* the rest of the size line */
	CACHE_CH_DATA,
	CACHE_CH_DATA_END,	/* the CRLF after the data */
	CACHE_CH_TRAILER,	/* at the start of a trailer line */
	CACHE_CH_TRAILER_LINE,
	CACHE_CH_DONE,
};

struct cache_fill {
	struct cache	*cache;
	struct cache_entry *e;		/* not linked yet */
	size_t		 cap;		/* bytes allocated at e->data */
	size_t		 limit;		/* head + body may not exceed it */
	int		 over;
	int		 chunked;
	enum cache_chunk cstate;
	uint64_t	 cleft;		/* size, then bytes left, of a chunk */
	const struct mask_set *mask;	/* starred in the body when whole */
};

/* A growing string for building keys and heads. */
struct cache_buf {
	char		*p;
	size_t		 len;
	size_t		 cap;
};

static uint64_t	cache_hash(uint64_t, const char *, size_t, const char *,
		    size_t);
static struct cache_shard *cache_shard_of(struct cache *, uint64_t);
static int	cache_key_is(const struct cache_entry *, int64_t,
		    const char *, size_t, const char *, size_t);
static void	cache_link(struct cache_shard *, struct cache_entry *);
static void	cache_unlink(struct cache_shard *, struct cache_entry *);
static void	cache_lru_touch(struct cache_shard *, struct cache_entry *);
static void	cache_chains_grow(struct cache_shard *);
static void	cache_insert(struct cache *, struct cache_entry *,
		    struct cache_entry *);
static void	cache_release(struct cache_entry *);
static void	cache_entry_free(struct cache_entry *);
static int	cache_method_is(struct http1_str, const char *);
static int	cache_cc_get(const struct http1_head *, const char *,
		    struct http1_str *);
static int64_t	cache_delta(struct http1_str);
static int	cache_digits(const char *, size_t, int *);
static int	cache_month(const char *);
static int	cache_date(struct http1_str, time_t *);
static int	cache_field_eq(const struct http1_head *, const char *,
		    size_t, const char *, size_t);
static int	cache_variant_build(struct cache_buf *,
		    const struct http1_head *, const struct http1_head *);
static int	cache_variant_match(const char *, const struct http1_head *);
static int	cache_list_next(const char **, const char *, struct http1_str *);
struct cache_field_iter;
static int	cache_field_next(struct cache_field_iter *, struct http1_str *);
static int	cache_variant_value(struct cache_buf *, const struct http1_head *,
		    const char *, size_t);
static int	cache_head_field(const char *, size_t, const char *,
		    struct http1_str *);
static char	*cache_validators_new(const char *, size_t);
static int	cache_refresh_keeps(struct http1_str);
static int	cache_buf_add(struct cache_buf *, const char *, size_t);
static int	cache_head_build(struct cache_buf *, const struct http1_head *);
static void	cache_stale_windows(struct cache_entry *,
		    const struct http1_head *);
static int	cache_req_revalidate(const struct http1_head *, int64_t,
		    int64_t);
static int	cache_req_max_stale(const struct http1_head *,
		    const struct cache_entry *, int64_t);
static int	cache_fill_put(struct cache_fill *, const char *, size_t);
static int	cache_fill_unchunk(struct cache_fill *, const char *, size_t);
static int	cache_heuristic_status(int);
static int	cache_status_understood(int);
static int	cache_not_modified(const struct cache_entry *,
		    const struct http1_head *);
static int	cache_if_range(const struct cache_entry *,
		    const struct http1_head *);
static int	cache_fields_add(struct cache_buf *, const struct cache_entry *,
		    int);
static int	cache_304_field(const char *, size_t);

struct cache *
cache_new(size_t max_bytes)
{
	struct cache *c;
	unsigned i;
	int error;

	if (max_bytes == 0) {
		log_event(LOG_WARN, "cache_init_failed", "err=%s",
		    "max_bytes must be above 0");
		return NULL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_event(LOG_WARN, "cache_alloc_failed",
		    "call=calloc err=%s", strerror(errno));
		return NULL;
	}
	c->nshards = CACHE_SHARDS;
	while (c->nshards > 1 && max_bytes / c->nshards < CACHE_SHARD_MIN)
		c->nshards /= 2;
	c->shard_budget = max_bytes / c->nshards;
	arc4random_buf(&c->seed, sizeof(c->seed));
	if ((error = posix_memalign((void **)&c->shards,
	    _Alignof(struct cache_shard),
	    c->nshards * sizeof(*c->shards))) != 0) {
		errno = error;
		log_event(LOG_WARN, "cache_alloc_failed",
		    "call=posix_memalign err=%s", strerror(errno));
		goto fail;
	}
	memset(c->shards, 0, c->nshards * sizeof(*c->shards));
	for (i = 0; i < c->nshards; i++) {
		c->shards[i].nchains = CACHE_CHAINS_MIN;
		c->shards[i].chains = calloc(CACHE_CHAINS_MIN,
		    sizeof(*c->shards[i].chains));
		if (c->shards[i].chains == NULL) {
			log_event(LOG_WARN, "cache_alloc_failed",
			    "call=calloc err=%s", strerror(errno));
			goto fail;
		}
		if ((error = pthread_mutex_init(&c->shards[i].mtx,
		    NULL)) != 0) {
			free(c->shards[i].chains);
			c->shards[i].chains = NULL;
			errno = error;
			log_event(LOG_WARN, "cache_alloc_failed",
			    "call=pthread_mutex_init err=%s", strerror(errno));
			goto fail;
		}
		c->nmutexes++;
	}
	return c;

fail:
	cache_free(c);
	return NULL;
}

void
cache_free(struct cache *c)
{
	struct cache_shard *shard;
	struct cache_entry *e;
	unsigned i;

	if (c == NULL)
		return;
	for (i = 0; i < c->nmutexes; i++) {
		shard = &c->shards[i];
		while ((e = shard->oldest) != NULL) {
			cache_unlink(shard, e);
			cache_entry_unref(e);
		}
		free(shard->chains);
		pthread_mutex_destroy(&shard->mtx);
	}
	free(c->shards);
	free(c);
}

/*
 * Does req carry a field that upstream frameworks build an answer from
 * but the key does not hold?  Django, Rails, Symfony, Spring and Express
 * (behind "trust proxy") take the host, scheme, port and prefix of the
 * links and redirects they write from these; Symfony, Zend and IIS route
 * by the path overrides, many APIs by the method overrides.  Stored under
 * the clean request's key, such an answer (a Location or a script URL on
 * evil.test) would be served to every client of the rule: web cache
 * poisoning.  X-Forwarded-For and X-Real-IP name a client, not the URL,
 * and are left out.
 */
static int
cache_request_unkeyed(const struct http1_head *req)
{
	static const char *const names[] = {
		/* the host */
		"x-forwarded-host", "x-forwarded-server", "x-host",
		"x-http-host-override", "x-original-host", "forwarded",
		/* the scheme and port */
		"x-forwarded-proto", "x-forwarded-scheme", "x-forwarded-port",
		"x-forwarded-ssl", "front-end-https", "x-url-scheme",
		/* the path */
		"x-forwarded-prefix", "x-original-url", "x-rewrite-url",
		/* the method */
		"x-http-method-override", "x-http-method", "x-method-override",
	};
	size_t k;

	for (k = 0; k < sizeof(names) / sizeof(names[0]); k++)
		if (http1_find(req, names[k]) != NULL)
			return 1;
	return 0;
}

int
cache_request_bypass(const struct http1_head *req)
{
	struct http1_str v;

	if (!cache_method_is(req->method, "GET") &&
	    !cache_method_is(req->method, "HEAD"))
		return 1;
	return cache_cc_get(req, "no-store", &v) || cache_request_unkeyed(req);
}

int
cache_request_only_if_cached(const struct http1_head *req)
{
	struct http1_str v;

	return cache_cc_get(req, "only-if-cached", &v);
}

void
cache_stats(struct cache *c, uint64_t *entries, uint64_t *bytes)
{
	unsigned i;

	*entries = *bytes = 0;
	for (i = 0; i < c->nshards; i++) {
		pthread_mutex_lock(&c->shards[i].mtx);
		*entries += c->shards[i].nentries;
		*bytes += c->shards[i].bytes;
		pthread_mutex_unlock(&c->shards[i].mtx);
	}
}

enum cache_lookup
cache_lookup(struct cache *c, int64_t rule_id, const char *host,
    const struct http1_head *req, time_t now, struct cache_entry **entry,
    int64_t *age)
{
	struct cache_shard *shard;
	struct cache_entry *e;
	size_t hostlen = strlen(host);
	uint64_t h;
	int64_t a;

	*entry = NULL;
	*age = 0;
	if (!cache_method_is(req->method, "GET") &&
	    !cache_method_is(req->method, "HEAD"))
		return CACHE_MISS;
	h = cache_hash(c->seed, host, hostlen, req->target.p, req->target.len);
	shard = cache_shard_of(c, h);
	pthread_mutex_lock(&shard->mtx);
	for (e = shard->chains[h & (shard->nchains - 1)]; e != NULL;
	    e = e->chain) {
		if (e->hash == h && cache_key_is(e, rule_id, host, hostlen,
		    req->target.p, req->target.len) &&
		    cache_variant_match(e->variant, req))
			break;
	}
	if (e != NULL) {
		atomic_fetch_add_explicit(&e->refcnt, 1, memory_order_relaxed);
		cache_lru_touch(shard, e);
	}
	pthread_mutex_unlock(&shard->mtx);
	if (e == NULL)
		return CACHE_MISS;

	a = cache_entry_age(e, now);
	*entry = e;
	*age = a;
	if (!cache_req_revalidate(req, a, e->lifetime)) {
		if (a < e->lifetime || cache_req_max_stale(req, e, a))
			return CACHE_FRESH;
		if (a - e->lifetime < e->swr)
			return CACHE_STALE_SWR;
	}
	if (e->validators[0] != '\0' || cache_entry_on_error(e, now))
		return CACHE_STALE;
	cache_entry_unref(e);
	*entry = NULL;
	*age = 0;
	return CACHE_MISS;
}

const char *
cache_entry_head(const struct cache_entry *e, size_t *len)
{
	*len = e->headlen;
	return e->data;
}

const char *
cache_entry_body(const struct cache_entry *e, size_t *len)
{
	*len = e->bodylen;
	return e->data + e->headlen;
}

int
cache_entry_status(const struct cache_entry *e)
{
	return e->status;
}

uint64_t
cache_entry_payload(const struct cache_entry *e)
{
	return e->bodylen;
}

const char *
cache_entry_validators(const struct cache_entry *e)
{
	return e->validators;
}

void
cache_entry_ref(struct cache_entry *e)
{
	atomic_fetch_add_explicit(&e->refcnt, 1, memory_order_relaxed);
}

void
cache_entry_unref(struct cache_entry *e)
{
	if (e == NULL)
		return;
	if (atomic_fetch_sub_explicit(&e->refcnt, 1,
	    memory_order_acq_rel) == 1)
		cache_entry_free(e);
}

int
cache_entry_on_error(const struct cache_entry *e, time_t now)
{
	int64_t a = cache_entry_age(e, now);

	return a >= e->lifetime && a - e->lifetime < e->sie;
}

int
cache_entry_claim(struct cache_entry *e)
{
	return atomic_exchange(&e->claimed, 1) == 0;
}

void
cache_entry_release_claim(struct cache_entry *e)
{
	atomic_store(&e->claimed, 0);
}

int
cache_answer(const struct cache_entry *e, const struct http1_head *req,
    struct cache_answer *a)
{
	struct cache_buf b = { NULL, 0, 0 };
	const struct http1_header *f;
	enum cache_range range = CACHE_RANGE_NONE;
	uint64_t first = 0, last = 0;
	int head_only = cache_method_is(req->method, "HEAD");
	char line[160];

	memset(a, 0, sizeof(*a));
	a->status = e->status;
	/* Preconditions only stand for what would be a 2xx (RFC 9110, 13.2.1). */
	if (e->status >= 200 && e->status < 300 && cache_not_modified(e, req))
		a->status = 304;
	else if (e->status == 200 && !head_only &&
	    (f = http1_find(req, "range")) != NULL && cache_if_range(e, req))
		range = cache_range_parse(f->value, e->bodylen, &first, &last);

	if (a->status == 304) {
		if (cache_buf_add(&b, "HTTP/1.1 304 Not Modified\r\n", 27) == -1 ||
		    cache_fields_add(&b, e, 1) == -1)
			goto fail;
	} else if (range == CACHE_RANGE_UNSAT) {
		a->status = 416;
		snprintf(line, sizeof(line), "HTTP/1.1 416 Range Not "
		    "Satisfiable\r\nContent-Range: bytes */%zu\r\n"
		    "Content-Length: 0\r\n", e->bodylen);
		if (cache_buf_add(&b, line, strlen(line)) == -1)
			goto fail;
	} else if (range == CACHE_RANGE_OK) {
		a->status = 206;
		a->body = e->data + e->headlen + first;
		a->bodylen = last - first + 1;
		snprintf(line, sizeof(line), "Content-Range: bytes %llu-%llu/%zu"
		    "\r\nContent-Length: %zu\r\n", (unsigned long long)first,
		    (unsigned long long)last, e->bodylen, a->bodylen);
		if (cache_buf_add(&b, "HTTP/1.1 206 Partial Content\r\n",
		    30) == -1 || cache_fields_add(&b, e, 0) == -1 ||
		    cache_buf_add(&b, line, strlen(line)) == -1)
			goto fail;
	} else {
		if (cache_buf_add(&b, e->data, e->headlen) == -1)
			goto fail;
		/* RFC 9110, 8.6: never a Content-Length on a 204. */
		if (e->status != 204) {
			snprintf(line, sizeof(line), "Content-Length: %zu\r\n",
			    e->bodylen);
			if (cache_buf_add(&b, line, strlen(line)) == -1)
				goto fail;
		}
		if (!head_only) {
			a->body = e->data + e->headlen;
			a->bodylen = e->bodylen;
		}
	}
	a->head = b.p;
	a->headlen = b.len;
	return 0;

fail:
	free(b.p);
	memset(a, 0, sizeof(*a));
	return -1;
}

enum cache_range
cache_range_parse(struct http1_str v, uint64_t len, uint64_t *first,
    uint64_t *last)
{
	const char *p = v.p, *end = v.p + v.len;
	uint64_t a = 0, z = 0;
	int na = 0, nz = 0;

	if (v.len < 6 || strncasecmp(p, "bytes=", 6) != 0)
		return CACHE_RANGE_NONE;
	p += 6;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	/* Several ranges: the whole representation is a valid answer. */
	if (memchr(p, ',', end - p) != NULL)
		return CACHE_RANGE_NONE;
	for (; p < end && *p >= '0' && *p <= '9'; p++, na++)
		a = a > UINT64_MAX / 10 - 9 ? UINT64_MAX : a * 10 + (*p - '0');
	if (p == end || *p != '-')
		return CACHE_RANGE_NONE;
	for (p++; p < end && *p >= '0' && *p <= '9'; p++, nz++)
		z = z > UINT64_MAX / 10 - 9 ? UINT64_MAX : z * 10 + (*p - '0');
	if (p != end || (na == 0 && nz == 0) || (na > 0 && nz > 0 && z < a))
		return CACHE_RANGE_NONE;
	if (na == 0) {			/* the last z bytes */
		if (z == 0 || len == 0)
			return CACHE_RANGE_UNSAT;
		*first = z >= len ? 0 : len - z;
		*last = len - 1;
		return CACHE_RANGE_OK;
	}
	if (a >= len)
		return CACHE_RANGE_UNSAT;
	*first = a;
	*last = nz == 0 || z >= len ? len - 1 : z;
	return CACHE_RANGE_OK;
}

int
cache_etag_match(struct http1_str list, struct http1_str etag, int strong)
{
	const char *p = list.p, *end = list.p + list.len, *q, *tag;
	struct http1_str want = etag;
	int weak, want_weak = 0;

	if (want.len > 2 && memcmp(want.p, "W/", 2) == 0) {
		want.p += 2;
		want.len -= 2;
		want_weak = 1;
	}
	while (p < end) {
		while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
			p++;
		if (p == end)
			break;
		if (*p == '*')		/* any current representation */
			return !strong;
		weak = end - p > 2 && memcmp(p, "W/", 2) == 0;
		tag = weak ? p + 2 : p;
		if (tag >= end || *tag != '"' ||
		    (q = memchr(tag + 1, '"', end - tag - 1)) == NULL)
			return 0;	/* not a list of entity-tags */
		if (etag.len > 0 && (size_t)(q + 1 - tag) == want.len &&
		    memcmp(tag, want.p, want.len) == 0 &&
		    (!strong || (!weak && !want_weak)))
			return 1;
		p = q + 1;
	}
	return 0;
}

int
cache_age_value(const struct http1_head *resp, int64_t *age)
{
	const struct http1_header *f;
	size_t i, j, n = 0;

	*age = 0;
	for (i = 0; i < resp->nheaders; i++) {
		f = &resp->headers[i];
		if (!http1_str_eq(f->name, "age"))
			continue;
		if (++n > 1 || f->value.len == 0)
			return -1;
		for (j = 0; j < f->value.len; j++)
			if (f->value.p[j] < '0' || f->value.p[j] > '9')
				return -1;
		*age = cache_delta(f->value);
	}
	return 0;
}

int64_t
cache_initial_age(const struct http1_head *resp, time_t request_time,
    time_t response_time)
{
	const struct http1_header *f;
	int64_t age_value, apparent = 0, delay = 0, corrected;
	time_t date;

	if (cache_age_value(resp, &age_value) == -1)
		age_value = 0;
	if ((f = http1_find(resp, "date")) != NULL &&
	    cache_date(f->value, &date) == 0 && response_time > date)
		apparent = response_time - date;
	if (response_time > request_time)
		delay = response_time - request_time;
	corrected = age_value + delay;
	return apparent > corrected ? apparent : corrected;
}

int64_t
cache_storable(const struct http1_head *req, const struct http1_head *resp,
    const struct rule_cache *pol, int client_auth, time_t now)
{
	const struct http1_header *f, *date;
	struct http1_str v, star = { "*", 1 };
	time_t expires, served;
	int64_t lifetime, age;
	size_t i;

	int explicit;

	if (!cache_method_is(req->method, "GET"))
		return -1;
	/* A part, or a coding sluice cannot undo, is no whole message. */
	if (resp->status < 200 || resp->status == 206 || resp->status == 304 ||
	    (resp->te.len > 0 && !http1_str_eq(resp->te, "chunked")))
		return -1;
	explicit = cache_cc_get(resp, "s-maxage", &v) ||
	    cache_cc_get(resp, "max-age", &v) ||
	    http1_find(resp, "expires") != NULL;
	if (!explicit && !cache_heuristic_status(resp->status))
		return -1;
	/*
	 * RFC 9111, 5.2.2.3: must-understand stands in for no-store when the
	 * cache knows the status's rules, and forbids storing otherwise.
	 */
	if (cache_cc_get(resp, "must-understand", &v)) {
		if (!cache_status_understood(resp->status))
			return -1;
	} else if (cache_cc_get(resp, "no-store", &v))
		return -1;
	if (cache_cc_get(resp, "private", &v) ||
	    cache_cc_get(req, "no-store", &v))
		return -1;
	/* One client's session, never another's (as nginx and Varnish). */
	if (http1_find(resp, "set-cookie") != NULL)
		return -1;
	for (i = 0; i < resp->nheaders; i++) {
		f = &resp->headers[i];
		if (http1_str_eq(f->name, "vary") &&
		    http1_list_has(f->value, star))
			return -1;
	}
	/* RFC 9111, 3.5: the origin must have allowed sharing it. */
	if (client_auth && !cache_cc_get(resp, "public", &v) &&
	    !cache_cc_get(resp, "s-maxage", &v) &&
	    !cache_cc_get(resp, "must-revalidate", &v))
		return -1;

	if (cache_cc_get(resp, "s-maxage", &v))
		lifetime = cache_delta(v);
	else if (cache_cc_get(resp, "max-age", &v))
		lifetime = cache_delta(v);
	else if ((f = http1_find(resp, "expires")) != NULL) {
		/* Without a Date, the time we got it (RFC 9110, 6.6.1). */
		served = now;
		if ((date = http1_find(resp, "date")) != NULL &&
		    cache_date(date->value, &served) == -1)
			served = now;
		if (cache_date(f->value, &expires) == -1 || expires < served)
			lifetime = 0;
		else
			lifetime = expires - served;
	} else
		lifetime = pol->heuristic ? pol->ttl_seconds : 0;
	if (lifetime > pol->ttl_seconds)
		lifetime = pol->ttl_seconds;
	/*
	 * Stored, but validated on every use (RFC 9111, 5.2.2.4); the form
	 * naming fields gets the same, rather than serving them unchecked.
	 */
	if (cache_cc_get(resp, "no-cache", &v))
		lifetime = 0;
	/* RFC 9111, 5.1: an Age that cannot be read means stale. */
	if (cache_age_value(resp, &age) == -1)
		lifetime = 0;
	if (lifetime == 0 && http1_find(resp, "etag") == NULL &&
	    http1_find(resp, "last-modified") == NULL)
		return -1;
	return lifetime;
}

struct cache_fill *
cache_fill_new(struct cache *c, int64_t rule_id, const char *host,
    const struct http1_head *req, const struct http1_head *resp,
    int64_t lifetime, size_t max_bytes, time_t request_time, time_t now)
{
	struct cache_fill *fill = NULL;
	struct cache_entry *e = NULL;
	struct cache_buf key = { NULL, 0, 0 }, head = { NULL, 0, 0 };
	size_t hostlen = strlen(host), i, fixed;

	if ((fill = calloc(1, sizeof(*fill))) == NULL ||
	    (e = calloc(1, sizeof(*e))) == NULL) {
		log_event(LOG_WARN, "cache_alloc_failed",
		    "call=calloc err=%s", strerror(errno));
		goto fail;
	}
	fill->cache = c;
	fill->e = e;
	atomic_init(&e->refcnt, 1);

	/* The host is matched without case, so it is stored lowercased. */
	if (cache_buf_add(&key, host, hostlen + 1) == -1)
		goto fail;
	for (i = 0; i < hostlen; i++)
		if (key.p[i] >= 'A' && key.p[i] <= 'Z')
			key.p[i] += 'a' - 'A';
	if (cache_buf_add(&key, req->target.p, req->target.len) == -1 ||
	    cache_buf_add(&key, "", 1) == -1 ||
	    cache_variant_build(&key, req, resp) == -1 ||
	    cache_buf_add(&key, "", 1) == -1)
		goto fail;
	e->key = key.p;
	key.p = NULL;
	e->keylen = key.len;
	e->hostlen = hostlen;
	e->target = e->key + hostlen + 1;
	e->targetlen = req->target.len;
	e->variant = e->target + e->targetlen + 1;
	e->hash = cache_hash(c->seed, host, hostlen, req->target.p,
	    req->target.len);
	e->rule_id = rule_id;
	e->status = resp->status;
	e->stored = now;
	e->lifetime = lifetime;
	e->initial_age = cache_initial_age(resp, request_time, now);
	cache_stale_windows(e, resp);
	fill->chunked = resp->body == HTTP1_BODY_CHUNKED;

	/* Stop copying as soon as it could not be stored anyway. */
	if (cache_head_build(&head, resp) == -1)
		goto fail;
	fixed = sizeof(*e) + e->keylen;
	fill->limit = c->shard_budget > fixed ? c->shard_budget - fixed : 0;
	if (max_bytes < fill->limit)
		fill->limit = max_bytes;
	if (head.len > fill->limit)
		goto fail;
	fill->cap = head.len + 4096 < fill->limit ? head.len + 4096 :
	    fill->limit;
	if ((e->data = realloc(head.p, fill->cap)) == NULL) {
		log_event(LOG_WARN, "cache_alloc_failed",
		    "call=realloc err=%s", strerror(errno));
		goto fail;
	}
	head.p = NULL;
	e->headlen = head.len;
	return fill;

fail:
	free(key.p);
	free(head.p);
	cache_entry_free(e);
	free(fill);
	return NULL;
}

int
cache_fill_append(struct cache_fill *fill, const char *data, size_t len)
{
	if (fill->over)
		return -1;
	if (fill->chunked)
		return cache_fill_unchunk(fill, data, len);
	return cache_fill_put(fill, data, len);
}

/* Copy body bytes as they are. */
static int
cache_fill_put(struct cache_fill *fill, const char *data, size_t len)
{
	struct cache_entry *e = fill->e;
	size_t used = e->headlen + e->bodylen, cap;
	char *p;

	if (fill->over || len > fill->limit - used) {
		fill->over = 1;
		return -1;
	}
	if (len > fill->cap - used) {
		cap = fill->cap;
		while (len > cap - used)
			cap = cap > fill->limit / 2 ? fill->limit : cap * 2;
		if ((p = realloc(e->data, cap)) == NULL) {
			log_event(LOG_WARN, "cache_alloc_failed",
			    "call=realloc err=%s", strerror(errno));
			fill->over = 1;
			return -1;
		}
		e->data = p;
		fill->cap = cap;
	}
	memcpy(e->data + used, data, len);
	e->bodylen += len;
	return 0;
}

/*
 * Decode chunked framing (RFC 9112, 7.1) into the body.  http1.c checked
 * the framing as the bytes went by, so this only has to follow it;
 * trailers are dropped (RFC 9110, 6.5: a cache may discard them).
 */
static int
cache_fill_unchunk(struct cache_fill *fill, const char *data, size_t len)
{
	const char *end = data + len;
	size_t n;
	int d;

	while (data < end) {
		switch (fill->cstate) {
		case CACHE_CH_SIZE:
			d = *data >= '0' && *data <= '9' ? *data - '0' :
			    *data >= 'a' && *data <= 'f' ? *data - 'a' + 10 :
			    *data >= 'A' && *data <= 'F' ? *data - 'A' + 10 :
			    -1;
			if (d >= 0) {
				if (fill->cleft > fill->limit)
					goto over;
				fill->cleft = fill->cleft * 16 + d;
				data++;
				break;
			}
			fill->cstate = CACHE_CH_EXT;
			/* FALLTHROUGH */
		case CACHE_CH_EXT:
			if (*data++ != '\n')
				break;
			fill->cstate = fill->cleft > 0 ? CACHE_CH_DATA :
			    CACHE_CH_TRAILER;
			break;
		case CACHE_CH_DATA:
			n = (size_t)(end - data) < fill->cleft ?
			    (size_t)(end - data) : fill->cleft;
			if (cache_fill_put(fill, data, n) == -1)
				return -1;
			data += n;
			if ((fill->cleft -= n) == 0)
				fill->cstate = CACHE_CH_DATA_END;
			break;
		case CACHE_CH_DATA_END:
			if (*data++ == '\n')
				fill->cstate = CACHE_CH_SIZE;
			break;
		case CACHE_CH_TRAILER:
			if (*data == '\r') {
				data++;
				break;
			}
			fill->cstate = *data++ == '\n' ? CACHE_CH_DONE :
			    CACHE_CH_TRAILER_LINE;
			break;
		case CACHE_CH_TRAILER_LINE:
			if (*data++ == '\n')
				fill->cstate = CACHE_CH_TRAILER;
			break;
		case CACHE_CH_DONE:
			goto over;	/* bytes after the end: not ours */
		}
	}
	return 0;

over:
	fill->over = 1;
	return -1;
}

void
cache_fill_mask(struct cache_fill *fill, const struct mask_set *set)
{
	fill->mask = set;
}

void
cache_fill_commit(struct cache_fill *fill)
{
	struct cache_entry *e = fill->e;
	size_t used = e->headlen + e->bodylen;
	char *p;

	/* Only a whole message is stored. */
	if (fill->over || (fill->chunked && fill->cstate != CACHE_CH_DONE)) {
		cache_fill_abort(fill);
		return;
	}
	if (fill->mask != NULL)
		mask_buf(fill->mask, e->data + e->headlen, e->bodylen);
	/* The budget counts what is held, so give back the slack. */
	if (used > 0 && used < fill->cap &&
	    (p = realloc(e->data, used)) != NULL)
		e->data = p;
	if ((e->validators = cache_validators_new(e->data,
	    e->headlen)) == NULL) {
		cache_fill_abort(fill);
		return;
	}
	e->size = sizeof(*e) + e->keylen + used + strlen(e->validators) + 1;
	if (e->size > fill->cache->shard_budget)
		cache_entry_free(e);
	else
		cache_insert(fill->cache, e, NULL);
	free(fill);
}

void
cache_fill_abort(struct cache_fill *fill)
{
	if (fill == NULL)
		return;
	cache_entry_free(fill->e);
	free(fill);
}

void
cache_refresh(struct cache *c, struct cache_entry *old,
    const struct http1_head *resp304, int64_t lifetime, time_t now)
{
	struct cache_entry *e = NULL;
	struct cache_buf head = { NULL, 0, 0 };
	const struct http1_header *f;
	struct http1_str name;
	const char *p = old->data, *end = old->data + old->headlen, *eol;
	int replaced;
	size_t i;

	if ((e = calloc(1, sizeof(*e))) == NULL) {
		log_event(LOG_WARN, "cache_alloc_failed",
		    "call=calloc err=%s", strerror(errno));
		goto fail;
	}
	atomic_init(&e->refcnt, 1);

	/*
	 * RFC 9111, 3.2: the 304's fields replace the stored ones of the
	 * same name, but never the framing of the body we hold.
	 */
	eol = memchr(p, '\n', end - p);
	if (eol == NULL || cache_buf_add(&head, p, eol + 1 - p) == -1)
		goto fail;
	for (p = eol + 1; p < end; p = eol + 1) {
		if ((eol = memchr(p, '\n', end - p)) == NULL)
			eol = end - 1;
		name.p = p;
		for (name.len = 0; p + name.len < eol &&
		    p[name.len] != ':'; name.len++)
			;
		replaced = 0;
		for (i = 0; i < resp304->nheaders && !replaced; i++) {
			f = &resp304->headers[i];
			replaced = f->name.len == name.len &&
			    strncasecmp(f->name.p, name.p, name.len) == 0 &&
			    !cache_refresh_keeps(f->name) &&
			    !http1_is_hop_field(resp304, f->name);
		}
		if (!replaced && cache_buf_add(&head, p, eol + 1 - p) == -1)
			goto fail;
	}
	for (i = 0; i < resp304->nheaders; i++) {
		f = &resp304->headers[i];
		if (cache_refresh_keeps(f->name) ||
		    http1_is_hop_field(resp304, f->name))
			continue;
		if (cache_buf_add(&head, f->name.p, f->name.len) == -1 ||
		    cache_buf_add(&head, ": ", 2) == -1 ||
		    cache_buf_add(&head, f->value.p, f->value.len) == -1 ||
		    cache_buf_add(&head, "\r\n", 2) == -1)
			goto fail;
	}
	e->headlen = head.len;
	if (cache_buf_add(&head, old->data + old->headlen,
	    old->bodylen) == -1)
		goto fail;
	e->data = head.p;
	head.p = NULL;
	e->bodylen = old->bodylen;

	if ((e->key = malloc(old->keylen)) == NULL) {
		log_event(LOG_WARN, "cache_alloc_failed",
		    "call=malloc err=%s", strerror(errno));
		goto fail;
	}
	memcpy(e->key, old->key, old->keylen);
	e->keylen = old->keylen;
	e->hostlen = old->hostlen;
	e->target = e->key + (old->target - old->key);
	e->targetlen = old->targetlen;
	e->variant = e->key + (old->variant - old->key);
	e->hash = old->hash;
	e->rule_id = old->rule_id;
	e->status = old->status;
	e->stored = now;
	e->lifetime = lifetime;
	e->initial_age = cache_initial_age(resp304, now, now);
	e->sie = old->sie;
	e->swr = old->swr;
	e->stale_ok = old->stale_ok;
	if (http1_find(resp304, "cache-control") != NULL)
		cache_stale_windows(e, resp304);
	if ((e->validators = cache_validators_new(e->data,
	    e->headlen)) == NULL)
		goto fail;
	e->size = sizeof(*e) + e->keylen + e->headlen + e->bodylen +
	    strlen(e->validators) + 1;
	if (e->size > c->shard_budget)
		goto fail;
	cache_insert(c, e, old);
	return;

fail:
	free(head.p);
	cache_entry_free(e);
}

void
cache_invalidate(struct cache *c, const char *host, struct http1_str target)
{
	struct cache_shard *shard;
	struct cache_entry **pp, *e, *drop = NULL;
	size_t hostlen = strlen(host);
	uint64_t h;

	h = cache_hash(c->seed, host, hostlen, target.p, target.len);
	shard = cache_shard_of(c, h);
	pthread_mutex_lock(&shard->mtx);
	pp = &shard->chains[h & (shard->nchains - 1)];
	while ((e = *pp) != NULL) {
		if (e->hash == h && e->hostlen == hostlen &&
		    strncasecmp(e->key, host, hostlen) == 0 &&
		    e->targetlen == target.len &&
		    memcmp(e->target, target.p, target.len) == 0) {
			cache_unlink(shard, e);
			e->chain = drop;
			drop = e;
		} else
			pp = &e->chain;
	}
	pthread_mutex_unlock(&shard->mtx);
	cache_release(drop);
}

/* Seeded FNV-1a over the lowercased host and the target, then mixed. */
static uint64_t
cache_hash(uint64_t seed, const char *host, size_t hostlen,
    const char *target, size_t targetlen)
{
	uint64_t h = seed ^ 0xcbf29ce484222325ULL;
	unsigned char ch;
	size_t i;

	for (i = 0; i < hostlen; i++) {
		ch = host[i];
		if (ch >= 'A' && ch <= 'Z')
			ch += 'a' - 'A';
		h = (h ^ ch) * 0x100000001b3ULL;
	}
	h *= 0x100000001b3ULL;		/* a NUL between host and target */
	for (i = 0; i < targetlen; i++)
		h = (h ^ (unsigned char)target[i]) * 0x100000001b3ULL;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

/* The top bits pick the shard, the bottom ones the chain. */
static struct cache_shard *
cache_shard_of(struct cache *c, uint64_t h)
{
	return &c->shards[(h >> 56) & (c->nshards - 1)];
}

static int
cache_key_is(const struct cache_entry *e, int64_t rule_id, const char *host,
    size_t hostlen, const char *target, size_t targetlen)
{
	return e->rule_id == rule_id && e->hostlen == hostlen &&
	    strncasecmp(e->key, host, hostlen) == 0 &&
	    e->targetlen == targetlen &&
	    memcmp(e->target, target, targetlen) == 0;
}

/* Newest in its chain and in the LRU list.  shard->mtx held. */
static void
cache_link(struct cache_shard *shard, struct cache_entry *e)
{
	struct cache_entry **chain;

	if (shard->nentries >= shard->nchains)
		cache_chains_grow(shard);
	chain = &shard->chains[e->hash & (shard->nchains - 1)];
	e->chain = *chain;
	*chain = e;
	e->older = shard->newest;
	e->newer = NULL;
	if (shard->newest != NULL)
		shard->newest->newer = e;
	else
		shard->oldest = e;
	shard->newest = e;
	shard->nentries++;
	shard->bytes += e->size;
	e->linked = 1;
}

/* shard->mtx held.  The shard's reference passes to the caller. */
static void
cache_unlink(struct cache_shard *shard, struct cache_entry *e)
{
	struct cache_entry **pp;

	for (pp = &shard->chains[e->hash & (shard->nchains - 1)]; *pp != e;
	    pp = &(*pp)->chain)
		;
	*pp = e->chain;
	e->chain = NULL;
	if (e->newer != NULL)
		e->newer->older = e->older;
	else
		shard->newest = e->older;
	if (e->older != NULL)
		e->older->newer = e->newer;
	else
		shard->oldest = e->newer;
	e->newer = e->older = NULL;
	shard->nentries--;
	shard->bytes -= e->size;
	e->linked = 0;
}

/*
 * Move e to the LRU head, leaving its chain alone: a chain keeps the newest
 * response first, which is the one a lookup must find when variants of one
 * URL differ in their Vary.  shard->mtx held.
 */
static void
cache_lru_touch(struct cache_shard *shard, struct cache_entry *e)
{
	if (shard->newest == e)
		return;
	e->newer->older = e->older;
	if (e->older != NULL)
		e->older->newer = e->newer;
	else
		shard->oldest = e->newer;
	e->newer = NULL;
	e->older = shard->newest;
	shard->newest->newer = e;
	shard->newest = e;
}

/*
 * Double the chains when they average one entry each.  Without memory the
 * chains just get longer.  shard->mtx held.
 */
static void
cache_chains_grow(struct cache_shard *shard)
{
	struct cache_entry **chains, **pp, *e, *next;
	size_t n = shard->nchains * 2, i;

	if ((chains = calloc(n, sizeof(*chains))) == NULL)
		return;
	/* Appended, so that each chain keeps its order. */
	for (i = 0; i < shard->nchains; i++) {
		for (e = shard->chains[i]; e != NULL; e = next) {
			next = e->chain;
			for (pp = &chains[e->hash & (n - 1)]; *pp != NULL;
			    pp = &(*pp)->chain)
				;
			e->chain = NULL;
			*pp = e;
		}
	}
	free(shard->chains);
	shard->chains = chains;
	shard->nchains = n;
}

/*
 * Publish e.  With old (a refresh), e takes old's place, unless old has
 * left the cache meanwhile: then it was invalidated, evicted or replaced
 * by a newer response, and e would bring back what is gone.  Without old,
 * e replaces an entry of the same key and variant.  Then the oldest
 * entries make room.
 */
static void
cache_insert(struct cache *c, struct cache_entry *e, struct cache_entry *old)
{
	struct cache_shard *shard = cache_shard_of(c, e->hash);
	struct cache_entry **pp, *o, *drop = NULL;

	pthread_mutex_lock(&shard->mtx);
	if (old != NULL) {
		if (!old->linked) {
			pthread_mutex_unlock(&shard->mtx);
			cache_entry_free(e);
			return;
		}
		cache_unlink(shard, old);
		old->chain = drop;
		drop = old;
	} else {
		pp = &shard->chains[e->hash & (shard->nchains - 1)];
		while ((o = *pp) != NULL) {
			if (o->hash == e->hash && o->rule_id == e->rule_id &&
			    o->keylen == e->keylen &&
			    memcmp(o->key, e->key, e->keylen) == 0) {
				cache_unlink(shard, o);
				o->chain = drop;
				drop = o;
			} else
				pp = &o->chain;
		}
	}
	while (shard->bytes + e->size > c->shard_budget &&
	    (o = shard->oldest) != NULL) {
		cache_unlink(shard, o);
		o->chain = drop;
		drop = o;
	}
	cache_link(shard, e);
	pthread_mutex_unlock(&shard->mtx);
	cache_release(drop);
}

/* Drop the shard's reference to unlinked entries chained on ->chain. */
static void
cache_release(struct cache_entry *e)
{
	struct cache_entry *next;

	for (; e != NULL; e = next) {
		next = e->chain;
		cache_entry_unref(e);
	}
}

static void
cache_entry_free(struct cache_entry *e)
{
	if (e == NULL)
		return;
	free(e->key);
	free(e->data);
	free(e->validators);
	free(e);
}

/* RFC 9111, 4.2.3: the corrected initial age plus the time it has been here. */
int64_t
cache_entry_age(const struct cache_entry *e, time_t now)
{
	int64_t resident = now > e->stored ? (int64_t)(now - e->stored) : 0;

	return e->initial_age + resident;
}

/* Methods are case-sensitive (RFC 9110, 9.1). */
static int
cache_method_is(struct http1_str m, const char *lit)
{
	return m.len == strlen(lit) && memcmp(m.p, lit, m.len) == 0;
}

/*
 * Find directive name in h's Cache-Control fields: 1 and its value (quotes
 * removed, empty without one), or 0.  Directives are comma-separated,
 * names without case, values a token or a quoted string, which may hold
 * commas.
 */
static int
cache_cc_get(const struct http1_head *h, const char *name,
    struct http1_str *value)
{
	const struct http1_header *f;
	const char *p, *end, *n0;
	struct http1_str dname, v;
	size_t i;

	for (i = 0; i < h->nheaders; i++) {
		f = &h->headers[i];
		if (!http1_str_eq(f->name, "cache-control"))
			continue;
		p = f->value.p;
		end = p + f->value.len;
		while (p < end) {
			while (p < end && (*p == ' ' || *p == '\t' ||
			    *p == ','))
				p++;
			for (n0 = p; p < end && *p != '=' && *p != ',' &&
			    *p != ' ' && *p != '\t'; p++)
				;
			dname.p = n0;
			dname.len = p - n0;
			while (p < end && (*p == ' ' || *p == '\t'))
				p++;
			v.p = p;
			v.len = 0;
			if (p < end && *p == '=') {
				p++;
				while (p < end && (*p == ' ' || *p == '\t'))
					p++;
				if (p < end && *p == '"') {
					v.p = ++p;
					while (p < end && *p != '"')
						p += (*p == '\\' && p + 1 < end)
						    ? 2 : 1;
					v.len = p - v.p;
				} else {
					for (v.p = p; p < end && *p != ',' &&
					    *p != ' ' && *p != '\t'; p++)
						;
					v.len = p - v.p;
				}
			}
			while (p < end && *p != ',')
				p++;
			if (dname.len > 0 && http1_str_eq(dname, name)) {
				*value = v;
				return 1;
			}
		}
	}
	return 0;
}

/*
 * delta-seconds (RFC 9111, 1.2.2), capped at 2^31.  Anything else counts
 * as 0: a lifetime the cache cannot read is no lifetime.
 */
static int64_t
cache_delta(struct http1_str s)
{
	int64_t v = 0;
	size_t i;

	if (s.len == 0)
		return 0;
	for (i = 0; i < s.len; i++) {
		if (s.p[i] < '0' || s.p[i] > '9')
			return 0;
		if (v < CACHE_DELTA_MAX)
			v = v * 10 + (s.p[i] - '0');
	}
	return v < CACHE_DELTA_MAX ? v : CACHE_DELTA_MAX;
}

/* n decimal digits (a leading space allowed, for asctime's day). */
static int
cache_digits(const char *p, size_t n, int *v)
{
	size_t i = 0;

	*v = 0;
	if (n > 1 && p[0] == ' ')
		i++;
	for (; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		*v = *v * 10 + (p[i] - '0');
	}
	return 0;
}

static int
cache_month(const char *p)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	int i;

	for (i = 0; i < 12; i++)
		if (memcmp(p, months + 3 * i, 3) == 0)
			return i;
	return -1;
}

/*
 * An HTTP-date (RFC 9110, 5.6.7): IMF-fixdate
 * "Sun, 06 Nov 1994 08:49:37 GMT", or the obsolete
 * "Sunday, 06-Nov-94 08:49:37 GMT" and "Sun Nov  6 08:49:37 1994".
 * Two-digit years are 1970-2069.
 */
static int
cache_date(struct http1_str s, time_t *t)
{
	struct tm tm;
	const char *p, *comma, *hms;
	size_t n;
	time_t v;

	memset(&tm, 0, sizeof(tm));
	if ((comma = memchr(s.p, ',', s.len)) != NULL) {
		p = comma + 1;
		n = s.len - (p - s.p);
		if (n == 25 && p[0] == ' ' && p[3] == ' ' && p[7] == ' ' &&
		    p[12] == ' ' && memcmp(p + 21, " GMT", 4) == 0) {
			if (cache_digits(p + 1, 2, &tm.tm_mday) == -1 ||
			    (tm.tm_mon = cache_month(p + 4)) == -1 ||
			    cache_digits(p + 8, 4, &tm.tm_year) == -1)
				return -1;
			tm.tm_year -= 1900;
			hms = p + 13;
		} else if (n == 23 && p[0] == ' ' && p[3] == '-' &&
		    p[7] == '-' && p[10] == ' ' &&
		    memcmp(p + 19, " GMT", 4) == 0) {
			if (cache_digits(p + 1, 2, &tm.tm_mday) == -1 ||
			    (tm.tm_mon = cache_month(p + 4)) == -1 ||
			    cache_digits(p + 8, 2, &tm.tm_year) == -1)
				return -1;
			if (tm.tm_year < 70)
				tm.tm_year += 100;
			hms = p + 11;
		} else
			return -1;
	} else if (s.len == 24 && s.p[3] == ' ' && s.p[7] == ' ' &&
	    s.p[10] == ' ' && s.p[19] == ' ') {
		p = s.p;
		if ((tm.tm_mon = cache_month(p + 4)) == -1 ||
		    cache_digits(p + 8, 2, &tm.tm_mday) == -1 ||
		    cache_digits(p + 20, 4, &tm.tm_year) == -1)
			return -1;
		tm.tm_year -= 1900;
		hms = p + 11;
	} else
		return -1;
	if (hms[2] != ':' || hms[5] != ':' ||
	    cache_digits(hms, 2, &tm.tm_hour) == -1 ||
	    cache_digits(hms + 3, 2, &tm.tm_min) == -1 ||
	    cache_digits(hms + 6, 2, &tm.tm_sec) == -1)
		return -1;
	if (tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
	    tm.tm_min > 59 || tm.tm_sec > 60)
		return -1;
	if ((v = timegm(&tm)) == (time_t)-1)
		return -1;
	*t = v;
	return 0;
}

/*
 * Does the request insist on revalidation (no-cache, or Pragma: no-cache
 * without Cache-Control, RFC 9111, 5.4), on a younger response than age
 * (max-age; max-age=0 is how clients ask for revalidation), or on one
 * that stays fresh longer than what is left of lifetime (min-fresh)?
 */
static int
cache_req_revalidate(const struct http1_head *req, int64_t age,
    int64_t lifetime)
{
	const struct http1_header *f;
	struct http1_str v, nc = { "no-cache", 8 };
	int64_t max;

	if (cache_cc_get(req, "no-cache", &v))
		return 1;
	if (cache_cc_get(req, "max-age", &v)) {
		max = cache_delta(v);
		if (max == 0 || age > max)
			return 1;
	}
	if (cache_cc_get(req, "min-fresh", &v) &&
	    lifetime - age < cache_delta(v))
		return 1;
	if (http1_find(req, "cache-control") == NULL &&
	    (f = http1_find(req, "pragma")) != NULL &&
	    http1_list_has(f->value, nc))
		return 1;
	return 0;
}

/*
 * RFC 9111, 5.2.1.2: does the request accept e, stale at age, with
 * max-stale (without a value: however stale)?  Not when the response
 * forbade serving it stale (cache_stale_windows).
 */
static int
cache_req_max_stale(const struct http1_head *req, const struct cache_entry *e,
    int64_t age)
{
	struct http1_str v;

	if (!e->stale_ok || !cache_cc_get(req, "max-stale", &v))
		return 0;
	return v.len == 0 || age - e->lifetime <= cache_delta(v);
}

/*
 * The next element of a comma-separated list (RFC 9110, 5.6.1) in
 * [*p, end): 1 and elem without the whitespace around it, 0 at the end.
 * Empty elements are skipped; a comma inside a quoted string is no
 * separator.  Vary's selecting fields are compared this way, so a request
 * that spells the same list with other spacing or in several lines
 * matches (RFC 9111, 4.1: the cache may normalise them).
 */
static int
cache_list_next(const char **p, const char *end, struct http1_str *elem)
{
	const char *s = *p, *e;
	int quoted = 0;

	for (;;) {
		while (s < end && (*s == ' ' || *s == '\t' || *s == ','))
			s++;
		if (s == end) {
			*p = s;
			return 0;
		}
		for (e = s; e < end && (quoted || *e != ','); e++) {
			if (*e == '"')
				quoted = !quoted;
			else if (*e == '\\' && quoted && e + 1 < end)
				e++;
		}
		*p = e;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (e > s)
			break;
		s = *p;
	}
	elem->p = s;
	elem->len = e - s;
	return 1;
}

/*
 * The list elements of all the request's lines of one field, in order
 * (cache_list_next); seen once a line of that name was found.
 */
struct cache_field_iter {
	const struct http1_head	*req;
	const char		*name;
	size_t			 namelen;
	size_t			 i;		/* next line to look at */
	const char		*p, *end;	/* the rest of the current line */
	int			 seen;
};

static int
cache_field_next(struct cache_field_iter *it, struct http1_str *el)
{
	const struct http1_header *f;

	while (!cache_list_next(&it->p, it->end, el)) {
		do {
			if (it->i == it->req->nheaders)
				return 0;
			f = &it->req->headers[it->i++];
		} while (f->name.len != it->namelen ||
		    strncasecmp(f->name.p, it->name, it->namelen) != 0);
		it->seen = 1;
		it->p = f->value.p;
		it->end = f->value.p + f->value.len;
	}
	return 1;
}

/*
 * Is the request's value of field name, its list elements joined by ","
 * (cache_field_next), exactly v?  0 when the field is absent.
 */
static int
cache_field_eq(const struct http1_head *req, const char *name,
    size_t namelen, const char *v, size_t vlen)
{
	struct cache_field_iter it = { req, name, namelen, 0, NULL, NULL, 0 };
	struct http1_str el;
	size_t off = 0;

	while (cache_field_next(&it, &el)) {
		if (off > 0 && (off == vlen || v[off++] != ','))
			return 0;
		if (vlen - off < el.len || memcmp(v + off, el.p, el.len) != 0)
			return 0;
		off += el.len;
	}
	return it.seen && off == vlen;
}

/*
 * Append "=" and the request's value of field name as cache_field_eq
 * compares it, then a newline; "!" and a newline when it is absent.
 */
static int
cache_variant_value(struct cache_buf *b, const struct http1_head *req,
    const char *name, size_t namelen)
{
	struct cache_field_iter it = { req, name, namelen, 0, NULL, NULL, 0 };
	struct http1_str el;
	size_t start = b->len;

	if (cache_buf_add(b, "=", 1) == -1)
		return -1;
	while (cache_field_next(&it, &el))
		if ((b->len > start + 1 && cache_buf_add(b, ",", 1) == -1) ||
		    cache_buf_add(b, el.p, el.len) == -1)
			return -1;
	if (!it.seen)
		b->len = start;
	return cache_buf_add(b, it.seen ? "\n" : "!\n", it.seen ? 1 : 2);
}

/* Append the variant records for the fields resp's Vary names. */
static int
cache_variant_build(struct cache_buf *b, const struct http1_head *req,
    const struct http1_head *resp)
{
	const struct http1_header *f;
	const char *p;
	struct http1_str name;
	size_t i, k, start;

	for (i = 0; i < resp->nheaders; i++) {
		f = &resp->headers[i];
		if (!http1_str_eq(f->name, "vary"))
			continue;
		p = f->value.p;
		while (cache_list_next(&p, f->value.p + f->value.len, &name)) {
			start = b->len;
			if (cache_buf_add(b, name.p, name.len) == -1 ||
			    cache_buf_add(b, "\n", 1) == -1)
				return -1;
			for (k = start; k < start + name.len; k++)
				if (b->p[k] >= 'A' && b->p[k] <= 'Z')
					b->p[k] += 'a' - 'A';
			if (cache_variant_value(b, req, name.p, name.len) == -1)
				return -1;
		}
	}
	return 0;
}

static int
cache_variant_match(const char *v, const struct http1_head *req)
{
	const char *name, *nl, *val;
	size_t i, namelen;

	while (*v != '\0') {
		name = v;
		nl = strchr(name, '\n');
		namelen = nl - name;
		val = nl + 1;
		nl = strchr(val, '\n');
		if (*val == '!') {
			for (i = 0; i < req->nheaders; i++)
				if (req->headers[i].name.len == namelen &&
				    strncasecmp(req->headers[i].name.p, name,
				    namelen) == 0)
					return 0;
		} else if (!cache_field_eq(req, name, namelen, val + 1,
		    nl - val - 1))
			return 0;
		v = nl + 1;
	}
	return 1;
}

/* The first field called name in a raw head (status line, CRLF fields). */
static int
cache_head_field(const char *head, size_t len, const char *name,
    struct http1_str *value)
{
	const char *p, *end = head + len, *eol, *colon;
	size_t namelen = strlen(name);

	if ((p = memchr(head, '\n', len)) == NULL)
		return 0;
	for (p++; p < end; p = eol + 1) {
		if ((eol = memchr(p, '\n', end - p)) == NULL)
			eol = end;
		colon = memchr(p, ':', eol - p);
		if (colon == NULL || (size_t)(colon - p) != namelen ||
		    strncasecmp(p, name, namelen) != 0)
			continue;
		for (p = colon + 1; p < eol && (*p == ' ' || *p == '\t'); p++)
			;
		value->p = p;
		value->len = eol - p;
		while (value->len > 0 && (p[value->len - 1] == '\r' ||
		    p[value->len - 1] == ' ' || p[value->len - 1] == '\t'))
			value->len--;
		return 1;
	}
	return 0;
}

/* The conditional fields a revalidation of this head sends; NULL on ENOMEM. */
static char *
cache_validators_new(const char *head, size_t len)
{
	struct cache_buf b = { NULL, 0, 0 };
	struct http1_str v;

	if (cache_head_field(head, len, "etag", &v) &&
	    (cache_buf_add(&b, "If-None-Match: ", 15) == -1 ||
	    cache_buf_add(&b, v.p, v.len) == -1 ||
	    cache_buf_add(&b, "\r\n", 2) == -1))
		goto fail;
	if (cache_head_field(head, len, "last-modified", &v) &&
	    (cache_buf_add(&b, "If-Modified-Since: ", 19) == -1 ||
	    cache_buf_add(&b, v.p, v.len) == -1 ||
	    cache_buf_add(&b, "\r\n", 2) == -1))
		goto fail;
	if (cache_buf_add(&b, "", 1) == -1)
		goto fail;
	return b.p;

fail:
	free(b.p);
	return NULL;
}

/*
 * Fields a 304 may not change: the framing of the body we hold (RFC 9111,
 * 3.2), Alt-Svc (never stored) and Age (kept by the entry, not its head).
 */
static int
cache_refresh_keeps(struct http1_str name)
{
	return http1_str_eq(name, "content-length") ||
	    http1_str_eq(name, "transfer-encoding") ||
	    http1_str_eq(name, "content-encoding") ||
	    http1_str_eq(name, "content-range") ||
	    http1_str_eq(name, "alt-svc") ||
	    http1_str_eq(name, "age");
}

static int
cache_buf_add(struct cache_buf *b, const char *p, size_t n)
{
	size_t cap;
	char *np;

	if (n > b->cap - b->len) {
		for (cap = b->cap ? b->cap : 256; n > cap - b->len; cap *= 2)
			;
		if ((np = realloc(b->p, cap)) == NULL) {
			log_event(LOG_WARN, "cache_alloc_failed",
			    "call=realloc err=%s", strerror(errno));
			return -1;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	return 0;
}

/*
 * The head an entry keeps: sluice's status line, then the response's
 * end-to-end fields (RFC 9111, 3.1), without the framing (the entry holds
 * the body unframed), Alt-Svc (no QUIC here) and Age (the entry keeps the
 * age itself).
 */
static int
cache_head_build(struct cache_buf *b, const struct http1_head *resp)
{
	const struct http1_header *f;
	char line[32];
	size_t i;

	snprintf(line, sizeof(line), "HTTP/1.1 %d ", resp->status);
	if (cache_buf_add(b, line, strlen(line)) == -1 ||
	    cache_buf_add(b, resp->reason.p, resp->reason.len) == -1 ||
	    cache_buf_add(b, "\r\n", 2) == -1)
		return -1;
	for (i = 0; i < resp->nheaders; i++) {
		f = &resp->headers[i];
		if (http1_is_hop_field(resp, f->name) ||
		    http1_is_framing_field(f->name) ||
		    http1_str_eq(f->name, "alt-svc") ||
		    http1_str_eq(f->name, "age"))
			continue;
		if (cache_buf_add(b, f->name.p, f->name.len) == -1 ||
		    cache_buf_add(b, ": ", 2) == -1 ||
		    cache_buf_add(b, f->value.p, f->value.len) == -1 ||
		    cache_buf_add(b, "\r\n", 2) == -1)
			return -1;
	}
	return 0;
}

/*
 * stale-if-error and stale-while-revalidate (RFC 5861), and a request's
 * max-stale (RFC 9111, 5.2.1.2), unless the response forbids serving it
 * stale: must-revalidate, proxy-revalidate, s-maxage (which implies
 * proxy-revalidate, RFC 9111, 5.2.2.10) or no-cache.
 */
static void
cache_stale_windows(struct cache_entry *e, const struct http1_head *resp)
{
	struct http1_str v;

	e->sie = e->swr = 0;
	e->stale_ok = 0;
	if (cache_cc_get(resp, "must-revalidate", &v) ||
	    cache_cc_get(resp, "proxy-revalidate", &v) ||
	    cache_cc_get(resp, "s-maxage", &v) ||
	    cache_cc_get(resp, "no-cache", &v))
		return;
	e->stale_ok = 1;
	if (cache_cc_get(resp, "stale-if-error", &v))
		e->sie = cache_delta(v);
	if (cache_cc_get(resp, "stale-while-revalidate", &v))
		e->swr = cache_delta(v);
}

/* RFC 9110, 15.1: the statuses a cache may give a heuristic lifetime. */
static int
cache_heuristic_status(int status)
{
	switch (status) {
	case 200: case 203: case 204: case 300: case 301: case 308:
	case 404: case 405: case 410: case 414: case 501:
		return 1;
	}
	return 0;
}

/*
 * The final statuses RFC 9110, 15 defines (306 is unused), whose caching
 * rules sluice follows: what must-understand asks a cache to know.
 */
static int
cache_status_understood(int status)
{
	return (status >= 200 && status <= 206) ||
	    (status >= 300 && status <= 308 && status != 306) ||
	    (status >= 400 && status <= 417) || status == 421 ||
	    status == 422 || status == 426 || (status >= 500 && status <= 505);
}

/*
 * RFC 9110, 13.1.2 and 13.1.3, as a cache answering for the origin (RFC
 * 9111, 4.3.2): If-None-Match with a weak comparison; without it,
 * If-Modified-Since against Last-Modified, else Date.
 */
static int
cache_not_modified(const struct cache_entry *e, const struct http1_head *req)
{
	const struct http1_header *f;
	struct http1_str etag = { "", 0 }, lm;
	time_t since, t;
	size_t i;
	int seen = 0;

	cache_head_field(e->data, e->headlen, "etag", &etag);
	for (i = 0; i < req->nheaders; i++) {
		f = &req->headers[i];
		if (!http1_str_eq(f->name, "if-none-match"))
			continue;
		seen = 1;
		if (cache_etag_match(f->value, etag, 0))
			return 1;
	}
	if (seen || (f = http1_find(req, "if-modified-since")) == NULL ||
	    cache_date(f->value, &since) == -1)
		return 0;
	if (!cache_head_field(e->data, e->headlen, "last-modified", &lm) &&
	    !cache_head_field(e->data, e->headlen, "date", &lm))
		return 0;
	return cache_date(lm, &t) == 0 && t <= since;
}

/*
 * RFC 9110, 13.1.5: honour Range only if If-Range, when present, names
 * the stored representation: its strong ETag, or its Last-Modified date.
 */
static int
cache_if_range(const struct cache_entry *e, const struct http1_head *req)
{
	const struct http1_header *f = http1_find(req, "if-range");
	struct http1_str etag, lm;
	time_t a, b;

	if (f == NULL)
		return 1;
	if ((f->value.len > 0 && f->value.p[0] == '"') ||
	    (f->value.len > 1 && memcmp(f->value.p, "W/", 2) == 0))
		return cache_head_field(e->data, e->headlen, "etag", &etag) &&
		    cache_etag_match(f->value, etag, 1);
	return cache_head_field(e->data, e->headlen, "last-modified", &lm) &&
	    cache_date(lm, &a) == 0 && cache_date(f->value, &b) == 0 &&
	    a == b;
}

/* The stored fields (all, or those a 304 carries) after the status line. */
static int
cache_fields_add(struct cache_buf *b, const struct cache_entry *e,
    int only304)
{
	const char *p, *end = e->data + e->headlen, *eol, *colon;

	if ((p = memchr(e->data, '\n', e->headlen)) == NULL)
		return 0;
	for (p++; p < end; p = eol + 1) {
		if ((eol = memchr(p, '\n', end - p)) == NULL)
			break;
		colon = memchr(p, ':', eol - p);
		if (only304 && (colon == NULL || !cache_304_field(p, colon - p)))
			continue;
		if (cache_buf_add(b, p, eol + 1 - p) == -1)
			return -1;
	}
	return 0;
}

/* RFC 9110, 15.4.5, and Last-Modified: what a 304 from a cache carries. */
static int
cache_304_field(const char *name, size_t len)
{
	static const char *const keep[] = { "cache-control",
	    "content-location", "date", "etag", "expires", "last-modified",
	    "vary" };
	size_t i;

	for (i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
		if (strlen(keep[i]) == len && strncasecmp(keep[i], name,
		    len) == 0)
			return 1;
	return 0;
}

/* ---- request collapsing ------------------------------------------------ */

struct cache_flight *
cache_flight_join(struct cache *c, int64_t rule_id, const char *host,
    struct http1_str target, struct cache_waiter *w)
{
	size_t hostlen = strlen(host);
	uint64_t h = cache_hash(c->seed, host, hostlen, target.p, target.len);
	struct cache_shard *shard = cache_shard_of(c, h);
	struct cache_flight *f;

	pthread_mutex_lock(&shard->mtx);
	for (f = shard->flights; f != NULL; f = f->next)
		if (f->hash == h && f->rule_id == rule_id &&
		    strcasecmp(f->host, host) == 0 &&
		    f->target_len == target.len &&
		    memcmp(f->target, target.p, target.len) == 0)
			break;
	if (f != NULL) {
		w->shard = shard;
		w->flight = f;
		w->next = f->waiters;
		f->waiters = w;
		pthread_mutex_unlock(&shard->mtx);
		return NULL;
	}
	if ((f = calloc(1, sizeof(*f))) == NULL ||
	    (f->host = strdup(host)) == NULL ||
	    (f->target = malloc(target.len + 1)) == NULL) {
		pthread_mutex_unlock(&shard->mtx);
		if (f != NULL)
			free(f->host);
		free(f);
		/* Without a record nobody waits: this request fetches alone. */
		w->flight = NULL;
		return NULL;
	}
	memcpy(f->target, target.p, target.len);
	f->target_len = target.len;
	f->shard = shard;
	f->rule_id = rule_id;
	f->hash = h;
	f->next = shard->flights;
	shard->flights = f;
	pthread_mutex_unlock(&shard->mtx);
	return f;
}

void
cache_flight_done(struct cache *c, struct cache_flight *f)
{
	struct cache_shard *shard = f->shard;
	struct cache_flight **fp;
	struct cache_waiter *w;

	pthread_mutex_lock(&shard->mtx);
	for (fp = &shard->flights; *fp != f; fp = &(*fp)->next)
		;
	*fp = f->next;
	for (w = f->waiters; w != NULL; w = w->next) {
		w->flight = NULL;
		wake_post(w->wake, &w->call);
	}
	pthread_mutex_unlock(&shard->mtx);
	free(f->host);
	free(f->target);
	free(f);
}

void
cache_flight_leave(struct cache *c, struct cache_waiter *w)
{
	struct cache_waiter **wp;

	if (w->shard == NULL)
		return;
	pthread_mutex_lock(&w->shard->mtx);
	if (w->flight != NULL) {
		for (wp = &w->flight->waiters; *wp != w; wp = &(*wp)->next)
			;
		*wp = w->next;
		w->flight = NULL;
	}
	pthread_mutex_unlock(&w->shard->mtx);
	/* Posted by cache_flight_done() before the lock was ours, or never. */
	wake_cancel(w->wake, &w->call);
	w->shard = NULL;
}
