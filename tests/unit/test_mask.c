/*
 * test_mask.c - the masker: every occurrence of every form starred, the
 * same length, whole or across the windows of a stream, whatever the
 * split; what a stream holds back; evbuffer streams.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "mask.h"
#include "unit.h"

/* The answer by definition: every byte some occurrence covers, starred. */
static void
naive(const char *const *forms, size_t nforms, const char *in, char *out)
{
	size_t len = strlen(in), i, k, fl;

	memcpy(out, in, len + 1);
	for (k = 0; k < nforms; k++) {
		fl = strlen(forms[k]);
		for (i = 0; i + fl <= len; i++)
			if (memcmp(in + i, forms[k], fl) == 0)
				memset(out + i, '*', fl);
	}
}

static void
set_of(struct mask_set *set, const char *const *forms, size_t n)
{
	size_t i;

	memset(set, 0, sizeof(*set));
	for (i = 0; i < n; i++)
		if (mask_set_add(set, forms[i], strlen(forms[i])) == -1)
			abort();
}

static int
whole_ok(const char *const *forms, size_t n, const char *in)
{
	struct mask_set set;
	char want[512], got[512];
	int ok;

	set_of(&set, forms, n);
	naive(forms, n, in, want);
	memcpy(got, in, strlen(in) + 1);
	mask_buf(&set, got, strlen(got));
	ok = strcmp(got, want) == 0;
	if (!ok)
		printf("# in   %s\n# want %s\n# got  %s\n", in, want, got);
	mask_set_clear(&set);
	return ok;
}

/*
 * in fed as windows ending at cuts[0..ncuts) then the end, as a caller
 * does, holding starts of hold bytes or more: what a window holds back
 * goes in front of the next.  0 unless the bytes given out are the naive
 * answer but for the first bytes (fewer than hold) of an occurrence that
 * a cut ends, and no window held more than the longest form - 1.
 */
static int
stream_ok(const struct mask_set *set, const char *const *forms, size_t n,
    const char *in, const size_t *cuts, size_t ncuts, size_t hold)
{
	struct mask_carry carry = { 0 };
	unsigned char win[1024];
	char want[512], got[512], may[512] = { 0 };
	size_t len = strlen(in), at = 0, held = 0, outlen = 0, r, c, to, k;
	size_t a, i;
	int ok = 1;

	naive(forms, n, in, want);
	/* The bytes a cut may let out: an occurrence's first ones. */
	for (c = 0; c < ncuts; c++)
		for (k = 0; k < n; k++)
			for (a = 0; a + strlen(forms[k]) <= len; a++)
				if (memcmp(in + a, forms[k], strlen(forms[k])) ==
				    0 && a < cuts[c] && cuts[c] - a < hold &&
				    cuts[c] < a +
				    strlen(forms[k]))
					memset(may + a, 1, cuts[c] - a);
	for (c = 0; c <= ncuts; c++) {
		to = c < ncuts ? cuts[c] : len;
		memcpy(win + held, in + at, to - at);
		r = mask_window(set, &carry, win, held + to - at, hold,
		    c == ncuts);
		memcpy(got + outlen, win, r);
		outlen += r;
		held = held + to - at - r;
		memmove(win, win + r, held);
		at = to;
		if (held != carry.len || (held > 0 && held >= set->longest))
			ok = 0;
	}
	mask_carry_clear(&carry);
	if (!ok || outlen != len)
		return 0;
	for (i = 0; i < len; i++)
		if (got[i] != want[i] && !(may[i] && got[i] == in[i]))
			return 0;
	return 1;
}

static void
test_whole(void)
{
	const char *one[] = { "sk-secret" };
	const char *two[] = { "abc", "bcd" };
	const char *nested[] = { "cde", "abcdefg" };
	const char *aa[] = { "aa" };
	const char *json[] = { "a/b\"c", "a\\/b\\\"c" };

	CHECK(whole_ok(one, 1,
	    "{\"auth\": \"Bearer sk-secret\", \"x\": \"sk-secret\"}"),
	    "every occurrence starred, the same length");
	CHECK(whole_ok(one, 1, "nothing here"), "a text without a form is left");
	CHECK(whole_ok(two, 2, "xabcdx"),
	    "forms that overlap in the text are both covered, in any order");
	{
		const char *rev[] = { "bcd", "abc" };

		CHECK(whole_ok(rev, 2, "xabcdx"),
		    "... whichever form is added first");
	}
	CHECK(whole_ok(nested, 2, "..abcdefg..cde.."),
	    "a form inside a longer one");
	CHECK(whole_ok(aa, 1, "aaa") && whole_ok(aa, 1, "baaab"),
	    "overlapping occurrences of one form");
	CHECK(whole_ok(json, 2, "{\"k\": \"a\\/b\\\"c\"} a/b\"c"),
	    "a JSON-escaped form and the raw one");
}

static void
spans_cb(void *arg, size_t off, size_t n)
{
	char *s = arg;
	size_t len = strlen(s);

	snprintf(s + len, 64, "[%zu,%zu)", off, off + n);
}

static void
test_spans(void)
{
	const char *forms[] = { "abc", "cd", "xy" };
	struct mask_set set;
	char got[256] = "";

	set_of(&set, forms, 3);
	mask_spans(&set, 1, "abcd xy xyabc", 13, spans_cb, got);
	CHECK(strcmp(got, "[0,4)[5,7)[8,13)") == 0,
	    "spans merged where they overlap or touch, in order");
	got[0] = '\0';
	mask_spans(&set, 3, "abcd xy", 7, spans_cb, got);
	CHECK(strcmp(got, "[0,3)") == 0, "forms under minlen are not looked for");
	CHECK(mask_set_found(&set, 1, "zzxyzz", 6) &&
	    !mask_set_found(&set, 3, "zzxyzz", 6) &&
	    !mask_set_found(&set, 1, "zzz", 3), "mask_set_found");
	CHECK(mask_set_add(&set, "abc", 3) == 0 && set.n == 3 &&
	    set.longest == 3, "a known form is not added twice");
	mask_set_clear(&set);
	CHECK(set.n == 0 && set.v == NULL, "a cleared set is empty");
}

static void
test_splits(void)
{
	const char *forms[] = { "Bearer-tok-1234", "dG9rOnB3", "tok%2F1" };
	const char *in = "{\"Authorization\": \"Bearer-tok-1234\", "
	    "\"b\": \"Basic dG9rOnB3\", \"q\": \"/x?k=tok%2F1\", "
	    "\"again\": \"Bearer-tok-1234Bearer-tok-1234\"}";
	const char *ov[] = { "abcde", "cdefgh", "e" };
	const char *ovin = "..abcdefgh..abcde..cdefgh.abcdefgabcdefgh";
	struct mask_set set, oset;
	size_t len = strlen(in), i, j, bad = 0, n = 0, cuts[2];

	set_of(&set, forms, 3);
	for (i = 0; i <= len; i++) {
		cuts[0] = i;
		bad += !stream_ok(&set, forms, 3, in, cuts, 1, MASK_HOLD_MIN);
		n++;
	}
	CHECK(n == len + 1 && bad == 0,
	    "every split point across two windows: the same bytes as whole "
	    "(but a form's first bytes, fewer than MASK_HOLD_MIN, before it)");
	for (i = 0, bad = 0; i <= len; i++) {
		cuts[0] = i;
		bad += !stream_ok(&set, forms, 3, in, cuts, 1, 1);
	}
	CHECK(bad == 0, "holding every start (the pcap): the same bytes as "
	    "whole at every split point");
	for (i = 0, bad = 0; i <= len; i += 3)
		for (j = i; j <= len; j += 5) {
			cuts[0] = i;
			cuts[1] = j;
			bad += !stream_ok(&set, forms, 3, in, cuts, 2,
			    MASK_HOLD_MIN);
		}
	CHECK(bad == 0, "three windows, a form across all of them");
	set_of(&oset, ov, 3);
	len = strlen(ovin);
	for (i = 0, bad = 0; i <= len; i++)
		for (j = i; j <= len; j++) {
			cuts[0] = i;
			cuts[1] = j;
			bad += !stream_ok(&oset, ov, 3, ovin, cuts, 2,
			    MASK_HOLD_MIN) + !stream_ok(&oset, ov, 3, ovin,
			    cuts, 2, 1);
		}
	CHECK(bad == 0, "overlapping forms split anywhere: a covered byte "
	    "held back is starred when given out");
	mask_set_clear(&oset);
	mask_set_clear(&set);
}

/* A window of s (copied to b) to a client's stream. */
static size_t
feed(const struct mask_set *set, struct mask_carry *carry, unsigned char *b,
    const char *s, int end)
{
	memcpy(b, s, strlen(s));
	return mask_window(set, carry, b, strlen(s), MASK_HOLD_MIN, end);
}

static void
test_hold(void)
{
	const char *forms[] = { "secret" };
	struct mask_set set;
	struct mask_carry carry = { 0 };
	unsigned char b[64];
	size_t r;

	set_of(&set, forms, 1);
	r = feed(&set, &carry, b, "data: x\n\n", 0);
	CHECK(r == 9 && carry.len == 0,
	    "an end that starts no form is given out at once (streams do not wait)");
	r = feed(&set, &carry, b, "abc secr", 0);
	CHECK(r == 4 && carry.len == 4, "the start of a form is held back");
	r = feed(&set, &carry, b, "secret!", 0);	/* the held bytes first */
	CHECK(r == 7 && memcmp(b, "******!", 7) == 0,
	    "and starred when the next window completes it");
	r = feed(&set, &carry, b, "xsecr", 0);
	CHECK(r == 1 && carry.len == 4, "a window that may all be a start");
	r = mask_window(&set, &carry, b + 1, 4, MASK_HOLD_MIN, 1);
	CHECK(r == 4 && memcmp(b + 1, "secr", 4) == 0 && carry.len == 0,
	    "the end gives out what was held, as it came (no form)");
	r = feed(&set, &carry, b, "data: se", 0);
	CHECK(r == 8 && carry.len == 0 && carry.nctx == 2,
	    "a start shorter than MASK_HOLD_MIN is given out, not held");
	r = feed(&set, &carry, b, "cret, secret", 0);
	CHECK(r == 12 && memcmp(b, "****, ******", 12) == 0,
	    "and the rest of that form is starred when it comes");
	r = feed(&set, &carry, b, "s", 0);
	r += feed(&set, &carry, b, "e", 0);
	r += feed(&set, &carry, b, "cr", 0);
	CHECK(r == 2 && carry.len == 2 && carry.nctx == 2,
	    "a start that grows past MASK_HOLD_MIN a byte at a time is held");
	r = feed(&set, &carry, b, "cret", 0);
	CHECK(r == 4 && memcmp(b, "****", 4) == 0,
	    "and starred, but for what was given out before it grew");
	mask_carry_clear(&carry);
	mask_set_clear(&set);
}

/*
 * Does out hold MASK_HOLD_MIN bytes in a row of a form, or a byte that is
 * neither in or a star?
 */
static int
leaks(const char *const *forms, size_t n, const char *in, const char *out,
    size_t len)
{
	size_t k, i;

	for (i = 0; i < len; i++)
		if (out[i] != in[i] && out[i] != '*')
			return 1;
	for (k = 0; k < n; k++)
		for (i = 0; i + MASK_HOLD_MIN <= strlen(forms[k]); i++)
			if (memmem(out, len, forms[k] + i, MASK_HOLD_MIN))
				return 1;
	return 0;
}

/*
 * Feed body to a stream in pieces of n (by reference): the output is as
 * long, leaks nothing, and the source is not written to.
 */
static int
stream_evbuffer(const struct mask_set *set, const char *const *forms,
    size_t nforms, const char *body, size_t n)
{
	struct mask_stream *ms = mask_stream_new(set);
	struct evbuffer *src = evbuffer_new(), *out = evbuffer_new();
	size_t len = strlen(body), at, k, ready;
	char *copy = strdup(body), got[512];
	int ok = 1;

	for (at = 0; at < len; at += k) {
		k = len - at < n ? len - at : n;
		evbuffer_add_reference(src, copy + at, k, NULL, NULL);
		if (mask_stream_put(ms, src, k, 0, &ready) == -1 ||
		    evbuffer_get_length(src) != 0)
			ok = 0;
		evbuffer_remove_buffer(mask_stream_out(ms), out, ready);
	}
	if (mask_stream_put(ms, src, 0, 1, &ready) == -1)
		ok = 0;
	evbuffer_remove_buffer(mask_stream_out(ms), out, ready);
	if (evbuffer_get_length(out) != len)
		ok = 0;
	else {
		evbuffer_remove(out, got, len);
		ok = ok && !leaks(forms, nforms, body, got, len);
	}
	ok = ok && strcmp(copy, body) == 0;	/* the source is not written */
	free(copy);
	mask_stream_free(ms);
	evbuffer_free(src);
	evbuffer_free(out);
	return ok;
}

static void
test_evbuffer(void)
{
	const char *forms[] = { "tok-5678", "dG9rOnB3" };
	const char *body = "{\"a\": \"Bearer tok-5678\", \"b\": \"Basic dG9rOnB3\"}";
	struct mask_set set;
	size_t n, bad = 0;

	set_of(&set, forms, 2);
	for (n = 1; n <= strlen(body); n++)
		bad += !stream_evbuffer(&set, forms, 2, body, n);
	CHECK(bad == 0, "an evbuffer stream in pieces of every size: the same "
	    "length, no MASK_HOLD_MIN bytes of a form, its source (a "
	    "reference) untouched");
	mask_set_clear(&set);
}

static void
test_limits(void)
{
	struct mask_set set = { 0 };
	char s[8];
	int i, rc = 0;

	for (i = 0; i < MASK_FORMS_MAX && rc == 0; i++) {
		snprintf(s, sizeof(s), "f%03d", i);
		rc = mask_set_add(&set, s, strlen(s));
	}
	CHECK(rc == 0 && set.n == MASK_FORMS_MAX, "a set takes MASK_FORMS_MAX forms");
	CHECK(mask_set_add(&set, "one more", 8) == -1, "and refuses one more");
	CHECK(mask_set_add(&set, "", 0) == 0 && set.n == MASK_FORMS_MAX,
	    "an empty form is not a form");
	mask_set_clear(&set);
}

int
main(void)
{
	test_whole();
	test_spans();
	test_splits();
	test_hold();
	test_evbuffer();
	test_limits();
	return unit_done();
}
