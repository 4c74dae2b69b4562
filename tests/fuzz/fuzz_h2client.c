/*
 * fuzz_h2client.c - libFuzzer driver for src/h2client.c (and nghttp2 as
 * it is configured there): what a hostile upstream sends.
 *
 * The input is a byte picking the size of the pieces it is fed in, then
 * what the server sends.  The owner opens streams as long as the codec
 * lets it (a GET, a POST with a body and trailers, a HEAD, in turn),
 * consumes every body byte and resets every third stream as its head
 * comes.  What the codec writes must always be whole frames no larger
 * than the default maximum frame size, every response it hands over must
 * satisfy msg.c's checks and carry no connection-specific field, every
 * stream it opened must close exactly once (or be open at the end), and
 * nothing may leak.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "h2client.h"
#include "msg.h"

#define FUZZ_FRAME_MAX	16384
#define FUZZ_STREAMS	64	/* opened per input at most */

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct h2client *fuzz_c;
static int fuzz_closed[2 * FUZZ_STREAMS + 2];
static size_t fuzz_opened, fuzz_nclosed;

static void
fuzz_check(int cond)
{
	if (!cond)
		abort();
}

static void
fuzz_response(void *arg, int32_t id, struct msg *resp)
{
	(void)arg;
	fuzz_check(resp->kind == MSG_RESPONSE && resp->status >= 100 &&
	    resp->status <= 999 && resp->reason.len == 0);
	fuzz_check(msg_find(resp, "connection", 10) == NULL &&
	    msg_find(resp, "transfer-encoding", 17) == NULL &&
	    msg_find(resp, "te", 2) == NULL);
	fuzz_check(h2client_stream_get(fuzz_c, id) == fuzz_closed);
	msg_free(resp);
	free(resp);
	if (id % 3 == 0)
		fuzz_check(h2client_reset(fuzz_c, id, H2CLIENT_CANCEL) == 0);
}

static void
fuzz_data(void *arg, int32_t id, const uint8_t *p, size_t len)
{
	(void)arg;
	(void)p;
	fuzz_check(h2client_consume(fuzz_c, id, len) == 0);
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
	fuzz_check(id > 0 && id < 2 * FUZZ_STREAMS + 2 && id % 2 == 1);
	fuzz_check(!fuzz_closed[id]);
	fuzz_closed[id] = 1;
	fuzz_nclosed++;
}

static void
fuzz_writable(void *arg, int32_t id)
{
	(void)arg;
	(void)id;
}

static const struct h2client_cbs fuzz_cbs = {
	fuzz_response, fuzz_data, fuzz_end, fuzz_close, fuzz_writable,
};

/* Open what the codec allows: a GET, a POST with trailers, a HEAD. */
static void
fuzz_open(void)
{
	static const char *const method[] = { "GET", "POST", "HEAD" };
	struct evbuffer *b;
	struct msg m;
	int32_t id;
	int kind;

	while (fuzz_opened < FUZZ_STREAMS && h2client_can_open(fuzz_c)) {
		kind = fuzz_opened % 3;
		msg_init(&m, MSG_REQUEST);
		msg_set_request(&m, method[kind], strlen(method[kind]),
		    "https", 5, "api.test", 8, "/x", 2);
		msg_add(&m, "accept", 6, "*/*", 3);
		msg_set_body(&m, kind == 1 ? MSG_BODY_UNKNOWN : MSG_BODY_NONE,
		    0);
		m.trailers_ok = 1;
		id = h2client_request(fuzz_c, &m);
		fuzz_check(id > 0);
		fuzz_opened++;
		fuzz_check(h2client_stream_set(fuzz_c, id, fuzz_closed) == 0);
		if (kind == 1) {
			b = evbuffer_new();
			evbuffer_add(b, "body", 4);
			fuzz_check(h2client_write(fuzz_c, id, b, 4) == 4);
			msg_add_trailer(&m, "grpc-status", 11, "0", 1);
			fuzz_check(h2client_end(fuzz_c, id, &m) == 0);
			evbuffer_free(b);
		}
		msg_free(&m);
	}
}

/* out holds whole frames, none larger than we allow ourselves. */
static void
fuzz_frames(struct evbuffer *out)
{
	size_t len = evbuffer_get_length(out), off = 0, flen;
	const uint8_t *p = evbuffer_pullup(out, -1);

	if (len >= 24 && memcmp(p, "PRI * HTTP/2.0\r\n", 16) == 0)
		off = 24;	/* the preface */
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
	struct evbuffer *in = evbuffer_new(), *out = evbuffer_new();
	size_t piece, n;

	memset(fuzz_closed, 0, sizeof(fuzz_closed));
	fuzz_opened = fuzz_nclosed = 0;
	fuzz_c = h2client_new(NULL, &fuzz_cbs, NULL);
	fuzz_check(fuzz_c != NULL && in != NULL && out != NULL);
	/* the first byte picks the pieces' size, the rest is the server's */
	if (size > 0) {
		piece = (size_t)data[0] * 64 + 1;
		data++;
		size--;
	} else
		piece = 1;
	fuzz_open();
	fuzz_check(h2client_output(fuzz_c, out, 1 << 16) == 0);
	fuzz_frames(out);
	while (size > 0 && h2client_want_read(fuzz_c)) {
		n = size < piece ? size : piece;
		evbuffer_add(in, data, n);
		data += n;
		size -= n;
		if (h2client_input(fuzz_c, in) == -1)
			break;
		fuzz_check(evbuffer_get_length(in) == 0);
		fuzz_open();
		fuzz_check(h2client_output(fuzz_c, out, 1 << 16) == 0);
		fuzz_frames(out);
	}
	while (h2client_want_write(fuzz_c) &&
	    h2client_output(fuzz_c, out, 1 << 16) == 0 &&
	    evbuffer_get_length(out) > 0)
		fuzz_frames(out);
	fuzz_check(fuzz_opened - fuzz_nclosed == h2client_streams(fuzz_c));
	h2client_free(fuzz_c);
	evbuffer_free(in);
	evbuffer_free(out);
	return 0;
}
