/*
 * capture_h2.h - --pcap for an HTTP/2 client connection: the frames
 * sluice wrote, re-encoded for the file with every registered secret
 * masked (pure: no I/O, no event loop; capture.c feeds it and queues what
 * it emits).
 *
 * Header blocks are decoded with an HPACK inflater that mirrors the
 * client's, masked, and encoded again with a deflater of the file's own,
 * so the file's HPACK state is consistent by itself and Wireshark decodes
 * it.  DATA payloads are masked per stream: the end of a frame that a
 * secret may continue is held back and sent with the stream's next DATA.
 * Other frames go out as they came.
 */
#ifndef SLUICE_CAPTURE_H2_H
#define SLUICE_CAPTURE_H2_H

#include <stddef.h>

struct capture_h2;

/* Where the file's bytes go, in order; p is only valid during the call. */
typedef void capture_h2_emit(void *arg, const unsigned char *p, size_t n);

/* NULL if memory is short. */
struct capture_h2 *capture_h2_new(capture_h2_emit *emit, void *arg);

/* Free everything, wiping the secrets; emits nothing (see capture_h2_end). */
void capture_h2_free(struct capture_h2 *);

/*
 * Mask s (len bytes) in every frame emitted from now on.  A copy is kept
 * (once per distinct value) and wiped when freed.  Without memory, or
 * past MASK_FORMS_MAX, the connection stops emitting: an unmasked secret
 * must not reach the file.
 */
void capture_h2_secret(struct capture_h2 *, const char *s, size_t len);

/*
 * n more bytes sluice wrote to the client, in order, from its first
 * frame (the server preface has no magic).  The frames they complete are
 * emitted.  -1 once the bytes cannot be followed (a frame sluice could
 * not have sent, no memory): nothing is emitted from then on.
 */
int capture_h2_input(struct capture_h2 *, const unsigned char *p, size_t n);

/*
 * The connection ended: what streams held back is emitted as DATA.  An
 * incomplete frame is not: its bytes were never masked.
 */
void capture_h2_end(struct capture_h2 *);

#endif
