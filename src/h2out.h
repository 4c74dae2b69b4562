/*
 * h2out.h - a stream's outgoing body on an HTTP/2 session, for both
 * codecs: the response body in h2codec.c, the request body in h2client.c.
 *
 * The owner's bytes wait in a bounded buffer until nghttp2 frames them
 * (within the peer's flow-control window); trailers, if any, follow the
 * last byte.  A write that does not fit is cut short and marks the body
 * blocked, until h2out_writable() says there is room again.
 */
#ifndef SLUICE_H2OUT_H
#define SLUICE_H2OUT_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include <nghttp2/nghttp2.h>

#include "h2nv.h"
#include "msg.h"

struct evbuffer;

struct h2out {
	struct evbuffer	*buf;		/* body bytes not yet framed */
	struct h2nv	 tnv;		/* trailers sent at the body's end */
	size_t		 cap;		/* bytes held at most */
	int		 end;		/* the body's end came */
	int		 deferred;	/* nghttp2 waits for resume_data */
	int		 blocked;	/* a write was cut short */
};

/* An empty body holding cap bytes at most; -1 without memory. */
int h2out_init(struct h2out *, size_t cap);
/* Wipes the bytes still held (a body may carry secrets). */
void h2out_free(struct h2out *);

/*
 * The read callback of a data provider whose source.ptr is the stream's
 * struct h2out: up to len bytes into buf, EOF (and the trailers
 * submitted) at the end, NGHTTP2_ERR_DEFERRED while the owner has given
 * nothing more.
 */
ssize_t h2out_source(nghttp2_session *, int32_t id, uint8_t *buf,
    size_t len, uint32_t *flags, nghttp2_data_source *, void *arg);
/* Take up to n bytes of src (copied); how many, -1 on error. */
ssize_t h2out_write(struct h2out *, nghttp2_session *, int32_t id,
    struct evbuffer *src, size_t n);
/* The body ends, with m's trailers (m NULL: none); -1 on error. */
int h2out_end(struct h2out *, nghttp2_session *, int32_t id,
    const struct msg *m);
/* Was a write cut short, and is there room now?  Clears the mark. */
int h2out_writable(struct h2out *);

#endif
