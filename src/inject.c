/*
 * inject.c - credential injection: rewrite a request head for its rule.
 *
 * Owns the wire form of each credential (built once per snapshot by
 * inject_prepare, wiped by inject_clear) and the rewriting of the request
 * line and fields.  Does not own which rule applies (rules.c) nor where the
 * head goes (upleg.c, which only sends it on a connection verified for the
 * rule's host).
 *
 * A credential replaces what the client sent under the same name: headers
 * by name (case-insensitively), query parameters by their percent-decoded
 * name, so "api%5Fkey=x" cannot ride along next to an injected "api_key".
 * Secrets reach only the output buffer: the audit copy of the target shows
 * "***" and the names list holds names.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "http1.h"
#include "inject.h"
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

static void
inject_add_name(char *names, size_t namesz, const char *name)
{
	size_t used = strlen(names);

	snprintf(names + used, namesz - used, "%s%s", used ? "," : "", name);
}

/*
 * The target with the client's values for injected parameters dropped and
 * ours appended; *audit gets it with "***" instead.
 */
static int
inject_query(struct evbuffer *out, struct http1_str target,
    const struct rule *rule, char **audit, char *names, size_t namesz)
{
	struct evbuffer *masked;
	const char *t = target.p, *end = t + target.len, *q, *amp, *eq;
	const struct rule_injection *inj;
	char sep = '?';
	size_t i, len;

	if ((masked = evbuffer_new()) == NULL)
		return -1;
	q = memchr(t, '?', target.len);
	evbuffer_add(out, t, (q ? q : end) - t);
	evbuffer_add(masked, t, (q ? q : end) - t);
	for (q = q ? q + 1 : end; q < end; q = amp + 1) {
		if ((amp = memchr(q, '&', end - q)) == NULL)
			amp = end;
		len = amp - q;
		if ((eq = memchr(q, '=', len)) == NULL)
			eq = amp;
		if (len == 0 || inject_find_param(rule, q, eq - q) != NULL)
			continue;
		evbuffer_add_printf(out, "%c%.*s", sep, (int)len, q);
		evbuffer_add_printf(masked, "%c%.*s", sep, (int)len, q);
		sep = '&';
	}
	for (i = 0; i < rule->ninjections; i++) {
		inj = &rule->injections[i];
		if (inj->kind != RULE_INJECT_QUERY)
			continue;
		evbuffer_add_printf(out, "%c%s=", sep, inj->name);
		evbuffer_add(out, inj->wire, inj->wire_len);
		evbuffer_add_printf(masked, "%c%s=" INJECT_MASK, sep, inj->name);
		inject_add_name(names, namesz, inj->name);
		sep = '&';
	}
	len = evbuffer_get_length(masked);
	if ((*audit = malloc(len + 1)) != NULL) {
		evbuffer_remove(masked, *audit, len);
		(*audit)[len] = '\0';
	}
	evbuffer_free(masked);
	return *audit != NULL ? 0 : -1;
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
 * The request line, written from the parsed message and never copied
 * from the client's: the target sent is the one the rules matched, not
 * another spelling of it.
 */
static int
inject_request_line(struct evbuffer *out, const struct http1_head *h,
    struct http1_str target, const struct rule *rule, char **audit,
    char *names, size_t namesz)
{
	evbuffer_add(out, h->method.p, h->method.len);
	evbuffer_add(out, " ", 1);
	if (!inject_has_query(rule))
		evbuffer_add(out, target.p, target.len);
	else if (inject_query(out, target, rule, audit, names, namesz) == -1)
		return -1;
	/* One per request: a copy, not evbuffer_add_printf(). */
	evbuffer_add(out, h->version_minor == 0 ? " HTTP/1.0\r\n" :
	    " HTTP/1.1\r\n", 11);
	return 0;
}

struct inject_filter {
	const struct http1_head *h;
	const struct rule	*rule;
	struct evbuffer		*out;
	int			 skip_start;	/* the start line was rewritten */
};

static int
inject_keep_field(void *arg, const struct http1_header *f)
{
	struct inject_filter *flt = arg;
	const struct rule *rule = flt->rule;
	const char *name;
	size_t i;

	if (http1_is_hop_field(flt->h, f->name) ||
	    http1_drops_framing_field(flt->h, f->name))
		return 0;
	for (i = 0; rule != NULL && i < rule->ninjections; i++)
		if ((name = inject_field_name(&rule->injections[i])) != NULL &&
		    http1_str_eq(f->name, name))
			return 0;
	return 1;
}

static void
inject_emit(void *arg, const char *s, size_t len)
{
	struct inject_filter *flt = arg;

	if (flt->skip_start) {
		flt->skip_start = 0;
		return;
	}
	evbuffer_add(flt->out, s, len);
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
inject_write_request(struct evbuffer *out, const struct http1_head *h,
    const char *p, struct http1_str target, const struct rule *rule,
    const char *extra, char **audit_target, char *names, size_t namesz)
{
	struct inject_filter flt = { h, rule, out, 1 };
	char framing[HTTP1_FRAMING_MAX];
	const struct rule_injection *inj;
	const char *name;
	size_t i;

	names[0] = '\0';
	*audit_target = NULL;
	if (inject_request_line(out, h, target, rule, audit_target, names,
	    namesz) == -1)
		return -1;
	http1_head_spans(h, p, inject_keep_field, inject_emit, &flt);
	for (i = 0; rule != NULL && i < rule->ninjections; i++) {
		inj = &rule->injections[i];
		if ((name = inject_field_name(inj)) == NULL)
			continue;
		evbuffer_add(out, name, strlen(name));
		evbuffer_add(out, ": ", 2);
		evbuffer_add(out, inj->wire, inj->wire_len);
		evbuffer_add(out, "\r\n", 2);
		inject_add_name(names, namesz, name);
	}
	if (extra != NULL)
		evbuffer_add(out, extra, strlen(extra));
	evbuffer_add(out, framing, http1_framing_fields(h, framing,
	    sizeof(framing)));
	if (h->upgrade)
		evbuffer_add(out, "Connection: upgrade\r\n", 21);
	evbuffer_add(out, "\r\n", 2);
	return 0;
}
