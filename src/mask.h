/*
 * mask.h - the one masker: every occurrence of a set of byte strings (the
 * forms an injected secret may take, inject.c says which) overwritten
 * with '*', the same length, in a buffer or across the reads of a stream.
 *
 * Used for what the client receives (response bodies, exchange.c; the
 * cache's copy, cache.c) and for the pcap file (capture.c, capture_h2.c);
 * response head fields, which may shrink, take the covered spans
 * (inject.c).  An occurrence is found in the bytes as they came, never in
 * bytes already starred, so forms that overlap in the text are all
 * covered whatever their order.
 *
 * A stream is masked window by window: the end of a window that a form
 * may continue (the longest end that is the start of a form, so at most
 * the longest form - 1 bytes, and none when the text ends in no form's
 * start) is held back, as it came, and put in front of the next window;
 * what a form already covered in it is remembered (struct mask_carry).
 * The result is the same bytes as masking the whole stream at once, but
 * for an end shorter than MASK_HOLD_MIN, given out at once (see there).
 */
#ifndef SLUICE_MASK_H
#define SLUICE_MASK_H

#include <stddef.h>

struct evbuffer;

/* Forms one set may hold: mask_spans() keeps a position per form. */
#define MASK_FORMS_MAX	128

struct mask_form {
	unsigned char	*p;
	size_t		 len;
};

/* The forms to mask, copies (wiped when cleared); all zero: empty. */
struct mask_set {
	struct mask_form *v;
	size_t		 n;
	size_t		 longest;
};

/*
 * Add a copy of s[0..len) (nothing for an empty or a known one).  -1
 * without memory or past MASK_FORMS_MAX forms.
 */
int mask_set_add(struct mask_set *, const void *s, size_t len);
/* Wipe and free the copies: the set is empty again. */
void mask_set_clear(struct mask_set *);

/* Does p[0..len) hold a form of at least minlen bytes? */
int mask_set_found(const struct mask_set *, size_t minlen, const void *p,
    size_t len);

/*
 * The spans of p[0..len) that forms of at least minlen bytes cover,
 * overlapping and adjacent occurrences merged, in order: fn(arg, off, n)
 * once each.  A span is reported once no later search reads its bytes,
 * so fn may overwrite them.
 */
typedef void mask_span_fn(void *arg, size_t off, size_t n);
void mask_spans(const struct mask_set *, size_t minlen, const void *p,
    size_t len, mask_span_fn *fn, void *arg);

/* Every form in p[0..len) starred. */
void mask_buf(const struct mask_set *, void *p, size_t len);

/*
 * The shortest end of a window a stream to a client holds back.  A
 * shorter end that begins a form is given out and remembered (ctx), so
 * the rest of the form, when it comes, is starred all the same: a stream
 * whose read ends in a form's first byte by chance (a gRPC or chat
 * message: one in a few dozen ends in a given letter) must not stall
 * until more comes, which may be never.  So at most a form's first
 * MASK_HOLD_MIN - 1 bytes can reach the client, and only where a read
 * ends just after them.  A file can wait: the pcap holds every start.
 */
#define MASK_HOLD_MIN	4

/* What a stream keeps between windows.  All zero: nothing. */
struct mask_carry {
	size_t		 len;		/* bytes held back, as they came */
	unsigned char	*cover;		/* per held byte: a form covers it */
	size_t		 cap;
	unsigned char	 ctx[MASK_HOLD_MIN - 1];	/* given out just before
						   them, as they came, that a
						   form may continue */
	size_t		 nctx;
};

/*
 * p[0..len) is the next window of a stream: its first carry->len bytes
 * are the ones the last call held back, the rest new.  Masks the window
 * and returns how many bytes at its front are final; the others (none
 * when end says the stream ends here, none shorter than hold_min: see
 * MASK_HOLD_MIN; 1 holds every start) are held back as they came, for
 * the caller to put in front of the next window.  Without memory to
 * remember the held bytes, they are starred and given out instead.
 * The stream's first window is p with an all-zero carry.
 */
size_t mask_window(const struct mask_set *, struct mask_carry *,
    unsigned char *p, size_t len, size_t hold_min, int end);
void mask_carry_clear(struct mask_carry *);

/*
 * A stream of evbuffer data masked with set (which must outlive it): what
 * a response body becomes on its way to the client.
 */
struct mask_stream;

struct mask_stream *mask_stream_new(const struct mask_set *set);
/* Free it, wiping what it held back. */
void mask_stream_free(struct mask_stream *);
/*
 * Move n bytes of src (its chains are not written to: a reference into
 * the cache is fine) into the stream; *ready bytes at the front of
 * mask_stream_out() are masked and may go (the caller moves them out).
 * end: the stream ends, nothing is held back.  -1 without memory.
 */
int mask_stream_put(struct mask_stream *, struct evbuffer *src, size_t n,
    int end, size_t *ready);
struct evbuffer *mask_stream_out(struct mask_stream *);

#endif
