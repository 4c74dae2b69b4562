/*
 * http1.h - strict HTTP/1.1 message heads and body framing.
 *
 * Pure parsing: no I/O and no allocation.  A head is parsed from one
 * contiguous buffer and the result points into that buffer.  Bodies are
 * decoded incrementally (Content-Length or chunked) into data, framing and
 * trailers, so the caller can stream a message's data and write its own
 * framing without ever holding a whole body.  Fuzzed by
 * tests/fuzz/fuzz_http1.c.
 *
 * Anything that could be framed two ways is refused (HTTP1_ERR_*): both
 * Content-Length and Transfer-Encoding, duplicate or invalid Content-Length,
 * a Transfer-Encoding other than a final "chunked", obs-fold, a bare CR or a
 * bare LF, NUL or other control bytes in names/values, whitespace before the
 * colon, an invalid method token or request target, a version other than
 * HTTP/1.0 or HTTP/1.1.
 */
#ifndef SLUICE_HTTP1_H
#define SLUICE_HTTP1_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#define HTTP1_MAX_HEAD    65536	/* bytes of request line/status line + headers */
#define HTTP1_MAX_HEADERS 128

struct http1_str {
	const char	*p;
	size_t		 len;
};

struct http1_header {
	struct http1_str name;
	struct http1_str value;		/* leading/trailing OWS stripped */
};

enum http1_body_kind {
	HTTP1_BODY_NONE = 0,		/* no body (length 0, HEAD, 1xx, 204, 304) */
	HTTP1_BODY_LENGTH,		/* content_length bytes */
	HTTP1_BODY_CHUNKED,		/* chunked framing */
	HTTP1_BODY_UNTIL_CLOSE,		/* response read until the upstream closes */
};

struct http1_head {
	/* request line (requests only) */
	struct http1_str method;
	struct http1_str target;	/* as sent: origin, absolute, authority form or '*' */
	/* status line (responses only) */
	int		 status;
	struct http1_str reason;

	int		 version_minor;	/* 0 or 1 */
	struct http1_header headers[HTTP1_MAX_HEADERS];
	size_t		 nheaders;
	size_t		 head_len;	/* bytes up to and including the blank line */

	/* derived */
	enum http1_body_kind body;
	uint64_t	 content_length;	/* HTTP1_BODY_LENGTH only */
	int		 length_field;		/* a Content-Length field was sent */
	int		 keep_alive;		/* per version and Connection */
	int		 expect_continue;	/* request had Expect: 100-continue */
	int		 upgrade;		/* Connection: upgrade + Upgrade present */
	int		 conn_names;		/* Connection tokens besides keep-alive, upgrade */
	struct http1_str host;			/* Host header value (requests), or empty */
	struct http1_str te;			/* Transfer-Encoding value, or empty */
};

enum http1_result {
	HTTP1_OK = 0,
	HTTP1_INCOMPLETE = 1,		/* need more bytes (and < HTTP1_MAX_HEAD so far) */
	HTTP1_ERR_TOO_LARGE = -1,	/* head exceeds HTTP1_MAX_HEAD or too many headers */
	HTTP1_ERR_MALFORMED = -2,	/* syntax error or ambiguous framing */
};

/*
 * Parse a request head from buf[0..len).  Requests without Content-Length or
 * Transfer-Encoding have HTTP1_BODY_NONE.  On error, *why (if not NULL) is set
 * to a short static description such as "conflicting Content-Length and
 * Transfer-Encoding".
 */
enum http1_result http1_parse_request(const char *buf, size_t len,
    struct http1_head *h, const char **why);

/*
 * Parse a response head.  request_method is the method of the request it
 * answers (a response to HEAD, and 1xx/204/304, have HTTP1_BODY_NONE; one
 * with neither Content-Length nor chunked is HTTP1_BODY_UNTIL_CLOSE and has
 * keep_alive 0).
 */
enum http1_result http1_parse_response(const char *buf, size_t len,
    struct http1_str request_method, struct http1_head *h, const char **why);

/* Find a header (case-insensitive); NULL when absent. */
const struct http1_header *http1_find(const struct http1_head *h,
    const char *name);

/* Case-insensitive (ASCII) compare of n bytes at p with n bytes at lit. */
int http1_case_eq(const char *p, const char *lit, size_t n);

/*
 * Case-insensitive compare of an http1_str with a NUL-terminated string.
 * Inline so that strlen() of a literal is a constant: most calls compare a
 * field name with a name of another length, and that costs one comparison.
 */
static inline int
http1_str_eq(struct http1_str s, const char *lit)
{
	size_t	 n = strlen(lit);

	return s.len == n && http1_case_eq(s.p, lit, n);
}

/* Does the comma-separated list v contain token t (case-insensitively)? */
int http1_list_has(struct http1_str v, struct http1_str t);

/*
 * Is the field hop-by-hop in h (RFC 9110, 7.6.1): Connection, Keep-Alive,
 * Proxy-Connection, or a field that Connection names?  Connection cannot
 * name Content-Length, Transfer-Encoding, Host or Upgrade away: those are
 * never hop-by-hop here.  A proxy drops these and sends its own.
 */
int http1_is_hop_field(const struct http1_head *h, struct http1_str name);

/* Content-Length or Transfer-Encoding: the fields a body is framed by. */
int http1_is_framing_field(struct http1_str name);

/* A longer Transfer-Encoding is refused: sluice must be able to write it. */
#define HTTP1_TE_MAX		256

/* Incremental body framer. */
struct http1_body {
	enum http1_body_kind kind;
	uint64_t	 remaining;	/* LENGTH: bytes left; CHUNKED: bytes left in chunk */
	int		 state;		/* chunked parser state, private */
	size_t		 line_len;	/* chunked: bytes in the current size/trailer line */
	size_t		 trailer_len;	/* chunked: bytes of trailers so far */
	uint64_t	 payload;	/* payload bytes seen (without chunk framing) */
	int		 done;		/* the message ended */
};

void http1_body_init(struct http1_body *b, enum http1_body_kind kind,
    uint64_t content_length);

/*
 * Feed buf[0..len).  Returns how many of these bytes belong to the message
 * (data, chunk framing and trailers alike); fewer than len
 * only when the message ended (b->done set) and the rest is the next
 * message.  Returns -1 on malformed chunk framing (bad hex, size overflow,
 * missing CRLF, size line or trailers over 8 KiB).  UNTIL_CLOSE consumes all
 * and ends only with http1_body_eof().
 */
ssize_t http1_body_feed(struct http1_body *b, const char *buf, size_t len);

/* What a run of body bytes is, once decoded. */
enum http1_part {
	HTTP1_PART_DATA = 0,		/* payload */
	HTTP1_PART_FRAMING,		/* chunk-size lines (extensions too) and
					   the CRLF after each chunk's data */
	HTTP1_PART_TRAILERS,		/* the trailer section: its field lines
					   and the final CRLF */
};

/*
 * Decode: how many bytes at the start of buf[0..len) are of one part
 * (*part), checked as http1_body_feed() checks them.  Data comes in runs
 * as long as buf allows (a chunk's data is not looked at); framing and
 * trailers end at the next change of part.  0 once b->done; -1 as for
 * http1_body_feed().  The caller moves the data, drops the framing and
 * keeps the trailer section (bounded at 8 KiB) to import at the end.
 */
ssize_t http1_body_decode(struct http1_body *b, const char *buf, size_t len,
    enum http1_part *part);

/* The peer closed: 0 if that ends the message properly, -1 if truncated. */
int http1_body_eof(struct http1_body *b);

#endif
