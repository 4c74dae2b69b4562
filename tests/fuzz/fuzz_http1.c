/*
 * fuzz_http1.c - libFuzzer driver for src/http1.c.
 *
 * Each input is parsed as a request and as a response.  A head that parses
 * must parse the same from exactly its own bytes and be incomplete one byte
 * earlier, and everything it points at must lie inside it.  The bytes after
 * the head go to the body framer once whole and once cut in three at points
 * derived from the input: both must agree on the count consumed, the payload
 * and the end.  The whole input also goes through the chunked framer alone,
 * so its state machine is reached without a valid head in front.  The
 * framing fields sluice writes for a head must frame its body the same way.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http1.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
fuzz_check(int cond)
{
	if (!cond)
		abort();
}

/* FNV-1a: cut points and the request method, stable per input. */
static uint64_t
fuzz_hash(const char *p, size_t len)
{
	uint64_t	 x = 14695981039346656037ULL;
	size_t		 i;

	for (i = 0; i < len; i++)
		x = (x ^ (unsigned char)p[i]) * 1099511628211ULL;
	return x;
}

static int
fuzz_within(struct http1_str s, const char *buf, size_t len)
{
	return s.len == 0 || (s.p >= buf && s.p + s.len <= buf + len);
}

/* Feed buf through the framer in pieces cut at a <= b; the total or -1. */
static ssize_t
fuzz_feed_cut(struct http1_body *b, const char *buf, size_t len, size_t a,
    size_t c)
{
	size_t	 cuts[3] = { a, c, len };
	size_t	 off = 0, i;
	ssize_t	 r;

	for (i = 0; i < 3; i++) {
		r = http1_body_feed(b, buf + off, cuts[i] - off);
		if (r == -1)
			return -1;
		fuzz_check((size_t)r <= cuts[i] - off);
		off += r;
		if (off < cuts[i]) {
			fuzz_check(b->done);
			break;
		}
	}
	return off;
}

static void
fuzz_body(enum http1_body_kind kind, uint64_t cl, const char *buf,
    size_t len, uint64_t hash)
{
	struct http1_body	 whole, cut;
	ssize_t			 r, rc;
	size_t			 a, c;

	http1_body_init(&whole, kind, cl);
	r = http1_body_feed(&whole, buf, len);
	if (r != -1) {
		fuzz_check((size_t)r <= len);
		fuzz_check((size_t)r == len || whole.done);
		fuzz_check(whole.payload <= (uint64_t)r);
		if (kind == HTTP1_BODY_LENGTH)
			fuzz_check((uint64_t)r == (cl < len ? cl : len));
		if (kind == HTTP1_BODY_UNTIL_CLOSE)
			fuzz_check((size_t)r == len && !whole.done);
	}

	a = len ? hash % (len + 1) : 0;
	c = a + (len - a ? (hash >> 32) % (len - a + 1) : 0);
	http1_body_init(&cut, kind, cl);
	rc = fuzz_feed_cut(&cut, buf, len, a, c);
	fuzz_check(rc == r);
	if (r != -1) {
		fuzz_check(cut.done == whole.done);
		fuzz_check(cut.payload == whole.payload);
		fuzz_check(http1_body_eof(&cut) == http1_body_eof(&whole));
	}
}

static void
fuzz_head(const char *buf, size_t len, int request, uint64_t hash)
{
	static const char	*methods[] = {
		"GET", "HEAD", "CONNECT", "POST"
	};
	static struct http1_head h, again;
	struct http1_str	 m;
	enum http1_result	 r;
	const char		*why = NULL;
	size_t			 i;

	m.p = methods[(hash >> 60) & 3];
	m.len = strlen(m.p);
	if (request)
		r = http1_parse_request(buf, len, &h, &why);
	else
		r = http1_parse_response(buf, len, m, &h, &why);
	if (r == HTTP1_INCOMPLETE)
		fuzz_check(len < HTTP1_MAX_HEAD);
	if (r != HTTP1_OK) {
		fuzz_check(r == HTTP1_INCOMPLETE || why != NULL);
		return;
	}

	fuzz_check(h.head_len >= 4 && h.head_len <= len &&
	    h.head_len <= HTTP1_MAX_HEAD);
	fuzz_check(memcmp(buf + h.head_len - 4, "\r\n\r\n", 4) == 0);
	fuzz_check(h.nheaders <= HTTP1_MAX_HEADERS);
	fuzz_check(h.version_minor == 0 || h.version_minor == 1);
	for (i = 0; i < h.nheaders; i++) {
		fuzz_check(h.headers[i].name.len > 0);
		fuzz_check(fuzz_within(h.headers[i].name, buf, h.head_len));
		fuzz_check(fuzz_within(h.headers[i].value, buf, h.head_len));
	}
	if (request) {
		fuzz_check(h.method.len > 0 && h.target.len > 0);
		fuzz_check(fuzz_within(h.method, buf, h.head_len));
		fuzz_check(fuzz_within(h.target, buf, h.head_len));
		fuzz_check(fuzz_within(h.host, buf, h.head_len));
		fuzz_check(h.body != HTTP1_BODY_UNTIL_CLOSE);
		fuzz_check((http1_find(&h, "host") != NULL) ==
		    (h.host.p != NULL));
	} else {
		fuzz_check(h.status >= 100 && h.status <= 599);
		fuzz_check(fuzz_within(h.reason, buf, h.head_len));
		fuzz_check(h.body != HTTP1_BODY_UNTIL_CLOSE || !h.keep_alive);
	}
	fuzz_check((h.body == HTTP1_BODY_LENGTH) == (h.content_length > 0));

	/* The head alone parses the same; one byte less is not yet a head. */
	if (request) {
		fuzz_check(http1_parse_request(buf, h.head_len - 1, &again,
		    &why) == HTTP1_INCOMPLETE);
		fuzz_check(http1_parse_request(buf, h.head_len, &again, &why) ==
		    HTTP1_OK);
	} else {
		fuzz_check(http1_parse_response(buf, h.head_len - 1, m, &again,
		    &why) == HTTP1_INCOMPLETE);
		fuzz_check(http1_parse_response(buf, h.head_len, m, &again,
		    &why) == HTTP1_OK);
	}
	fuzz_check(again.head_len == h.head_len && again.body == h.body &&
	    again.content_length == h.content_length &&
	    again.nheaders == h.nheaders && again.keep_alive == h.keep_alive);

	fuzz_body(h.body, h.content_length, buf + h.head_len,
	    len - h.head_len, hash);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*buf = (const char *)data;
	uint64_t	 hash = fuzz_hash(buf, size);

	fuzz_head(buf, size, 1, hash);
	fuzz_head(buf, size, 0, hash);
	fuzz_body(HTTP1_BODY_CHUNKED, 0, buf, size, hash);
	return 0;
}
