/*
 * test_capture_h2.c - capture_h2.c: frames sluice wrote, fed in any
 * split, come out as frames an independent HPACK decoder reads, with
 * every secret starred (same length): in a header value HPACK
 * Huffman-coded, in a block spread over CONTINUATIONs, in DATA split
 * across frames at every position, past padding; a frame sluice never
 * sends stops the output.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nghttp2/nghttp2.h>

#include "capture_h2.h"
#include "unit.h"

#define TEST_SECRET	"sk-test-secret-4711"
#define TEST_WIRE	"Bearer " TEST_SECRET

/* Bytes: what the test feeds, or what the capture emitted. */
struct test_buf {
	unsigned char	 p[1 << 17];
	size_t		 len;
};

static void
test_add(struct test_buf *b, const void *p, size_t n)
{
	if (b->len + n <= sizeof(b->p)) {
		memcpy(b->p + b->len, p, n);
		b->len += n;
	}
}

static void
test_emit(void *arg, const unsigned char *p, size_t n)
{
	test_add(arg, p, n);
}

static void
test_frame(struct test_buf *b, uint8_t type, uint8_t flags, int32_t id,
    const void *p, size_t n)
{
	unsigned char h[9] = {
		(n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff, type, flags,
		(id >> 24) & 0x7f, (id >> 16) & 0xff, (id >> 8) & 0xff, id & 0xff,
	};

	test_add(b, h, sizeof(h));
	test_add(b, p, n);
}

/* A header block of n fields "name: value" as sluice's encoder writes it. */
static size_t
test_block(nghttp2_hd_deflater *def, unsigned char *out, size_t cap,
    const char *const *nv, size_t n)
{
	nghttp2_nv a[16];
	size_t i;

	for (i = 0; i < n; i++) {
		a[i].name = (uint8_t *)nv[2 * i];
		a[i].namelen = strlen(nv[2 * i]);
		a[i].value = (uint8_t *)nv[2 * i + 1];
		a[i].valuelen = strlen(nv[2 * i + 1]);
		a[i].flags = NGHTTP2_NV_FLAG_NONE;
	}
	return (size_t)nghttp2_hd_deflate_hd(def, out, cap, a, n);
}

/* What the file says: fields per block ("name: value\n"), DATA per stream. */
struct test_read {
	char		 fields[32768];
	unsigned char	 data[2][8192];	/* streams 1 and 3 */
	size_t		 dlen[2];
	int		 frames, padded, bad, too_big, end_stream[2];
	char		 types[64];	/* one letter per frame */
};

static void
test_decode(nghttp2_hd_inflater *inf, const unsigned char *in, size_t len,
    struct test_read *r)
{
	nghttp2_nv nv;
	ssize_t n;
	int fl;
	size_t at;

	for (;;) {
		fl = 0;
		if ((n = nghttp2_hd_inflate_hd2(inf, &nv, &fl, in, len, 1)) < 0) {
			r->bad++;
			return;
		}
		in += n;
		len -= (size_t)n;
		if (fl & NGHTTP2_HD_INFLATE_EMIT) {
			at = strlen(r->fields);
			snprintf(r->fields + at, sizeof(r->fields) - at,
			    "%.*s: %.*s\n", (int)nv.namelen, nv.name,
			    (int)nv.valuelen, nv.value);
		}
		if (fl & NGHTTP2_HD_INFLATE_FINAL) {
			nghttp2_hd_inflate_end_headers(inf);
			return;
		}
		if (!(fl & NGHTTP2_HD_INFLATE_EMIT) && len == 0)
			return;
	}
}

static void
test_parse(const struct test_buf *b, struct test_read *r)
{
	nghttp2_hd_inflater *inf;
	unsigned char block[65536];
	size_t off = 0, len, blen = 0, s;
	const unsigned char *p;
	int32_t id;

	memset(r, 0, sizeof(*r));
	nghttp2_hd_inflate_new(&inf);
	while (off + 9 <= b->len) {
		p = b->p + off;
		len = (size_t)p[0] << 16 | (size_t)p[1] << 8 | p[2];
		id = (int32_t)((uint32_t)p[5] << 24 | p[6] << 16 | p[7] << 8 |
		    p[8]);
		if (off + 9 + len > b->len)
			break;
		if (len > 16384)
			r->too_big++;
		if ((size_t)r->frames < sizeof(r->types) - 1)
			r->types[r->frames] = "DHPRSUIGWC"[p[3] < 10 ? p[3] :
			    0];
		r->frames++;
		if ((p[3] == NGHTTP2_DATA || p[3] == NGHTTP2_HEADERS) &&
		    (p[4] & NGHTTP2_FLAG_PADDED))
			r->padded++;
		s = id == 3 ? 1 : 0;
		if (p[3] == NGHTTP2_DATA) {
			if (r->dlen[s] + len <= sizeof(r->data[s])) {
				memcpy(r->data[s] + r->dlen[s], p + 9, len);
				r->dlen[s] += len;
			}
			if (p[4] & NGHTTP2_FLAG_END_STREAM)
				r->end_stream[s]++;
		}
		if (p[3] == NGHTTP2_HEADERS || p[3] == NGHTTP2_CONTINUATION) {
			size_t skip = p[3] == NGHTTP2_HEADERS &&
			    (p[4] & NGHTTP2_FLAG_PRIORITY) ? 5 : 0;

			memcpy(block + blen, p + 9 + skip, len - skip);
			blen += len - skip;
			if (p[4] & NGHTTP2_FLAG_END_HEADERS) {
				test_decode(inf, block, blen, r);
				blen = 0;
			}
		}
		off += 9 + len;
	}
	if (off != b->len)
		r->bad++;
	nghttp2_hd_inflate_del(inf);
}

/* in fed to a new capture in pieces of at most step bytes (0: whole). */
static int
test_run(const struct test_buf *in, size_t step, struct test_buf *out)
{
	struct capture_h2 *h2;
	size_t off, n;
	int rc = 0;

	out->len = 0;
	if ((h2 = capture_h2_new(test_emit, out)) == NULL)
		return -1;
	capture_h2_secret(h2, TEST_WIRE, strlen(TEST_WIRE));
	capture_h2_secret(h2, TEST_SECRET, strlen(TEST_SECRET));
	capture_h2_secret(h2, TEST_SECRET, strlen(TEST_SECRET));
	for (off = 0; off < in->len && rc == 0; off += n) {
		n = step == 0 || in->len - off < step ? in->len - off : step;
		rc = capture_h2_input(h2, in->p + off, n);
	}
	capture_h2_end(h2);
	capture_h2_free(h2);
	return rc;
}

/* n stars (n < 64), in one of two alternating buffers. */
static const char *
test_stars(size_t n)
{
	static char b[2][64];
	static int i;

	i = !i;
	memset(b[i], '*', n);
	b[i][n] = '\0';
	return b[i];
}

static int
test_has(const struct test_buf *b, const char *s)
{
	return memmem(b->p, b->len, s, strlen(s)) != NULL;
}

/*
 * SETTINGS, a response whose field echoes the secret (Huffman-coded), its
 * body, and a second response on stream 3 that HPACK codes from the
 * dynamic table the first one filled.
 */
static void
test_frames_any_split(void)
{
	static const char *const head[] = {
		":status", "200", "x-echo", TEST_WIRE, "server", "upstream",
	};
	static struct test_buf in, out, again;
	static struct test_read r;
	nghttp2_hd_deflater *def;
	unsigned char block[4096];
	const char *body = "{\"auth\": \"" TEST_WIRE "\"}";
	size_t n, step, differ = 0;
	int huffman;

	char want[256];

	snprintf(want, sizeof(want), ":status: 200\nx-echo: %s\nserver: "
	    "upstream\n:status: 200\nx-echo: %s\nserver: upstream\n",
	    test_stars(strlen(TEST_WIRE)), test_stars(strlen(TEST_WIRE)));
	nghttp2_hd_deflate_new(&def, 4096);
	in.len = 0;
	test_frame(&in, NGHTTP2_SETTINGS, 0, 0, "\0\3\0\0\0\144", 6);
	n = test_block(def, block, sizeof(block), head, 3);
	huffman = memmem(block, n, TEST_SECRET, strlen(TEST_SECRET)) == NULL;
	test_frame(&in, NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS, 1, block, n);
	test_frame(&in, NGHTTP2_DATA, NGHTTP2_FLAG_END_STREAM, 1, body,
	    strlen(body));
	n = test_block(def, block, sizeof(block), head, 3);
	test_frame(&in, NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS |
	    NGHTTP2_FLAG_END_STREAM, 3, block, n);
	test_frame(&in, NGHTTP2_PING, 0, 0, "12345678", 8);
	nghttp2_hd_deflate_del(def);
	CHECK(huffman, "the secret in the field is Huffman-coded in the input");

	CHECK(test_run(&in, 0, &out) == 0, "whole input: walked");
	test_parse(&out, &r);
	CHECK(r.bad == 0, "the output is frames an HPACK decoder reads");
	CHECK(strcmp(r.fields, want) == 0, "fields decoded, the echo starred "
	    "at its length, also from the dynamic table");
	CHECK(r.dlen[0] == strlen(body) && memcmp(r.data[0], "{\"auth\": \"***",
	    13) == 0 && r.end_stream[0] == 1, "the body starred, same length, "
	    "its end kept");
	CHECK(strcmp(r.types, "SHDHI") == 0, "frames in order, others as sent");
	CHECK(!test_has(&out, TEST_SECRET), "no secret in the output bytes");
	for (step = 1; step < 40; step++) {
		if (test_run(&in, step, &again) != 0 || again.len != out.len ||
		    memcmp(again.p, out.p, out.len) != 0)
			differ++;
	}
	CHECK(differ == 0, "the same output whatever the input's split");
}

/* One block over HEADERS and two CONTINUATIONs; a block past 16384. */
static void
test_continuation(void)
{
	static char big[20001];
	const char *head[] = {
		":status", "200", "authorization", TEST_WIRE, "x-big", big,
	};
	static struct test_buf in, out;
	static struct test_read r;
	nghttp2_hd_deflater *def;
	static unsigned char block[65536];
	static char want[32768];
	size_t n, a, b;
	int cont = 0;

	/* Longer Huffman-coded than raw: a block past 16384 bytes. */
	memset(big, '{', sizeof(big) - 1);
	nghttp2_hd_deflate_new(&def, 4096);
	in.len = 0;
	n = test_block(def, block, sizeof(block), head, 2);
	a = n / 3;
	b = 2 * n / 3;
	test_frame(&in, NGHTTP2_HEADERS, 0, 1, block, a);
	test_frame(&in, NGHTTP2_CONTINUATION, 0, 1, block + a, b - a);
	test_frame(&in, NGHTTP2_CONTINUATION, NGHTTP2_FLAG_END_HEADERS, 1,
	    block + b, n - b);
	n = test_block(def, block, sizeof(block), head, 3);
	test_frame(&in, NGHTTP2_HEADERS, NGHTTP2_FLAG_END_STREAM, 3, block,
	    n / 2);
	test_frame(&in, NGHTTP2_CONTINUATION, NGHTTP2_FLAG_END_HEADERS, 3,
	    block + n / 2, n - n / 2);
	nghttp2_hd_deflate_del(def);

	CHECK(test_run(&in, 7, &out) == 0, "CONTINUATIONs: walked");
	test_parse(&out, &r);
	CHECK(r.bad == 0 && r.too_big == 0, "re-framed within 16384 bytes");
	snprintf(want, sizeof(want), ":status: 200\nauthorization: %s\n"
	    ":status: 200\nauthorization: %s\nx-big: %s\n",
	    test_stars(strlen(TEST_WIRE)), test_stars(strlen(TEST_WIRE)), big);
	CHECK(strcmp(r.fields, want) == 0, "both blocks whole, starred");
	for (n = 0; r.types[n] != '\0'; n++)
		cont += r.types[n] == 'C';
	CHECK(strncmp(r.types, "HH", 2) == 0 && cont == 1,
	    "one HEADERS each, the big one continued once");
	CHECK(!test_has(&out, TEST_SECRET), "no secret in the output bytes");
}

/* body on stream 1 as two DATA frames split at k, then how it ends. */
static void
test_data_split_at(size_t k, int how, struct test_buf *in)
{
	const char *body = "<p>" TEST_WIRE " and " TEST_SECRET "</p>";
	size_t len = strlen(body);

	in->len = 0;
	test_frame(in, NGHTTP2_DATA, 0, 1, body, k);
	/* Another stream's frame in between. */
	test_frame(in, NGHTTP2_DATA, 0, 3, "x", 1);
	switch (how) {
	case 0:
		test_frame(in, NGHTTP2_DATA, NGHTTP2_FLAG_END_STREAM, 1,
		    body + k, len - k);
		break;
	case 1:		/* the stream is reset before its end */
		test_frame(in, NGHTTP2_DATA, 0, 1, body + k, len - k);
		test_frame(in, NGHTTP2_RST_STREAM, 0, 1, "\0\0\0\2", 4);
		break;
	default:	/* the connection ends */
		test_frame(in, NGHTTP2_DATA, 0, 1, body + k, len - k);
		break;
	}
}

static void
test_data_split(void)
{
	static struct test_buf in, out;
	static struct test_read r;
	size_t k, len, leaks = 0, wrong = 0, ends = 0;
	int how;
	char want[128];

	snprintf(want, sizeof(want), "<p>%s and %s</p>",
	    test_stars(strlen(TEST_WIRE)), test_stars(strlen(TEST_SECRET)));
	len = strlen(want);
	for (how = 0; how < 3; how++)
		for (k = 0; k <= len; k++) {
			test_data_split_at(k, how, &in);
			if (test_run(&in, 0, &out) != 0)
				wrong++;
			test_parse(&out, &r);
			if (test_has(&out, TEST_SECRET) ||
			    test_has(&out, "Bearer sk-test"))
				leaks++;
			if (r.bad != 0 || r.dlen[0] != len ||
			    memcmp(r.data[0], want, len) != 0 ||
			    r.dlen[1] != 1)
				wrong++;
			if (r.end_stream[0] != (how == 0) ||
			    (how == 1 && r.types[r.frames - 1] != 'R'))
				ends++;
		}
	CHECK(leaks == 0, "a secret split across DATA frames, at every "
	    "position, is masked");
	CHECK(wrong == 0, "every body byte once, in order, starred in place");
	CHECK(ends == 0, "held bytes go out before END_STREAM, RST_STREAM or "
	    "the connection's end");
}

/* Padded DATA, padded HEADERS with a priority: the padding goes. */
static void
test_padding(void)
{
	static const char *const head[] = { ":status", "204", "x-k", TEST_SECRET };
	static struct test_buf in, out;
	static struct test_read r;
	nghttp2_hd_deflater *def;
	unsigned char block[512], pl[1024];
	char want[64];
	size_t n;

	nghttp2_hd_deflate_new(&def, 4096);
	n = test_block(def, block, sizeof(block), head, 2);
	nghttp2_hd_deflate_del(def);
	in.len = 0;
	pl[0] = 20;				/* pad length */
	memcpy(pl + 1, "\x80\0\0\0\x10", 5);	/* exclusive, weight */
	memcpy(pl + 6, block, n);
	memset(pl + 6 + n, 0, 20);
	test_frame(&in, NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS |
	    NGHTTP2_FLAG_PADDED | NGHTTP2_FLAG_PRIORITY, 1, pl, 6 + n + 20);
	pl[0] = 9;
	memcpy(pl + 1, "key " TEST_SECRET, 4 + strlen(TEST_SECRET));
	memset(pl + 5 + strlen(TEST_SECRET), 0, 9);
	test_frame(&in, NGHTTP2_DATA, NGHTTP2_FLAG_PADDED |
	    NGHTTP2_FLAG_END_STREAM, 1, pl, 1 + 4 + strlen(TEST_SECRET) + 9);

	CHECK(test_run(&in, 3, &out) == 0, "padded frames: walked");
	test_parse(&out, &r);
	CHECK(r.bad == 0 && r.padded == 0, "no padding in the output");
	snprintf(want, sizeof(want), ":status: 204\nx-k: %s\n",
	    test_stars(strlen(TEST_SECRET)));
	CHECK(strcmp(r.fields, want) == 0,
	    "the padded block's fields, starred");
	CHECK(r.dlen[0] == 4 + strlen(TEST_SECRET) &&
	    memcmp(r.data[0], "key ***", 7) == 0, "the padded DATA's payload "
	    "only, starred");
	CHECK(!test_has(&out, TEST_SECRET), "no secret in the output bytes");
}

/* A frame sluice never sends: nothing more comes out. */
static void
test_broken(void)
{
	static struct test_buf in, out;

	in.len = 0;
	test_frame(&in, NGHTTP2_PING, 0, 0, "12345678", 8);
	test_frame(&in, NGHTTP2_PUSH_PROMISE, NGHTTP2_FLAG_END_HEADERS, 1,
	    "\0\0\0\2\x88", 5);
	test_frame(&in, NGHTTP2_DATA, 0, 1, TEST_SECRET, strlen(TEST_SECRET));
	CHECK(test_run(&in, 0, &out) == -1, "PUSH_PROMISE stops the walk");
	CHECK(out.len == 17, "what came before it is out, nothing after");
}

int
main(void)
{
	test_frames_any_split();
	test_continuation();
	test_data_split();
	test_padding();
	test_broken();
	return unit_done();
}
