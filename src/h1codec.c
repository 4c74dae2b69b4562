/*
 * h1codec.c - HTTP/1.1 heads <-> neutral messages.
 *
 * Owns what is HTTP/1 about a message: which fields are hop-by-hop
 * (RFC 9110 7.6.1) or framing (RFC 9112 6), the request and status lines,
 * the framing written for a body (chunk lines, the end) and which fields
 * may be trailers, and the trailer section imported into a message.  Does
 * not own parsing (http1.c, the fuzzed parser, stays the only reader of
 * client bytes), the body's data (the data path moves it), nor policy.
 *
 * Cost: a head is imported with one memcpy into the message's arena and
 * its fields are offsets into that copy; a head is written with one
 * evbuffer reservation sized beforehand, no printf.  Only a Connection
 * field makes a field cost more than one length switch.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

#include "authority.h"
#include "h1codec.h"
#include "http1.h"
#include "msg.h"
#include "urlpath.h"

#define H1CODEC_MAX_CONNECTION	8	/* Connection fields looked at */
#define H1CODEC_CHUNK_LINE	(2 * sizeof(size_t) + 2)	/* hex, CRLF */

enum h1codec_class {
	H1_OTHER = 0,
	H1_HOST,
	H1_CONNECTION,
	H1_HOP,			/* Keep-Alive, Proxy-*: never forwarded */
	H1_TE,
	H1_LENGTH,		/* Content-Length */
	H1_TRANSFER,		/* Transfer-Encoding */
	H1_UPGRADE,
};

/* lit is lowercase; its first byte is compared inline, the common miss. */
static int
h1codec_is(const char *s, size_t len, const char *lit, size_t litlen)
{
	return len == litlen && (s[0] | 0x20) == lit[0] &&
	    strncasecmp(s, lit, len) == 0;
}

#define H1CODEC_IS(s, len, lit)	h1codec_is((s), (len), lit, sizeof(lit) - 1)

/* What a field is to HTTP/1, by its name; one switch on the length. */
static enum h1codec_class
h1codec_class(const char *n, size_t len)
{
	if (len > 6 && strncasecmp(n, "proxy-", 6) == 0)
		return H1_HOP;
	switch (len) {
	case 2:
		return H1CODEC_IS(n, len, "te") ? H1_TE : H1_OTHER;
	case 4:
		return H1CODEC_IS(n, len, "host") ? H1_HOST : H1_OTHER;
	case 7:
		return H1CODEC_IS(n, len, "upgrade") ? H1_UPGRADE : H1_OTHER;
	case 10:
		if (H1CODEC_IS(n, len, "connection"))
			return H1_CONNECTION;
		return H1CODEC_IS(n, len, "keep-alive") ? H1_HOP : H1_OTHER;
	case 14:
		return H1CODEC_IS(n, len, "content-length") ? H1_LENGTH :
		    H1_OTHER;
	case 17:
		return H1CODEC_IS(n, len, "transfer-encoding") ? H1_TRANSFER :
		    H1_OTHER;
	}
	return H1_OTHER;
}

/* The Connection fields of h, to drop what they name. */
struct h1codec_conn {
	const struct http1_header *v[H1CODEC_MAX_CONNECTION];
	size_t		 n;
	int		 too_many;
};

/*
 * Does Connection value v name a field that could be present and is not
 * dropped anyway?  "close", "keep-alive", "upgrade" and "te" do not: the
 * usual Connection costs no per-field lookup.
 */
static int
h1codec_conn_names(struct http1_str v)
{
	const char *s = v.p, *end = v.p + v.len, *e;
	size_t n;

	while (s < end) {
		while (s < end && (*s == ' ' || *s == '\t' || *s == ','))
			s++;
		for (e = s; e < end && *e != ','; e++)
			;
		n = e - s;
		while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
			n--;
		if (n > 0 && !H1CODEC_IS(s, n, "close") &&
		    !H1CODEC_IS(s, n, "keep-alive") &&
		    !H1CODEC_IS(s, n, "upgrade") && !H1CODEC_IS(s, n, "te"))
			return 1;
		s = e;
	}
	return 0;
}

static void
h1codec_conn_scan(const struct http1_head *h, struct h1codec_conn *cn)
{
	size_t i;

	cn->n = 0;
	cn->too_many = 0;
	for (i = 0; i < h->nheaders; i++) {
		if (h->headers[i].name.len != 10 ||
		    h1codec_class(h->headers[i].name.p, 10) != H1_CONNECTION ||
		    !h1codec_conn_names(h->headers[i].value))
			continue;
		if (cn->n == H1CODEC_MAX_CONNECTION)
			cn->too_many = 1;
		else
			cn->v[cn->n++] = &h->headers[i];
	}
}

static int
h1codec_named(const struct http1_head *h, const struct h1codec_conn *cn,
    struct http1_str name)
{
	size_t i;

	if (cn->too_many)	/* rare and odd: ask the parser's full walk */
		return http1_is_hop_field(h, name);
	for (i = 0; i < cn->n; i++)
		if (http1_list_has(cn->v[i]->value, name))
			return 1;
	return 0;
}

static struct msg_str
h1codec_at(uint32_t base, const char *p, struct http1_str s)
{
	struct msg_str r = { base + (uint32_t)(s.p - p), (uint32_t)s.len };

	return r;
}

/*
 * Import the fields of h (its bytes are at base in the arena): those that
 * are not hop-by-hop, not Host and, when keep_framing is 0, not framing.
 */
static int
h1codec_import_fields(const struct http1_head *h, const char *p,
    uint32_t base, int keep_framing, struct msg *m)
{
	const struct http1_header *f;
	struct h1codec_conn cn;
	size_t i;

	h1codec_conn_scan(h, &cn);
	for (i = 0; i < h->nheaders; i++) {
		f = &h->headers[i];
		switch (h1codec_class(f->name.p, f->name.len)) {
		case H1_HOST:
		case H1_CONNECTION:
		case H1_HOP:
			continue;
		case H1_TE:
			if (http1_list_has(f->value,
			    (struct http1_str){ "trailers", 8 }))
				m->trailers_ok = 1;
			continue;
		case H1_LENGTH:
		case H1_TRANSFER:
			/* Connection cannot name these away (http1.h). */
			if (!keep_framing)
				continue;
			break;
		case H1_UPGRADE:
			break;
		case H1_OTHER:
			if (cn.n > 0 && h1codec_named(h, &cn, f->name))
				continue;
			break;
		}
		if (msg_add_raw(m, h1codec_at(base, p, f->name),
		    h1codec_at(base, p, f->value)) == -1)
			return -1;
	}
	return 0;
}

/* Request fields and pseudo-fields; path is in the arena already. */
static int
h1codec_request_build(const struct http1_head *h, const char *p,
    struct msg_str path, const char *authority, struct msg *m)
{
	struct msg_str head;

	if (msg_copy(m, p, h->head_len, &head) == -1)
		return -1;
	m->method = h1codec_at(head.off, p, h->method);
	m->path = path;
	if (msg_copy(m, "https", 5, &m->scheme) == -1)
		return -1;
	if (msg_copy(m, authority, strlen(authority), &m->authority) == -1)
		return -1;
	m->upgrade = h->upgrade;
	switch (h->body) {
	case HTTP1_BODY_NONE:
		/* An empty body that was announced stays announced. */
		if (h->length_field)
			msg_set_body(m, MSG_BODY_LENGTH, 0);
		else
			msg_set_body(m, MSG_BODY_NONE, 0);
		break;
	case HTTP1_BODY_LENGTH:
		msg_set_body(m, MSG_BODY_LENGTH, h->content_length);
		break;
	case HTTP1_BODY_CHUNKED:
	case HTTP1_BODY_UNTIL_CLOSE:
		msg_set_body(m, MSG_BODY_UNKNOWN, 0);
		break;
	}
	return h1codec_import_fields(h, p, head.off, 0, m);
}

int
h1codec_request_msg(const struct http1_head *h, const char *p,
    const char *path, size_t plen, const char *authority, struct msg *m)
{
	struct msg_str ps;

	if (msg_copy(m, path, plen, &ps) == -1)
		return -1;
	return h1codec_request_build(h, p, ps, authority, m);
}

static struct http1_str
h1codec_str(const struct msg *m, struct msg_str s)
{
	return (struct http1_str){ msg_ptr(m, s), s.len };
}

int
h1codec_head_view(const struct msg *m, struct http1_head *h)
{
	uint32_t i;

	if (m->fields.n > HTTP1_MAX_HEADERS)
		return -1;
	memset(h, 0, offsetof(struct http1_head, headers));
	h->method = h1codec_str(m, m->method);
	h->target = h1codec_str(m, m->path);
	h->version_minor = 1;
	for (i = 0; i < m->fields.n; i++) {
		h->headers[i].name = h1codec_str(m, m->fields.v[i].name);
		h->headers[i].value = h1codec_str(m, m->fields.v[i].value);
	}
	h->nheaders = m->fields.n;
	h->head_len = 0;
	h->body = m->body == MSG_BODY_LENGTH ? HTTP1_BODY_LENGTH :
	    m->body == MSG_BODY_UNKNOWN ? HTTP1_BODY_CHUNKED : HTTP1_BODY_NONE;
	h->content_length = m->length;
	h->length_field = m->body == MSG_BODY_LENGTH;
	h->keep_alive = 1;
	h->expect_continue = 0;
	h->conn_names = 0;
	h->upgrade = m->upgrade;
	h->host = h1codec_str(m, m->authority);
	h->te = (struct http1_str){ "", 0 };
	return 0;
}

int
h1codec_response_view(const struct msg *m, const char *reason,
    struct http1_head *h)
{
	if (h1codec_head_view(m, h) == -1)
		return -1;
	h->method = h->target = (struct http1_str){ "", 0 };
	h->status = m->status;
	h->reason = (struct http1_str){ reason, strlen(reason) };
	h->body = m->body == MSG_BODY_LENGTH ? HTTP1_BODY_LENGTH :
	    m->body == MSG_BODY_NONE ? HTTP1_BODY_NONE :
	    HTTP1_BODY_UNTIL_CLOSE;
	return 0;
}

static int
h1codec_refuse(struct h1codec_refusal *no, int status, const char *code,
    const char *why)
{
	no->status = status;
	no->code = code;
	no->why = why;
	return -1;
}

int
h1codec_target_check(struct http1_str authority, struct http1_str target,
    const char *name, int port, struct h1codec_refusal *no)
{
	if (authority.len > 0) {
		switch (authority_check(authority.p, authority.len, name,
		    port)) {
		case AUTHORITY_OK:
			break;
		case AUTHORITY_MALFORMED:
			return h1codec_refuse(no, 400, "bad_request",
			    "bad Host");
		case AUTHORITY_OTHER_HOST:
			return h1codec_refuse(no, 421, "misdirected", "Host "
			    "header does not match the name the connection "
			    "was verified for");
		case AUTHORITY_OTHER_PORT:
			return h1codec_refuse(no, 421, "misdirected", "Host "
			    "header names another port than the connection's");
		}
	}
	if (target.len == 0 || (target.p[0] != '/' &&
	    !(target.len == 1 && target.p[0] == '*')))
		return h1codec_refuse(no, 400, "bad_request",
		    "only origin-form request targets are accepted");
	return 0;
}

int
h1codec_request_check(const struct http1_head *h, const char *name, int port,
    struct h1codec_refusal *no)
{
	return h1codec_target_check(h->host, h->target, name, port, no);
}

/* Trim OWS at both ends of s[0..*len); returns the new start. */
static const char *
h1codec_trim(const char *s, size_t *len)
{
	while (*len > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		(*len)--;
	}
	while (*len > 0 && (s[*len - 1] == ' ' || s[*len - 1] == '\t'))
		(*len)--;
	return s;
}

/*
 * The codings of a Transfer-Encoding before a final "chunked" (chunked:
 * 1), or all of them when it does not end in chunked.
 */
static struct http1_str
h1codec_codings(struct http1_str te, int chunked)
{
	const char *comma;
	struct http1_str c = te;

	if (chunked) {
		comma = memrchr(te.p, ',', te.len);
		c.len = comma ? (size_t)(comma - te.p) : 0;
	}
	c.p = h1codec_trim(c.p, &c.len);
	return c;
}

int
h1codec_response_msg(const struct http1_head *h, const char *p,
    struct msg *m)
{
	struct msg_str head;

	if (msg_copy(m, p, h->head_len, &head) == -1)
		return -1;
	m->status = h->status;
	m->reason = h1codec_at(head.off, p, h->reason);
	m->upgrade = h->status == 101;
	switch (h->body) {
	case HTTP1_BODY_NONE:
		msg_set_body(m, MSG_BODY_NONE, 0);
		break;
	case HTTP1_BODY_LENGTH:
		msg_set_body(m, MSG_BODY_LENGTH, h->content_length);
		break;
	case HTTP1_BODY_CHUNKED:
	case HTTP1_BODY_UNTIL_CLOSE:
		msg_set_body(m, MSG_BODY_UNKNOWN, 0);
		if (h->te.len > 0)
			m->codings = h1codec_at(head.off, p, h1codec_codings(
			    h->te, h->body == HTTP1_BODY_CHUNKED));
		break;
	}
	return h1codec_import_fields(h, p, head.off, h->body == HTTP1_BODY_NONE,
	    m);
}

/* ---- writing -------------------------------------------------------- */

#define H1CODEC_U64_MAX	20	/* digits of UINT64_MAX */

/* Decimal digits of v at the end of buf[H1CODEC_U64_MAX]; returns start. */
static char *
h1codec_u64(uint64_t v, char *buf)
{
	char *s = buf + H1CODEC_U64_MAX;

	do
		*--s = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	return s;
}

/* A head being written into one reserved extent of an evbuffer. */
struct h1codec_out {
	char		*p;
	size_t		 len;
};

static void
h1codec_put(struct h1codec_out *o, const char *s, size_t len)
{
	memcpy(o->p + o->len, s, len);
	o->len += len;
}

#define H1CODEC_PUT(o, lit)	h1codec_put((o), lit, sizeof(lit) - 1)

/*
 * Is field f of m written?  Never a hop-by-hop or Host field (a message
 * from another codec may carry one), and a framing field only where it
 * describes a bodiless response rather than frames.
 */
static int
h1codec_writes(const struct msg *m, const struct msg_field *f)
{
	switch (h1codec_class(msg_ptr(m, f->name), f->name.len)) {
	case H1_HOST:
	case H1_CONNECTION:
	case H1_HOP:
	case H1_TE:
		return 0;
	case H1_LENGTH:
	case H1_TRANSFER:
		return m->kind == MSG_RESPONSE && m->body == MSG_BODY_NONE;
	case H1_UPGRADE:
	case H1_OTHER:
		break;
	}
	return 1;
}

static size_t
h1codec_fields_size(const struct msg *m, const struct msg_fields *fs)
{
	size_t i, n = 0;

	for (i = 0; i < fs->n; i++)
		n += fs->v[i].name.len + fs->v[i].value.len + 4;
	return n;
}

static void
h1codec_put_fields(struct h1codec_out *o, const struct msg *m,
    const struct msg_fields *fs)
{
	const struct msg_field *f;
	size_t i;

	for (i = 0; i < fs->n; i++) {
		f = &fs->v[i];
		if (!h1codec_writes(m, f))
			continue;
		h1codec_put(o, msg_ptr(m, f->name), f->name.len);
		H1CODEC_PUT(o, ": ");
		h1codec_put(o, msg_ptr(m, f->value), f->value.len);
		H1CODEC_PUT(o, "\r\n");
	}
}

/* Room for the framing and Connection lines sluice writes itself. */
#define H1CODEC_OWN_MAX	(64 + H1CODEC_U64_MAX)

static void
h1codec_put_framing(struct h1codec_out *o, const struct msg *m, int flags)
{
	char num[H1CODEC_U64_MAX], *s;

	switch (m->body) {
	case MSG_BODY_NONE:
		break;
	case MSG_BODY_LENGTH:
		s = h1codec_u64(m->length, num);
		H1CODEC_PUT(o, "Content-Length: ");
		h1codec_put(o, s, num + sizeof(num) - s);
		H1CODEC_PUT(o, "\r\n");
		break;
	case MSG_BODY_UNKNOWN:
		if ((flags & H1CODEC_CLOSE_DELIMITED) && m->codings.len == 0)
			break;
		H1CODEC_PUT(o, "Transfer-Encoding: ");
		h1codec_put(o, msg_ptr(m, m->codings), m->codings.len);
		/* Close-delimited: the codings alone, the close ends it. */
		if (!(flags & H1CODEC_CLOSE_DELIMITED) && m->codings.len > 0)
			H1CODEC_PUT(o, ", chunked");
		else if (!(flags & H1CODEC_CLOSE_DELIMITED))
			H1CODEC_PUT(o, "chunked");
		H1CODEC_PUT(o, "\r\n");
		break;
	}
}

static int
h1codec_reserve(struct evbuffer *out, size_t size, struct evbuffer_iovec *v,
    struct h1codec_out *o)
{
	if (evbuffer_reserve_space(out, (ev_ssize_t)size, v, 1) != 1)
		return -1;
	o->p = v->iov_base;
	o->len = 0;
	return 0;
}

static int
h1codec_commit(struct evbuffer *out, struct evbuffer_iovec *v,
    struct h1codec_out *o)
{
	v->iov_len = o->len;
	return evbuffer_commit_space(out, v, 1) == 0 ? 0 : -1;
}

int
h1codec_write_request(struct evbuffer *out, const struct msg *m, int minor,
    int flags)
{
	struct evbuffer_iovec v;
	struct h1codec_out o;
	size_t size;

	if (m->kind != MSG_REQUEST || m->method.len == 0 || m->path.len == 0)
		return -1;
	size = m->method.len + m->path.len + m->authority.len +
	    h1codec_fields_size(m, &m->fields) + m->codings.len +
	    H1CODEC_OWN_MAX + 64;
	if (h1codec_reserve(out, size, &v, &o) == -1)
		return -1;
	h1codec_put(&o, msg_ptr(m, m->method), m->method.len);
	H1CODEC_PUT(&o, " ");
	h1codec_put(&o, msg_ptr(m, m->path), m->path.len);
	h1codec_put(&o, minor == 0 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n", 11);
	if (m->authority.len > 0) {
		H1CODEC_PUT(&o, "Host: ");
		h1codec_put(&o, msg_ptr(m, m->authority), m->authority.len);
		H1CODEC_PUT(&o, "\r\n");
	}
	h1codec_put_fields(&o, m, &m->fields);
	h1codec_put_framing(&o, m, 0);
	if (m->trailers_ok)
		H1CODEC_PUT(&o, "TE: trailers\r\n");
	if (m->upgrade && m->trailers_ok)
		H1CODEC_PUT(&o, "Connection: upgrade, te\r\n");
	else if (m->upgrade)
		H1CODEC_PUT(&o, "Connection: upgrade\r\n");
	else if (m->trailers_ok)
		H1CODEC_PUT(&o, "Connection: te\r\n");
	if (!(flags & H1CODEC_OPEN))
		H1CODEC_PUT(&o, "\r\n");
	return h1codec_commit(out, &v, &o);
}

/*
 * Can the codings of m be written chunked on top?  Not when chunked is
 * among them already (applied twice, RFC 9112 7), nor when the line would
 * be longer than a recipient (http1.c) takes.
 */
static int
h1codec_chunkable(const struct msg *m)
{
	struct http1_str c = { msg_ptr(m, m->codings), m->codings.len };

	return m->codings.len + 9 <= HTTP1_TE_MAX &&
	    !http1_list_has(c, (struct http1_str){ "chunked", 7 });
}

/*
 * The reason phrases of RFC 9110 15, one table for the heads sluice writes
 * itself and for responses that came without one (HTTP/2 has none).
 */
const char *
h1codec_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 101: return "Switching Protocols";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 203: return "Non-Authoritative Information";
	case 204: return "No Content";
	case 205: return "Reset Content";
	case 206: return "Partial Content";
	case 300: return "Multiple Choices";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 305: return "Use Proxy";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 402: return "Payment Required";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 407: return "Proxy Authentication Required";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 412: return "Precondition Failed";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 416: return "Range Not Satisfiable";
	case 417: return "Expectation Failed";
	case 421: return "Misdirected Request";
	case 422: return "Unprocessable Content";
	case 426: return "Upgrade Required";
	case 428: return "Precondition Required";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default: return "";
	}
}

int
h1codec_write_response(struct evbuffer *out, const struct msg *m, int flags)
{
	struct evbuffer_iovec v;
	struct h1codec_out o;
	char num[H1CODEC_U64_MAX];
	size_t size;

	if (m->kind != MSG_RESPONSE || m->status < 100 || m->status > 999)
		return -1;
	if (m->body == MSG_BODY_UNKNOWN && !(flags & H1CODEC_CLOSE_DELIMITED) &&
	    !h1codec_chunkable(m))
		return -1;
	size = m->reason.len + h1codec_fields_size(m, &m->fields) +
	    m->codings.len + H1CODEC_OWN_MAX + 64;
	if (h1codec_reserve(out, size, &v, &o) == -1)
		return -1;
	H1CODEC_PUT(&o, "HTTP/1.1 ");
	h1codec_put(&o, h1codec_u64((uint64_t)m->status, num), 3);
	H1CODEC_PUT(&o, " ");
	h1codec_put(&o, msg_ptr(m, m->reason), m->reason.len);
	H1CODEC_PUT(&o, "\r\n");
	h1codec_put_fields(&o, m, &m->fields);
	h1codec_put_framing(&o, m, flags);
	if (m->upgrade && m->status == 101)
		H1CODEC_PUT(&o, "Connection: upgrade\r\n");
	if (!(flags & H1CODEC_OPEN))
		H1CODEC_PUT(&o, "\r\n");
	return h1codec_commit(out, &v, &o);
}

/* The size line of a chunk of len bytes ("1f\r\n") into line; its length. */
static size_t
h1codec_chunk_line(size_t len, char line[H1CODEC_CHUNK_LINE])
{
	static const char hex[] = "0123456789abcdef";
	size_t digits = 0, n, i;

	for (n = len; n != 0 || digits == 0; n >>= 4)
		digits++;
	for (i = digits; i-- > 0; len >>= 4)
		line[i] = hex[len & 15];
	line[digits] = '\r';
	line[digits + 1] = '\n';
	return digits + 2;
}

int
h1codec_write_chunk(struct evbuffer *out, const void *p, size_t len)
{
	char line[H1CODEC_CHUNK_LINE];

	if (len == 0)
		return 0;
	if (evbuffer_add(out, line, h1codec_chunk_line(len, line)) == -1 ||
	    evbuffer_add(out, p, len) == -1 ||
	    evbuffer_add(out, "\r\n", 2) == -1)
		return -1;
	return 0;
}

int
h1codec_move_chunk(struct evbuffer *out, struct evbuffer *src, size_t len)
{
	char line[H1CODEC_CHUNK_LINE];

	if (len == 0)
		return 0;
	if (evbuffer_add(out, line, h1codec_chunk_line(len, line)) == -1 ||
	    evbuffer_remove_buffer(src, out, len) != (int)len ||
	    evbuffer_add(out, "\r\n", 2) == -1)
		return -1;
	return 0;
}

int
h1codec_move_data(struct evbuffer *out, struct evbuffer *src, size_t len,
    int chunked)
{
	if (chunked)
		return h1codec_move_chunk(out, src, len);
	return evbuffer_remove_buffer(src, out, len) == (int)len ? 0 : -1;
}

int
h1codec_read_body(struct evbuffer *src, struct http1_body *b,
    struct h1codec_trailers *t, const struct h1codec_sink *sink)
{
	struct evbuffer_iovec v;
	enum http1_part part;
	int moved = 0, rc = 0;
	ssize_t n;

	while (!b->done && evbuffer_get_length(src) > 0 &&
	    sink->room(sink->arg)) {
		if (evbuffer_peek(src, -1, NULL, &v, 1) < 1)
			break;
		if ((n = http1_body_decode(b, v.iov_base, v.iov_len, &part)) < 0)
			return -1;
		if (n == 0)
			break;
		moved = 1;
		if (sink->seen != NULL)
			sink->seen(sink->arg, v.iov_base, (size_t)n);
		if (part == HTTP1_PART_TRAILERS && t != NULL)
			rc = h1codec_trailers_add(t, v.iov_base, (size_t)n);
		if (part == HTTP1_PART_DATA)
			rc = sink->data(sink->arg, src, (size_t)n);
		else
			evbuffer_drain(src, (size_t)n);
		if (rc == -1)
			return -1;
	}
	return moved;
}

/*
 * May a field be a trailer (RFC 9110 6.5.1)?  Not one that frames, routes
 * or modifies the request, authenticates, controls the response or says
 * how to read the content: a recipient acts on those in the head, and one
 * that merged trailers into it would act on what the sender smuggled in
 * after sluice decided.
 */
int
h1codec_trailer_ok(const char *n, size_t len)
{
	static const char *const no[] = {
		"age", "authentication-info", "authorization",
		"cache-control", "cookie", "date", "expect", "expires",
		"location", "max-forwards", "pragma", "range",
		"retry-after", "set-cookie", "trailer", "vary",
		"www-authenticate",
	};
	size_t i;

	if (h1codec_class(n, len) != H1_OTHER ||
	    (len > 8 && strncasecmp(n, "content-", 8) == 0) ||
	    (len > 3 && strncasecmp(n, "if-", 3) == 0))
		return 0;
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (strlen(no[i]) == len && strncasecmp(n, no[i], len) == 0)
			return 0;
	return 1;
}

int
h1codec_write_end(struct evbuffer *out, const struct msg *m)
{
	struct evbuffer_iovec v;
	struct h1codec_out o;
	const struct msg_field *f;
	size_t i;

	if (h1codec_reserve(out, h1codec_fields_size(m, &m->trailers) + 5, &v,
	    &o) == -1)
		return -1;
	H1CODEC_PUT(&o, "0\r\n");
	for (i = 0; i < m->trailers.n; i++) {
		f = &m->trailers.v[i];
		if (!h1codec_trailer_ok(msg_ptr(m, f->name), f->name.len))
			continue;
		h1codec_put(&o, msg_ptr(m, f->name), f->name.len);
		H1CODEC_PUT(&o, ": ");
		h1codec_put(&o, msg_ptr(m, f->value), f->value.len);
		H1CODEC_PUT(&o, "\r\n");
	}
	H1CODEC_PUT(&o, "\r\n");
	return h1codec_commit(out, &v, &o);
}

/*
 * Field lines s[0..len) ("Name: value\r\n"..., up to an empty line or
 * the end) into m's fields or trailers, each checked by msg.c.
 */
static int
h1codec_lines(struct msg *m, const char *s, size_t len, int trailers)
{
	const char *end = s + len, *eol, *colon, *v;
	size_t nlen, vlen;
	int rc;

	while (s < end) {
		if ((eol = memmem(s, end - s, "\r\n", 2)) == NULL)
			return -1;
		if (eol == s)
			break;		/* the blank line ending a section */
		if ((colon = memchr(s, ':', eol - s)) == NULL)
			return -1;
		nlen = colon - s;
		vlen = eol - (colon + 1);
		v = h1codec_trim(colon + 1, &vlen);
		rc = trailers ? msg_add_trailer(m, s, nlen, v, vlen) :
		    msg_add(m, s, nlen, v, vlen);
		if (rc == -1)
			return -1;
		s = eol + 2;
	}
	return 0;
}

int
h1codec_add_lines(struct msg *m, const char *lines)
{
	return h1codec_lines(m, lines, strlen(lines), 0);
}

int
h1codec_trailers_add(struct h1codec_trailers *t, const char *p, size_t len)
{
	size_t had = t->len;
	char *n;

	/* http1.c bounds the section; growing by copy keeps it simple. */
	if ((n = malloc(had + len)) == NULL)
		return -1;
	if (had > 0)
		memcpy(n, t->p, had);
	memcpy(n + had, p, len);
	h1codec_trailers_free(t);
	t->p = n;
	t->len = had + len;
	return 0;
}

int
h1codec_trailers_msg(const struct h1codec_trailers *t, struct msg *m)
{
	msg_hold_secret(m);
	return h1codec_lines(m, t->p, t->len, 1);
}

void
h1codec_trailers_free(struct h1codec_trailers *t)
{
	if (t->p != NULL) {
		explicit_bzero(t->p, t->len);
		free(t->p);
	}
	t->p = NULL;
	t->len = 0;
}
