/*
 * test_cache.c - cache.c: freshness lifetimes and age, what may be stored,
 * keys with rule ids and Vary, HEAD from GET, revalidation (no-cache,
 * validators, refresh by a 304), the byte budget with LRU eviction,
 * invalidation, and workers racing on shared keys.
 *
 * Every test but the race runs on an injected clock.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache.h"
#include "http1.h"
#include "rules.h"
#include "unit.h"

#define TEST_NOW	1700000000	/* Tue, 14 Nov 2023 22:13:20 GMT */
#define TEST_BIG	(64U << 20)	/* 16 shards */
#define TEST_THREADS	4
#define TEST_RUN_MS	500.0
#define TEST_KEYS	8

static const struct rule_cache test_pol = { 3600, 1 << 20, 1 };
static const struct rule_cache test_strict = { 3600, 1 << 20, 0 };

static int
test_req(struct http1_head *h, const char *s)
{
	return http1_parse_request(s, strlen(s), h, NULL) == HTTP1_OK;
}

static int
test_resp(struct http1_head *h, const char *s)
{
	struct http1_str get = { "GET", 3 };

	return http1_parse_response(s, strlen(s), get, h, NULL) == HTTP1_OK;
}

/* The lifetime cache_storable gives resp to a plain GET of / . */
static int64_t
test_lifetime(const char *resp, const struct rule_cache *pol, int auth)
{
	struct http1_head req, rsp;

	if (!test_req(&req, "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n") ||
	    !test_resp(&rsp, resp))
		return -2;
	return cache_storable(&req, &rsp, pol, auth, TEST_NOW);
}

/* Store resp (a full head, blank line included) and body for req. */
static int
test_store(struct cache *c, int64_t rule, const char *reqs,
    const char *resps, const char *body, time_t now)
{
	struct http1_head req, rsp;
	struct cache_fill *fill;
	int64_t lifetime;

	if (!test_req(&req, reqs) || !test_resp(&rsp, resps))
		return -1;
	lifetime = cache_storable(&req, &rsp, &test_pol, 0, now);
	if (lifetime < 0)
		return -1;
	fill = cache_fill_new(c, rule, "a.test", &req, &rsp, resps,
	    rsp.head_len - 2, lifetime, 1 << 20, now);
	if (fill == NULL)
		return -1;
	if (cache_fill_append(fill, body, strlen(body)) == -1) {
		cache_fill_abort(fill);
		return -1;
	}
	cache_fill_commit(fill, strlen(body));
	return 0;
}

/* Look req up; on a hit, *body gets a copy of the body (free it). */
static enum cache_lookup
test_get(struct cache *c, int64_t rule, const char *reqs, time_t now,
    int64_t *age, char **body)
{
	struct http1_head req;
	struct cache_entry *e;
	enum cache_lookup r;
	const char *b;
	size_t len;

	if (body != NULL)
		*body = NULL;
	if (!test_req(&req, reqs))
		return -1;
	r = cache_lookup(c, rule, "a.test", &req, now, &e, age);
	if (r == CACHE_MISS)
		return r;
	if (body != NULL) {
		b = cache_entry_body(e, &len);
		if ((*body = strndup(b, len)) == NULL)
			abort();
	}
	cache_entry_unref(e);
	return r;
}

static int
test_body_is(char *body, const char *want)
{
	int ok = body != NULL && strcmp(body, want) == 0;

	free(body);
	return ok;
}

#define GET(path)	"GET " path " HTTP/1.1\r\nHost: a.test\r\n\r\n"
#define OK200(fields)	"HTTP/1.1 200 OK\r\n" fields "Content-Length: 5\r\n\r\n"

static void
test_freshness(void)
{
	struct cache *c;
	int64_t age;

	CHECK(test_lifetime(OK200("Cache-Control: max-age=50, s-maxage=100\r\n"
	    "Expires: Tue, 14 Nov 2023 22:13:50 GMT\r\n"), &test_pol, 0) == 100,
	    "freshness: s-maxage over max-age and Expires");
	CHECK(test_lifetime(OK200("Cache-Control: max-age=50\r\n"
	    "Expires: Tue, 14 Nov 2023 22:13:50 GMT\r\n"), &test_pol, 0) == 50,
	    "freshness: max-age over Expires");
	CHECK(test_lifetime(OK200("Cache-Control: public, MAX-AGE=\"70\"\r\n"),
	    &test_pol, 0) == 70, "freshness: quoted, any case");
	CHECK(test_lifetime(OK200("Date: Tue, 14 Nov 2023 22:00:00 GMT\r\n"
	    "Expires: Tue, 14 Nov 2023 22:00:30 GMT\r\n"), &test_pol, 0) == 30,
	    "freshness: Expires minus Date");
	CHECK(test_lifetime(OK200("Expires: Tue, 14 Nov 2023 22:13:50 GMT\r\n"),
	    &test_pol, 0) == 30, "freshness: Expires minus now without Date");
	CHECK(test_lifetime(OK200("Date: Tuesday, 14-Nov-23 22:00:00 GMT\r\n"
	    "Expires: Tue Nov 14 22:01:00 2023\r\n"), &test_pol, 0) == 60,
	    "freshness: RFC 850 and asctime dates");
	CHECK(test_lifetime(OK200("Expires: 0\r\nETag: \"x\"\r\n"),
	    &test_pol, 0) == 0, "freshness: invalid Expires is expired");
	CHECK(test_lifetime(OK200("Expires: 0\r\n"), &test_pol, 0) == -1,
	    "freshness: expired without validator not stored");
	CHECK(test_lifetime(OK200("Cache-Control: max-age=99999\r\n"),
	    &test_pol, 0) == 3600, "freshness: max-age capped at ttl");
	CHECK(test_lifetime(OK200("Cache-Control: s-maxage=99999\r\n"),
	    &test_pol, 0) == 3600, "freshness: s-maxage capped at ttl");
	CHECK(test_lifetime(OK200("Expires: Wed, 15 Nov 2023 22:13:20 GMT\r\n"),
	    &test_pol, 0) == 3600, "freshness: Expires capped at ttl");
	CHECK(test_lifetime(OK200(""), &test_pol, 0) == 3600,
	    "freshness: heuristic 1 gives ttl");
	CHECK(test_lifetime(OK200(""), &test_strict, 0) == -1,
	    "freshness: heuristic 0 without validator not stored");
	CHECK(test_lifetime(OK200("Last-Modified: Mon, 13 Nov 2023 00:00:00 "
	    "GMT\r\n"), &test_strict, 0) == 0,
	    "freshness: heuristic 0 with validator stored stale");
	CHECK(test_lifetime(OK200("Cache-Control: max-age=60\r\n"),
	    &test_strict, 0) == 60, "freshness: heuristic 0 keeps max-age");
	CHECK(test_lifetime(OK200("Cache-Control: no-cache\r\nETag: \"x\"\r\n"),
	    &test_pol, 0) == 0, "freshness: response no-cache is lifetime 0");
	CHECK(test_lifetime(OK200("Cache-Control: no-cache=\"Set-Cookie\"\r\n"),
	    &test_pol, 0) == -1,
	    "freshness: qualified no-cache without validator not stored");

	c = cache_new(TEST_BIG);
	CHECK(test_store(c, 1, GET("/age"), OK200("Cache-Control: max-age=100"
	    "\r\nAge: 60\r\nETag: \"a\"\r\n"), "hello", TEST_NOW) == 0,
	    "age: stored");
	CHECK(test_get(c, 1, GET("/age"), TEST_NOW + 30, &age, NULL) ==
	    CACHE_FRESH && age == 90, "age: Age header plus resident time");
	CHECK(test_get(c, 1, GET("/age"), TEST_NOW + 40, &age, NULL) ==
	    CACHE_STALE && age == 100, "age: stale at the lifetime");
	cache_free(c);
}

static void
test_storable(void)
{
	static const int refused[] = { 201, 202, 206, 302, 303, 307, 308,
	    400, 403, 405, 500, 502, 503 };
	static const int allowed[] = { 200, 203, 204, 300, 301, 404, 410 };
	struct http1_head req, rsp;
	char buf[128], what[64];
	size_t i;

	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		snprintf(buf, sizeof(buf), "HTTP/1.1 %d X\r\n"
		    "Cache-Control: max-age=60\r\nContent-Length: 0\r\n\r\n",
		    refused[i]);
		snprintf(what, sizeof(what), "storable: %d refused",
		    refused[i]);
		CHECK(test_lifetime(buf, &test_pol, 0) == -1, what);
	}
	for (i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
		snprintf(buf, sizeof(buf), "HTTP/1.1 %d X\r\n"
		    "Cache-Control: max-age=60\r\nContent-Length: 0\r\n\r\n",
		    allowed[i]);
		snprintf(what, sizeof(what), "storable: %d stored", allowed[i]);
		CHECK(test_lifetime(buf, &test_pol, 0) == 60, what);
	}
	CHECK(test_lifetime(OK200("Cache-Control: max-age=60, no-store\r\n"),
	    &test_pol, 0) == -1, "storable: no-store");
	CHECK(test_lifetime(OK200("Cache-Control: Private\r\n"),
	    &test_pol, 0) == -1, "storable: private");
	CHECK(test_lifetime(OK200("Cache-Control: private=\"x, y\"\r\n"),
	    &test_pol, 0) == -1, "storable: private with fields");
	CHECK(test_lifetime(OK200("Cache-Control: foo=\"no-store, private\", "
	    "max-age=9\r\n"), &test_pol, 0) == 9,
	    "storable: directives inside a quoted value ignored");
	CHECK(test_lifetime(OK200("Vary: Accept, *\r\n"), &test_pol, 0) == -1,
	    "storable: Vary: *");
	CHECK(test_lifetime(OK200(""), &test_pol, 1) == -1,
	    "storable: client_auth without public");
	CHECK(test_lifetime(OK200("Cache-Control: public\r\n"),
	    &test_pol, 1) == 3600, "storable: client_auth with public");
	CHECK(test_lifetime(OK200("Cache-Control: s-maxage=5\r\n"),
	    &test_pol, 1) == 5, "storable: client_auth with s-maxage");
	CHECK(test_lifetime(OK200("Cache-Control: must-revalidate\r\n"),
	    &test_pol, 1) == 3600,
	    "storable: client_auth with must-revalidate");

	test_resp(&rsp, OK200("Cache-Control: max-age=60\r\n"));
	test_req(&req, "GET / HTTP/1.1\r\nHost: a\r\n"
	    "Cache-Control: no-store\r\n\r\n");
	CHECK(cache_storable(&req, &rsp, &test_pol, 0, TEST_NOW) == -1,
	    "storable: request no-store");
	CHECK(cache_request_bypass(&req) == 1, "bypass: request no-store");
	test_req(&req, "HEAD / HTTP/1.1\r\nHost: a\r\n\r\n");
	CHECK(cache_storable(&req, &rsp, &test_pol, 0, TEST_NOW) == -1,
	    "storable: HEAD response not stored");
	CHECK(cache_request_bypass(&req) == 0, "bypass: HEAD uses the cache");
	test_req(&req, "POST / HTTP/1.1\r\nHost: a\r\n\r\n");
	CHECK(cache_storable(&req, &rsp, &test_pol, 0, TEST_NOW) == -1,
	    "storable: POST");
	CHECK(cache_request_bypass(&req) == 1, "bypass: POST");
	test_req(&req, "GET / HTTP/1.1\r\nHost: a\r\n"
	    "Cache-Control: no-cache\r\n\r\n");
	CHECK(cache_request_bypass(&req) == 0, "bypass: not for no-cache");
}

static void
test_keys(void)
{
	struct cache *c = cache_new(TEST_BIG);
	char *body;
	int64_t age;

#define LANG(v) "GET /v HTTP/1.1\r\nHost: a.test\r\nAccept-Language: " v \
	"\r\n\r\n"
#define VARY OK200("Vary: accept-language\r\n")
	CHECK(test_store(c, 1, LANG("en"), VARY, "en...", TEST_NOW) == 0 &&
	    test_store(c, 1, LANG("de"), VARY, "de...", TEST_NOW) == 0,
	    "vary: two variants stored");
	CHECK(test_get(c, 1, LANG("en"), TEST_NOW, &age, &body) ==
	    CACHE_FRESH && test_body_is(body, "en..."), "vary: en variant");
	CHECK(test_get(c, 1, LANG("de"), TEST_NOW, &age, &body) ==
	    CACHE_FRESH && test_body_is(body, "de..."), "vary: de variant");
	CHECK(test_get(c, 1, LANG("  de  "), TEST_NOW, &age, &body) ==
	    CACHE_FRESH && test_body_is(body, "de..."),
	    "vary: values compared trimmed");
	CHECK(test_get(c, 1, LANG("fr"), TEST_NOW, &age, NULL) == CACHE_MISS,
	    "vary: third language misses");
	CHECK(test_get(c, 1, GET("/v"), TEST_NOW, &age, NULL) == CACHE_MISS,
	    "vary: request without the field misses");
	CHECK(test_store(c, 1, LANG("en"), VARY, "EN!!!", TEST_NOW) == 0 &&
	    test_get(c, 1, LANG("en"), TEST_NOW, &age, &body) ==
	    CACHE_FRESH && test_body_is(body, "EN!!!"),
	    "vary: same variant replaced");

	CHECK(test_store(c, 1, GET("/absent"), OK200("Vary: X-Foo\r\n"),
	    "none.", TEST_NOW) == 0, "vary absent: stored");
	CHECK(test_get(c, 1, GET("/absent"), TEST_NOW, &age, &body) ==
	    CACHE_FRESH && test_body_is(body, "none."),
	    "vary absent: request without it hits");
	CHECK(test_get(c, 1, "GET /absent HTTP/1.1\r\nHost: a.test\r\n"
	    "X-Foo:\r\n\r\n", TEST_NOW, &age, NULL) == CACHE_MISS,
	    "vary absent: empty value is not absent");

	CHECK(test_store(c, 1, GET("/r"), OK200(""), "rule1", TEST_NOW) == 0,
	    "rule: stored under rule 1");
	CHECK(test_get(c, 2, GET("/r"), TEST_NOW, &age, NULL) == CACHE_MISS,
	    "rule: rule 2 misses");
	CHECK(test_get(c, 1, GET("/r?q=1"), TEST_NOW, &age, NULL) ==
	    CACHE_MISS, "key: query is part of the key");
	CHECK(test_get(c, 1, "HEAD /r HTTP/1.1\r\nHost: a.test\r\n\r\n",
	    TEST_NOW, &age, &body) == CACHE_FRESH &&
	    test_body_is(body, "rule1"), "HEAD answered from the GET entry");
	cache_free(c);
#undef LANG
#undef VARY
}

static void
test_revalidate(void)
{
	struct cache *c = cache_new(TEST_BIG);
	struct http1_head req, r304;
	struct cache_entry *e;
	const char *s;
	char *body;
	size_t len;
	int64_t age;

#define NOCACHE(path) "GET " path " HTTP/1.1\r\nHost: a.test\r\n" \
	"Cache-Control: no-cache\r\n\r\n"
	test_store(c, 1, GET("/etag"), OK200("Cache-Control: max-age=60\r\n"
	    "ETag: \"v1\"\r\nX-Version: 1\r\n"), "body1", TEST_NOW);
	test_store(c, 1, GET("/plain"), OK200("Cache-Control: max-age=60\r\n"),
	    "plain", TEST_NOW);
	CHECK(test_get(c, 1, NOCACHE("/etag"), TEST_NOW, &age, NULL) ==
	    CACHE_STALE, "no-cache: fresh entry with validator is STALE");
	CHECK(test_get(c, 1, NOCACHE("/plain"), TEST_NOW, &age, NULL) ==
	    CACHE_MISS, "no-cache: without validator MISS");
	CHECK(test_get(c, 1, "GET /etag HTTP/1.1\r\nHost: a.test\r\n"
	    "Pragma: no-cache\r\n\r\n", TEST_NOW, &age, NULL) == CACHE_STALE,
	    "no-cache: Pragma without Cache-Control");
	CHECK(test_get(c, 1, "GET /etag HTTP/1.1\r\nHost: a.test\r\n"
	    "Pragma: no-cache\r\nCache-Control: max-stale\r\n\r\n", TEST_NOW,
	    &age, NULL) == CACHE_FRESH,
	    "no-cache: Pragma ignored with Cache-Control");
	CHECK(test_get(c, 1, "GET /etag HTTP/1.1\r\nHost: a.test\r\n"
	    "Cache-Control: max-age=0\r\n\r\n", TEST_NOW, &age, NULL) ==
	    CACHE_STALE, "no-cache: max-age=0 likewise");
	CHECK(test_get(c, 1, GET("/plain"), TEST_NOW + 60, &age, NULL) ==
	    CACHE_MISS, "stale: without validator MISS");

	test_req(&req, GET("/etag"));
	CHECK(cache_lookup(c, 1, "a.test", &req, TEST_NOW + 61, &e, &age) ==
	    CACHE_STALE && age == 61, "stale: with ETag STALE");
	CHECK(strcmp(cache_entry_validators(e),
	    "If-None-Match: \"v1\"\r\n") == 0, "stale: validators exact");
	CHECK(test_resp(&r304, "HTTP/1.1 304 Not Modified\r\n"
	    "ETag: \"v1\"\r\nx-version: 2\r\nContent-Length: 99\r\n"
	    "Last-Modified: Mon, 13 Nov 2023 00:00:00 GMT\r\n"
	    "Connection: close\r\n\r\n"), "refresh: 304 parsed");
	cache_refresh(c, e, &r304, 60, TEST_NOW + 61);
	s = cache_entry_head(e, &len);
	CHECK(memmem(s, len, "X-Version: 1\r\n", 14) != NULL,
	    "refresh: a held entry is left alone");
	CHECK(cache_entry_validators(e)[0] == 'I' &&
	    cache_entry_payload(e) == 5 && cache_entry_status(e) == 200,
	    "refresh: held entry still readable");
	cache_entry_unref(e);

	CHECK(cache_lookup(c, 1, "a.test", &req, TEST_NOW + 100, &e, &age) ==
	    CACHE_FRESH && age == 39, "refresh: FRESH again from the 304");
	s = cache_entry_head(e, &len);
	CHECK(memmem(s, len, "x-version: 2\r\n", 14) != NULL &&
	    memmem(s, len, "X-Version: 1", 12) == NULL,
	    "refresh: 304's field replaces the stored one");
	CHECK(memmem(s, len, "Content-Length: 5\r\n", 19) != NULL &&
	    memmem(s, len, "99", 2) == NULL,
	    "refresh: Content-Length kept");
	CHECK(memmem(s, len, "Connection", 10) == NULL,
	    "refresh: hop-by-hop fields not stored");
	CHECK(strncmp(s, "HTTP/1.1 200 OK\r\n", 17) == 0 &&
	    s[len - 2] == '\r' && s[len - 1] == '\n',
	    "refresh: status line kept, head ends CRLF");
	CHECK(strcmp(cache_entry_validators(e), "If-None-Match: \"v1\"\r\n"
	    "If-Modified-Since: Mon, 13 Nov 2023 00:00:00 GMT\r\n") == 0,
	    "refresh: validators from the new head, both");
	s = cache_entry_body(e, &len);
	CHECK(len == 5 && memcmp(s, "body1", 5) == 0,
	    "refresh: old body kept");
	cache_entry_unref(e);

	/* A refresh of an entry that left the cache must not bring it back. */
	CHECK(cache_lookup(c, 1, "a.test", &req, TEST_NOW + 200, &e, &age) ==
	    CACHE_STALE, "refresh race: stale again");
	cache_invalidate(c, "a.test", req.target);
	cache_refresh(c, e, &r304, 60, TEST_NOW + 200);
	cache_entry_unref(e);
	CHECK(test_get(c, 1, GET("/etag"), TEST_NOW + 200, &age, &body) ==
	    CACHE_MISS, "refresh race: invalidated entry stays gone");
	cache_free(c);
#undef NOCACHE
}

static void
test_budget(void)
{
	struct http1_head req, rsp;
	struct cache_fill *fill;
	struct cache *c;
	char body[3000], path[32], reqs[96];
	int64_t age;
	int i, hits;

	/* One shard, room for four of these ~3.3 KB entries, not five. */
	c = cache_new(15000);
	memset(body, 'x', sizeof(body) - 1);
	body[sizeof(body) - 1] = '\0';
	for (i = 0; i < 4; i++) {
		snprintf(reqs, sizeof(reqs), GET("/%d"), i);
		test_store(c, 1, reqs, OK200(""), body, TEST_NOW);
	}
	for (i = 0, hits = 0; i < 4; i++) {
		snprintf(reqs, sizeof(reqs), GET("/%d"), i);
		hits += test_get(c, 1, reqs, TEST_NOW, &age, NULL) ==
		    CACHE_FRESH;
	}
	CHECK(hits == 4, "lru: four entries fit");
	/* /0 is now the least recently used; use it so /1 is. */
	CHECK(test_get(c, 1, GET("/0"), TEST_NOW, &age, NULL) == CACHE_FRESH,
	    "lru: touch /0");
	CHECK(test_store(c, 1, GET("/4"), OK200(""), body, TEST_NOW) == 0,
	    "lru: fifth stored");
	CHECK(test_get(c, 1, GET("/1"), TEST_NOW, &age, NULL) == CACHE_MISS,
	    "lru: least recently used evicted");
	CHECK(test_get(c, 1, GET("/0"), TEST_NOW, &age, NULL) == CACHE_FRESH &&
	    test_get(c, 1, GET("/4"), TEST_NOW, &age, NULL) == CACHE_FRESH,
	    "lru: recently used kept");

	test_req(&req, GET("/big"));
	test_resp(&rsp, OK200(""));
	fill = cache_fill_new(c, 1, "a.test", &req, &rsp, "HTTP/1.1 200 OK\r\n",
	    17, 60, 100, TEST_NOW);
	CHECK(fill != NULL && cache_fill_append(fill, body, 50) == 0,
	    "fill: under max_bytes");
	CHECK(cache_fill_append(fill, body, 50) == -1,
	    "fill: over max_bytes refused");
	cache_fill_abort(fill);
	fill = cache_fill_new(c, 1, "a.test", &req, &rsp, "HTTP/1.1 200 OK\r\n",
	    17, 60, 1 << 20, TEST_NOW);
	for (i = 0; i < 6; i++)
		if (cache_fill_append(fill, body, sizeof(body)) == -1)
			break;
	CHECK(i < 6, "fill: over the shard budget refused");
	cache_fill_abort(fill);
	CHECK(test_get(c, 1, GET("/big"), TEST_NOW, &age, NULL) == CACHE_MISS,
	    "fill: aborted fill not stored");
	cache_free(c);

	c = cache_new(TEST_BIG);
	for (i = 1; i <= 3; i++) {
		snprintf(path, sizeof(path), "/inv?x=%d", i % 2);
		snprintf(reqs, sizeof(reqs), GET("%s"), path);
		test_store(c, i, reqs, OK200(""), "data.", TEST_NOW);
	}
	test_store(c, 1, GET("/other"), OK200(""), "data.", TEST_NOW);
	test_req(&req, GET("/inv?x=1"));
	cache_invalidate(c, "A.test", req.target);
	CHECK(test_get(c, 1, GET("/inv?x=1"), TEST_NOW, &age, NULL) ==
	    CACHE_MISS && test_get(c, 3, GET("/inv?x=1"), TEST_NOW, &age,
	    NULL) == CACHE_MISS, "invalidate: every rule's entry dropped");
	CHECK(test_get(c, 2, GET("/inv?x=0"), TEST_NOW, &age, NULL) ==
	    CACHE_FRESH && test_get(c, 1, GET("/other"), TEST_NOW, &age,
	    NULL) == CACHE_FRESH, "invalidate: other URLs kept");
	cache_free(c);
}

struct test_racer {
	struct cache	*c;
	int		 id;
	pthread_barrier_t *go;
	long		 hits;
	long		 errors;
};

static double
test_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Each key's body names the key, so a torn or mixed-up entry shows. */
static void *
test_race_run(void *arg)
{
	struct test_racer *r = arg;
	struct http1_head req, rsp, r304;
	struct cache_entry *e;
	struct cache_fill *fill;
	char reqs[96], body[600];
	const char *b, *resps = OK200("ETag: \"e\"\r\nCache-Control: "
	    "max-age=1\r\n");
	enum cache_lookup res;
	unsigned seed = r->id;
	double deadline;
	size_t len;
	int64_t age;
	int k;

	test_resp(&rsp, resps);
	test_resp(&r304, "HTTP/1.1 304 Not Modified\r\nETag: \"e\"\r\n\r\n");
	pthread_barrier_wait(r->go);
	deadline = test_now_ms() + TEST_RUN_MS;
	while (test_now_ms() < deadline) {
		k = rand_r(&seed) % TEST_KEYS;
		snprintf(reqs, sizeof(reqs), GET("/k%d"), k);
		test_req(&req, reqs);
		res = cache_lookup(r->c, 1, "a.test", &req, TEST_NOW +
		    rand_r(&seed) % 3, &e, &age);
		if (res != CACHE_MISS) {
			r->hits++;
			b = cache_entry_body(e, &len);
			snprintf(body, sizeof(body), "%d", k);
			if (len != sizeof(body) || b[0] != body[0])
				r->errors++;
			if (res == CACHE_STALE)
				cache_refresh(r->c, e, &r304, 1, TEST_NOW);
			cache_entry_unref(e);
		} else {
			memset(body, '0' + k, sizeof(body));
			fill = cache_fill_new(r->c, 1, "a.test", &req, &rsp,
			    resps, rsp.head_len - 2, 1, 1 << 20, TEST_NOW);
			if (fill == NULL ||
			    cache_fill_append(fill, body, sizeof(body)) == -1) {
				r->errors++;
				cache_fill_abort(fill);
				continue;
			}
			cache_fill_commit(fill, sizeof(body));
		}
		if (rand_r(&seed) % 50 == 0)
			cache_invalidate(r->c, "a.test", req.target);
	}
	return NULL;
}

static void
test_race(void)
{
	struct test_racer r[TEST_THREADS];
	pthread_t t[TEST_THREADS];
	pthread_barrier_t go;
	long hits = 0, errors = 0;
	struct cache *c;
	int i;

	/* Small, so that fills evict each other as well. */
	c = cache_new(4096);
	pthread_barrier_init(&go, NULL, TEST_THREADS);
	for (i = 0; i < TEST_THREADS; i++) {
		r[i] = (struct test_racer){ .c = c, .id = i + 1, .go = &go };
		pthread_create(&t[i], NULL, test_race_run, &r[i]);
	}
	for (i = 0; i < TEST_THREADS; i++) {
		pthread_join(t[i], NULL);
		hits += r[i].hits;
		errors += r[i].errors;
	}
	pthread_barrier_destroy(&go);
	cache_free(c);
	printf("# race: %ld hits\n", hits);
	CHECK(hits > 0 && errors == 0, "race: lookups, fills, refreshes, "
	    "invalidations and unrefs from 4 threads");
}

int
main(void)
{
	test_freshness();
	test_storable();
	test_keys();
	test_revalidate();
	test_budget();
	test_race();
	return unit_done();
}
