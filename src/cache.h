/*
 * cache.h - the shared response cache (RFC 9111, as a shared cache).
 *
 * One store for all workers, bounded in bytes, LRU.  An entry is immutable
 * once published and refcounted, so a worker serving it holds no lock.
 * Keys: the rule id (so a response fetched with one rule's credentials is
 * never served to a request that matched another rule), the host, the
 * target (path with query), and the values of the request fields that the
 * response's Vary names.  Entries hold a message, not wire bytes: the
 * status, the reason and the end-to-end fields (no hop-by-hop, framing,
 * Alt-Svc or Age field), and the body unframed (chunked decoded).  Whoever
 * serves an entry writes its own framing (cache_answer).
 */
#ifndef SLUICE_CACHE_H
#define SLUICE_CACHE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "http1.h"
#include "wake.h"

struct cache;
struct cache_entry;
struct cache_fill;
struct mask_set;
struct rule_cache;

struct cache *cache_new(size_t max_bytes);
void cache_free(struct cache *);
/* Entries and bytes held now, summed over the shards (for /metrics). */
void cache_stats(struct cache *, uint64_t *entries, uint64_t *bytes);

/*
 * Should this request skip the cache?  Only GET and HEAD use it; a request
 * with Cache-Control no-store, or with a field an origin may build its
 * answer from that the key does not hold (X-Forwarded-Host and its kin,
 * Forwarded, the path and method overrides: cache.c), goes straight to
 * the upstream: not answered from the cache, not collapsed onto another
 * request, not stored.  Returns 1 to bypass.
 */
int cache_request_bypass(const struct http1_head *req);
/*
 * Does the request say only-if-cached (RFC 9111, 5.2.1.7): answered from
 * a stored response or with a 504, never from the upstream?
 */
int cache_request_only_if_cached(const struct http1_head *req);

enum cache_lookup {
	CACHE_MISS = 0,
	CACHE_FRESH,		/* serve it */
	CACHE_STALE,		/* ask the upstream: conditionally if it has a
				   validator; serve it if that fails and
				   stale-if-error allows (cache_entry_on_error) */
	CACHE_STALE_SWR,	/* serve it now; stale-while-revalidate: revalidate
				   it in the background if cache_entry_claim() */
};

/*
 * Find the entry for req (GET, or HEAD answered from a GET entry) under
 * rule_id and host.  On FRESH, STALE and STALE_SWR *entry gets a reference
 * (release with cache_entry_unref) and *age its current age in seconds
 * (RFC 9111, 4.2.3).  A request with Cache-Control no-cache (or a max-age
 * below the age, or a min-fresh above the freshness left) gets STALE for a
 * fresh entry that has a validator, MISS otherwise.  A stale entry is
 * FRESH when the request's max-stale accepts it and the response did not
 * forbid serving it stale, STALE_SWR within its stale-while-revalidate
 * window (a request that asks for revalidation excepted), STALE when it
 * has a validator or a stale-if-error window open, MISS otherwise.
 */
enum cache_lookup cache_lookup(struct cache *, int64_t rule_id,
    const char *host, const struct http1_head *req, time_t now,
    struct cache_entry **entry, int64_t *age);

/*
 * The stored head: "HTTP/1.1 status reason" and the end-to-end fields,
 * each ending CRLF, no framing field, no blank line.
 */
const char *cache_entry_head(const struct cache_entry *, size_t *len);
/* The stored body, unframed. */
const char *cache_entry_body(const struct cache_entry *, size_t *len);
int cache_entry_status(const struct cache_entry *);
/* Payload bytes (without chunk framing), for the audit row. */
uint64_t cache_entry_payload(const struct cache_entry *);
/*
 * Conditional request fields for revalidation ("If-None-Match: ...\r\n"
 * and/or "If-Modified-Since: ...\r\n"), never empty for a STALE entry.
 */
const char *cache_entry_validators(const struct cache_entry *);
void cache_entry_ref(struct cache_entry *);
void cache_entry_unref(struct cache_entry *);

/*
 * May a stale e be served because the upstream failed (a 500, 502, 503 or
 * 504, or no answer at all) at now?  RFC 5861, 4: its stale-if-error
 * window is open, and nothing (must-revalidate, proxy-revalidate,
 * s-maxage, no-cache) forbids serving it stale.
 */
int cache_entry_on_error(const struct cache_entry *, time_t now);
/* Its current age (RFC 9111, 4.2.3) at now, in seconds. */
int64_t cache_entry_age(const struct cache_entry *, time_t now);
/*
 * Take the one background revalidation of a STALE_SWR entry: 1 if the
 * caller now owns it (and must call cache_entry_release_claim when done,
 * unless a refresh replaced the entry), 0 if one already runs.
 */
int cache_entry_claim(struct cache_entry *);
void cache_entry_release_claim(struct cache_entry *);

/*
 * What to send for req from e (RFC 9110, 13 and 14): 304 when the
 * request's If-None-Match (weak comparison) or, without one,
 * If-Modified-Since matches; 206 with Content-Range for one satisfiable
 * byte range (If-Range permitting); 416 for an unsatisfiable one; else the
 * stored status.  head gets the status line and fields, framing
 * (Content-Length) included, each ending CRLF, no blank line (free it);
 * body points into e (bodylen 0 for HEAD, 304 and 416).  -1 without
 * memory.
 */
struct cache_answer {
	int		 status;
	char		*head;
	size_t		 headlen;
	const char	*body;
	size_t		 bodylen;
};
int cache_answer(const struct cache_entry *, const struct http1_head *req,
    struct cache_answer *);

/* Pure parts of the above, for the unit tests. */
enum cache_range {
	CACHE_RANGE_NONE = 0,	/* no usable Range: send it all */
	CACHE_RANGE_OK,		/* bytes first..last (inclusive) */
	CACHE_RANGE_UNSAT,	/* 416 */
};
/* One "bytes=" range of a len-byte body; several ranges are NONE. */
enum cache_range cache_range_parse(struct http1_str v, uint64_t len,
    uint64_t *first, uint64_t *last);
/*
 * Does the If-None-Match list name etag (weak comparison, or "*")?
 * Strong comparison (If-Range) when strong is set.
 */
int cache_etag_match(struct http1_str list, struct http1_str etag,
    int strong);
/*
 * The response's Age (RFC 9111, 5.1) in *age: 0 when absent; -1 when it is
 * not one non-negative integer (a list, a sign, anything else), which makes
 * the response stale.
 */
int cache_age_value(const struct http1_head *resp, int64_t *age);
/*
 * RFC 9111, 4.2.3: corrected_initial_age of resp, requested at
 * request_time and received at response_time: the larger of the apparent
 * age (response_time - Date) and Age + response delay.
 */
int64_t cache_initial_age(const struct http1_head *resp, time_t request_time,
    time_t response_time);
/*
 * May this response to req be stored under policy pol (RFC 9111, 3, for a
 * shared cache, and the rule's TTL)?  Returns the freshness lifetime in
 * seconds (s-maxage, then max-age, then Expires - Date, each capped at
 * pol->ttl_seconds; without any, ttl_seconds when pol->heuristic and the
 * status is heuristically cacheable (RFC 9110, 15.1), else 0: then stored
 * only if it has a validator; 0 too for an invalid Age), or -1 when it may
 * not be stored: not a GET, not a final status, a 206 or 304, a status
 * that is not heuristically cacheable without explicit freshness, a
 * transfer coding other than chunked, no-store (unless must-understand
 * and a status of RFC 9110's) or private in the response, must-understand
 * with another status, Vary: *, no-store in the request, Set-Cookie in
 * the response (a session of one client's), or client_auth (the client
 * sent its own Authorization or Cookie, forwarded as is) without public,
 * s-maxage or must-revalidate (RFC 9111, 3.5).  Credentials sluice
 * injects are the rule's, and the rule is in the key.
 */
int64_t cache_storable(const struct http1_head *req,
    const struct http1_head *resp, const struct rule_cache *pol,
    int client_auth, time_t now);

/*
 * Start copying a response into the cache: its status, reason and
 * end-to-end fields now, its body with cache_fill_append.  lifetime from
 * cache_storable; request_time is when the request was sent (for the
 * age).  NULL if it cannot be stored (too big already, no memory).
 */
struct cache_fill *cache_fill_new(struct cache *, int64_t rule_id,
    const char *host, const struct http1_head *req,
    const struct http1_head *resp, int64_t lifetime, size_t max_bytes,
    time_t request_time, time_t now);
/*
 * Append body bytes as framed on the wire (a chunked body is decoded
 * here); -1 once over max_bytes or malformed (then only abort is valid).
 */
int cache_fill_append(struct cache_fill *, const char *data, size_t len);
/*
 * Star every form in set (which must outlive the fill) in the body when
 * it is whole: the cache never holds a secret the response echoed.
 */
void cache_fill_mask(struct cache_fill *, const struct mask_set *set);
/* Publish the whole body (replacing the same key and variant); frees it. */
void cache_fill_commit(struct cache_fill *);
void cache_fill_abort(struct cache_fill *);

/*
 * A 304 answered a revalidation: the entry is fresh again for lifetime,
 * counted from now, with the 304's fields (other than framing ones)
 * replacing the stored ones of the same name.
 */
void cache_refresh(struct cache *, struct cache_entry *,
    const struct http1_head *resp304, int64_t lifetime, time_t now);

/*
 * An unsafe method (POST, PUT, PATCH, DELETE) got a 2xx or 3xx: drop every
 * entry for host and this target's path with query, under every rule.
 */
void cache_invalidate(struct cache *, const char *host,
    struct http1_str target);

/*
 * Request collapsing.  After a miss, cache_flight_join() makes the caller
 * the leader for (rule_id, host, target) and returns a handle, or, when a
 * leader is already fetching it, queues w and returns NULL.  The leader
 * calls cache_flight_done() once its response was stored (or not); every
 * queued waiter's call is then posted to its worker's wake-up channel,
 * under the shard's lock, from the leader's thread.  A waiter that gives up
 * or is woken calls cache_flight_leave() (its own thread), which takes back
 * a call not yet run; after that no wake-up can reach it.
 */
struct cache_flight;
struct cache_shard;
struct cache_waiter {
	struct wake		*wake;		/* the waiter's worker's channel */
	struct wake_call	 call;		/* posted when the leader is done */
	struct cache_shard	*shard;		/* whose lock guards flight */
	struct cache_flight	*flight;	/* NULL once woken or left */
	struct cache_waiter	*next;
};

struct cache_flight *cache_flight_join(struct cache *, int64_t rule_id,
    const char *host, struct http1_str target, struct cache_waiter *w);
void cache_flight_done(struct cache *, struct cache_flight *);
void cache_flight_leave(struct cache *, struct cache_waiter *w);

#endif
