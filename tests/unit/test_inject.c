/*
 * test_inject.c - credential injection: wire forms and what reaches the wire
 * once a request message is changed and written (h1codec.c).
 */
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "h1codec.h"
#include "http1.h"
#include "inject.h"
#include "mask.h"
#include "msg.h"
#include "rules.h"
#include "unit.h"

static struct rule_injection
mk(enum rule_inject_kind kind, const char *name, const char *value)
{
	struct rule_injection inj;

	memset(&inj, 0, sizeof(inj));
	inj.kind = kind;
	inj.name = (char *)name;
	inj.secret_name = "s";
	inj.value = strdup(value);
	inj.value_len = strlen(value);
	return inj;
}

/*
 * Rewrite req for a rule with injections inj[0..n), sending target (NULL:
 * the one in req); the result is malloc'd.
 */
static char *
rewrite_to(const char *req, const char *target, struct rule_injection *inj,
    size_t n, char **audit, char *names, size_t namesz)
{
	struct rule rule;
	struct http1_head h;
	struct evbuffer *out = evbuffer_new();
	struct msg m;
	const char *why;
	char authority[64];
	size_t len;
	char *s;
	int rc;

	memset(&rule, 0, sizeof(rule));
	rule.injections = inj;
	rule.ninjections = n;
	if (http1_parse_request(req, strlen(req), &h, &why) != HTTP1_OK)
		return NULL;
	if (target != NULL) {
		h.target.p = target;
		h.target.len = strlen(target);
	}
	/* The connection was verified for whatever Host names. */
	snprintf(authority, sizeof(authority), "%.*s", (int)h.host.len,
	    h.host.p);
	msg_init(&m, MSG_REQUEST);
	rc = h1codec_request_msg(&h, req, h.target.p, h.target.len, authority,
	    &m);
	if (rc == 0)
		rc = inject_request(&m, n ? &rule : NULL, audit, names,
		    namesz);
	if (rc == 0)
		rc = h1codec_write_request(out, &m, h.version_minor, 0);
	msg_free(&m);
	if (rc == -1)
		return NULL;
	len = evbuffer_get_length(out);
	s = malloc(len + 1);
	evbuffer_remove(out, s, len);
	s[len] = '\0';
	evbuffer_free(out);
	return s;
}

static char *
rewrite(const char *req, struct rule_injection *inj, size_t n, char **audit,
    char *names, size_t namesz)
{
	return rewrite_to(req, NULL, inj, n, audit, names, namesz);
}

static int
starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static int
count(const char *hay, const char *needle)
{
	int n = 0;

	for (; (hay = strstr(hay, needle)) != NULL; hay++)
		n++;
	return n;
}

static void
test_prepare(void)
{
	struct rule_injection b = mk(RULE_INJECT_BEARER, NULL, "tok");
	struct rule_injection ba = mk(RULE_INJECT_BASIC, NULL, "user:pa:ss");
	struct rule_injection q = mk(RULE_INJECT_QUERY, "k", "a b&c=d/+~");
	struct rule_injection bad = mk(RULE_INJECT_HEADER, "X", "a\r\nX: y");
	struct rule_injection nocolon = mk(RULE_INJECT_BASIC, NULL, "user");

	CHECK(inject_prepare(&b) == 0 && strcmp(b.wire, "Bearer tok") == 0,
	    "bearer wire form");
	CHECK(inject_prepare(&ba) == 0 &&
	    strcmp(ba.wire, "Basic dXNlcjpwYTpzcw==") == 0,
	    "basic is base64 of user:password");
	CHECK(inject_prepare(&q) == 0 &&
	    strcmp(q.wire, "a%20b%26c%3Dd%2F%2B~") == 0,
	    "query value is percent-encoded");
	CHECK(inject_prepare(&bad) == -1, "CR/LF in a header secret refused");
	CHECK(inject_prepare(&nocolon) == -1, "basic secret needs user:password");
	inject_clear(&b);
	CHECK(b.value == NULL && b.wire == NULL, "clear frees value and wire");
	inject_clear(&ba);
	inject_clear(&q);
	inject_clear(&bad);
	inject_clear(&nocolon);
}

static void
test_headers(void)
{
	struct rule_injection inj[2] = {
		mk(RULE_INJECT_BEARER, NULL, "SECRET1"),
		mk(RULE_INJECT_HEADER, "X-Api-Key", "SECRET2"),
	};
	char names[128], *audit, *out;

	inject_prepare(&inj[0]);
	inject_prepare(&inj[1]);
	out = rewrite("GET /v1/x?a=1 HTTP/1.1\r\nHost: api.test\r\n"
	    "authorization: Bearer client\r\nx-api-key: client\r\n"
	    "Accept: */*\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\n"
	    "Keep-Alive: 5\r\n\r\n", inj, 2, &audit, names, sizeof(names));
	CHECK(out != NULL, "rewrite succeeds");
	CHECK(starts(out, "GET /v1/x?a=1 HTTP/1.1\r\nHost: api.test\r\n"),
	    "request line and Host kept");
	CHECK(strstr(out, "client") == NULL, "client credentials not forwarded");
	CHECK(count(out, "Authorization: Bearer SECRET1\r\n") == 1,
	    "one Authorization, ours");
	CHECK(count(out, "X-Api-Key: SECRET2\r\n") == 1, "one X-Api-Key, ours");
	CHECK(strstr(out, "Accept: */*\r\n") != NULL, "other fields kept");
	CHECK(strstr(out, "Connection") == NULL && strstr(out, "X-Hop") == NULL
	    && strstr(out, "Keep-Alive") == NULL, "hop-by-hop fields dropped");
	CHECK(strcmp(out + strlen(out) - 4, "\r\n\r\n") == 0, "head ends");
	CHECK(strcmp(names, "Authorization,X-Api-Key") == 0, "injected names");
	CHECK(audit == NULL, "no masked copy: the target as sent is audited");
	free(out);
	free(audit);
	inject_clear(&inj[0]);
	inject_clear(&inj[1]);
}

static void
test_query(void)
{
	struct rule_injection inj = mk(RULE_INJECT_QUERY, "api_key", "s&=1");
	char names[128], *audit, *out;

	inject_prepare(&inj);
	out = rewrite("GET /p?a=1&api_key=client&api%5Fkey=x&b=2&api_key "
	    "HTTP/1.1\r\nHost: api.test\r\n\r\n", &inj, 1, &audit, names,
	    sizeof(names));
	CHECK(out != NULL &&
	    starts(out, "GET /p?a=1&b=2&api_key=s%26%3D1 HTTP/1.1\r\n"),
	    "client's parameter (also encoded, also bare) replaced by ours");
	CHECK(strcmp(audit, "/p?a=1&b=2&api_key=***") == 0,
	    "audit target masks the injected value");
	CHECK(strcmp(names, "api_key") == 0, "injected parameter name");
	free(out);
	free(audit);

	out = rewrite("GET /p HTTP/1.1\r\nHost: a\r\n\r\n", &inj, 1, &audit,
	    names, sizeof(names));
	CHECK(out != NULL && starts(out, "GET /p?api_key=s%26%3D1 HTTP/1.1\r\n"),
	    "parameter added to a target without query");
	CHECK(strcmp(audit, "/p?api_key=***") == 0, "masked without query");
	free(out);
	free(audit);
	inject_clear(&inj);
}

static void
test_no_rule(void)
{
	char names[16], *audit, *out;

	out = rewrite("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
	    "Connection: close\r\n\r\n", NULL, 0, &audit, names,
	    sizeof(names));
	CHECK(out != NULL && strcmp(out, "POST /x HTTP/1.1\r\nHost: a\r\n"
	    "Content-Length: 3\r\n\r\n") == 0,
	    "without a rule only hop-by-hop fields go");
	CHECK(names[0] == '\0' && audit == NULL,
	    "nothing injected, target as sent");
	free(out);
	free(audit);
}

/* The request line is made from the message, with the target given. */
static void
test_target(void)
{
	struct rule_injection inj = mk(RULE_INJECT_QUERY, "key", "v");
	char names[16], *audit, *out;

	out = rewrite_to("GET /v1/./x/../admin HTTP/1.0\r\nHost: a\r\n\r\n",
	    "/v1/admin", NULL, 0, &audit, names, sizeof(names));
	CHECK(out != NULL && strcmp(out, "GET /v1/admin HTTP/1.0\r\n"
	    "Host: a\r\n\r\n") == 0,
	    "target: the given target is sent, not the client's spelling");
	CHECK(audit == NULL, "target: no masked copy without a query");
	free(out);
	free(audit);

	inject_prepare(&inj);
	out = rewrite_to("GET /a/%2e%2e/b?key=c&x=1 HTTP/1.1\r\nHost: a\r\n"
	    "\r\n", "/b?key=c&x=1", &inj, 1, &audit, names, sizeof(names));
	CHECK(out != NULL && starts(out, "GET /b?x=1&key=v HTTP/1.1\r\n"),
	    "target: the given target gets the injected parameter");
	CHECK(audit != NULL && strcmp(audit, "/b?x=1&key=***") == 0,
	    "target: masked copy made from the given target");
	free(out);
	free(audit);
	inject_clear(&inj);
}

/*
 * The request as a message (for an HTTP/2 leg): the rule's credential
 * replaces the client's, the cache's validators are added, the client's
 * message stays as it was.
 */
static void
test_copy(void)
{
	static const char req[] = "GET /v1/x HTTP/1.1\r\nHost: api.test\r\n"
	    "Authorization: Bearer client\r\n\r\n";
	struct rule_injection inj = mk(RULE_INJECT_BEARER, NULL, "SECRET1");
	struct rule rule;
	struct http1_head h;
	struct msg m, out;
	const struct msg_field *f;
	char names[64], *audit;
	const char *why;

	memset(&rule, 0, sizeof(rule));
	rule.injections = &inj;
	rule.ninjections = 1;
	inject_prepare(&inj);
	msg_init(&m, MSG_REQUEST);
	CHECK(http1_parse_request(req, strlen(req), &h, &why) == HTTP1_OK &&
	    h1codec_request_msg(&h, req, h.target.p, h.target.len, "api.test",
	    &m) == 0, "copy: parsed");
	CHECK(inject_request_copy(&out, &m, &rule, "If-None-Match: \"v1\"\r\n",
	    &audit, names, sizeof(names)) == 0, "copy: made");
	f = msg_find(&out, "authorization", 13);
	CHECK(f != NULL && f->value.len == 14 && memcmp(msg_ptr(&out,
	    f->value), "Bearer SECRET1", 14) == 0, "copy: the rule's credential");
	f = msg_find(&out, "if-none-match", 13);
	CHECK(f != NULL && f->value.len == 4, "copy: the validators added");
	CHECK(strcmp(names, "Authorization") == 0 && audit == NULL,
	    "copy: injected names, target as sent");
	f = msg_find(&m, "authorization", 13);
	CHECK(f != NULL && f->value.len == 13 &&
	    msg_find(&m, "if-none-match", 13) == NULL,
	    "copy: the client's message unchanged");
	msg_free(&out);
	msg_free(&m);
	inject_clear(&inj);
}

static const char *
field(const struct msg *m, const char *name)
{
	static char v[256];
	const struct msg_field *f = msg_find(m, name, strlen(name));

	if (f == NULL)
		return "";
	snprintf(v, sizeof(v), "%.*s", (int)f->value.len, msg_ptr(m, f->value));
	return v;
}

/* rule with inj[0..n), prepared as the loader does, its mask built. */
static void
masking_rule(struct rule *rule, struct rule_injection *inj, size_t n)
{
	size_t i;

	memset(rule, 0, sizeof(*rule));
	rule->injections = inj;
	rule->ninjections = n;
	for (i = 0; i < n; i++)
		if (inject_prepare(&inj[i]) == -1 ||
		    inject_mask_forms(&rule->mask, &inj[i]) == -1)
			abort();
}

static void
test_mask_response(void)
{
	struct rule_injection inj[3] = {
		mk(RULE_INJECT_QUERY, "key", "k/1 x"),
		mk(RULE_INJECT_BASIC, NULL, "u:pw"),
		mk(RULE_INJECT_HEADER, "X-Key", "hk"),
	};
	struct rule rule;
	struct msg m;
	size_t i;

	masking_rule(&rule, inj, 3);
	msg_init(&m, MSG_RESPONSE);
	msg_set_status(&m, 302, "Found", 5);
	msg_add(&m, "Location", 8, "/m?key=k%2F1%20x&b=1", 20);
	msg_add(&m, "X-Auth", 6, "Basic dTpwdw== and u:pw", 23);
	msg_add(&m, "X-Plain", 7, "k/1 x", 5);
	msg_add(&m, "X-Other", 7, "hk is short", 11);
	CHECK(inject_mask_response(&m, &rule) == 3,
	    "mask: three fields changed");
	CHECK(strcmp(field(&m, "location"), "/m?key=***&b=1") == 0,
	    "mask: a query secret, percent-encoded, in Location");
	CHECK(strcmp(field(&m, "x-auth"), "Basic *** and ***") == 0,
	    "mask: basic's base64 and its user:password");
	CHECK(strcmp(field(&m, "x-plain"), "***") == 0,
	    "mask: a secret as is");
	CHECK(strcmp(field(&m, "x-other"), "hk is short") == 0,
	    "mask: a secret shorter than the mask is left");
	CHECK(m.secret, "mask: the message wipes its arena");
	CHECK(inject_mask_response(&m, NULL) == 0, "mask: no rule, no change");
	msg_free(&m);
	mask_set_clear(&rule.mask);
	for (i = 0; i < 3; i++)
		inject_clear(&inj[i]);
}

/* Is form f[0..n) in rule's mask? */
static int
has_form(const struct rule *rule, const char *f)
{
	size_t i;

	for (i = 0; i < rule->mask.n; i++)
		if (rule->mask.v[i].len == strlen(f) &&
		    memcmp(rule->mask.v[i].p, f, strlen(f)) == 0)
			return 1;
	return 0;
}

static void
test_mask_forms(void)
{
	struct rule_injection inj[2] = {
		mk(RULE_INJECT_BEARER, NULL, "t/k\\"),
		mk(RULE_INJECT_BASIC, NULL, "u:p\"h>"),
	};
	struct rule rule;
	struct msg m;
	struct http1_head h, v;
	const char *why, *resp = "HTTP/1.1 200 OK\r\nX-Seen: Bearer t/k\\\r\n"
	    "Content-Encoding: identity\r\nContent-Length: 2\r\n\r\n";
	size_t i;

	masking_rule(&rule, inj, 2);
	CHECK(has_form(&rule, "t/k\\") && has_form(&rule, "t/k\\\\") &&
	    has_form(&rule, "t\\/k\\\\") && !has_form(&rule, "Bearer t/k\\"),
	    "forms: the value, JSON-escaped, with '/' escaped too; no prefix");
	CHECK(has_form(&rule, "u:p\"h>") && has_form(&rule, "u:p\\\"h>") &&
	    has_form(&rule, inj[1].wire + 6), "forms: basic's user:password, "
	    "JSON-escaped, and its base64");
	CHECK(rule.mask.n == 6, "forms: a JSON form that is the same is not "
	    "added twice");

	msg_init(&m, MSG_RESPONSE);
	msg_add_trailer(&m, "grpc-message", 12,
	    "bad token t\\/k\\\\ given", 22);
	CHECK(inject_mask_response(&m, &rule) == 1 && strncmp(msg_ptr(&m,
	    m.trailers.v[0].value), "bad token *** given",
	    m.trailers.v[0].value.len) == 0, "trailers are masked like fields");
	msg_free(&m);

	CHECK(http1_parse_response(resp, strlen(resp), (struct http1_str){
	    "GET", 3 }, &h, &why) == HTTP1_OK, "a response head parses");
	CHECK(inject_mask_view(&h, &rule, &m, &v) == 0 &&
	    http1_str_eq(v.headers[0].value, "Bearer ***") &&
	    http1_str_eq(v.headers[1].value, "identity") && v.status == 200 &&
	    v.body == HTTP1_BODY_LENGTH, "the cache's view of a head: masked "
	    "fields, the same framing");
	msg_free(&m);
	CHECK(!inject_body_hidden_head(&rule, &h), "identity hides nothing");
	msg_init(&m, MSG_RESPONSE);
	msg_set_body(&m, MSG_BODY_LENGTH, 2);
	msg_add(&m, "Content-Encoding", 16, "identity", 8);
	msg_add(&m, "content-encoding", 16, " gzip ", 6);
	CHECK(inject_body_hidden(&rule, &m), "a second coding hides the body");
	CHECK(!inject_body_hidden(NULL, &m), "... only from a rule that injects");
	msg_set_body(&m, MSG_BODY_NONE, 0);
	CHECK(!inject_body_hidden(&rule, &m), "... and only a body there is");
	msg_free(&m);
	mask_set_clear(&rule.mask);
	for (i = 0; i < 2; i++)
		inject_clear(&inj[i]);
}

int
main(void)
{
	test_prepare();
	test_headers();
	test_query();
	test_no_rule();
	test_target();
	test_copy();
	test_mask_response();
	test_mask_forms();
	return unit_done();
}
