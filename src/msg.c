/*
 * msg.c - the neutral HTTP message and its arena.
 *
 * Owns the memory of one message (msg.h says how it is laid out) and the
 * checks that keep every field writable by any codec.  Does not own wire
 * syntax: parsing and writing bytes is a codec's (h1codec.c).
 *
 * Invariants: every msg_str lies inside buf[0, len); fields.v is either
 * inline_fields or a heap array, trailers.v NULL or a heap array; a field
 * is added only after its bytes are in the arena, so a failed add leaves
 * the message as it was (plus unused arena bytes).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "msg.h"

void
msg_init(struct msg *m, enum msg_kind kind)
{
	/* Not memset: the inline arrays are 2.5 KiB and filled as used. */
	memset(m, 0, offsetof(struct msg, inline_buf));
	m->kind = kind;
	m->buf = m->inline_buf;
	m->cap = sizeof(m->inline_buf);
	m->fields.v = m->inline_fields;
	m->fields.cap = MSG_INLINE_FIELDS;
}

void
msg_free(struct msg *m)
{
	if (m->secret)
		OPENSSL_cleanse(m->buf, m->len);
	if (m->buf != m->inline_buf)
		free(m->buf);
	if (m->fields.v != m->inline_fields)
		free(m->fields.v);
	free(m->trailers.v);
	m->buf = NULL;
	m->fields.v = m->trailers.v = NULL;
	m->len = m->cap = 0;
	m->fields.n = m->fields.cap = m->trailers.n = m->trailers.cap = 0;
	m->secret = 0;
}

void
msg_reset(struct msg *m, enum msg_kind kind)
{
	msg_free(m);
	msg_init(m, kind);
}

int
msg_tchar(unsigned char ch)
{
	if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9'))
		return 1;
	return ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

static int
msg_token_ok(const char *s, size_t len)
{
	size_t i;

	if (len == 0)
		return 0;
	for (i = 0; i < len; i++)
		if (!msg_tchar((unsigned char)s[i]))
			return 0;
	return 1;
}

/* VCHAR, SP, HTAB, obs-text: never CR, LF, NUL or another control. */
static int
msg_value_ok(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char ch = s[i];

		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return 0;
	}
	return 1;
}

/* No controls, no space: a request line or Host piece. */
static int
msg_visible(const char *s, size_t len, const char *also_bad)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char ch = s[i];

		if (ch <= 0x20 || ch == 0x7f || strchr(also_bad, ch) != NULL)
			return 0;
	}
	return 1;
}

int
msg_str_eq(const struct msg *m, struct msg_str s, const char *lit, size_t len)
{
	/* The first byte inline: most fields differ there. */
	return s.len == len && (len == 0 || ((m->buf[s.off] ^ lit[0]) & ~0x20)
	    == 0) && strncasecmp(m->buf + s.off, lit, len) == 0;
}

static int
msg_grow(struct msg *m, size_t need)
{
	size_t cap = m->cap;
	char *nb;

	if (need > MSG_MAX_BYTES)
		return -1;
	while (cap < need)
		cap *= 2;
	if ((nb = malloc(cap)) == NULL)
		return -1;
	memcpy(nb, m->buf, m->len);
	/* The old block may hold a credential already. */
	if (m->secret)
		OPENSSL_cleanse(m->buf, m->len);
	if (m->buf != m->inline_buf)
		free(m->buf);
	m->buf = nb;
	m->cap = cap;
	return 0;
}

int
msg_alloc(struct msg *m, size_t n, struct msg_str *s)
{
	if (m->len + n > m->cap && msg_grow(m, m->len + n) == -1)
		return -1;
	s->off = (uint32_t)m->len;
	s->len = (uint32_t)n;
	m->len += n;
	return 0;
}

int
msg_copy(struct msg *m, const char *p, size_t n, struct msg_str *s)
{
	if (msg_alloc(m, n, s) == -1)
		return -1;
	memcpy(m->buf + s->off, p, n);
	return 0;
}

int
msg_set_request(struct msg *m, const char *method, size_t mlen,
    const char *scheme, size_t slen, const char *authority, size_t alen,
    const char *path, size_t plen)
{
	size_t i;

	if (!msg_token_ok(method, mlen) || slen == 0 ||
	    !msg_visible(authority, alen, "/?#@") || plen == 0 ||
	    (path[0] != '/' && !(plen == 1 && path[0] == '*')) ||
	    !msg_visible(path, plen, "#"))
		return -1;
	for (i = 0; i < slen; i++)
		if (!((scheme[i] | 0x20) >= 'a' && (scheme[i] | 0x20) <= 'z'))
			return -1;
	if (msg_copy(m, method, mlen, &m->method) == -1 ||
	    msg_copy(m, scheme, slen, &m->scheme) == -1 ||
	    msg_copy(m, authority, alen, &m->authority) == -1 ||
	    msg_copy(m, path, plen, &m->path) == -1)
		return -1;
	return 0;
}

int
msg_set_status(struct msg *m, int status, const char *reason, size_t rlen)
{
	if (status < 100 || status > 999 || !msg_value_ok(reason, rlen))
		return -1;
	m->status = status;
	return msg_copy(m, reason, rlen, &m->reason);
}

void
msg_set_body(struct msg *m, enum msg_body body, uint64_t length)
{
	m->body = body;
	m->length = body == MSG_BODY_LENGTH ? length : 0;
}

static int
msg_push(struct msg_fields *fs, struct msg_field *inline_v,
    struct msg_str name, struct msg_str value)
{
	struct msg_field *nv;
	uint32_t cap;

	if (fs->n == fs->cap) {
		cap = fs->cap ? fs->cap * 2 : 8;
		if ((nv = malloc(cap * sizeof(*nv))) == NULL)
			return -1;
		if (fs->n > 0)
			memcpy(nv, fs->v, fs->n * sizeof(*nv));
		if (fs->v != inline_v)
			free(fs->v);
		fs->v = nv;
		fs->cap = cap;
	}
	fs->v[fs->n].name = name;
	fs->v[fs->n].value = value;
	fs->n++;
	return 0;
}

int
msg_add_raw(struct msg *m, struct msg_str name, struct msg_str value)
{
	return msg_push(&m->fields, m->inline_fields, name, value);
}

/* A checked field's bytes, copied into the arena. */
static int
msg_field_copy(struct msg *m, const char *name, size_t nlen,
    const char *value, size_t vlen, struct msg_str *n, struct msg_str *v)
{
	if (!msg_token_ok(name, nlen) || !msg_value_ok(value, vlen))
		return -1;
	if (msg_copy(m, name, nlen, n) == -1 ||
	    msg_copy(m, value, vlen, v) == -1)
		return -1;
	return 0;
}

int
msg_add(struct msg *m, const char *name, size_t nlen, const char *value,
    size_t vlen)
{
	struct msg_str n, v;

	if (msg_field_copy(m, name, nlen, value, vlen, &n, &v) == -1)
		return -1;
	return msg_push(&m->fields, m->inline_fields, n, v);
}

int
msg_add_trailer(struct msg *m, const char *name, size_t nlen,
    const char *value, size_t vlen)
{
	struct msg_str n, v;

	if (msg_field_copy(m, name, nlen, value, vlen, &n, &v) == -1)
		return -1;
	return msg_push(&m->trailers, NULL, n, v);
}

int
msg_remove(struct msg *m, const char *name, size_t nlen)
{
	struct msg_fields *fs = &m->fields;
	uint32_t i, kept = 0;

	for (i = 0; i < fs->n; i++)
		if (!msg_str_eq(m, fs->v[i].name, name, nlen))
			fs->v[kept++] = fs->v[i];
	fs->n = kept;
	return 0;
}

int
msg_set(struct msg *m, const char *name, size_t nlen, const char *value,
    size_t vlen)
{
	struct msg_str n, v;

	/* Checked and copied first: a refused value leaves the old fields. */
	if (msg_field_copy(m, name, nlen, value, vlen, &n, &v) == -1)
		return -1;
	msg_remove(m, name, nlen);
	return msg_push(&m->fields, m->inline_fields, n, v);
}

int
msg_set_value(struct msg *m, struct msg_fields *fs, size_t i,
    const char *value, size_t vlen)
{
	struct msg_str v;

	if (i >= fs->n || !msg_value_ok(value, vlen) ||
	    msg_copy(m, value, vlen, &v) == -1)
		return -1;
	fs->v[i].value = v;
	return 0;
}

const struct msg_field *
msg_find(const struct msg *m, const char *name, size_t nlen)
{
	size_t i = 0;
	const struct msg_field *f;

	return msg_next(m, name, nlen, &i, &f) == 0 ? f : NULL;
}

int
msg_next(const struct msg *m, const char *name, size_t nlen, size_t *i,
    const struct msg_field **f)
{
	for (; *i < m->fields.n; (*i)++) {
		if (name == NULL ||
		    msg_str_eq(m, m->fields.v[*i].name, name, nlen)) {
			*f = &m->fields.v[(*i)++];
			return 0;
		}
	}
	return -1;
}

/*
 * One list of src copied to dst's (the arenas match), in one block: into
 * the inline array when it fits, else onto the heap.
 */
static int
msg_clone_fields(struct msg_fields *dst, struct msg_field *inline_v,
    const struct msg_fields *src)
{
	if (src->n == 0)
		return 0;
	if (inline_v == NULL || src->n > MSG_INLINE_FIELDS) {
		if ((dst->v = malloc(src->n * sizeof(*dst->v))) == NULL)
			return -1;
		dst->cap = src->n;
	}
	memcpy(dst->v, src->v, src->n * sizeof(*dst->v));
	dst->n = src->n;
	return 0;
}

/*
 * The scalars and msg_strs of src, with empty arrays of dst's own: not
 * the inline arrays, which are most of the struct and mostly unused.
 */
static void
msg_copy_head(struct msg *dst, const struct msg *src)
{
	memcpy(dst, src, offsetof(struct msg, inline_buf));
	dst->buf = dst->inline_buf;
	dst->cap = sizeof(dst->inline_buf);
	dst->len = 0;
	dst->fields = (struct msg_fields){ dst->inline_fields, 0,
	    MSG_INLINE_FIELDS };
	dst->trailers = (struct msg_fields){ NULL, 0, 0 };
}

int
msg_clone(struct msg *dst, const struct msg *src)
{
	msg_copy_head(dst, src);
	if (src->len > dst->cap && msg_grow(dst, src->len) == -1)
		goto fail;
	if (src->len > 0)
		memcpy(dst->buf, src->buf, src->len);
	dst->len = src->len;
	if (msg_clone_fields(&dst->fields, dst->inline_fields, &src->fields) ==
	    -1 || msg_clone_fields(&dst->trailers, NULL, &src->trailers) == -1)
		goto fail;
	return 0;
fail:
	msg_free(dst);
	return -1;
}

void
msg_move(struct msg *dst, struct msg *src)
{
	msg_copy_head(dst, src);
	dst->len = src->len;
	dst->trailers = src->trailers;
	if (src->buf != src->inline_buf) {
		dst->buf = src->buf;
		dst->cap = src->cap;
	} else {
		memcpy(dst->buf, src->buf, src->len);
		/* what stays behind in src is freed with it: wiped now */
		if (src->secret)
			OPENSSL_cleanse(src->buf, src->len);
	}
	if (src->fields.v != src->inline_fields)
		dst->fields = src->fields;
	else
		memcpy(dst->fields.v, src->fields.v,
		    src->fields.n * sizeof(*dst->fields.v));
	dst->fields.n = src->fields.n;
	msg_init(src, src->kind);
}
