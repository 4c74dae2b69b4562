/*
 * h2nv.h - what the two HTTP/2 codecs (h2codec.c, the server side;
 * h2client.c, the client side) share: a message written as nghttp2
 * name/value pairs, and the field rules of RFC 9113 8.2.
 */
#ifndef SLUICE_H2NV_H
#define SLUICE_H2NV_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <nghttp2/nghttp2.h>

#include "msg.h"

/* Per field in a header list's size (RFC 9113 6.5.2). */
#define H2NV_FIELD_COST		32

/* Name/value pairs built from a message, with the bytes they point to. */
struct h2nv {
	nghttp2_nv	*nv;
	size_t		 n;
	size_t		 size;		/* bytes allocated, wiped when freed */
};

enum h2nv_part {
	H2NV_REQUEST,	/* :method :scheme :authority :path, fields */
	H2NV_RESPONSE,	/* :status, fields */
	H2NV_TRAILERS,	/* m->trailers, those a trailer may be */
};

/* Is s[0..len) exactly lit?  Inline: strlen(lit) folds to a constant. */
static inline int
h2nv_is(const uint8_t *s, size_t len, const char *lit)
{
	return len == strlen(lit) && memcmp(s, lit, len) == 0;
}

/*
 * May a field named n[0..len) be written on a stream?  Not a
 * connection-specific one (RFC 9113 8.2.2), Host or Proxy-*; any case.
 */
int h2nv_field_ok(const char *n, size_t len);

/*
 * The part of m as pairs in one allocation, for nghttp2's submit
 * functions (which copy and lowercase the names).  Fields as the message
 * has them but never a connection-specific one; Content-Length from the
 * body fact (MSG_BODY_LENGTH), kept as the message has it only on a
 * response without a body (HEAD, 304); a request's TE only as
 * "trailers", from m->trailers_ok; trailers filtered by
 * h1codec_trailer_ok().  A request goes as :scheme https.  Fields of a
 * message holding a credential (and Authorization and Cookie always) are
 * marked never to be indexed (RFC 7541 7.1.3): the HPACK table of a
 * connection shared by many clients keeps no secret.
 */
int h2nv_build(struct h2nv *, const struct msg *m, enum h2nv_part);
/* Wipes the bytes (a request's may be a credential) and frees them. */
void h2nv_free(struct h2nv *);

/* A content-length value nghttp2 has checked to be digits. */
uint64_t h2nv_length(const uint8_t *v, size_t len);

/* A message on the heap (NULL without memory), and its free. */
struct msg *h2nv_msg_new(enum msg_kind);
void h2nv_msg_free(struct msg *);

#endif
