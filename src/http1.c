/*
 * http1.c - strict HTTP/1.1 message heads (RFC 9112) and body framing.
 *
 * Owns parsing only: no I/O, no allocation, no state outside the structs the
 * caller passes in.  A parsed head points into the caller's buffer.
 *
 * A head is read line by line: memchr finds the LF, the byte before it must
 * be CR, and the line is then checked in one pass against the byte-class
 * table below.  A line is judged only once it is complete, so every prefix
 * of a valid head is HTTP1_INCOMPLETE, and a bad line is refused as soon as
 * it is complete, before the rest of the head arrives.  Nothing is carried
 * between calls: the caller parses again from the start as its buffer grows.
 * Framing is decided once the blank line is seen, refusing anything two
 * implementations could frame differently (see http1.h).
 *
 * Chunked bodies go through a byte-at-a-time state machine for the framing
 * lines, and chunk data is skipped over in bulk:
 *
 *   SIZE_FIRST -> SIZE -+------------------+-> SIZE_LF -+-> DATA -> DATA_CR
 *        ^              +-> EXT_* (";n=v") +            |             |
 *        |                                              |          DATA_LF
 *        +----------------------------------------------|-------------+
 *                                                       | size 0
 *                                                       v
 *        TRAILER_LF <- TRAILER_VALUE <- TRAILER_NAME <- TRAILER -> END_LF
 *            |                                           ^           |
 *            +-------------------------------------------+          done
 *
 * http1_body_decode() hands the bytes back in runs of one part: data,
 * framing (from SIZE_FIRST to DATA, and DATA_CR, DATA_LF) or the trailer
 * section (from TRAILER on), so the caller forwards data and drops framing.
 *
 * Invariant: a byte is consumed only if it belongs to the message, and the
 * same states are reached however the stream is split, so the data and the
 * trailer section are the same whatever the split.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "authority.h"
#include "http1.h"

#define HTTP1_LINE_MAX	8192	/* one chunk-size line; all trailers together */

/* Byte classes: the bits of http1_class[]. */
#define HTTP1_C_TCHAR	0x01	/* token (RFC 9110 5.6.2) */
#define HTTP1_C_FIELD	0x02	/* field value: HTAB, SP, VCHAR, obs-text */
#define HTTP1_C_TARGET	0x04	/* request-target: VCHAR except '#' */

static const unsigned char http1_class[256] = {
	/* 0x00 */ 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	/* 0x08 */ 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	/* 0x10 */ 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	/* 0x18 */ 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	/* 0x20 */ 0x02, 0x07, 0x06, 0x03, 0x07, 0x07, 0x07, 0x07,
	/* 0x28 */ 0x06, 0x06, 0x07, 0x07, 0x06, 0x07, 0x07, 0x06,
	/* 0x30 */ 0x07, 0x07, 0x07, 0x07, 0x07, 0x07, 0x07, 0x07,
	/* 0x38 */ 0x07, 0x07, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06,
	/* 0x40 */ 0x06, 0x07, 0x07, 0x07, 0x07, 0x07, 0x07, 0x07,
	/* 0x48 */ 0x07, 0x07, 0x07, 0x07, 0x07, 0x07, 0x07, 0x07,
	/* 0x50 */ 0x07, 0x07, 0x07, 0x07, 0x07, 0x07, 0x07, 0x07,
	/* 0x58 */ 0x07, 0x07, 0x07, 0x06, 0x06, 0x06, 0x07, 0x07,
	/* 0x60 */ 0x07, 0x07, 0x07, 0x07, 0x07, 0x07, 0x07, 0x07,
	/* 0x68 */ 0x07, 0x07, 0x07, 0x07, 0x07, 0x07, 0x07, 0x07,
	/* 0x70 */ 0x07, 0x07, 0x07, 0x07, 0x07, 0x07, 0x07, 0x07,
	/* 0x78 */ 0x07, 0x07, 0x07, 0x06, 0x07, 0x06, 0x07, 0x00,
	/* 0x80 */ 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02,
	/* 0x88 */ 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02,
	/* 0x90 */ 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02,
	/* 0x98 */ 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02,
	/* 0xa0 */ 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02,
	/* 0xa8 */ 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02,
	/* 0xb0 */ 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02,
	/* 0xb8 */ 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02,
	/* 0xc0 */ 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02,
	/* 0xc8 */ 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02,
	/* 0xd0 */ 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02,
	/* 0xd8 */ 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02,
	/* 0xe0 */ 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02,
	/* 0xe8 */ 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02,
	/* 0xf0 */ 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02,
	/* 0xf8 */ 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02,
};

/*
 * Chunked framer states, in this order on purpose: everything before
 * HTTP1_CH_DATA is on the chunk-size line (counted in line_len), everything
 * from HTTP1_CH_TRAILER on is in the trailer section (counted in
 * trailer_len).
 */
enum http1_chunk_state {
	HTTP1_CH_SIZE_FIRST = 0,	/* first hex digit of chunk-size */
	HTTP1_CH_SIZE,			/* more hex digits, or what follows */
	HTTP1_CH_EXT_SEMI,		/* BWS seen: only ';' may follow */
	HTTP1_CH_EXT_NAME0,		/* after ';': BWS, then a name */
	HTTP1_CH_EXT_NAME,		/* in an extension name */
	HTTP1_CH_EXT_NAME_WS,		/* BWS after a name: '=' or ';' */
	HTTP1_CH_EXT_VAL0,		/* after '=': BWS, then a value */
	HTTP1_CH_EXT_VAL,		/* in a token value */
	HTTP1_CH_EXT_QUOTED,		/* in a quoted-string value */
	HTTP1_CH_EXT_QPAIR,		/* after a backslash in quotes */
	HTTP1_CH_EXT_END,		/* after the closing quote */
	HTTP1_CH_SIZE_LF,		/* CR seen, LF must follow */
	HTTP1_CH_DATA,			/* remaining bytes of chunk data */
	HTTP1_CH_DATA_CR,		/* CRLF after chunk data */
	HTTP1_CH_DATA_LF,
	HTTP1_CH_TRAILER,		/* a trailer line, or the final CRLF */
	HTTP1_CH_TRAILER_NAME,
	HTTP1_CH_TRAILER_VALUE,
	HTTP1_CH_TRAILER_LF,
	HTTP1_CH_END_LF,		/* the final LF */
	HTTP1_CH_ERROR,			/* sticky: the stream is unusable */
};

/* What the header fields say about framing, gathered in one pass. */
struct http1_fields {
	const struct http1_header *cl;		/* Content-Length */
	const struct http1_header *te;		/* Transfer-Encoding */
	const struct http1_header *host;
	int		 conn_close;
	int		 conn_keep_alive;
	int		 conn_upgrade;
	int		 has_upgrade;
	int		 expect_continue;
};

static int
http1_is(int c, int cls)
{
	return (http1_class[(unsigned char)c] & cls) != 0;
}

static int
http1_is_ows(int c)
{
	return c == ' ' || c == '\t';
}

/* ASCII only: tolower() would depend on the locale. */
static int
http1_lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

static int
http1_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = http1_lower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static enum http1_result
http1_error(const char **why, enum http1_result r, const char *msg)
{
	if (why != NULL)
		*why = msg;
	return r;
}

/* Methods are case-sensitive (RFC 9110 9.1). */
static int
http1_method_is(struct http1_str m, const char *lit)
{
	size_t	 n = strlen(lit);

	return m.len == n && memcmp(m.p, lit, n) == 0;
}

int
http1_case_eq(const char *p, const char *lit, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (http1_lower((unsigned char)p[i]) !=
		    http1_lower((unsigned char)lit[i]))
			return 0;
	}
	return 1;
}

const struct http1_header *
http1_find(const struct http1_head *h, const char *name)
{
	size_t	 i;

	for (i = 0; i < h->nheaders; i++) {
		if (http1_str_eq(h->headers[i].name, name))
			return &h->headers[i];
	}
	return NULL;
}

/* An authority as authority.c reads it; need_port: a CONNECT target. */
static int
http1_authority_ok(const char *p, size_t len, int need_port)
{
	struct authority a;

	return authority_parse(p, len, &a) == 0 && (!need_port || a.port != 0);
}

static int
http1_prefix_ci(struct http1_str s, const char *lit, size_t n)
{
	struct http1_str head = { s.p, n };

	return s.len >= n && http1_str_eq(head, lit);
}

/* http:// or https:// with a valid authority, then a path or query. */
static int
http1_absolute_ok(struct http1_str t)
{
	size_t	 skip, i;

	if (http1_prefix_ci(t, "http://", 7))
		skip = 7;
	else if (http1_prefix_ci(t, "https://", 8))
		skip = 8;
	else
		return 0;
	for (i = skip; i < t.len && t.p[i] != '/' && t.p[i] != '?'; i++)
		;
	return http1_authority_ok(t.p + skip, i - skip, 0);
}

/* The target's form must suit the method (RFC 9112 3.2). */
static int
http1_target_ok(struct http1_str method, struct http1_str t)
{
	if (http1_method_is(method, "CONNECT"))
		return http1_authority_ok(t.p, t.len, 1);
	if (t.p[0] == '/')
		return 1;
	if (t.len == 1 && t.p[0] == '*')
		return http1_method_is(method, "OPTIONS");
	return http1_absolute_ok(t);
}

static int
http1_version(const char *p, size_t len, int *minor)
{
	if (len != 8 || memcmp(p, "HTTP/1.", 7) != 0 ||
	    (p[7] != '0' && p[7] != '1'))
		return -1;
	*minor = p[7] - '0';
	return 0;
}

/* method SP request-target SP HTTP-version, on the line [p, e). */
static enum http1_result
http1_request_line(const char *p, const char *e, struct http1_head *h,
    const char **why)
{
	const char	*q = p;

	while (q < e && http1_is(*q, HTTP1_C_TCHAR))
		q++;
	if (q == p || q == e || *q != ' ')
		return http1_error(why, HTTP1_ERR_MALFORMED, "bad method");
	h->method.p = p;
	h->method.len = q - p;

	p = ++q;
	while (q < e && http1_is(*q, HTTP1_C_TARGET))
		q++;
	if (q == p || q == e || *q != ' ')
		return http1_error(why, HTTP1_ERR_MALFORMED,
		    "bad request target");
	h->target.p = p;
	h->target.len = q - p;
	if (!http1_target_ok(h->method, h->target))
		return http1_error(why, HTTP1_ERR_MALFORMED,
		    "request target does not suit the method");

	q++;
	if (http1_version(q, e - q, &h->version_minor) == -1)
		return http1_error(why, HTTP1_ERR_MALFORMED,
		    "bad HTTP version");
	return HTTP1_OK;
}

/* HTTP-version SP 3DIGIT [SP reason], on the line [p, e). */
static enum http1_result
http1_status_line(const char *p, const char *e, struct http1_head *h,
    const char **why)
{
	const char	*q;
	int		 i;

	if (e - p < 12 || http1_version(p, 8, &h->version_minor) == -1 ||
	    p[8] != ' ')
		return http1_error(why, HTTP1_ERR_MALFORMED, "bad status line");
	q = p + 9;
	if (q[0] < '1' || q[0] > '5')
		return http1_error(why, HTTP1_ERR_MALFORMED, "bad status code");
	h->status = 0;
	for (i = 0; i < 3; i++) {
		if (q[i] < '0' || q[i] > '9')
			return http1_error(why, HTTP1_ERR_MALFORMED,
			    "bad status code");
		h->status = h->status * 10 + (q[i] - '0');
	}
	q += 3;
	if (q < e && *q++ != ' ')
		return http1_error(why, HTTP1_ERR_MALFORMED, "bad status code");
	h->reason.p = q;
	h->reason.len = e - q;
	while (q < e && http1_is(*q, HTTP1_C_FIELD))
		q++;
	if (q != e)
		return http1_error(why, HTTP1_ERR_MALFORMED,
		    "bad reason phrase");
	return HTTP1_OK;
}

/* field-name ":" OWS field-value OWS, on the line [p, e). */
static enum http1_result
http1_field_line(const char *p, const char *e, struct http1_header *hd,
    const char **why)
{
	const char	*q = p, *v;

	if (http1_is_ows(*p))
		return http1_error(why, HTTP1_ERR_MALFORMED, "obs-fold");
	while (q < e && http1_is(*q, HTTP1_C_TCHAR))
		q++;
	if (q < e && http1_is_ows(*q))
		return http1_error(why, HTTP1_ERR_MALFORMED,
		    "whitespace before colon");
	if (q == p || q == e || *q != ':')
		return http1_error(why, HTTP1_ERR_MALFORMED, "bad field name");
	hd->name.p = p;
	hd->name.len = q - p;

	q++;
	while (q < e && http1_is_ows(*q))
		q++;
	v = q;
	while (q < e && http1_is(*q, HTTP1_C_FIELD))
		q++;
	if (q != e)
		return http1_error(why, HTTP1_ERR_MALFORMED,
		    "control byte in field value");
	while (q > v && http1_is_ows(q[-1]))
		q--;
	hd->value.p = v;
	hd->value.len = q - v;
	return HTTP1_OK;
}

/*
 * Next element of a comma-separated token list (RFC 9110 5.6.1), skipping
 * empty elements as the RFC asks.  1: *tok is set; 0: the list is over;
 * -1: an element that is not a bare token.
 */
static int
http1_list_next(struct http1_str *rest, struct http1_str *tok)
{
	const char	*p = rest->p, *e = rest->p + rest->len, *t;

	while (p < e && (*p == ',' || http1_is_ows(*p)))
		p++;
	if (p == e)
		return 0;
	t = p;
	while (p < e && http1_is(*p, HTTP1_C_TCHAR))
		p++;
	if (p == t)
		return -1;
	tok->p = t;
	tok->len = p - t;
	while (p < e && http1_is_ows(*p))
		p++;
	if (p < e && *p != ',')
		return -1;
	rest->p = p;
	rest->len = e - p;
	return 1;
}

/* 1*DIGIT, nothing else, at most 2^63 - 1. */
static int
http1_length(struct http1_str v, uint64_t *out)
{
	uint64_t	 n = 0;
	size_t		 i;
	int		 d;

	if (v.len == 0)
		return -1;
	for (i = 0; i < v.len; i++) {
		if (v.p[i] < '0' || v.p[i] > '9')
			return -1;
		d = v.p[i] - '0';
		if (n > ((uint64_t)INT64_MAX - d) / 10)
			return -1;
		n = n * 10 + d;
	}
	*out = n;
	return 0;
}

/*
 * One pass over the fields for what both requests and responses need:
 * framing headers (each at most once, never both), Host, and the Connection
 * options.
 */
static enum http1_result
http1_fields(struct http1_head *h, struct http1_fields *f, const char **why)
{
	const struct http1_header	*hd;
	struct http1_str		 rest, tok;
	size_t				 i;
	int				 r;

	memset(f, 0, sizeof(*f));
	for (i = 0; i < h->nheaders; i++) {
		hd = &h->headers[i];
		switch (hd->name.len) {
		case 4:
			if (!http1_str_eq(hd->name, "host"))
				break;
			if (f->host != NULL)
				return http1_error(why, HTTP1_ERR_MALFORMED,
				    "duplicate Host");
			f->host = hd;
			break;
		case 6:
			if (http1_str_eq(hd->name, "expect") &&
			    http1_str_eq(hd->value, "100-continue"))
				f->expect_continue = 1;
			break;
		case 7:
			if (http1_str_eq(hd->name, "upgrade"))
				f->has_upgrade = 1;
			break;
		case 10:
			if (!http1_str_eq(hd->name, "connection"))
				break;
			rest = hd->value;
			while ((r = http1_list_next(&rest, &tok)) == 1) {
				if (http1_str_eq(tok, "keep-alive"))
					f->conn_keep_alive = 1;
				else if (http1_str_eq(tok, "upgrade"))
					f->conn_upgrade = 1;
				else {
					if (http1_str_eq(tok, "close"))
						f->conn_close = 1;
					h->conn_names++;
				}
			}
			if (r == -1)
				return http1_error(why, HTTP1_ERR_MALFORMED,
				    "bad Connection");
			break;
		case 14:
			if (!http1_str_eq(hd->name, "content-length"))
				break;
			if (f->cl != NULL)
				return http1_error(why, HTTP1_ERR_MALFORMED,
				    "duplicate Content-Length");
			f->cl = hd;
			if (http1_length(hd->value, &h->content_length) == -1)
				return http1_error(why, HTTP1_ERR_MALFORMED,
				    "bad Content-Length");
			break;
		case 17:
			if (!http1_str_eq(hd->name, "transfer-encoding"))
				break;
			if (f->te != NULL)
				return http1_error(why, HTTP1_ERR_MALFORMED,
				    "duplicate Transfer-Encoding");
			f->te = hd;
			break;
		}
	}
	if (f->cl != NULL && f->te != NULL)
		return http1_error(why, HTTP1_ERR_MALFORMED,
		    "conflicting Content-Length and Transfer-Encoding");
	h->length_field = f->cl != NULL;
	if (f->te != NULL)
		h->te = f->te->value;
	/* RFC 9112 6.1: the framing of such a message is faulty. */
	if (f->te != NULL && h->version_minor == 0)
		return http1_error(why, HTTP1_ERR_MALFORMED,
		    "Transfer-Encoding in HTTP/1.0");

	if (f->conn_close)
		h->keep_alive = 0;
	else
		h->keep_alive = h->version_minor == 1 || f->conn_keep_alive;
	h->upgrade = f->conn_upgrade && f->has_upgrade;
	return HTTP1_OK;
}

static enum http1_result
http1_request_framing(struct http1_head *h, const char **why)
{
	struct http1_fields	 f;
	enum http1_result	 r;

	if ((r = http1_fields(h, &f, why)) != HTTP1_OK)
		return r;
	if (f.host == NULL && h->version_minor == 1)
		return http1_error(why, HTTP1_ERR_MALFORMED, "missing Host");
	if (f.host != NULL) {
		if (!http1_authority_ok(f.host->value.p, f.host->value.len, 0))
			return http1_error(why, HTTP1_ERR_MALFORMED,
			    "bad Host");
		h->host = f.host->value;
	}
	/* Expect is an HTTP/1.1 feature (RFC 9110 10.1.1). */
	h->expect_continue = f.expect_continue && h->version_minor == 1;

	if (f.te != NULL) {
		if (!http1_str_eq(f.te->value, "chunked"))
			return http1_error(why, HTTP1_ERR_MALFORMED,
			    "unsupported Transfer-Encoding");
		h->body = HTTP1_BODY_CHUNKED;
	} else if (f.cl != NULL && h->content_length > 0)
		h->body = HTTP1_BODY_LENGTH;
	return HTTP1_OK;
}

/*
 * A response's Transfer-Encoding: a final "chunked" is chunked framing, any
 * other list of codings is read until close (RFC 9112 6.3).
 */
static enum http1_result
http1_response_te(struct http1_head *h, struct http1_str value,
    const char **why)
{
	struct http1_str	 rest = value, tok, last = { NULL, 0 };
	int			 nchunked = 0, r;

	/* sluice writes it again on the way out (h1codec.c). */
	if (value.len > HTTP1_TE_MAX)
		return http1_error(why, HTTP1_ERR_MALFORMED,
		    "Transfer-Encoding too long");

	while ((r = http1_list_next(&rest, &tok)) == 1) {
		if (http1_str_eq(tok, "chunked"))
			nchunked++;
		last = tok;
	}
	if (r == -1 || last.p == NULL)
		return http1_error(why, HTTP1_ERR_MALFORMED,
		    "bad Transfer-Encoding");
	if (!http1_str_eq(last, "chunked"))
		h->body = HTTP1_BODY_UNTIL_CLOSE;
	else if (nchunked > 1)
		return http1_error(why, HTTP1_ERR_MALFORMED,
		    "chunked applied twice");
	else
		h->body = HTTP1_BODY_CHUNKED;
	return HTTP1_OK;
}

static enum http1_result
http1_response_framing(struct http1_head *h, struct http1_str method,
    const char **why)
{
	struct http1_fields	 f;
	enum http1_result	 r;

	if ((r = http1_fields(h, &f, why)) != HTTP1_OK)
		return r;
	if (f.te != NULL && (r = http1_response_te(h, f.te->value, why)) !=
	    HTTP1_OK)
		return r;

	if (http1_method_is(method, "HEAD") || h->status < 200 ||
	    h->status == 204 || h->status == 304 ||
	    (http1_method_is(method, "CONNECT") && h->status < 300))
		h->body = HTTP1_BODY_NONE;
	else if (f.te == NULL && f.cl != NULL)
		h->body = h->content_length > 0 ?
		    HTTP1_BODY_LENGTH : HTTP1_BODY_NONE;
	else if (f.te == NULL)
		h->body = HTTP1_BODY_UNTIL_CLOSE;

	if (h->body != HTTP1_BODY_LENGTH)
		h->content_length = 0;
	if (h->body == HTTP1_BODY_UNTIL_CLOSE)
		h->keep_alive = 0;
	return HTTP1_OK;
}

static void
http1_head_reset(struct http1_head *h)
{
	/* Not memset: headers[] is 4 KiB and only [0, nheaders) is read. */
	h->method.p = h->target.p = h->reason.p = h->host.p = h->te.p = NULL;
	h->method.len = h->target.len = h->reason.len = h->host.len = 0;
	h->te.len = 0;
	h->status = 0;
	h->version_minor = 0;
	h->nheaders = 0;
	h->head_len = 0;
	h->body = HTTP1_BODY_NONE;
	h->content_length = 0;
	h->length_field = 0;
	h->keep_alive = 0;
	h->expect_continue = 0;
	h->upgrade = 0;
	h->conn_names = 0;
}

/*
 * Split buf into CRLF-terminated lines up to the blank line and check each
 * as it completes.  Only the first HTTP1_MAX_HEAD bytes are looked at, so a
 * head may be exactly that long, blank line included.
 */
static enum http1_result
http1_head(const char *buf, size_t len, int request, struct http1_head *h,
    const char **why)
{
	const char		*p = buf, *end, *lf;
	enum http1_result	 r;

	http1_head_reset(h);
	end = buf + (len < HTTP1_MAX_HEAD ? len : HTTP1_MAX_HEAD);
	while ((lf = memchr(p, '\n', end - p)) != NULL) {
		if (lf == p || lf[-1] != '\r')
			return http1_error(why, HTTP1_ERR_MALFORMED, "bare LF");
		if (lf - 1 == p) {
			if (p == buf)
				return http1_error(why, HTTP1_ERR_MALFORMED,
				    "empty line before the start line");
			h->head_len = lf + 1 - buf;
			return HTTP1_OK;
		}
		if (p == buf)
			r = request ? http1_request_line(p, lf - 1, h, why) :
			    http1_status_line(p, lf - 1, h, why);
		else if (h->nheaders == HTTP1_MAX_HEADERS)
			return http1_error(why, HTTP1_ERR_TOO_LARGE,
			    "too many header fields");
		else
			r = http1_field_line(p, lf - 1,
			    &h->headers[h->nheaders++], why);
		if (r != HTTP1_OK)
			return r;
		p = lf + 1;
	}
	if (len >= HTTP1_MAX_HEAD)
		return http1_error(why, HTTP1_ERR_TOO_LARGE, "head too large");
	return HTTP1_INCOMPLETE;
}

enum http1_result
http1_parse_request(const char *buf, size_t len, struct http1_head *h,
    const char **why)
{
	enum http1_result	 r;

	if ((r = http1_head(buf, len, 1, h, why)) != HTTP1_OK)
		return r;
	return http1_request_framing(h, why);
}

enum http1_result
http1_parse_response(const char *buf, size_t len,
    struct http1_str request_method, struct http1_head *h, const char **why)
{
	enum http1_result	 r;

	if ((r = http1_head(buf, len, 0, h, why)) != HTTP1_OK)
		return r;
	return http1_response_framing(h, request_method, why);
}

void
http1_body_init(struct http1_body *b, enum http1_body_kind kind,
    uint64_t content_length)
{
	memset(b, 0, sizeof(*b));
	b->kind = kind;
	b->state = HTTP1_CH_SIZE_FIRST;
	if (kind == HTTP1_BODY_LENGTH)
		b->remaining = content_length;
	b->done = kind == HTTP1_BODY_NONE ||
	    (kind == HTTP1_BODY_LENGTH && content_length == 0);
}

/*
 * Where a chunk-size line goes after the size or after a whole extension:
 * another extension, or the end of the line.  Whitespace is allowed only
 * before a ';' (BWS in RFC 9112 7.1.1), never before the CR.
 */
static int
http1_chunk_ext_next(int c)
{
	if (c == ';')
		return HTTP1_CH_EXT_NAME0;
	if (http1_is_ows(c))
		return HTTP1_CH_EXT_SEMI;
	if (c == '\r')
		return HTTP1_CH_SIZE_LF;
	return HTTP1_CH_ERROR;
}

/* One byte of the size line, chunk CRLF or trailers: the next state. */
static int
http1_chunk_step(struct http1_body *b, int c)
{
	int	 x;

	switch (b->state) {
	case HTTP1_CH_SIZE_FIRST:
	case HTTP1_CH_SIZE:
		if ((x = http1_hexval(c)) != -1) {
			if (b->line_len > 16 ||
			    b->remaining > ((uint64_t)INT64_MAX - x) >> 4)
				return HTTP1_CH_ERROR;
			b->remaining = b->remaining << 4 | x;
			return HTTP1_CH_SIZE;
		}
		if (b->state == HTTP1_CH_SIZE_FIRST)
			return HTTP1_CH_ERROR;
		return http1_chunk_ext_next(c);
	case HTTP1_CH_EXT_SEMI:
		if (http1_is_ows(c))
			return HTTP1_CH_EXT_SEMI;
		return c == ';' ? HTTP1_CH_EXT_NAME0 : HTTP1_CH_ERROR;
	case HTTP1_CH_EXT_NAME0:
		if (http1_is_ows(c))
			return HTTP1_CH_EXT_NAME0;
		return http1_is(c, HTTP1_C_TCHAR) ?
		    HTTP1_CH_EXT_NAME : HTTP1_CH_ERROR;
	case HTTP1_CH_EXT_NAME:
		if (http1_is(c, HTTP1_C_TCHAR))
			return HTTP1_CH_EXT_NAME;
		if (c == '=')
			return HTTP1_CH_EXT_VAL0;
		if (http1_is_ows(c))
			return HTTP1_CH_EXT_NAME_WS;
		return http1_chunk_ext_next(c);
	case HTTP1_CH_EXT_NAME_WS:
		if (http1_is_ows(c))
			return HTTP1_CH_EXT_NAME_WS;
		if (c == '=')
			return HTTP1_CH_EXT_VAL0;
		return c == ';' ? HTTP1_CH_EXT_NAME0 : HTTP1_CH_ERROR;
	case HTTP1_CH_EXT_VAL0:
		if (http1_is_ows(c))
			return HTTP1_CH_EXT_VAL0;
		if (c == '"')
			return HTTP1_CH_EXT_QUOTED;
		return http1_is(c, HTTP1_C_TCHAR) ?
		    HTTP1_CH_EXT_VAL : HTTP1_CH_ERROR;
	case HTTP1_CH_EXT_VAL:
		if (http1_is(c, HTTP1_C_TCHAR))
			return HTTP1_CH_EXT_VAL;
		return http1_chunk_ext_next(c);
	case HTTP1_CH_EXT_QUOTED:
		if (c == '"')
			return HTTP1_CH_EXT_END;
		if (c == '\\')
			return HTTP1_CH_EXT_QPAIR;
		return http1_is(c, HTTP1_C_FIELD) ?
		    HTTP1_CH_EXT_QUOTED : HTTP1_CH_ERROR;
	case HTTP1_CH_EXT_QPAIR:
		return http1_is(c, HTTP1_C_FIELD) ?
		    HTTP1_CH_EXT_QUOTED : HTTP1_CH_ERROR;
	case HTTP1_CH_EXT_END:
		return http1_chunk_ext_next(c);
	case HTTP1_CH_SIZE_LF:
		if (c != '\n')
			return HTTP1_CH_ERROR;
		b->line_len = 0;
		return b->remaining == 0 ? HTTP1_CH_TRAILER : HTTP1_CH_DATA;
	case HTTP1_CH_DATA_CR:
		return c == '\r' ? HTTP1_CH_DATA_LF : HTTP1_CH_ERROR;
	case HTTP1_CH_DATA_LF:
		return c == '\n' ? HTTP1_CH_SIZE_FIRST : HTTP1_CH_ERROR;
	case HTTP1_CH_TRAILER:
		if (c == '\r')
			return HTTP1_CH_END_LF;
		return http1_is(c, HTTP1_C_TCHAR) ?
		    HTTP1_CH_TRAILER_NAME : HTTP1_CH_ERROR;
	case HTTP1_CH_TRAILER_NAME:
		if (http1_is(c, HTTP1_C_TCHAR))
			return HTTP1_CH_TRAILER_NAME;
		return c == ':' ? HTTP1_CH_TRAILER_VALUE : HTTP1_CH_ERROR;
	case HTTP1_CH_TRAILER_VALUE:
		if (http1_is(c, HTTP1_C_FIELD))
			return HTTP1_CH_TRAILER_VALUE;
		return c == '\r' ? HTTP1_CH_TRAILER_LF : HTTP1_CH_ERROR;
	case HTTP1_CH_TRAILER_LF:
		return c == '\n' ? HTTP1_CH_TRAILER : HTTP1_CH_ERROR;
	case HTTP1_CH_END_LF:
		if (c != '\n')
			return HTTP1_CH_ERROR;
		b->done = 1;
		return HTTP1_CH_END_LF;
	}
	return HTTP1_CH_ERROR;
}

/* One framing byte of a chunked body; -1 on an error or a line too long. */
static int
http1_chunk_byte(struct http1_body *b, int c)
{
	if (b->state < HTTP1_CH_DATA) {
		if (++b->line_len > HTTP1_LINE_MAX)
			return -1;
	} else if (b->state >= HTTP1_CH_TRAILER) {
		if (++b->trailer_len > HTTP1_LINE_MAX)
			return -1;
	}
	b->state = http1_chunk_step(b, c);
	return b->state == HTTP1_CH_ERROR ? -1 : 0;
}

/*
 * A chunked body: data in bulk up to the end of the chunk, or framing
 * bytes one at a time until data, the trailer section or the end begins
 * (the trailer section likewise until the end).
 */
static ssize_t
http1_body_chunked(struct http1_body *b, const char *buf, size_t len,
    enum http1_part *part)
{
	size_t	 i = 0;
	int	 trailers = b->state >= HTTP1_CH_TRAILER;

	if (b->state == HTTP1_CH_DATA) {
		*part = HTTP1_PART_DATA;
		i = len < b->remaining ? len : b->remaining;
		b->remaining -= i;
		b->payload += i;
		if (b->remaining == 0)
			b->state = HTTP1_CH_DATA_CR;
		return i;
	}
	*part = trailers ? HTTP1_PART_TRAILERS : HTTP1_PART_FRAMING;
	while (i < len && !b->done && b->state != HTTP1_CH_DATA &&
	    (b->state >= HTTP1_CH_TRAILER) == trailers)
		if (http1_chunk_byte(b, (unsigned char)buf[i++]) == -1) {
			b->state = HTTP1_CH_ERROR;
			return -1;
		}
	return i;
}

ssize_t
http1_body_decode(struct http1_body *b, const char *buf, size_t len,
    enum http1_part *part)
{
	size_t	 n;

	*part = HTTP1_PART_DATA;
	if (b->kind == HTTP1_BODY_CHUNKED && b->state == HTTP1_CH_ERROR)
		return -1;
	if (b->done)
		return 0;
	switch (b->kind) {
	case HTTP1_BODY_LENGTH:
		n = len < b->remaining ? len : b->remaining;
		b->remaining -= n;
		b->payload += n;
		b->done = b->remaining == 0;
		return n;
	case HTTP1_BODY_CHUNKED:
		return http1_body_chunked(b, buf, len, part);
	case HTTP1_BODY_UNTIL_CLOSE:
		b->payload += len;
		return len;
	case HTTP1_BODY_NONE:
		break;
	}
	return 0;
}

ssize_t
http1_body_feed(struct http1_body *b, const char *buf, size_t len)
{
	enum http1_part	 part;
	size_t		 i = 0;
	ssize_t		 n;

	if (b->kind == HTTP1_BODY_CHUNKED && b->state == HTTP1_CH_ERROR)
		return -1;
	while (i < len && !b->done) {
		if ((n = http1_body_decode(b, buf + i, len - i, &part)) < 0)
			return -1;
		if (n == 0)
			break;
		i += n;
	}
	return i;
}

int
http1_body_eof(struct http1_body *b)
{
	if (b->kind == HTTP1_BODY_UNTIL_CLOSE)
		b->done = 1;
	return b->done ? 0 : -1;
}

int
http1_list_has(struct http1_str v, struct http1_str t)
{
	const char *p = v.p, *end = v.p + v.len, *e;
	size_t n;

	while (p < end) {
		while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
			p++;
		for (e = p; e < end && *e != ','; e++)
			;
		n = e - p;
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n > 0 && n == t.len && strncasecmp(p, t.p, n) == 0)
			return 1;
		p = e;
	}
	return 0;
}

int
http1_is_framing_field(struct http1_str name)
{
	return http1_str_eq(name, "content-length") ||
	    http1_str_eq(name, "transfer-encoding");
}

/*
 * What Connection may not take away: the fields a recipient frames the
 * message by, the Host it is addressed to, and Upgrade (which is ended
 * here, or honoured, by its own rules).  Dropping one of them while still
 * forwarding the body would let the next hop frame the bytes differently.
 */
static int
http1_is_pinned_field(struct http1_str name)
{
	return http1_is_framing_field(name) || http1_str_eq(name, "host") ||
	    http1_str_eq(name, "upgrade");
}

int
http1_is_hop_field(const struct http1_head *h, struct http1_str name)
{
	size_t i;

	if (http1_str_eq(name, "connection") ||
	    http1_str_eq(name, "keep-alive") ||
	    http1_str_eq(name, "proxy-connection"))
		return 1;
	if (http1_is_pinned_field(name))
		return 0;
	/*
	 * Keep-Alive is hop-by-hop anyway and Upgrade is pinned: unless
	 * Connection names something else ("close" included), no field need
	 * be looked for in it.  Most messages are like that, and this is
	 * asked about each of their fields.
	 */
	if (h->conn_names == 0)
		return 0;
	for (i = 0; i < h->nheaders; i++)
		if (http1_str_eq(h->headers[i].name, "connection") &&
		    http1_list_has(h->headers[i].value, name))
			return 1;
	return 0;
}
