/*
 * front.c - the client connection, from accept to close.
 *
 * A connection is one struct conn, owned by the worker that accepted it; it
 * owns its socks (sock.c), timer, codec (front_h1.c, or front_h2.c when
 * ALPN chose h2) and the requests in flight (struct exchange, exchange.c;
 * HTTP/1 has one at a time, HTTP/2 one per stream), and the upstream leg
 * the last one left for the next (c->idle, HTTP/1 only).  Every callback only records what happened and
 * calls front_run(), which advances the state machine as far as the
 * buffers allow (front_pump), checks the exchange's invariants in debug
 * builds, sets which sides may read (front_update_events), and frees the
 * connection if it ended.  Nothing else frees it, so closing from inside a
 * callback is safe.
 *
 *  accept --+-- transparent: original destination ---------------+
 *           +-- --connect: CONNECT_HEAD --> RESOLVING -----------+
 *                                                                 v
 *         host-level rule is passthrough <-------------------- PEEK (SNI)
 *                     |                                           |
 *          RESOLVING (the SNI: dial only                          |
 *                     |   an address of that name)                v
 *                  TUNNEL <------------- 101 ---------------- HANDSHAKE
 *                                         |                       |
 *                                         |                       v
 *                              +------> EXCHANGE <----------- REQ_HEAD <--+
 *                              |          |                               |
 *                              |          +------- keep-alive ------------+
 *                              |          |
 *                any error, close, drain  +--> FLUSH --> DEAD (freed)
 *                                         |                ^
 *                answered before the body +--> LINGER -----+
 *                ended (client still sending)
 *
 * Invariants: in EXCHANGE, the exchange's body frames the client's bytes
 * and its resp the upstream's; bytes move only through the codec's
 * read_body (to exchange_body_data()) and exchange_forward() (to the
 * codec's write_body), which stop at CONN_HIGH_WATER in the destination
 * (backpressure both ways).  A
 * request whose head was parsed gets exactly one audit row, in
 * exchange_audit().  Before PEEK and TUNNEL, the destination sluice dials
 * has passed the SSRF guard (guard.c); a refusal is one audit row
 * (intercept_audit_flow).  Before TLS the socket is watched
 * edge-triggered: recv(MSG_PEEK) leaves the bytes in the socket, so a
 * level-triggered event would fire again at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/tcp.h>

#include <event2/buffer.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <openssl/err.h>

#include "audit.h"
#include "capture.h"
#include "datapath.h"
#include "front.h"
#include "listener.h"
#include "ratelimit.h"
#include "rules.h"
#include "sock.h"
#include "tls.h"
#include "util.h"

static void front_fd_cb(evutil_socket_t fd, short what, void *arg);
static void front_client_io(struct sock *s, void *arg);
static void front_client_event(struct sock *s, short what, void *arg);
static void front_timer_cb(evutil_socket_t fd, short what, void *arg);

const struct config *
front_cfg(struct conn *c)
{
	return c->env->cfg;
}

void
front_timer_add(struct event *ev, double secs)
{
	struct timeval tv;

	tv.tv_sec = (time_t)secs;
	tv.tv_usec = (suseconds_t)((secs - tv.tv_sec) * 1e6);
	event_add(ev, &tv);
}

void
front_arm(struct conn *c, double secs)
{
	front_timer_add(c->timer, secs);
}

void
front_kill(struct conn *c)
{
	if (c->state != CONN_DEAD)
		c->end_state = c->state;
	c->state = CONN_DEAD;
}

/*
 * Keep what the client's TLS connection moved on the wire (records, the
 * handshake, alerts) before its sock goes: the socket BIO counts
 * every byte it read or wrote.
 */
void
front_client_wire(struct conn *c)
{
	SSL *ssl = sock_ssl(c->csock);

	if (ssl == NULL)
		return;
	c->wire_in += BIO_number_read(SSL_get_rbio(ssl));
	c->wire_out += BIO_number_written(SSL_get_wbio(ssl));
}

int
front_has_room(struct sock *s)
{
	return s != NULL &&
	    evbuffer_get_length(sock_output(s)) < CONN_HIGH_WATER;
}

void
front_accept(const struct dp_env *env, int fd, const struct sockaddr *peer,
    socklen_t peerlen, int connect_mode)
{
	const struct config *cfg = env->cfg;
	struct sockaddr_storage dst;
	socklen_t dstlen;
	struct conn *c;
	int one = 1;

	if (atomic_fetch_add(env->nconns, 1) >= cfg->max_connections) {
		atomic_fetch_sub(env->nconns, 1);
		log_event(LOG_WARN, "conn_limit_reached", "limit=%d",
		    cfg->max_connections);
		close(fd);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		atomic_fetch_sub(env->nconns, 1);
		close(fd);
		return;
	}
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == -1)
		log_event(LOG_WARN, "client_nodelay_failed", "err=%s",
		    strerror(errno));
	c->env = env;
	TAILQ_INIT(&c->exs);
	c->fd = fd;
	c->connect_mode = connect_mode;
	c->start_ms = util_wall_ms();
	c->start_mono = util_mono_ms();
	c->audit_id = audit_conn_id(env->audit);
	util_addr_str(peer, c->client_str, sizeof(c->client_str));
	util_addr_ip(peer, c->client_ip, sizeof(c->client_ip));
	TAILQ_INSERT_TAIL(&env->conns->list, c, entry);
	env->conns->n++;

	c->timer = evtimer_new(env->base, front_timer_cb, c);
	c->ev = event_new(env->base, fd, EV_READ | EV_ET | EV_PERSIST,
	    front_fd_cb, c);
	if (c->timer == NULL || c->ev == NULL)
		goto fail;
	c->deadline = c->start_mono + cfg->handshake_timeout * 1000.0;
	front_arm(c, cfg->handshake_timeout);

	if (connect_mode) {
		c->state = CONN_CONNECT_HEAD;
	} else {
		if (listener_destination(cfg, fd, &dst, &dstlen) == -1)
			goto notredirected;
		memcpy(&c->up_addr, &dst, dstlen);
		c->up_len = dstlen;
		c->dst_port = util_addr_port((struct sockaddr *)&dst);
		util_addr_str((struct sockaddr *)&dst, c->server_str,
		    sizeof(c->server_str));
		c->state = CONN_PEEK;
	}
	event_add(c->ev, NULL);
	return;
notredirected:
	log_event(LOG_WARN, "not_redirected", "client=%s", c->client_str);
fail:
	front_kill(c);
	front_run(c);
}

static void
front_fd_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	if (c->state == CONN_CONNECT_HEAD)
		intercept_read_connect(c);
	else if (c->state == CONN_PEEK)
		intercept_peek(c);
	front_run(c);
}

/* Who hears about sock s: io when it read or wrote, event for the rest. */
void
front_sock_watch(struct sock *s, sock_data_cb *io, sock_event_cb *event,
    void *arg)
{
	sock_setcb(s, io, io, event, arg);
	sock_set_watermarks(s, CONN_HIGH_WATER, CONN_HIGH_WATER / 2);
}

void
front_sock_setup(struct conn *c)
{
	front_sock_watch(c->csock, front_client_io, front_client_event, c);
}

/*
 * --pcap: every byte added to the client's input (what it sent) or output
 * (what sluice wrote for it) is copied as it arrives, while the
 * exchange's rule still names the credentials a response may echo.  One
 * exchange at a time: HTTP/1's (HTTP/2 streams name theirs to the capture
 * as they answer, front_h2.c).
 */
static void
front_capture_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info,
    void *arg)
{
	struct conn *c = arg;
	struct exchange *r = TAILQ_FIRST(&c->exs);

	if (info->n_added > 0)
		capture_bytes(c->cap, buf == sock_output(c->csock),
		    buf, info->n_added, r != NULL ? r->rule : NULL);
}

void
front_capture_start(struct conn *c)
{
	struct capture *cap = c->env->capture;
	const char *only = front_cfg(c)->pcap_filter;

	if (cap == NULL || (only != NULL && !rules_host_match(only, c->name)) ||
	    (c->cap = capture_conn_new(cap, c->client_str, c->server_str)) ==
	    NULL)
		return;
	evbuffer_add_cb(sock_input(c->csock), front_capture_cb, c);
	evbuffer_add_cb(sock_output(c->csock), front_capture_cb, c);
}

/*
 * The FIN.  Where csock was freed before (client EOF, tunnel end), its
 * buffers went with it, and libevent frees a buffer without calling its
 * callbacks.
 */
static void
front_capture_end(struct conn *c)
{
	if (c->cap == NULL)
		return;
	if (c->csock != NULL) {
		evbuffer_remove_cb(sock_input(c->csock),
		    front_capture_cb, c);
		evbuffer_remove_cb(sock_output(c->csock),
		    front_capture_cb, c);
	}
	capture_conn_free(c->cap);
	c->cap = NULL;
}

static int
front_output_pending(struct sock *s)
{
	return s != NULL &&
	    evbuffer_get_length(sock_output(s)) > 0;
}

/* Stop reading; free once what is queued has been written. */
void
front_flush(struct conn *c)
{
	if (c->state != CONN_FLUSH) {
		c->state = CONN_FLUSH;
		front_arm(c, CONN_FLUSH_SECS);
		upleg_idle_release(c);
	}
	if (!front_output_pending(c->csock) && !front_output_pending(c->tsock))
		front_kill(c);
}

/* Send close_notify and a FIN: the client may still send, we will not. */
static void
front_client_shutdown(struct conn *c)
{
	sock_shutdown(c->csock);
}

/*
 * The lingering close of a client that was answered while it still sent
 * its body (a deny, a 429, an upstream's early 413...).  Closing at once
 * would leave its bytes unread in our receive queue; the kernel answers
 * that with a reset, which destroys the answer in the client's receive
 * queue before the client, still busy writing, ever reads it.  So, like
 * nginx: keep reading and dropping what arrives; once the answer is
 * written, send close_notify and a FIN; free when the client closes, or
 * after CONN_LINGER_SECS, CONN_LINGER_IDLE without data or CONN_LINGER_MAX
 * bytes, whichever comes first.
 */
void
front_linger(struct conn *c)
{
	double left;
	size_t n;

	if (c->state != CONN_LINGER) {
		c->state = CONN_LINGER;
		c->deadline = util_mono_ms() + CONN_LINGER_SECS * 1000.0;
		front_arm(c, CONN_LINGER_IDLE);
		upleg_idle_release(c);
	}
	if (c->csock == NULL) {
		front_kill(c);
		return;
	}
	n = evbuffer_get_length(sock_input(c->csock));
	if (n > 0) {
		evbuffer_drain(sock_input(c->csock), n);
		c->linger_bytes += n;
		left = (c->deadline - util_mono_ms()) / 1000.0;
		if (c->linger_bytes > CONN_LINGER_MAX || left <= 0) {
			front_kill(c);
			return;
		}
		front_arm(c, left < CONN_LINGER_IDLE ? left : CONN_LINGER_IDLE);
	}
	if (!c->linger_shut && !front_output_pending(c->csock)) {
		front_client_shutdown(c);
		c->linger_shut = 1;
	}
}

/*
 * How the client's connection ends tells the client whether the last
 * response was whole: close_notify when it was (or none was under way);
 * a reset when it was cut short, since a FIN without close_notify passes
 * for a clean end with many TLS clients (Python's suppress_ragged_eofs).
 */
static void
front_client_close(struct conn *c, int cut)
{
	struct linger l = { 1, 0 };

	if (cut || front_output_pending(c->csock))
		setsockopt(sock_fd(c->csock), SOL_SOCKET, SO_LINGER,
		    &l, sizeof(l));
	else
		front_client_shutdown(c);
}

/* How a connection that said nothing more specific ended. */
static const char *
front_end_reason(enum conn_state last)
{
	switch (last) {
	case CONN_CONNECT_HEAD:
	case CONN_RESOLVING:
	case CONN_PEEK:
		return "closed_before_tls";
	case CONN_HANDSHAKE:
		return "handshake_failed";
	case CONN_EXCHANGE:
		return "closed_during_request";
	case CONN_TUNNEL:
		return "tunnel_closed";
	default:
		return "closed";
	}
}

/* The connection's own row; its requests already name audit_id. */
static void
front_audit_connection(struct conn *c)
{
	struct audit_conn_record rec = {
		.id = c->audit_id,
		.started_ms = c->start_ms,
		.ended_ms = util_wall_ms(),
		.client = c->client_str,
		.server = c->server_str,
		.sni = c->sni[0] ? c->sni : NULL,
		.connect_host = c->connect_host[0] ? c->connect_host : NULL,
		.tls_version = c->tls_version,
		.cipher = c->cipher,
		.alpn = c->alpn[0] ? c->alpn : NULL,
		.upstream_tls_version = c->up_tls_version,
		.upstream_cipher = c->up_cipher,
		.upstream_subject = c->up_subject[0] ? c->up_subject : NULL,
		.upstream_issuer = c->up_issuer[0] ? c->up_issuer : NULL,
		.verify_result = c->verify_result,
		.bytes_in = (int64_t)(c->wire_in +
		    (c->passthrough ? c->tunnel_up : 0)),
		.bytes_out = (int64_t)(c->wire_out +
		    (c->passthrough ? c->tunnel_down : 0)),
		.end_reason = c->end_reason != NULL ? c->end_reason :
		    front_end_reason(c->end_state),
	};

	audit_submit_conn(c->env->audit, &rec);
}

void
front_free(struct conn *c)
{
	const struct dp_env *env = c->env;
	struct exchange *r;
	int cut = 0;

	tunnel_audit(c);	/* a tunnel after a 101 was not cut */
	while ((r = TAILQ_FIRST(&c->exs)) != NULL) {
		cut |= r->resp_started;
		if (r->error[0] == '\0')
			snprintf(r->error, sizeof(r->error),
			    "connection closed before the response ended");
		if (r->status == 0)
			r->decision = "error";
		exchange_audit(r);
	}
	free(c->spare);
	if (c->passthrough)
		intercept_audit_flow(c, "passthrough", NULL, 0,
		    c->passthrough_rule, c->passthrough_note[0] ?
		    c->passthrough_note : NULL);
	if (c->dnsreq != NULL)
		evdns_getaddrinfo_cancel(c->dnsreq);
	upstream_free(env, c->idle.sock);
	upstream_free(env, c->tsock);
	tunnel_free(c);
	if (c->codec != NULL)
		c->codec->free(c);
	front_capture_end(c);
	if (c->csock != NULL) {
		front_client_close(c, cut);
		front_client_wire(c);
		sock_free(c->csock);
	}
	/* After the close, whose close_notify is on the wire too. */
	front_audit_connection(c);
	if (c->ev != NULL)
		event_free(c->ev);
	if (c->timer != NULL)
		event_free(c->timer);
	if (c->fd != -1)
		close(c->fd);
	TAILQ_REMOVE(&env->conns->list, c, entry);
	env->conns->n--;
	atomic_fetch_sub(env->nconns, 1);
	free(c);
	dpenv_conn_closed(env);
}

static void
front_set_read(struct sock *s, int on)
{
	if (s != NULL)
		sock_set_read(s, on);
}

/*
 * Exchange r's side of it: may its upstream leg read (its codec has room
 * for more response), and may the client (its leg has room for more
 * request body)?  Returns the latter.
 */
static int
front_update_exchange(struct conn *c, struct exchange *r)
{
	if (exchange_waits(r)) {
		front_set_read(r->up.sock, !r->up.eof);
		return 0;
	}
	front_set_read(r->up.sock, c->codec->room(r) && !r->up.eof);
	if (r->local)
		return !r->body.done;
	/* An HTTP/2 stream's leg has no sock: its buffer says. */
	if (r->up.is_h2 || r->up.dialing)
		return exchange_body_room(r);
	return front_has_room(r->up.sock);
}

/* The one place that decides which side may read. */
static void
front_update_events(struct conn *c)
{
	struct exchange *r;
	int cread = 0, uread = 0;

	/*
	 * Reading stays on unless the other side's output is full: toggling
	 * it per request would cost an epoll_ctl each time.  An idle upstream
	 * keeps reading so that its close is noticed.
	 */
	switch (c->state) {
	case CONN_HANDSHAKE:
		cread = 1;
		break;
	case CONN_REQ_HEAD:
		cread = 1;
		uread = 1;
		break;
	case CONN_EXCHANGE:
		/* A multiplexed client is bounded by each stream's window. */
		cread = c->codec->multiplexed;
		TAILQ_FOREACH(r, &c->exs, entry)
			cread |= front_update_exchange(c, r);
		break;
	case CONN_TUNNEL:
		cread = front_has_room(c->tsock);
		uread = front_has_room(c->csock);
		break;
	case CONN_LINGER:
		cread = 1;
		break;
	default:
		break;
	}
	front_set_read(c->csock, cread);
	front_set_read(c->tsock, uread);
	/* Outside EXCHANGE (flushing, lingering) an exchange left follows uread. */
	if (c->state != CONN_EXCHANGE)
		TAILQ_FOREACH(r, &c->exs, entry)
			front_set_read(r->up.sock, uread && !r->up.eof);
	front_set_read(c->idle.sock, 1);
}

/*
 * Pump every exchange in flight (an exchange may end and be freed as it
 * is pumped); a multiplexing codec reads new heads meanwhile.
 */
static int
front_pump_exchanges(struct conn *c)
{
	struct exchange *r, *next;
	int progress = 0;

	for (r = TAILQ_FIRST(&c->exs); r != NULL && c->state == CONN_EXCHANGE;
	    r = next) {
		next = TAILQ_NEXT(r, entry);
		progress |= exchange_pump(r);
	}
	if (c->codec->multiplexed && c->state == CONN_EXCHANGE)
		progress |= c->codec->read_head(c);
	return progress;
}

static void
front_pump(struct conn *c)
{
	int progress;

	do {
		switch (c->state) {
		case CONN_REQ_HEAD:
			progress = c->codec->read_head(c);
			break;
		case CONN_EXCHANGE:
			progress = front_pump_exchanges(c);
			break;
		case CONN_TUNNEL:
			progress = tunnel_pump(c);
			break;
		case CONN_FLUSH:
			front_flush(c);
			progress = 0;
			break;
		case CONN_LINGER:
			front_linger(c);
			progress = 0;
			break;
		default:
			progress = 0;
			break;
		}
		if (c->codec != NULL && c->state != CONN_DEAD &&
		    c->codec->output(c) > 0)
			progress = 1;
	} while (progress > 0 && c->state != CONN_DEAD);
}

void
front_run(struct conn *c)
{
	struct exchange *r;

	if (c->state != CONN_DEAD)
		front_pump(c);
	r = TAILQ_FIRST(&c->exs);
	/* A response no longer in flight cannot continue a secret. */
	if (c->cap != NULL)
		capture_flush(c->cap, r == NULL || r->state == EX_DONE);
	if (c->state == CONN_DEAD) {
		front_free(c);
		return;
	}
	exchange_assert(c);
	front_update_events(c);
}

static void
front_client_io(struct sock *s, void *arg)
{
	front_run(arg);
}

/*
 * A refused ALPN list is a client that cannot work through sluice at all, so
 * the operator sees it (warning and audit row); other failures (a scanner,
 * a client that does not trust the CA and says so with an alert) are logged
 * with OpenSSL's reason at debug level.
 */
static void
front_handshake_failed(struct conn *c)
{
	SSL *ssl = sock_ssl(c->csock);
	const char *alpn = ssl != NULL ? tls_alpn_refused(ssl) : NULL;
	unsigned long e = sock_ssl_error(c->csock);
	const char *why = e != 0 ? ERR_reason_error_string(e) : NULL;
	char error[512];		/* the SNI and the ALPN list (<= 120) */
	struct audit_record rec = {
		.ts_ms = c->start_ms,
		.client = c->client_str,
		.server = c->server_str,
		.sni = c->sni[0] ? c->sni : NULL,
		.host = c->name,
		.decision = "error",
		.rule_id = -1,
		.req_bytes = -1,
		.resp_bytes = -1,
		.error = error,
	};

	ERR_clear_error();
	c->end_reason = "handshake_failed";
	counters_tls_failure(c->env->counters, COUNTERS_LEG_CLIENT,
	    alpn != NULL ? COUNTERS_TLS_ALPN : e != 0 ? COUNTERS_TLS_PROTOCOL :
	    COUNTERS_TLS_CLOSED);
	rec.conn_id = c->audit_id;
	if (alpn == NULL) {
		log_event(LOG_DEBUG, "client_handshake_failed", "client=%s "
		    "sni=%s err=%s", c->client_str, c->sni,
		    why != NULL ? why : "closed");
		return;
	}
	snprintf(error, sizeof(error), "client offered only unsupported ALPN "
	    "protocols: %s (sni %s)", alpn, c->sni[0] ? c->sni : "none");
	log_event(LOG_WARN, "client_alpn_refused", "client=%s sni=%s "
	    "offered=%s", c->client_str, c->sni, alpn);
	rec.duration_ms = util_mono_ms() - c->start_mono;
	audit_submit(c->env->audit, &rec);
	counters_request(c->env->counters, COUNTERS_ERROR, 0, -1, NULL);
}

/* The client leg for the connections row, once its handshake is done. */
static void
front_note_client_tls(struct conn *c, SSL *ssl)
{
	const unsigned char *alpn;
	unsigned len;

	if (ssl == NULL)
		return;
	counters_handshake(c->env->counters, COUNTERS_LEG_CLIENT);
	c->tls_version = SSL_get_version(ssl);
	c->cipher = SSL_get_cipher_name(ssl);
	SSL_get0_alpn_selected(ssl, &alpn, &len);
	snprintf(c->alpn, sizeof(c->alpn), "%.*s", (int)len,
	    alpn != NULL ? (const char *)alpn : "");
}

/*
 * The client leg's protocol for r's audit row: h2 when the handshake
 * settled on it, else the HTTP/1 version of the request line; a head that
 * did not parse (no method) has none, and was answered in HTTP/1.1.
 */
const char *
front_proto(const struct exchange *r)
{
	if (strcmp(r->c->alpn, "h2") == 0)
		return "h2";
	return r->method[0] != '\0' && r->client_minor == 0 ? "http/1.0" :
	    "http/1.1";
}

static void
front_client_event(struct sock *s, short what, void *arg)
{
	struct conn *c = arg;
	struct exchange *r = TAILQ_FIRST(&c->exs);

	if (what & SOCK_EV_CONNECTED) {
		if (c->state == CONN_HANDSHAKE) {
			front_note_client_tls(c, sock_ssl(s));
			c->codec = strcmp(c->alpn, "h2") == 0 ? &front_h2 :
			    &front_h1;
			c->state = CONN_REQ_HEAD;
			front_arm(c, front_cfg(c)->idle_timeout);
			/*
			 * --pcap: HPACK codes the heads sluice writes, so the
			 * capture decodes them to mask an echoed credential.
			 */
			if (c->codec == &front_h2 && c->cap != NULL &&
			    capture_conn_h2(c->cap) == -1)
				front_capture_end(c);
			if (c->codec == &front_h2 && front_h2_start(c) == -1)
				front_kill(c);
		}
	} else if (c->state == CONN_HANDSHAKE) {
		front_handshake_failed(c);
		front_kill(c);
	} else if (c->state == CONN_TUNNEL) {
		tunnel_end(c, &c->csock);
	} else {
		if (c->state == CONN_EXCHANGE && !exchange_waits(r) &&
		    r->error[0] == '\0')
			snprintf(r->error, sizeof(r->error),
			    "client closed the connection");
		ERR_clear_error();
		front_client_wire(c);
		sock_free(c->csock);
		c->csock = NULL;
		upleg_idle_release(c);	/* a client gone between requests */
		front_kill(c);
	}
	front_run(c);
}

static void
front_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	char why[CONFIG_HOST_MAX + 40];

	switch (c->state) {
	case CONN_CONNECT_HEAD:
	case CONN_PEEK:
		front_kill(c);		/* the handshake timeout */
		break;
	case CONN_RESOLVING:
		if (c->dnsreq != NULL)
			evdns_getaddrinfo_cancel(c->dnsreq);
		c->dnsreq = NULL;
		if (c->connect_mode)
			intercept_connect_fail(c, 504, "error", -1,
			    "resolving the CONNECT host timed out");
		else {
			snprintf(why, sizeof(why), "passthrough: %s: resolving "
			    "timed out", c->sni);
			intercept_refuse(c, c->passthrough_rule, why);
		}
		break;
	case CONN_EXCHANGE:
		/* Many exchanges have their own; this one was the idle one. */
		if (!c->codec->multiplexed)
			exchange_timeout(TAILQ_FIRST(&c->exs));
		break;
	case CONN_TUNNEL:
		tunnel_timeout(c);
		break;
	case CONN_REQ_HEAD:
		/*
		 * Idle.  HTTP/2 says so before it closes: GOAWAY(NO_ERROR)
		 * with the last stream it took (RFC 9113 6.8), so the client
		 * knows no stream of its was lost; HTTP/1 can only close.
		 */
		if (c->codec == NULL || c->codec->drain == NULL) {
			front_kill(c);
			break;
		}
		c->codec->drain(c);
		(void)c->codec->output(c);
		front_flush(c);
		break;
	default:
		front_kill(c);
		break;
	}
	front_run(c);
}

void
front_close_idle(struct front_conns *conns)
{
	struct conn *c, *next;

	for (c = TAILQ_FIRST(&conns->list); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (c->codec != NULL && c->codec->drain != NULL &&
		    (c->state == CONN_REQ_HEAD || c->state == CONN_EXCHANGE)) {
			c->codec->drain(c);
			front_run(c);
		} else if (c->state != CONN_EXCHANGE && c->state != CONN_TUNNEL &&
		    c->state != CONN_FLUSH && c->state != CONN_LINGER &&
		    !(c->state == CONN_REQ_HEAD && c->csock != NULL &&
		    evbuffer_get_length(sock_input(c->csock)) > 0)) {
			c->end_reason = "shutdown";
			front_kill(c);
			front_run(c);
		}
	}
}

void
front_close_all(struct front_conns *conns)
{
	struct conn *c;
	struct exchange *r;

	while ((c = TAILQ_FIRST(&conns->list)) != NULL) {
		TAILQ_FOREACH(r, &c->exs, entry)
			if (r->error[0] == '\0')
				snprintf(r->error, sizeof(r->error),
				    "shutdown");
		c->end_reason = "shutdown";
		front_kill(c);
		front_run(c);
	}
}
