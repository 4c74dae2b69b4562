/*
 * fuzz_h2codec.c - libFuzzer driver for src/h2codec.c (and nghttp2 as it
 * is configured there).
 *
 * The input is a byte picking the size of the pieces it is fed in, then
 * what a client sends after the connection preface.  The owner answers
 * every request (head, a body, trailers), consumes every body byte and
 * resets every third stream.  What the codec writes must always be whole
 * frames no larger than the default maximum frame size, every message it
 * hands over must satisfy msg.c's checks, and nothing may leak.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "h2codec.h"
#include "msg.h"

#define FUZZ_FRAME_MAX	16384

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct h2codec *fuzz_h2;

static void
fuzz_check(int cond)
{
	if (!cond)
		abort();
}

static void
fuzz_request(void *arg, int32_t id, struct msg *req)
{
	struct evbuffer *b = evbuffer_new();
	struct msg m;

	(void)arg;
	fuzz_check(req->kind == MSG_REQUEST && req->method.len > 0 &&
	    req->authority.len > 0 && req->path.len > 0);
	fuzz_check(msg_find(req, "host", 4) == NULL &&
	    msg_find(req, "content-length", 14) == NULL);
	msg_free(req);
	free(req);
	if (id % 3 == 0) {
		fuzz_check(h2codec_reset(fuzz_h2, id, H2CODEC_CANCEL) == 0);
		evbuffer_free(b);
		return;
	}
	msg_init(&m, MSG_RESPONSE);
	msg_set_status(&m, 200, "", 0);
	msg_add(&m, "X-A", 3, "1", 1);
	msg_set_body(&m, MSG_BODY_UNKNOWN, 0);
	msg_add_trailer(&m, "grpc-status", 11, "0", 1);
	fuzz_check(h2codec_respond(fuzz_h2, id, &m) == 0);
	evbuffer_add(b, "0123456789", 10);
	fuzz_check(h2codec_write(fuzz_h2, id, b, 10) == 10);
	fuzz_check(h2codec_end(fuzz_h2, id, &m) == 0);
	msg_free(&m);
	evbuffer_free(b);
}

static void
fuzz_data(void *arg, int32_t id, const uint8_t *p, size_t len)
{
	(void)arg;
	(void)p;
	h2codec_consume(fuzz_h2, id, len);
}

static void
fuzz_end(void *arg, int32_t id, const struct msg *t)
{
	(void)arg;
	(void)id;
	fuzz_check(t == NULL || t->fields.n == 0);
}

static void
fuzz_close(void *arg, int32_t id, uint32_t code)
{
	(void)arg;
	(void)code;
	fuzz_check(h2codec_stream_get(fuzz_h2, id) == NULL);
}

static void
fuzz_writable(void *arg, int32_t id)
{
	(void)arg;
	(void)id;
}

static const struct h2codec_cbs fuzz_cbs = {
	fuzz_request, fuzz_data, fuzz_end, fuzz_close, fuzz_writable, NULL, NULL,
};

/* out holds whole frames, none larger than we allow ourselves. */
static void
fuzz_frames(struct evbuffer *out)
{
	size_t len = evbuffer_get_length(out), off = 0, flen;
	const uint8_t *p = evbuffer_pullup(out, -1);

	while (off < len) {
		fuzz_check(off + 9 <= len);
		flen = (p[off] << 16) | (p[off + 1] << 8) | p[off + 2];
		fuzz_check(flen <= FUZZ_FRAME_MAX && off + 9 + flen <= len);
		off += 9 + flen;
	}
	evbuffer_drain(out, len);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
	struct evbuffer *in = evbuffer_new(), *out = evbuffer_new();
	size_t piece, n;

	fuzz_h2 = h2codec_new(NULL, &fuzz_cbs, NULL);
	fuzz_check(fuzz_h2 != NULL && in != NULL && out != NULL);
	/* the first byte picks the pieces' size, the rest is the client's */
	if (size > 0) {
		piece = (size_t)data[0] * 64 + 1;
		data++;
		size--;
	} else
		piece = 1;
	evbuffer_add(in, preface, sizeof(preface) - 1);
	while (size > 0 && h2codec_want_read(fuzz_h2)) {
		n = size < piece ? size : piece;
		evbuffer_add(in, data, n);
		data += n;
		size -= n;
		if (h2codec_input(fuzz_h2, in) == -1)
			break;
		fuzz_check(evbuffer_get_length(in) == 0);
		fuzz_check(h2codec_output(fuzz_h2, out, 1 << 16) == 0);
		fuzz_frames(out);
	}
	while (h2codec_want_write(fuzz_h2) &&
	    h2codec_output(fuzz_h2, out, 1 << 16) == 0 &&
	    evbuffer_get_length(out) > 0)
		fuzz_frames(out);
	h2codec_free(fuzz_h2);
	evbuffer_free(in);
	evbuffer_free(out);
	return 0;
}
