/*
 * datapath.h - what the files of the data path share: one client
 * connection (struct conn), the requests in flight on it (struct
 * exchange, each with its upstream leg, struct upleg), the client codec's
 * ops (struct front_codec), and the functions each file offers the
 * others.  What concerns a request takes struct exchange *; what concerns
 * the connection, struct conn *.
 *
 *   front.c      the client connection: accept, events, closing, the
 *                connections row
 *   front_h1.c   its HTTP/1 codec, server side: heads and bodies in,
 *                responses out
 *   front_h2.c   its HTTP/2 codec (on h2codec.c): each stream an exchange
 *   intercept.c  what a new connection is: CONNECT head, DNS, ClientHello
 *                peek, then passthrough or TLS
 *   exchange.c   one request's life: head, body, response, audit row
 *   policy.c     rules, the Host binding, report-only, rate limits
 *   lookup.c     the cache step: hit, collapse, revalidation, fill
 *   upleg.c      the upstream leg: attach, send, failures, retry
 *   tunnel.c     raw relays: passthrough, and after a 101
 *   extconnect.c an HTTP/2 stream's WebSocket (RFC 8441) as an HTTP/1.1
 *                upgrade upstream
 *   respond.c    sluice's own answers (403, 429, 4xx/5xx errors)
 */
#ifndef SLUICE_DATAPATH_H
#define SLUICE_DATAPATH_H

#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <event2/util.h>
#include <openssl/ssl.h>

#include "authority.h"
#include "cache.h"
#include "config.h"
#include "counters.h"
#include "dpenv.h"
#include "h1codec.h"
#include "http1.h"
#include "msg.h"
#include "sock.h"
#include "upstream.h"
#include "wskey.h"

struct evbuffer;
struct front_h2_stream;
struct front_h2;
struct h2up;
struct h2up_dial;
struct mask_stream;
struct upleg_h2_wait;
struct rule;

#define CONN_HIGH_WATER		(256 * 1024)
#define CONN_DISCARD_MAX	(1024 * 1024)	/* body we read to keep a connection */
#define CONN_TUNNEL_IDLE	600		/* seconds: a passthrough's */
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
	CONN_EXCHANGE,		/* a request is in flight: its state says where */
	CONN_TUNNEL,		/* raw relay: passthrough, or after a 101 */
	CONN_FLUSH,		/* writing what is left, then freed */
	CONN_LINGER,		/* answered; dropping the rest of the body */
	CONN_DEAD,		/* transient: freed when the callback returns */
};

/*
 * One request's life.  The state says what the exchange waits for; each
 * has its invariants, which exchange_assert() checks in debug builds.
 *
 *   HEAD -> POLICY -+-> HELD ------+        (token due, Redis answered)
 *                   +-> COLLAPSED -+        (the identical miss ended)
 *                   |              v
 *                   +-------> POLICY again -+-> UPSTREAM -> RESPONSE -> DONE
 *                   |                       |                 ^
 *                   +-----------------------+-----------------+
 *                     sluice's own answer, or a cache hit: DONE at once
 */
enum exchange_state {
	EX_HEAD = 0,		/* not begun: a zeroed exchange */
	EX_POLICY,		/* head parsed; rules, limits and the cache decide */
	EX_HELD,		/* waits for a rate-limit token or shared decision */
	EX_COLLAPSED,		/* waits for an identical miss to reach the cache */
	EX_UPSTREAM,		/* sent upstream; waits for the response head */
	EX_RESPONSE,		/* the upstream's body streams to the client */
	EX_DONE,		/* the response is complete (the request body may
				   still be ending) */
};

/*
 * An exchange's upstream leg: a connection to the verified destination,
 * the one the connection kept from its last exchange, a pooled one or a
 * new one (upleg.c).  When the exchange ends it goes back to the
 * connection (HTTP/1 keep-alive) or the pool, or is closed.
 */
struct upleg {
	struct sock	*sock;			/* NULL: none */
	int		 connected;
	int		 reused;		/* carried a previous request */
	int		 reusable;		/* idle and fit for another */
	int		 eof;			/* the upstream closed its side */
	enum upstream_close close;		/* how, once eof */
	char		*retry_head;		/* head, while a retry is possible */
	size_t		 retry_len;
	/*
	 * A connection dialed offering h2 and http/1.1: the request waits
	 * for the handshake to say which (upleg_h2.c).
	 */
	int		 dialing;
	const struct rule *rule;		/* whose credentials it carries */
	const char	*extra;			/* the stale entry's validators
						   (r->cached's), or NULL */
	/*
	 * When the leg is a stream on a shared HTTP/2 connection (upleg_h2.c)
	 * rather than a sock of its own.  h2 is NULL once the stream closed.
	 */
	int		 is_h2;
	int		 h2_retried;		/* REFUSED_STREAM: sent again once */
	int		 h2_ended;		/* the response's END_STREAM came */
	int		 h2_body_end;		/* the request ended: send it */
	struct h2up	*h2;
	int32_t		 h2_id;
	struct evbuffer	*h2_in;			/* response data the client's
						   codec has not taken */
	struct evbuffer	*h2_out;		/* request data h2up has not */
	struct msg	*h2_req_trailers;	/* until h2_out is empty */
	struct msg	*h2_resp_trailers;	/* until h2_in is */
	/*
	 * The dial offering h2 this leg makes, which others may wait for;
	 * or the one it waits for (is_h2 and dialing, no sock, no stream
	 * yet), once only.
	 */
	struct h2up_dial *h2_dial;
	struct upleg_h2_wait *h2_wait;
	int		 h2_waited;
};

struct exchange {
	struct conn	*c;			/* the client connection it is on */
	TAILQ_ENTRY(exchange) entry;		/* in c->exs */
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
	/*
	 * The request as parsed and checked, without hop-by-hop fields or
	 * credentials: what policy, the cache and the upstream leg work
	 * from.  The wire head is gone from the input once this is built.
	 */
	struct msg	 req;
	int		 minor;			/* the client's HTTP/1.<minor> */
	int		 is_head;
	int		 expect_continue;
	int		 client_keepalive;
	int		 upstream_keepalive;
	int64_t		 rule_id;		/* -1: none */
	struct rules_snapshot *rules;
	struct http1_body body;			/* client -> upstream */
	struct http1_body resp;			/* upstream -> client */
	int		 client_minor;		/* the client's HTTP/1.<minor> */
	int		 body_chunked;		/* each body written in sluice's */
	int		 resp_chunked;		/* chunks, with the trailers */
	struct h1codec_trailers body_trailers;	/* as far as they came */
	struct h1codec_trailers resp_trailers;
	enum exchange_state state;
	int		 local;			/* sluice answered itself */
	int64_t		 local_bytes;		/* body bytes of that answer */
	int		 resp_started;		/* a byte of a response went out */
	int		 body_cut;		/* answered before the body ended */
	int		 used_upstream;		/* attached an upstream leg */
	struct upleg	 up;
	int		 held;			/* owes ratelimit_held_done() */
	struct ratelimit_redis_wait *shared;	/* a shared decision asked */
	const char	*limit_source;		/* "redis", "local" or NULL */
	const char	*upstream_proto;	/* upstream_proto() of the leg
						   once connected; NULL: none */
	const struct rule *rule;		/* in rules, or NULL */
	const struct rule *limit_rule;		/* whose limit it spends, or
						   NULL (policy_limit_rule) */
	/* caching */
	const char	*cache_status;		/* Cache-Status detail, or NULL */
	int		 client_auth;		/* client's own Authorization
						   or Cookie went */
	struct cache_entry *cached;		/* stale entry being revalidated */
	struct cache_fill *fill;		/* response being copied */
	struct mask_stream *mask;		/* the response body on its way
						   to the client, when rule
						   injects (exchange.c) */
	struct cache_flight *flight;		/* we fetch for waiting requests */
	struct cache_waiter waiter;		/* while EX_COLLAPSED */
	int		 collapsed;		/* waited once already */
	char		*unsafe_target;		/* POST/PUT/PATCH/DELETE target */
	char		*upgrade;		/* the Upgrade the request asked for;
						   once tunneled, the protocol the
						   101 switched to, lowercased */
	/*
	 * A 101 made this exchange a tunnel: its row is written when the
	 * tunnel ends (tunnel_audit()), with the bytes that crossed it.
	 */
	int		 tunneled;
	/*
	 * An extended CONNECT (RFC 8441, extconnect.c): the upstream's 101
	 * must carry this Sec-WebSocket-Accept.  Empty for other requests.
	 */
	char		 ws_accept[WSKEY_ACCEPT_SIZE];
	int		 fillable;		/* a cache rule's miss or stale
						   entry went upstream */
	char		 injected[256];		/* names of injected credentials */
	int		 status;
	const char	*decision;
	char		 error[160];
	/*
	 * A multiplexing codec's exchange (HTTP/2) has its own deadline; one
	 * at a time (HTTP/1) uses the connection's timer.  Made when first
	 * armed.
	 */
	struct event	*timer;
	struct front_h2_stream *h2;		/* its HTTP/2 stream, or NULL */
};

struct conn {
	TAILQ_ENTRY(conn) entry;
	const struct dp_env *env;		/* its worker's, read-only */
	enum conn_state	 state;
	int		 fd;			/* until a sock owns it */
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
	char		 authority[AUTHORITY_MAX]; /* name[:dst_port], sent
						   upstream as the Host */

	struct event	*ev;			/* raw fd reads before TLS */
	struct event	*timer;
	double		 deadline;		/* PEEK: monotonic ms */
	struct evdns_getaddrinfo_request *dnsreq;
	int		 dns_sync;		/* inside evdns_getaddrinfo() */

	struct sock	*csock;			/* client side */
	const struct front_codec *codec;	/* its codec, server side */
	struct front_h2	*h2;			/* front_h2.c's, when ALPN chose h2 */
	struct capture_conn *cap;		/* --pcap: csock's bytes */
	struct upleg	 idle;			/* kept from the last exchange
						   for the next (keep-alive) */
	struct sock	*tsock;			/* a tunnel's upstream side */
	int		 tsock_connected;

	/*
	 * The requests in flight, oldest first: HTTP/1 has at most one.
	 * HTTP/1 frees none but keeps the last one for the next request.
	 */
	TAILQ_HEAD(, exchange) exs;
	struct exchange	*spare;
	size_t		 head_scanned;		/* request head bytes without its end */
	int		 passthrough;		/* audit the tunnel at close */
	int64_t		 passthrough_rule;
	char		 passthrough_note[CONFIG_HOST_MAX + 200]; /* redirected */
	int64_t		 start_ms;
	double		 start_mono;
	uint64_t	 tunnel_up, tunnel_down;
	struct tunnel_splice *splice;		/* spliced passthrough */
	uint64_t	 linger_bytes;		/* dropped while lingering */
	int		 linger_shut;		/* close_notify + FIN sent */

	/* the connections row, written by front_free() */
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
	enum conn_state	 end_state;		/* the state front_kill() ended */
};

/*
 * The client connection's codec, server side: how an exchange's response
 * reaches its client.  The exchange never writes the client's bytes
 * itself: it hands the codec a message, body data and the end, and asks
 * it for room.  HTTP/1 (front_h1.c) writes them on the connection, one
 * exchange at a time; an HTTP/2 codec writes them on the exchange's
 * stream.
 */
struct front_codec {
	/*
	 * Between requests: start an exchange for a request head that
	 * came.  1 if one began (or the connection ended), 0: need more.
	 */
	int	(*read_head)(struct conn *c);
	/*
	 * The response head m (a 1xx too).  FRONT_UNTIL_CLOSE: the body
	 * ends when the upstream closes, the length unknown until then.
	 * -1 if it cannot be written (no memory, codings it cannot frame).
	 */
	int	(*write_head)(struct exchange *r, const struct msg *m, int flags);
	/* Move n bytes of body data from src.  -1 without memory. */
	int	(*write_body)(struct exchange *r, struct evbuffer *src, size_t n);
	/* The body ended, with trailers t (their fields), or NULL: none. */
	int	(*write_end)(struct exchange *r, const struct msg *t);
	/* May more body be written now?  0: wait (backpressure). */
	int	(*room)(struct exchange *r);
	/*
	 * Hand what came of r's request body to the exchange, as
	 * exchange_body_room() allows: exchange_body_data(), then
	 * exchange_body_end() with the trailers.  1 if anything moved, 0 if
	 * not, -1 if the body is malformed.
	 */
	int	(*read_body)(struct exchange *r);
	/*
	 * The response cannot be finished: what was queued goes, then the
	 * client is shown the cut (HTTP/1: a reset connection; HTTP/2:
	 * RST_STREAM on its stream).
	 */
	void	(*reset)(struct exchange *r);
	/*
	 * r is complete (its upstream leg kept or closed): audit and free it
	 * (exchange_audit()), then decide what the connection does next
	 * (HTTP/1: the next head, a lingering close or the flush).
	 */
	void	(*finish)(struct exchange *r);
	/* r is being freed (exchange_audit()): let go of it. */
	void	(*release)(struct exchange *r);
	/*
	 * After every step: write what the codec holds for the connection
	 * (HTTP/2's frames).  1 if anything was written.
	 */
	int	(*output)(struct conn *c);
	/*
	 * Reload or shutdown: take no new request, close once the ones in
	 * flight ended.  NULL: front_close_idle() closes the connection
	 * between requests (HTTP/1).
	 */
	void	(*drain)(struct conn *c);
	/* The connection is freed, after its exchanges. */
	void	(*free)(struct conn *c);
	/*
	 * Many exchanges at once (HTTP/2): read_head runs while others are
	 * in flight, each exchange has its own timer, and the client is
	 * always read (each stream's flow control bounds it).
	 */
	int	multiplexed;
};

#define FRONT_UNTIL_CLOSE	0x1

extern const struct front_codec front_h1;
extern const struct front_codec front_h2;

enum policy_limit {
	POLICY_LIMIT_PASS = 0,	/* go on */
	POLICY_LIMIT_REFUSED,	/* answered 429 */
	POLICY_LIMIT_HELD,	/* EX_HELD until the timer: a token is due,
				   or a shared decision comes or is late */
};

/* front.c */
const struct config *front_cfg(struct conn *c);
void front_timer_add(struct event *ev, double secs);
void front_arm(struct conn *c, double secs);
void front_kill(struct conn *c);
void front_client_wire(struct conn *c);
const char *front_proto(const struct exchange *r);
int front_has_room(struct sock *s);
void front_sock_watch(struct sock *s, sock_data_cb *io,
    sock_event_cb *event, void *arg);
void front_sock_setup(struct conn *c);
void front_capture_start(struct conn *c);
void front_flush(struct conn *c);
void front_linger(struct conn *c);
void front_free(struct conn *c);
void front_run(struct conn *c);

/* intercept.c */
void intercept_audit_flow(struct conn *c, const char *decision, const char *method,
    int status, int64_t rule_id, const char *error);
void intercept_connect_fail(struct conn *c, int status, const char *decision,
    int64_t rule_id, const char *why);
void intercept_refuse(struct conn *c, int64_t rule_id, const char *why);
void intercept_read_connect(struct conn *c);
void intercept_peek(struct conn *c);

/* tunnel.c */
void tunnel_sock_setup(struct conn *c);
void tunnel_start(struct conn *c, int64_t rule_id);
void tunnel_upgrade(struct conn *c, struct exchange *r);
void tunnel_timeout(struct conn *c);
void tunnel_audit(struct conn *c);
int tunnel_pump(struct conn *c);
void tunnel_end(struct conn *c, struct sock **closed);
void tunnel_free(struct conn *c);

/* front_h2.c */
int front_h2_start(struct conn *c);

/* exchange.c */
struct exchange *exchange_begin(struct conn *c, const struct http1_head *h);
struct exchange *exchange_begin_msg(struct conn *c, struct msg *req);
void exchange_arm(struct exchange *r, double secs);
void exchange_fire(struct exchange *r);
void exchange_audit(struct exchange *r);
void exchange_resume(struct exchange *r);
void exchange_wake(void *arg);
void exchange_timeout(struct exchange *r);
int exchange_pump(struct exchange *r);
int exchange_body_room(struct exchange *r);
int exchange_body_data(struct exchange *r, struct evbuffer *src, size_t n);
int exchange_body_end(struct exchange *r, const struct msg *trailers);
int exchange_waits(const struct exchange *r);
#ifdef SLUICE_DEBUG
void exchange_assert(const struct conn *c);
#else
#define exchange_assert(c)	((void)0)
#endif

/* policy.c */
int policy_deny_stands(struct conn *c, const char *host, const char *method,
    const char *path, size_t pathlen, int64_t rule_id);
enum policy_limit policy_limit(struct exchange *r, const struct rule *rule);
enum policy_limit policy_limit_collect(struct exchange *r);
void policy_dispatch(struct exchange *r, const struct http1_head *h,
    const char *p);
void policy_dispatch_msg(struct exchange *r);
void policy_decide(struct exchange *r);

/* extconnect.c */
int extconnect_request(struct exchange *r);
int extconnect_response(struct exchange *r, const struct http1_head *h,
    const char *p, struct msg *m, const char **why);

/* lookup.c */
void lookup_flight_end(struct exchange *r);
int lookup_send(struct exchange *r, const struct rule *rule);
int lookup_hit(struct exchange *r, const struct rule *rule);
void lookup_revalidated(struct exchange *r, const struct http1_head *h304);
int lookup_serve_stale(struct exchange *r, int status);
void lookup_fill(struct exchange *r, const struct http1_head *h);

/* respond.c */
void respond_json_str(struct evbuffer *out, const char *s);
void respond_error(struct exchange *r, int status, const char *code,
    const char *why);
void respond_denied(struct exchange *r, int64_t rule_id);
void respond_limited(struct exchange *r, const struct rule *rule,
    int64_t wait_ms);
void respond_not_cached(struct exchange *r);

/* upleg.c */
void upleg_drop(struct exchange *r);
void upleg_end(struct exchange *r);
struct sock *upleg_take(struct exchange *r);
void upleg_idle_release(struct conn *c);
void upleg_note(struct conn *c, SSL *ssl);
void upleg_note_first(struct exchange *r);
void upleg_send_request(struct exchange *r, const struct rule *rule,
    const char *extra);
void upleg_retry_drop(struct exchange *r);
int upleg_eof(struct exchange *r);

/* upleg_h2.c */
int upleg_h2_wanted(const struct exchange *r);
int upleg_h2_find(struct exchange *r);
int upleg_h2_wait(struct exchange *r);
void upleg_h2_dial(struct exchange *r);
int upleg_h2_connected(struct exchange *r);
int upleg_h2_open(struct exchange *r);
void upleg_h2_drop(struct exchange *r);
int upleg_h2_body_room(struct exchange *r);
int upleg_h2_body_data(struct exchange *r, struct evbuffer *src, size_t n);
int upleg_h2_body_end(struct exchange *r, const struct msg *trailers);
int upleg_h2_forward(struct exchange *r);

/* exchange.c, for upleg_h2.c (and the body for lookup.c) */
int exchange_response_msg(struct exchange *r, struct msg *m);
void exchange_fill_append(struct exchange *r, const void *p, size_t n);
int exchange_write_body(struct exchange *r, struct evbuffer *src, size_t n);
int exchange_write_end(struct exchange *r, struct msg *trailers);

#endif
