/*
 * inject.c - credential injection: a request message changed for its rule.
 *
 * Owns the wire form of each credential (built once per snapshot by
 * inject_prepare, wiped by inject_clear) and what a rule changes in a
 * request message: fields set, query parameters put on the path.  Does not
 * own which rule applies (rules.c), how the message is written (a codec)
 * nor where it goes (upleg.c, which only sends it on a connection
 * verified for the rule's host).
 *
 * A credential replaces what the client sent under the same name: headers
 * by name (case-insensitively), query parameters by their percent-decoded
 * name, so "api%5Fkey=x" cannot ride along next to an injected "api_key".
 * Secrets reach only the message, which is marked to be wiped: the audit
 * copy of the target shows "***" and the names list holds names.  On the
 * way back, a response head that echoes a secret (a redirect keeping the
 * query, a debugging header) has it masked before the client sees it; the
 * forms a secret may take in a response (inject_mask_forms) are what
 * mask.c finds in bodies, the cache and the pcap too.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "h1codec.h"
#include "http1.h"
#include "inject.h"
#include "mask.h"
#include "msg.h"
#include "rules.h"
#include "urlpath.h"

#define INJECT_MASK	"***"

/* Bytes a field value may hold: VCHAR, SP, HTAB, obs-text. */
static int
inject_field_safe(const char *v, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char ch = v[i];

		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return 0;
	}
	return 1;
}

/* Percent-encode everything but unreserved characters (RFC 3986). */
static char *
inject_percent_encode(const char *v, size_t len, size_t *outlen)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out, *o;
	size_t i;

	if ((out = malloc(len * 3 + 1)) == NULL)
		return NULL;
	for (i = 0, o = out; i < len; i++) {
		unsigned char ch = v[i];

		if (urlpath_unreserved(ch)) {
			*o++ = ch;
		} else {
			*o++ = '%';
			*o++ = hex[ch >> 4];
			*o++ = hex[ch & 15];
		}
	}
	*o = '\0';
	*outlen = o - out;
	return out;
}

/* prefix + value, or prefix + base64(value). */
static char *
inject_header_value(const char *prefix, const char *v, size_t len, int b64,
    size_t *outlen)
{
	size_t plen = strlen(prefix), n = b64 ? 4 * ((len + 2) / 3) : len;
	char *out;

	if ((out = malloc(plen + n + 1)) == NULL)
		return NULL;
	memcpy(out, prefix, plen);
	if (b64)
		EVP_EncodeBlock((unsigned char *)out + plen,
		    (const unsigned char *)v, (int)len);
	else
		memcpy(out + plen, v, len);
	out[plen + n] = '\0';
	*outlen = plen + n;
	return out;
}

int
inject_prepare(struct rule_injection *inj)
{
	switch (inj->kind) {
	case RULE_INJECT_BEARER:
		if (!inject_field_safe(inj->value, inj->value_len))
			return -1;
		inj->wire = inject_header_value("Bearer ", inj->value,
		    inj->value_len, 0, &inj->wire_len);
		break;
	case RULE_INJECT_BASIC:
		if (memchr(inj->value, ':', inj->value_len) == NULL)
			return -1;
		inj->wire = inject_header_value("Basic ", inj->value,
		    inj->value_len, 1, &inj->wire_len);
		break;
	case RULE_INJECT_HEADER:
		if (!inject_field_safe(inj->value, inj->value_len))
			return -1;
		inj->wire = inject_header_value("", inj->value, inj->value_len,
		    0, &inj->wire_len);
		break;
	case RULE_INJECT_QUERY:
		inj->wire = inject_percent_encode(inj->value, inj->value_len,
		    &inj->wire_len);
		break;
	}
	return inj->wire != NULL ? 0 : -1;
}

void
inject_clear(struct rule_injection *inj)
{
	if (inj->value != NULL) {
		OPENSSL_cleanse(inj->value, inj->value_len);
		free(inj->value);
	}
	if (inj->wire != NULL) {
		OPENSSL_cleanse(inj->wire, inj->wire_len);
		free(inj->wire);
	}
	inj->value = inj->wire = NULL;
	inj->value_len = inj->wire_len = 0;
}

const char *
inject_field_name(const struct rule_injection *inj)
{
	switch (inj->kind) {
	case RULE_INJECT_BEARER:
	case RULE_INJECT_BASIC:
		return "Authorization";
	case RULE_INJECT_HEADER:
		return inj->name;
	case RULE_INJECT_QUERY:
		break;
	}
	return NULL;
}

/* Is the raw (form-encoded) parameter name s the same as name? */
static int
inject_param_is(const char *s, size_t len, const char *name)
{
	size_t i, j = 0;
	int hi, lo;
	char ch;

	for (i = 0; i < len; i++, j++) {
		ch = s[i];
		if (ch == '+')
			ch = ' ';
		else if (ch == '%' && i + 2 < len &&
		    (hi = urlpath_hexval(s[i + 1])) >= 0 &&
		    (lo = urlpath_hexval(s[i + 2])) >= 0) {
			ch = (char)(hi << 4 | lo);
			i += 2;
		}
		if (name[j] == '\0' || name[j] != ch)
			return 0;
	}
	return name[j] == '\0';
}

static const struct rule_injection *
inject_find_param(const struct rule *rule, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < rule->ninjections; i++)
		if (rule->injections[i].kind == RULE_INJECT_QUERY &&
		    inject_param_is(s, len, rule->injections[i].name))
			return &rule->injections[i];
	return NULL;
}

/* Append name to the comma-separated list names (truncated to fit). */
static void
inject_add_name(char *names, size_t namesz, const char *name)
{
	size_t used = strlen(names), n = strlen(name);

	if (used > 0 && used + 1 < namesz)
		names[used++] = ',';
	if (n > namesz - used - 1)
		n = namesz - used - 1;
	memcpy(names + used, name, n);
	names[used + n] = '\0';
}

/* A target being rebuilt: dst has room for what is put. */
struct inject_target {
	char		*dst;
	size_t		 len;
};

static void
inject_put(struct inject_target *t, const char *s, size_t len)
{
	memcpy(t->dst + t->len, s, len);
	t->len += len;
}

/* What the rebuilt target can take: the old one and every parameter. */
static size_t
inject_query_room(const struct rule *rule, size_t len, int masked)
{
	const struct rule_injection *inj;
	size_t i;

	for (i = 0; i < rule->ninjections; i++) {
		inj = &rule->injections[i];
		if (inj->kind == RULE_INJECT_QUERY)
			len += 2 + strlen(inj->name) + (masked ?
			    sizeof(INJECT_MASK) - 1 : inj->wire_len);
	}
	return len;
}

/*
 * t <- target t0 with the client's values for injected parameters dropped
 * and ours appended (masked: "***" in place of each value).
 */
static void
inject_query(struct inject_target *t, const char *t0, size_t len,
    const struct rule *rule, int masked)
{
	const char *end = t0 + len, *q, *amp, *eq;
	const struct rule_injection *inj;
	char sep = '?';
	size_t i, n;

	q = memchr(t0, '?', len);
	inject_put(t, t0, (q ? q : end) - t0);
	for (q = q ? q + 1 : end; q < end; q = amp + 1) {
		if ((amp = memchr(q, '&', end - q)) == NULL)
			amp = end;
		n = amp - q;
		if ((eq = memchr(q, '=', n)) == NULL)
			eq = amp;
		if (n == 0 || inject_find_param(rule, q, eq - q) != NULL)
			continue;
		inject_put(t, &sep, 1);
		inject_put(t, q, n);
		sep = '&';
	}
	for (i = 0; i < rule->ninjections; i++) {
		inj = &rule->injections[i];
		if (inj->kind != RULE_INJECT_QUERY)
			continue;
		inject_put(t, &sep, 1);
		inject_put(t, inj->name, strlen(inj->name));
		inject_put(t, "=", 1);
		if (masked)
			inject_put(t, INJECT_MASK, sizeof(INJECT_MASK) - 1);
		else
			inject_put(t, inj->wire, inj->wire_len);
		sep = '&';
	}
}

static int
inject_has_query(const struct rule *rule)
{
	size_t i;

	for (i = 0; rule != NULL && i < rule->ninjections; i++)
		if (rule->injections[i].kind == RULE_INJECT_QUERY)
			return 1;
	return 0;
}

/*
 * m's path gets the rule's parameters; *audit (malloc'd) the same path
 * with their values masked.
 */
static int
inject_path(struct msg *m, const struct rule *rule, char **audit,
    char *names, size_t namesz)
{
	struct inject_target t, a;
	struct msg_str path;
	size_t i, len = m->path.len;

	if (msg_alloc(m, inject_query_room(rule, len, 0), &path) == -1 ||
	    (*audit = malloc(inject_query_room(rule, len, 1) + 1)) == NULL)
		return -1;
	/* After the allocation: the arena may have moved. */
	t.dst = m->buf + path.off;
	t.len = 0;
	inject_query(&t, msg_ptr(m, m->path), len, rule, 0);
	a.dst = *audit;
	a.len = 0;
	inject_query(&a, msg_ptr(m, m->path), len, rule, 1);
	a.dst[a.len] = '\0';
	path.len = (uint32_t)t.len;
	m->path = path;
	for (i = 0; i < rule->ninjections; i++)
		if (rule->injections[i].kind == RULE_INJECT_QUERY)
			inject_add_name(names, namesz,
			    rule->injections[i].name);
	return 0;
}

int
inject_sets_field(const struct rule *rule, const char *name)
{
	const char *set;
	size_t i;

	for (i = 0; rule != NULL && i < rule->ninjections; i++)
		if ((set = inject_field_name(&rule->injections[i])) != NULL &&
		    strcasecmp(set, name) == 0)
			return 1;
	return 0;
}

int
inject_request(struct msg *m, const struct rule *rule, char **audit_target,
    char *names, size_t namesz)
{
	const struct rule_injection *inj;
	const char *name;
	size_t i;

	names[0] = '\0';
	*audit_target = NULL;
	if (rule == NULL || rule->ninjections == 0)
		return 0;
	msg_hold_secret(m);
	/* The masker reads a response body only as it is: ask for it so. */
	if (msg_set(m, "Accept-Encoding", 15, "identity", 8) == -1)
		goto fail;
	if (inject_has_query(rule) &&
	    inject_path(m, rule, audit_target, names, namesz) == -1)
		goto fail;
	for (i = 0; i < rule->ninjections; i++) {
		inj = &rule->injections[i];
		if ((name = inject_field_name(inj)) == NULL)
			continue;
		if (msg_set(m, name, strlen(name), inj->wire,
		    inj->wire_len) == -1)
			goto fail;
		inject_add_name(names, namesz, name);
	}
	return 0;
fail:
	free(*audit_target);
	*audit_target = NULL;
	return -1;
}

/*
 * The spellings of inj's secret an upstream may echo: the value, and the
 * encoded form it was sent in when that is not the value plus a prefix
 * (basic's base64, query's percent-encoding).  n forms in f[] and len[].
 */
static size_t
inject_forms(const struct rule_injection *inj, const char *f[2],
    size_t len[2])
{
	size_t n = 0, skip;

	f[n] = inj->value;
	len[n++] = inj->value_len;
	if (inj->kind == RULE_INJECT_BASIC || inj->kind == RULE_INJECT_QUERY) {
		skip = inj->kind == RULE_INJECT_BASIC ? strlen("Basic ") : 0;
		f[n] = inj->wire + skip;
		len[n++] = inj->wire_len - skip;
	}
	return n;
}

/*
 * s as a JSON encoder writes it in a string (RFC 8259: the quote, the
 * backslash and control bytes escaped), with '/' escaped too when slash
 * (PHP's json_encode does): what an endpoint that returns the request as
 * JSON echoes.  Bytes above 0x7f stay as they are: an encoder that writes
 * them as a \u escape is not matched.
 */
static int
inject_mask_json(struct mask_set *set, const char *s, size_t len, int slash)
{
	static const char hex[] = "0123456789abcdef", esc[] = "btn\0fr";
	char *out, *o;
	size_t i;
	int rc;

	if (len == 0 || (out = malloc(len * 6)) == NULL)
		return len == 0 ? 0 : -1;
	for (i = 0, o = out; i < len; i++) {
		unsigned char ch = s[i];

		if (ch == '"' || ch == '\\' || (ch == '/' && slash)) {
			*o++ = '\\';
			*o++ = ch;
		} else if (ch >= '\b' && ch <= '\r' && ch != '\v') {
			*o++ = '\\';
			*o++ = esc[ch - '\b'];
		} else if (ch < 0x20) {
			memcpy(o, "\\u00", 4);
			o[4] = hex[ch >> 4];
			o[5] = hex[ch & 15];
			o += 6;
		} else
			*o++ = ch;
	}
	rc = mask_set_add(set, out, o - out);
	OPENSSL_cleanse(out, len * 6);
	free(out);
	return rc;
}

int
inject_mask_forms(struct mask_set *set, const struct rule_injection *inj)
{
	const char *f[2];
	size_t i, n, len[2];

	n = inject_forms(inj, f, len);
	for (i = 0; i < n; i++)
		if (mask_set_add(set, f[i], len[i]) == -1 ||
		    inject_mask_json(set, f[i], len[i], 0) == -1 ||
		    inject_mask_json(set, f[i], len[i], 1) == -1)
			return -1;
	return 0;
}

/* A field value being masked: each span of a form becomes INJECT_MASK. */
struct inject_masked {
	const char	*v;
	char		*out;
	size_t		 in, len;
};

static void
inject_mask_span(void *arg, size_t off, size_t n)
{
	struct inject_masked *mk = arg;

	memcpy(mk->out + mk->len, mk->v + mk->in, off - mk->in);
	mk->len += off - mk->in;
	memcpy(mk->out + mk->len, INJECT_MASK, strlen(INJECT_MASK));
	mk->len += strlen(INJECT_MASK);
	mk->in = off + n;
}

/*
 * Field i of fs (m's fields or trailers) with every form of rule's secrets
 * masked: 1 if changed, 0 if it echoes none (left without a copy).  Forms
 * shorter than the mask are left: the value never grows.
 */
static int
inject_mask_field(struct msg *m, struct msg_fields *fs, size_t i,
    const struct rule *rule)
{
	const struct msg_str v = fs->v[i].value;
	struct inject_masked mk = { msg_ptr(m, v), NULL, 0, 0 };
	int rc = -1;

	if (!mask_set_found(&rule->mask, strlen(INJECT_MASK), mk.v, v.len))
		return 0;
	if ((mk.out = malloc(v.len)) == NULL)
		return -1;
	mask_spans(&rule->mask, strlen(INJECT_MASK), mk.v, v.len,
	    inject_mask_span, &mk);
	memcpy(mk.out + mk.len, mk.v + mk.in, v.len - mk.in);
	mk.len += v.len - mk.in;
	if (msg_set_value(m, fs, i, mk.out, mk.len) == 0)
		rc = 1;
	OPENSSL_cleanse(mk.out, v.len);
	free(mk.out);
	return rc;
}

static int
inject_mask_fields(struct msg *m, struct msg_fields *fs,
    const struct rule *rule)
{
	size_t i;
	int n = 0, rc;

	for (i = 0; i < fs->n; i++) {
		if ((rc = inject_mask_field(m, fs, i, rule)) == -1)
			return -1;
		n += rc;
	}
	return n;
}

int
inject_mask_response(struct msg *m, const struct rule *rule)
{
	int n, t;

	if (rule == NULL || rule->mask.n == 0)
		return 0;
	if ((n = inject_mask_fields(m, &m->fields, rule)) == -1 ||
	    (t = inject_mask_fields(m, &m->trailers, rule)) == -1)
		return -1;
	if (n + t > 0)
		msg_hold_secret(m);	/* the echoed bytes are in its arena */
	return n + t;
}

int
inject_mask_view(const struct http1_head *h, const struct rule *rule,
    struct msg *m, struct http1_head *out)
{
	const struct http1_header *f;
	size_t i;

	msg_init(m, MSG_RESPONSE);
	*out = *h;
	if (rule == NULL || rule->mask.n == 0)
		return 0;
	for (i = 0; i < h->nheaders; i++)
		if (mask_set_found(&rule->mask, strlen(INJECT_MASK),
		    h->headers[i].value.p, h->headers[i].value.len))
			break;
	if (i == h->nheaders)
		return 0;
	for (i = 0; i < h->nheaders; i++) {
		f = &h->headers[i];
		if (msg_add(m, f->name.p, f->name.len, f->value.p,
		    f->value.len) == -1)
			return -1;
	}
	if (inject_mask_response(m, rule) == -1)
		return -1;
	for (i = 0; i < h->nheaders; i++) {
		out->headers[i].name.p = msg_ptr(m, m->fields.v[i].name);
		out->headers[i].value.p = msg_ptr(m, m->fields.v[i].value);
		out->headers[i].value.len = m->fields.v[i].value.len;
	}
	return 0;
}

/* Does a Content-Encoding value name a coding other than identity? */
static int
inject_coding_named(const char *v, size_t len)
{
	const char *end = v + len, *comma;
	size_t n;

	for (; v < end; v = comma + 1) {
		while (v < end && (*v == ' ' || *v == '\t' || *v == ','))
			v++;
		if ((comma = memchr(v, ',', end - v)) == NULL)
			comma = end;
		for (n = comma - v; n > 0 && (v[n - 1] == ' ' ||
		    v[n - 1] == '\t'); n--)
			;
		if (n > 0 && !(n == 8 && strncasecmp(v, "identity", 8) == 0))
			return 1;
	}
	return 0;
}

int
inject_body_hidden(const struct rule *rule, const struct msg *m)
{
	const struct msg_field *f;
	size_t i = 0;

	if (rule == NULL || rule->mask.n == 0 || m->body == MSG_BODY_NONE)
		return 0;
	if (m->codings.len > 0)
		return 1;
	while (msg_next(m, "content-encoding", 16, &i, &f) == 0)
		if (inject_coding_named(msg_ptr(m, f->value), f->value.len))
			return 1;
	return 0;
}

int
inject_body_hidden_head(const struct rule *rule, const struct http1_head *h)
{
	size_t i;

	if (rule == NULL || rule->mask.n == 0 || h->body == HTTP1_BODY_NONE)
		return 0;
	if (h->te.len > 0 && !http1_str_eq(h->te, "chunked"))
		return 1;
	for (i = 0; i < h->nheaders; i++)
		if (http1_str_eq(h->headers[i].name, "content-encoding") &&
		    inject_coding_named(h->headers[i].value.p,
		    h->headers[i].value.len))
			return 1;
	return 0;
}

int
inject_request_copy(struct msg *m, const struct msg *req,
    const struct rule *rule, const char *extra, char **audit_target,
    char *names, size_t namesz)
{
	*audit_target = NULL;
	if (msg_clone(m, req) == -1)
		return -1;
	if (inject_request(m, rule, audit_target, names, namesz) == -1)
		goto fail;
	if (extra != NULL && h1codec_add_lines(m, extra) == -1) {
		free(*audit_target);
		*audit_target = NULL;
		goto fail;
	}
	return 0;
fail:
	msg_free(m);	/* wipes the credentials it held */
	return -1;
}

int
inject_write_request(struct evbuffer *out, const struct msg *req, int minor,
    const struct rule *rule, const char *extra, char **audit_target,
    char *names, size_t namesz)
{
	struct msg m;
	int rc = -1;

	if (inject_request_copy(&m, req, rule, extra, audit_target, names,
	    namesz) == -1)
		return -1;
	if (h1codec_write_request(out, &m, minor, 0) == -1) {
		free(*audit_target);
		*audit_target = NULL;
		goto fail;
	}
	rc = 0;
fail:
	msg_free(&m);	/* wipes the credentials it held */
	return rc;
}
