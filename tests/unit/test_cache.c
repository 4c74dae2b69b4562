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
#include "mask.h"
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
	fill = cache_fill_new(c, rule, "a.test", &req, &rsp, lifetime,
	    1 << 20, now, now);
	if (fill == NULL)
		return -1;
	if (cache_fill_append(fill, body, strlen(body)) == -1) {
		cache_fill_abort(fill);
		return -1;
	}
	cache_fill_commit(fill);
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
	/* Heuristically cacheable (RFC 9110, 15.1), 206 aside. */
	static const int heuristic[] = { 200, 203, 204, 300, 301, 308, 404,
	    405, 410, 414, 501 };
	static const int explicit_only[] = { 201, 202, 302, 303, 307, 400,
	    403, 500, 502, 503 };
	struct http1_head req, rsp;
	char buf[160], what[64];
	size_t i;

	for (i = 0; i < sizeof(heuristic) / sizeof(heuristic[0]); i++) {
		snprintf(buf, sizeof(buf), "HTTP/1.1 %d X\r\n"
		    "Content-Length: 0\r\n\r\n", heuristic[i]);
		snprintf(what, sizeof(what), "storable: %d heuristic",
		    heuristic[i]);
		CHECK(test_lifetime(buf, &test_pol, 0) == 3600, what);
	}
	for (i = 0; i < sizeof(explicit_only) / sizeof(explicit_only[0]);
	    i++) {
		snprintf(buf, sizeof(buf), "HTTP/1.1 %d X\r\n"
		    "Content-Length: 0\r\n\r\n", explicit_only[i]);
		snprintf(what, sizeof(what), "storable: %d not heuristic",
		    explicit_only[i]);
		CHECK(test_lifetime(buf, &test_pol, 0) == -1, what);
		snprintf(buf, sizeof(buf), "HTTP/1.1 %d X\r\n"
		    "Cache-Control: max-age=60\r\nContent-Length: 0\r\n\r\n",
		    explicit_only[i]);
		snprintf(what, sizeof(what), "storable: %d with max-age",
		    explicit_only[i]);
		CHECK(test_lifetime(buf, &test_pol, 0) == 60, what);
		snprintf(buf, sizeof(buf), "HTTP/1.1 %d X\r\n"
		    "Cache-Control: s-maxage=70\r\nContent-Length: 0\r\n\r\n",
		    explicit_only[i]);
		snprintf(what, sizeof(what), "storable: %d with s-maxage",
		    explicit_only[i]);
		CHECK(test_lifetime(buf, &test_pol, 0) == 70, what);
		snprintf(buf, sizeof(buf), "HTTP/1.1 %d X\r\n"
		    "Expires: Tue, 14 Nov 2023 22:14:20 GMT\r\n"
		    "Content-Length: 0\r\n\r\n", explicit_only[i]);
		snprintf(what, sizeof(what), "storable: %d with Expires",
		    explicit_only[i]);
		CHECK(test_lifetime(buf, &test_pol, 0) == 60, what);
	}
	CHECK(test_lifetime("HTTP/1.1 206 Partial Content\r\nCache-Control: "
	    "max-age=60\r\nContent-Range: bytes 0-0/9\r\n"
	    "Content-Length: 1\r\n\r\n", &test_pol, 0) == -1,
	    "storable: 206 never");
	CHECK(test_lifetime("HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\n"
	    "Transfer-Encoding: gzip, chunked\r\n\r\n", &test_pol, 0) == -1 &&
	    test_lifetime("HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\n"
	    "Transfer-Encoding: gzip\r\n\r\n", &test_pol, 0) == -1,
	    "storable: a transfer coding other than chunked");
	CHECK(test_lifetime("HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n", &test_pol, 0) == 60,
	    "storable: chunked");
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
	test_req(&req, "GET / HTTP/1.1\r\nHost: a\r\n"
	    "x-FORWARDED-host: evil.test\r\n\r\n");
	CHECK(cache_request_bypass(&req) == 1, "bypass: X-Forwarded-Host");
	test_req(&req, "GET / HTTP/1.1\r\nHost: a\r\n"
	    "X-Forwarded-For: 192.0.2.1\r\n\r\n");
	CHECK(cache_request_bypass(&req) == 0,
	    "bypass: not for X-Forwarded-For");
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

	CHECK(test_store(c, 1, LANG("en, de"), VARY, "list.", TEST_NOW) == 0,
	    "vary list: stored");
	CHECK(test_get(c, 1, LANG(" en ,   de "), TEST_NOW, &age, &body) ==
	    CACHE_FRESH && test_body_is(body, "list."),
	    "vary list: spacing around commas ignored");
	CHECK(test_get(c, 1, "GET /v HTTP/1.1\r\nHost: a.test\r\n"
	    "Accept-Language: en\r\nAccept-Language: de\r\n\r\n", TEST_NOW,
	    &age, &body) == CACHE_FRESH && test_body_is(body, "list."),
	    "vary list: two lines are one list");
	CHECK(test_get(c, 1, LANG("en,,de"), TEST_NOW, &age, NULL) ==
	    CACHE_FRESH, "vary list: empty elements ignored");
	CHECK(test_get(c, 1, LANG("de, en"), TEST_NOW, &age, NULL) ==
	    CACHE_MISS, "vary list: order matters");
	CHECK(test_store(c, 1, LANG("\"a, b\""), VARY, "quot.", TEST_NOW) ==
	    0 && test_get(c, 1, LANG("\"a,b\""), TEST_NOW, &age, NULL) ==
	    CACHE_MISS, "vary list: a comma in quotes separates nothing");

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
	CHECK(memmem(s, len, "Content-Length", 14) == NULL &&
	    memmem(s, len, "99", 2) == NULL,
	    "refresh: no framing from the 304");
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
	fill = cache_fill_new(c, 1, "a.test", &req, &rsp, 60, 100, TEST_NOW,
	    TEST_NOW);
	CHECK(fill != NULL && cache_fill_append(fill, body, 50) == 0,
	    "fill: under max_bytes");
	CHECK(cache_fill_append(fill, body, 50) == -1,
	    "fill: over max_bytes refused");
	cache_fill_abort(fill);
	fill = cache_fill_new(c, 1, "a.test", &req, &rsp, 60, 1 << 20,
	    TEST_NOW, TEST_NOW);
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
			    1, 1 << 20, TEST_NOW, TEST_NOW);
			if (fill == NULL ||
			    cache_fill_append(fill, body, sizeof(body)) == -1) {
				r->errors++;
				cache_fill_abort(fill);
				continue;
			}
			cache_fill_commit(fill);
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

/* cache_initial_age and Age parsing (RFC 9111, 4.2.3 and 5.1). */
static void
test_age(void)
{
	struct cache *c;
	struct http1_head rsp;
	int64_t age;

#define AGE_RESP(f) "HTTP/1.1 200 OK\r\n" f "Content-Length: 0\r\n\r\n"
	CHECK(test_resp(&rsp, AGE_RESP("Age: 30\r\n")) &&
	    cache_age_value(&rsp, &age) == 0 && age == 30, "age: value read");
	CHECK(test_resp(&rsp, AGE_RESP("")) &&
	    cache_age_value(&rsp, &age) == 0 && age == 0, "age: absent is 0");
	CHECK(test_resp(&rsp, AGE_RESP("Age: 1, 2\r\n")) &&
	    cache_age_value(&rsp, &age) == -1, "age: a list is invalid");
	CHECK(test_resp(&rsp, AGE_RESP("Age: 1\r\nAge: 2\r\n")) &&
	    cache_age_value(&rsp, &age) == -1, "age: two fields are invalid");
	CHECK(test_resp(&rsp, AGE_RESP("Age: -5\r\n")) &&
	    cache_age_value(&rsp, &age) == -1, "age: negative is invalid");
	CHECK(test_resp(&rsp, AGE_RESP("Age: ten\r\n")) &&
	    cache_age_value(&rsp, &age) == -1, "age: non-numeric is invalid");
	CHECK(test_resp(&rsp, AGE_RESP("Age: 99999999999999\r\n")) &&
	    cache_age_value(&rsp, &age) == 0 && age == 2147483648LL,
	    "age: capped at 2^31");

	CHECK(test_resp(&rsp, AGE_RESP("Age: 10\r\n")) &&
	    cache_initial_age(&rsp, TEST_NOW - 2, TEST_NOW) == 12,
	    "initial age: Age plus the response delay");
	CHECK(test_resp(&rsp, AGE_RESP("Age: 10\r\n"
	    "Date: Tue, 14 Nov 2023 22:12:20 GMT\r\n")) &&
	    cache_initial_age(&rsp, TEST_NOW, TEST_NOW) == 60,
	    "initial age: apparent age when larger");
	CHECK(test_resp(&rsp, AGE_RESP("Age: 100\r\n"
	    "Date: Tue, 14 Nov 2023 22:12:20 GMT\r\n")) &&
	    cache_initial_age(&rsp, TEST_NOW, TEST_NOW) == 100,
	    "initial age: corrected Age when larger");
	CHECK(test_resp(&rsp, AGE_RESP("Date: Wed, 15 Nov 2023 00:00:00 GMT"
	    "\r\n")) && cache_initial_age(&rsp, TEST_NOW, TEST_NOW) == 0,
	    "initial age: a Date in the future is no age");

	CHECK(test_lifetime(OK200("Cache-Control: max-age=60\r\nAge: 1, 2\r\n"
	    "ETag: \"x\"\r\n"), &test_pol, 0) == 0,
	    "age: a listed Age makes it stale");
	CHECK(test_lifetime(OK200("Cache-Control: max-age=60\r\nAge: -1\r\n"),
	    &test_pol, 0) == -1,
	    "age: a negative Age without validator is not stored");

	c = cache_new(TEST_BIG);
	CHECK(test_store(c, 1, GET("/d"), OK200("Cache-Control: max-age=100"
	    "\r\nDate: Tue, 14 Nov 2023 22:12:50 GMT\r\n"), "hello",
	    TEST_NOW) == 0 && test_get(c, 1, GET("/d"), TEST_NOW + 10, &age,
	    NULL) == CACHE_FRESH && age == 40,
	    "age: apparent age plus resident time on a hit");
	CHECK(test_get(c, 1, GET("/d"), TEST_NOW + 70, &age, NULL) ==
	    CACHE_MISS, "age: stale by its apparent age");
	cache_free(c);
#undef AGE_RESP
}

/* The answer a stored entry gives (cache_answer), head and body. */
static int
test_answer(struct cache *c, const char *reqs, int status,
    const char *want_field, const char *want_body)
{
	struct http1_head req;
	struct cache_entry *e;
	struct cache_answer a;
	int64_t age;
	int ok;

	if (!test_req(&req, reqs) || cache_lookup(c, 1, "a.test", &req,
	    TEST_NOW, &e, &age) != CACHE_FRESH)
		return 0;
	if (cache_answer(e, &req, &a) == -1) {
		cache_entry_unref(e);
		return 0;
	}
	ok = a.status == status &&
	    (want_field == NULL || memmem(a.head, a.headlen, want_field,
	    strlen(want_field)) != NULL) &&
	    a.bodylen == strlen(want_body) &&
	    memcmp(a.body ? a.body : "", want_body, a.bodylen) == 0;
	if (!ok)
		printf("# answer %d: %.*s[%.*s]\n", a.status, (int)a.headlen,
		    a.head, (int)a.bodylen, a.body ? a.body : "");
	free(a.head);
	cache_entry_unref(e);
	return ok;
}

static void
test_conditional(void)
{
	struct cache *c = cache_new(TEST_BIG);
	struct http1_str list, tag;

#define REQ(f) "GET /c HTTP/1.1\r\nHost: a.test\r\n" f "\r\n"
#define TAGS(l, t) (list.p = (l), list.len = strlen(l), tag.p = (t), \
	tag.len = strlen(t))
	TAGS("\"a\", W/\"b\"", "\"b\"");
	CHECK(cache_etag_match(list, tag, 0), "etag: weak comparison matches");
	CHECK(!cache_etag_match(list, tag, 1), "etag: strong one does not");
	TAGS("\"x,y\"", "\"x,y\"");
	CHECK(cache_etag_match(list, tag, 0), "etag: comma inside a tag");
	TAGS("*", "");
	CHECK(cache_etag_match(list, tag, 0), "etag: * matches any");
	TAGS("\"a\"", "");
	CHECK(!cache_etag_match(list, tag, 0), "etag: none stored");

	test_store(c, 1, GET("/c"), OK200("Cache-Control: max-age=60\r\n"
	    "ETag: W/\"v1\"\r\nLast-Modified: Mon, 13 Nov 2023 00:00:00 GMT\r\n"
	    "Content-Type: text/plain\r\nX-Other: 1\r\n"
	    "Connection: X-Other\r\n"), "hello", TEST_NOW);
	CHECK(test_answer(c, REQ(""), 200, "Content-Length: 5\r\n", "hello"),
	    "answer: 200 with sluice's Content-Length");
	CHECK(test_answer(c, REQ("If-None-Match: \"v1\"\r\n"), 304,
	    "ETag: W/\"v1\"\r\n", ""), "answer: If-None-Match, weak: 304");
	CHECK(test_answer(c, REQ("If-None-Match: \"v2\", *\r\n"), 304, NULL,
	    ""), "answer: If-None-Match * : 304");
	CHECK(test_answer(c, REQ("If-None-Match: \"v2\"\r\n"
	    "If-Modified-Since: Tue, 14 Nov 2023 00:00:00 GMT\r\n"), 200, NULL,
	    "hello"), "answer: If-Modified-Since ignored with If-None-Match");
	CHECK(test_answer(c, REQ("If-Modified-Since: Tue, 14 Nov 2023 "
	    "00:00:00 GMT\r\n"), 304, "Last-Modified: ", ""),
	    "answer: If-Modified-Since after Last-Modified: 304");
	CHECK(test_answer(c, REQ("If-Modified-Since: Sun, 12 Nov 2023 "
	    "00:00:00 GMT\r\n"), 200, NULL, "hello"),
	    "answer: If-Modified-Since before Last-Modified: 200");
	CHECK(test_answer(c, REQ("If-Modified-Since: yesterday\r\n"), 200,
	    NULL, "hello"), "answer: a bad If-Modified-Since is ignored");
	CHECK(test_answer(c, REQ("If-None-Match: \"v1\"\r\n"), 304,
	    "Cache-Control: max-age=60\r\n", "") &&
	    !test_answer(c, REQ("If-None-Match: \"v1\"\r\n"), 304,
	    "Content-Type", "") && !test_answer(c, REQ("If-None-Match: "
	    "\"v1\"\r\n"), 304, "Content-Length", ""),
	    "answer: a 304 carries the validators, not the content fields");
	CHECK(!test_answer(c, REQ(""), 200, "X-Other", "hello"),
	    "answer: hop-by-hop fields were not stored");
	CHECK(test_answer(c, "HEAD /c HTTP/1.1\r\nHost: a.test\r\n\r\n", 200,
	    "Content-Length: 5\r\n", ""), "answer: HEAD, length without body");

	test_store(c, 1, GET("/404"), "HTTP/1.1 404 Not Found\r\n"
	    "Cache-Control: max-age=60\r\nETag: \"n\"\r\n"
	    "Content-Length: 4\r\n\r\n", "gone", TEST_NOW);
	CHECK(test_answer(c, "GET /404 HTTP/1.1\r\nHost: a.test\r\n"
	    "If-None-Match: \"n\"\r\n\r\n", 404, NULL, "gone"),
	    "answer: no 304 for a stored 404");
	cache_free(c);
#undef REQ
#undef TAGS
}

static enum cache_range
test_range_of(const char *s, uint64_t len, uint64_t *a, uint64_t *z)
{
	struct http1_str v = { s, strlen(s) };

	return cache_range_parse(v, len, a, z);
}

static void
test_range(void)
{
	struct cache *c = cache_new(TEST_BIG);
	uint64_t a, z;

#define RANGE(s, n)	test_range_of((s), (n), &a, &z)
	CHECK(RANGE("bytes=0-4", 10) == CACHE_RANGE_OK && a == 0 && z == 4,
	    "range: first bytes");
	CHECK(RANGE("bytes=5-", 10) == CACHE_RANGE_OK && a == 5 && z == 9,
	    "range: open");
	CHECK(RANGE("bytes=-3", 10) == CACHE_RANGE_OK && a == 7 && z == 9,
	    "range: suffix");
	CHECK(RANGE("bytes=-30", 10) == CACHE_RANGE_OK && a == 0 && z == 9,
	    "range: suffix longer than the body");
	CHECK(RANGE("bytes=3-99", 10) == CACHE_RANGE_OK && a == 3 && z == 9,
	    "range: last clipped");
	CHECK(RANGE("BYTES = 1-2", 10) == CACHE_RANGE_NONE,
	    "range: not the syntax");
	CHECK(RANGE("bytes=10-", 10) == CACHE_RANGE_UNSAT,
	    "range: starts past the end");
	CHECK(RANGE("bytes=-0", 10) == CACHE_RANGE_UNSAT,
	    "range: empty suffix");
	CHECK(RANGE("bytes=5-2", 10) == CACHE_RANGE_NONE,
	    "range: last before first is invalid");
	CHECK(RANGE("bytes=0-1,3-4", 10) == CACHE_RANGE_NONE,
	    "range: several ranges, whole body");
	CHECK(RANGE("items=0-1", 10) == CACHE_RANGE_NONE,
	    "range: other units ignored");
	CHECK(RANGE("bytes=99999999999999999999999-", 10) ==
	    CACHE_RANGE_UNSAT, "range: huge first byte");

	test_store(c, 1, GET("/r"), OK200("Cache-Control: max-age=60\r\n"
	    "ETag: \"s\"\r\nLast-Modified: Wed, 15 Nov 2023 00:00:00 GMT\r\n"),
	    "0123456789", TEST_NOW);
#define REQ(f) "GET /r HTTP/1.1\r\nHost: a.test\r\n" f "\r\n"
	CHECK(test_answer(c, REQ("Range: bytes=2-4\r\n"), 206,
	    "Content-Range: bytes 2-4/10\r\nContent-Length: 3\r\n", "234"),
	    "answer: 206 with Content-Range");
	CHECK(test_answer(c, REQ("Range: bytes=-2\r\n"), 206,
	    "Content-Range: bytes 8-9/10\r\n", "89"), "answer: 206 suffix");
	CHECK(test_answer(c, REQ("Range: bytes=20-\r\n"), 416,
	    "Content-Range: bytes */10\r\n", ""),
	    "answer: 416 with the length");
	CHECK(test_answer(c, REQ("Range: bytes=0-0,2-2\r\n"), 200, NULL,
	    "0123456789"), "answer: several ranges, 200");
	CHECK(test_answer(c, REQ("Range: bytes=0-1\r\nIf-Range: \"s\"\r\n"),
	    206, NULL, "01"), "answer: If-Range with the ETag");
	CHECK(test_answer(c, REQ("Range: bytes=0-1\r\nIf-Range: \"t\"\r\n"),
	    200, NULL, "0123456789"), "answer: If-Range with another ETag");
	CHECK(test_answer(c, REQ("Range: bytes=0-1\r\nIf-Range: W/\"s\"\r\n"),
	    200, NULL, "0123456789"), "answer: If-Range with a weak ETag");
	CHECK(test_answer(c, REQ("Range: bytes=0-1\r\nIf-Range: Wed, 15 Nov "
	    "2023 00:00:00 GMT\r\n"), 206, NULL, "01"),
	    "answer: If-Range with the date (a Wednesday)");
	CHECK(test_answer(c, REQ("Range: bytes=0-1\r\nIf-Range: Wed, 15 Nov "
	    "2023 00:00:01 GMT\r\n"), 200, NULL, "0123456789"),
	    "answer: If-Range with another date");
	CHECK(test_answer(c, "HEAD /r HTTP/1.1\r\nHost: a.test\r\nRange: "
	    "bytes=0-1\r\n\r\n", 200, "Content-Length: 10\r\n", ""),
	    "answer: Range on HEAD ignored");
	cache_free(c);
#undef RANGE
#undef REQ
}

/* A chunked body is stored decoded, and only when whole. */
static void
test_unchunk(void)
{
	static const char wire[] = "5;ext=1\r\nhello\r\n1\r\n \r\n"
	    "A\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n";
	struct cache *c = cache_new(TEST_BIG);
	struct http1_head req, rsp;
	struct cache_fill *fill;
	char *body;
	size_t i;
	int64_t age;

	test_req(&req, GET("/ch"));
	test_resp(&rsp, "HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n");
	fill = cache_fill_new(c, 1, "a.test", &req, &rsp, 60, 1 << 20,
	    TEST_NOW, TEST_NOW);
	/* A byte at a time: every state boundary is crossed. */
	for (i = 0; i < sizeof(wire) - 1; i++)
		if (cache_fill_append(fill, wire + i, 1) == -1)
			break;
	CHECK(i == sizeof(wire) - 1, "unchunk: all bytes taken");
	cache_fill_commit(fill);
	CHECK(test_get(c, 1, GET("/ch"), TEST_NOW, &age, &body) ==
	    CACHE_FRESH && test_body_is(body, "hello 0123456789"),
	    "unchunk: body stored decoded");

	test_req(&req, GET("/cut"));
	fill = cache_fill_new(c, 1, "a.test", &req, &rsp, 60, 1 << 20,
	    TEST_NOW, TEST_NOW);
	CHECK(cache_fill_append(fill, wire, 20) == 0, "unchunk: part taken");
	cache_fill_commit(fill);
	CHECK(test_get(c, 1, GET("/cut"), TEST_NOW, &age, NULL) == CACHE_MISS,
	    "unchunk: a cut body is not stored");
	cache_free(c);
}

/* stale-if-error and stale-while-revalidate windows (RFC 5861). */
static void
test_stale(void)
{
	struct cache *c = cache_new(TEST_BIG);
	struct http1_head req;
	struct cache_entry *e;
	int64_t age;

	test_store(c, 1, GET("/sie"), OK200("Cache-Control: max-age=10, "
	    "stale-if-error=20\r\n"), "sie..", TEST_NOW);
	test_store(c, 1, GET("/swr"), OK200("Cache-Control: max-age=10, "
	    "stale-while-revalidate=20\r\n"), "swr..", TEST_NOW);
	test_store(c, 1, GET("/mr"), OK200("Cache-Control: max-age=10, "
	    "stale-if-error=20, stale-while-revalidate=20, must-revalidate\r\n"),
	    "mr...", TEST_NOW);
	test_req(&req, GET("/sie"));
	CHECK(cache_lookup(c, 1, "a.test", &req, TEST_NOW + 15, &e, &age) ==
	    CACHE_STALE && cache_entry_on_error(e, TEST_NOW + 15) &&
	    !cache_entry_on_error(e, TEST_NOW + 5) &&
	    !cache_entry_on_error(e, TEST_NOW + 30),
	    "stale-if-error: STALE without validator, usable on error");
	cache_entry_unref(e);
	CHECK(test_get(c, 1, GET("/sie"), TEST_NOW + 30, &age, NULL) ==
	    CACHE_MISS, "stale-if-error: MISS once the window closed");

	test_req(&req, GET("/swr"));
	CHECK(cache_lookup(c, 1, "a.test", &req, TEST_NOW + 15, &e, &age) ==
	    CACHE_STALE_SWR && age == 15,
	    "stale-while-revalidate: served stale within the window");
	CHECK(cache_entry_claim(e) && !cache_entry_claim(e),
	    "stale-while-revalidate: one revalidation at a time");
	cache_entry_release_claim(e);
	CHECK(cache_entry_claim(e), "stale-while-revalidate: claim again");
	cache_entry_unref(e);
	CHECK(test_get(c, 1, "GET /swr HTTP/1.1\r\nHost: a.test\r\n"
	    "Cache-Control: no-cache\r\n\r\n", TEST_NOW + 15, &age, NULL) ==
	    CACHE_MISS, "stale-while-revalidate: not for no-cache");
	CHECK(test_get(c, 1, GET("/swr"), TEST_NOW + 30, &age, NULL) ==
	    CACHE_MISS, "stale-while-revalidate: MISS after the window");

	test_req(&req, GET("/mr"));
	CHECK(test_get(c, 1, GET("/mr"), TEST_NOW + 15, &age, NULL) ==
	    CACHE_MISS, "must-revalidate: no stale serving");
	cache_free(c);
}

/*
 * A fill given the forms to mask stores the body with every one starred,
 * found whole across appends and chunks: what a hit serves holds none.
 */
static void
test_masked(void)
{
	const char *resps = "HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n";
	const char *framed[] = { "5\r\nab se\r\n", "a\r\ncret-123 z\r\n",
	    "0\r\n\r\n" };
	struct cache *c = cache_new(TEST_BIG);
	struct mask_set set = { 0 };
	struct http1_head req, rsp;
	struct cache_fill *fill;
	int64_t age;
	char *body;
	size_t i;

	CHECK(mask_set_add(&set, "secret-123", 10) == 0 &&
	    test_req(&req, GET("/m")) && test_resp(&rsp, resps),
	    "masked fill: a set, a request, a chunked response");
	fill = cache_fill_new(c, 1, "a.test", &req, &rsp, 60, 1 << 20, TEST_NOW,
	    TEST_NOW);
	cache_fill_mask(fill, &set);
	for (i = 0; i < 3; i++)
		if (cache_fill_append(fill, framed[i], strlen(framed[i])) == -1)
			break;
	CHECK(i == 3, "masked fill: the body appended in three pieces");
	cache_fill_commit(fill);
	CHECK(test_get(c, 1, GET("/m"), TEST_NOW, &age, &body) == CACHE_FRESH &&
	    test_body_is(body, "ab ********** z"), "masked fill: the entry "
	    "holds the body with the form starred, across two chunks");
	mask_set_clear(&set);
	cache_free(c);
}

int
main(void)
{
	test_freshness();
	test_storable();
	test_age();
	test_conditional();
	test_range();
	test_unchunk();
	test_stale();
	test_keys();
	test_revalidate();
	test_budget();
	test_masked();
	test_race();
	return unit_done();
}
