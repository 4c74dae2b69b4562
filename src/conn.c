/*
 * conn.c - the life of one client connection.
 *
 * A connection is one struct conn, owned by the worker that accepted it; it
 * owns its sockets, bufferevents, timer and the request in flight.  Every
 * libevent callback only records what happened and calls conn_run(), which
 * advances the state machine as far as the buffers allow (conn_pump), sets
 * which sides may read (conn_update_events), and frees the connection if it
 * ended.  Nothing else frees it, so closing from inside a callback is safe.
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
 * Invariants: in EXCHANGE, req.body frames the client's bytes and req.resp
 * the upstream's; bytes move only through conn_forward(), which stops at
 * CONN_HIGH_WATER in the destination (backpressure both ways).  A request
 * whose head was parsed gets exactly one audit row, in conn_request_end().
 * Before PEEK and TUNNEL, the destination sluice dials has passed the SSRF
 * guard (guard.c); a refusal is one audit row (conn_audit_flow).  Before TLS
 * the socket is watched edge-triggered: recv(MSG_PEEK) leaves the bytes in
 * the socket, so a level-triggered event would fire again at once.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <openssl/err.h>

#include "audit.h"
#include "cache.h"
#include "capture.h"
#include "clienthello.h"
#include "conn.h"
#include "guard.h"
#include "http1.h"
#include "inject.h"
#include "listener.h"
#include "log.h"
#include "ratelimit.h"
#include "ratelimit_redis.h"
#include "rules.h"
#include "tls.h"
#include "upstream.h"
#include "urlpath.h"
#include "util.h"
#include "worker.h"

#define CONN_HIGH_WATER		(256 * 1024)
#define CONN_DISCARD_MAX	(1024 * 1024)	/* body we read to keep a connection */
#define CONN_TUNNEL_IDLE	600		/* seconds */
#define CONN_FLUSH_SECS		5
#define CONN_TLS_PORT		443		/* CONNECT ports beyond it need a rule */
/*
 * Lingering close, nginx's defaults (lingering_time 30 s, lingering_timeout
 * 5 s): long enough for a client on a slow link to finish sending a body it
 * cannot stop, short enough that a client that never stops costs little.
 * The byte cap bounds what such a client makes us read on a fast link.
 */
#define CONN_LINGER_SECS	30
#define CONN_LINGER_IDLE	5
#define CONN_LINGER_MAX		((uint64_t)64 << 20)
#define CONN_COLLAPSE_SECS	30		/* longest wait on another's miss */

enum conn_state {
	CONN_CONNECT_HEAD,	/* --connect: reading "CONNECT host:port" */
	CONN_RESOLVING,		/* resolving the CONNECT host or a passthrough SNI */
	CONN_PEEK,		/* waiting for a whole ClientHello */
	CONN_HANDSHAKE,		/* TLS with the client */
	CONN_REQ_HEAD,		/* between requests: reading a request head */
	CONN_HELD,		/* a request waits for its rate-limit token */
	CONN_COLLAPSED,		/* a request waits for another's identical miss */
	CONN_EXCHANGE,		/* a request is being forwarded or answered */
	CONN_TUNNEL,		/* raw relay: passthrough, or after a 101 */
	CONN_FLUSH,		/* writing what is left, then freed */
	CONN_LINGER,		/* answered; dropping the rest of the body */
	CONN_DEAD,		/* transient: freed when the callback returns */
};

enum conn_resp {
	RESP_WAIT_HEAD = 0,
	RESP_BODY,
	RESP_DONE,
};

struct conn_req {
	int64_t		 start_ms;
	double		 start_mono;
	char		 method[32];
	char		 host[CONFIG_HOST_MAX];
	char		*target;		/* to audit: norm, or as sent if
						   it has none, or masked */
	char		*norm;			/* normalised target, with
						   query: matched, sent, keyed;
						   NULL if it cannot be */
	size_t		 norm_len;
	int		 is_head;
	int		 expect_continue;
	int		 client_keepalive;
	int		 upstream_keepalive;
	int64_t		 rule_id;		/* -1: none */
	struct rules_snapshot *rules;
	struct http1_body body;			/* client -> upstream */
	struct http1_body resp;			/* upstream -> client */
	enum conn_resp	 resp_state;
	int		 local;			/* sluice answered itself */
	int64_t		 local_bytes;		/* body bytes of that answer */
	int		 resp_started;		/* a byte of a response went out */
	int		 body_cut;		/* answered before the body ended */
	int		 used_upstream;		/* sent on c->ubev */
	int		 held;			/* owes ratelimit_held_done() */
	struct ratelimit_redis_wait *shared;	/* a shared decision asked */
	const char	*limit_source;		/* "redis", "local" or NULL */
	const struct rule *rule;		/* in rules, or NULL */
	/* caching */
	const char	*cache_status;		/* Cache-Status detail, or NULL */
	char		*cache_req;		/* copy of the request head */
	size_t		 cache_req_len;
	int		 client_auth;		/* client's own Authorization went */
	struct cache_entry *cached;		/* stale entry being revalidated */
	struct cache_fill *fill;		/* response being copied */
	struct cache_flight *flight;		/* we fetch for waiting requests */
	int		 collapsed;		/* waited once already */
	char		*unsafe_target;		/* POST/PUT/PATCH/DELETE target */
	char		*upgrade;		/* the Upgrade the request asked for */
	char		 injected[256];		/* names of injected credentials */
	int		 status;
	const char	*decision;
	char		 error[160];
	struct evbuffer	*retry_head;		/* head, while a retry is possible */
};

struct conn {
	TAILQ_ENTRY(conn) entry;
	struct worker	*w;
	enum conn_state	 state;
	int		 fd;			/* until a bufferevent owns it */
	int		 connect_mode;
	int		 misdirected;		/* SNI != CONNECT host */

	char		 client_str[64];
	char		 client_ip[64];		/* rate-limit key */
	char		 server_str[64];
	int		 dst_port;
	struct sockaddr_storage up_addr;	/* where we dial */
	socklen_t	 up_len;
	char		 sni[CONFIG_HOST_MAX];
	char		 connect_host[CONFIG_HOST_MAX];
	char		 name[CONFIG_HOST_MAX];	/* SNI, CONNECT host or dst IP */

	struct event	*ev;			/* raw fd reads before TLS */
	struct event	*timer;
	double		 deadline;		/* PEEK: monotonic ms */
	struct evdns_getaddrinfo_request *dnsreq;
	int		 dns_sync;		/* inside evdns_getaddrinfo() */

	struct bufferevent *cbev;		/* client side */
	struct capture_conn *cap;		/* --pcap: cbev's bytes */
	struct bufferevent *ubev;		/* upstream side */
	int		 ubev_connected;
	int		 ubev_reused;		/* carried a previous request */
	int		 ubev_reusable;		/* idle and fit for another */
	int		 ubev_eof;		/* the upstream closed its side */
	enum upstream_close ubev_close;		/* how, once ubev_eof */

	struct conn_req	 req;
	struct cache_waiter waiter;		/* while CONN_COLLAPSED */
	size_t		 head_scanned;		/* request head bytes without its end */
	int		 passthrough;		/* audit the tunnel at close */
	int64_t		 passthrough_rule;
	char		 passthrough_note[CONFIG_HOST_MAX + 200]; /* redirected */
	int64_t		 start_ms;
	double		 start_mono;
	uint64_t	 tunnel_up, tunnel_down;
	uint64_t	 linger_bytes;		/* dropped while lingering */
	int		 linger_shut;		/* close_notify + FIN sent */

	/* the connections row, written by conn_free() */
	int64_t		 audit_id;
	const char	*tls_version;		/* OpenSSL's static strings */
	const char	*cipher;
	char		 alpn[32];
	const char	*up_tls_version;
	const char	*up_cipher;
	char		 up_subject[256];
	char		 up_issuer[256];
	const char	*verify_result;		/* "ok" or OpenSSL's reason */
	uint64_t	 wire_in, wire_out;	/* client socket, TLS included;
						   a passthrough's are tunnel_* */
	const char	*end_reason;		/* NULL: from the state */
	enum conn_state	 end_state;		/* the state conn_kill() ended */
};

static void conn_run(struct conn *);
static void conn_pump(struct conn *);
static void conn_client_read(struct bufferevent *, void *);
static void conn_client_write(struct bufferevent *, void *);
static void conn_client_event(struct bufferevent *, short, void *);
static void conn_upstream_read(struct bufferevent *, void *);
static void conn_upstream_event(struct bufferevent *, short, void *);
static void conn_flush(struct conn *);
static void conn_linger(struct conn *);

static const struct config *
conn_cfg(struct conn *c)
{
	return c->w->sl->cfg;
}

static void
conn_arm(struct conn *c, double secs)
{
	struct timeval tv;

	tv.tv_sec = (time_t)secs;
	tv.tv_usec = (suseconds_t)((secs - tv.tv_sec) * 1e6);
	event_add(c->timer, &tv);
}

static void
conn_kill(struct conn *c)
{
	if (c->state != CONN_DEAD)
		c->end_state = c->state;
	c->state = CONN_DEAD;
}

static void
conn_upstream_drop(struct conn *c)
{
	upstream_free(c->w, c->ubev);
	c->ubev = NULL;
	c->ubev_connected = 0;
	c->ubev_reused = 0;
	c->ubev_reusable = 0;
	c->ubev_eof = 0;
}

/*
 * Keep what the client's TLS connection moved on the wire (records, the
 * handshake, alerts) before its bufferevent goes: the socket BIO counts
 * every byte it read or wrote.
 */
static void
conn_client_wire(struct conn *c)
{
	SSL *ssl = bufferevent_openssl_get_ssl(c->cbev);

	if (ssl == NULL)
		return;
	c->wire_in += BIO_number_read(SSL_get_rbio(ssl));
	c->wire_out += BIO_number_written(SSL_get_wbio(ssl));
}

static int
conn_has_room(struct bufferevent *bev)
{
	return bev != NULL &&
	    evbuffer_get_length(bufferevent_get_output(bev)) < CONN_HIGH_WATER;
}

/* ---- accept, CONNECT, peek ------------------------------------------ */

static void conn_fd_cb(evutil_socket_t, short, void *);
static void conn_timer_cb(evutil_socket_t, short, void *);

void
conn_accept(struct worker *w, int fd, const struct sockaddr *peer,
    socklen_t peerlen, int connect_mode)
{
	const struct config *cfg = w->sl->cfg;
	struct sockaddr_storage dst;
	socklen_t dstlen;
	struct conn *c;
	int one = 1;

	if (atomic_fetch_add(&w->sl->nconns, 1) >= cfg->max_connections) {
		atomic_fetch_sub(&w->sl->nconns, 1);
		log_event(LOG_WARN, "conn_limit_reached", "limit=%d",
		    cfg->max_connections);
		close(fd);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		atomic_fetch_sub(&w->sl->nconns, 1);
		close(fd);
		return;
	}
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == -1)
		log_event(LOG_WARN, "client_nodelay_failed", "err=%s",
		    strerror(errno));
	c->w = w;
	c->fd = fd;
	c->connect_mode = connect_mode;
	c->start_ms = util_wall_ms();
	c->start_mono = util_mono_ms();
	c->audit_id = audit_conn_id(w->sl->audit);
	util_addr_str(peer, c->client_str, sizeof(c->client_str));
	util_addr_ip(peer, c->client_ip, sizeof(c->client_ip));
	TAILQ_INSERT_TAIL(&w->conns, c, entry);
	w->nconns++;

	c->timer = evtimer_new(w->base, conn_timer_cb, c);
	c->ev = event_new(w->base, fd, EV_READ | EV_ET | EV_PERSIST,
	    conn_fd_cb, c);
	if (c->timer == NULL || c->ev == NULL)
		goto fail;
	c->deadline = c->start_mono + cfg->handshake_timeout * 1000.0;
	conn_arm(c, cfg->handshake_timeout);

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
	conn_kill(c);
	conn_run(c);
}

/* --resolve HOST:PORT:ADDR, else NULL. */
static const struct config_resolve *
conn_resolve_override(struct conn *c, const char *host, int port)
{
	const struct config *cfg = conn_cfg(c);
	int i;

	for (i = 0; i < cfg->nresolve; i++)
		if (cfg->resolve[i].port == port &&
		    strcmp(cfg->resolve[i].host, host) == 0)
			return &cfg->resolve[i];
	return NULL;
}

static const char *conn_reason(int);
static void conn_json_str(struct evbuffer *, const char *);
static void conn_peek(struct conn *);
static void conn_dns_cb(int, struct evutil_addrinfo *, void *);
static void conn_start_tunnel(struct conn *, int64_t rule_id);
static void conn_start_tls(struct conn *);

/*
 * Answer the CONNECT line on the raw socket: the 200, or status with a JSON
 * body {"error":code,"reason":why} and a close.  Tiny, so one send().
 */
static int
conn_connect_reply(struct conn *c, int status, const char *code,
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
		evbuffer_add_printf(body, "{\"error\":\"%s\",\"reason\":", code);
		conn_json_str(body, why);
		evbuffer_add_printf(body, "}\n");
		evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\n"
		    "Content-Type: application/json\r\nContent-Length: %zu\r\n"
		    "Connection: close\r\n\r\n", status, conn_reason(status),
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
static void
conn_audit_flow(struct conn *c, const char *decision, const char *method,
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
	audit_submit(c->w->sl->audit, &rec);
	worker_count_request(c->w, decision, status, rule_id, NULL);
}

/*
 * The policy said deny: a deny rule (also one widened at load to fail
 * closed), the default deny, or a CONNECT port no rule opens.  Returns 1
 * when the deny stands.  Under --report-only it logs event=would_deny and
 * returns 0: the caller goes on as if allowed and audits 'would_deny' with
 * the rule that would have denied.  Only policy comes through here; a
 * malformed request (400), a Host or SNI that names another server (421)
 * and the SSRF guard are safety, not policy, and stay enforced.  path is
 * logged without its query, which may carry a client's credential.
 */
static int
conn_deny_stands(struct conn *c, const char *host, const char *method,
    const char *path, size_t pathlen, int64_t rule_id)
{
	char rule[24] = "none";

	if (!conn_cfg(c)->report_only)
		return 1;
	if (rule_id >= 0)
		snprintf(rule, sizeof(rule), "%lld", (long long)rule_id);
	log_event(LOG_INFO, "would_deny", "client=%s host=%s method=%s "
	    "path=%.*s rule=%s", c->client_str, host, method, path != NULL ?
	    (int)pathlen : 1, path != NULL ? path : "-", rule);
	return 0;
}

/* Refuse or fail a CONNECT before its 200: answer, audit, close. */
static void
conn_connect_fail(struct conn *c, int status, const char *decision,
    int64_t rule_id, const char *why)
{
	const char *code = status == 403 ? "denied" :
	    status == 504 ? "gateway_timeout" : "bad_gateway";

	log_event(LOG_WARN, "connect_refused", "client=%s host=%s port=%d "
	    "status=%d err=%s", c->client_str, c->connect_host, c->dst_port,
	    status, why);
	conn_connect_reply(c, status, code, why);
	conn_audit_flow(c, decision, "CONNECT", status, rule_id, why);
	conn_kill(c);
}

/* Refuse a transparent connection before TLS: audit and close. */
static void
conn_refuse(struct conn *c, int64_t rule_id, const char *why)
{
	log_event(LOG_WARN, "conn_refused", "client=%s server=%s sni=%s "
	    "err=%s", c->client_str, c->server_str, c->sni, why);
	conn_audit_flow(c, "denied", NULL, 0, rule_id, why);
	conn_kill(c);
}

/* Resolve host for c->dst_port; conn_dns_cb() carries on. */
static void
conn_resolve(struct conn *c, const char *host)
{
	struct evdns_getaddrinfo_request *req;
	struct evutil_addrinfo hints;
	char port[8];

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof(port), "%d", c->dst_port);
	c->state = CONN_RESOLVING;
	conn_arm(c, conn_cfg(c)->handshake_timeout);
	/* A hosts-file or literal answer calls back before this returns. */
	c->dns_sync = 1;
	req = evdns_getaddrinfo(c->w->dns, host, port, &hints, conn_dns_cb, c);
	c->dns_sync = 0;
	c->dnsreq = req;
}

/* Why a lookup failed, for people. */
static const char *
conn_dns_error(int result)
{
	switch (result) {
	case 0: return "no address";
	case EVUTIL_EAI_NONAME: return "no such name (NXDOMAIN)";
	case EVUTIL_EAI_FAIL: return "lookup failed (SERVFAIL or no answer)";
	default: return evutil_gai_strerror(result);
	}
}

static void
conn_connect_ready(struct conn *c, const struct sockaddr *sa, socklen_t len)
{
	char why[160];

	memcpy(&c->up_addr, sa, len);
	c->up_len = len;
	util_addr_str(sa, c->server_str, sizeof(c->server_str));
	if (guard_check(sa, worker_rules(c->w), c->connect_host, why,
	    sizeof(why)) == -1) {
		conn_connect_fail(c, 403, "denied", -1, why);
		return;
	}
	if (conn_connect_reply(c, 200, NULL, NULL) == -1) {
		conn_kill(c);
		return;
	}
	/* The ClientHello may have come with the CONNECT: no new edge. */
	c->state = CONN_PEEK;
	conn_peek(c);
}

/*
 * The SNI of a passthrough connection resolved: dial the client's
 * destination if it is one of the name's addresses, else the first of them
 * (of the client's family if there is one), so the tunnel reaches only the
 * name the rule allowed, whatever address the client chose.
 */
static void
conn_passthrough_resolved(struct conn *c, int result,
    const struct evutil_addrinfo *ai)
{
	const struct evutil_addrinfo *i, *pick = NULL;
	char why[CONFIG_HOST_MAX + 160], want[64];

	if (result != 0 || ai == NULL) {
		snprintf(why, sizeof(why), "passthrough: %s: %s", c->sni,
		    conn_dns_error(result));
		conn_refuse(c, c->passthrough_rule, why);
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
	conn_start_tunnel(c, c->passthrough_rule);
}

static void
conn_dns_cb(int result, struct evutil_addrinfo *ai, void *arg)
{
	struct conn *c = arg;
	char why[CONFIG_HOST_MAX + 80];

	if (result == EVUTIL_EAI_CANCEL)
		return;
	c->dnsreq = NULL;
	if (!c->connect_mode)
		conn_passthrough_resolved(c, result, ai);
	else if (result != 0 || ai == NULL) {
		snprintf(why, sizeof(why), "cannot resolve %s: %s",
		    c->connect_host, conn_dns_error(result));
		conn_connect_fail(c, 502, "error", -1, why);
	} else
		conn_connect_ready(c, ai->ai_addr, ai->ai_addrlen);
	if (ai != NULL)
		evutil_freeaddrinfo(ai);
	if (!c->dns_sync)
		conn_run(c);
}

/* Split "host:port" / "[v6]:port" from a CONNECT target. */
static int
conn_parse_authority(struct http1_str t, char *host, size_t hostsz, int *port)
{
	const char *colon, *end = t.p + t.len;
	char portbuf[8];
	char *ep;
	long p;

	colon = memrchr(t.p, ':', t.len);
	if (colon == NULL || colon == t.p || end - colon - 1 >= (long)sizeof(portbuf)
	    || end - colon - 1 == 0)
		return -1;
	memcpy(portbuf, colon + 1, end - colon - 1);
	portbuf[end - colon - 1] = '\0';
	p = strtol(portbuf, &ep, 10);
	if (*ep != '\0' || p < 1 || p > 65535)
		return -1;
	*port = (int)p;
	if (t.p[0] == '[') {
		if (colon[-1] != ']' || colon - t.p - 2 <= 0)
			return -1;
		util_lowercase(host, hostsz, t.p + 1, colon - t.p - 2);
		return (size_t)(colon - t.p - 2) < hostsz ? 0 : -1;
	}
	util_lowercase(host, hostsz, t.p, colon - t.p);
	return (size_t)(colon - t.p) < hostsz ? 0 : -1;
}

/*
 * The CONNECT head at the start of buf[0..n), its bare LF line ends made
 * CRLF, into out[0..outsz); *used: the bytes of buf it spans.  RFC 9112
 * section 2.2 lets a recipient accept a bare LF, and this head is never
 * forwarded (heads that are stay strict).  Returns the length written, 0
 * while the empty line has not arrived, -1 if it does not fit.
 */
static ssize_t
conn_connect_crlf(const char *buf, size_t n, char *out, size_t outsz,
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
conn_connect_port_ok(struct conn *c, int64_t *rule_id)
{
	const struct rule *rule;

	*rule_id = -1;
	if (c->dst_port == CONN_TLS_PORT)
		return 1;
	rule = rules_match_conn(worker_rules(c->w), c->connect_host,
	    c->dst_port);
	if (rule != NULL) {
		*rule_id = rule->id;
		return rule->action != RULE_DENY;
	}
	return !conn_cfg(c)->default_deny;
}

static void
conn_read_connect(struct conn *c)
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
		conn_kill(c);
		return;
	}
	hn = conn_connect_crlf(buf, n, head, sizeof(head), &used);
	if (hn == 0 && (size_t)n < sizeof(buf))
		return;		/* the next edge brings more */
	if (hn <= 0)
		goto bad;
	if (http1_parse_request(head, hn, &h, &bad) != HTTP1_OK)
		goto bad;
	if (!http1_str_eq(h.method, "CONNECT") ||
	    conn_parse_authority(h.target, c->connect_host,
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
	conn_arm(c, conn_cfg(c)->handshake_timeout);

	if (!conn_connect_port_ok(c, &rule_id)) {
		snprintf(why, sizeof(why), "CONNECT to port %d of %s is not "
		    "allowed by the rules", c->dst_port, c->connect_host);
		if (conn_deny_stands(c, c->connect_host, "CONNECT", NULL, 0,
		    rule_id)) {
			conn_connect_fail(c, 403, "denied", rule_id, why);
			return;
		}
		conn_audit_flow(c, "would_deny", "CONNECT", 0, rule_id, why);
	}
	if ((res = conn_resolve_override(c, c->connect_host, c->dst_port))) {
		conn_connect_ready(c, (struct sockaddr *)&res->addr,
		    res->addrlen);
		return;
	}
	if (util_parse_addr(c->connect_host, c->dst_port, &ss, &len) == 0) {
		conn_connect_ready(c, (struct sockaddr *)&ss, len);
		return;
	}
	conn_resolve(c, c->connect_host);
	return;
bad:
	log_event(LOG_WARN, "bad_connect", "client=%s err=%s", c->client_str,
	    bad ? bad : "malformed");
	conn_connect_reply(c, 400, "bad_request", bad ? bad : "malformed");
	conn_kill(c);
}

/* The ClientHello is complete: pick passthrough or interception. */
static void
conn_hello_done(struct conn *c)
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
	if (c->connect_mode && c->sni[0] != '\0' &&
	    strcmp(c->sni, c->connect_host) != 0)
		c->misdirected = 1;
	if (!c->connect_mode && c->sni[0] != '\0' &&
	    (res = conn_resolve_override(c, c->sni, c->dst_port)) != NULL) {
		memcpy(&c->up_addr, &res->addr, res->addrlen);
		c->up_len = res->addrlen;
	}

	snap = worker_rules(c->w);
	rule = rules_match_conn(snap, c->name, c->dst_port);
	if (rule != NULL && rule->action == RULE_PASSTHROUGH && !c->misdirected) {
		c->passthrough_rule = rule->id;
		/*
		 * In CONNECT mode sluice resolved the name itself (the SNI is
		 * the CONNECT host); a transparent client chose the address.
		 */
		if (!c->connect_mode && c->sni[0] != '\0' && res == NULL)
			conn_resolve(c, c->sni);
		else
			conn_start_tunnel(c, rule->id);
		return;
	}
	/* CONNECT mode checked its address before the 200. */
	if (!c->connect_mode && guard_check((struct sockaddr *)&c->up_addr,
	    snap, c->name, why, sizeof(why)) == -1) {
		conn_refuse(c, -1, why);
		return;
	}
	conn_start_tls(c);
}

static void
conn_peek(struct conn *c)
{
	uint8_t buf[CLIENTHELLO_MAX];
	ssize_t n;

	n = recv(c->fd, buf, sizeof(buf), MSG_PEEK);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_kill(c);
		return;
	}
	switch (clienthello_parse(buf, n, c->sni, sizeof(c->sni))) {
	case CLIENTHELLO_OK:
		conn_hello_done(c);
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
	conn_kill(c);
}

static void
conn_fd_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	if (c->state == CONN_CONNECT_HEAD)
		conn_read_connect(c);
	else if (c->state == CONN_PEEK)
		conn_peek(c);
	conn_run(c);
}

static void
conn_bev_setup(struct conn *c, struct bufferevent *bev, int client)
{
	if (client)
		bufferevent_setcb(bev, conn_client_read, conn_client_write,
		    conn_client_event, c);
	else
		bufferevent_setcb(bev, conn_upstream_read, conn_client_write,
		    conn_upstream_event, c);
	bufferevent_setwatermark(bev, EV_READ, 0, CONN_HIGH_WATER);
	bufferevent_setwatermark(bev, EV_WRITE, CONN_HIGH_WATER / 2, 0);
}

/*
 * --pcap: every byte added to the client's input (what it sent) or output
 * (what sluice wrote for it) is copied as it arrives, while c->req.rule
 * still names the credentials a response may echo.
 */
static void
conn_capture_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info,
    void *arg)
{
	struct conn *c = arg;

	if (info->n_added > 0)
		capture_bytes(c->cap, buf == bufferevent_get_output(c->cbev),
		    buf, info->n_added, c->req.rule);
}

static void
conn_capture_start(struct conn *c)
{
	struct capture *cap = c->w->sl->capture;
	const char *only = conn_cfg(c)->pcap_filter;

	if (cap == NULL || (only != NULL && !rules_host_match(only, c->name)) ||
	    (c->cap = capture_conn_new(cap, c->client_str, c->server_str)) ==
	    NULL)
		return;
	evbuffer_add_cb(bufferevent_get_input(c->cbev), conn_capture_cb, c);
	evbuffer_add_cb(bufferevent_get_output(c->cbev), conn_capture_cb, c);
}

/*
 * The FIN.  Where cbev was freed before (client EOF, tunnel end), its
 * buffers went with it, and libevent frees a buffer without calling its
 * callbacks.
 */
static void
conn_capture_end(struct conn *c)
{
	if (c->cap == NULL)
		return;
	if (c->cbev != NULL) {
		evbuffer_remove_cb(bufferevent_get_input(c->cbev),
		    conn_capture_cb, c);
		evbuffer_remove_cb(bufferevent_get_output(c->cbev),
		    conn_capture_cb, c);
	}
	capture_conn_free(c->cap);
	c->cap = NULL;
}

static void
conn_start_tls(struct conn *c)
{
	SSL *ssl;

	ssl = tls_client_ssl_new(c->w->sl->client_ctx, c->w->sl->certforge,
	    c->name);
	if (ssl == NULL) {
		conn_kill(c);
		return;
	}
	event_free(c->ev);
	c->ev = NULL;
	c->cbev = bufferevent_openssl_socket_new(c->w->base, c->fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (c->cbev == NULL) {
		SSL_free(ssl);
		conn_kill(c);
		return;
	}
	c->fd = -1;
	bufferevent_openssl_set_allow_dirty_shutdown(c->cbev, 1);
	conn_bev_setup(c, c->cbev, 1);
	conn_capture_start(c);
	c->state = CONN_HANDSHAKE;
	/* What the CONNECT head and DNS left of the handshake's time. */
	conn_arm(c, c->deadline > util_mono_ms() ?
	    (c->deadline - util_mono_ms()) / 1000.0 : 0);
}

static void
conn_start_tunnel(struct conn *c, int64_t rule_id)
{
	char why[160];

	/* CONNECT mode checked its address before the 200. */
	if (!c->connect_mode && guard_check((struct sockaddr *)&c->up_addr,
	    worker_rules(c->w), c->name, why, sizeof(why)) == -1) {
		conn_refuse(c, rule_id, why);
		return;
	}
	event_free(c->ev);
	c->ev = NULL;
	c->passthrough = 1;
	c->passthrough_rule = rule_id;
	c->cbev = bufferevent_socket_new(c->w->base, c->fd,
	    BEV_OPT_CLOSE_ON_FREE);
	if (c->cbev == NULL) {
		conn_kill(c);
		return;
	}
	c->fd = -1;
	c->ubev = upstream_connect_tcp(c->w, (struct sockaddr *)&c->up_addr,
	    c->up_len);
	if (c->ubev == NULL) {
		log_event(LOG_WARN, "passthrough_failed", "client=%s server=%s "
		    "err=%s", c->client_str, c->server_str, strerror(errno));
		conn_kill(c);
		return;
	}
	conn_bev_setup(c, c->cbev, 1);
	conn_bev_setup(c, c->ubev, 0);
	c->state = CONN_TUNNEL;
	conn_arm(c, CONN_TUNNEL_IDLE);
}

/* ---- local answers ------------------------------------------------- */

static const char *
conn_reason(int status)
{
	switch (status) {
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 408: return "Request Timeout";
	case 421: return "Misdirected Request";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 502: return "Bad Gateway";
	case 504: return "Gateway Timeout";
	default: return "Error";
	}
}

/* Write a JSON string literal of s (printable ASCII kept, rest escaped). */
static void
conn_json_str(struct evbuffer *out, const char *s)
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
 * Answer the current request ourselves.  body is a JSON document.  keep: the
 * connection may serve another request afterwards.  The request body, if
 * any, is then discarded (small, known length) or the connection closes.
 */
static void
conn_respond(struct conn *c, int status, const char *decision,
    const char *fields, struct evbuffer *body, int keep)
{
	struct conn_req *r = &c->req;
	struct evbuffer *out = bufferevent_get_output(c->cbev);
	size_t blen = body ? evbuffer_get_length(body) : 0;

	if (r->used_upstream) {
		conn_upstream_drop(c);
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
	if (!keep || c->w->draining) {
		r->client_keepalive = 0;
		r->body_cut = !r->body.done;
		r->body.done = 1;
	}
	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\n"
	    "Content-Type: application/json\r\nContent-Length: %zu\r\n"
	    "Cache-Control: no-store\r\n%s%s\r\n", status, conn_reason(status),
	    blen, fields ? fields : "",
	    r->client_keepalive ? "" : "Connection: close\r\n");
	if (body != NULL && !r->is_head)
		evbuffer_add_buffer(out, body);
	r->local = 1;
	r->local_bytes = r->is_head ? 0 : (int64_t)blen;
	r->resp_state = RESP_DONE;
	r->resp_started = 1;
	r->status = status;
	r->decision = decision;
}

/* An error answer {"error":code,"reason":why}; the connection closes. */
static void
conn_respond_error(struct conn *c, int status, const char *code,
    const char *why)
{
	struct evbuffer *body = evbuffer_new();

	snprintf(c->req.error, sizeof(c->req.error), "%s", why);
	if (body != NULL) {
		evbuffer_add_printf(body, "{\"error\":\"%s\",\"reason\":", code);
		conn_json_str(body, why);
		evbuffer_add_printf(body, "}\n");
	}
	conn_respond(c, status, "error", NULL, body, 0);
	if (body != NULL)
		evbuffer_free(body);
}

static void
conn_respond_denied(struct conn *c, int64_t rule_id)
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
	conn_respond(c, 403, "denied", NULL, body, 1);
	if (body != NULL)
		evbuffer_free(body);
}

/* 429, with Retry-After and the IETF draft's RateLimit fields. */
static void
conn_respond_limited(struct conn *c, const struct rule *rule, int64_t wait_ms)
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
	conn_respond(c, 429, "rate_limited", fields, body, 1);
	if (body != NULL)
		evbuffer_free(body);
}

/* ---- requests ------------------------------------------------------ */

/* Host header -> lowercased host without port or trailing dot. */
static void
conn_host_from_header(struct http1_str v, char *host, size_t hostsz)
{
	const char *end = v.p + v.len, *colon;
	size_t n;

	if (v.len > 0 && v.p[0] == '[') {
		colon = memchr(v.p, ']', v.len);
		n = colon ? (size_t)(colon - v.p - 1) : 0;
		util_lowercase(host, hostsz, v.p + 1, n);
		return;
	}
	colon = memchr(v.p, ':', v.len);
	n = (colon ? colon : end) - v.p;
	if (n > 0 && v.p[n - 1] == '.')
		n--;
	util_lowercase(host, hostsz, v.p, n);
}

/* The path of an origin-form target, without the query. */
static struct http1_str
conn_target_path(struct http1_str t)
{
	const char *q = memchr(t.p, '?', t.len);

	if (q != NULL)
		t.len = q - t.p;
	return t;
}

/*
 * Normalise the target once: rules match it, the upstream gets it, the
 * cache keys on it and the audit shows it.  One that cannot be (a bad
 * escape, a "..;" segment, or no memory) is audited as sent, and
 * conn_dispatch() refuses it.
 */
static void
conn_request_target(struct conn_req *r, struct http1_str t)
{
	ssize_t n = -1;

	if (t.p == NULL)
		return;
	if ((r->norm = malloc(t.len + 1)) != NULL &&
	    (n = urlpath_normalise(t.p, t.len, r->norm)) >= 0) {
		r->norm_len = (size_t)n;
		r->target = strdup(r->norm);
		return;
	}
	free(r->norm);
	r->norm = NULL;
	r->target = strndup(t.p, t.len);
}

static void
conn_request_begin(struct conn *c, const struct http1_head *h)
{
	struct conn_req *r = &c->req;
	const struct http1_header *up;

	memset(r, 0, sizeof(*r));
	r->start_ms = util_wall_ms();
	r->start_mono = util_mono_ms();
	util_copy(r->method, sizeof(r->method), h->method.p, h->method.len);
	conn_request_target(r, h->target);
	r->is_head = http1_str_eq(h->method, "HEAD");
	r->expect_continue = h->expect_continue;
	/* HTTP/1.0 clients are not kept: they would need Connection: keep-alive */
	r->client_keepalive = h->keep_alive && h->version_minor == 1;
	r->upstream_keepalive = 1;
	r->rule_id = -1;
	r->decision = "forwarded";
	if (h->upgrade && (up = http1_find(h, "upgrade")) != NULL)
		r->upgrade = strndup(up->value.p, up->value.len);
	http1_body_init(&r->body, h->body, h->content_length);
	if (h->body == HTTP1_BODY_NONE)
		r->body.done = 1;
	r->resp_state = RESP_WAIT_HEAD;
	/* The host rules see: the SNI, the CONNECT host or the destination IP. */
	util_copy(r->host, sizeof(r->host), c->name, strlen(c->name));
}

/* Wake the requests that wait for this one's response to reach the cache. */
static void
conn_flight_end(struct conn *c)
{
	if (c->req.flight != NULL) {
		cache_flight_done(c->w->sl->cache, c->req.flight);
		c->req.flight = NULL;
	}
}

/* The upstream leg for the connections row: TLS, certificate, verdict. */
static void
conn_note_upstream(struct conn *c, SSL *ssl)
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

/* Write the request's audit row and forget the request. */
static void
conn_request_audit(struct conn *c)
{
	struct conn_req *r = &c->req;
	struct audit_record rec = {
		.ts_ms = r->start_ms,
		.client = c->client_str,
		.server = c->server_str,
		.sni = c->sni[0] ? c->sni : NULL,
		.host = r->host[0] ? r->host : NULL,
		.method = r->method[0] ? r->method : NULL,
		.path = r->target,
		.status = r->status,
		.decision = r->decision,
		.rule_id = r->rule_id,
		.injected = r->injected[0] ? r->injected : NULL,
		.req_bytes = (int64_t)r->body.payload,
		.resp_bytes = r->local ? r->local_bytes : (int64_t)r->resp.payload,
		.duration_ms = util_mono_ms() - r->start_mono,
		.error = r->error[0] ? r->error : NULL,
		.conn_id = c->audit_id,
		.limit_source = r->limit_source,
	};

	if (r->shared != NULL)
		ratelimit_redis_abandon(r->shared);
	if (c->up_subject[0] == '\0' && c->ubev != NULL)
		conn_note_upstream(c, bufferevent_openssl_get_ssl(c->ubev));
	audit_submit(c->w->sl->audit, &rec);
	worker_count_request(c->w, r->decision, r->status, r->rule_id,
	    r->cache_status);
	if (r->error[0] != '\0')
		log_event(LOG_DEBUG, "request_failed", "client=%s method=%s "
		    "host=%s status=%d err=%s", c->client_str, r->method,
		    r->host, r->status, r->error);
	if (r->fill != NULL)
		cache_fill_abort(r->fill);
	conn_flight_end(c);
	if (r->cached != NULL)
		cache_entry_unref(r->cached);
	free(r->cache_req);
	free(r->unsafe_target);
	free(r->upgrade);
	if (r->rules != NULL)
		rules_snapshot_unref(r->rules);
	if (r->retry_head != NULL)
		evbuffer_free(r->retry_head);
	free(r->target);
	free(r->norm);
	memset(r, 0, sizeof(*r));
}

/* The exchange is complete: keep both sides for the next one, or close. */
static void
conn_request_end(struct conn *c)
{
	struct conn_req *r = &c->req;
	int keep, linger = r->body_cut;

	if (r->used_upstream) {
		c->ubev_reusable = c->ubev_connected && !c->ubev_eof &&
		    !r->local && r->upstream_keepalive && r->body.done &&
		    r->resp_state == RESP_DONE;
		if (!c->ubev_reusable)
			conn_upstream_drop(c);
		else
			c->ubev_reused = 1;
	}
	keep = r->client_keepalive && r->body.done && !c->w->draining;
	conn_request_audit(c);
	if (keep) {
		c->state = CONN_REQ_HEAD;
		conn_arm(c, conn_cfg(c)->idle_timeout);
	} else if (linger)
		conn_linger(c);
	else
		conn_flush(c);
}

/*
 * Response fields that end here: hop-by-hop ones, the framing fields of a
 * message with a body (sluice writes its own), and Alt-Svc (no QUIC).
 */
struct conn_resp_filter {
	const struct http1_head *h;
	struct evbuffer	*out;
	int		 drop_age;	/* the cache adds its own */
	int		 start_line;	/* the next span is the upstream's */
};

static int
conn_keep_response_field(void *arg, const struct http1_header *f)
{
	struct conn_resp_filter *rf = arg;

	return !http1_is_hop_field(rf->h, f->name) &&
	    !http1_drops_framing_field(rf->h, f->name) &&
	    !http1_str_eq(f->name, "alt-svc") &&
	    !(rf->drop_age && http1_str_eq(f->name, "age"));
}

static void
conn_emit_response(void *arg, const char *s, size_t len)
{
	struct conn_resp_filter *rf = arg;

	if (rf->start_line)
		rf->start_line = 0;
	else
		evbuffer_add(rf->out, s, len);
}

/*
 * Write the response head h (parsed from p) to out as sluice's message:
 * its own status line, the fields that do not end here, and the framing
 * sluice parsed; the caller adds its fields and the blank line.
 */
static void
conn_write_response_head(const struct http1_head *h, const char *p,
    struct evbuffer *out, int drop_age)
{
	struct conn_resp_filter rf = { h, out, drop_age, 1 };
	char framing[HTTP1_FRAMING_MAX], line[HTTP1_STATUS_LINE_MAX];
	size_t n;

	if ((n = http1_write_status_line(h, line, sizeof(line))) > 0)
		evbuffer_add(out, line, n);
	else
		evbuffer_add_printf(out, "HTTP/1.1 %d %.*s\r\n", h->status,
		    (int)h->reason.len, h->reason.p);
	http1_head_spans(h, p, conn_keep_response_field, conn_emit_response,
	    &rf);
	evbuffer_add(out, framing, http1_framing_fields(h, framing,
	    sizeof(framing)));
}

/*
 * A 101 switches protocols only to one the request asked for (RFC 9110
 * 7.8): the request had Connection: upgrade and Upgrade, and every
 * protocol the response names is in the request's list.
 */
static int
conn_upgrade_asked(const struct conn_req *r, const struct http1_head *h)
{
	const struct http1_header *up = http1_find(h, "upgrade");
	struct http1_str want, rest, tok;
	const char *comma;

	if (r->upgrade == NULL || up == NULL || up->value.len == 0)
		return 0;
	want.p = r->upgrade;
	want.len = strlen(r->upgrade);
	for (rest = up->value; rest.len > 0; ) {
		comma = memchr(rest.p, ',', rest.len);
		tok.p = rest.p;
		tok.len = comma ? (size_t)(comma - rest.p) : rest.len;
		while (tok.len > 0 && (*tok.p == ' ' || *tok.p == '\t')) {
			tok.p++;
			tok.len--;
		}
		while (tok.len > 0 && (tok.p[tok.len - 1] == ' ' ||
		    tok.p[tok.len - 1] == '\t'))
			tok.len--;
		if (tok.len > 0 && !http1_list_has(want, tok))
			return 0;
		if (comma == NULL)
			break;
		rest.len -= comma + 1 - rest.p;
		rest.p = comma + 1;
	}
	return 1;
}

/* Attach an upstream connection: this connection's, the pool's, or new. */
static int
conn_upstream_attach(struct conn *c)
{
	struct worker *w = c->w;

	c->req.used_upstream = 1;
	/* A kept connection that spoke out of turn cannot be trusted. */
	if (c->ubev != NULL &&
	    evbuffer_get_length(bufferevent_get_input(c->ubev)) > 0)
		conn_upstream_drop(c);
	if (c->ubev != NULL) {
		c->ubev_reusable = 0;
		return 0;
	}
	c->ubev = upstream_pool_take(w, (struct sockaddr *)&c->up_addr,
	    c->up_len, c->name);
	if (c->ubev != NULL) {
		c->ubev_connected = 1;
		c->ubev_reused = 1;
	} else {
		c->ubev = upstream_connect_tls(w, (struct sockaddr *)&c->up_addr,
		    c->up_len, c->sni[0] ? c->sni : c->name, c->name);
		if (c->ubev == NULL)
			return -1;
		c->ubev_connected = 0;
		c->ubev_reused = 0;
	}
	conn_bev_setup(c, c->ubev, 0);
	return 0;
}

/*
 * Send the head, with the normalised target and the rule's credentials,
 * and start the exchange.
 * Secrets are bound to the destination by construction: rules match on
 * c->name (the SNI, the CONNECT host or the destination IP, never the Host
 * header, which must agree with the SNI), and the upstream connection is
 * verified for c->name before any byte written here leaves.
 */
static void
conn_forward_request(struct conn *c, const struct http1_head *h,
    const char *p, const struct rule *rule, const char *extra)
{
	struct conn_req *r = &c->req;
	struct http1_str target = { r->norm, r->norm_len };
	struct evbuffer *out;
	char *audit_target = NULL;
	size_t len;

	if (conn_upstream_attach(c) == -1) {
		conn_respond_error(c, 502, "bad_gateway",
		    "cannot connect to upstream");
		return;
	}
	out = bufferevent_get_output(c->ubev);
	if (inject_write_request(out, h, p, target, rule, extra, &audit_target,
	    r->injected, sizeof(r->injected)) == -1) {
		conn_respond_error(c, 502, "bad_gateway", "out of memory");
		return;
	}
	if (audit_target != NULL) {
		free(r->target);
		r->target = audit_target;
	}
	/* A request without body on a reused connection may be sent again. */
	len = evbuffer_get_length(out);
	if (c->ubev_reused && r->body.done &&
	    (r->retry_head = evbuffer_new()) != NULL)
		evbuffer_add(r->retry_head, evbuffer_pullup(out, len), len);
}

static void conn_wake(evutil_socket_t, short, void *);

/*
 * A miss: lead the fetch, or wait for the identical one in flight (once,
 * bounded).  1 if this request now waits.
 */
static int
conn_collapse(struct conn *c, const struct rule *rule,
    const struct http1_head *h)
{
	struct conn_req *r = &c->req;

	if (r->collapsed || r->is_head)
		return 0;
	if (c->waiter.ev == NULL &&
	    (c->waiter.ev = event_new(c->w->base, -1, 0, conn_wake, c)) == NULL)
		return 0;
	r->flight = cache_flight_join(c->w->sl->cache, rule->id, r->host,
	    h->target, &c->waiter);
	if (r->flight != NULL || c->waiter.flight == NULL)
		return 0;
	r->collapsed = 1;
	c->state = CONN_COLLAPSED;
	conn_arm(c, CONN_COLLAPSE_SECS);
	return 1;
}

static void
conn_cache_unref(const void *data, size_t len, void *arg)
{
	cache_entry_unref(arg);
}

/* Answer from a cache entry (takes the reference). */
static void
conn_serve_cached(struct conn *c, struct cache_entry *e, int64_t age,
    const char *status)
{
	struct conn_req *r = &c->req;
	struct evbuffer *out = bufferevent_get_output(c->cbev);
	const char *head, *body;
	size_t hl, bl;

	if (r->used_upstream && !c->ubev_connected)
		conn_upstream_drop(c);
	if (!r->body.done) {
		r->body.done = 1;
		r->client_keepalive = 0;
	}
	head = cache_entry_head(e, &hl);
	body = cache_entry_body(e, &bl);
	evbuffer_add(out, head, hl);
	evbuffer_add_printf(out, "Age: %lld\r\nCache-Status: sluice; %s\r\n%s"
	    "\r\n", (long long)age, status, r->client_keepalive &&
	    !c->w->draining ? "" : "Connection: close\r\n");
	r->local = 1;
	r->local_bytes = r->is_head ? 0 : (int64_t)cache_entry_payload(e);
	r->resp_state = RESP_DONE;
	r->resp_started = 1;
	r->status = cache_entry_status(e);
	r->decision = "cached";
	if (r->is_head || bl == 0 ||
	    evbuffer_add_reference(out, body, bl, conn_cache_unref, e) == -1)
		cache_entry_unref(e);
}

/*
 * Serve the request from the cache, or send it upstream (conditionally,
 * for a stale entry).  Returns 1 when the request waits for an identical
 * one already on its way upstream; its head then stays in the input.
 */
static int
conn_send(struct conn *c, const struct http1_head *h, const char *p,
    const struct rule *rule)
{
	struct conn_req *r = &c->req;
	struct cache *cache = c->w->sl->cache;
	const char *extra = NULL;
	struct http1_head keyed;
	struct cache_entry *e;
	int64_t age;

	if (!http1_str_eq(h->method, "GET") && !http1_str_eq(h->method, "HEAD")
	    && !http1_str_eq(h->method, "OPTIONS") &&
	    !http1_str_eq(h->method, "TRACE"))
		r->unsafe_target = strndup(r->norm, r->norm_len);
	if (rule == NULL || !rule->has_cache)
		goto forward;
	/* The cache keys on the target as sent upstream, not as spelt. */
	keyed = *h;
	keyed.target.p = r->norm;
	keyed.target.len = r->norm_len;
	h = &keyed;
	if (cache_request_bypass(h)) {
		if (r->unsafe_target == NULL)
			r->cache_status = "fwd=bypass";
		goto forward;
	}
	switch (cache_lookup(cache, rule->id, r->host, h, time(NULL), &e,
	    &age)) {
	case CACHE_FRESH:
		conn_serve_cached(c, e, age, "hit");
		return 0;
	case CACHE_STALE:
		/* The client's own conditions would clash with ours. */
		if (http1_find(h, "if-none-match") == NULL &&
		    http1_find(h, "if-modified-since") == NULL) {
			r->cached = e;
			extra = cache_entry_validators(e);
		} else
			cache_entry_unref(e);
		r->cache_status = "fwd=stale";
		break;
	case CACHE_MISS:
		r->cache_status = "fwd=miss";
		if (conn_collapse(c, rule, h))
			return 1;
		break;
	}
	r->client_auth = http1_find(h, "authorization") != NULL &&
	    !inject_sets_field(rule, "authorization");
	if ((r->cache_req = malloc(h->head_len)) != NULL) {
		memcpy(r->cache_req, p, h->head_len);
		r->cache_req_len = h->head_len;
	}
forward:
	conn_forward_request(c, h, p, rule, extra);
	return 0;
}

enum conn_limit {
	CONN_LIMIT_PASS = 0,	/* go on */
	CONN_LIMIT_REFUSED,	/* answered 429 */
	CONN_LIMIT_HELD,	/* CONN_HELD until the timer: a token is due,
				   or a shared decision comes or is late */
};

/* A bucket's answer (ratelimit_take()'s convention) applied. */
static enum conn_limit
conn_limit_apply(struct conn *c, const struct rule *rule, int64_t wait,
    int counted)
{
	if (wait > 0) {
		conn_respond_limited(c, rule, wait);
		return CONN_LIMIT_REFUSED;
	}
	if (wait < 0) {
		/* The head stays in the input until the token is due. */
		c->req.held = counted;
		c->state = CONN_HELD;
		conn_arm(c, -wait / 1000.0);
		return CONN_LIMIT_HELD;
	}
	return CONN_LIMIT_PASS;
}

/*
 * The local bucket: the rule's own, or for a shared limit without an
 * answer from Redis, this gateway's share of it (rate / --fleet-size).
 */
static enum conn_limit
conn_limit_local(struct conn *c, const struct rule *rule)
{
	struct rule_limit share;
	const struct rule_limit *lim = &rule->limit;

	if (lim->shared) {
		ratelimit_redis_local_limit(lim, conn_cfg(c)->fleet_size,
		    &share);
		lim = &share;
		worker_count_shared_local(c->w);
	}
	c->req.limit_source = "local";
	return conn_limit_apply(c, rule, ratelimit_take(c->w->sl->ratelimit,
	    lim, rule->id, c->client_ip, util_mono_ms()), 1);
}

/* Redis answered, failed or is late: the timer fires now. */
static void
conn_limit_answered(void *arg)
{
	struct conn *c = arg;

	event_active(c->timer, EV_TIMEOUT, 0);
}

/*
 * A shared limit asks Redis; the request waits in CONN_HELD for at most
 * --redis-timeout-ms, without blocking the loop, then the local share
 * decides.
 */
static enum conn_limit
conn_limit(struct conn *c, const struct rule *rule)
{
	struct ratelimit_redis *redis = c->w->redis;
	int64_t wait;

	if (!rule->limit.shared || redis == NULL)
		return conn_limit_local(c, rule);
	switch (ratelimit_redis_take(redis, &rule->limit, rule->id,
	    c->client_ip, conn_limit_answered, c, &c->req.shared, &wait)) {
	case RATELIMIT_REDIS_DECIDED:
		c->req.limit_source = "redis";
		return conn_limit_apply(c, rule, wait, 0);
	case RATELIMIT_REDIS_PENDING:
		c->state = CONN_HELD;
		conn_arm(c, conn_cfg(c)->redis_timeout_ms / 1000.0);
		return CONN_LIMIT_HELD;
	case RATELIMIT_REDIS_LOCAL:
		break;
	}
	return conn_limit_local(c, rule);
}

/* The shared decision a held request waited for, or the local one. */
static enum conn_limit
conn_limit_collect(struct conn *c)
{
	struct conn_req *r = &c->req;
	struct ratelimit_redis_wait *w = r->shared;
	int64_t wait;

	r->shared = NULL;
	if (ratelimit_redis_collect(c->w->redis, w, &wait) ==
	    RATELIMIT_REDIS_LOCAL)
		return conn_limit_local(c, r->rule);
	r->limit_source = "redis";
	return conn_limit_apply(c, r->rule, wait, 0);
}

/*
 * Decide what to do with the request whose head h sits at the start of the
 * client's input.  Returns with the head drained and state EXCHANGE.
 */
static void
conn_dispatch(struct conn *c, const struct http1_head *h, const char *p)
{
	struct conn_req *r = &c->req;
	struct evbuffer *in = bufferevent_get_input(c->cbev);
	const struct rule *rule;
	struct http1_str path;
	char hosthdr[CONFIG_HOST_MAX];

	conn_request_begin(c, h);
	c->state = CONN_EXCHANGE;
	conn_arm(c, conn_cfg(c)->upstream_timeout);

	/*
	 * Host must name what the connection was verified for: the SNI, else
	 * the CONNECT host, else the destination address.  A request the
	 * upstream would route to another name must not ride on this one's
	 * rule and credentials.
	 */
	if (h->host.len > 0) {
		conn_host_from_header(h->host, hosthdr, sizeof(hosthdr));
		if (!util_same_host(hosthdr, c->name)) {
			conn_respond_error(c, 421, "misdirected",
			    c->sni[0] != '\0' ? "Host header does not match "
			    "the TLS server name" : c->connect_mode ? "Host "
			    "header does not match the CONNECT host" : "Host "
			    "header does not match the destination address");
			goto drain;
		}
	}
	if (c->misdirected) {
		conn_respond_error(c, 421, "misdirected",
		    "TLS server name does not match the CONNECT host");
		goto drain;
	}
	if (h->target.p[0] != '/' && !(h->target.len == 1 &&
	    h->target.p[0] == '*')) {
		/* absolute-form could name another host than the one verified */
		conn_respond_error(c, 400, "bad_request",
		    "only origin-form request targets are accepted");
		goto drain;
	}
	if (r->norm == NULL) {
		conn_respond_error(c, 400, "bad_request", "request target has "
		    "a '%' without two hex digits, a '\\', or a '.;' or '..;' "
		    "segment");
		goto drain;
	}

	r->rules = worker_rules(c->w);
	rules_snapshot_ref(r->rules);
	path = conn_target_path((struct http1_str){ r->norm, r->norm_len });
	rule = rules_match_request(r->rules, r->host, c->dst_port, r->method,
	    path.p, path.len);
	r->rule = rule;
	if (rule != NULL)
		r->rule_id = rule->id;
	if (rule == NULL ? conn_cfg(c)->default_deny :
	    rule->action == RULE_DENY) {
		if (conn_deny_stands(c, r->host, r->method, path.p, path.len,
		    r->rule_id)) {
			conn_respond_denied(c, r->rule_id);
			goto drain;
		}
		/* Sent as with no rule: a deny's limit or cache never applies. */
		r->decision = "would_deny";
		r->rule = rule = NULL;
	}
	if (rule != NULL && rule->has_limit) {
		switch (conn_limit(c, rule)) {
		case CONN_LIMIT_PASS:
			break;
		case CONN_LIMIT_REFUSED:
			goto drain;
		case CONN_LIMIT_HELD:
			return;
		}
	}
	if (conn_send(c, h, p, rule) == 1)
		return;
drain:
	evbuffer_drain(in, h->head_len);
}

/*
 * A request that waited (for its rate-limit token, or for an identical
 * request's response to reach the cache) goes on.
 */
static void
conn_resume(struct conn *c)
{
	struct conn_req *r = &c->req;
	struct evbuffer *in = bufferevent_get_input(c->cbev);
	struct http1_head h;
	size_t len = evbuffer_get_length(in);
	enum conn_limit limit = CONN_LIMIT_PASS;
	const char *why;
	char *p;

	if (r->held) {
		ratelimit_held_done(c->w->sl->ratelimit);
		r->held = 0;
	}
	cache_flight_leave(c->w->sl->cache, &c->waiter);
	c->state = CONN_EXCHANGE;
	conn_arm(c, conn_cfg(c)->upstream_timeout);
	if (r->shared != NULL &&
	    (limit = conn_limit_collect(c)) == CONN_LIMIT_HELD)
		return;
	if (len > HTTP1_MAX_HEAD)
		len = HTTP1_MAX_HEAD;
	p = (char *)evbuffer_pullup(in, len);
	/* It parsed before and the buffer only grew. */
	if (http1_parse_request(p, len, &h, &why) != HTTP1_OK) {
		if (limit != CONN_LIMIT_REFUSED)
			conn_respond_error(c, 400, "bad_request", why);
		return;
	}
	if (limit == CONN_LIMIT_REFUSED)
		evbuffer_drain(in, h.head_len);
	else if (conn_send(c, &h, p, r->rule) == 0)
		evbuffer_drain(in, h.head_len);
}

static void
conn_wake(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	if (c->state == CONN_COLLAPSED)
		conn_resume(c);
	conn_run(c);
}

/* Is there a LF without a CR before it at or after offset from? */
static int
conn_has_bare_lf(struct evbuffer *in, size_t from)
{
	struct evbuffer_ptr pos, lf;
	char prev;

	if (evbuffer_ptr_set(in, &pos, from, EVBUFFER_PTR_SET) == -1)
		return 0;
	for (;;) {
		lf = evbuffer_search(in, "\n", 1, &pos);
		if (lf.pos == -1)
			return 0;
		if (lf.pos == 0 ||
		    evbuffer_ptr_set(in, &pos, lf.pos - 1, EVBUFFER_PTR_SET) ==
		    -1 || evbuffer_copyout_from(in, &pos, &prev, 1) != 1 ||
		    prev != '\r')
			return 1;
		if (evbuffer_ptr_set(in, &pos, lf.pos + 1, EVBUFFER_PTR_SET) ==
		    -1)
			return 0;
	}
}

/*
 * Is there a whole head (or more than the limit, or a bare LF that the
 * parser refuses at once) in the buffer?  Remembers how far it looked, so
 * a head arriving in small pieces costs linear time.
 */
static int
conn_head_complete(struct evbuffer *in, size_t *scanned)
{
	size_t len = evbuffer_get_length(in);
	struct evbuffer_ptr start, found;

	if (len >= HTTP1_MAX_HEAD)
		return 1;
	if (evbuffer_ptr_set(in, &start, *scanned > 3 ? *scanned - 3 : 0,
	    EVBUFFER_PTR_SET) == -1)
		return 1;
	found = evbuffer_search(in, "\r\n\r\n", 4, &start);
	if (found.pos != -1 || conn_has_bare_lf(in, *scanned))
		return 1;
	*scanned = len;
	return 0;
}

static int
conn_request_head(struct conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->cbev);
	size_t len = evbuffer_get_length(in);
	struct http1_head h;
	const char *why = "malformed request";
	char *p;

	if (len == 0 || !conn_head_complete(in, &c->head_scanned))
		return 0;
	c->head_scanned = 0;
	if (len > HTTP1_MAX_HEAD)
		len = HTTP1_MAX_HEAD;
	p = (char *)evbuffer_pullup(in, len);
	switch (http1_parse_request(p, len, &h, &why)) {
	case HTTP1_INCOMPLETE:
		return 0;
	case HTTP1_OK:
		conn_dispatch(c, &h, p);
		return 1;
	case HTTP1_ERR_TOO_LARGE:
		memset(&h, 0, sizeof(h));
		conn_request_begin(c, &h);
		c->state = CONN_EXCHANGE;
		conn_respond_error(c, 431, "too_large",
		    "request head larger than 64 KiB");
		return 1;
	case HTTP1_ERR_MALFORMED:
		break;
	}
	memset(&h, 0, sizeof(h));
	conn_request_begin(c, &h);
	c->state = CONN_EXCHANGE;
	conn_respond_error(c, 400, "bad_request", why);
	log_event(LOG_INFO, "malformed_request", "client=%s sni=%s err=%s",
	    c->client_str, c->sni, why);
	return 1;
}

/* ---- streaming ----------------------------------------------------- */

/*
 * Move the bytes of body b from src to dst (NULL: discard), verbatim, until
 * the message ends, src is empty or dst is full.  1 if anything moved, 0 if
 * not, -1 on a framing error.
 */
static int
conn_forward(struct evbuffer *src, struct evbuffer *dst, struct http1_body *b,
    struct cache_fill **fill)
{
	struct evbuffer_iovec v;
	int moved = 0;
	ssize_t n;

	while (!b->done && evbuffer_get_length(src) > 0) {
		if (dst != NULL && evbuffer_get_length(dst) >= CONN_HIGH_WATER)
			break;
		if (evbuffer_peek(src, -1, NULL, &v, 1) < 1)
			break;
		if ((n = http1_body_feed(b, v.iov_base, v.iov_len)) < 0)
			return -1;
		if (n == 0)
			break;
		if (fill != NULL && *fill != NULL &&
		    cache_fill_append(*fill, v.iov_base, n) == -1) {
			cache_fill_abort(*fill);	/* too big: stream only */
			*fill = NULL;
		}
		if (dst != NULL)
			evbuffer_remove_buffer(src, dst, n);
		else
			evbuffer_drain(src, n);
		moved = 1;
	}
	return moved;
}

static void conn_upgrade(struct conn *);
static int conn_upstream_eof(struct conn *);

/*
 * Parse the saved request head (it parsed once; only the copy is new),
 * keyed like the lookup on the target as sent upstream.
 */
static int
conn_cache_request(struct conn *c, struct http1_head *rq)
{
	const char *why;

	if (http1_parse_request(c->req.cache_req, c->req.cache_req_len, rq,
	    &why) != HTTP1_OK)
		return -1;
	rq->target.p = c->req.norm;
	rq->target.len = c->req.norm_len;
	return 0;
}

/* A 304 answered our revalidation: refresh the entry and serve it. */
static void
conn_revalidated(struct conn *c, const struct http1_head *h304)
{
	struct conn_req *r = &c->req;
	struct cache_entry *e = r->cached, *fresh = NULL;
	struct http1_head rq, as200;
	int64_t lifetime = -1, age;

	/* Freshness comes from the 304's fields, read as if it were a 200. */
	as200 = *h304;
	as200.status = 200;
	if (conn_cache_request(c, &rq) == 0)
		lifetime = cache_storable(&rq, &as200, &r->rule->cache,
		    r->client_auth, time(NULL));
	cache_refresh(c->w->sl->cache, e, h304, lifetime > 0 ? lifetime : 0,
	    time(NULL));
	r->cached = NULL;
	/* Serve the refreshed entry (it carries the 304's fields) if it is in. */
	if (lifetime > 0 && cache_lookup(c->w->sl->cache, r->rule->id, r->host,
	    &rq, time(NULL), &fresh, &age) == CACHE_FRESH) {
		cache_entry_unref(e);
		e = fresh;
	} else if (fresh != NULL && fresh != e)
		cache_entry_unref(fresh);
	conn_serve_cached(c, e, 0, "fwd=stale; fwd-status=304");
	/* The upstream answered in full: keep it. */
	r->local = 0;
	r->resp.payload = (uint64_t)r->local_bytes;
	r->local_bytes = 0;
}

/* Start copying this response into the cache, if it may be stored. */
static void
conn_cache_fill(struct conn *c, const struct http1_head *h,
    struct evbuffer *out, size_t before)
{
	struct conn_req *r = &c->req;
	struct evbuffer_ptr pos;
	struct http1_head rq;
	int64_t lifetime;
	size_t len = evbuffer_get_length(out) - before;
	char *head;

	if (r->cached != NULL) {
		cache_entry_unref(r->cached);
		r->cached = NULL;
	}
	if (r->is_head || conn_cache_request(c, &rq) == -1) {
		conn_flight_end(c);
		return;
	}
	lifetime = cache_storable(&rq, h, &r->rule->cache, r->client_auth,
	    time(NULL));
	if (lifetime < 0 || (head = malloc(len)) == NULL) {
		conn_flight_end(c);	/* nothing will be stored to wait for */
		return;
	}
	if (evbuffer_ptr_set(out, &pos, before, EVBUFFER_PTR_SET) == 0 &&
	    evbuffer_copyout_from(out, &pos, head, len) == (ssize_t)len)
		r->fill = cache_fill_new(c->w->sl->cache, r->rule->id, r->host,
		    &rq, h, head, len, lifetime, r->rule->cache.max_bytes,
		    time(NULL));
	free(head);
}

/* 1: a head was handled, 0: need more, -1: the exchange ended badly. */
static int
conn_response_head(struct conn *c)
{
	struct conn_req *r = &c->req;
	struct evbuffer *in = bufferevent_get_input(c->ubev);
	struct evbuffer *out = bufferevent_get_output(c->cbev);
	size_t len = evbuffer_get_length(in);
	struct http1_str method = { r->method, strlen(r->method) };
	struct http1_head h;
	const char *why = "malformed response";
	size_t before;
	char *p;

	if (len == 0)
		return 0;
	if (len > HTTP1_MAX_HEAD)
		len = HTTP1_MAX_HEAD;
	p = (char *)evbuffer_pullup(in, len);
	switch (http1_parse_response(p, len, method, &h, &why)) {
	case HTTP1_INCOMPLETE:
		return 0;
	case HTTP1_OK:
		break;
	default:
		log_event(LOG_WARN, "bad_response", "client=%s upstream=%s "
		    "err=%s", c->client_str, c->server_str, why);
		conn_respond_error(c, 502, "bad_gateway", why);
		return -1;
	}
	if (r->retry_head != NULL) {
		evbuffer_free(r->retry_head);
		r->retry_head = NULL;
	}
	if (h.status == 101 && !conn_upgrade_asked(r, &h)) {
		log_event(LOG_WARN, "bad_response", "client=%s upstream=%s "
		    "err=%s", c->client_str, c->server_str,
		    "101 without a matching upgrade request");
		conn_respond_error(c, 502, "bad_gateway",
		    "upstream switched protocols without being asked");
		return -1;
	}
	if (!r->resp_started)
		worker_count_latency(c->w, util_mono_ms() - r->start_mono);
	r->resp_started = 1;
	if (h.status < 200) {
		conn_write_response_head(&h, p, out, 0);
		if (h.status == 101)
			evbuffer_add(out, "Connection: upgrade\r\n", 21);
		evbuffer_add(out, "\r\n", 2);
		evbuffer_drain(in, h.head_len);
		if (h.status != 101)
			return 1;
		r->status = 101;
		conn_upgrade(c);
		return -1;
	}
	r->status = h.status;
	if (!h.keep_alive)
		r->upstream_keepalive = 0;
	if (h.body == HTTP1_BODY_UNTIL_CLOSE)
		r->client_keepalive = 0;
	if (r->unsafe_target != NULL && h.status >= 200 && h.status < 400)
		cache_invalidate(c->w->sl->cache, r->host,
		    (struct http1_str){ r->unsafe_target,
		    strlen(r->unsafe_target) });
	if (r->cached != NULL && h.status == 304) {
		conn_revalidated(c, &h);
		evbuffer_drain(in, h.head_len);
		r->resp.done = 1;	/* a 304 has no body */
		return 1;
	}
	before = evbuffer_get_length(out);
	conn_write_response_head(&h, p, out, r->cache_req != NULL);
	if (r->cache_req != NULL)
		conn_cache_fill(c, &h, out, before);
	if (r->cache_status != NULL)
		evbuffer_add_printf(out, "Cache-Status: sluice; %s\r\n",
		    r->cache_status);
	if (!r->client_keepalive || c->w->draining)
		evbuffer_add(out, "Connection: close\r\n", 19);
	evbuffer_add(out, "\r\n", 2);
	evbuffer_drain(in, h.head_len);
	http1_body_init(&r->resp, h.body, h.content_length);
	r->resp_state = RESP_BODY;
	if (h.body == HTTP1_BODY_NONE) {
		r->resp.done = 1;
		r->resp_state = RESP_DONE;
		if (r->fill != NULL) {
			cache_fill_commit(r->fill, 0);
			r->fill = NULL;
		}
		conn_flight_end(c);
	}
	return 1;
}

/* A 101: both sides now speak something else; relay it untouched. */
static void
conn_upgrade(struct conn *c)
{
	/* The request's row is written now; the tunnel gets none of its own. */
	conn_request_audit(c);
	c->state = CONN_TUNNEL;
	conn_arm(c, CONN_TUNNEL_IDLE);
}

static int
conn_exchange(struct conn *c)
{
	struct conn_req *r = &c->req;
	struct evbuffer *cin = bufferevent_get_input(c->cbev);
	struct evbuffer *uout = c->ubev ? bufferevent_get_output(c->ubev) : NULL;
	int progress = 0, n;

	if (!r->body.done) {
		n = conn_forward(cin, r->local ? NULL : uout, &r->body, NULL);
		if (n == -1) {
			snprintf(r->error, sizeof(r->error),
			    "malformed chunked request body");
			if (!r->resp_started)
				conn_respond_error(c, 400, "bad_request",
				    r->error);
			else
				r->body.done = 1;
			r->client_keepalive = 0;
			return 1;
		}
		progress |= n;
	}
	while (r->resp_state == RESP_WAIT_HEAD && c->ubev != NULL) {
		n = conn_response_head(c);
		if (n == -1)
			return 1;
		if (n == 0)
			break;
		progress = 1;
	}
	if (r->resp_state == RESP_BODY) {
		n = conn_forward(bufferevent_get_input(c->ubev),
		    bufferevent_get_output(c->cbev), &r->resp, &r->fill);
		if (n == -1) {
			snprintf(r->error, sizeof(r->error),
			    "malformed chunked response body");
			r->resp.done = 1;
			r->client_keepalive = 0;
			r->upstream_keepalive = 0;
		}
		progress |= n != 0;
		if (r->resp.done)
			r->resp_state = RESP_DONE;
		if (r->resp.done && r->fill != NULL && r->error[0] == '\0') {
			cache_fill_commit(r->fill, r->resp.payload);
			r->fill = NULL;
			conn_flight_end(c);
		}
	}
	if (c->ubev_eof && !r->local && r->resp_state != RESP_DONE &&
	    evbuffer_get_length(bufferevent_get_input(c->ubev)) == 0 &&
	    conn_upstream_eof(c) == -1)
		return 1;
	if (r->resp_state == RESP_DONE && !r->body.done && !r->local) {
		/*
		 * Answered before the body ended: neither side can be reused,
		 * and the client gets a lingering close.
		 */
		r->body_cut = 1;
		r->body.done = 1;
		r->client_keepalive = 0;
		r->upstream_keepalive = 0;
	}
	if (r->resp_state == RESP_DONE && r->body.done) {
		conn_request_end(c);
		return 1;
	}
	/*
	 * --upstream-timeout bounds the wait for a response head; a body
	 * streaming either way may pause longer (LLM streams do).
	 */
	if (progress)
		conn_arm(c, r->resp_state == RESP_BODY || !r->body.done ?
		    conn_cfg(c)->stream_idle_timeout :
		    conn_cfg(c)->upstream_timeout);
	return progress;
}

/* Move what src received to dst's output; all of it, or while dst has room. */
static uint64_t
conn_relay(struct bufferevent *src, struct bufferevent *dst, int all)
{
	struct evbuffer *in = bufferevent_get_input(src);
	size_t n = evbuffer_get_length(in);

	if (n == 0 || (!all && !conn_has_room(dst)))
		return 0;
	evbuffer_add_buffer(bufferevent_get_output(dst), in);
	return n;
}

static int
conn_tunnel(struct conn *c)
{
	uint64_t up, down;

	if (c->cbev == NULL || c->ubev == NULL)
		return 0;
	up = conn_relay(c->cbev, c->ubev, 0);
	down = conn_relay(c->ubev, c->cbev, 0);
	c->tunnel_up += up;
	c->tunnel_down += down;
	if (up + down > 0)
		conn_arm(c, CONN_TUNNEL_IDLE);
	return 0;
}

/* One side of a tunnel closed: pass on its last bytes, then close. */
static void
conn_tunnel_end(struct conn *c, struct bufferevent **closed)
{
	struct bufferevent *other = *closed == c->cbev ? c->ubev : c->cbev;
	uint64_t n = other ? conn_relay(*closed, other, 1) : 0;

	if (*closed == c->cbev)
		c->tunnel_up += n;
	else
		c->tunnel_down += n;
	if (*closed == c->ubev)
		upstream_free(c->w, *closed);
	else {
		conn_client_wire(c);
		bufferevent_free(*closed);
	}
	*closed = NULL;
	conn_flush(c);
}

/* ---- closing ------------------------------------------------------- */

static int
conn_output_pending(struct bufferevent *bev)
{
	return bev != NULL &&
	    evbuffer_get_length(bufferevent_get_output(bev)) > 0;
}

/* Stop reading; free once what is queued has been written. */
static void
conn_flush(struct conn *c)
{
	if (c->state != CONN_FLUSH) {
		c->state = CONN_FLUSH;
		conn_arm(c, CONN_FLUSH_SECS);
		if (c->ubev != NULL && c->ubev_reusable && !c->passthrough) {
			upstream_pool_put(c->w, c->ubev,
			    (struct sockaddr *)&c->up_addr, c->up_len, c->name);
			c->ubev = NULL;
		}
	}
	if (!conn_output_pending(c->cbev) && !conn_output_pending(c->ubev))
		conn_kill(c);
}

/* Send close_notify and a FIN: the client may still send, we will not. */
static void
conn_client_shutdown(struct conn *c)
{
	SSL *ssl = bufferevent_openssl_get_ssl(c->cbev);

	if (ssl != NULL && SSL_is_init_finished(ssl) &&
	    !(SSL_get_shutdown(ssl) & SSL_SENT_SHUTDOWN))
		SSL_shutdown(ssl);	/* best effort: the alert is small */
	ERR_clear_error();
	shutdown(bufferevent_getfd(c->cbev), SHUT_WR);
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
static void
conn_linger(struct conn *c)
{
	double left;
	size_t n;

	if (c->state != CONN_LINGER) {
		c->state = CONN_LINGER;
		c->deadline = util_mono_ms() + CONN_LINGER_SECS * 1000.0;
		conn_arm(c, CONN_LINGER_IDLE);
		if (c->ubev != NULL && c->ubev_reusable) {
			upstream_pool_put(c->w, c->ubev,
			    (struct sockaddr *)&c->up_addr, c->up_len, c->name);
			c->ubev = NULL;
		}
		conn_upstream_drop(c);
	}
	if (c->cbev == NULL) {
		conn_kill(c);
		return;
	}
	n = evbuffer_get_length(bufferevent_get_input(c->cbev));
	if (n > 0) {
		evbuffer_drain(bufferevent_get_input(c->cbev), n);
		c->linger_bytes += n;
		left = (c->deadline - util_mono_ms()) / 1000.0;
		if (c->linger_bytes > CONN_LINGER_MAX || left <= 0) {
			conn_kill(c);
			return;
		}
		conn_arm(c, left < CONN_LINGER_IDLE ? left : CONN_LINGER_IDLE);
	}
	if (!c->linger_shut && !conn_output_pending(c->cbev)) {
		conn_client_shutdown(c);
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
conn_client_close(struct conn *c, int cut)
{
	struct linger l = { 1, 0 };

	if (cut || conn_output_pending(c->cbev))
		setsockopt(bufferevent_getfd(c->cbev), SOL_SOCKET, SO_LINGER,
		    &l, sizeof(l));
	else
		conn_client_shutdown(c);
}

/* How a connection that said nothing more specific ended. */
static const char *
conn_end_reason(enum conn_state last)
{
	switch (last) {
	case CONN_CONNECT_HEAD:
	case CONN_RESOLVING:
	case CONN_PEEK:
		return "closed_before_tls";
	case CONN_HANDSHAKE:
		return "handshake_failed";
	case CONN_HELD:
	case CONN_COLLAPSED:
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
conn_audit_connection(struct conn *c)
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
		    conn_end_reason(c->end_state),
	};

	audit_submit_conn(c->w->sl->audit, &rec);
}

static void
conn_free(struct conn *c)
{
	struct worker *w = c->w;
	int cut = c->req.start_ms != 0 && c->req.resp_started;

	if (c->req.held)
		ratelimit_held_done(w->sl->ratelimit);
	cache_flight_leave(w->sl->cache, &c->waiter);
	if (c->waiter.ev != NULL)
		event_free(c->waiter.ev);
	if (c->req.start_ms != 0) {
		if (c->req.error[0] == '\0')
			snprintf(c->req.error, sizeof(c->req.error),
			    "connection closed before the response ended");
		if (c->req.status == 0)
			c->req.decision = "error";
		conn_request_audit(c);
	}
	if (c->passthrough)
		conn_audit_flow(c, "passthrough", NULL, 0, c->passthrough_rule,
		    c->passthrough_note[0] ? c->passthrough_note : NULL);
	if (c->dnsreq != NULL)
		evdns_getaddrinfo_cancel(c->dnsreq);
	upstream_free(w, c->ubev);
	conn_capture_end(c);
	if (c->cbev != NULL) {
		conn_client_close(c, cut);
		conn_client_wire(c);
		bufferevent_free(c->cbev);
	}
	/* After the close, whose close_notify is on the wire too. */
	conn_audit_connection(c);
	if (c->ev != NULL)
		event_free(c->ev);
	if (c->timer != NULL)
		event_free(c->timer);
	if (c->fd != -1)
		close(c->fd);
	TAILQ_REMOVE(&w->conns, c, entry);
	w->nconns--;
	atomic_fetch_sub(&w->sl->nconns, 1);
	free(c);
	worker_conn_closed(w);
}

/* ---- events -------------------------------------------------------- */

static void
conn_set_read(struct bufferevent *bev, int on)
{
	if (bev == NULL)
		return;
	if (on && !(bufferevent_get_enabled(bev) & EV_READ))
		bufferevent_enable(bev, EV_READ);
	else if (!on && (bufferevent_get_enabled(bev) & EV_READ))
		bufferevent_disable(bev, EV_READ);
}

/* The one place that decides which side may read. */
static void
conn_update_events(struct conn *c)
{
	struct conn_req *r = &c->req;
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
	case CONN_HELD:
	case CONN_COLLAPSED:
		uread = 1;
		break;
	case CONN_EXCHANGE:
		cread = r->local ? !r->body.done : conn_has_room(c->ubev);
		uread = conn_has_room(c->cbev);
		break;
	case CONN_TUNNEL:
		cread = conn_has_room(c->ubev);
		uread = conn_has_room(c->cbev);
		break;
	case CONN_LINGER:
		cread = 1;
		break;
	default:
		break;
	}
	conn_set_read(c->cbev, cread);
	conn_set_read(c->ubev, uread && !c->ubev_eof);
}

static void
conn_pump(struct conn *c)
{
	int progress;

	do {
		switch (c->state) {
		case CONN_REQ_HEAD:
			progress = conn_request_head(c);
			break;
		case CONN_EXCHANGE:
			progress = conn_exchange(c);
			break;
		case CONN_TUNNEL:
			progress = conn_tunnel(c);
			break;
		case CONN_FLUSH:
			conn_flush(c);
			progress = 0;
			break;
		case CONN_LINGER:
			conn_linger(c);
			progress = 0;
			break;
		default:
			progress = 0;
			break;
		}
	} while (progress > 0 && c->state != CONN_DEAD);
}

static void
conn_run(struct conn *c)
{
	if (c->state != CONN_DEAD)
		conn_pump(c);
	/* A response no longer in flight cannot continue a secret. */
	if (c->cap != NULL)
		capture_flush(c->cap, c->req.start_ms == 0 ||
		    c->req.resp_state == RESP_DONE);
	if (c->state == CONN_DEAD)
		conn_free(c);
	else
		conn_update_events(c);
}

static void
conn_client_read(struct bufferevent *bev, void *arg)
{
	conn_run(arg);
}

static void
conn_client_write(struct bufferevent *bev, void *arg)
{
	conn_run(arg);
}

static void
conn_upstream_read(struct bufferevent *bev, void *arg)
{
	conn_run(arg);
}

/*
 * A refused ALPN list is a client that cannot work through sluice at all, so
 * the operator sees it (warning and audit row); other failures (a scanner,
 * a client that does not trust the CA and says so with an alert) are logged
 * with OpenSSL's reason at debug level.
 */
static void
conn_handshake_failed(struct conn *c)
{
	SSL *ssl = bufferevent_openssl_get_ssl(c->cbev);
	const char *alpn = ssl != NULL ? tls_alpn_refused(ssl) : NULL;
	unsigned long e = bufferevent_get_openssl_error(c->cbev);
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
	worker_count_tls_failure(c->w, WORKER_LEG_CLIENT, alpn != NULL ?
	    WORKER_TLS_ALPN : e != 0 ? WORKER_TLS_PROTOCOL : WORKER_TLS_CLOSED);
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
	audit_submit(c->w->sl->audit, &rec);
	worker_count_request(c->w, "error", 0, -1, NULL);
}

/* The client leg for the connections row, once its handshake is done. */
static void
conn_note_client_tls(struct conn *c, SSL *ssl)
{
	const unsigned char *alpn;
	unsigned len;

	if (ssl == NULL)
		return;
	worker_count_handshake(c->w, WORKER_LEG_CLIENT);
	c->tls_version = SSL_get_version(ssl);
	c->cipher = SSL_get_cipher_name(ssl);
	SSL_get0_alpn_selected(ssl, &alpn, &len);
	snprintf(c->alpn, sizeof(c->alpn), "%.*s", (int)len,
	    alpn != NULL ? (const char *)alpn : "");
}

static void
conn_client_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;

	if (what & BEV_EVENT_CONNECTED) {
		if (c->state == CONN_HANDSHAKE) {
			conn_note_client_tls(c, bufferevent_openssl_get_ssl(bev));
			c->state = CONN_REQ_HEAD;
			conn_arm(c, conn_cfg(c)->idle_timeout);
		}
	} else if (c->state == CONN_HANDSHAKE) {
		conn_handshake_failed(c);
		conn_kill(c);
	} else if (c->state == CONN_TUNNEL) {
		conn_tunnel_end(c, &c->cbev);
	} else {
		if (c->state == CONN_EXCHANGE && c->req.error[0] == '\0')
			snprintf(c->req.error, sizeof(c->req.error),
			    "client closed the connection");
		ERR_clear_error();
		conn_client_wire(c);
		bufferevent_free(c->cbev);
		c->cbev = NULL;
		conn_kill(c);
	}
	conn_run(c);
}

/* Retry a request on a fresh connection when a pooled one was stale. */
static int
conn_retry(struct conn *c)
{
	struct conn_req *r = &c->req;
	struct evbuffer *head = r->retry_head;

	if (!c->ubev_reused || head == NULL || r->resp_started)
		return -1;
	r->retry_head = NULL;
	conn_upstream_drop(c);
	if (conn_upstream_attach(c) == -1) {
		evbuffer_free(head);
		return -1;
	}
	evbuffer_add_buffer(bufferevent_get_output(c->ubev), head);
	evbuffer_free(head);
	return 0;
}

/*
 * The upstream failed before the response ended.  err: errno as the event
 * callback found it (0 once the connection was up).
 */
static void
conn_upstream_failed(struct conn *c, int err)
{
	struct conn_req *r = &c->req;
	SSL *ssl = bufferevent_openssl_get_ssl(c->ubev);
	const char *verr = ssl ? tls_verify_error(ssl) : NULL;
	int reset = c->ubev_close == UPSTREAM_CLOSE_RESET;
	const char *cerr;
	char why[160];
	int n;

	if (c->ubev_connected && r->resp_state == RESP_BODY &&
	    r->resp.kind == HTTP1_BODY_UNTIL_CLOSE)
		snprintf(why, sizeof(why), "upstream %s; response truncated",
		    reset ? "reset the connection" :
		    "closed without close_notify");
	else if (c->ubev_connected)
		snprintf(why, sizeof(why),
		    "upstream %s the connection before the response ended",
		    reset ? "reset" : "closed");
	else if (verr != NULL) {
		worker_count_tls_failure(c->w, WORKER_LEG_UPSTREAM,
		    WORKER_TLS_VERIFY);
		conn_note_upstream(c, ssl);
		snprintf(why, sizeof(why),
		    "upstream certificate verification failed: %s", verr);
	} else if ((cerr = upstream_connect_error(c->ubev, err)) != NULL) {
		/* "connection refused": strerror's capital mid-sentence */
		n = snprintf(why, sizeof(why), "cannot connect to upstream: ");
		snprintf(why + n, sizeof(why) - n, "%s", cerr);
		why[n] = (char)tolower((unsigned char)why[n]);
	} else {
		worker_count_tls_failure(c->w, WORKER_LEG_UPSTREAM,
		    bufferevent_get_openssl_error(c->ubev) != 0 ?
		    WORKER_TLS_PROTOCOL : WORKER_TLS_CLOSED);
		snprintf(why, sizeof(why), "upstream TLS handshake failed");
	}
	ERR_clear_error();

	if (r->resp_state == RESP_WAIT_HEAD && conn_retry(c) == 0)
		return;
	if (!r->resp_started) {
		if (verr != NULL && !c->ubev_connected)
			log_event(LOG_WARN, "upstream_verify_failed",
			    "client=%s sni=%s host=%s upstream=%s err=%s",
			    c->client_str, c->sni, c->name, c->server_str,
			    verr);
		else
			log_event(LOG_WARN, "upstream_failed", "client=%s "
			    "sni=%s upstream=%s err=%s", c->client_str, c->sni,
			    c->server_str, why);
		conn_respond_error(c, 502, "bad_gateway", why);
		return;
	}
	/*
	 * Part of the response went out: all we can do is cut it short, and
	 * conn_free() resets the client's connection so that it shows.
	 */
	snprintf(r->error, sizeof(r->error), "%s", why);
	r->decision = "error";
	conn_upstream_drop(c);
	r->client_keepalive = 0;
	conn_flush(c);
}

/*
 * The upstream closed and everything it sent has been forwarded: that ends
 * a read-until-close body, if the close came with close_notify (without
 * it, or with a reset, the body may have been cut: RFC 9112 9.8); anything
 * else is a failure.  -1 if it failed.
 */
static int
conn_upstream_eof(struct conn *c)
{
	struct conn_req *r = &c->req;

	if (r->resp_state == RESP_BODY && c->ubev_close == UPSTREAM_CLOSE_CLEAN
	    && http1_body_eof(&r->resp) == 0) {
		r->resp_state = RESP_DONE;
		r->upstream_keepalive = 0;
		return 0;
	}
	conn_upstream_failed(c, 0);
	return -1;
}

static void
conn_upstream_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	int err = EVUTIL_SOCKET_ERROR();

	if (what & BEV_EVENT_CONNECTED) {
		c->ubev_connected = 1;
		if (bufferevent_openssl_get_ssl(bev) != NULL)
			worker_count_handshake(c->w, WORKER_LEG_UPSTREAM);
	} else if (c->state == CONN_TUNNEL) {
		conn_tunnel_end(c, &c->ubev);
	} else if (c->state == CONN_EXCHANGE && !c->req.local &&
	    c->ubev_connected) {
		/*
		 * A close (clean, dirty or reset) or an error.  What was read
		 * with it reaches the input only after this callback returns,
		 * so conn_exchange() judges the end from a deferred read
		 * callback, once it has forwarded what is left.
		 */
		c->ubev_eof = 1;
		c->ubev_close = upstream_close_kind(bev, err);
		ERR_clear_error();
		bufferevent_trigger(bev, EV_READ, BEV_TRIG_IGNORE_WATERMARKS |
		    BEV_TRIG_DEFER_CALLBACKS);
		return;
	} else if (c->state == CONN_EXCHANGE && !c->req.local) {
		conn_upstream_failed(c, err);
	} else {
		conn_upstream_drop(c);
	}
	conn_run(c);
}

static void
conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	struct conn_req *r = &c->req;
	char why[CONFIG_HOST_MAX + 40];

	switch (c->state) {
	case CONN_CONNECT_HEAD:
	case CONN_PEEK:
		conn_kill(c);		/* the handshake timeout */
		break;
	case CONN_RESOLVING:
		if (c->dnsreq != NULL)
			evdns_getaddrinfo_cancel(c->dnsreq);
		c->dnsreq = NULL;
		if (c->connect_mode)
			conn_connect_fail(c, 504, "error", -1,
			    "resolving the CONNECT host timed out");
		else {
			snprintf(why, sizeof(why), "passthrough: %s: resolving "
			    "timed out", c->sni);
			conn_refuse(c, c->passthrough_rule, why);
		}
		break;
	case CONN_HELD:
	case CONN_COLLAPSED:
		conn_resume(c);
		break;
	case CONN_EXCHANGE:
		if (!r->body.done && !r->resp_started) {
			conn_respond_error(c, 408, "timeout",
			    "client sent no request body for too long");
		} else if (!r->resp_started) {
			log_event(LOG_WARN, "upstream_timeout", "client=%s "
			    "sni=%s upstream=%s", c->client_str, c->sni,
			    c->server_str);
			conn_respond_error(c, 504, "gateway_timeout",
			    "upstream timed out");
		} else {
			/* conn_free() resets the client: the body was cut. */
			if (r->resp_state == RESP_WAIT_HEAD && r->body.done)
				snprintf(r->error, sizeof(r->error),
				    "upstream timed out");	/* after a 1xx */
			else
				snprintf(r->error, sizeof(r->error),
				    "stream idle for %d s",
				    conn_cfg(c)->stream_idle_timeout);
			r->decision = "error";
			r->client_keepalive = 0;
			conn_kill(c);
		}
		break;
	default:
		conn_kill(c);
		break;
	}
	conn_run(c);
}

/* ---- draining ------------------------------------------------------ */

void
conn_close_idle(struct worker *w)
{
	struct conn *c, *next;

	for (c = TAILQ_FIRST(&w->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (c->state != CONN_EXCHANGE && c->state != CONN_TUNNEL &&
		    c->state != CONN_FLUSH && c->state != CONN_LINGER &&
		    c->state != CONN_HELD &&
		    c->state != CONN_COLLAPSED &&
		    !(c->state == CONN_REQ_HEAD && c->cbev != NULL &&
		    evbuffer_get_length(bufferevent_get_input(c->cbev)) > 0)) {
			c->end_reason = "shutdown";
			conn_kill(c);
			conn_run(c);
		}
	}
}

void
conn_close_all(struct worker *w)
{
	struct conn *c;

	while ((c = TAILQ_FIRST(&w->conns)) != NULL) {
		if (c->req.error[0] == '\0')
			snprintf(c->req.error, sizeof(c->req.error),
			    "shutdown");
		c->end_reason = "shutdown";
		conn_kill(c);
		conn_run(c);
	}
}
