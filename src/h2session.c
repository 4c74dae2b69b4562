/*
 * h2session.c - the nghttp2 session handling both HTTP/2 codecs share.
 *
 * Owns the bounds every session of ours runs with, the moves between
 * evbuffers and nghttp2's memory interface, and which reason names a
 * stream nghttp2 found malformed.  Does not own streams, messages or
 * callbacks: each codec keeps its own.
 */
#include <event2/buffer.h>

#include "h2session.h"

#define H2SESSION_MAX_ACK	1000	/* SETTINGS/PING acks queued */
#define H2SESSION_MAX_SETTINGS	32	/* entries in one SETTINGS frame */
#define H2SESSION_MAX_CONT	8	/* CONTINUATION frames per head */
#define H2SESSION_DEFLATE_TABLE	4096	/* our HPACK encoder's table */

void
h2session_options(nghttp2_option *opt)
{
	nghttp2_option_set_no_auto_window_update(opt, 1);
	nghttp2_option_set_max_outbound_ack(opt, H2SESSION_MAX_ACK);
	nghttp2_option_set_max_settings(opt, H2SESSION_MAX_SETTINGS);
	nghttp2_option_set_max_continuations(opt, H2SESSION_MAX_CONT);
	nghttp2_option_set_max_deflate_dynamic_table_size(opt,
	    H2SESSION_DEFLATE_TABLE);
}

int
h2session_recv(nghttp2_session *s, struct evbuffer *in)
{
	size_t len;
	ssize_t n;
	unsigned char *p;

	while ((len = evbuffer_get_contiguous_space(in)) > 0) {
		p = evbuffer_pullup(in, len);
		n = nghttp2_session_mem_recv(s, p, len);
		if (n < 0)
			goto fail;
		evbuffer_drain(in, n);
	}
	return 0;
fail:
	(void)nghttp2_session_terminate_session(s,
	    n == NGHTTP2_ERR_FLOODED ? NGHTTP2_ENHANCE_YOUR_CALM :
	    NGHTTP2_PROTOCOL_ERROR);
	evbuffer_drain(in, evbuffer_get_length(in));
	return -1;
}

int
h2session_send(nghttp2_session *s, struct evbuffer *out, size_t room)
{
	const uint8_t *p;
	ssize_t n;
	size_t done = 0;

	while (done < room) {
		if ((n = nghttp2_session_mem_send(s, &p)) < 0)
			return -1;
		if (n == 0)
			break;
		if (evbuffer_add(out, p, n) == -1)
			return -1;
		done += n;
	}
	return 0;
}

int
h2session_credit(nghttp2_session *s, int32_t id, size_t len, int owned)
{
	if (nghttp2_session_consume_connection(s, len) != 0)
		return -1;
	if (!owned && nghttp2_session_consume_stream(s, id, len) != 0)
		return -1;
	return 0;
}

const char *
h2session_invalid_why(int lib_error, const char *const why[3])
{
	switch (lib_error) {
	case NGHTTP2_ERR_HTTP_HEADER:
		return why[0];
	case NGHTTP2_ERR_HTTP_MESSAGING:
		return why[1];
	default:
		return why[2];
	}
}
