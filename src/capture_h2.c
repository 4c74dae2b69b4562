/*
 * capture_h2.c - the frames sluice wrote on an HTTP/2 client connection,
 * re-encoded for the pcap file with secrets masked.
 *
 * Owns the walk over those frames and what the file gets instead of them;
 * does not own the file, the queue or the choice of secrets (capture.c
 * registers the credentials of every rule that answered a stream).  What
 * the client sent needs none of this: its HPACK state never holds a
 * secret sluice injected, so capture.c writes it as received.
 *
 * Why re-encode.  An upstream may echo an injected credential in a
 * response field; HPACK may Huffman-code it or index it, so it cannot be
 * found in the bytes, and starring bytes in place would break the
 * client's dynamic table.  So every header block is decoded with an
 * inflater that sees exactly what the client's sees (it mirrors its
 * state), masked field by field, encoded with a deflater of the file's
 * own, and framed again (HEADERS, CONTINUATION, at most 16384 bytes each:
 * every peer takes that).  The file's HPACK state is consistent by itself,
 * and so is its byte numbering: capture.c counts the bytes emitted.
 *
 * DATA is masked per stream, as HTTP/1 bodies are across reads: the last
 * bytes of a frame that a secret may continue (the longest end that is the
 * start of one) are held back and emitted in front of the stream's next
 * DATA, or when the stream ends (END_STREAM, RST_STREAM, the connection).
 * Padding is dropped from what is re-framed.  Other frames pass through.
 *
 * Secrets are masked on every stream: a union per connection, kept from
 * the first stream that named them to the connection's end, so a frame
 * emitted after its exchange is gone is still masked.
 *
 * Invariant: nothing is emitted that was not masked.  A frame sluice
 * could not have sent, or no memory, makes the walk stop ("broken") and
 * emit nothing more.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <nghttp2/nghttp2.h>

#include "capture_h2.h"
#include "mask.h"

#define CAPTURE_H2_HEAD		9		/* frame header bytes */
#define CAPTURE_H2_FRAME	16384		/* the smallest SETTINGS_MAX_FRAME_SIZE */
#define CAPTURE_H2_BLOCK_MAX	(1024 * 1024)	/* one header block gathered */
#define CAPTURE_H2_TABLE	4096		/* the file's HPACK table */
/*
 * The largest table size update the mirror accepts; sluice's encoder
 * stays within h2session.c's 4096, the client's SETTINGS may allow more.
 */
#define CAPTURE_H2_PEER_TABLE	65536
#define CAPTURE_H2_CARRIES	128		/* streams holding bytes back */

/* A growable buffer. */
struct capture_h2_buf {
	unsigned char	*p;
	size_t		 len, cap;
};

/* The end of a stream's DATA that a secret may continue. */
struct capture_h2_carry {
	struct capture_h2_carry	*next;
	int32_t			 id;
	struct mask_carry	 mask;		/* what the masker knows of it */
	size_t			 len;
	unsigned char		 data[];
};

/* A decoded field: offsets into names (which moves as it grows). */
struct capture_h2_field {
	size_t		 name, namelen, value, valuelen;
	uint8_t		 flags;		/* NGHTTP2_NV_FLAG_NO_INDEX kept */
};

struct capture_h2 {
	capture_h2_emit		*emit;
	void			*arg;
	int			 broken;
	struct mask_set		 secrets;

	/* The frame being read. */
	unsigned char		 head[CAPTURE_H2_HEAD];
	size_t			 head_len;
	uint32_t		 len;
	uint8_t			 type, flags;
	int32_t			 id;
	size_t			 got;		/* payload bytes read */
	int			 whole;		/* gathered, not passed on */
	struct capture_h2_buf	 frame;

	/* The header block being gathered, from its HEADERS. */
	int			 in_block;
	int32_t			 block_id;
	uint8_t			 block_flags;	/* END_STREAM, PRIORITY */
	unsigned char		 prio[5];
	struct capture_h2_buf	 block;

	struct capture_h2_carry	*carries;
	size_t			 ncarries;
	nghttp2_hd_inflater	*inflater;	/* mirrors the client's */
	nghttp2_hd_deflater	*deflater;	/* the file's */
	struct capture_h2_buf	 names;		/* the decoded fields' bytes */
	struct capture_h2_field	*fields;
	nghttp2_nv		*nva;
	size_t			 nfields, fields_cap;
	struct capture_h2_buf	 work;		/* joined DATA, encoded block */
};

static int
capture_h2_reserve(struct capture_h2_buf *b, size_t need)
{
	unsigned char *p;
	size_t cap = b->cap > 0 ? b->cap : 256;

	if (need <= b->cap)
		return 0;
	while (cap < need)
		cap *= 2;
	if ((p = realloc(b->p, cap)) == NULL)
		return -1;
	b->p = p;
	b->cap = cap;
	return 0;
}

static int
capture_h2_append(struct capture_h2_buf *b, const void *p, size_t n)
{
	if (capture_h2_reserve(b, b->len + n) == -1)
		return -1;
	if (n > 0)
		memcpy(b->p + b->len, p, n);
	b->len += n;
	return 0;
}

/* ---- what the file gets ------------------------------------------------ */

static void
capture_h2_emit_head(struct capture_h2 *h2, size_t len, uint8_t type,
    uint8_t flags, int32_t id)
{
	unsigned char h[CAPTURE_H2_HEAD];

	h[0] = (len >> 16) & 0xff;
	h[1] = (len >> 8) & 0xff;
	h[2] = len & 0xff;
	h[3] = type;
	h[4] = flags;
	h[5] = ((uint32_t)id >> 24) & 0x7f;
	h[6] = (id >> 16) & 0xff;
	h[7] = (id >> 8) & 0xff;
	h[8] = id & 0xff;
	h2->emit(h2->arg, h, sizeof(h));
}

/* len bytes of stream id as DATA frames; end: the last ends the stream. */
static void
capture_h2_emit_data(struct capture_h2 *h2, int32_t id,
    const unsigned char *p, size_t len, int end)
{
	size_t n;

	do {
		n = len < CAPTURE_H2_FRAME ? len : CAPTURE_H2_FRAME;
		capture_h2_emit_head(h2, n, NGHTTP2_DATA, end && n == len ?
		    NGHTTP2_FLAG_END_STREAM : 0, id);
		if (n > 0)
			h2->emit(h2->arg, p, n);
		p += n;
		len -= n;
	} while (len > 0);
}

/* The gathered block's HEADERS, re-encoded as p, and its CONTINUATIONs. */
static void
capture_h2_emit_block(struct capture_h2 *h2, const unsigned char *p,
    size_t len)
{
	size_t plen = h2->block_flags & NGHTTP2_FLAG_PRIORITY ? 5 : 0;
	size_t n = len < CAPTURE_H2_FRAME - plen ? len : CAPTURE_H2_FRAME - plen;

	capture_h2_emit_head(h2, plen + n, NGHTTP2_HEADERS, h2->block_flags |
	    (n == len ? NGHTTP2_FLAG_END_HEADERS : 0), h2->block_id);
	if (plen > 0)
		h2->emit(h2->arg, h2->prio, plen);
	for (;;) {
		h2->emit(h2->arg, p, n);
		p += n;
		len -= n;
		if (len == 0)
			break;
		n = len < CAPTURE_H2_FRAME ? len : CAPTURE_H2_FRAME;
		capture_h2_emit_head(h2, n, NGHTTP2_CONTINUATION, n == len ?
		    NGHTTP2_FLAG_END_HEADERS : 0, h2->block_id);
	}
}

/* ---- DATA, per stream -------------------------------------------------- */

static struct capture_h2_carry **
capture_h2_carry_find(struct capture_h2 *h2, int32_t id)
{
	struct capture_h2_carry **link;

	for (link = &h2->carries; *link != NULL; link = &(*link)->next)
		if ((*link)->id == id)
			break;
	return link;
}

/* Take the carry *link off the list. */
static struct capture_h2_carry *
capture_h2_carry_take(struct capture_h2 *h2, struct capture_h2_carry **link)
{
	struct capture_h2_carry *c = *link;

	*link = c->next;
	h2->ncarries--;
	return c;
}

/* The stream ends: what it held back goes out, no secret can follow. */
static void
capture_h2_carry_out(struct capture_h2 *h2, int32_t id)
{
	struct capture_h2_carry **link = capture_h2_carry_find(h2, id), *c;

	if (*link == NULL)
		return;
	c = capture_h2_carry_take(h2, link);
	(void)mask_window(&h2->secrets, &c->mask, c->data, c->len, 1, 1);
	capture_h2_emit_data(h2, id, c->data, c->len, 0);
	mask_carry_clear(&c->mask);
	free(c);
}

/* Keep p[0..len) for the stream's next DATA, with what mc knows of it. */
static int
capture_h2_hold(struct capture_h2 *h2, const unsigned char *p, size_t len,
    const struct mask_carry *mc)
{
	struct capture_h2_carry *c;

	if (h2->ncarries >= CAPTURE_H2_CARRIES ||
	    (c = malloc(sizeof(*c) + len)) == NULL)
		return -1;
	c->id = h2->id;
	c->mask = *mc;
	c->len = len;
	memcpy(c->data, p, len);
	c->next = h2->carries;
	h2->carries = c;
	h2->ncarries++;
	return 0;
}

/* A DATA frame's payload p (writable), after what its stream held back. */
static int
capture_h2_data(struct capture_h2 *h2, unsigned char *p, size_t len, int end)
{
	struct capture_h2_carry **link = capture_h2_carry_find(h2, h2->id);
	struct capture_h2_carry *c;
	struct mask_carry mc = { 0 };
	size_t ready;

	if (*link != NULL) {
		c = capture_h2_carry_take(h2, link);
		mc = c->mask;
		h2->work.len = 0;
		if (capture_h2_append(&h2->work, c->data, c->len) == -1 ||
		    capture_h2_append(&h2->work, p, len) == -1) {
			mask_carry_clear(&mc);
			free(c);
			return -1;
		}
		free(c);
		p = h2->work.p;
		len = h2->work.len;
	}
	ready = mask_window(&h2->secrets, &mc, p, len, 1, end);
	if (ready < len && capture_h2_hold(h2, p + ready, len - ready,
	    &mc) == -1) {
		/* Nowhere to wait for the rest: star what may begin one. */
		memset(p + ready, '*', len - ready);
		ready = len;
	}
	if (ready == len)
		mask_carry_clear(&mc);	/* else the carry's now */
	if (ready > 0 || end)
		capture_h2_emit_data(h2, h2->id, p, ready, end);
	return 0;
}

/* ---- header blocks ----------------------------------------------------- */

static int
capture_h2_field(struct capture_h2 *h2, const nghttp2_nv *nv)
{
	struct capture_h2_field *f;
	nghttp2_nv *nva;
	size_t cap;

	if (h2->nfields == h2->fields_cap) {
		cap = h2->fields_cap > 0 ? h2->fields_cap * 2 : 32;
		if ((f = realloc(h2->fields, cap * sizeof(*f))) == NULL)
			return -1;
		h2->fields = f;
		if ((nva = realloc(h2->nva, cap * sizeof(*nva))) == NULL)
			return -1;
		h2->nva = nva;
		h2->fields_cap = cap;
	}
	f = &h2->fields[h2->nfields];
	f->name = h2->names.len;
	f->namelen = nv->namelen;
	f->value = h2->names.len + nv->namelen;
	f->valuelen = nv->valuelen;
	f->flags = nv->flags & NGHTTP2_NV_FLAG_NO_INDEX;
	if (capture_h2_append(&h2->names, nv->name, nv->namelen) == -1 ||
	    capture_h2_append(&h2->names, nv->value, nv->valuelen) == -1)
		return -1;
	h2->nfields++;
	return 0;
}

/* The gathered block's fields, as the client decodes them. */
static int
capture_h2_decode(struct capture_h2 *h2)
{
	const unsigned char *in = h2->block.p;
	size_t inlen = h2->block.len;
	nghttp2_nv nv;
	ssize_t n;
	int fl;

	h2->names.len = 0;
	h2->nfields = 0;
	for (;;) {
		fl = 0;
		n = nghttp2_hd_inflate_hd2(h2->inflater, &nv, &fl, in, inlen, 1);
		if (n < 0)
			return -1;
		in += n;
		inlen -= (size_t)n;
		if ((fl & NGHTTP2_HD_INFLATE_EMIT) &&
		    capture_h2_field(h2, &nv) == -1)
			return -1;
		if (fl & NGHTTP2_HD_INFLATE_FINAL) {
			nghttp2_hd_inflate_end_headers(h2->inflater);
			return 0;
		}
		if (!(fl & NGHTTP2_HD_INFLATE_EMIT) && inlen == 0)
			return -1;
	}
}

/* The block is whole: decode, mask, encode for the file, frame. */
static int
capture_h2_block_end(struct capture_h2 *h2)
{
	struct capture_h2_field *f;
	size_t i, bound;
	ssize_t n;

	h2->in_block = 0;
	if (h2->block_flags & NGHTTP2_FLAG_END_STREAM)
		capture_h2_carry_out(h2, h2->block_id);
	if (capture_h2_decode(h2) == -1)
		return -1;
	for (i = 0; i < h2->nfields; i++) {
		f = &h2->fields[i];
		mask_buf(&h2->secrets, h2->names.p + f->name, f->namelen);
		mask_buf(&h2->secrets, h2->names.p + f->value, f->valuelen);
		h2->nva[i].name = h2->names.p + f->name;
		h2->nva[i].namelen = f->namelen;
		h2->nva[i].value = h2->names.p + f->value;
		h2->nva[i].valuelen = f->valuelen;
		h2->nva[i].flags = f->flags;
	}
	bound = nghttp2_hd_deflate_bound(h2->deflater, h2->nva, h2->nfields);
	if (capture_h2_reserve(&h2->work, bound) == -1)
		return -1;
	n = nghttp2_hd_deflate_hd(h2->deflater, h2->work.p, bound, h2->nva,
	    h2->nfields);
	if (n < 0)
		return -1;
	capture_h2_emit_block(h2, h2->work.p, (size_t)n);
	return 0;
}

/* ---- the frame walk ---------------------------------------------------- */

/* The frame's header is read: how its payload is handled. */
static int
capture_h2_frame_begin(struct capture_h2 *h2)
{
	const unsigned char *h = h2->head;

	h2->len = (uint32_t)h[0] << 16 | (uint32_t)h[1] << 8 | h[2];
	h2->type = h[3];
	h2->flags = h[4];
	h2->id = (int32_t)(((uint32_t)h[5] & 0x7f) << 24 |
	    (uint32_t)h[6] << 16 | (uint32_t)h[7] << 8 | h[8]);
	/* RFC 9113 6.10: nothing comes between a block's frames. */
	if (h2->in_block != (h2->type == NGHTTP2_CONTINUATION) ||
	    (h2->in_block && h2->id != h2->block_id))
		return -1;
	switch (h2->type) {
	case NGHTTP2_DATA:
	case NGHTTP2_HEADERS:
	case NGHTTP2_CONTINUATION:
		h2->whole = 1;
		h2->frame.len = 0;
		return capture_h2_reserve(&h2->frame, h2->len);
	case NGHTTP2_PUSH_PROMISE:
		return -1;	/* sluice never pushes: a block not followed */
	case NGHTTP2_RST_STREAM:
		capture_h2_carry_out(h2, h2->id);
		break;
	}
	h2->whole = 0;
	h2->emit(h2->arg, h2->head, CAPTURE_H2_HEAD);
	return 0;
}

/* A gathered frame is whole (DATA, HEADERS, CONTINUATION). */
static int
capture_h2_frame_end(struct capture_h2 *h2)
{
	unsigned char *p = h2->frame.p;
	size_t len = h2->len;

	if (h2->type != NGHTTP2_CONTINUATION &&
	    (h2->flags & NGHTTP2_FLAG_PADDED)) {
		if (len < 1 || p[0] > len - 1)
			return -1;
		len -= 1 + p[0];
		p++;
	}
	switch (h2->type) {
	case NGHTTP2_DATA:
		return capture_h2_data(h2, p, len,
		    h2->flags & NGHTTP2_FLAG_END_STREAM);
	case NGHTTP2_HEADERS:
		h2->in_block = 1;
		h2->block_id = h2->id;
		h2->block_flags = h2->flags & (NGHTTP2_FLAG_END_STREAM |
		    NGHTTP2_FLAG_PRIORITY);
		h2->block.len = 0;
		if (h2->flags & NGHTTP2_FLAG_PRIORITY) {
			if (len < sizeof(h2->prio))
				return -1;
			memcpy(h2->prio, p, sizeof(h2->prio));
			p += sizeof(h2->prio);
			len -= sizeof(h2->prio);
		}
		break;
	}
	if (capture_h2_append(&h2->block, p, len) == -1 ||
	    h2->block.len > CAPTURE_H2_BLOCK_MAX)
		return -1;
	return h2->flags & NGHTTP2_FLAG_END_HEADERS ?
	    capture_h2_block_end(h2) : 0;
}

int
capture_h2_input(struct capture_h2 *h2, const unsigned char *p, size_t n)
{
	size_t take;

	while (!h2->broken && n > 0) {
		if (h2->head_len < CAPTURE_H2_HEAD) {
			take = CAPTURE_H2_HEAD - h2->head_len;
			take = take < n ? take : n;
			memcpy(h2->head + h2->head_len, p, take);
			h2->head_len += take;
			if (h2->head_len == CAPTURE_H2_HEAD &&
			    capture_h2_frame_begin(h2) == -1)
				h2->broken = 1;
		} else {
			take = h2->len - h2->got;
			take = take < n ? take : n;
			if (h2->whole)
				memcpy(h2->frame.p + h2->got, p, take);
			else
				h2->emit(h2->arg, p, take);
			h2->got += take;
		}
		p += take;
		n -= take;
		if (!h2->broken && h2->head_len == CAPTURE_H2_HEAD &&
		    h2->got == h2->len) {
			if (h2->whole && capture_h2_frame_end(h2) == -1)
				h2->broken = 1;
			h2->head_len = 0;
			h2->got = 0;
		}
	}
	return h2->broken ? -1 : 0;
}

void
capture_h2_end(struct capture_h2 *h2)
{
	while (!h2->broken && h2->carries != NULL)
		capture_h2_carry_out(h2, h2->carries->id);
}

void
capture_h2_secret(struct capture_h2 *h2, const char *s, size_t len)
{
	if (mask_set_add(&h2->secrets, s, len) == -1)
		h2->broken = 1;
}

struct capture_h2 *
capture_h2_new(capture_h2_emit *emit, void *arg)
{
	struct capture_h2 *h2;

	if ((h2 = calloc(1, sizeof(*h2))) == NULL)
		return NULL;
	h2->emit = emit;
	h2->arg = arg;
	if (nghttp2_hd_inflate_new(&h2->inflater) != 0 ||
	    nghttp2_hd_inflate_change_table_size(h2->inflater,
	    CAPTURE_H2_PEER_TABLE) != 0 ||
	    nghttp2_hd_deflate_new(&h2->deflater, CAPTURE_H2_TABLE) != 0)
		goto fail;
	return h2;
fail:
	capture_h2_free(h2);
	return NULL;
}

void
capture_h2_free(struct capture_h2 *h2)
{
	struct capture_h2_carry *c;

	if (h2 == NULL)
		return;
	mask_set_clear(&h2->secrets);
	while ((c = h2->carries) != NULL) {
		h2->carries = c->next;
		mask_carry_clear(&c->mask);
		free(c);
	}
	if (h2->inflater != NULL)
		nghttp2_hd_inflate_del(h2->inflater);
	if (h2->deflater != NULL)
		nghttp2_hd_deflate_del(h2->deflater);
	free(h2->frame.p);
	free(h2->block.p);
	free(h2->names.p);
	free(h2->fields);
	free(h2->nva);
	free(h2->work.p);
	free(h2);
}
