/*
 * test_msg.c - the neutral message: fields, checks, the arena.
 */
#include <stdio.h>
#include <string.h>

#include "msg.h"
#include "unit.h"

#define S(lit)	lit, sizeof(lit) - 1

/* Is field f named name with value value? */
static int
is(const struct msg *m, const struct msg_field *f, const char *name,
    const char *value)
{
	return f != NULL && msg_str_eq(m, f->name, name, strlen(name)) &&
	    f->value.len == strlen(value) &&
	    memcmp(msg_ptr(m, f->value), value, f->value.len) == 0;
}

static void
test_fields(void)
{
	struct msg m;
	const struct msg_field *f;
	size_t i = 0;
	int n = 0;

	msg_init(&m, MSG_REQUEST);
	CHECK(msg_add(&m, S("Accept"), S("*/*")) == 0 &&
	    msg_add(&m, S("X-A"), S("1")) == 0 &&
	    msg_add(&m, S("x-a"), S("2")) == 0 &&
	    msg_add(&m, S("Cookie"), S("c=1")) == 0, "fields added");
	CHECK(m.fields.n == 4, "duplicates kept");
	CHECK(is(&m, msg_find(&m, S("X-a")), "x-a", "1"),
	    "find: the first, case-insensitively");
	CHECK(msg_find(&m, S("x-b")) == NULL, "find: absent is NULL");
	while (msg_next(&m, S("X-A"), &i, &f) == 0)
		n++;
	CHECK(n == 2, "next: each field of a name, in order");
	i = 0;
	n = 0;
	while (msg_next(&m, NULL, 0, &i, &f) == 0)
		n++;
	CHECK(n == 4, "next: every field");
	CHECK(msg_set(&m, S("X-A"), S("3")) == 0 && m.fields.n == 3 &&
	    is(&m, &m.fields.v[2], "X-A", "3") &&
	    is(&m, &m.fields.v[1], "Cookie", "c=1"),
	    "set: replaces all, appended, order of the others kept");
	CHECK(msg_remove(&m, S("accept")) == 0 && m.fields.n == 2 &&
	    msg_find(&m, S("Accept")) == NULL, "remove");
	CHECK(msg_remove(&m, S("none")) == 0 && m.fields.n == 2,
	    "remove of an absent field is not an error");
	msg_free(&m);
}

static void
test_checks(void)
{
	struct msg m;

	msg_init(&m, MSG_REQUEST);
	CHECK(msg_add(&m, S("X"), S("a\r\nEvil: 1")) == -1, "CRLF refused");
	CHECK(msg_add(&m, S("X"), S("a\nb")) == -1, "LF refused");
	CHECK(msg_add(&m, S("X"), S("a\rb")) == -1, "CR refused");
	CHECK(msg_add(&m, S("X"), "a\0b", 3) == -1, "NUL refused");
	CHECK(msg_add(&m, S("X"), S("a\r\n b")) == -1, "obs-fold refused");
	CHECK(msg_add(&m, S("X Y"), S("1")) == -1, "space in a name refused");
	CHECK(msg_add(&m, S("X:"), S("1")) == -1, "colon in a name refused");
	CHECK(msg_add(&m, "", 0, S("1")) == -1, "empty name refused");
	CHECK(msg_add(&m, S("X"), S("a\tb \x80")) == 0,
	    "HTAB, SP and obs-text allowed");
	CHECK(msg_set(&m, S("X"), S("bad\n")) == -1 && m.fields.n == 1,
	    "a refused set leaves the field");
	CHECK(msg_add_trailer(&m, S("T"), S("a\r\n")) == -1 &&
	    msg_add_trailer(&m, S("Grpc-Status"), S("0")) == 0 &&
	    m.trailers.n == 1, "trailers are checked alike");
	CHECK(msg_set_request(&m, S("GET"), S("https"), S("a.test:443"),
	    S("/p?q=1")) == 0, "request pseudo-fields");
	CHECK(msg_set_request(&m, S("G T"), S("https"), S("a"), S("/")) == -1,
	    "bad method refused");
	CHECK(msg_set_request(&m, S("GET"), S("https"), S("a"),
	    S("/p q")) == -1, "space in a path refused");
	CHECK(msg_set_request(&m, S("GET"), S("https"), S("a"),
	    S("http://b/")) == -1, "absolute path refused");
	CHECK(msg_set_request(&m, S("GET"), S("https"), S("a@b"),
	    S("/")) == -1, "userinfo in an authority refused");
	msg_free(&m);

	msg_init(&m, MSG_RESPONSE);
	CHECK(msg_set_status(&m, 200, S("OK")) == 0 && m.status == 200,
	    "status");
	CHECK(msg_set_status(&m, 99, S("")) == -1 &&
	    msg_set_status(&m, 200, S("O\r\nK")) == -1,
	    "bad status or reason refused");
	msg_free(&m);
}

/* Many fields and bytes: the arena and the field array leave the struct. */
static void
test_growth(void)
{
	struct msg m;
	char name[32], value[200];
	int i, ok = 1;

	memset(value, 'v', sizeof(value));
	msg_init(&m, MSG_REQUEST);
	for (i = 0; i < 200; i++) {
		snprintf(name, sizeof(name), "X-%d", i);
		if (msg_add(&m, name, strlen(name), value, sizeof(value)) == -1)
			ok = 0;
	}
	CHECK(ok && m.fields.n == 200, "200 fields of 200 bytes");
	CHECK(m.buf != m.inline_buf && m.fields.v != m.inline_fields,
	    "grown onto the heap");
	CHECK(msg_find(&m, S("x-199")) != NULL &&
	    msg_find(&m, S("x-0"))->value.len == 200 &&
	    msg_ptr(&m, msg_find(&m, S("x-0"))->value)[199] == 'v',
	    "fields read back after growth");
	msg_hold_secret(&m);
	msg_reset(&m, MSG_RESPONSE);
	CHECK(m.kind == MSG_RESPONSE && m.fields.n == 0 && m.len == 0 &&
	    m.buf == m.inline_buf, "reset: empty again, inline");
	msg_free(&m);

	msg_init(&m, MSG_REQUEST);
	ok = 0;
	for (i = 0; i < 10000 && !ok; i++)
		if (msg_add(&m, S("X"), value, sizeof(value)) == -1)
			ok = 1;
	CHECK(ok && m.len <= MSG_MAX_BYTES, "the arena is bounded");
	msg_free(&m);
}

/* A typical request stays inside the struct: no malloc per message. */
static void
test_inline(void)
{
	struct msg m;
	int i;

	msg_init(&m, MSG_REQUEST);
	for (i = 0; i < 20; i++)
		(void)msg_add(&m, S("User-Agent"), S("curl/7.88.1"));
	CHECK(m.buf == m.inline_buf && m.fields.v == m.inline_fields,
	    "20 small fields: inline");
	msg_free(&m);
}

/*
 * A clone has its own arena: what injection adds to it never reaches the
 * original (the exchange's request, which the cache reads), and freeing
 * one leaves the other whole.
 */
static void
test_clone(void)
{
	struct msg m, c;
	char value[200];
	int i, ok = 1;

	memset(value, 'v', sizeof(value));
	msg_init(&m, MSG_REQUEST);
	CHECK(msg_set_request(&m, S("GET"), S("https"), S("api.test"),
	    S("/a?b=1")) == 0 && msg_add(&m, S("Accept"), S("*/*")) == 0 &&
	    msg_add_trailer(&m, S("X-T"), S("t")) == 0, "original built");
	msg_set_body(&m, MSG_BODY_LENGTH, 5);
	CHECK(msg_clone(&c, &m) == 0, "clone");
	CHECK(msg_str_eq(&c, c.method, S("GET")) &&
	    msg_str_eq(&c, c.path, S("/a?b=1")) &&
	    msg_str_eq(&c, c.authority, S("api.test")) &&
	    c.body == MSG_BODY_LENGTH && c.length == 5 &&
	    is(&c, msg_find(&c, S("accept")), "Accept", "*/*") &&
	    c.trailers.n == 1 && c.buf == c.inline_buf,
	    "the clone reads as the original, in its own inline arena");
	CHECK(msg_set(&c, S("Authorization"), S("Bearer s3cret")) == 0 &&
	    msg_find(&m, S("authorization")) == NULL && m.fields.n == 1,
	    "a field set on the clone is not on the original");
	msg_hold_secret(&c);
	msg_free(&c);
	CHECK(is(&m, msg_find(&m, S("accept")), "Accept", "*/*"),
	    "the original outlives its clone");

	for (i = 0; i < 100; i++)
		if (msg_add(&m, S("X-Big"), value, sizeof(value)) == -1)
			ok = 0;
	CHECK(ok && msg_clone(&c, &m) == 0 && c.fields.n == 101 &&
	    c.buf != m.buf && msg_ptr(&c, c.fields.v[100].value)[199] == 'v',
	    "a grown message clones onto the heap");
	msg_free(&c);
	msg_free(&m);
}

/*
 * A move leaves the message in dst and nothing in src: an inline arena's
 * bytes are copied (and wiped in src when secret), a grown one's change
 * owner; either way freeing both frees everything once.
 */
static void
test_move(void)
{
	struct msg m, d;
	char value[200];
	const char *heap;
	int i, ok = 1;

	msg_init(&m, MSG_REQUEST);
	CHECK(msg_set_request(&m, S("GET"), S("https"), S("api.test"),
	    S("/a?b=1")) == 0 && msg_add(&m, S("Cookie"), S("k=s3cret")) ==
	    0 && msg_add_trailer(&m, S("X-T"), S("t")) == 0, "built");
	msg_set_body(&m, MSG_BODY_LENGTH, 5);
	msg_hold_secret(&m);
	msg_move(&d, &m);
	CHECK(msg_str_eq(&d, d.method, S("GET")) &&
	    msg_str_eq(&d, d.path, S("/a?b=1")) && d.buf == d.inline_buf &&
	    d.fields.v == d.inline_fields && d.body == MSG_BODY_LENGTH &&
	    d.length == 5 && d.secret &&
	    is(&d, msg_find(&d, S("cookie")), "Cookie", "k=s3cret") &&
	    d.trailers.n == 1, "an inline message moves as it was");
	CHECK(m.len == 0 && m.fields.n == 0 && m.trailers.v == NULL &&
	    !m.secret && m.buf == m.inline_buf &&
	    memmem(m.inline_buf, sizeof(m.inline_buf), "s3cret", 6) == NULL,
	    "the source is empty, its secret wiped");
	msg_free(&m);
	msg_free(&d);

	memset(value, 'v', sizeof(value));
	msg_init(&m, MSG_REQUEST);
	for (i = 0; i < 100; i++)
		if (msg_add(&m, S("X-Big"), value, sizeof(value)) == -1)
			ok = 0;
	heap = m.buf;
	msg_move(&d, &m);
	CHECK(ok && d.buf == heap && d.fields.n == 100 &&
	    d.fields.v != d.inline_fields &&
	    msg_ptr(&d, d.fields.v[99].value)[199] == 'v' &&
	    m.buf == m.inline_buf && m.fields.v == m.inline_fields,
	    "a grown message's heap arena changes owner");
	msg_free(&m);
	msg_free(&d);
}

int
main(void)
{
	test_fields();
	test_checks();
	test_growth();
	test_inline();
	test_clone();
	test_move();
	return unit_done();
}
