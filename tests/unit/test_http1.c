/*
 * test_http1.c - unit tests for src/http1.c.
 *
 * Heads: valid requests and responses, the size limits, every framing
 * ambiguity we refuse.  Bodies: Content-Length and chunked framing, checked
 * for giving the same answer however the stream is split.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http1.h"
#include "unit.h"

static struct http1_head h;
static const char *why;

static const struct http1_str get_method = { "GET", 3 };
static const struct http1_str head_method = { "HEAD", 4 };
static const struct http1_str connect_method = { "CONNECT", 7 };

static enum http1_result
req(const char *s)
{
	why = NULL;
	return http1_parse_request(s, strlen(s), &h, &why);
}

static enum http1_result
resp(const char *s, struct http1_str method)
{
	why = NULL;
	return http1_parse_response(s, strlen(s), method, &h, &why);
}

static int
str_is(struct http1_str s, const char *lit)
{
	return s.len == strlen(lit) && memcmp(s.p, lit, s.len) == 0;
}

/* Deterministic, so a failure can be replayed. */
static uint32_t
test_rand(void)
{
	static uint32_t x = 2463534242u;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return x;
}

static void
test_simple_get(void)
{
	const char *s = "GET /v1/models?x=1 HTTP/1.1\r\n"
	    "Host: api.example.com\r\n"
	    "User-Agent:  curl/8.0 \t\r\n"
	    "Accept: */*\r\n"
	    "\r\n";

	CHECK(req(s) == HTTP1_OK, "simple GET parses");
	CHECK(str_is(h.method, "GET"), "method");
	CHECK(str_is(h.target, "/v1/models?x=1"), "target");
	CHECK(h.version_minor == 1, "version 1.1");
	CHECK(h.nheaders == 3, "three headers");
	CHECK(h.head_len == strlen(s), "head_len covers the blank line");
	CHECK(str_is(h.host, "api.example.com"), "host");
	CHECK(h.body == HTTP1_BODY_NONE, "GET has no body");
	CHECK(h.keep_alive == 1, "1.1 keeps alive by default");
	CHECK(h.expect_continue == 0 && h.upgrade == 0,
	    "no expect, no upgrade");
	CHECK(str_is(h.headers[1].value, "curl/8.0"),
	    "OWS stripped both sides");
	CHECK(http1_find(&h, "user-agent") == &h.headers[1],
	    "find ignores case");
	CHECK(http1_find(&h, "user-agen") == NULL, "find: prefix is no match");
	CHECK(http1_find(&h, "cookie") == NULL, "find: absent");
	CHECK(http1_str_eq(h.method, "get") && !http1_str_eq(h.method, "ge") &&
	    !http1_str_eq(h.method, "gets"), "str_eq");

	CHECK(req("GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\n") ==
	    HTTP1_OK && h.head_len == 27, "pipelined bytes after the head");
	CHECK(req("GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nX-Sp:  \r\n\r\n")
	    == HTTP1_OK && h.headers[1].value.len == 0 &&
	    h.headers[2].value.len == 0, "empty values");
	CHECK(req("GET / HTTP/1.1\r\nHost: a\r\nX: caf\xc3\xa9\r\n\r\n") ==
	    HTTP1_OK, "obs-text in a value");
	CHECK(req("GET / HTTP/1.0\r\n\r\n") == HTTP1_OK &&
	    h.version_minor == 0 && h.host.len == 0 && h.keep_alive == 0,
	    "HTTP/1.0 without Host");
}

static void
test_targets(void)
{
	CHECK(req("CONNECT api.example.com:443 HTTP/1.1\r\n"
	    "Host: api.example.com:443\r\n\r\n") == HTTP1_OK &&
	    str_is(h.target, "api.example.com:443"), "CONNECT authority-form");
	CHECK(req("CONNECT [2001:db8::1]:443 HTTP/1.1\r\n"
	    "Host: [2001:db8::1]:443\r\n\r\n") == HTTP1_OK,
	    "CONNECT IPv6 authority");
	CHECK(req("CONNECT api.example.com HTTP/1.1\r\nHost: a\r\n\r\n") ==
	    HTTP1_ERR_MALFORMED, "CONNECT without port");
	CHECK(req("CONNECT a:0 HTTP/1.1\r\nHost: a\r\n\r\n") ==
	    HTTP1_ERR_MALFORMED, "CONNECT port 0");
	CHECK(req("CONNECT a:65536 HTTP/1.1\r\nHost: a\r\n\r\n") ==
	    HTTP1_ERR_MALFORMED, "CONNECT port too big");
	CHECK(req("CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n") ==
	    HTTP1_ERR_MALFORMED, "CONNECT origin-form");
	CHECK(req("GET a.com:443 HTTP/1.1\r\nHost: a\r\n\r\n") ==
	    HTTP1_ERR_MALFORMED, "authority-form without CONNECT");
	CHECK(req("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n") == HTTP1_OK,
	    "OPTIONS *");
	CHECK(req("GET * HTTP/1.1\r\nHost: a\r\n\r\n") == HTTP1_ERR_MALFORMED,
	    "asterisk without OPTIONS");
	CHECK(req("GET http://a.com/x?y HTTP/1.1\r\nHost: a.com\r\n\r\n") ==
	    HTTP1_OK, "absolute-form");
	CHECK(req("GET HTTPS://a.com:8443 HTTP/1.1\r\nHost: a.com\r\n\r\n") ==
	    HTTP1_OK, "absolute-form, scheme in capitals, no path");
	CHECK(req("GET http://u@a.com/ HTTP/1.1\r\nHost: a.com\r\n\r\n") ==
	    HTTP1_ERR_MALFORMED, "absolute-form with userinfo");
	CHECK(req("GET ftp://a.com/ HTTP/1.1\r\nHost: a.com\r\n\r\n") ==
	    HTTP1_ERR_MALFORMED, "other scheme");
	CHECK(req("GET http:///x HTTP/1.1\r\nHost: a.com\r\n\r\n") ==
	    HTTP1_ERR_MALFORMED, "absolute-form without host");
	CHECK(req("GET /a b HTTP/1.1\r\nHost: a\r\n\r\n") ==
	    HTTP1_ERR_MALFORMED, "space in target");
	CHECK(req("GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n") ==
	    HTTP1_ERR_MALFORMED, "tab in target");
	CHECK(req("GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n") ==
	    HTTP1_ERR_MALFORMED, "DEL in target");
	CHECK(req("GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n") ==
	    HTTP1_ERR_MALFORMED, "raw UTF-8 in target");
	CHECK(req("GET /a#frag HTTP/1.1\r\nHost: a\r\n\r\n") ==
	    HTTP1_ERR_MALFORMED, "fragment in target");
	CHECK(req("GET  / HTTP/1.1\r\nHost: a\r\n\r\n") ==
	    HTTP1_ERR_MALFORMED, "two spaces after method");
	CHECK(req("GET /  HTTP/1.1\r\nHost: a\r\n\r\n") ==
	    HTTP1_ERR_MALFORMED, "two spaces before version");
	CHECK(req("GET / HTTP/1.1 \r\nHost: a\r\n\r\n") ==
	    HTTP1_ERR_MALFORMED, "space after version");
	CHECK(req("GET /\r\nHost: a\r\n\r\n") == HTTP1_ERR_MALFORMED,
	    "HTTP/0.9 style line");
	CHECK(req("G(T / HTTP/1.1\r\nHost: a\r\n\r\n") == HTTP1_ERR_MALFORMED,
	    "method not a token");
	CHECK(req(" GET / HTTP/1.1\r\nHost: a\r\n\r\n") == HTTP1_ERR_MALFORMED,
	    "leading space");
	CHECK(req("GET / HTTP/1.2\r\nHost: a\r\n\r\n") == HTTP1_ERR_MALFORMED,
	    "HTTP/1.2");
	CHECK(req("GET / HTTP/2.0\r\nHost: a\r\n\r\n") == HTTP1_ERR_MALFORMED,
	    "HTTP/2.0");
	CHECK(req("GET / http/1.1\r\nHost: a\r\n\r\n") == HTTP1_ERR_MALFORMED,
	    "lowercase http/1.1");
	CHECK(req("GET / HTTP/1.10\r\nHost: a\r\n\r\n") == HTTP1_ERR_MALFORMED,
	    "HTTP/1.10");
	CHECK(req("\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n") ==
	    HTTP1_ERR_MALFORMED, "empty line before the request line");
}

static void
test_host(void)
{
	CHECK(req("GET / HTTP/1.1\r\n\r\n") == HTTP1_ERR_MALFORMED,
	    "missing Host in HTTP/1.1");
	CHECK(req("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n") ==
	    HTTP1_ERR_MALFORMED, "two Host headers");
	CHECK(req("GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n") ==
	    HTTP1_ERR_MALFORMED, "two Host headers in 1.0");
	CHECK(req("GET / HTTP/1.1\r\nHOST: a.b:8080\r\n\r\n") == HTTP1_OK &&
	    str_is(h.host, "a.b:8080"), "Host with port, name in capitals");
	CHECK(req("GET / HTTP/1.1\r\nHost: [::1]\r\n\r\n") == HTTP1_OK,
	    "Host IPv6 literal");
	CHECK(req("GET / HTTP/1.1\r\nHost:\r\n\r\n") == HTTP1_ERR_MALFORMED,
	    "empty Host");
	CHECK(req("GET / HTTP/1.1\r\nHost: a.com/x\r\n\r\n") ==
	    HTTP1_ERR_MALFORMED, "Host with a path");
	CHECK(req("GET / HTTP/1.1\r\nHost: u@a.com\r\n\r\n") ==
	    HTTP1_ERR_MALFORMED, "Host with userinfo");
	CHECK(req("GET / HTTP/1.1\r\nHost: a, b\r\n\r\n") ==
	    HTTP1_ERR_MALFORMED, "Host list");
	CHECK(req("GET / HTTP/1.1\r\nHost: a:\r\n\r\n") ==
	    HTTP1_ERR_MALFORMED, "Host with empty port");
}

static void
test_bodies(void)
{
	CHECK(req("POST /v1 HTTP/1.1\r\nHost: a\r\nContent-Length: 42\r\n\r\n")
	    == HTTP1_OK && h.body == HTTP1_BODY_LENGTH &&
	    h.content_length == 42, "POST with Content-Length");
	CHECK(req("POST /v1 HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n")
	    == HTTP1_OK && h.body == HTTP1_BODY_NONE, "Content-Length 0");
	CHECK(req("POST / HTTP/1.1\r\nHost: a\r\n"
	    "Content-Length: 9223372036854775807\r\n\r\n") == HTTP1_OK &&
	    h.content_length == INT64_MAX, "Content-Length 2^63-1");
	CHECK(req("POST / HTTP/1.1\r\nHost: a\r\n"
	    "Content-Length: 9223372036854775808\r\n\r\n") ==
	    HTTP1_ERR_MALFORMED, "Content-Length 2^63");
	CHECK(req("POST / HTTP/1.1\r\nHost: a\r\n"
	    "Content-Length: 99999999999999999999999\r\n\r\n") ==
	    HTTP1_ERR_MALFORMED, "Content-Length overflow");
	CHECK(req("POST / HTTP/1.1\r\nHost: a\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n") == HTTP1_OK &&
	    h.body == HTTP1_BODY_CHUNKED, "chunked request");
	CHECK(req("POST / HTTP/1.1\r\nHost: a\r\n"
	    "transfer-encoding: CHUNKED\r\n\r\n") == HTTP1_OK &&
	    h.body == HTTP1_BODY_CHUNKED, "chunked, any case");
	CHECK(req("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\n"
	    "Content-Length: 5\r\n\r\n") == HTTP1_OK && h.expect_continue == 1,
	    "Expect: 100-continue");
	CHECK(req("POST / HTTP/1.0\r\nExpect: 100-continue\r\n"
	    "Content-Length: 5\r\n\r\n") == HTTP1_OK && h.expect_continue == 0,
	    "Expect ignored in 1.0");
	CHECK(req("GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\n"
	    "Upgrade: websocket\r\n\r\n") == HTTP1_OK && h.upgrade == 1,
	    "upgrade");
	CHECK(req("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n") ==
	    HTTP1_OK && h.upgrade == 0, "Upgrade without Connection: upgrade");
}

static void
test_framing_attacks(void)
{
	static const struct {
		const char	*fields;
		const char	*what;
		int		 request_only;	/* responses read until close */
	} bad[] = {
		{ "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
		    "CL + TE", 0 },
		{ "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
		    "TE + CL", 0 },
		{ "Content-Length: 5\r\nContent-Length: 5\r\n",
		    "duplicate CL, same value", 0 },
		{ "Content-Length: 5\r\nContent-Length: 6\r\n",
		    "duplicate CL, different values", 0 },
		{ "Content-Length: +5\r\n", "CL with +", 0 },
		{ "Content-Length: -5\r\n", "CL with -", 0 },
		{ "Content-Length: 1 2\r\n", "CL with a space inside", 0 },
		{ "Content-Length: 1,1\r\n", "CL 1,1", 0 },
		{ "Content-Length: 1, 1\r\n", "CL 1, 1", 0 },
		{ "Content-Length: 0x10\r\n", "CL in hex", 0 },
		{ "Content-Length: 5;\r\n", "CL with junk", 0 },
		{ "Content-Length:\r\n", "empty CL", 0 },
		{ "Transfer-Encoding: chunked, identity\r\n",
		    "TE chunked, identity", 1 },
		{ "Transfer-Encoding: gzip, chunked\r\n",
		    "TE gzip, chunked in a request", 1 },
		{ "Transfer-Encoding: xchunked\r\n", "TE xchunked", 1 },
		{ "Transfer-Encoding: chunked\r\n"
		    "Transfer-Encoding: chunked\r\n",
		    "two TE headers", 0 },
		{ "Transfer-Encoding: identity\r\n", "TE identity", 1 },
		{ "Transfer-Encoding:\r\n", "empty TE", 0 },
		{ "Transfer-Encoding: chunked\r\n x\r\n",
		    "obs-fold after TE", 0 },
		{ "X: a\r\n\tb\r\n", "obs-fold with HTAB", 0 },
		{ "X: a\rb\r\n", "bare CR in a value", 0 },
		{ "X: a\r\r\n", "CR before CRLF", 0 },
		{ "X: a\nY: b\r\n", "bare LF line ending", 0 },
		{ "X: \x01\r\n", "control byte in a value", 0 },
		{ "X: \x7f\r\n", "DEL in a value", 0 },
		{ "Content-Length : 5\r\n", "space before colon", 0 },
		{ "Content-Length\t: 5\r\n", "tab before colon", 0 },
		{ "Transfer-Encoding : chunked\r\n",
		    "space before colon, TE", 0 },
		{ ": x\r\n", "empty field name", 0 },
		{ "X\r\n", "field without colon", 0 },
		{ "X(: 1\r\n", "field name not a token", 0 },
		{ "Connection: close;x\r\n", "Connection not a token list", 0 },
	};
	static const char nul_value[] =
	    "GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n";
	static const char nul_name[] =
	    "GET / HTTP/1.1\r\nHost: a\r\nX\0: ab\r\n\r\n";
	char	 buf[512];
	size_t	 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(buf, sizeof(buf),
		    "POST / HTTP/1.1\r\nHost: a\r\n%s\r\n", bad[i].fields);
		CHECK(req(buf) == HTTP1_ERR_MALFORMED && why != NULL,
		    bad[i].what);
		snprintf(buf, sizeof(buf), "HTTP/1.1 200 OK\r\n%s\r\n",
		    bad[i].fields);
		if (!bad[i].request_only)
			CHECK(resp(buf, get_method) == HTTP1_ERR_MALFORMED,
			    bad[i].what);
	}

	CHECK(http1_parse_request(nul_value, sizeof(nul_value) - 1, &h, &why) ==
	    HTTP1_ERR_MALFORMED, "NUL in a header value");
	CHECK(http1_parse_request(nul_name, sizeof(nul_name) - 1, &h, &why) ==
	    HTTP1_ERR_MALFORMED, "NUL in a header name");
	CHECK(req("GET / HTTP/1.1\nHost: a\r\n\r\n") == HTTP1_ERR_MALFORMED,
	    "bare LF after the request line");
	CHECK(req("GET / HTTP/1.1\r\nHost: a\r\n\n") == HTTP1_ERR_MALFORMED,
	    "bare LF as the blank line");
	CHECK(req("GET / HTTP/1.1\r\nHost: a\n\n") == HTTP1_ERR_MALFORMED,
	    "LF LF end of head");
	CHECK(req("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n") ==
	    HTTP1_ERR_MALFORMED, "TE in HTTP/1.0");
	CHECK(req("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 007\r\n\r\n")
	    == HTTP1_OK && h.content_length == 7, "CL with leading zeros");
	CHECK(req("GET /\r\n\r\n") == HTTP1_ERR_MALFORMED, "early error");
}

static void
test_keep_alive(void)
{
	CHECK(req("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n") ==
	    HTTP1_OK && h.keep_alive == 0, "1.1 close");
	CHECK(req("GET / HTTP/1.1\r\nHost: a\r\nConnection: CLOSE\r\n\r\n") ==
	    HTTP1_OK && h.keep_alive == 0, "1.1 close, capitals");
	CHECK(req("GET / HTTP/1.1\r\nHost: a\r\nConnection: x, close\r\n\r\n")
	    == HTTP1_OK && h.keep_alive == 0, "1.1 close in a list");
	CHECK(req("GET / HTTP/1.1\r\nHost: a\r\nConnection: te\r\n"
	    "Connection: close\r\n\r\n") == HTTP1_OK && h.keep_alive == 0,
	    "1.1 close in a second Connection header");
	CHECK(req("GET / HTTP/1.1\r\nHost: a\r\nConnection: closed\r\n\r\n") ==
	    HTTP1_OK && h.keep_alive == 1, "closed is not close");
	CHECK(req("GET / HTTP/1.1\r\nHost: a\r\nConnection: ,, keep-alive ,\r\n"
	    "\r\n") == HTTP1_OK && h.keep_alive == 1, "empty list elements");
	CHECK(req("GET / HTTP/1.0\r\n\r\n") == HTTP1_OK && h.keep_alive == 0,
	    "1.0 default close");
	CHECK(req("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n") ==
	    HTTP1_OK && h.keep_alive == 1, "1.0 keep-alive");
	CHECK(req("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n") ==
	    HTTP1_OK && h.keep_alive == 0, "1.0 close wins");
	CHECK(resp("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n",
	    get_method) == HTTP1_OK && h.keep_alive == 0,
	    "1.0 response default close");
	CHECK(resp("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n"
	    "Content-Length: 1\r\n\r\n", get_method) == HTTP1_OK &&
	    h.keep_alive == 1, "1.0 response keep-alive");
}

static void
test_responses(void)
{
	CHECK(resp("HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n", get_method)
	    == HTTP1_OK && h.status == 200 && str_is(h.reason, "OK") &&
	    h.body == HTTP1_BODY_LENGTH && h.content_length == 12 &&
	    h.keep_alive == 1, "200 with Content-Length");
	CHECK(resp("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", get_method)
	    == HTTP1_OK && h.body == HTTP1_BODY_NONE, "Content-Length 0");
	CHECK(resp("HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n",
	    head_method) == HTTP1_OK && h.body == HTTP1_BODY_NONE &&
	    h.keep_alive == 1, "HEAD response has no body");
	CHECK(resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
	    head_method) == HTTP1_OK && h.body == HTTP1_BODY_NONE,
	    "chunked HEAD response has no body");
	CHECK(resp("HTTP/1.1 200 OK\r\n\r\n", head_method) == HTTP1_OK &&
	    h.body == HTTP1_BODY_NONE && h.keep_alive == 1,
	    "bare HEAD response is not read until close");
	CHECK(resp("HTTP/1.1 100 Continue\r\n\r\n", get_method) == HTTP1_OK &&
	    h.body == HTTP1_BODY_NONE, "100 has no body");
	CHECK(resp("HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\n"
	    "Upgrade: websocket\r\n\r\n", get_method) == HTTP1_OK &&
	    h.body == HTTP1_BODY_NONE && h.upgrade == 1, "101 upgrade");
	CHECK(resp("HTTP/1.1 204 No Content\r\n\r\n", get_method) == HTTP1_OK &&
	    h.body == HTTP1_BODY_NONE && h.keep_alive == 1, "204 has no body");
	CHECK(resp("HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\n",
	    get_method) == HTTP1_OK && h.body == HTTP1_BODY_NONE,
	    "304 has no body");
	CHECK(resp("HTTP/1.1 200 Connection established\r\n\r\n",
	    connect_method) == HTTP1_OK && h.body == HTTP1_BODY_NONE,
	    "CONNECT 2xx has no body");
	CHECK(resp("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n",
	    get_method) == HTTP1_OK && h.body == HTTP1_BODY_UNTIL_CLOSE &&
	    h.keep_alive == 0, "read until close");
	CHECK(resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
	    get_method) == HTTP1_OK && h.body == HTTP1_BODY_CHUNKED &&
	    h.keep_alive == 1, "chunked response");
	CHECK(resp("HTTP/1.1 200 OK\r\n"
	    "Transfer-Encoding: gzip, chunked\r\n\r\n", get_method) ==
	    HTTP1_OK && h.body == HTTP1_BODY_CHUNKED,
	    "gzip, chunked response");
	CHECK(resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
	    get_method) == HTTP1_OK && h.body == HTTP1_BODY_UNTIL_CLOSE &&
	    h.keep_alive == 0, "gzip alone is read until close");
	CHECK(resp("HTTP/1.1 200 OK\r\n"
	    "Transfer-Encoding: chunked, gzip\r\n\r\n", get_method) ==
	    HTTP1_OK && h.body == HTTP1_BODY_UNTIL_CLOSE,
	    "chunked not last is read until close");
	CHECK(resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n"
	    "\r\n", get_method) == HTTP1_ERR_MALFORMED, "chunked twice");
	CHECK(resp("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
	    get_method) == HTTP1_ERR_MALFORMED, "TE in a 1.0 response");
	CHECK(resp("HTTP/1.1 200 \r\n\r\n", get_method) == HTTP1_OK &&
	    h.reason.len == 0, "empty reason after SP");
	CHECK(resp("HTTP/1.1 200\r\n\r\n", get_method) == HTTP1_OK &&
	    h.reason.len == 0 && h.status == 200, "no reason, no SP");
	CHECK(resp("HTTP/1.1 404 Not \tFound \r\n\r\n", get_method) ==
	    HTTP1_OK && str_is(h.reason, "Not \tFound "),
	    "reason kept as sent");
	CHECK(resp("HTTP/1.1 599 x\r\n\r\n", get_method) == HTTP1_OK,
	    "status 599");
	CHECK(resp("HTTP/1.1 600 x\r\n\r\n", get_method) == HTTP1_ERR_MALFORMED,
	    "status 600");
	CHECK(resp("HTTP/1.1 099 x\r\n\r\n", get_method) == HTTP1_ERR_MALFORMED,
	    "status 099");
	CHECK(resp("HTTP/1.1 20 x\r\n\r\n", get_method) == HTTP1_ERR_MALFORMED,
	    "two-digit status");
	CHECK(resp("HTTP/1.1 2000 x\r\n\r\n", get_method) ==
	    HTTP1_ERR_MALFORMED, "four-digit status");
	CHECK(resp("HTTP/1.1  200 x\r\n\r\n", get_method) ==
	    HTTP1_ERR_MALFORMED, "two spaces before status");
	CHECK(resp("HTTP/1.1 200 a\x01\r\n\r\n", get_method) ==
	    HTTP1_ERR_MALFORMED, "control byte in reason");
	CHECK(resp("HTTP/1.2 200 OK\r\n\r\n", get_method) ==
	    HTTP1_ERR_MALFORMED, "HTTP/1.2 response");
	CHECK(resp("HTTP/1.1 200 OK\r\n", get_method) == HTTP1_INCOMPLETE,
	    "incomplete response");
}

static void
test_prefixes(void)
{
	const char *s = "POST /v1/chat/completions?stream=true HTTP/1.1\r\n"
	    "Host: api.example.com\r\n"
	    "Content-Type: application/json\r\n"
	    "Content-Length: 2\r\n"
	    "\r\n"
	    "{}";
	size_t	 n, len = strlen(s) - 2;
	int	 ok = 1;

	for (n = 0; n < len; n++) {
		if (http1_parse_request(s, n, &h, &why) != HTTP1_INCOMPLETE)
			ok = 0;
	}
	CHECK(ok, "every prefix of a request head is incomplete");
	CHECK(http1_parse_request(s, len, &h, &why) == HTTP1_OK &&
	    h.head_len == len, "the whole head parses");

	s = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n";
	len = strlen(s);
	for (ok = 1, n = 0; n < len; n++) {
		if (http1_parse_response(s, n, get_method, &h, &why) !=
		    HTTP1_INCOMPLETE)
			ok = 0;
	}
	CHECK(ok, "every prefix of a response head is incomplete");
}

/* A request whose head is exactly total bytes long, padded in one field. */
static char *
big_request(size_t total)
{
	const char	*pre = "GET / HTTP/1.1\r\nHost: a\r\nX: ";
	size_t		 plen = strlen(pre);
	char		*buf;

	buf = malloc(total + 1);
	memcpy(buf, pre, plen);
	memset(buf + plen, 'a', total - plen - 4);
	memcpy(buf + total - 4, "\r\n\r\n", 4);
	buf[total] = '\0';
	return buf;
}

static void
test_limits(void)
{
	char	 buf[8192];
	char	*big;
	size_t	 i, n;

	big = big_request(HTTP1_MAX_HEAD);
	CHECK(http1_parse_request(big, HTTP1_MAX_HEAD, &h, &why) == HTTP1_OK &&
	    h.head_len == HTTP1_MAX_HEAD, "head exactly at the limit");
	CHECK(http1_parse_request(big, HTTP1_MAX_HEAD - 1, &h, &why) ==
	    HTTP1_INCOMPLETE, "one byte short of the limit: incomplete");
	free(big);

	big = big_request(HTTP1_MAX_HEAD + 1);
	CHECK(http1_parse_request(big, HTTP1_MAX_HEAD - 1, &h, &why) ==
	    HTTP1_INCOMPLETE, "over the limit, not yet seen: incomplete");
	CHECK(http1_parse_request(big, HTTP1_MAX_HEAD, &h, &why) ==
	    HTTP1_ERR_TOO_LARGE, "limit reached without the end: too large");
	CHECK(http1_parse_request(big, HTTP1_MAX_HEAD + 1, &h, &why) ==
	    HTTP1_ERR_TOO_LARGE, "head one byte over the limit");
	free(big);

	n = snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: a\r\n");
	for (i = 1; i < HTTP1_MAX_HEADERS; i++)
		n += snprintf(buf + n, sizeof(buf) - n, "X-%zu: v\r\n", i);
	memcpy(buf + n, "\r\n", 2);
	CHECK(http1_parse_request(buf, n + 2, &h, &why) == HTTP1_OK &&
	    h.nheaders == HTTP1_MAX_HEADERS, "exactly the most headers");
	n += snprintf(buf + n, sizeof(buf) - n, "X-last: v\r\n");
	CHECK(http1_parse_request(buf, n, &h, &why) == HTTP1_ERR_TOO_LARGE,
	    "one header too many, before the head ends");
	memcpy(buf + n, "\r\n", 2);
	CHECK(http1_parse_request(buf, n + 2, &h, &why) == HTTP1_ERR_TOO_LARGE,
	    "one header too many");
}

/* Feed s in pieces of random size; the consumed total, or -1. */
static ssize_t
feed_split(struct http1_body *b, enum http1_body_kind kind, uint64_t cl,
    const char *s, size_t len, size_t maxpiece)
{
	size_t	 off = 0, n;
	ssize_t	 r;

	http1_body_init(b, kind, cl);
	while (off < len) {
		n = 1 + test_rand() % maxpiece;
		if (n > len - off)
			n = len - off;
		if ((r = http1_body_feed(b, s + off, n)) == -1)
			return -1;
		off += r;
		if ((size_t)r < n) {
			if (!b->done)
				return -2;
			break;
		}
	}
	return off;
}

static ssize_t
feed_all(struct http1_body *b, enum http1_body_kind kind, uint64_t cl,
    const char *s)
{
	http1_body_init(b, kind, cl);
	return http1_body_feed(b, s, strlen(s));
}

static void
test_length_body(void)
{
	struct http1_body	 b;

	http1_body_init(&b, HTTP1_BODY_LENGTH, 10);
	CHECK(http1_body_feed(&b, "abcd", 4) == 4 && !b.done &&
	    b.remaining == 6, "length: part");
	CHECK(http1_body_eof(&b) == -1, "length: eof early is truncation");
	CHECK(http1_body_feed(&b, "efghijGET", 9) == 6 && b.done &&
	    b.payload == 10, "length: rest, next message left over");
	CHECK(http1_body_feed(&b, "x", 1) == 0, "length: nothing after done");
	CHECK(http1_body_eof(&b) == 0, "length: eof after done");

	http1_body_init(&b, HTTP1_BODY_LENGTH, 0);
	CHECK(b.done && http1_body_feed(&b, "x", 1) == 0, "length 0 is done");

	http1_body_init(&b, HTTP1_BODY_NONE, 0);
	CHECK(b.done && http1_body_feed(&b, "x", 1) == 0 &&
	    http1_body_eof(&b) == 0, "none");

	http1_body_init(&b, HTTP1_BODY_UNTIL_CLOSE, 0);
	CHECK(http1_body_feed(&b, "abc", 3) == 3 &&
	    http1_body_feed(&b, "de", 2) == 2 && !b.done && b.payload == 5,
	    "until close takes everything");
	CHECK(http1_body_eof(&b) == 0 && b.done, "until close ends at eof");
}

static void
test_chunked(void)
{
	static const char *good[] = {
		"0\r\n\r\n",
		"5\r\nhello\r\n0\r\n\r\n",
		"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
		"A\r\n0123456789\r\n0\r\n\r\n",
		"a;ext\r\n0123456789\r\n0;last=1\r\n\r\n",
		"5;a=b;c=\"q \\\" d\"\r\nhello\r\n0\r\n\r\n",
		"5 ; a = b ;c\r\nhello\r\n0\r\n\r\n",
		"5\r\nhello\r\n0\r\nX-Sum: abc\r\nX-Two:\r\n\r\n",
		"0000000000000005\r\nhello\r\n0\r\n\r\n",
		"5\r\n\r\n\r\n\r\r\n0\r\n\r\n",
	};
	static const char *bad[] = {
		"x\r\n\r\n",
		"\r\n",
		" 5\r\nhello\r\n0\r\n\r\n",
		"+5\r\nhello\r\n0\r\n\r\n",
		"0x5\r\nhello\r\n0\r\n\r\n",
		"5 \r\nhello\r\n0\r\n\r\n",
		"5\nhello\r\n0\r\n\r\n",
		"5\r\nhello\n0\r\n\r\n",
		"5\r\nhelloX\r\n0\r\n\r\n",
		"5\r\nhello\r\n0\n\r\n",
		"5\r\nhello\r\n0\r\n\n",
		"5\r\nhello\r\n0\r\nX: a\n\r\n",
		"5\r\nhello\r\n0\r\n x\r\n\r\n",
		"5\r\nhello\r\n0\r\nX : a\r\n\r\n",
		"5\r\nhello\r\n0\r\nX: a\x01\r\n\r\n",
		"5;\r\nhello\r\n0\r\n\r\n",
		"5;a=\r\nhello\r\n0\r\n\r\n",
		"5;a=\"b\r\nhello\r\n0\r\n\r\n",
		"5;a=\"b\"c\r\nhello\r\n0\r\n\r\n",
		"5;a\x01\r\nhello\r\n0\r\n\r\n",
		"5\r\r\nhello\r\n0\r\n\r\n",
		"00000000000000005\r\nhello\r\n0\r\n\r\n",
		"8000000000000000\r\n",
		"FFFFFFFFFFFFFFFF\r\n",
	};
	struct http1_body	 b;
	const char		*s;
	size_t			 i;
	int			 ok;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		char	 what[128];

		s = good[i];
		snprintf(what, sizeof(what), "chunked good %zu", i);
		CHECK(feed_all(&b, HTTP1_BODY_CHUNKED, 0, s) ==
		    (ssize_t)strlen(s) && b.done && http1_body_eof(&b) == 0,
		    what);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char	 what[128];

		snprintf(what, sizeof(what), "chunked bad %zu", i);
		CHECK(feed_all(&b, HTTP1_BODY_CHUNKED, 0, bad[i]) == -1, what);
		CHECK(http1_body_feed(&b, "0\r\n\r\n", 5) == -1,
		    "an error is sticky");
	}

	CHECK(feed_all(&b, HTTP1_BODY_CHUNKED, 0,
	    "7FFFFFFFFFFFFFFF\r\n") == 18 && !b.done &&
	    b.remaining == INT64_MAX, "chunk size 2^63-1");

	s = "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\nGET / HTTP/1.1\r\n";
	CHECK(feed_all(&b, HTTP1_BODY_CHUNKED, 0, s) == 26 && b.done &&
	    b.payload == 11, "next request after the final chunk is left");

	http1_body_init(&b, HTTP1_BODY_CHUNKED, 0);
	CHECK(http1_body_feed(&b, "5\r\nhel", 6) == 6 && !b.done,
	    "chunked part");
	CHECK(http1_body_eof(&b) == -1, "chunked eof mid-chunk is truncation");
	CHECK(http1_body_feed(&b, "lo\r\n0\r\n", 7) == 7 && !b.done &&
	    http1_body_eof(&b) == -1, "chunked eof before the final CRLF");
	CHECK(http1_body_feed(&b, "\r\n", 2) == 2 && b.done &&
	    http1_body_eof(&b) == 0, "chunked eof after the end");

	/* Limits on framing lines: 8 KiB. */
	{
		static char	 line[8300];
		size_t		 n;

		n = snprintf(line, sizeof(line), "1;x=");
		memset(line + n, 'a', 8190 - n);
		memcpy(line + 8190, "\r\n", 2);
		line[8192] = '\0';
		CHECK(feed_all(&b, HTTP1_BODY_CHUNKED, 0, line) == 8192,
		    "size line of 8192 bytes");
		memset(line + n, 'a', 8191 - n);
		memcpy(line + 8191, "\r\n", 2);
		line[8193] = '\0';
		CHECK(feed_all(&b, HTTP1_BODY_CHUNKED, 0, line) == -1,
		    "oversize size line");

		n = snprintf(line, sizeof(line), "0\r\nX: ");
		memset(line + n, 'a', sizeof(line) - n - 5);
		memcpy(line + sizeof(line) - 5, "\r\n\r\n", 5);
		CHECK(feed_all(&b, HTTP1_BODY_CHUNKED, 0, line) == -1,
		    "oversize trailers");
	}

	/* Whatever the split, the same bytes are consumed. */
	s = "1a;name=\"v;\\\"x\"\r\nabcdefghijklmnopqrstuvwxyz\r\n"
	    "3\r\nabc\r\n"
	    "0;end\r\nX-Checksum: 1234\r\nX-Other: y\r\n\r\n"
	    "POST /next HTTP/1.1\r\n";
	for (ok = 1, i = 0; i < 2000; i++) {
		size_t	 want = strlen(s) - strlen("POST /next HTTP/1.1\r\n");

		if (feed_split(&b, HTTP1_BODY_CHUNKED, 0, s, strlen(s),
		    1 + i % 16) != (ssize_t)want || !b.done || b.payload != 29)
			ok = 0;
	}
	CHECK(ok, "chunked: random splits agree");
	CHECK(feed_split(&b, HTTP1_BODY_CHUNKED, 0, s, strlen(s), 1) ==
	    (ssize_t)(strlen(s) - 21) && b.payload == 29,
	    "chunked: byte by byte");
	for (ok = 1, i = 0; i < 200; i++) {
		if (feed_split(&b, HTTP1_BODY_LENGTH, 30, s, strlen(s),
		    1 + i % 8) != 30 || !b.done || b.payload != 30)
			ok = 0;
	}
	CHECK(ok, "length: random splits agree");
	for (ok = 1, i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (feed_split(&b, HTTP1_BODY_CHUNKED, 0, bad[i],
		    strlen(bad[i]), 1) != -1)
			ok = 0;
	}
	CHECK(ok, "chunked: bad input byte by byte");
}

static void
test_class_table(void)
{
	static const char tchar[] = "!#$%&'*+-.^_`|~";
	char	 buf[64];
	int	 c, n, ok = 1, want;

	/* A one-field head accepts exactly the token bytes in a name. */
	for (c = 0; c < 256; c++) {
		want = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
		    (c >= 'A' && c <= 'Z') || (c != 0 && strchr(tchar, c)) ||
		    c == ':';
		n = snprintf(buf, sizeof(buf),
		    "GET / HTTP/1.1\r\nHost: a\r\nX?: 1\r\n\r\n");
		buf[26] = c;
		if ((http1_parse_request(buf, n, &h, &why) == HTTP1_OK) != want)
			ok = 0;
	}
	CHECK(ok, "token bytes in field names");

	for (ok = 1, c = 0; c < 256; c++) {
		want = c == '\t' || c == ' ' || (c >= 0x21 && c != 0x7f);
		n = snprintf(buf, sizeof(buf),
		    "GET / HTTP/1.1\r\nHost: a\r\nX: a?b\r\n\r\n");
		buf[29] = c;
		if ((http1_parse_request(buf, n, &h, &why) == HTTP1_OK) != want)
			ok = 0;
	}
	CHECK(ok, "field value bytes");

	for (ok = 1, c = 0; c < 256; c++) {
		want = c >= 0x21 && c < 0x7f && c != '#';
		n = snprintf(buf, sizeof(buf),
		    "GET /a?b HTTP/1.1\r\nHost: a\r\n\r\n");
		buf[6] = c;
		if ((http1_parse_request(buf, n, &h, &why) == HTTP1_OK) != want)
			ok = 0;
	}
	CHECK(ok, "request target bytes");
}

static int
hop(const char *name)
{
	struct http1_str n = { name, strlen(name) };

	return http1_is_hop_field(&h, n);
}

/* Connection cannot take away what the message is framed or routed by. */
static void
test_connection_pinned(void)
{
	char longte[HTTP1_TE_MAX + 64];
	const char *req = "POST / HTTP/1.1\r\nHost: a\r\n"
	    "Connection: content-length, transfer-encoding, host, upgrade, "
	    "x-private, te\r\nContent-Length: 7\r\nX-Private: 1\r\n\r\n";
	const char *chunked = "POST / HTTP/1.1\r\nHost: a\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n";
	const char *head_resp = "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n"
	    "Connection: content-length\r\n\r\n";
	const char *gzip_resp = "HTTP/1.1 200 OK\r\n"
	    "Transfer-Encoding: gzip, chunked\r\n\r\n";
	const char *close_resp = "HTTP/1.1 200 OK\r\n"
	    "Transfer-Encoding: gzip\r\n\r\n";
	struct http1_str head = { "HEAD", 4 }, get = { "GET", 3 };

	CHECK(http1_parse_request(req, strlen(req), &h, &why) == HTTP1_OK,
	    "Connection naming framing fields parses");
	CHECK(!hop("content-length") && !hop("Transfer-Encoding") &&
	    !hop("host") && !hop("upgrade"),
	    "Connection cannot make framing, Host or Upgrade hop-by-hop");
	CHECK(hop("x-private") && hop("TE") && hop("connection"),
	    "what else Connection names is hop-by-hop");
	CHECK(http1_parse_request(chunked, strlen(chunked), &h, &why) ==
	    HTTP1_OK && h.body == HTTP1_BODY_CHUNKED, "a chunked body");
	CHECK(http1_parse_response(gzip_resp, strlen(gzip_resp), get, &h,
	    &why) == HTTP1_OK && h.body == HTTP1_BODY_CHUNKED &&
	    h.te.len == 13, "a response's codings before chunked are kept");
	CHECK(http1_parse_response(close_resp, strlen(close_resp), get, &h,
	    &why) == HTTP1_OK && h.body == HTTP1_BODY_UNTIL_CLOSE,
	    "a response coded but not chunked is close-delimited");
	snprintf(longte, sizeof(longte), "HTTP/1.1 200 OK\r\n"
	    "Transfer-Encoding: %0*d, chunked\r\n\r\n", HTTP1_TE_MAX, 0);
	CHECK(http1_parse_response(longte, strlen(longte), get, &h, &why) ==
	    HTTP1_ERR_MALFORMED, "a Transfer-Encoding too long to write again");
	CHECK(http1_parse_response(head_resp, strlen(head_resp), head, &h,
	    &why) == HTTP1_OK && h.body == HTTP1_BODY_NONE &&
	    !hop("content-length"),
	    "a HEAD response keeps its Content-Length, framing nothing");
}

/* Only what Connection names is dropped; keep-alive and close alone. */
static void
test_connection_names(void)
{
	const char *ka = "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n"
	    "Keep-Alive: timeout=5\r\nClose: x\r\nContent-Length: 0\r\n\r\n";
	const char *cl = "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n"
	    "Connection: Close\r\nClose: x\r\nContent-Length: 0\r\n\r\n";
	struct http1_str get = { "GET", 3 };

	CHECK(http1_parse_response(ka, strlen(ka), get, &h, &why) ==
	    HTTP1_OK && hop("keep-alive") && hop("Connection") &&
	    !hop("close") && !hop("x-other"),
	    "Connection: keep-alive takes only Connection and Keep-Alive");
	CHECK(http1_parse_response(cl, strlen(cl), get, &h, &why) ==
	    HTTP1_OK && hop("close") && !hop("x-other") && !h.keep_alive,
	    "a second Connection field naming close takes a Close field");
}

int
main(void)
{
	test_simple_get();
	test_targets();
	test_host();
	test_bodies();
	test_framing_attacks();
	test_keep_alive();
	test_responses();
	test_prefixes();
	test_limits();
	test_length_body();
	test_chunked();
	test_class_table();
	test_connection_pinned();
	test_connection_names();
	return unit_done();
}
