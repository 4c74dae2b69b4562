/*
 * upleg.c - the upstream leg of an exchange (struct upleg, r->up): a
 * connection to the verified destination (the one the client connection
 * kept from its last exchange, a pooled one, or a new one), the request
 * written from its message with the rule's credentials, and what an
 * upstream's failure or close means for the request (retry once on a
 * stale pooled connection, 502, or a response cut short).
 *
 * The leg belongs to the exchange while it runs; its sock's callbacks
 * name the exchange.  When the exchange ends, a leg fit for another
 * request goes to its connection (c->idle, for the next request of an
 * HTTP/1 keep-alive client), and from there to the worker's pool when
 * the connection closes; any other is closed.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <openssl/crypto.h>
#include <openssl/err.h>

#include "datapath.h"
#include "inject.h"
#include "sock.h"
#include "tls.h"
#include "util.h"

static void upleg_io(struct sock *s, void *arg);
static void upleg_event(struct sock *s, short what, void *arg);
static void upleg_idle_io(struct sock *s, void *arg);
static void upleg_idle_event(struct sock *s, short what, void *arg);
static void upleg_write_head(struct exchange *r, const struct rule *rule,
    const char *extra);

/* Close the leg's connection; a retry head stays for upleg_retry(). */
void
upleg_drop(struct exchange *r)
{
	upleg_h2_drop(r);
	r->up.dialing = 0;
	upstream_free(r->c->env, r->up.sock);
	r->up.sock = NULL;
	r->up.connected = 0;
	r->up.reused = 0;
	r->up.reusable = 0;
	r->up.eof = 0;
}

static void
upleg_idle_drop(struct conn *c)
{
	upstream_free(c->env, c->idle.sock);
	memset(&c->idle, 0, sizeof(c->idle));
}

/*
 * The exchange is complete: keep its leg for the connection's next
 * request if it is fit for one, else close it.
 */
void
upleg_end(struct exchange *r)
{
	struct conn *c = r->c;
	struct upleg *u = &r->up;

	u->reusable = u->sock != NULL && u->connected && !u->eof &&
	    !r->local && r->upstream_keepalive && r->body.done &&
	    r->state == EX_DONE;
	if (!u->reusable) {
		upleg_drop(r);
		return;
	}
	upleg_note_first(r);	/* the connections row names a kept leg */
	/* Exchanges in parallel (HTTP/2) share the worker's pool instead. */
	if (c->codec->multiplexed) {
		upstream_pool_put(c->env, u->sock,
		    (struct sockaddr *)&c->up_addr, c->up_len, c->name);
		u->sock = NULL;
		upleg_drop(r);
		return;
	}
	upleg_idle_drop(c);
	c->idle.sock = u->sock;
	c->idle.connected = 1;
	c->idle.reused = 1;
	c->idle.reusable = 1;
	front_sock_watch(u->sock, upleg_idle_io, upleg_idle_event, c);
	u->sock = NULL;
	upleg_drop(r);
}

/* The connection closes: its kept leg goes to the worker's pool. */
void
upleg_idle_release(struct conn *c)
{
	if (c->idle.sock == NULL || c->passthrough)
		return;
	upstream_pool_put(c->env, c->idle.sock,
	    (struct sockaddr *)&c->up_addr, c->up_len, c->name);
	memset(&c->idle, 0, sizeof(c->idle));
}

/*
 * The leg's connection leaves the exchange (a 101 makes it a tunnel's),
 * noted for the connections row first.
 */
struct sock *
upleg_take(struct exchange *r)
{
	struct sock *s = r->up.sock;

	upleg_note_first(r);
	r->up.sock = NULL;
	upleg_drop(r);
	return s;
}

/* The connections row names the first upstream leg that it can. */
void
upleg_note_first(struct exchange *r)
{
	if (r->c->up_subject[0] == '\0' && r->up.sock != NULL)
		upleg_note(r->c, sock_ssl(r->up.sock));
}

/* The upstream leg for the connections row: TLS, certificate, verdict. */
void
upleg_note(struct conn *c, SSL *ssl)
{
	STACK_OF(X509) *chain;
	X509 *cert;

	if (ssl == NULL)
		return;
	/* When verification fails OpenSSL keeps the chain but no peer. */
	if ((cert = SSL_get0_peer_certificate(ssl)) == NULL &&
	    (chain = SSL_get_peer_cert_chain(ssl)) != NULL &&
	    sk_X509_num(chain) > 0)
		cert = sk_X509_value(chain, 0);
	if (cert != NULL) {
		X509_NAME_oneline(X509_get_subject_name(cert), c->up_subject,
		    sizeof(c->up_subject));
		X509_NAME_oneline(X509_get_issuer_name(cert), c->up_issuer,
		    sizeof(c->up_issuer));
	}
	if ((c->verify_result = tls_verify_error(ssl)) == NULL && cert != NULL)
		c->verify_result = "ok";
	if (SSL_is_init_finished(ssl)) {
		c->up_tls_version = SSL_get_version(ssl);
		c->up_cipher = SSL_get_cipher_name(ssl);
	}
}

/*
 * Attach an upstream connection: the one this connection kept, a shared
 * HTTP/2 one (if h2 may carry the request), the one another exchange is
 * dialing offering h2 (waited for, upleg_h2_wait()), the pool's, or a new
 * one, offered h2 too if it may: the head then waits for the handshake to
 * say which protocol it is written in (upleg_dialed()).
 */
static int
upleg_attach(struct exchange *r, int h2)
{
	struct conn *c = r->c;
	const struct dp_env *env = c->env;
	struct upleg *u = &r->up;

	r->used_upstream = 1;
	/* A kept connection that spoke out of turn cannot be trusted. */
	if (c->idle.sock != NULL &&
	    evbuffer_get_length(sock_input(c->idle.sock)) > 0)
		upleg_idle_drop(c);
	if (c->idle.sock != NULL) {
		u->sock = c->idle.sock;
		u->connected = 1;
		u->reused = 1;
		memset(&c->idle, 0, sizeof(c->idle));
	} else if (h2 && upleg_h2_find(r)) {
		return 0;
	} else if (h2 && upleg_h2_wait(r)) {
		return 0;
	} else if ((u->sock = upstream_pool_take(env,
	    (struct sockaddr *)&c->up_addr, c->up_len, c->name,
	    UPSTREAM_ALPN_HTTP1)) != NULL) {
		u->connected = 1;
		u->reused = 1;
	} else {
		u->sock = upstream_connect_tls_alpn(env,
		    (struct sockaddr *)&c->up_addr, c->up_len,
		    c->sni[0] ? c->sni : c->name, c->name,
		    h2 ? UPSTREAM_ALPN_OFFER_H2 : NULL);
		if (u->sock == NULL)
			return -1;
		u->connected = 0;
		u->reused = 0;
		u->dialing = h2;
		if (h2)
			upleg_h2_dial(r);
	}
	r->upstream_proto = upstream_proto(u->sock);
	u->reusable = 0;
	front_sock_watch(u->sock, upleg_io, upleg_event, r);
	return 0;
}

/*
 * Keep a copy of the head just written, in one malloc'd block: it holds
 * the rule's credentials, so upleg_retry_drop() wipes it.  A copy, not a
 * pullup: that would free the output's chunks unwiped.  Without memory,
 * no copy: the request is just not retried.
 */
static void
upleg_copy_head(struct exchange *r, struct evbuffer *out, size_t len)
{
	if ((r->up.retry_head = malloc(len)) == NULL)
		return;
	r->up.retry_len = len;
	if (evbuffer_copyout(out, r->up.retry_head, len) != (ev_ssize_t)len)
		upleg_retry_drop(r);
}

void
upleg_retry_drop(struct exchange *r)
{
	if (r->up.retry_head == NULL)
		return;
	OPENSSL_cleanse(r->up.retry_head, r->up.retry_len);
	free(r->up.retry_head);
	r->up.retry_head = NULL;
	r->up.retry_len = 0;
}

/*
 * Send the head, with the normalised target and the rule's credentials,
 * and start the exchange.
 * Secrets are bound to the destination by construction: rules match on
 * c->name (the SNI, the CONNECT host or the destination IP, never the Host
 * header, which must agree with the SNI), and the upstream connection is
 * verified for c->name before any byte written here leaves.
 */
void
upleg_send_request(struct exchange *r, const struct rule *rule,
    const char *extra)
{
	if (upleg_attach(r, upleg_h2_wanted(r)) == -1) {
		respond_error(r, 502, "bad_gateway",
		    "cannot connect to upstream");
		return;
	}
	r->state = EX_UPSTREAM;
	r->up.rule = rule;
	r->up.extra = extra;
	if (r->up.is_h2 && !r->up.dialing)
		(void)upleg_h2_open(r);
	else if (!r->up.dialing)
		upleg_write_head(r, rule, extra);
}

/* Write the request head on the leg's sock, in HTTP/1.1. */
static void
upleg_write_head(struct exchange *r, const struct rule *rule,
    const char *extra)
{
	struct evbuffer *out;
	char *audit_target;
	size_t len;

	out = sock_output(r->up.sock);
	if (inject_write_request(out, &r->req, r->minor, rule, extra,
	    &audit_target, r->injected, sizeof(r->injected)) == -1) {
		respond_error(r, 502, "bad_gateway", "out of memory");
		return;
	}
	if (audit_target != NULL) {
		free(r->target);
		r->target = audit_target;
	}
	/* A request without body on a reused connection may be sent again. */
	len = evbuffer_get_length(out);
	if (r->up.reused && r->body.done)
		upleg_copy_head(r, out, len);
}

static void
upleg_io(struct sock *s, void *arg)
{
	struct exchange *r = arg;

	front_run(r->c);
}

static void
upleg_idle_io(struct sock *s, void *arg)
{
	front_run(arg);
}

/* Retry a request on a fresh connection when a pooled one was stale. */
static int
upleg_retry(struct exchange *r)
{
	int rc = -1;

	if (!r->up.reused || r->up.retry_head == NULL || r->resp_started)
		return -1;
	upleg_drop(r);
	/* Copied into chunks that the sock wipes once written. */
	if (upleg_attach(r, 0) == 0 && evbuffer_add(sock_output(r->up.sock),
	    r->up.retry_head, r->up.retry_len) == 0)
		rc = 0;
	upleg_retry_drop(r);	/* once only */
	return rc;
}

/* The upstream failed before the response ended. */
static void
upleg_failed(struct exchange *r)
{
	struct conn *c = r->c;
	struct upleg *u = &r->up;
	SSL *ssl = sock_ssl(u->sock);
	const char *verr = ssl ? tls_verify_error(ssl) : NULL;
	int reset = u->close == UPSTREAM_CLOSE_RESET;
	const char *cerr;
	char why[160];
	int n;

	if (u->connected && r->state == EX_RESPONSE &&
	    r->resp.kind == HTTP1_BODY_UNTIL_CLOSE)
		snprintf(why, sizeof(why), "upstream %s; response truncated",
		    reset ? "reset the connection" :
		    "closed without close_notify");
	else if (u->connected)
		snprintf(why, sizeof(why),
		    "upstream %s the connection before the response ended",
		    reset ? "reset" : "closed");
	else if (verr != NULL) {
		counters_tls_failure(c->env->counters, COUNTERS_LEG_UPSTREAM,
		    COUNTERS_TLS_VERIFY);
		upleg_note(c, ssl);
		snprintf(why, sizeof(why),
		    "upstream certificate verification failed: %s", verr);
	} else if ((cerr = upstream_connect_error(u->sock)) != NULL) {
		/* "connection refused": strerror's capital mid-sentence */
		n = snprintf(why, sizeof(why), "cannot connect to upstream: ");
		snprintf(why + n, sizeof(why) - n, "%s", cerr);
		why[n] = (char)tolower((unsigned char)why[n]);
	} else {
		counters_tls_failure(c->env->counters, COUNTERS_LEG_UPSTREAM,
		    sock_ssl_error(u->sock) != 0 ?
		    COUNTERS_TLS_PROTOCOL : COUNTERS_TLS_CLOSED);
		snprintf(why, sizeof(why), "upstream TLS handshake failed");
	}
	ERR_clear_error();

	if (r->state == EX_UPSTREAM && upleg_retry(r) == 0)
		return;
	if (!r->resp_started && lookup_serve_stale(r, 0))
		return;
	if (!r->resp_started) {
		if (verr != NULL && !u->connected)
			log_event(LOG_WARN, "upstream_verify_failed",
			    "client=%s sni=%s host=%s upstream=%s err=%s",
			    c->client_str, c->sni, c->name, c->server_str,
			    verr);
		else
			log_event(LOG_WARN, "upstream_failed", "client=%s "
			    "sni=%s upstream=%s err=%s", c->client_str, c->sni,
			    c->server_str, why);
		respond_error(r, 502, "bad_gateway", why);
		return;
	}
	/*
	 * Part of the response went out: all we can do is cut it short, and
	 * front_free() resets the client's connection so that it shows.
	 */
	snprintf(r->error, sizeof(r->error), "%s", why);
	r->decision = "error";
	upleg_drop(r);
	c->codec->reset(r);
}

/*
 * The upstream closed and everything it sent has been forwarded: that ends
 * a read-until-close body, if the close came with close_notify (without
 * it, or with a reset, the body may have been cut: RFC 9112 9.8); anything
 * else is a failure.  -1 if it failed.
 */
int
upleg_eof(struct exchange *r)
{
	if (r->state == EX_RESPONSE && r->up.close == UPSTREAM_CLOSE_CLEAN
	    && http1_body_eof(&r->resp) == 0) {
		r->state = EX_DONE;
		r->upstream_keepalive = 0;
		return 0;
	}
	upleg_failed(r);
	return -1;
}

/* A chunked body that ended while it dialed: its end now, in HTTP/1.1. */
static void
upleg_dialed_end(struct exchange *r)
{
	struct msg none;
	int rc;

	msg_init(&none, MSG_REQUEST);
	rc = h1codec_write_end(sock_output(r->up.sock),
	    r->up.h2_req_trailers != NULL ? r->up.h2_req_trailers : &none);
	msg_free(&none);
	if (rc == -1)
		respond_error(r, 502, "bad_gateway", "out of memory");
}

/*
 * A dial that offered h2 connected: the request goes as a stream of a new
 * shared connection, or as HTTP/1.1 on this one (which the HTTP/1 pool
 * keeps afterwards, under its ALPN).
 */
static void
upleg_dialed(struct exchange *r)
{
	const char *proto = r->upstream_proto;

	r->up.dialing = 0;
	if (proto != NULL && strcmp(proto, UPSTREAM_ALPN_H2) == 0) {
		(void)upleg_h2_connected(r);
		return;
	}
	upleg_write_head(r, r->up.rule, r->up.extra);
	if (r->up.h2_body_end && r->up.sock != NULL && r->body_chunked)
		upleg_dialed_end(r);
	upleg_h2_drop(r);
}

static void
upleg_event(struct sock *s, short what, void *arg)
{
	struct exchange *r = arg;
	struct conn *c = r->c;

	if (what & SOCK_EV_CONNECTED) {
		r->up.connected = 1;
		r->upstream_proto = upstream_proto(s);
		if (sock_ssl(s) != NULL)
			counters_handshake(c->env->counters,
			    COUNTERS_LEG_UPSTREAM);
		if (r->up.dialing)
			upleg_dialed(r);
	} else if (c->state == CONN_EXCHANGE && !exchange_waits(r) &&
	    !r->local && r->up.connected) {
		/*
		 * A close (clean, dirty or reset) or an error.  What was read
		 * with it is in the input already (the sock calls the read
		 * callback first); exchange_pump() judges the end once it has
		 * forwarded that.
		 */
		r->up.eof = 1;
		r->up.close = upstream_close_kind(s);
	} else if (c->state == CONN_EXCHANGE && !exchange_waits(r) &&
	    !r->local) {
		upleg_failed(r);
	} else {
		upleg_drop(r);
	}
	front_run(c);
}

/* The kept connection closed or failed while no request used it. */
static void
upleg_idle_event(struct sock *s, short what, void *arg)
{
	struct conn *c = arg;

	if (!(what & SOCK_EV_CONNECTED))
		upleg_idle_drop(c);
	front_run(c);
}
