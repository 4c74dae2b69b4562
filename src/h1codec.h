/*
 * h1codec.h - HTTP/1.1 bytes <-> neutral messages (msg.h).
 *
 * Server side (client connections): a request head parsed by http1.c
 * becomes a message, with the checks the data path makes on it; a response
 * message is written as HTTP/1.1 bytes for the client.  Client side
 * (upstream connections): a parsed response head becomes a message; a
 * request message is written as HTTP/1.1 bytes for the upstream.
 *
 * Every writer writes the framing it decides from the message's body fact
 * (Content-Length for a known length, chunked for an unknown one, nothing
 * for none), never a framing field the message carries; hop-by-hop fields
 * never enter a message and are never written from one.
 */
#ifndef SLUICE_H1CODEC_H
#define SLUICE_H1CODEC_H

#include <stddef.h>

#include "http1.h"
#include "msg.h"

struct evbuffer;

/* Why a request is refused: the status to answer and the audit's words. */
struct h1codec_refusal {
	int		 status;	/* 400 or 421 */
	const char	*code;		/* "bad_request", "misdirected" */
	const char	*why;
};

/*
 * Server side: may the request h go on?  Host must be well formed (400)
 * and name what the connection was verified for (name: the SNI, the
 * CONNECT host or the destination address) and, when it has a port, the
 * port the client connected to (421): authority_check().  The target
 * must be origin-form or "*" (absolute-form could name another host;
 * 400).  0, or -1 with *no filled.  Whether the target normalises is the
 * caller's (it normalised it once, to match, send, key and audit the
 * same path).
 */
int h1codec_request_check(const struct http1_head *h, const char *name,
    int port, struct h1codec_refusal *no);
/*
 * The same check on the request's authority (Host, or HTTP/2's
 * :authority; empty: none) and target as sent, whichever codec read them.
 */
int h1codec_target_check(struct http1_str authority, struct http1_str target,
    const char *name, int port, struct h1codec_refusal *no);

/*
 * The request h (parsed from p), checked, as a message whose path is its
 * normalised target path[0..plen) and whose authority is authority (what
 * the connection was verified for, authority_format()), whatever Host
 * spelled it.  Dropped on the way in: Host (the authority replaces it),
 * Connection and the fields it names, Keep-Alive, Proxy-*, TE
 * (trailers_ok records whether it listed "trailers"), Content-Length and
 * Transfer-Encoding (the body fact replaces them).  Upgrade stays and
 * m->upgrade says whether Connection asked for it.
 */
int h1codec_request_msg(const struct http1_head *h, const char *p,
    const char *path, size_t plen, const char *authority, struct msg *m);

/*
 * Client side: the response h (parsed from p, for the request's method) as
 * a message.  Hop-by-hop fields are dropped as for requests; framing fields
 * go when the response has a body, and stay when it has none (a HEAD or
 * 304 response's Content-Length describes, it does not frame).  A chunked
 * body or one read until close is MSG_BODY_UNKNOWN, with the codings
 * before chunked kept in m->codings.
 */
int h1codec_response_msg(const struct http1_head *h, const char *p,
    struct msg *m);

/*
 * The request message m seen through an http1_head, for code that reads
 * heads (the cache's field and directive parsing): method, the path as
 * target, the fields, Host from the authority, the body fact.  Points into
 * m: valid while m is unchanged.  -1 if m has more fields than a head may.
 */
int h1codec_head_view(const struct msg *m, struct http1_head *h);

/*
 * A response message from an HTTP/2 upstream seen the same way, as the
 * cache reads an HTTP/1.1 response head: the status with reason (the
 * message has none), the fields, and its body as it comes (HTTP/2 frames
 * it, so there is never chunked framing to take off: a body of unknown
 * length reads as one delimited by the end).  -1 as h1codec_head_view().
 */
int h1codec_response_view(const struct msg *m, const char *reason,
    struct http1_head *h);

/* Writer flags. */
#define H1CODEC_OPEN		0x1	/* leave the head open: the caller adds
					   fields and the blank line */
#define H1CODEC_CLOSE_DELIMITED	0x2	/* an unknown-length body ends with
					   the connection, not chunked */

/*
 * Client side: the request m as an HTTP/1.<minor> head: the request line
 * with m's path, Host from the authority, each field, the framing, then
 * Connection for an upgrade (and TE: trailers when the client takes them).
 */
int h1codec_write_request(struct evbuffer *out, const struct msg *m,
    int minor, int flags);

/* RFC 9110's reason phrase for status; "" for a status it does not name. */
const char *h1codec_reason(int status);

/*
 * Server side: the response m as an HTTP/1.1 head: the status line, each
 * field, the framing (H1CODEC_CLOSE_DELIMITED: none for an unknown length,
 * the caller closes after the body) and Connection: upgrade for a 101.
 */
int h1codec_write_response(struct evbuffer *out, const struct msg *m,
    int flags);

/*
 * Bodies.  A body is data and, at its end, trailers (fields in the
 * message's trailers).  Reading, http1_body_decode() splits HTTP/1 bytes
 * into data (the data path moves it), framing (dropped: extensions never
 * go further) and the trailer section, kept in a h1codec_trailers as it
 * arrives and imported into a message at the end.  Writing, the codec
 * frames the data for the other leg: as it is for a known length or a
 * close-delimited body, or in sluice's own chunks, then h1codec_write_end().
 * An HTTP/2 codec would read DATA frames as data and a trailing HEADERS
 * frame as the trailers, and write them back the same way.
 */

/*
 * May field n[0..len) be a trailer (RFC 9110 6.5.1)?  Not framing,
 * routing, request modifiers, authentication, response control,
 * Content-*, hop-by-hop or Proxy-*: the rule for any codec's trailers.
 */
int h1codec_trailer_ok(const char *n, size_t len);

/* A chunk of a body written chunked, copied from p (nothing for len 0). */
int h1codec_write_chunk(struct evbuffer *out, const void *p, size_t len);
/* The same, moving len bytes from src without copying them. */
int h1codec_move_chunk(struct evbuffer *out, struct evbuffer *src,
    size_t len);
/* Body data moved from src: as it is, or as a chunk when chunked. */
int h1codec_move_data(struct evbuffer *out, struct evbuffer *src,
    size_t len, int chunked);

/*
 * The last chunk, m's trailers, and the end of the chunked body.  A field
 * that must not be a trailer (h1codec_trailer_ok) is not written.
 */
int h1codec_write_end(struct evbuffer *out, const struct msg *m);

/* The trailer section of a chunked body, as far as it came (heap). */
struct h1codec_trailers {
	char		*p;
	size_t		 len;
};

/* Append p[0..len) of the section; -1 without memory. */
int h1codec_trailers_add(struct h1codec_trailers *t, const char *p,
    size_t len);
/*
 * The whole section (http1.c checked its syntax) into m's trailers, each
 * field checked by msg_add_trailer(); m is marked secret, as a trailer may
 * carry a credential.  -1 on a field msg.c refuses.
 */
int h1codec_trailers_msg(const struct h1codec_trailers *t, struct msg *m);
/* Wipe and free what t holds; t is empty again. */
void h1codec_trailers_free(struct h1codec_trailers *t);

/*
 * Where h1codec_read_body() puts a body's data: room() says whether more
 * may go now, data() takes len bytes from src (0, or -1), seen() is shown
 * each piece as it came, framing included (NULL: nobody).
 */
struct h1codec_sink {
	int	(*room)(void *arg);
	int	(*data)(void *arg, struct evbuffer *src, size_t len);
	void	(*seen)(void *arg, const void *p, size_t len);
	void	*arg;
};

/*
 * Decode body b from src into sink until the body ends, src is empty or
 * the sink has no room.  The framing that came is dropped; the trailer
 * section goes to t (NULL: dropped).  1 if anything moved, 0 if not, -1
 * on a framing error (or no memory).
 */
int h1codec_read_body(struct evbuffer *src, struct http1_body *b,
    struct h1codec_trailers *t, const struct h1codec_sink *sink);

/*
 * Add fields given as HTTP/1 field lines ("Name: value\r\n"...), each
 * checked as by msg_add(); -1 on a malformed line.
 */
int h1codec_add_lines(struct msg *m, const char *lines);

#endif
