/*
 * intercept.c - what a new connection is.  A --connect listener's client
 * first sends "CONNECT host:port" (the host is resolved, checked by the
 * SSRF guard and answered 200); a transparent one's destination comes from
 * the socket.  Then the ClientHello is peeked (without reading it off the
 * socket) for its SNI: a host-level passthrough rule relays the connection
 * untouched, bound to that name (tunnel.c); anything else gets TLS with a
 * leaf forged for the name (front.c runs the handshake).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/dns.h>
#include <event2/event.h>

#include "audit.h"
#include "clienthello.h"
#include "datapath.h"
#include "guard.h"
#include "rules.h"
#include "sock.h"
#include "tls.h"
#include "util.h"

static void intercept_dns_cb(int result, struct evutil_addrinfo *ai, void *arg);
static void intercept_start_tls(struct conn *c);

/* --resolve HOST:PORT:ADDR, else NULL. */
static const struct config_resolve *
intercept_resolve_override(struct conn *c, const char *host, int port)
{
	const struct config *cfg = front_cfg(c);
	int i;

	for (i = 0; i < cfg->nresolve; i++)
		if (cfg->resolve[i].port == port &&
		    strcmp(cfg->resolve[i].host, host) == 0)
			return &cfg->resolve[i];
	return NULL;
}

/*
 * Answer the CONNECT line on the raw socket: the 200, or status with a JSON
 * body {"error":code,"reason":why} and a close.  Tiny, so one send().
 */
static int
intercept_connect_reply(struct conn *c, int status, const char *code,
    const char *why)
{
	struct evbuffer *out = evbuffer_new(), *body = evbuffer_new();
	size_t len;
	int rc = -1;

	if (out == NULL || body == NULL)
		goto fail;
	if (status == 200)
		evbuffer_add_printf(out,
		    "HTTP/1.1 200 Connection established\r\n\r\n");
	else {
		evbuffer_add_printf(body, "{\"error\":\"%s\",\"reason\":",
		    code);
		respond_json_str(body, why);
		evbuffer_add_printf(body, "}\n");
		evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\n"
		    "Content-Type: application/json\r\nContent-Length: %zu\r\n"
		    "Connection: close\r\n\r\n", status, h1codec_reason(status),
		    evbuffer_get_length(body));
		evbuffer_add_buffer(out, body);
	}
	len = evbuffer_get_length(out);
	if (send(c->fd, evbuffer_pullup(out, -1), len, MSG_NOSIGNAL) ==
	    (ssize_t)len) {
		c->wire_out += len;
		rc = 0;
	}
fail:
	if (out != NULL)
		evbuffer_free(out);
	if (body != NULL)
		evbuffer_free(body);
	return rc;
}

/*
 * The one audit row of a connection that carried no request: a passthrough
 * tunnel, or a connection refused or failed before TLS.  method is
 * "CONNECT" for an answer to the CONNECT line, else NULL.  Also the row of
 * a CONNECT that --report-only let through (would_deny), before the rows
 * of the requests it carries.
 */
void
intercept_audit_flow(struct conn *c, const char *decision, const char *method,
    int status, int64_t rule_id, const char *error)
{
	struct audit_record rec = {
		.ts_ms = c->start_ms,
		.client = c->client_str,
		.server = c->server_str,
		.sni = c->sni[0] ? c->sni : NULL,
		.host = c->name[0] ? c->name :
		    c->connect_host[0] ? c->connect_host : NULL,
		.method = method,
		.status = status,
		.decision = decision,
		.rule_id = rule_id,
		.req_bytes = c->passthrough ? (int64_t)c->tunnel_up : -1,
		.resp_bytes = c->passthrough ? (int64_t)c->tunnel_down : -1,
		.duration_ms = util_mono_ms() - c->start_mono,
		.error = error,
		.conn_id = c->audit_id,
	};

	/* A CONNECT only reported as would_deny goes on: its end comes later. */
	if (strcmp(decision, "would_deny") != 0)
		c->end_reason = c->passthrough ? "tunnel_closed" :
		    strcmp(decision, "error") == 0 ? "failed_before_tls" :
		    "refused";
	audit_submit(c->env->audit, &rec);
	counters_request(c->env->counters, counters_decision(decision), status,
	    rule_id, NULL);
}

/* Refuse or fail a CONNECT before its 200: answer, audit, close. */
void
intercept_connect_fail(struct conn *c, int status, const char *decision,
    int64_t rule_id, const char *why)
{
	const char *code = status == 403 ? "denied" :
	    status == 504 ? "gateway_timeout" : "bad_gateway";

	log_event(LOG_WARN, "connect_refused", "client=%s host=%s port=%d "
	    "status=%d err=%s", c->client_str, c->connect_host, c->dst_port,
	    status, why);
	intercept_connect_reply(c, status, code, why);
	intercept_audit_flow(c, decision, "CONNECT", status, rule_id, why);
	front_kill(c);
}

/* Refuse a transparent connection before TLS: audit and close. */
void
intercept_refuse(struct conn *c, int64_t rule_id, const char *why)
{
	log_event(LOG_WARN, "conn_refused", "client=%s server=%s sni=%s "
	    "err=%s", c->client_str, c->server_str, c->sni, why);
	intercept_audit_flow(c, "denied", NULL, 0, rule_id, why);
	front_kill(c);
}

/* Resolve host for c->dst_port; intercept_dns_cb() carries on. */
static void
intercept_resolve(struct conn *c, const char *host)
{
	struct evdns_getaddrinfo_request *req;
	struct evutil_addrinfo hints;
	char port[8];

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof(port), "%d", c->dst_port);
	c->state = CONN_RESOLVING;
	front_arm(c, front_cfg(c)->handshake_timeout);
	/* A hosts-file or literal answer calls back before this returns. */
	c->dns_sync = 1;
	req = evdns_getaddrinfo(c->env->dns, host, port, &hints,
	    intercept_dns_cb, c);
	c->dns_sync = 0;
	c->dnsreq = req;
}

/* Why a lookup failed, for people. */
static const char *
intercept_dns_error(int result)
{
	switch (result) {
	case 0: return "no address";
	case EVUTIL_EAI_NONAME: return "no such name (NXDOMAIN)";
	case EVUTIL_EAI_FAIL: return "lookup failed (SERVFAIL or no answer)";
	default: return evutil_gai_strerror(result);
	}
}

static void
intercept_connect_ready(struct conn *c, const struct sockaddr *sa,
    socklen_t len)
{
	char why[160];

	memcpy(&c->up_addr, sa, len);
	c->up_len = len;
	util_addr_str(sa, c->server_str, sizeof(c->server_str));
	if (guard_check(sa, dpenv_rules(c->env), c->connect_host, why,
	    sizeof(why)) == -1) {
		intercept_connect_fail(c, 403, "denied", -1, why);
		return;
	}
	if (intercept_connect_reply(c, 200, NULL, NULL) == -1) {
		front_kill(c);
		return;
	}
	/* The ClientHello may have come with the CONNECT: no new edge. */
	c->state = CONN_PEEK;
	intercept_peek(c);
}

/*
 * The SNI of a passthrough connection resolved: dial the client's
 * destination if it is one of the name's addresses, else the first of them
 * (of the client's family if there is one), so the tunnel reaches only the
 * name the rule allowed, whatever address the client chose.
 */
static void
intercept_passthrough_resolved(struct conn *c, int result,
    const struct evutil_addrinfo *ai)
{
	const struct evutil_addrinfo *i, *pick = NULL;
	char why[CONFIG_HOST_MAX + 160], want[64];

	if (result != 0 || ai == NULL) {
		snprintf(why, sizeof(why), "passthrough: %s: %s", c->sni,
		    intercept_dns_error(result));
		intercept_refuse(c, c->passthrough_rule, why);
		return;
	}
	for (i = ai; i != NULL && pick == NULL; i = i->ai_next)
		if (guard_same_addr(i->ai_addr, (struct sockaddr *)&c->up_addr))
			pick = i;
	for (i = ai; i != NULL && pick == NULL; i = i->ai_next)
		if (i->ai_family == c->up_addr.ss_family)
			pick = i;
	if (pick == NULL)
		pick = ai;
	if (!guard_same_addr(pick->ai_addr, (struct sockaddr *)&c->up_addr)) {
		snprintf(want, sizeof(want), "%s", c->server_str);
		memcpy(&c->up_addr, pick->ai_addr, pick->ai_addrlen);
		c->up_len = pick->ai_addrlen;
		util_addr_str(pick->ai_addr, c->server_str,
		    sizeof(c->server_str));
		snprintf(c->passthrough_note, sizeof(c->passthrough_note),
		    "client's destination %s is not an address of %s; "
		    "dialled %s", want, c->sni, c->server_str);
		log_event(LOG_INFO, "passthrough_redialled", "client=%s sni=%s "
		    "asked=%s dialled=%s", c->client_str, c->sni, want,
		    c->server_str);
	}
	tunnel_start(c, c->passthrough_rule);
}

static void
intercept_dns_cb(int result, struct evutil_addrinfo *ai, void *arg)
{
	struct conn *c = arg;
	char why[CONFIG_HOST_MAX + 80];

	if (result == EVUTIL_EAI_CANCEL)
		return;
	c->dnsreq = NULL;
	if (!c->connect_mode)
		intercept_passthrough_resolved(c, result, ai);
	else if (result != 0 || ai == NULL) {
		snprintf(why, sizeof(why), "cannot resolve %s: %s",
		    c->connect_host, intercept_dns_error(result));
		intercept_connect_fail(c, 502, "error", -1, why);
	} else
		intercept_connect_ready(c, ai->ai_addr, ai->ai_addrlen);
	if (ai != NULL)
		evutil_freeaddrinfo(ai);
	if (!c->dns_sync)
		front_run(c);
}

/* The CONNECT target's host and port, read as every authority is. */
static int
intercept_parse_authority(struct http1_str t, char *host, size_t hostsz,
    int *port)
{
	struct authority a;

	if (authority_parse(t.p, t.len, &a) == -1 || a.port == 0)
		return -1;
	*port = a.port;
	snprintf(host, hostsz, "%s", a.host);
	return 0;
}

/*
 * The CONNECT head at the start of buf[0..n), its bare LF line ends made
 * CRLF, into out[0..outsz); *used: the bytes of buf it spans.  RFC 9112
 * section 2.2 lets a recipient accept a bare LF, and this head is never
 * forwarded (heads that are stay strict).  Returns the length written, 0
 * while the empty line has not arrived, -1 if it does not fit.
 */
static ssize_t
intercept_connect_crlf(const char *buf, size_t n, char *out, size_t outsz,
    size_t *used)
{
	size_t i, o = 0;
	int empty = 0;		/* the line so far holds nothing but CR */

	for (i = 0; i < n; i++) {
		if (o + 2 > outsz)
			return -1;
		if (buf[i] != '\n') {
			out[o++] = buf[i];
			empty = empty && buf[i] == '\r';
			continue;
		}
		if (i == 0 || buf[i - 1] != '\r')
			out[o++] = '\r';
		out[o++] = '\n';
		if (empty) {
			*used = i + 1;
			return (ssize_t)o;
		}
		empty = 1;
	}
	return 0;
}

/* A CONNECT to a port other than 443 needs a rule (or allow by default). */
static int
intercept_connect_port_ok(struct conn *c, int64_t *rule_id)
{
	const struct rule *rule;

	*rule_id = -1;
	if (c->dst_port == CONN_TLS_PORT)
		return 1;
	rule = rules_match_conn(dpenv_rules(c->env), c->connect_host,
	    c->dst_port);
	if (rule != NULL) {
		*rule_id = rule->id;
		return rule->action != RULE_DENY;
	}
	return !front_cfg(c)->default_deny;
}

void
intercept_read_connect(struct conn *c)
{
	char buf[8192], head[2 * sizeof(buf)], why[CONFIG_HOST_MAX + 80];
	struct http1_head h;
	const struct config_resolve *res;
	struct sockaddr_storage ss;
	socklen_t len;
	ssize_t n, hn;
	size_t used = 0;
	int64_t rule_id;
	const char *bad = NULL;

	n = recv(c->fd, buf, sizeof(buf), MSG_PEEK);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		front_kill(c);
		return;
	}
	hn = intercept_connect_crlf(buf, n, head, sizeof(head), &used);
	if (hn == 0 && (size_t)n < sizeof(buf))
		return;		/* the next edge brings more */
	if (hn <= 0)
		goto bad;
	if (http1_parse_request(head, hn, &h, &bad) != HTTP1_OK)
		goto bad;
	if (!http1_str_eq(h.method, "CONNECT") ||
	    intercept_parse_authority(h.target, c->connect_host,
	    sizeof(c->connect_host), &c->dst_port) == -1) {
		bad = "only CONNECT host:port is served here";
		goto bad;
	}
	if (recv(c->fd, buf, used, 0) != (ssize_t)used)
		goto bad;
	c->wire_in += used;
	snprintf(c->server_str, sizeof(c->server_str),
	    strchr(c->connect_host, ':') ? "[%s]:%d" : "%s:%d",
	    c->connect_host, c->dst_port);
	front_arm(c, front_cfg(c)->handshake_timeout);

	if (!intercept_connect_port_ok(c, &rule_id)) {
		snprintf(why, sizeof(why), "CONNECT to port %d of %s is not "
		    "allowed by the rules", c->dst_port, c->connect_host);
		if (policy_deny_stands(c, c->connect_host, "CONNECT", NULL, 0,
		    rule_id)) {
			intercept_connect_fail(c, 403, "denied", rule_id, why);
			return;
		}
		intercept_audit_flow(c, "would_deny", "CONNECT", 0, rule_id,
		    why);
	}
	if ((res = intercept_resolve_override(c, c->connect_host,
	    c->dst_port)) != NULL) {
		intercept_connect_ready(c, (struct sockaddr *)&res->addr,
		    res->addrlen);
		return;
	}
	if (util_parse_addr(c->connect_host, c->dst_port, &ss, &len) == 0) {
		intercept_connect_ready(c, (struct sockaddr *)&ss, len);
		return;
	}
	intercept_resolve(c, c->connect_host);
	return;
bad:
	log_event(LOG_WARN, "bad_connect", "client=%s err=%s", c->client_str,
	    bad ? bad : "malformed");
	intercept_connect_reply(c, 400, "bad_request", bad ? bad : "malformed");
	front_kill(c);
}

/* The ClientHello is complete: pick passthrough or interception. */
static void
intercept_hello_done(struct conn *c)
{
	const struct config_resolve *res = NULL;
	struct rules_snapshot *snap;
	const struct rule *rule;
	char ip[64], why[160];

	if (c->sni[0] != '\0')
		snprintf(c->name, sizeof(c->name), "%s", c->sni);
	else if (c->connect_mode)
		snprintf(c->name, sizeof(c->name), "%s", c->connect_host);
	else {
		util_addr_ip((struct sockaddr *)&c->up_addr, ip, sizeof(ip));
		snprintf(c->name, sizeof(c->name), "%s", ip);
	}
	authority_format(c->authority, c->name, c->dst_port);
	if (c->connect_mode && c->sni[0] != '\0' &&
	    strcmp(c->sni, c->connect_host) != 0)
		c->misdirected = 1;
	if (!c->connect_mode && c->sni[0] != '\0' &&
	    (res = intercept_resolve_override(c, c->sni, c->dst_port)) !=
	    NULL) {
		memcpy(&c->up_addr, &res->addr, res->addrlen);
		c->up_len = res->addrlen;
	}

	snap = dpenv_rules(c->env);
	rule = rules_match_conn(snap, c->name, c->dst_port);
	if (rule != NULL && rule->action == RULE_PASSTHROUGH && !c->misdirected) {
		c->passthrough_rule = rule->id;
		/*
		 * In CONNECT mode sluice resolved the name itself (the SNI is
		 * the CONNECT host); a transparent client chose the address.
		 */
		if (!c->connect_mode && c->sni[0] != '\0' && res == NULL)
			intercept_resolve(c, c->sni);
		else
			tunnel_start(c, rule->id);
		return;
	}
	/* CONNECT mode checked its address before the 200. */
	if (!c->connect_mode && guard_check((struct sockaddr *)&c->up_addr,
	    snap, c->name, why, sizeof(why)) == -1) {
		intercept_refuse(c, -1, why);
		return;
	}
	intercept_start_tls(c);
}

void
intercept_peek(struct conn *c)
{
	uint8_t buf[CLIENTHELLO_MAX];
	ssize_t n;

	n = recv(c->fd, buf, sizeof(buf), MSG_PEEK);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		front_kill(c);
		return;
	}
	switch (clienthello_parse(buf, n, c->sni, sizeof(c->sni))) {
	case CLIENTHELLO_OK:
		intercept_hello_done(c);
		return;
	case CLIENTHELLO_MORE:
		if ((size_t)n < sizeof(buf))
			return;		/* the next edge brings more */
		/* FALLTHROUGH */
	case CLIENTHELLO_BAD:
		break;
	}
	log_event(LOG_WARN, "not_tls", "client=%s server=%s", c->client_str,
	    c->server_str);
	front_kill(c);
}

static void
intercept_start_tls(struct conn *c)
{
	SSL *ssl;

	ssl = tls_client_ssl_new(c->env->client_ctx, c->env->certforge,
	    c->name);
	if (ssl == NULL) {
		front_kill(c);
		return;
	}
	event_free(c->ev);
	c->ev = NULL;
	c->csock = sock_new_tls(c->env->base, c->fd, ssl, SOCK_TLS_ACCEPT);
	if (c->csock == NULL) {
		SSL_free(ssl);
		front_kill(c);
		return;
	}
	c->fd = -1;
	front_sock_setup(c);
	front_capture_start(c);
	c->state = CONN_HANDSHAKE;
	/* What the CONNECT head and DNS left of the handshake's time. */
	front_arm(c, c->deadline > util_mono_ms() ?
	    (c->deadline - util_mono_ms()) / 1000.0 : 0);
}
