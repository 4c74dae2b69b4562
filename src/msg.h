/*
 * msg.h - the neutral HTTP message: what policy, injection, the cache and
 * the audit see, whichever protocol carried it.
 *
 * A message is a request (method, scheme, authority, path) or a response
 * (status, and a reason phrase that only HTTP/1 has), a list of fields, the
 * framing of its body as a fact (none, a known length, or unknown), and
 * trailers.  It holds no wire framing: a codec (h1codec.c, later an HTTP/2
 * one) builds a message from what it parsed and writes its own framing
 * from the message, never from the bytes it received.
 *
 * Memory: one arena per message.  Every string lives in m->buf, a single
 * buffer that starts inside the struct (MSG_INLINE_BYTES) and grows on the
 * heap only for large heads; fields are offsets into it, in an array that
 * also starts inline.  A typical request costs no malloc at all, and a
 * struct msg must not be copied or moved while it is in use (buf may point
 * into it).  Pointers from msg_ptr() are valid until the next call that
 * adds to the message.
 *
 * Field names keep the case they arrived in (an HTTP/1 peer sees its
 * spelling forwarded) and are compared case-insensitively.  An HTTP/2
 * codec lowercases them when it writes (RFC 9113 8.2.1); names it reads
 * are lowercase already.  Duplicates are kept, in order.
 *
 * Invariant: every name is a token and no value holds CR, LF, NUL or
 * another control byte but HTAB: msg_add() refuses them, so no writer can
 * put a line break (or an obs-fold) into a head.  msg_add_raw() is for a
 * codec whose parser already checked the bytes it imports.
 */
#ifndef SLUICE_MSG_H
#define SLUICE_MSG_H

#include <stddef.h>
#include <stdint.h>

#define MSG_INLINE_BYTES	2048
#define MSG_INLINE_FIELDS	32
#define MSG_MAX_BYTES		(1024 * 1024)	/* arena bound: -1 beyond */

/* Bytes in the arena: m->buf[off, off + len). */
struct msg_str {
	uint32_t	 off;
	uint32_t	 len;
};

struct msg_field {
	struct msg_str	 name;
	struct msg_str	 value;
};

struct msg_fields {
	struct msg_field *v;
	uint32_t	 n;
	uint32_t	 cap;
};

enum msg_kind {
	MSG_REQUEST = 0,
	MSG_RESPONSE,
};

enum msg_body {
	MSG_BODY_NONE = 0,	/* no body; a response's Content-Length, if any,
				   describes the representation (HEAD, 304) */
	MSG_BODY_LENGTH,	/* exactly m->length bytes (0 included) */
	MSG_BODY_UNKNOWN,	/* ends when its sender says so */
};

struct msg {
	enum msg_kind	 kind;
	/* requests */
	struct msg_str	 method;
	struct msg_str	 scheme;	/* "https" */
	struct msg_str	 authority;	/* host[:port], sent as Host */
	struct msg_str	 path;		/* normalised, with query */
	/* responses */
	int		 status;
	struct msg_str	 reason;	/* HTTP/1 only; empty from HTTP/2 */

	struct msg_fields fields;
	struct msg_fields trailers;
	enum msg_body	 body;
	uint64_t	 length;	/* MSG_BODY_LENGTH */
	/*
	 * Transfer codings applied to the body besides chunked ("gzip"),
	 * HTTP/1 responses only: the body is forwarded as coded, so the next
	 * hop must be told.  HTTP/2 cannot carry them.
	 */
	struct msg_str	 codings;
	int		 upgrade;	/* asks for / switches to the Upgrade
					   field's protocol */
	int		 trailers_ok;	/* the client accepts trailers (TE) */
	int		 secret;	/* a credential is in buf: wiped */

	char		*buf;
	size_t		 len;
	size_t		 cap;
	char		 inline_buf[MSG_INLINE_BYTES];
	struct msg_field inline_fields[MSG_INLINE_FIELDS];
};

void msg_init(struct msg *m, enum msg_kind kind);
/* Frees what grew on the heap; wipes the arena first if m->secret. */
void msg_free(struct msg *m);
/* msg_free() then msg_init(): ready for the next message. */
void msg_reset(struct msg *m, enum msg_kind kind);
/*
 * dst (uninitialised) becomes a copy of src that owns its own arena: what
 * a request's injection works on, so the exchange's message never holds
 * a credential.  -1 (dst freed) without memory.
 */
int msg_clone(struct msg *dst, const struct msg *src);
/*
 * dst (uninitialised) takes src's message: the heap parts change owner,
 * the inline ones are copied (only the bytes in use).  src is left empty,
 * as msg_init() leaves it, its inline arena wiped if it held a secret.
 * Cheaper than msg_clone() when src is not needed any more.
 */
void msg_move(struct msg *dst, struct msg *src);

/* The bytes of s (not NUL-terminated), valid until the message grows. */
static inline const char *
msg_ptr(const struct msg *m, struct msg_str s)
{
	return m->buf + s.off;
}

/* Is s the same as lit[0..len), case-insensitively? */
int msg_str_eq(const struct msg *m, struct msg_str s, const char *lit,
    size_t len);

/* Room for n bytes in the arena, at *s (s->len = n); -1 past MSG_MAX_BYTES. */
int msg_alloc(struct msg *m, size_t n, struct msg_str *s);
/* Copy p[0..n) into the arena. */
int msg_copy(struct msg *m, const char *p, size_t n, struct msg_str *s);

/*
 * The request's pseudo-fields, checked: method a token, scheme letters,
 * authority without controls, space, '/', '?', '#' or '@', path starting
 * with '/' (or "*") without controls or space.
 */
int msg_set_request(struct msg *m, const char *method, size_t mlen,
    const char *scheme, size_t slen, const char *authority, size_t alen,
    const char *path, size_t plen);
/* A response's status (100-999) and reason (no controls but HTAB). */
int msg_set_status(struct msg *m, int status, const char *reason,
    size_t rlen);
/* The body's framing: MSG_BODY_LENGTH takes length, the others ignore it. */
void msg_set_body(struct msg *m, enum msg_body body, uint64_t length);

/* Append a field, checked (see the invariant above). */
int msg_add(struct msg *m, const char *name, size_t nlen, const char *value,
    size_t vlen);
/* Append a field whose bytes are in the arena already and were checked. */
int msg_add_raw(struct msg *m, struct msg_str name, struct msg_str value);
/* Remove every field named name (none is not an error). */
int msg_remove(struct msg *m, const char *name, size_t nlen);
/* Replace every field named name by one, appended at the end. */
int msg_set(struct msg *m, const char *name, size_t nlen, const char *value,
    size_t vlen);
/*
 * The value of field i of fs (m->fields or m->trailers) replaced, checked
 * as msg_add().
 */
int msg_set_value(struct msg *m, struct msg_fields *fs, size_t i,
    const char *value, size_t vlen);
/* The first field named name, or NULL. */
const struct msg_field *msg_find(const struct msg *m, const char *name,
    size_t nlen);
/*
 * Iterate: *i starts at 0; 0 and *f set to the next field named name (every
 * field when name is NULL), -1 when there is none left.
 */
int msg_next(const struct msg *m, const char *name, size_t nlen, size_t *i,
    const struct msg_field **f);

/* Append a trailer field, checked as msg_add(). */
int msg_add_trailer(struct msg *m, const char *name, size_t nlen,
    const char *value, size_t vlen);

/* The arena now holds a credential: wipe it when freed or reset. */
static inline void
msg_hold_secret(struct msg *m)
{
	m->secret = 1;
}

/* Is ch allowed in a token (RFC 9110 5.6.2)? */
int msg_tchar(unsigned char ch);

#endif
