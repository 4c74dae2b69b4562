/*
 * policy.c - what sluice decides about a parsed request: the Host it names
 * must be the one the connection was verified for, the target must be in
 * origin form and normalise, a rule allows or denies it (under every
 * method it names; report-only turns a deny into would_deny), and a
 * rule's rate limit passes, holds or refuses it (locally, or through Redis
 * for a shared limit).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "datapath.h"
#include "h1codec.h"
#include "ratelimit.h"
#include "ratelimit_redis.h"
#include "rules.h"
#include "urlpath.h"
#include "util.h"

/*
 * The policy said deny: a deny rule (also one widened at load to fail
 * closed), the default deny, or a CONNECT port no rule opens.  Returns 1
 * when the deny stands.  Under --report-only it logs event=would_deny and
 * returns 0: the caller goes on as if allowed and audits 'would_deny' with
 * the rule that would have denied.  Only policy comes through here; a
 * malformed request (400), a Host or SNI that names another server (421)
 * and the SSRF guard are safety, not policy, and stay enforced.  path is
 * logged without its query (urlpath_path_len()).
 */
int
policy_deny_stands(struct conn *c, const char *host, const char *method,
    const char *path, size_t pathlen, int64_t rule_id)
{
	char rule[24] = "none";

	if (!front_cfg(c)->report_only)
		return 1;
	if (rule_id >= 0)
		snprintf(rule, sizeof(rule), "%lld", (long long)rule_id);
	log_event(LOG_INFO, "would_deny", "client=%s host=%s method=%s "
	    "path=%.*s rule=%s", c->client_str, host, method, path != NULL ?
	    (int)urlpath_path_len(path, pathlen) : 1, path != NULL ? path : "-",
	    rule);
	return 0;
}

/* A bucket's answer (ratelimit_take()'s convention) applied. */
static enum policy_limit
policy_limit_apply(struct exchange *r, const struct rule *rule,
    int64_t wait, int counted)
{
	if (wait > 0) {
		respond_limited(r, rule, wait);
		return POLICY_LIMIT_REFUSED;
	}
	if (wait < 0) {
		/* The message waits for its token; its body stays unread. */
		r->held = counted;
		r->state = EX_HELD;
		exchange_arm(r, -wait / 1000.0);
		return POLICY_LIMIT_HELD;
	}
	return POLICY_LIMIT_PASS;
}

/*
 * The local bucket: the rule's own, or for a shared limit without an
 * answer from Redis, this gateway's share of it (rate / --fleet-size).
 */
static enum policy_limit
policy_limit_local(struct exchange *r, const struct rule *rule)
{
	struct conn *c = r->c;
	struct rule_limit share;
	const struct rule_limit *lim = &rule->limit;

	if (lim->shared) {
		ratelimit_redis_local_limit(lim, front_cfg(c)->fleet_size,
		    &share);
		lim = &share;
		counters_shared_local(c->env->counters);
	}
	r->limit_source = "local";
	return policy_limit_apply(r, rule, ratelimit_take(c->env->ratelimit,
	    lim, rule->id, c->client_ip, util_mono_ms()), 1);
}

/* Redis answered, failed or is late: the timer fires now. */
static void
policy_limit_answered(void *arg)
{
	struct exchange *r = arg;

	exchange_fire(r);
}

/*
 * A shared limit asks Redis; the request waits in EX_HELD for at most
 * --redis-timeout-ms, without blocking the loop, then the local share
 * decides.
 */
enum policy_limit
policy_limit(struct exchange *r, const struct rule *rule)
{
	struct conn *c = r->c;
	struct ratelimit_redis *redis = c->env->redis;
	int64_t wait;

	if (!rule->limit.shared || redis == NULL)
		return policy_limit_local(r, rule);
	switch (ratelimit_redis_take(redis, &rule->limit, rule->id,
	    c->client_ip, policy_limit_answered, r, &r->shared, &wait)) {
	case RATELIMIT_REDIS_DECIDED:
		r->limit_source = "redis";
		return policy_limit_apply(r, rule, wait, 0);
	case RATELIMIT_REDIS_PENDING:
		r->state = EX_HELD;
		exchange_arm(r, front_cfg(c)->redis_timeout_ms / 1000.0);
		return POLICY_LIMIT_HELD;
	case RATELIMIT_REDIS_LOCAL:
		break;
	}
	return policy_limit_local(r, rule);
}

/* The shared decision a held request waited for, or the local one. */
enum policy_limit
policy_limit_collect(struct exchange *r)
{
	struct ratelimit_redis_wait *w = r->shared;
	int64_t wait;

	r->shared = NULL;
	if (ratelimit_redis_collect(r->c->env->redis, w, &wait) ==
	    RATELIMIT_REDIS_LOCAL)
		return policy_limit_local(r, r->limit_rule);
	r->limit_source = "redis";
	return policy_limit_apply(r, r->limit_rule, wait, 0);
}

/*
 * What every request must pass before policy, whichever codec read it:
 * the authority (Host, or :authority) must be well formed and name what
 * the connection was verified for (the SNI, else the CONNECT host, else
 * the destination address) and its port (authority.c): a request the
 * upstream would route to another name or port must not ride on this
 * one's rule and credentials; the target must be origin-form and
 * normalise.  0, or -1 once answered (421 or 400).
 */
static int
policy_admit(struct exchange *r, struct http1_str authority,
    struct http1_str target)
{
	struct conn *c = r->c;
	struct h1codec_refusal no;

	if (h1codec_target_check(authority, target, c->name, c->dst_port,
	    &no) == -1) {
		respond_error(r, no.status, no.code, no.why);
		return -1;
	}
	if (c->misdirected) {
		respond_error(r, 421, "misdirected",
		    "TLS server name does not match the CONNECT host");
		return -1;
	}
	if (r->norm == NULL) {
		respond_error(r, 400, "bad_request", "request target has "
		    "a '%' without two hex digits, a '\\', or a '.;' or '..;' "
		    "segment");
		return -1;
	}
	return 0;
}

/* The exchange is begun: the connection carries a request. */
static void
policy_begin(struct exchange *r)
{
	r->c->state = CONN_EXCHANGE;
	exchange_arm(r, front_cfg(r->c)->upstream_timeout);
}

/*
 * The HTTP/1 part of deciding exchange r's request (just begun), whose
 * head h was parsed from p: the checks, the message built from the head,
 * then policy_decide().  Returns with state EXCHANGE: from here on the
 * exchange works from its message, r->req, and the codec may drop the
 * head's bytes.
 */
void
policy_dispatch(struct exchange *r, const struct http1_head *h,
    const char *p)
{
	struct conn *c = r->c;

	policy_begin(r);
	if (policy_admit(r, h->host, h->target) == -1)
		return;
	if (h1codec_request_msg(h, p, r->norm, r->norm_len, c->authority,
	    &r->req) == -1) {
		respond_error(r, 400, "bad_request",
		    "request head cannot be forwarded");
		return;
	}
	policy_decide(r);
}

/*
 * The same for a request that came as a message (HTTP/2, begun by
 * exchange_begin_msg() with the path as sent): the checks, the path
 * replaced by the normalised target and the authority by the one the
 * connection was verified for, then policy_decide().  Every client
 * connection is TLS, so a :scheme other than https asks for another
 * origin (http://api.test is port 80's): refused with 400 rather than
 * answered with the https origin's answer (sluice always sends https).
 */
void
policy_dispatch_msg(struct exchange *r)
{
	struct msg *m = &r->req;

	policy_begin(r);
	if (m->method.len == 0) {
		respond_error(r, 400, "bad_request",
		    "request head cannot be forwarded");
		return;
	}
	if (!msg_str_eq(m, m->scheme, "https", 5)) {
		respond_error(r, 400, "bad_request",
		    ":scheme is not https on a TLS connection");
		return;
	}
	if (policy_admit(r, (struct http1_str){ msg_ptr(m, m->authority),
	    m->authority.len }, (struct http1_str){ msg_ptr(m, m->path),
	    m->path.len }) == -1)
		return;
	/* An extended CONNECT (RFC 8441) goes on as a WebSocket's GET. */
	if (m->upgrade && extconnect_request(r) == -1)
		return;
	if (msg_copy(m, r->norm, r->norm_len, &m->path) == -1 ||
	    msg_copy(m, r->c->authority, strlen(r->c->authority),
	    &m->authority) == -1) {
		respond_error(r, 400, "bad_request",
		    "request head cannot be forwarded");
		return;
	}
	policy_decide(r);
}

/* Would rule (NULL: none matched) deny a request on c? */
static int
policy_denies(struct conn *c, const struct rule *rule)
{
	return rule == NULL ? front_cfg(c)->default_deny :
	    rule->action == RULE_DENY;
}

/* Does field f ask for the request to be read as another method? */
static int
policy_is_override(const struct msg *m, const struct msg_field *f)
{
	static const char *const names[] = { "x-http-method-override",
	    "x-http-method", "x-method-override" };
	size_t k;

	for (k = 0; k < sizeof(names) / sizeof(names[0]); k++)
		if (msg_str_eq(m, f->name, names[k], strlen(names[k])))
			return 1;
	return 0;
}

/*
 * v[0..len) with each "%XX" decoded, once, into out (room for len
 * bytes); its length.  A '%' without two hex digits stays as it is.
 */
static size_t
policy_unescape(const char *v, size_t len, char *out)
{
	size_t i, n = 0;
	int hi, lo;

	for (i = 0; i < len; i++) {
		if (v[i] == '%' && len - i >= 3 &&
		    (hi = urlpath_hexval(v[i + 1])) >= 0 &&
		    (lo = urlpath_hexval(v[i + 2])) >= 0) {
			out[n++] = (char)(hi << 4 | lo);
			i += 2;
		} else
			out[n++] = v[i];
	}
	return n;
}

/*
 * Is r's request denied when read as the method v[0..len) names, spaces
 * around it trimmed (Node and Rack trim a field's value)?  Then 1, with
 * *alt the rule that denies it (NULL: the default policy).  A value that
 * is no method name reads as "?", which no rule's method matches.
 */
static int
policy_method_reading(struct exchange *r, struct http1_str path,
    const char *v, size_t len, const struct rule **alt)
{
	char method[32];
	size_t n;

	while (len > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		len--;
	}
	while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t'))
		len--;
	for (n = 0; n < len && msg_tchar(v[n]); n++)
		;
	if (n == 0 || n != len || n >= sizeof(method))
		snprintf(method, sizeof(method), "?");
	else
		snprintf(method, sizeof(method), "%.*s", (int)n, v);
	*alt = rules_match_request(r->rules, r->host, r->c->dst_port, method,
	    path.p, path.len);
	return policy_denies(r->c, *alt);
}

/*
 * The same for each element of a method override's value: Express's
 * method-override takes the first of "DELETE, GET", another reader may
 * take the last, so every element is a reading; and each as it is and
 * with its escapes decoded ("DEL%45TE"), in case a reader decodes them.
 */
static int
policy_method_readings(struct exchange *r, struct http1_str path,
    const char *v, size_t len, const struct rule **alt)
{
	const char *comma;
	char dec[96];		/* longer never decodes to a method name */
	size_t n;

	for (;;) {
		comma = memchr(v, ',', len);
		n = comma != NULL ? (size_t)(comma - v) : len;
		if (policy_method_reading(r, path, v, n, alt))
			return 1;
		if (memchr(v, '%', n) != NULL && n < sizeof(dec) &&
		    policy_method_reading(r, path, dec,
		    policy_unescape(v, n, dec), alt))
			return 1;
		if (comma == NULL)
			return 0;
		v += n + 1;
		len -= n + 1;
	}
}

/*
 * Is q[0..len), a query parameter's name, "_method", as it is or with its
 * escapes decoded (PHP decodes names too)?
 */
static int
policy_is_method_param(const char *q, size_t len)
{
	char dec[16];

	if (len == 7 && memcmp(q, "_method", 7) == 0)
		return 1;
	return len < sizeof(dec) && memchr(q, '%', len) != NULL &&
	    policy_unescape(q, len, dec) == 7 && memcmp(dec, "_method", 7) == 0;
}

/*
 * The same for each "_method" parameter in the query (separated by '&'
 * or ';'): Laravel, and Symfony with its parameter override on, serve
 * "POST /x?_method=DELETE" as a DELETE.  One in a form body is not seen:
 * sluice decides before it reads a body.
 */
static int
policy_method_params(struct exchange *r, struct http1_str path,
    const struct rule **alt)
{
	const char *q = r->norm + path.len, *end = r->norm + r->norm_len;
	const char *eq;
	size_t n;

	while (q < end) {
		q++;			/* the '?', '&' or ';' */
		for (n = 0; q + n < end && q[n] != '&' && q[n] != ';'; n++)
			;
		if ((eq = memchr(q, '=', n)) != NULL &&
		    policy_is_method_param(q, (size_t)(eq - q)) &&
		    policy_method_readings(r, path, eq + 1,
		    n - (size_t)(eq + 1 - q), alt))
			return 1;
		q += n;
	}
	return 0;
}

/*
 * The rule for r's request once the methods it asks to be read as are
 * matched too.  APIs and frameworks that honour a method override
 * (Google's APIs, Express's method-override, Symfony) serve a POST with
 * "X-HTTP-Method-Override: DELETE" as a DELETE, so a deny of DELETE must
 * meet it: the request is matched again under each method such a field
 * names (policy_method_readings()), or a "_method" query parameter
 * (policy_method_params()), and a deny under any reading stands,
 * while an allow holds only when every reading is allowed.  A HEAD is
 * also read as a GET: Flask, Express, Rails and Django run a GET's
 * handler for it, so a deny of GET meets it.
 */
static const struct rule *
policy_overrides(struct exchange *r, const struct rule *rule,
    struct http1_str path)
{
	const struct msg *m = &r->req;
	const struct msg_field *f;
	const struct rule *alt;
	size_t i;

	if (policy_denies(r->c, rule))
		return rule;
	if (strcasecmp(r->method, "HEAD") == 0) {
		alt = rules_match_request(r->rules, r->host, r->c->dst_port,
		    "GET", path.p, path.len);
		if (policy_denies(r->c, alt))
			return alt;
	}
	for (i = 0; msg_next(m, NULL, 0, &i, &f) == 0; ) {
		if (policy_is_override(m, f) && policy_method_readings(r,
		    path, msg_ptr(m, f->value), f->value.len, &alt))
			return alt;
	}
	if (policy_method_params(r, path, &alt))
		return alt;
	return rule;
}

/*
 * The same for the paths a request asks to be read as: Symfony before
 * 2.8.44/3.4.14 and Zend Framework (CVE-2018-14773), and IIS behind URL
 * Rewrite, route by X-Original-URL or X-Rewrite-URL instead of the
 * request line, so "GET /ok" with "X-Original-URL: /admin" is /admin to
 * them.  Each such path is normalised as a target is and matched too: a
 * deny under any reading stands, an allow must allow every one.  -1 when
 * a value is no origin-form target sluice can read (the caller answers
 * 400), else 0 with *rule the one that decides.
 */
static int
policy_path_overrides(struct exchange *r, const struct rule **rule)
{
	static const char *const names[] = { "x-original-url",
	    "x-rewrite-url" };
	const struct msg *m = &r->req;
	const struct msg_field *f;
	const struct rule *alt;
	struct http1_str path;
	char *norm;
	ssize_t n;
	size_t i, k;

	for (k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		for (i = 0; msg_next(m, names[k], strlen(names[k]), &i,
		    &f) == 0; ) {
			if (policy_denies(r->c, *rule))
				return 0;
			if ((norm = malloc(f->value.len + 1)) == NULL)
				return -1;
			n = urlpath_normalise(msg_ptr(m, f->value),
			    f->value.len, norm);
			path.p = norm;
			path.len = n < 0 ? 0 : urlpath_path_len(norm, n);
			alt = n < 0 || path.len == 0 ? NULL :
			    rules_match_request(r->rules, r->host,
			    r->c->dst_port, r->method, path.p, path.len);
			free(norm);
			if (n < 0 || path.len == 0)
				return -1;
			if (policy_denies(r->c, alt))
				*rule = alt;
		}
	}
	return 0;
}

/*
 * The rule whose rate limit r's request spends, rule being the one that
 * allows it (NULL: the default policy): an earlier rule with a limit that
 * would match it under a deny's readings of its path, else rule's own
 * limit.  Without that, "/v1/search/", "/v1//search" or "/v1/search;x"
 * (the same endpoint to Express, nginx or Tomcat) would be allowed by a
 * later, wider allow and spend nothing from "/v1/search"'s limit.
 */
static const struct rule *
policy_limit_rule(struct exchange *r, const struct rule *rule,
    struct http1_str path)
{
	const struct rule *lim;

	lim = rules_match_limit(r->rules, r->host, r->c->dst_port, r->method,
	    path.p, path.len);
	/* Both point into the snapshot's rules, in matching order. */
	if (lim != NULL && (rule == NULL || lim < rule))
		return lim;
	return rule != NULL && rule->has_limit ? rule : NULL;
}

/*
 * Decide what to do with exchange r's request, from its message (r->req)
 * and normalised target alone, whichever codec built them: the rule, a
 * deny (or would_deny), a fresh cache hit, the rate limit, then the cache
 * step and the upstream.
 */
void
policy_decide(struct exchange *r)
{
	struct conn *c = r->c;
	const struct rule *rule;
	struct http1_str path;

	r->rules = dpenv_rules(c->env);
	rules_snapshot_ref(r->rules);
	path.p = r->norm;
	path.len = urlpath_path_len(r->norm, r->norm_len);
	rule = rules_match_request(r->rules, r->host, c->dst_port, r->method,
	    path.p, path.len);
	rule = policy_overrides(r, rule, path);
	if (policy_path_overrides(r, &rule) == -1) {
		respond_error(r, 400, "bad_request", "X-Original-URL or "
		    "X-Rewrite-URL is no target sluice can read");
		return;
	}
	r->rule = rule;
	if (rule != NULL)
		r->rule_id = rule->id;
	if (policy_denies(c, rule)) {
		if (policy_deny_stands(c, r->host, r->method, path.p, path.len,
		    r->rule_id)) {
			respond_denied(r, r->rule_id);
			return;
		}
		/* Sent as with no rule: a deny's limit or cache never applies. */
		r->decision = "would_deny";
		r->rule = rule = NULL;
	} else
		r->limit_rule = policy_limit_rule(r, rule, path);
	/* A fresh hit costs the upstream nothing: it spends no token. */
	if (r->limit_rule != NULL && rule != NULL && lookup_hit(r, rule))
		return;
	if (r->limit_rule != NULL &&
	    policy_limit(r, r->limit_rule) != POLICY_LIMIT_PASS)
		return;		/* answered 429, or held until the timer */
	lookup_send(r, rule);
}
