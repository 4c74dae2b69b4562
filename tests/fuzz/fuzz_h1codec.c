/*
 * fuzz_h1codec.c - libFuzzer driver for src/h1codec.c (and msg.c).
 *
 * Each input that parses as a request, or as a response to a method
 * derived from it, becomes a message and is written back.  What sluice
 * writes must always parse, frame its body as the input did (a body read
 * until close is written chunked), carry no hop-by-hop field, and be a
 * fixed point: parsed and written again, it gives the same bytes.
 *
 * Each input that decodes as a chunked body, however it is split, gives
 * the same data and trailers; re-framed by the codec it decodes to that
 * data and the trailers that may be trailers, and re-framed again it
 * gives the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "h1codec.h"
#include "http1.h"
#include "msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
fuzz_check(int cond)
{
	if (!cond)
		abort();
}

/* Written from h (parsed from p) into a fresh malloc'd string, or NULL. */
static char *
fuzz_write(const struct http1_head *h, const char *p, int request,
    size_t *len)
{
	struct evbuffer *out = evbuffer_new();
	struct msg m;
	char *s = NULL;
	int rc;

	msg_init(&m, request ? MSG_REQUEST : MSG_RESPONSE);
	if (request)
		rc = h1codec_request_msg(h, p, h->target.p, h->target.len, "a",
		    &m);
	else
		rc = h1codec_response_msg(h, p, &m);
	if (rc == 0)
		rc = request ? h1codec_write_request(out, &m, h->version_minor,
		    0) : h1codec_write_response(out, &m, 0);
	if (rc == 0) {
		*len = evbuffer_get_length(out);
		s = malloc(*len + 1);
		fuzz_check(s != NULL);
		evbuffer_remove(out, s, *len);
		s[*len] = '\0';
	}
	msg_free(&m);
	evbuffer_free(out);
	return s;
}

static void
fuzz_no_hop(const struct http1_head *h)
{
	size_t i;

	for (i = 0; i < h->nheaders; i++) {
		fuzz_check(!http1_str_eq(h->headers[i].name, "keep-alive"));
		fuzz_check(!http1_str_eq(h->headers[i].name,
		    "proxy-connection"));
	}
}

static void
fuzz_round(const char *buf, size_t len, int request, struct http1_str meth)
{
	static struct http1_head h, again;
	enum http1_result r;
	const char *why;
	char *once, *twice;
	size_t n1, n2;

	r = request ? http1_parse_request(buf, len, &h, &why) :
	    http1_parse_response(buf, len, meth, &h, &why);
	if (r != HTTP1_OK)
		return;
	if ((once = fuzz_write(&h, buf, request, &n1)) == NULL)
		return;		/* an arena bound, never a bad write */
	r = request ? http1_parse_request(once, n1, &again, &why) :
	    http1_parse_response(once, n1, meth, &again, &why);
	fuzz_check(r == HTTP1_OK && again.head_len == n1);
	fuzz_no_hop(&again);
	if (h.body == HTTP1_BODY_UNTIL_CLOSE)
		fuzz_check(again.body == HTTP1_BODY_CHUNKED);
	else
		fuzz_check(again.body == h.body &&
		    again.content_length == h.content_length);
	twice = fuzz_write(&again, once, request, &n2);
	fuzz_check(twice != NULL && n2 == n1 && memcmp(once, twice, n1) == 0);
	free(once);
	free(twice);
}

/*
 * Decode buf as a chunked body, step bytes at a time: its data into data,
 * its trailers into m.  0 if it parsed whole.
 */
static int
fuzz_decode(const char *buf, size_t len, size_t step, struct evbuffer *data,
    struct msg *m)
{
	struct h1codec_trailers t = { NULL, 0 };
	struct http1_body b;
	enum http1_part part;
	size_t i = 0;
	ssize_t n;
	int rc = -1;

	http1_body_init(&b, HTTP1_BODY_CHUNKED, 0);
	while (i < len && !b.done) {
		n = http1_body_decode(&b, buf + i, len - i < step ? len - i :
		    step, &part);
		if (n <= 0)
			goto out;
		if (part == HTTP1_PART_DATA)
			fuzz_check(evbuffer_add(data, buf + i, n) == 0);
		else if (part == HTTP1_PART_TRAILERS)
			fuzz_check(h1codec_trailers_add(&t, buf + i, n) == 0);
		i += n;
	}
	if (b.done)
		rc = h1codec_trailers_msg(&t, m);
out:
	h1codec_trailers_free(&t);
	return rc;
}

/* data in pieces of step bytes, then the end with m's trailers. */
static void
fuzz_frame(struct evbuffer *data, size_t step, const struct msg *m,
    struct evbuffer *out)
{
	size_t len = evbuffer_get_length(data), i, n;
	const char *p = (const char *)evbuffer_pullup(data, -1);

	for (i = 0; i < len; i += n) {
		n = len - i < step ? len - i : step;
		fuzz_check(h1codec_write_chunk(out, p + i, n) == 0);
	}
	fuzz_check(h1codec_write_end(out, m) == 0);
}

static int
fuzz_same(struct evbuffer *a, struct evbuffer *b)
{
	size_t len = evbuffer_get_length(a);

	return len == evbuffer_get_length(b) && (len == 0 ||
	    memcmp(evbuffer_pullup(a, -1), evbuffer_pullup(b, -1), len) == 0);
}

/* Are m's trailers (names and values) the same as some of o's, in order? */
static int
fuzz_trailers_kept(const struct msg *m, const struct msg *o)
{
	const struct msg_field *f, *g;
	size_t i, j = 0;

	for (i = 0; i < m->trailers.n; i++) {
		f = &m->trailers.v[i];
		for (; j < o->trailers.n; j++) {
			g = &o->trailers.v[j];
			if (f->name.len == g->name.len &&
			    f->value.len == g->value.len &&
			    memcmp(msg_ptr(m, f->name), msg_ptr(o, g->name),
			    f->name.len) == 0 &&
			    memcmp(msg_ptr(m, f->value), msg_ptr(o, g->value),
			    f->value.len) == 0)
				break;
		}
		if (j++ >= o->trailers.n)
			return 0;
	}
	return 1;
}

static void
fuzz_body(const char *buf, size_t len)
{
	struct evbuffer *data = evbuffer_new(), *bytewise = evbuffer_new();
	struct evbuffer *once = evbuffer_new(), *twice = evbuffer_new();
	struct evbuffer *again = evbuffer_new();
	struct msg m, m1;

	msg_init(&m, MSG_RESPONSE);
	msg_init(&m1, MSG_RESPONSE);
	if (fuzz_decode(buf, len, len, data, &m) == 0) {
		fuzz_check(fuzz_decode(buf, len, 1, bytewise, &m1) == 0 &&
		    fuzz_same(data, bytewise) &&
		    m1.trailers.n == m.trailers.n);
		fuzz_frame(data, (len % 7) + 1, &m, once);
		msg_reset(&m1, MSG_RESPONSE);
		fuzz_check(fuzz_decode((const char *)evbuffer_pullup(once, -1),
		    evbuffer_get_length(once), evbuffer_get_length(once), again,
		    &m1) == 0);
		fuzz_check(fuzz_same(data, again) &&
		    fuzz_trailers_kept(&m1, &m));
		fuzz_frame(again, (len % 7) + 1, &m1, twice);
		fuzz_check(fuzz_same(once, twice));
	}
	msg_free(&m);
	msg_free(&m1);
	evbuffer_free(data);
	evbuffer_free(bytewise);
	evbuffer_free(once);
	evbuffer_free(twice);
	evbuffer_free(again);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *methods[] = { "GET", "HEAD", "CONNECT", "POST" };
	const char *buf = (const char *)data;
	struct http1_str meth;

	meth.p = methods[size & 3];
	meth.len = strlen(meth.p);
	fuzz_round(buf, size, 1, meth);
	fuzz_round(buf, size, 0, meth);
	fuzz_body(buf, size);
	return 0;
}
