/*
 * cache.h - the shared response cache (RFC 9111, as a shared cache).
 *
 * One store for all workers, bounded in bytes, LRU.  An entry is immutable
 * once published and refcounted, so a worker serving it holds no lock.
 * Keys: the rule id (so a response fetched with one rule's credentials is
 * never served to a request that matched another rule), the host, the
 * target (path with query), and the values of the request fields that the
 * response's Vary names.  Entries hold the response head as it was sent to
 * the client (hop-by-hop fields and Alt-Svc already removed) and the body
 * bytes as framed on the wire (Content-Length or chunked).
 */
#ifndef SLUICE_CACHE_H
#define SLUICE_CACHE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "http1.h"

struct event;

struct cache;
struct cache_entry;
struct cache_fill;
struct rule_cache;

struct cache *cache_new(size_t max_bytes);
void cache_free(struct cache *);
/* Entries and bytes held now, summed over the shards (for /metrics). */
void cache_stats(struct cache *, uint64_t *entries, uint64_t *bytes);

/*
 * Should this request skip the cache?  Only GET and HEAD use it; a request
 * with Cache-Control no-store goes straight to the upstream and is not
 * stored.  Returns 1 to bypass.
 */
int cache_request_bypass(const struct http1_head *req);

enum cache_lookup {
	CACHE_MISS = 0,
	CACHE_FRESH,		/* serve it */
	CACHE_STALE,		/* revalidate it (it has a validator) */
};

/*
 * Find the entry for req (GET, or HEAD answered from a GET entry) under
 * rule_id and host.  On FRESH and STALE *entry gets a reference (release
 * with cache_entry_unref) and *age its current age in seconds.  A request
 * with Cache-Control no-cache gets STALE for a fresh entry that has a
 * validator, MISS otherwise.  A stale entry without validator is MISS.
 */
enum cache_lookup cache_lookup(struct cache *, int64_t rule_id,
    const char *host, const struct http1_head *req, time_t now,
    struct cache_entry **entry, int64_t *age);

/* The stored head: status line and fields, each ending CRLF, no blank line. */
const char *cache_entry_head(const struct cache_entry *, size_t *len);
/* The stored body bytes, framed as the head says. */
const char *cache_entry_body(const struct cache_entry *, size_t *len);
int cache_entry_status(const struct cache_entry *);
/* Payload bytes (without chunk framing), for the audit row. */
uint64_t cache_entry_payload(const struct cache_entry *);
/*
 * Conditional request fields for revalidation ("If-None-Match: ...\r\n"
 * and/or "If-Modified-Since: ...\r\n"), never empty for a STALE entry.
 */
const char *cache_entry_validators(const struct cache_entry *);
void cache_entry_unref(struct cache_entry *);

/*
 * May this response to req be stored under policy pol (RFC 9111, 3, for a
 * shared cache, plus the contract's status list and the rule's TTL)?
 * Returns the freshness lifetime in seconds (s-maxage, then max-age, then
 * Expires - Date, each capped at pol->ttl_seconds; without any,
 * ttl_seconds when pol->heuristic, else 0: then stored only if it has a
 * validator), or -1 when it may not be stored: not a GET, a status the
 * contract does not list, no-store or private in the response, Vary: *,
 * no-store in the request, or client_auth (the client sent its own
 * Authorization, forwarded as is) without public, s-maxage or
 * must-revalidate (RFC 9111, 3.5).  Credentials sluice injects are the
 * rule's, and the rule is in the key.
 */
int64_t cache_storable(const struct http1_head *req,
    const struct http1_head *resp, const struct rule_cache *pol,
    int client_auth, time_t now);

/*
 * Start copying a response into the cache.  head is what is sent to the
 * client (status line and fields, CRLF each, no blank line); lifetime from
 * cache_storable.  NULL if it cannot be stored (too big already, no memory).
 */
struct cache_fill *cache_fill_new(struct cache *, int64_t rule_id,
    const char *host, const struct http1_head *req,
    const struct http1_head *resp, const char *head, size_t headlen,
    int64_t lifetime, size_t max_bytes, time_t now);
/* Append body bytes; -1 once over max_bytes (then only abort is valid). */
int cache_fill_append(struct cache_fill *, const char *data, size_t len);
/* Publish (replacing the same key and variant); frees the fill. */
void cache_fill_commit(struct cache_fill *, uint64_t payload);
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
 * queued waiter's event is then activated, under the shard's lock, from the
 * leader's thread.  A waiter that gives up calls cache_flight_leave()
 * before freeing its event; after that no activation can reach it.
 */
struct cache_flight;
struct cache_shard;
struct cache_waiter {
	struct event		*ev;		/* activated when the leader is done */
	struct cache_shard	*shard;		/* whose lock guards flight */
	struct cache_flight	*flight;	/* NULL once woken or left */
	struct cache_waiter	*next;
};

struct cache_flight *cache_flight_join(struct cache *, int64_t rule_id,
    const char *host, struct http1_str target, struct cache_waiter *w);
void cache_flight_done(struct cache *, struct cache_flight *);
void cache_flight_leave(struct cache *, struct cache_waiter *w);

#endif
