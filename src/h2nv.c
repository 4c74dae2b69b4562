/*
 * h2nv.c - messages as HTTP/2 field lists, for both HTTP/2 codecs.
 *
 * Owns the one place where a neutral message becomes nghttp2 pairs: which
 * fields a stream may carry, the pseudo-fields, framing from the body
 * fact (never copied from what came in), and the never-indexed flag on
 * secrets.  Does not own sessions or streams: h2codec.c and h2client.c.
 *
 * Invariant: the pairs point into the allocation that holds them, so they
 * outlive the message (trailers wait for the body's end), and that
 * allocation is wiped before it is freed.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "h1codec.h"
#include "h2nv.h"
#include "msg.h"

/* Pairs a head may get besides its fields: four pseudo-fields, TE and
   Content-Length for a request. */
#define H2NV_EXTRA	6

int
h2nv_field_ok(const char *n, size_t len)
{
	/* lengths kept with the names: this runs for every field both ways */
	static const struct {
		const char	*name;
		size_t		 len;
	} no[] = {
		{ "connection", 10 }, { "keep-alive", 10 },
		{ "transfer-encoding", 17 }, { "upgrade", 7 }, { "te", 2 },
		{ "host", 4 },
	};
	size_t i;

	if (len > 6 && strncasecmp(n, "proxy-", 6) == 0)
		return 0;
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (no[i].len == len && strncasecmp(n, no[i].name, len) == 0)
			return 0;
	return 1;
}

/*
 * v in decimal at buf (room for 20 digits), its length: snprintf's
 * format parsing cost more than the rest of a response head's pairs.
 */
static size_t
h2nv_decimal(char *buf, uint64_t v)
{
	char rev[20];
	size_t n = 0, i;

	do {
		rev[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	for (i = 0; i < n; i++)
		buf[i] = rev[n - 1 - i];
	return n;
}

/* Should f be written in m's part? */
static int
h2nv_keep(const struct msg *m, const struct msg_field *f,
    enum h2nv_part part)
{
	const char *n = msg_ptr(m, f->name);
	size_t len = f->name.len;

	if (part == H2NV_TRAILERS)
		return h1codec_trailer_ok(n, len);
	if (!h2nv_field_ok(n, len))
		return 0;
	/* framing is the body fact's; without a body it describes */
	if (len == 14 && strncasecmp(n, "content-length", 14) == 0)
		return m->kind == MSG_RESPONSE && m->body == MSG_BODY_NONE;
	return 1;
}

/* Is a field named n[0..len) a secret whatever the message? */
static int
h2nv_secret(const char *n, size_t len)
{
	return (len == 13 && strncasecmp(n, "authorization", 13) == 0) ||
	    (len == 6 && strncasecmp(n, "cookie", 6) == 0);
}

/* Append a pair, both copied to *mem (see h2nv.h on the case). */
static void
h2nv_add(struct h2nv *nv, char **mem, const char *name, size_t nlen,
    const char *value, size_t vlen, int secret)
{
	nghttp2_nv *e = &nv->nv[nv->n++];

	memcpy(*mem, name, nlen);
	memcpy(*mem + nlen, value, vlen);
	e->name = (uint8_t *)*mem;
	e->namelen = nlen;
	e->value = (uint8_t *)*mem + nlen;
	e->valuelen = vlen;
	e->flags = secret || h2nv_secret(name, nlen) ?
	    NGHTTP2_NV_FLAG_NO_INDEX : NGHTTP2_NV_FLAG_NONE;
	*mem += nlen + vlen;
}

/* The pseudo-fields and TE of a request. */
static void
h2nv_request(struct h2nv *nv, char **mem, const struct msg *m)
{
	h2nv_add(nv, mem, ":method", 7, msg_ptr(m, m->method), m->method.len,
	    0);
	h2nv_add(nv, mem, ":scheme", 7, "https", 5, 0);
	h2nv_add(nv, mem, ":authority", 10, msg_ptr(m, m->authority),
	    m->authority.len, 0);
	h2nv_add(nv, mem, ":path", 5, msg_ptr(m, m->path), m->path.len, 0);
	if (m->trailers_ok)
		h2nv_add(nv, mem, "te", 2, "trailers", 8, 0);
}

int
h2nv_build(struct h2nv *nv, const struct msg *m, enum h2nv_part part)
{
	const struct msg_fields *fs = part == H2NV_TRAILERS ? &m->trailers :
	    &m->fields;
	const struct msg_field *f;
	char num[24], *mem;
	size_t i, len, size = sizeof(num) * 2 + 64;

	size += m->method.len + m->authority.len + m->path.len;
	for (i = 0; i < fs->n; i++)
		size += fs->v[i].name.len + fs->v[i].value.len;
	nv->n = 0;
	nv->size = (fs->n + H2NV_EXTRA) * sizeof(nghttp2_nv) + size;
	if ((nv->nv = malloc(nv->size)) == NULL)
		return -1;
	mem = (char *)(nv->nv + fs->n + H2NV_EXTRA);
	if (part == H2NV_REQUEST)
		h2nv_request(nv, &mem, m);
	if (part == H2NV_RESPONSE) {
		len = h2nv_decimal(num, (uint64_t)m->status);
		h2nv_add(nv, &mem, ":status", 7, num, len, 0);
	}
	for (i = 0; i < fs->n; i++) {
		f = &fs->v[i];
		if (h2nv_keep(m, f, part))
			h2nv_add(nv, &mem, msg_ptr(m, f->name), f->name.len,
			    msg_ptr(m, f->value), f->value.len, m->secret);
	}
	if (part != H2NV_TRAILERS && m->body == MSG_BODY_LENGTH) {
		len = h2nv_decimal(num, m->length);
		h2nv_add(nv, &mem, "content-length", 14, num, len, 0);
	}
	return 0;
}

void
h2nv_free(struct h2nv *nv)
{
	if (nv->nv != NULL)
		explicit_bzero(nv->nv, nv->size);
	free(nv->nv);
	nv->nv = NULL;
	nv->n = 0;
	nv->size = 0;
}

uint64_t
h2nv_length(const uint8_t *v, size_t len)
{
	uint64_t n = 0;
	size_t i;

	for (i = 0; i < len; i++)
		n = n * 10 + (v[i] - '0');
	return n;
}

struct msg *
h2nv_msg_new(enum msg_kind kind)
{
	struct msg *m;

	if ((m = malloc(sizeof(*m))) == NULL)
		return NULL;
	msg_init(m, kind);
	return m;
}

void
h2nv_msg_free(struct msg *m)
{
	if (m == NULL)
		return;
	msg_free(m);
	free(m);
}
