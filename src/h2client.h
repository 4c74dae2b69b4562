/*
 * h2client.h - HTTP/2 client side (upstream connections): neutral
 * messages (msg.h) <-> frames, on libnghttp2.  The pair of h2codec.h.
 *
 * One session per upstream connection that negotiated h2.  It reads
 * decrypted bytes from an evbuffer and appends the frames to send to
 * another; it owns no socket, no timer and no event.  The owner opens a
 * stream per request (h2client_request), writes its body and trailers,
 * and hears the response head, its data and trailers, and the stream's
 * close.  Stream ids are the owner's handle; it may hang its own pointer
 * on a stream (h2client_stream_set).
 *
 * Backpressure both ways, per stream.  Response data is credited back to
 * the server (WINDOW_UPDATE) only when the owner says it forwarded it
 * (h2client_consume): a stream nobody reads stops at its window while the
 * others flow.  Request data waits in a bounded buffer per stream; a
 * write that does not fit is cut short and the owner waits for
 * on_writable.
 *
 * Capacity: a stream opens only while h2client_can_open() says so (the
 * server's SETTINGS_MAX_CONCURRENT_STREAMS and ours, no GOAWAY, ids left),
 * so nghttp2 never queues a request.  A stream the server refused before
 * processing it (above a GOAWAY's last stream id, or REFUSED_STREAM)
 * closes with H2CLIENT_REFUSED_STREAM: safe to send again elsewhere.
 *
 * The owner's callbacks run from inside h2client_input() and
 * h2client_output(); they may call any h2client_* function but
 * h2client_input, h2client_output and h2client_free.
 */
#ifndef SLUICE_H2CLIENT_H
#define SLUICE_H2CLIENT_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include "msg.h"

struct evbuffer;
struct h2client;

/* RFC 9113 7 error codes the owner uses. */
#define H2CLIENT_NO_ERROR		0x0
#define H2CLIENT_PROTOCOL_ERROR		0x1
#define H2CLIENT_INTERNAL_ERROR		0x2
#define H2CLIENT_REFUSED_STREAM		0x7
#define H2CLIENT_CANCEL			0x8
#define H2CLIENT_ENHANCE_YOUR_CALM	0xb

struct h2client_limits {
	uint32_t	 max_streams;	/* ours, whatever the server allows */
	uint32_t	 max_header_list; /* decoded response head, RFC 9113
					   6.5.2 sizes; a reset beyond */
	uint32_t	 stream_window;	/* SETTINGS_INITIAL_WINDOW_SIZE */
	uint32_t	 conn_window;	/* the connection's receive window */
	size_t		 stream_buffer;	/* request bytes held per stream */
};

/*
 * 100 streams, 64 KiB heads (as HTTP/1), 128 KiB stream and 1 MiB
 * connection windows, 64 KiB of request held per stream: as h2codec's.
 */
void h2client_limits_default(struct h2client_limits *);

struct h2client_cbs {
	/*
	 * A response head, complete and checked (RFC 9113 8.3.2: :status
	 * only, no connection-specific field, nghttp2's checks then msg.c's):
	 * status, fields lowercase, reason empty; the body fact from
	 * content-length (which leaves the fields but for a response without
	 * a body: HEAD, 204, 304, END_STREAM on the head), else unknown.  A
	 * 1xx comes the same way, interim, before the final head.  The owner
	 * takes resp: msg_free() then free().
	 */
	void	(*on_response)(void *arg, int32_t id, struct msg *resp);
	/* Response body bytes; h2client_consume() once they went on.  None
	   after the owner reset the stream. */
	void	(*on_data)(void *arg, int32_t id, const uint8_t *p, size_t len);
	/* The response ended, with trailers (in t->trailers, valid during
	   the call) or NULL. */
	void	(*on_end)(void *arg, int32_t id, const struct msg *t);
	/*
	 * The stream is gone: code 0 once the response ended (the request's
	 * rest, if any, is not wanted: RFC 9113 8.1), else the reset's code
	 * (the server's RST_STREAM, ours, a stream error such as a malformed
	 * response, H2CLIENT_REFUSED_STREAM for a stream the server never
	 * processed, or the connection's end).  why: when the codec reset
	 * the stream for what the server sent (a malformed response, a head
	 * over the limit), a static string naming the rule (never the
	 * server's bytes), else NULL.  For every stream h2client_request()
	 * opened; the last callback for id.
	 */
	void	(*on_close)(void *arg, int32_t id, uint32_t code,
		    const char *why);
	/* The stream's request buffer has room again after a short write. */
	void	(*on_writable)(void *arg, int32_t id);
};

/*
 * A client session (limits NULL: the defaults); the preface and our
 * SETTINGS are queued.  cbs is copied.  NULL without memory.
 */
struct h2client *h2client_new(const struct h2client_limits *,
    const struct h2client_cbs *, void *arg);
/*
 * Wipes the request bytes still held (a body may carry secrets).  Calls
 * back nothing: the owner ends its streams' exchanges itself first.
 */
void h2client_free(struct h2client *);

/*
 * Consume all of in.  -1: the connection must end (the server flooded us
 * or broke the framing): write what h2client_output() still gives, then
 * close; every open stream has had on_close.  A connection error nghttp2
 * answers with a GOAWAY returns 0: once h2client_output() wrote it, the
 * streams close (PROTOCOL_ERROR) and h2client_is_done() says so.
 */
int h2client_input(struct h2client *, struct evbuffer *in);
/* Append frames to out, about room bytes at most; -1 on a fatal error. */
int h2client_output(struct h2client *, struct evbuffer *out, size_t room);
int h2client_want_read(const struct h2client *);
int h2client_want_write(const struct h2client *);
/* Neither, or the session failed: close the connection. */
int h2client_is_done(const struct h2client *);
/*
 * The connection is gone (or must go): every open stream gets on_close
 * with code, the session opens and reads nothing more.  Not from inside
 * a callback.
 */
void h2client_fail(struct h2client *, uint32_t code);

/* May h2client_request() open another stream now? */
int h2client_can_open(const struct h2client *);
/* Streams opened and not yet closed. */
size_t h2client_streams(const struct h2client *);
/*
 * 1 and *last set to its last stream id (streams above it closed with
 * H2CLIENT_REFUSED_STREAM), *code to its error, once the server sent
 * GOAWAY; 0 before.
 */
int h2client_goaway_seen(const struct h2client *, int32_t *last,
    uint32_t *code);

/*
 * Open a stream for req (a request: method, authority, path; its fields
 * lowercased, never a connection-specific one, TE as "trailers" from
 * req->trailers_ok, content-length from the body fact).  The request's
 * head ends the stream unless the body fact says there is a body
 * (MSG_BODY_LENGTH above 0, MSG_BODY_UNKNOWN): then h2client_write() and
 * h2client_end() follow.  Returns the stream id, or -1: no room
 * (!h2client_can_open), or what HTTP/2 cannot carry here: a CONNECT, an
 * upgrade, a body with transfer codings.
 */
int32_t h2client_request(struct h2client *, const struct msg *req);

/* The owner's pointer on stream id (NULL: none); -1 if id is not open. */
int h2client_stream_set(struct h2client *, int32_t id, void *p);
void *h2client_stream_get(const struct h2client *, int32_t id);

/*
 * Take up to n bytes of src (copied, drained from src) into the stream's
 * request buffer; returns how many it took (fewer: wait for
 * on_writable), -1 on error.
 */
ssize_t h2client_write(struct h2client *, int32_t id, struct evbuffer *src,
    size_t n);
/* The request body ends, with m's trailers (those a trailer may be). */
int h2client_end(struct h2client *, int32_t id, const struct msg *m);
/* RST_STREAM with code; on_close follows. */
int h2client_reset(struct h2client *, int32_t id, uint32_t code);
/* n response bytes of stream id went on: the server may send as many. */
int h2client_consume(struct h2client *, int32_t id, size_t n);

/* A PING: the server's ACK is something read (liveness, h2up.c). */
int h2client_ping(struct h2client *);
/* GOAWAY: no new streams; the open ones finish, then is_done. */
int h2client_goaway(struct h2client *);

#endif
