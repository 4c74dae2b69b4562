/*
 * h2session.h - what the two HTTP/2 codecs (h2codec.c, server side;
 * h2client.c, client side) do alike with their nghttp2 session: the
 * abuse bounds, bytes in and frames out through evbuffers, crediting
 * received DATA, and naming what nghttp2 found malformed.
 */
#ifndef SLUICE_H2SESSION_H
#define SLUICE_H2SESSION_H

#include <stddef.h>
#include <stdint.h>

#include <nghttp2/nghttp2.h>

struct evbuffer;

/*
 * Bounds on what a peer can make us hold (acks queued for a peer that
 * does not read, SETTINGS entries, CONTINUATION runs, our HPACK encoder's
 * table), and windows credited by hand (h2session_credit, the owners'
 * consume).
 */
void h2session_options(nghttp2_option *);

/*
 * Feed all of in to s.  -1 when nghttp2 fails the session (a flood, a
 * broken preface or framing): a GOAWAY is queued if there is room, in is
 * emptied, nothing more must be read.
 */
int h2session_recv(nghttp2_session *s, struct evbuffer *in);
/* Append s's frames to out, about room bytes at most; -1 on error. */
int h2session_send(nghttp2_session *s, struct evbuffer *out, size_t room);

/*
 * len DATA bytes of stream id arrived: the connection window is credited
 * at once (the stream windows bound memory), the stream's too if nobody
 * reads it (owned 0), else when its owner consumes them.
 */
int h2session_credit(nghttp2_session *s, int32_t id, size_t len, int owned);

/*
 * nghttp2 found a stream's message malformed or the stream in error
 * (on_invalid_frame_recv's lib_error): which of why[0] (a field or
 * pseudo-field RFC 9113 8.2 and 8.3 forbid), why[1] (DATA that
 * contradicts the head, 8.1.1) or why[2] (another stream error) says so.
 * Named from the error code only: nghttp2's own message quotes the
 * field, which may be a credential.
 */
const char *h2session_invalid_why(int lib_error, const char *const why[3]);

#endif
