/*
 * mask.c - the one masker: forms of secrets starred in buffers and
 * streams (see mask.h for who uses it).
 *
 * Owns finding the forms and the hold-back of a stream; does not own which
 * forms a secret has (inject.c) nor where the bytes go.
 *
 * Finding: one memmem per form and occurrence, on the bytes as they came.
 * mask_spans() walks the occurrences of all forms in order of their start
 * (a merge of one sorted list per form), joins those that overlap or
 * touch, and reports a span only once every form's next search starts
 * past it: a caller that stars the span in place never hides a later
 * occurrence from a search.
 *
 * Holding back: a window's end that is a proper prefix of a form may be
 * the start of an occurrence the next window completes.  It stays as it
 * came; the spans found in the window that reach into it are noted per
 * byte (carry->cover) and starred when the byte is finally given out.
 * The bytes before it can be final: an occurrence that covers one of them
 * ends inside the window, or it would start in the held end.  An end
 * shorter than MASK_HOLD_MIN is given out instead and kept in
 * carry->ctx: the next window is searched with it in front (a copy of
 * ctx and the next longest - 1 bytes), and a span that starts in it is
 * starred from the window's first byte on.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "mask.h"

int
mask_set_add(struct mask_set *set, const void *s, size_t len)
{
	struct mask_form *v;
	size_t i;

	if (len == 0)
		return 0;
	for (i = 0; i < set->n; i++)
		if (set->v[i].len == len && memcmp(set->v[i].p, s, len) == 0)
			return 0;
	if (set->n == MASK_FORMS_MAX ||
	    (v = realloc(set->v, (set->n + 1) * sizeof(*v))) == NULL)
		return -1;
	set->v = v;
	if ((v[set->n].p = malloc(len)) == NULL)
		return -1;
	memcpy(v[set->n].p, s, len);
	v[set->n].len = len;
	set->n++;
	if (len > set->longest)
		set->longest = len;
	return 0;
}

void
mask_set_clear(struct mask_set *set)
{
	size_t i;

	for (i = 0; i < set->n; i++) {
		explicit_bzero(set->v[i].p, set->v[i].len);
		free(set->v[i].p);
	}
	free(set->v);
	memset(set, 0, sizeof(*set));
}

/* Where form f next occurs in p[from..len), or SIZE_MAX. */
static size_t
mask_find(const struct mask_form *f, size_t minlen, const unsigned char *p,
    size_t len, size_t from)
{
	const unsigned char *q;

	if (f->len < minlen || from > len || f->len > len - from)
		return SIZE_MAX;
	q = memmem(p + from, len - from, f->p, f->len);
	return q != NULL ? (size_t)(q - p) : SIZE_MAX;
}

int
mask_set_found(const struct mask_set *set, size_t minlen, const void *p,
    size_t len)
{
	size_t i;

	for (i = 0; i < set->n; i++)
		if (mask_find(&set->v[i], minlen, p, len, 0) != SIZE_MAX)
			return 1;
	return 0;
}

void
mask_spans(const struct mask_set *set, size_t minlen, const void *p,
    size_t len, mask_span_fn *fn, void *arg)
{
	size_t next[MASK_FORMS_MAX], i, k, a, ps = 0, pe = 0;
	int pending = 0;

	for (k = 0; k < set->n; k++)
		next[k] = mask_find(&set->v[k], minlen, p, len, 0);
	for (;;) {
		for (k = set->n, a = SIZE_MAX, i = 0; i < set->n; i++)
			if (next[i] < a) {
				a = next[i];
				k = i;
			}
		if (k == set->n)
			break;
		/* Every search from now on starts past a: [ps, pe) is done. */
		if (pending && a > pe) {
			fn(arg, ps, pe - ps);
			pending = 0;
		}
		if (!pending) {
			ps = a;
			pe = a + set->v[k].len;
			pending = 1;
		} else if (a + set->v[k].len > pe)
			pe = a + set->v[k].len;
		next[k] = mask_find(&set->v[k], minlen, p, len, a + 1);
	}
	if (pending)
		fn(arg, ps, pe - ps);
}

static void
mask_star(void *arg, size_t off, size_t n)
{
	memset((unsigned char *)arg + off, '*', n);
}

void
mask_buf(const struct mask_set *set, void *p, size_t len)
{
	mask_spans(set, 1, p, len, mask_star, p);
}

/*
 * How many bytes at the end of p[0..len) a form may continue: the longest
 * end that is a proper prefix of one.
 */
static size_t
mask_tail(const struct mask_set *set, const unsigned char *p, size_t len)
{
	const struct mask_form *f;
	const unsigned char *q;
	size_t i, k, start = len;

	for (k = 0; k < set->n; k++) {
		f = &set->v[k];
		i = len >= f->len ? len - f->len + 1 : 0;
		while (i < start && (q = memchr(p + i, f->p[0], start - i)) !=
		    NULL) {
			i = (size_t)(q - p);
			if (memcmp(p + i, f->p, len - i) == 0) {
				start = i;
				break;
			}
			i++;
		}
	}
	return len - start;
}

/* A window being masked: bytes before held are given out. */
struct mask_win {
	unsigned char	*p;
	size_t		 held;		/* where the held end starts */
	unsigned char	*cover;		/* per byte from held on */
	size_t		 nctx;		/* crossing spans: bytes before p */
};

static void
mask_win_cover(void *arg, size_t off, size_t n)
{
	struct mask_win *w = arg;
	size_t i;

	for (i = off; i < off + n; i++) {
		if (i < w->held)
			w->p[i] = '*';
		else
			w->cover[i - w->held] = 1;
	}
}

/* A span of ctx + p: its part in p, if it starts in ctx. */
static void
mask_win_cross(void *arg, size_t off, size_t n)
{
	struct mask_win *w = arg;

	if (off < w->nctx && off + n > w->nctx)
		mask_win_cover(w, 0, off + n - w->nctx);
}

size_t
mask_window(const struct mask_set *set, struct mask_carry *carry,
    unsigned char *p, size_t len, size_t hold_min, int end)
{
	struct mask_win w = { p, len, NULL, carry->nctx };
	size_t old = carry->len, nctx = carry->nctx, t, keep, i, blen = 0;
	size_t sent, lost = 0;
	unsigned char *b = NULL, ctx[MASK_HOLD_MIN - 1], *cover;

	/* What came before p: a form it began may end in p. */
	if (nctx > 0 && set->longest > 0) {
		blen = nctx + (len < set->longest ? len : set->longest - 1);
		if ((b = malloc(blen)) != NULL) {
			memcpy(b, carry->ctx, nctx);
			if (blen > nctx)
				memcpy(b + nctx, p, blen - nctx);
		}
	}
	/* The longest end that a form may continue, maybe begun in ctx. */
	if (b != NULL && blen == nctx + len)
		t = mask_tail(set, b, blen);
	else
		t = mask_tail(set, p, len);
	keep = end || t < hold_min ? 0 : t < len ? t : len;
	sent = end ? 0 : t - keep;	/* at most MASK_HOLD_MIN - 1 */
	for (i = 0; i < sent; i++)
		ctx[i] = sent - i > len - keep ? carry->ctx[nctx - (sent - i -
		    (len - keep))] : p[len - keep - (sent - i)];
	if (old + keep > carry->cap) {
		if ((cover = realloc(carry->cover, old + keep)) == NULL) {
			lost = keep;
			keep = 0;
		} else {
			carry->cover = cover;
			carry->cap = old + keep;
		}
	}
	w.held = len - keep;
	/* The old flags stay readable in front of the new ones. */
	w.cover = carry->cover != NULL ? carry->cover + old : NULL;
	if (keep > 0)
		memset(w.cover, 0, keep);
	mask_spans(set, 1, p, len, mask_win_cover, &w);
	if (b != NULL)
		mask_spans(set, 1, b, blen, mask_win_cross, &w);
	else if (nctx > 0 && set->longest > 0)	/* no memory to look: star
						   what it may end */
		mask_win_cover(&w, 0, len < set->longest ? len :
		    set->longest - 1);
	for (i = 0; i < old; i++)
		if (carry->cover[i])
			mask_win_cover(&w, i, 1);
	if (keep > 0)
		memmove(carry->cover, w.cover, keep);
	carry->len = keep;
	memcpy(carry->ctx, ctx, sent);
	carry->nctx = sent;
	/* Nowhere to remember an end a form may continue: starred. */
	if (lost > 0)
		memset(p + len - lost, '*', lost);
	if (b != NULL) {
		explicit_bzero(b, blen);
		free(b);
	}
	return len - keep;
}

void
mask_carry_clear(struct mask_carry *carry)
{
	free(carry->cover);
	memset(carry, 0, sizeof(*carry));
}

struct mask_stream {
	const struct mask_set	*set;
	struct mask_carry	 carry;
	unsigned char		*held;		/* carry.len bytes */
	size_t			 heldcap;
	struct evbuffer		*out;
};

struct mask_stream *
mask_stream_new(const struct mask_set *set)
{
	struct mask_stream *ms;

	if ((ms = calloc(1, sizeof(*ms))) == NULL)
		return NULL;
	ms->set = set;
	if ((ms->out = evbuffer_new()) == NULL) {
		free(ms);
		return NULL;
	}
	return ms;
}

void
mask_stream_free(struct mask_stream *ms)
{
	if (ms == NULL)
		return;
	if (ms->held != NULL) {
		explicit_bzero(ms->held, ms->heldcap);
		free(ms->held);
	}
	mask_carry_clear(&ms->carry);
	evbuffer_free(ms->out);
	free(ms);
}

/* Keep p[0..n) for the next window. */
static int
mask_stream_hold(struct mask_stream *ms, const unsigned char *p, size_t n)
{
	unsigned char *h;

	if (n > ms->heldcap) {
		if ((h = malloc(n)) == NULL)
			return -1;
		if (ms->held != NULL) {
			explicit_bzero(ms->held, ms->heldcap);
			free(ms->held);
		}
		ms->held = h;
		ms->heldcap = n;
	}
	if (n > 0)
		memcpy(ms->held, p, n);
	return 0;
}

int
mask_stream_put(struct mask_stream *ms, struct evbuffer *src, size_t n,
    int end, size_t *ready)
{
	struct evbuffer_iovec v;
	size_t total = ms->carry.len + n, r;
	unsigned char *p;

	*ready = 0;
	if (total == 0)
		return 0;
	/* The window is a copy of ours: src may be a cache entry's memory. */
	if (evbuffer_reserve_space(ms->out, (ev_ssize_t)total, &v, 1) != 1)
		return -1;
	p = v.iov_base;
	if (ms->carry.len > 0)
		memcpy(p, ms->held, ms->carry.len);
	if (n > 0 && evbuffer_remove(src, p + ms->carry.len, n) != (int)n)
		return -1;
	r = mask_window(ms->set, &ms->carry, p, total, MASK_HOLD_MIN, end);
	if (mask_stream_hold(ms, p + r, total - r) == -1)
		return -1;
	explicit_bzero(p + r, total - r);
	v.iov_len = r;
	if (evbuffer_commit_space(ms->out, &v, 1) == -1)
		return -1;
	*ready = r;
	return 0;
}

struct evbuffer *
mask_stream_out(struct mask_stream *ms)
{
	return ms->out;
}
