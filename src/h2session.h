/*
 * h2session.h - what the two HTTP/2 codecs (h2codec.c, server side;
 * h2client.c, client side) do alike with their nghttp2 session: the
 * abuse bounds, bytes in and frames out through evbuffers, and crediting
 * received DATA.
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

#endif
