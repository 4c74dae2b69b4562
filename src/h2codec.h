/*
 * h2codec.h - HTTP/2 server side (client connections): frames <-> neutral
 * messages (msg.h), on libnghttp2.
 *
 * One codec per client connection.  It reads decrypted bytes from an
 * evbuffer and appends the frames to send to another; it owns no socket,
 * no timer and no event.  Each stream's request head becomes a message,
 * its body data and trailers go to the owner as they come, and the owner
 * answers on the stream with a response message, body bytes and trailers,
 * which the codec frames.  Stream ids are the owner's handle; it may hang
 * its own pointer on a stream (h2codec_stream_set).
 *
 * Backpressure both ways, per stream.  Request data is credited back to
 * the client (WINDOW_UPDATE) only when the owner says it forwarded it
 * (h2codec_consume): a stream nobody reads stops at its window while the
 * others flow.  Response data waits in a bounded buffer per stream; a
 * write that does not fit is cut short and the owner waits for
 * on_writable.
 *
 * The owner's callbacks run from inside h2codec_input() and
 * h2codec_output(); they may call any h2codec_* function but
 * h2codec_input, h2codec_output and h2codec_free.
 */
#ifndef SLUICE_H2CODEC_H
#define SLUICE_H2CODEC_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include "msg.h"

struct evbuffer;
struct h2codec;

/* RFC 9113 7 error codes the owner uses. */
#define H2CODEC_NO_ERROR		0x0
#define H2CODEC_PROTOCOL_ERROR		0x1
#define H2CODEC_INTERNAL_ERROR		0x2
#define H2CODEC_REFUSED_STREAM		0x7
#define H2CODEC_CANCEL			0x8
#define H2CODEC_ENHANCE_YOUR_CALM	0xb

struct h2codec_limits {
	uint32_t	 max_streams;	/* SETTINGS_MAX_CONCURRENT_STREAMS */
	uint32_t	 max_header_list; /* decoded request head, RFC 9113
					   6.5.2 sizes; 431 beyond */
	uint32_t	 stream_window;	/* SETTINGS_INITIAL_WINDOW_SIZE */
	uint32_t	 conn_window;	/* the connection's receive window */
	size_t		 stream_buffer;	/* response bytes held per stream */
	uint32_t	 reset_burst;	/* rapid reset: streams the client may */
	uint32_t	 reset_rate;	/* cancel at once, and per second */
};

/*
 * 100 streams, 64 KiB heads (as HTTP/1), 128 KiB stream and 1 MiB
 * connection windows, 64 KiB of response held per stream, 200 resets at
 * once then 50 per second.
 */
void h2codec_limits_default(struct h2codec_limits *);

struct h2codec_cbs {
	/*
	 * A request head, complete and checked: method, scheme, authority
	 * (:authority, else Host) and path from the pseudo-fields, as sent
	 * (the owner normalises the path); fields lowercase, cookie crumbs
	 * joined with "; ", no Host, TE or Content-Length (trailers_ok and
	 * the body fact say what they said).  An extended CONNECT (RFC 8441)
	 * has m->upgrade set and its :protocol as an "upgrade" field.  The
	 * owner takes req: msg_free() then free().  Heads the codec refuses
	 * never come here: malformed (RST_STREAM PROTOCOL_ERROR, then
	 * on_malformed), over max_header_list (431), a plain CONNECT (405).
	 */
	void	(*on_request)(void *arg, int32_t id, struct msg *req);
	/* Request body bytes; h2codec_consume() once they went on.  None
	   after the owner reset the stream.  Of a body with a declared
	   length, the last byte comes only when the stream ended, just
	   before on_end. */
	void	(*on_data)(void *arg, int32_t id, const uint8_t *p, size_t len);
	/* The request ended, with trailers (in t->trailers, valid during the
	   call) or NULL. */
	void	(*on_end)(void *arg, int32_t id, const struct msg *t);
	/*
	 * The stream is gone: code 0 once both sides ended, else the reset's
	 * code (the client's RST_STREAM, ours, a stream error; a reset
	 * saying NO_ERROR before our response ended comes as CANCEL).
	 * Only for streams on_request or on_refused was called for; the
	 * last callback for id.
	 */
	void	(*on_close)(void *arg, int32_t id, uint32_t code);
	/* The stream's response buffer has room again after a short write. */
	void	(*on_writable)(void *arg, int32_t id);
	/*
	 * A head that is no request to act on, to be answered with status
	 * (431: over max_header_list; 405: a plain CONNECT): the stream is
	 * the owner's as after on_request (data, end and close follow).
	 * NULL: the codec answers with a bare :status itself.
	 */
	void	(*on_refused)(void *arg, int32_t id, int status);
	/*
	 * The codec reset stream id as malformed (RFC 9113 8.1.1) or in
	 * error; why names the rule (a static string, never the client's
	 * bytes).  Before on_close for a stream the owner has; for one whose
	 * head never made a request, the only callback.  NULL: not told.
	 */
	void	(*on_malformed)(void *arg, int32_t id, const char *why);
};

/*
 * A server session (limits NULL: the defaults); our SETTINGS are queued.
 * cbs is copied.  NULL without memory.
 */
struct h2codec *h2codec_new(const struct h2codec_limits *,
    const struct h2codec_cbs *, void *arg);
/*
 * Wipes the response bytes still held (a body may carry secrets).  Calls
 * back nothing: the owner ends its streams' exchanges itself first.
 */
void h2codec_free(struct h2codec *);

/*
 * Consume all of in.  -1: the connection must end (the client broke the
 * protocol past recovery or flooded us): write what h2codec_output()
 * still gives, then close.  A GOAWAY for lesser errors is queued and
 * 0 returned; h2codec_is_done() says when to close.
 */
int h2codec_input(struct h2codec *, struct evbuffer *in);
/* Append frames to out, about room bytes at most; -1 on a fatal error. */
int h2codec_output(struct h2codec *, struct evbuffer *out, size_t room);
int h2codec_want_read(const struct h2codec *);
int h2codec_want_write(const struct h2codec *);
/* Neither: close the connection. */
int h2codec_is_done(const struct h2codec *);

/* The owner's pointer on stream id (NULL: none); -1 if id is not open. */
int h2codec_stream_set(struct h2codec *, int32_t id, void *p);
void *h2codec_stream_get(const struct h2codec *, int32_t id);

/* n request bytes of stream id went on: the client may send as many. */
int h2codec_consume(struct h2codec *, int32_t id, size_t n);

/*
 * The response head (1xx: an interim head, then another).  Fields are
 * written lowercase, never a connection-specific one; Content-Length from
 * the body fact for MSG_BODY_LENGTH, as the message has it for
 * MSG_BODY_NONE (HEAD, 304), not at all for MSG_BODY_UNKNOWN.  With
 * MSG_BODY_NONE the stream's response is complete.  -1 for what HTTP/2
 * cannot carry: a 101, a body with transfer codings (m->codings).
 */
int h2codec_respond(struct h2codec *, int32_t id, const struct msg *resp);
/*
 * Take up to n bytes of src (copied, drained from src) into the stream's
 * response buffer; returns how many it took (fewer: wait for
 * on_writable), -1 on error.
 */
ssize_t h2codec_write(struct h2codec *, int32_t id, struct evbuffer *src,
    size_t n);
/* The response body ends, with m's trailers (those a trailer may be). */
int h2codec_end(struct h2codec *, int32_t id, const struct msg *m);
/* RST_STREAM with code; on_close follows. */
int h2codec_reset(struct h2codec *, int32_t id, uint32_t code);
/* Graceful drain: GOAWAY, no new streams, open ones finish. */
int h2codec_goaway(struct h2codec *);

#endif
