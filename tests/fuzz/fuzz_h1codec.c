/*
 * fuzz_h1codec.c - libFuzzer driver for src/h1codec.c (and msg.c).
 *
 * Each input that parses as a request, or as a response to a method
 * derived from it, becomes a message and is written back.  What sluice
 * writes must always parse, frame its body as the input did (a body read
 * until close is written chunked), carry no hop-by-hop field, and be a
 * fixed point: parsed and written again, it gives the same bytes.
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
	return 0;
}
