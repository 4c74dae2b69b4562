/*
 * test_h1codec.c - HTTP/1 heads to messages and back: round trips,
 * hop-by-hop fields, the checks on a request, framing written by us,
 * trailers, bodies decoded and framed again.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "authority.h"
#include "h1codec.h"
#include "http1.h"
#include "msg.h"
#include "unit.h"
#include "urlpath.h"

#define S(lit)	lit, sizeof(lit) - 1

static char *
drain(struct evbuffer *out)
{
	size_t len = evbuffer_get_length(out);
	char *s = malloc(len + 1);

	evbuffer_remove(out, s, len);
	s[len] = '\0';
	return s;
}

static int
count(const char *hay, const char *needle)
{
	int n = 0;

	for (; (hay = strstr(hay, needle)) != NULL; hay++)
		n++;
	return n;
}

/* req as it reaches the upstream (checked, normalised), or NULL. */
static char *
forward(const char *req, const char *name, struct h1codec_refusal *no)
{
	char authority[AUTHORITY_MAX];
	struct evbuffer *out = evbuffer_new();
	struct http1_head h;
	struct msg m;
	const char *why;
	char *s = NULL;

	char path[1024];
	ssize_t n;

	no->status = 0;
	if (http1_parse_request(req, strlen(req), &h, &why) != HTTP1_OK ||
	    h.target.len >= sizeof(path) ||
	    h1codec_request_check(&h, name, 443, no) == -1)
		goto done;
	/* As exchange.c does: a target that does not normalise is a 400. */
	if ((n = urlpath_normalise(h.target.p, h.target.len, path)) < 0) {
		no->status = 400;
		goto done;
	}
	msg_init(&m, MSG_REQUEST);
	authority_format(authority, name, 443);
	if (h1codec_request_msg(&h, req, path, (size_t)n, authority, &m) == 0 &&
	    h1codec_write_request(out, &m, h.version_minor, 0) == 0)
		s = drain(out);
	msg_free(&m);
done:
	evbuffer_free(out);
	return s;
}

/* resp (answering method) as it reaches the client, or NULL. */
static char *
answer(const char *resp, const char *method, int flags)
{
	struct evbuffer *out = evbuffer_new();
	struct http1_str meth = { method, strlen(method) };
	struct http1_head h;
	struct msg m;
	const char *why;
	char *s = NULL;

	if (http1_parse_response(resp, strlen(resp), meth, &h, &why) !=
	    HTTP1_OK)
		goto done;
	msg_init(&m, MSG_RESPONSE);
	if (h1codec_response_msg(&h, resp, &m) == 0 &&
	    h1codec_write_response(out, &m, flags) == 0)
		s = drain(out);
	msg_free(&m);
done:
	evbuffer_free(out);
	return s;
}

static void
test_request_round_trip(void)
{
	struct h1codec_refusal no;
	const char *want = "GET /a/b?x=1 HTTP/1.1\r\nHost: api.test\r\n"
	    "Accept: */*\r\nX-Two: 1\r\nx-two: 2\r\n\r\n";
	char *once, *twice;

	once = forward("GET /a/./c/../b?x=1 HTTP/1.1\r\nAccept: */*\r\n"
	    "Host: api.test\r\nX-Two: 1\r\nx-two:   2  \r\n\r\n", "api.test",
	    &no);
	CHECK(once != NULL && strcmp(once, want) == 0,
	    "request: normalised path, Host first, fields in order, names "
	    "as sent, duplicates kept");
	twice = once ? forward(once, "api.test", &no) : NULL;
	CHECK(twice != NULL && strcmp(twice, want) == 0,
	    "request: what we write parses and writes the same again");
	free(once);
	free(twice);

	once = forward("GET / HTTP/1.0\r\nX: y\r\n\r\n", "api.test", &no);
	CHECK(once != NULL && strcmp(once, "GET / HTTP/1.0\r\nHost: api.test"
	    "\r\nX: y\r\n\r\n") == 0,
	    "request: HTTP/1.0 without Host gets the verified name as Host");
	free(once);
	once = forward("GET / HTTP/1.0\r\n\r\n", "fd00:77:2::2", &no);
	CHECK(once != NULL && strcmp(once, "GET / HTTP/1.0\r\n"
	    "Host: [fd00:77:2::2]\r\n\r\n") == 0,
	    "request: an IPv6 address as Host is bracketed");
	free(once);
}

static void
test_request_checks(void)
{
	struct h1codec_refusal no;
	char *s;

	s = forward("GET / HTTP/1.1\r\nHost: other.test\r\n\r\n", "api.test",
	    &no);
	CHECK(s == NULL && no.status == 421, "Host for another name: 421");
	s = forward("GET / HTTP/1.1\r\nHost: API.Test.:443\r\n\r\n",
	    "api.test", &no);
	CHECK(s != NULL && strstr(s, "\r\nHost: api.test\r\n") != NULL,
	    "Host agrees whatever its case or final dot; the verified name "
	    "is sent");
	free(s);
	s = forward("GET / HTTP/1.1\r\nHost: api.test:8443\r\n\r\n",
	    "api.test", &no);
	CHECK(s == NULL && no.status == 421, "Host for another port: 421");
	s = forward("GET / HTTP/1.1\r\nHost: api.test:\r\n\r\n",
	    "api.test", &no);
	CHECK(s == NULL, "Host with an empty port: refused");
	s = forward("GET http://other.test/ HTTP/1.1\r\nHost: api.test\r\n"
	    "\r\n", "api.test", &no);
	CHECK(s == NULL && no.status == 400, "absolute-form: 400");
	s = forward("GET /%zz HTTP/1.1\r\nHost: api.test\r\n\r\n", "api.test",
	    &no);
	CHECK(s == NULL && no.status == 400, "a bad escape: 400");
	s = forward("GET /a/..;/admin HTTP/1.1\r\nHost: api.test\r\n\r\n",
	    "api.test", &no);
	CHECK(s == NULL && no.status == 400, "a '..;' segment: 400");
	s = forward("OPTIONS * HTTP/1.1\r\nHost: api.test\r\n\r\n", "api.test",
	    &no);
	CHECK(s != NULL && strncmp(s, "OPTIONS * HTTP/1.1\r\n", 20) == 0,
	    "asterisk-form kept");
	free(s);
}

static void
test_hop_by_hop(void)
{
	struct h1codec_refusal no;
	char *s, *r;

	s = forward("GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, "
	    "X-Hop\r\nX-Hop: 1\r\nKeep-Alive: timeout=5\r\n"
	    "Proxy-Connection: keep-alive\r\nProxy-Authorization: Basic eA==\r\n"
	    "TE: gzip, trailers\r\nX-Keep: 1\r\nConnection: X-Hop2\r\n"
	    "X-Hop2: 2\r\n\r\n", "a", &no);
	CHECK(s != NULL && strcmp(s, "GET / HTTP/1.1\r\nHost: a\r\n"
	    "X-Keep: 1\r\nTE: trailers\r\nConnection: te\r\n\r\n") == 0,
	    "request: Connection and what it names, Keep-Alive, Proxy-*, TE "
	    "dropped; trailers still accepted");
	free(s);

	s = forward("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\n"
	    "Upgrade: websocket\r\n\r\n", "a", &no);
	CHECK(s != NULL && strcmp(s, "GET /ws HTTP/1.1\r\nHost: a\r\n"
	    "Upgrade: websocket\r\nConnection: upgrade\r\n\r\n") == 0,
	    "request: an upgrade is asked for again by us");
	free(s);

	s = forward("POST / HTTP/1.1\r\nHost: a\r\nConnection: content-length"
	    ", host\r\nContent-Length: 2\r\n\r\n", "a", &no);
	CHECK(s != NULL && count(s, "Content-Length: 2\r\n") == 1 &&
	    count(s, "Host: a\r\n") == 1,
	    "request: Connection cannot name framing or Host away");
	free(s);

	r = answer("HTTP/1.1 200 OK\r\nConnection: close, X-Drop\r\n"
	    "X-Drop: 1\r\nKeep-Alive: timeout=5\r\nServer: u\r\n"
	    "Proxy-Authenticate: Basic\r\nContent-Length: 5\r\n\r\n", "GET",
	    0);
	CHECK(r != NULL && strcmp(r, "HTTP/1.1 200 OK\r\nServer: u\r\n"
	    "Content-Length: 5\r\n\r\n") == 0,
	    "response: hop-by-hop fields dropped, framing ours");
	free(r);
}

/* A field that would break the head can never reach a writer. */
static void
test_unwritable(void)
{
	struct evbuffer *out = evbuffer_new();
	struct http1_head h;
	struct msg m;
	const char *why;
	char *s;

	CHECK(http1_parse_request(S("GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n"
	    " folded\r\n\r\n"), &h, &why) != HTTP1_OK,
	    "obs-fold never parses into a message");
	msg_init(&m, MSG_REQUEST);
	CHECK(msg_set_request(&m, S("GET"), S("https"), S("a"), S("/")) == 0,
	    "request made by hand");
	CHECK(msg_add(&m, S("X"), S("1\r\nEvil: 2")) == -1 &&
	    msg_add(&m, S("X"), S("1\r\n folded")) == -1 &&
	    msg_add(&m, S("X"), "1\0002", 3) == -1 &&
	    msg_set(&m, S("X"), S("a\nb")) == -1 &&
	    msg_add_trailer(&m, S("X"), S("a\rb")) == -1,
	    "CR, LF, NUL, obs-fold refused by add, set and trailers");
	CHECK(h1codec_add_lines(&m, "X: a\nEvil: b\r\n") == -1 &&
	    h1codec_add_lines(&m, "no colon\r\n") == -1,
	    "field lines with a bare LF or no colon refused");
	CHECK(h1codec_write_request(out, &m, 1, 0) == 0, "written");
	s = drain(out);
	CHECK(strcmp(s, "GET / HTTP/1.1\r\nHost: a\r\n\r\n") == 0 &&
	    strstr(s, "Evil") == NULL, "nothing refused reached the wire");
	free(s);
	msg_free(&m);
	evbuffer_free(out);
}

static char *
write_req(struct msg *m)
{
	struct evbuffer *out = evbuffer_new();
	char *s = NULL;

	if (h1codec_write_request(out, m, 1, 0) == 0)
		s = drain(out);
	evbuffer_free(out);
	return s;
}

static void
test_framing(void)
{
	struct h1codec_refusal no;
	struct msg m;
	char *s;

	msg_init(&m, MSG_REQUEST);
	(void)msg_set_request(&m, S("POST"), S("https"), S("a"), S("/"));
	/* What a request with both used to carry: neither is written. */
	(void)msg_add(&m, S("Content-Length"), S("5"));
	(void)msg_add(&m, S("Transfer-Encoding"), S("chunked"));
	msg_set_body(&m, MSG_BODY_UNKNOWN, 0);
	s = write_req(&m);
	CHECK(s != NULL && count(s, "Transfer-Encoding: chunked\r\n") == 1 &&
	    strstr(s, "Content-Length") == NULL,
	    "unknown length: chunked, one framing, the carried CL dropped");
	free(s);
	msg_set_body(&m, MSG_BODY_LENGTH, 5);
	s = write_req(&m);
	CHECK(s != NULL && count(s, "Content-Length") == 1 &&
	    count(s, "Content-Length: 5\r\n") == 1 &&
	    strstr(s, "Transfer-Encoding") == NULL,
	    "known length: exactly one Content-Length, no Transfer-Encoding");
	free(s);
	msg_set_body(&m, MSG_BODY_NONE, 0);
	s = write_req(&m);
	CHECK(s != NULL && strstr(s, "Content-Length") == NULL &&
	    strstr(s, "Transfer-Encoding") == NULL, "no body: no framing");
	free(s);
	msg_set_body(&m, MSG_BODY_LENGTH, UINT64_MAX);
	s = write_req(&m);
	CHECK(s != NULL && strstr(s, "Content-Length: 18446744073709551615\r\n")
	    != NULL, "the longest length");
	free(s);
	msg_free(&m);

	s = forward("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
	    "\r\n", "a", &no);
	CHECK(s != NULL && strcmp(s, "POST / HTTP/1.1\r\nHost: a\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n") == 0, "chunked request");
	free(s);
	s = forward("POST / HTTP/1.1\r\nContent-Length: 0\r\nHost: a\r\n\r\n",
	    "a", &no);
	CHECK(s != NULL && strcmp(s, "POST / HTTP/1.1\r\nHost: a\r\n"
	    "Content-Length: 0\r\n\r\n") == 0, "an announced empty body stays");
	free(s);

	s = answer("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n"
	    "\r\n", "GET", 0);
	CHECK(s != NULL && strcmp(s, "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
	    "gzip, chunked\r\n\r\n") == 0, "response codings before chunked");
	free(s);
	s = answer("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n"
	    "\r\n", "GET", 0);
	CHECK(s == NULL, "codings holding chunked cannot be chunked again");
	s = answer("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n"
	    "\r\n", "GET", H1CODEC_CLOSE_DELIMITED);
	CHECK(s != NULL && strcmp(s, "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
	    "chunked, gzip\r\n\r\n") == 0,
	    "but are passed on as they were when the close ends the body");
	free(s);
	s = answer("HTTP/1.1 200 OK\r\nServer: u\r\n\r\n", "GET",
	    H1CODEC_CLOSE_DELIMITED);
	CHECK(s != NULL && strcmp(s, "HTTP/1.1 200 OK\r\nServer: u\r\n\r\n")
	    == 0, "read until close, written close-delimited: no framing");
	free(s);
	s = answer("HTTP/1.1 200 OK\r\nServer: u\r\n\r\n", "GET", 0);
	CHECK(s != NULL && strcmp(s, "HTTP/1.1 200 OK\r\nServer: u\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n") == 0,
	    "unknown length otherwise written chunked");
	free(s);
	s = answer("HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n", "HEAD",
	    0);
	CHECK(s != NULL && strcmp(s, "HTTP/1.1 200 OK\r\nContent-Length: 1234"
	    "\r\n\r\n") == 0, "HEAD response: its length describes, kept");
	free(s);
	s = answer("HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n", "GET",
	    H1CODEC_OPEN);
	CHECK(s != NULL && strcmp(s, "HTTP/1.1 304 Not Modified\r\n"
	    "ETag: \"x\"\r\n") == 0, "304: no framing; OPEN leaves it open");
	free(s);
	s = answer("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
	    "Connection: upgrade\r\n\r\n", "GET", 0);
	CHECK(s != NULL && strcmp(s, "HTTP/1.1 101 Switching Protocols\r\n"
	    "Upgrade: websocket\r\nConnection: upgrade\r\n\r\n") == 0,
	    "101: Upgrade kept, Connection ours");
	free(s);
	s = answer("HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n", "GET", 0);
	CHECK(s != NULL && strcmp(s, "HTTP/1.1 200 \r\nContent-Length: 0\r\n"
	    "\r\n") == 0, "empty reason, empty body");
	free(s);
}

static void
test_trailers(void)
{
	struct evbuffer *out = evbuffer_new();
	struct http1_body b;
	struct msg m;
	char *s;
	ssize_t n;

	msg_init(&m, MSG_RESPONSE);
	(void)msg_add_trailer(&m, S("grpc-status"), S("0"));
	(void)msg_add_trailer(&m, S("Content-Length"), S("9"));
	(void)msg_add_trailer(&m, S("grpc-message"), S("ok"));
	CHECK(h1codec_write_chunk(out, "hello", 5) == 0 &&
	    h1codec_write_chunk(out, "", 0) == 0 &&
	    h1codec_write_chunk(out, "0123456789abcdefg", 17) == 0 &&
	    h1codec_write_end(out, &m) == 0, "chunks and the end written");
	s = drain(out);
	CHECK(strcmp(s, "5\r\nhello\r\n11\r\n0123456789abcdefg\r\n0\r\n"
	    "grpc-status: 0\r\ngrpc-message: ok\r\n\r\n") == 0,
	    "chunked body with trailers; no framing field among them");
	http1_body_init(&b, HTTP1_BODY_CHUNKED, 0);
	n = http1_body_feed(&b, s, strlen(s));
	CHECK(n == (ssize_t)strlen(s) && b.done && b.payload == 22,
	    "what we chunk parses as one whole body");
	free(s);
	msg_free(&m);
	evbuffer_free(out);
}

static void
test_add_lines(void)
{
	struct msg m;

	msg_init(&m, MSG_REQUEST);
	CHECK(h1codec_add_lines(&m, "If-None-Match: \"v1\"\r\n"
	    "If-Modified-Since:  Tue, 01 Dec 2026 10:00:00 GMT \r\n") == 0 &&
	    m.fields.n == 2 && msg_find(&m, S("if-modified-since"))->value.len
	    == 29, "field lines added, OWS trimmed");
	CHECK(h1codec_add_lines(&m, "") == 0 && m.fields.n == 2,
	    "no lines");
	msg_free(&m);
}

/* The message as the cache reads it: what was parsed, not the wire. */
static void
test_head_view(void)
{
	static const char req[] = "GET /a/./b?q=1 HTTP/1.1\r\n"
	    "Host: api.test\r\nConnection: x-hop\r\nX-Hop: 1\r\n"
	    "Cache-Control: no-cache\r\nAccept: */*\r\n\r\n";
	struct http1_head h, v;
	struct msg m;
	const char *why;

	CHECK(http1_parse_request(req, strlen(req), &h, &why) == HTTP1_OK,
	    "parsed");
	msg_init(&m, MSG_REQUEST);
	CHECK(h1codec_request_msg(&h, req, "/a/b?q=1", 8, "api.test", &m) == 0 &&
	    h1codec_head_view(&m, &v) == 0, "viewed");
	CHECK(http1_str_eq(v.method, "GET") &&
	    http1_str_eq(v.target, "/a/b?q=1") &&
	    http1_str_eq(v.host, "api.test") && v.body == HTTP1_BODY_NONE,
	    "method, normalised target, authority, no body");
	CHECK(v.nheaders == 2 && http1_find(&v, "cache-control") != NULL &&
	    http1_find(&v, "x-hop") == NULL &&
	    http1_find(&v, "connection") == NULL,
	    "the fields, without the hop-by-hop ones");
	msg_free(&m);
}

/*
 * An HTTP/2 response as the cache reads it: the status with the reason
 * given, the fields, and a body of unknown length delimited by its end
 * (HTTP/2 frames it: never chunked framing to take off).
 */
static void
test_response_view(void)
{
	struct http1_head v;
	struct msg m;

	msg_init(&m, MSG_RESPONSE);
	m.status = 304;
	CHECK(msg_add(&m, S("etag"), S("\"v1\"")) == 0 &&
	    h1codec_response_view(&m, "", &v) == 0, "response view: made");
	CHECK(v.status == 304 && v.reason.len == 0 && v.method.len == 0 &&
	    v.body == HTTP1_BODY_NONE && v.nheaders == 1 &&
	    http1_find(&v, "etag") != NULL, "response view: a 304");
	msg_set_body(&m, MSG_BODY_UNKNOWN, 0);
	m.status = 200;
	CHECK(h1codec_response_view(&m, "OK", &v) == 0 && v.status == 200 &&
	    http1_str_eq(v.reason, "OK") && v.body == HTTP1_BODY_UNTIL_CLOSE,
	    "response view: unknown length reads as until the end");
	msg_set_body(&m, MSG_BODY_LENGTH, 7);
	CHECK(h1codec_response_view(&m, "OK", &v) == 0 &&
	    v.body == HTTP1_BODY_LENGTH && v.content_length == 7,
	    "response view: a known length");
	msg_free(&m);
}

/*
 * Decode the chunked body wire[0..len), step bytes at a time: data into
 * data, trailers into m.  0 if whole, -1 if refused, 1 if cut short.
 */
static int
decode(const char *wire, size_t len, size_t step, struct evbuffer *data,
    struct msg *m)
{
	struct h1codec_trailers t = { NULL, 0 };
	struct http1_body b;
	enum http1_part part;
	size_t i = 0;
	ssize_t n;
	int rc = 1;

	http1_body_init(&b, HTTP1_BODY_CHUNKED, 0);
	while (i < len && !b.done) {
		n = http1_body_decode(&b, wire + i, len - i < step ? len - i :
		    step, &part);
		if (n <= 0) {
			rc = -1;
			goto out;
		}
		if (part == HTTP1_PART_DATA)
			evbuffer_add(data, wire + i, n);
		else if (part == HTTP1_PART_TRAILERS)
			h1codec_trailers_add(&t, wire + i, n);
		i += n;
	}
	if (b.done)
		rc = h1codec_trailers_msg(&t, m);
out:
	h1codec_trailers_free(&t);
	return rc;
}

static void
test_body_decode(void)
{
	static const char wire[] = "5;ext=1\r\nhello\r\n1 ; a=\"q;\"\r\n \r\n"
	    "A\r\n0123456789\r\n0\r\nX-Sum:  abc \r\nContent-Length: 9\r\n"
	    "Authorization: Bearer s3cret\r\nContent-Type: text/x\r\n"
	    "Grpc-Status: 0\r\n\r\nNEXT";
	struct evbuffer *data = evbuffer_new(), *out = evbuffer_new();
	struct msg m;
	char *s;
	size_t step;
	int ok = 1;

	for (step = 1; step <= sizeof(wire); step += 3) {
		msg_init(&m, MSG_RESPONSE);
		s = NULL;
		if (decode(wire, sizeof(wire) - 1, step, data, &m) != 0 ||
		    evbuffer_get_length(data) != 16 ||
		    (s = drain(data)) == NULL ||
		    strcmp(s, "hello 0123456789") != 0 || m.trailers.n != 5)
			ok = 0;
		free(s);
		msg_free(&m);
	}
	CHECK(ok, "decoded: the same data and trailers however split; "
	    "extensions and the next message are not data");

	msg_init(&m, MSG_RESPONSE);
	(void)decode(wire, sizeof(wire) - 1, sizeof(wire), data, &m);
	CHECK(msg_str_eq(&m, m.trailers.v[0].value, S("abc")) && m.secret,
	    "trailer values trimmed; the trailers' arena is wiped");
	CHECK(h1codec_move_chunk(out, data, 5) == 0 &&
	    h1codec_move_chunk(out, data, 11) == 0 &&
	    h1codec_move_chunk(out, data, 0) == 0 &&
	    evbuffer_get_length(data) == 0 && h1codec_write_end(out, &m) == 0,
	    "data moved in sluice's chunks");
	s = drain(out);
	CHECK(strcmp(s, "5\r\nhello\r\nb\r\n 0123456789\r\n0\r\n"
	    "X-Sum: abc\r\nGrpc-Status: 0\r\n\r\n") == 0,
	    "re-framed: no extension; framing, credentials and Content-* "
	    "are not written as trailers");
	free(s);
	msg_free(&m);
	evbuffer_free(data);
	evbuffer_free(out);
}

/* pre, n bytes ch, post: malloc'd, its length in *len. */
static char *
padded(const char *pre, int ch, size_t n, const char *post, size_t *len)
{
	size_t a = strlen(pre), b = strlen(post);
	char *s = malloc(a + n + b);

	memcpy(s, pre, a);
	memset(s + a, ch, n);
	memcpy(s + a + n, post, b);
	*len = a + n + b;
	return s;
}

/* Chunked framing that is refused, and what it is refused at. */
static void
test_body_limits(void)
{
	struct evbuffer *data = evbuffer_new();
	struct msg m;
	char *big;
	size_t n;

	msg_init(&m, MSG_RESPONSE);
	CHECK(decode(S("10000000000000000\r\n"), 1, data, &m) == -1 &&
	    decode(S("8000000000000000\r\n"), 1, data, &m) == -1,
	    "a chunk size that overflows is refused");
	CHECK(decode(S("7fffffffffffffff\r\nab"), 64, data, &m) == 1,
	    "the largest chunk size is taken");
	evbuffer_drain(data, evbuffer_get_length(data));

	big = padded("1;x=", 'a', 9000, "\r\na\r\n0\r\n\r\n", &n);
	CHECK(decode(big, n, 4096, data, &m) == -1,
	    "a chunk-size line over 8 KiB is refused");
	free(big);
	big = padded("1\r\na\r\n0\r\nX-Big: ", 'b', 9000, "\r\n\r\n", &n);
	CHECK(decode(big, n, 4096, data, &m) == -1,
	    "a trailer section over 8 KiB is refused");
	free(big);
	big = padded("1\r\na\r\n0\r\nX-Ok: ", 'b', 8000, "\r\n\r\n", &n);
	CHECK(decode(big, n, 4096, data, &m) == 0 && m.trailers.n == 1,
	    "a trailer section under the bound is kept");
	free(big);
	CHECK(decode(S("1\r\na\r\n0\r\n folded: x\r\n\r\n"), 1, data,
	    &m) == -1 && decode(S("1\r\na\r\n0\r\nX: a\rb\r\n\r\n"), 1,
	    data, &m) == -1, "obs-fold and a bare CR in trailers refused");
	msg_free(&m);
	evbuffer_free(data);
}

int
main(void)
{
	test_request_round_trip();
	test_request_checks();
	test_hop_by_hop();
	test_unwritable();
	test_framing();
	test_trailers();
	test_add_lines();
	test_head_view();
	test_response_view();
	test_body_decode();
	test_body_limits();
	return unit_done();
}
