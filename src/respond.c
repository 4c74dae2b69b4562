/*
 * respond.c - the answers sluice makes itself: a JSON body, no-store, and
 * whether the connection may go on (403 denied, 429 with RateLimit fields,
 * and the error statuses of the contract).
 */

#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>

#include "datapath.h"
#include "h1codec.h"
#include "msg.h"
#include "rules.h"

/* Write a JSON string literal of s (printable ASCII kept, rest escaped). */
void
respond_json_str(struct evbuffer *out, const char *s)
{
	evbuffer_add(out, "\"", 1);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			evbuffer_add_printf(out, "\\%c", *s);
		else if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			evbuffer_add_printf(out, "\\u%04x", (unsigned char)*s);
		else
			evbuffer_add(out, s, 1);
	}
	evbuffer_add(out, "\"", 1);
}

/*
 * The answer's head: status, JSON, no-store, the extra fields (HTTP/1
 * field lines), the body's length.  -1 if a field is refused.
 */
static int
respond_head(struct msg *m, int status, const char *fields, size_t blen)
{
	const char *reason = h1codec_reason(status);

	if (msg_set_status(m, status, reason, strlen(reason)) == -1 ||
	    msg_add(m, "Content-Type", 12, "application/json", 16) == -1 ||
	    msg_add(m, "Cache-Control", 13, "no-store", 8) == -1 ||
	    (fields != NULL && h1codec_add_lines(m, fields) == -1))
		return -1;
	msg_set_body(m, MSG_BODY_LENGTH, blen);
	return 0;
}

/*
 * Answer the current request ourselves, through the client's codec.  body
 * is a JSON document.  keep: the connection may serve another request
 * afterwards.  The request body, if any, is then discarded (small, known
 * length) or the connection closes.
 */
static void
respond(struct exchange *r, int status, const char *decision,
    const char *fields, struct evbuffer *body, int keep)
{
	struct conn *c = r->c;
	const struct front_codec *codec = c->codec;
	size_t blen = body ? evbuffer_get_length(body) : 0;
	struct msg m;

	if (r->used_upstream) {
		upleg_drop(r);
		r->used_upstream = 0;
	}
	/*
	 * A body still to come is read and dropped when it is small and
	 * announced; a client waiting for 100-continue will not send it, so
	 * that connection cannot be kept.
	 */
	if (!r->body.done && (r->resp_started || r->expect_continue ||
	    r->body.kind != HTTP1_BODY_LENGTH ||
	    r->body.remaining > CONN_DISCARD_MAX))
		keep = 0;
	if (!keep || *c->env->draining) {
		r->client_keepalive = 0;
		r->body_cut = !r->body.done;
		r->body.done = 1;
	}
	msg_init(&m, MSG_RESPONSE);
	if (respond_head(&m, status, fields, blen) == -1 ||
	    codec->write_head(r, &m, 0) == -1 ||
	    (body != NULL && !r->is_head &&
	    codec->write_body(r, body, blen) == -1) ||
	    codec->write_end(r, NULL) == -1) {
		/* No memory: the client sees a reset, not a half answer. */
		r->client_keepalive = 0;
		codec->reset(r);
	}
	msg_free(&m);
	r->local = 1;
	r->local_bytes = r->is_head ? 0 : (int64_t)blen;
	r->state = EX_DONE;
	r->resp_started = 1;
	r->status = status;
	r->decision = decision;
}

/* An error answer {"error":code,"reason":why}; the connection closes. */
void
respond_error(struct exchange *r, int status, const char *code,
    const char *why)
{
	struct evbuffer *body = evbuffer_new();

	snprintf(r->error, sizeof(r->error), "%s", why);
	if (body != NULL) {
		evbuffer_add_printf(body, "{\"error\":\"%s\",\"reason\":",
		    code);
		respond_json_str(body, why);
		evbuffer_add_printf(body, "}\n");
	}
	respond(r, status, "error", NULL, body, 0);
	if (body != NULL)
		evbuffer_free(body);
}

void
respond_denied(struct exchange *r, int64_t rule_id)
{
	struct evbuffer *body = evbuffer_new();

	if (body != NULL) {
		if (rule_id >= 0)
			evbuffer_add_printf(body,
			    "{\"error\":\"denied\",\"rule\":%lld}\n",
			    (long long)rule_id);
		else
			evbuffer_add_printf(body,
			    "{\"error\":\"denied\",\"rule\":null}\n");
	}
	respond(r, 403, "denied", NULL, body, 1);
	if (body != NULL)
		evbuffer_free(body);
}

/* 429, with Retry-After and the IETF draft's RateLimit fields. */
void
respond_limited(struct exchange *r, const struct rule *rule,
    int64_t wait_ms)
{
	struct evbuffer *body = evbuffer_new();
	long long secs = (wait_ms + 999) / 1000, id = rule->id;
	char fields[256];

	snprintf(fields, sizeof(fields), "Retry-After: %lld\r\n"
	    "RateLimit-Policy: \"rule-%lld\";q=%d;w=%d\r\n"
	    "RateLimit: \"rule-%lld\";r=0;t=%lld\r\n", secs, id,
	    rule->limit.requests, rule->limit.per_seconds, id, secs);
	if (body != NULL)
		evbuffer_add_printf(body, "{\"error\":\"rate_limited\","
		    "\"rule\":%lld,\"retry_after\":%lld}\n", id, secs);
	respond(r, 429, "rate_limited", fields, body, 1);
	if (body != NULL)
		evbuffer_free(body);
}

/*
 * 504 for a request that said only-if-cached (RFC 9111, 5.2.1.7) when the
 * cache holds nothing it may serve: the upstream is not asked.  Audited
 * as the cache's answer, counted as a miss.
 */
void
respond_not_cached(struct exchange *r)
{
	struct evbuffer *body = evbuffer_new();

	if (body != NULL)
		evbuffer_add_printf(body, "{\"error\":\"not_cached\"}\n");
	r->cache_status = "fwd=miss";
	respond(r, 504, "cached", "Cache-Status: sluice; fwd=miss\r\n", body,
	    1);
	if (body != NULL)
		evbuffer_free(body);
}
