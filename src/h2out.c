/*
 * h2out.c - a stream's outgoing body, between its owner's writes and
 * nghttp2's DATA frames (both HTTP/2 codecs).
 *
 * Owns the bounded buffer, the trailers kept for the end, and the dance
 * with nghttp2's deferred data source: when the buffer runs dry before
 * the end, the read callback defers, and the next write or the end
 * resumes it.  Invariants: the buffer never holds more than cap bytes
 * after a write; the trailers are submitted once, with the last DATA
 * frame, which then does not end the stream.
 */
#include <event2/buffer.h>

#include "h2out.h"
#include "util.h"

int
h2out_init(struct h2out *o, size_t cap)
{
	o->tnv.nv = NULL;
	o->tnv.n = 0;
	o->tnv.size = 0;
	o->cap = cap;
	o->end = o->deferred = o->blocked = 0;
	return (o->buf = evbuffer_new()) == NULL ? -1 : 0;
}

void
h2out_free(struct h2out *o)
{
	if (o->buf != NULL)
		util_evbuffer_wipe_free(o->buf);
	o->buf = NULL;
	h2nv_free(&o->tnv);
}

ssize_t
h2out_source(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len,
    uint32_t *flags, nghttp2_data_source *src, void *arg)
{
	struct h2out *o = src->ptr;
	size_t have = evbuffer_get_length(o->buf);

	(void)arg;
	if (len > have)
		len = have;
	if (len > 0 && evbuffer_remove(o->buf, buf, len) != (int)len)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	if (o->end && len == have) {
		*flags |= NGHTTP2_DATA_FLAG_EOF;
		if (o->tnv.n > 0) {
			if (nghttp2_submit_trailer(s, id, o->tnv.nv,
			    o->tnv.n) != 0)
				return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
			*flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
		}
		return len;
	}
	if (len == 0) {
		o->deferred = 1;
		return NGHTTP2_ERR_DEFERRED;
	}
	return len;
}

/* nghttp2 waits for bytes or the end: they came. */
static int
h2out_resume(struct h2out *o, nghttp2_session *s, int32_t id)
{
	if (!o->deferred)
		return 0;
	o->deferred = 0;
	return nghttp2_session_resume_data(s, id) == 0 ? 0 : -1;
}

/*
 * Copied, not moved: src may hold memory by reference (a cache entry's
 * body), which the wipe at the stream's end must not overwrite.
 */
static int
h2out_copy(struct evbuffer *dst, struct evbuffer *src, size_t n)
{
	struct evbuffer_iovec v;

	if (evbuffer_reserve_space(dst, n, &v, 1) != 1 ||
	    evbuffer_remove(src, v.iov_base, n) != (int)n)
		return -1;
	v.iov_len = n;
	return evbuffer_commit_space(dst, &v, 1);
}

ssize_t
h2out_write(struct h2out *o, nghttp2_session *s, int32_t id,
    struct evbuffer *src, size_t n)
{
	size_t have, take;

	if (o->end)
		return -1;
	have = evbuffer_get_length(o->buf);
	take = have < o->cap ? o->cap - have : 0;
	if (take > n)
		take = n;
	if (take < n)
		o->blocked = 1;
	if (take > 0 && (h2out_copy(o->buf, src, take) == -1 ||
	    h2out_resume(o, s, id) == -1))
		return -1;
	return take;
}

int
h2out_end(struct h2out *o, nghttp2_session *s, int32_t id,
    const struct msg *m)
{
	if (o->end)
		return -1;
	if (m != NULL && m->trailers.n > 0 &&
	    h2nv_build(&o->tnv, m, H2NV_TRAILERS) == -1)
		return -1;
	o->end = 1;
	return h2out_resume(o, s, id);
}

int
h2out_writable(struct h2out *o)
{
	if (!o->blocked || evbuffer_get_length(o->buf) >= o->cap)
		return 0;
	o->blocked = 0;
	return 1;
}
