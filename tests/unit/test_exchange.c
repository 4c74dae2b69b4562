/*
 * test_exchange.c - the exchange state machine, driven by real requests.
 *
 * The test process builds what main() builds (certforge, both SSL_CTXs,
 * rules, audit, rate limits, cache) and runs one worker with a --connect
 * listener on 127.0.0.1; its own upstream is a blocking OpenSSL server on
 * 127.0.0.1, one thread per connection, with a certificate from a second
 * CA that sluice trusts through --upstream-ca.  The test thread is the
 * client: CONNECT, TLS trusting sluice's CA, then requests.  No namespaces,
 * no netfilter: loopback only.
 *
 * The build has --enable-debug (tools/test), so exchange_assert() checks
 * every state's invariants after each step of a connection and aborts the
 * program when a transition is wrong; the checks here are what a client,
 * the worker's counters and the audit rows show of each path:
 *
 *   keep-alive     UPSTREAM -> RESPONSE -> DONE -> HEAD, on one upstream
 *                  connection; UPSTREAM -> DONE for a 204 and a HEAD; the
 *                  leg goes to the pool when sluice closes the client,
 *                  and the next client takes it
 *   denied         POLICY -> DONE (403), the connection kept; a POST
 *                  denied before its body came is DONE while the body
 *                  is read and dropped, then the connection goes on
 *   rate limit     POLICY -> HELD -> POLICY -> UPSTREAM, and a 429
 *   collapse       one leads (UPSTREAM), one waits COLLAPSED, then a hit
 *   upstream cut   RESPONSE, then a reset for the client; refused: 502
 *   retry          UPSTREAM on a kept connection that closes, UPSTREAM
 *                  again on another
 *   malformed      400 and a close; the next connection is served
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <sqlite3.h>

#include "audit.h"
#include "cache.h"
#include "certforge.h"
#include "config.h"
#include "log.h"
#include "ratelimit.h"
#include "rules.h"
#include "tls.h"
#include "util.h"
#include "worker.h"
#include "unit.h"

#define UP_MAX_CONNS	64
#define SLOW_MS		500	/* the upstream's delay for /cached/slow */
#define CUT_LEN		1000	/* /cut announces this, sends a tenth */
#define NO_CONTENT	"HTTP/1.1 204 No Content\r\n\r\n"

static char tmpdir[] = "/tmp/test_exchange.XXXXXX";
static char ca_crt[256], ca_key[256], up_ca_crt[256], up_ca_key[256];
static char rules_path[256], audit_path[256];

/* --- the upstream: blocking OpenSSL, a thread per connection ------------- */

static struct {
	int		 fd;
	int		 port;
	int		 stop[2];		/* a pipe: the accept loop ends */
	SSL_CTX		*ctx;
	struct certforge *cf;
	X509		*cert;
	pthread_t	 thread;
	pthread_mutex_t	 mu;
	pthread_t	 conns[UP_MAX_CONNS];
	int		 nconns;		/* connections accepted */
	int		 slow_hits;		/* requests for /cached/slow */
	int		 requests;
} up = { .mu = PTHREAD_MUTEX_INITIALIZER };

static int
up_write(SSL *ssl, const char *s, size_t len)
{
	return SSL_write(ssl, s, (int)len) == (int)len ? 0 : -1;
}

/* Answer one request for path; -1 when the connection must end. */
static int
up_answer(SSL *ssl, const char *method, const char *path, size_t reqbody)
{
	char head[512], body[256];
	int blen;

	pthread_mutex_lock(&up.mu);
	up.requests++;
	if (strcmp(path, "/cached/slow") == 0)
		up.slow_hits++;
	pthread_mutex_unlock(&up.mu);
	if (strcmp(path, "/cut") == 0) {
		/* A tenth of the body, then close_notify: still a cut body. */
		char part[CUT_LEN / 10];

		memset(part, 'x', sizeof(part));
		snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\n"
		    "Content-Length: %d\r\n\r\n", CUT_LEN);
		up_write(ssl, head, strlen(head));
		up_write(ssl, part, sizeof(part));
		return -1;
	}
	if (strcmp(path, "/204") == 0)
		return up_write(ssl, NO_CONTENT, sizeof(NO_CONTENT) - 1);
	blen = reqbody == 0 ? snprintf(body, sizeof(body), "hello %s", path) :
	    snprintf(body, sizeof(body), "hello %s, %zu bytes", path, reqbody);
	if (strcmp(path, "/cached/slow") == 0) {
		usleep(SLOW_MS * 1000);
		snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\n"
		    "Cache-Control: max-age=60\r\nContent-Length: %d\r\n\r\n",
		    blen);
	} else
		snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\n"
		    "Content-Length: %d\r\n\r\n", blen);
	if (up_write(ssl, head, strlen(head)) == -1 ||
	    (strcmp(method, "HEAD") != 0 && up_write(ssl, body, blen) == -1))
		return -1;
	return 0;
}

/* Requests with a Content-Length body or none, kept alive. */
static void *
up_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	SSL *ssl = SSL_new(up.ctx);
	char buf[8192], method[16], path[256], *end, *cl;
	size_t len = 0, hl, blen = 0;
	int n, drop_next = 0;

	if (ssl == NULL || SSL_set_fd(ssl, fd) != 1 || SSL_accept(ssl) != 1)
		goto done;
	for (;;) {
		buf[len] = '\0';
		end = strstr(buf, "\r\n\r\n");
		if (end != NULL) {
			*end = '\0';
			cl = strcasestr(buf, "\r\ncontent-length:");
			blen = cl != NULL ? strtoul(cl + 17, NULL, 10) : 0;
			*end = '\r';
		}
		if (end == NULL || len < (size_t)(end + 4 - buf) + blen) {
			if (len + 1 >= sizeof(buf) ||
			    (n = SSL_read(ssl, buf + len,
			    (int)(sizeof(buf) - 1 - len))) <= 0)
				break;
			len += (size_t)n;
			continue;
		}
		hl = (size_t)(end + 4 - buf) + blen;
		/* After /drop-next the next request gets a close, as on a
		   connection the upstream timed out just then. */
		if (drop_next ||
		    sscanf(buf, "%15s %255s", method, path) != 2 ||
		    up_answer(ssl, method, path, blen) == -1)
			break;
		drop_next = strcmp(path, "/drop-next") == 0;
		memmove(buf, buf + hl, len - hl);
		len -= hl;
	}
	SSL_shutdown(ssl);
done:
	SSL_free(ssl);
	close(fd);
	ERR_clear_error();
	return NULL;
}

static void *
up_accept(void *arg)
{
	struct pollfd pf[2] = { { up.fd, POLLIN, 0 }, { up.stop[0], POLLIN, 0 } };
	int fd;

	for (;;) {
		if (poll(pf, 2, -1) == -1 && errno != EINTR)
			break;
		if (pf[1].revents != 0)
			break;
		if (!(pf[0].revents & POLLIN) ||
		    (fd = accept(up.fd, NULL, NULL)) == -1)
			continue;
		pthread_mutex_lock(&up.mu);
		if (up.nconns == UP_MAX_CONNS ||
		    pthread_create(&up.conns[up.nconns], NULL, up_conn,
		    (void *)(intptr_t)fd) != 0)
			close(fd);
		else
			up.nconns++;
		pthread_mutex_unlock(&up.mu);
	}
	return NULL;
}

/* A listening socket on 127.0.0.1 and an ephemeral port. */
static int
listen_loopback(int *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd == -1 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(fd, 64) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) == -1) {
		perror("listen on 127.0.0.1");
		exit(1);
	}
	*port = ntohs(sin.sin_port);
	return fd;
}

static void
up_start(void)
{
	up.fd = listen_loopback(&up.port);
	/* A leaf for api.test from the upstream CA, which sluice trusts. */
	if ((up.cf = certforge_new(up_ca_crt, up_ca_key, 4)) == NULL ||
	    (up.cert = certforge_get(up.cf, "api.test")) == NULL ||
	    (up.ctx = SSL_CTX_new(TLS_server_method())) == NULL ||
	    SSL_CTX_use_certificate(up.ctx, up.cert) != 1 ||
	    SSL_CTX_use_PrivateKey(up.ctx, certforge_leaf_key(up.cf)) != 1 ||
	    pipe(up.stop) == -1 ||
	    pthread_create(&up.thread, NULL, up_accept, NULL) != 0) {
		fprintf(stderr, "cannot start the upstream\n");
		exit(1);
	}
}

/* After sluice is gone: its upstream connections have all closed. */
static void
up_stop(void)
{
	int i;

	if (write(up.stop[1], "x", 1) != 1)
		perror("write");
	pthread_join(up.thread, NULL);
	for (i = 0; i < up.nconns; i++)
		pthread_join(up.conns[i], NULL);
	close(up.fd);
	close(up.stop[0]);
	close(up.stop[1]);
	SSL_CTX_free(up.ctx);
	X509_free(up.cert);
	certforge_free(up.cf);
}

static int
up_count(int *field)
{
	int n;

	pthread_mutex_lock(&up.mu);
	n = *field;
	pthread_mutex_unlock(&up.mu);
	return n;
}

/* --- sluice, built as main() builds it ----------------------------------- */

static struct config cfg;
static struct sluice sl;
static struct worker *ws;
static int proxy_port;

static void
make_ca(const char *crtpath, const char *keypath)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *ca = key ? certforge_ca_build(key, time(NULL)) : NULL;
	FILE *f;

	if (ca == NULL || (f = fopen(crtpath, "w")) == NULL ||
	    !PEM_write_X509(f, ca) || fclose(f) != 0 ||
	    (f = fopen(keypath, "w")) == NULL ||
	    !PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) ||
	    fclose(f) != 0) {
		fprintf(stderr, "cannot make a CA in %s\n", tmpdir);
		exit(1);
	}
	X509_free(ca);
	EVP_PKEY_free(key);
}

/*
 * Rules, first match wins: a deny, a delayed rate limit (1/s, burst 1, a
 * hold of up to 1.5 s), a cache, then everything else on api.test; and
 * down.test, which --resolve points at a closed port.  Every host is named
 * explicitly, which is what lets the SSRF guard dial 127.0.0.1.
 */
static void
make_rules(void)
{
	static const char *sql =
	    "INSERT INTO rules (id, priority, host, path, action) VALUES "
	    "  (1, 10, 'api.test', '/denied/*', 'deny'),"
	    "  (2, 20, 'api.test', '/limited', 'allow'),"
	    "  (3, 30, 'api.test', '/cached/*', 'allow'),"
	    "  (4, 100, 'api.test', NULL, 'allow'),"
	    "  (5, 100, 'down.test', NULL, 'allow');"
	    "INSERT INTO rate_limits (rule_id, requests, per_seconds, burst, "
	    "  on_limit, max_delay_ms) VALUES (2, 1, 1, 1, 'delay', 1500);"
	    "INSERT INTO cache_policies (rule_id, ttl_seconds) VALUES (3, 60);";
	sqlite3 *db;
	char *err = NULL;

	if (rules_db_init(rules_path) == -1 ||
	    sqlite3_open(rules_path, &db) != SQLITE_OK ||
	    sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
		fprintf(stderr, "cannot make %s: %s\n", rules_path,
		    err ? err : "?");
		exit(1);
	}
	sqlite3_close(db);
}

static void
resolve_to(struct config_resolve *r, const char *host, int port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&r->addr;

	snprintf(r->host, sizeof(r->host), "%s", host);
	r->port = 443;
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin->sin_port = htons(port);
	r->addrlen = sizeof(*sin);
}

static void
sluice_start(void)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&cfg.connect[0].addr;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int closed_port, fd;

	/* main_parse()'s defaults, with short timeouts and one worker. */
	cfg.rules_path = rules_path;
	cfg.audit_path = audit_path;
	cfg.ca_cert_path = ca_crt;
	cfg.ca_key_path = ca_key;
	cfg.upstream_ca_path = up_ca_crt;
	cfg.gateway_name = "test";
	cfg.default_deny = 1;
	cfg.nfqueue = -1;
	cfg.workers = 1;
	cfg.upstream_timeout = 5;
	cfg.stream_idle_timeout = 5;
	cfg.drain_timeout = 1;
	cfg.handshake_timeout = 5;
	cfg.idle_timeout = 10;
	cfg.upstream_idle_timeout = 10;
	cfg.max_connections = 64;
	cfg.tls_resumption = 1;
	cfg.cache_size = (size_t)1 << 20;
	cfg.log_level = LOG_WARN;
	cfg.log_format = LOG_TEXT;
	cfg.redis_prefix = "sluice:";
	cfg.redis_timeout_ms = 50;
	cfg.fleet_size = 1;
	/* --connect 127.0.0.1:0 */
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cfg.connect[0].addrlen = sizeof(*sin);
	cfg.nconnect = 1;
	/* --resolve api.test:443:127.0.0.1:UP, down.test to a closed port */
	fd = listen_loopback(&closed_port);
	close(fd);
	resolve_to(&cfg.resolve[0], "api.test", up.port);
	resolve_to(&cfg.resolve[1], "down.test", closed_port);
	cfg.nresolve = 2;
	log_init(cfg.log_level, cfg.log_format);

	sl.cfg = &cfg;
	if ((sl.certforge = certforge_new(ca_crt, ca_key, 16)) == NULL ||
	    (sl.client_ctx = tls_client_ctx_new(sl.certforge, NULL, 1)) ==
	    NULL ||
	    (sl.upstream_ctx = tls_upstream_ctx_new(up_ca_crt, NULL)) == NULL ||
	    (sl.rules = rules_start(rules_path, 500)) == NULL ||
	    (sl.audit = audit_open(audit_path, 1024, 0)) == NULL ||
	    (sl.ratelimit = ratelimit_new(64)) == NULL ||
	    (sl.cache = cache_new(cfg.cache_size)) == NULL) {
		fprintf(stderr, "cannot build sluice\n");
		exit(1);
	}
	audit_set_gateway(sl.audit, cfg.gateway_name);
	if ((ws = worker_create_all(&sl, 1)) == NULL ||
	    getsockname(ws[0].listen_fds[0], (struct sockaddr *)&ss, &len) ==
	    -1 || worker_start(&ws[0]) == -1) {
		fprintf(stderr, "cannot start the worker\n");
		exit(1);
	}
	proxy_port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* Drain and free everything, as main() does after SIGTERM. */
static void
sluice_stop(void)
{
	worker_stop(&ws[0]);
	worker_join_all(ws, 1);
}

static void
sluice_free(void)
{
	free(ws);
	audit_close(sl.audit);
	ratelimit_free(sl.ratelimit);
	cache_free(sl.cache);
	rules_stop(sl.rules);
	SSL_CTX_free(sl.client_ctx);
	SSL_CTX_free(sl.upstream_ctx);
	certforge_free(sl.certforge);
	tls_keylog_close();
}

static uint64_t
counted(enum counters_decision d)
{
	return atomic_load(&ws[0].counters.requests[d]);
}

/* --- the client ---------------------------------------------------------- */

static SSL_CTX *client_ctx;

struct client {
	int	 fd;
	SSL	*ssl;
	char	 buf[16384];
	size_t	 len;
	int	 clean_eof;	/* close_notify came */
	int	 eof;		/* the connection ended (any way) */
};

struct response {
	int	 status;		/* 0: no whole head came */
	int	 complete;		/* the whole body came */
	char	 head[4096];
	char	 body[4096];
	size_t	 body_len;
};

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* CONNECT host:443, then TLS for host trusting sluice's CA.  0 or -1. */
static int
client_open(struct client *cl, const char *host)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct timeval tv = { 5, 0 };
	char line[512];
	size_t n = 0;

	memset(cl, 0, sizeof(*cl));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(proxy_port);
	if ((cl->fd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    setsockopt(cl->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ==
	    -1 || connect(cl->fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		return -1;
	snprintf(line, sizeof(line), "CONNECT %s:443 HTTP/1.1\r\n"
	    "Host: %s:443\r\n\r\n", host, host);
	if (write(cl->fd, line, strlen(line)) != (ssize_t)strlen(line))
		return -1;
	/* Byte by byte: nothing of the TLS stream may be read here. */
	while (n < sizeof(line) - 1 && (n < 4 ||
	    memcmp(line + n - 4, "\r\n\r\n", 4) != 0))
		if (read(cl->fd, line + n++, 1) != 1)
			return -1;
	line[n] = '\0';
	if (strncmp(line, "HTTP/1.1 200 ", 13) != 0)
		return -1;
	if ((cl->ssl = SSL_new(client_ctx)) == NULL ||
	    SSL_set_fd(cl->ssl, cl->fd) != 1 ||
	    SSL_set_tlsext_host_name(cl->ssl, host) != 1 ||
	    SSL_set1_host(cl->ssl, host) != 1 ||
	    SSL_connect(cl->ssl) != 1)
		return -1;
	return 0;
}

static void
client_close(struct client *cl)
{
	if (cl->ssl != NULL) {
		if (!cl->eof)
			SSL_shutdown(cl->ssl);
		SSL_free(cl->ssl);
	}
	if (cl->fd != -1)
		close(cl->fd);
	cl->ssl = NULL;
	cl->fd = -1;
	ERR_clear_error();
}

static int
client_send(struct client *cl, const char *req)
{
	return SSL_write(cl->ssl, req, (int)strlen(req)) == (int)strlen(req) ?
	    0 : -1;
}

static int
client_get(struct client *cl, const char *path)
{
	char req[512];

	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: api.test\r\n"
	    "\r\n", path);
	return client_send(cl, req);
}

/* More bytes into cl->buf: 1, or 0 once the connection ended. */
static int
client_fill(struct client *cl)
{
	int n, err;

	if (cl->eof || cl->len == sizeof(cl->buf))
		return 0;
	n = SSL_read(cl->ssl, cl->buf + cl->len,
	    (int)(sizeof(cl->buf) - cl->len));
	if (n > 0) {
		cl->len += (size_t)n;
		return 1;
	}
	err = SSL_get_error(cl->ssl, n);
	cl->clean_eof = err == SSL_ERROR_ZERO_RETURN;
	cl->eof = 1;
	ERR_clear_error();
	return 0;
}

/* A field's value in a head, "" if absent. */
static const char *
field(const struct response *r, const char *name, char *val, size_t valsz)
{
	char pat[64];
	const char *p, *e;

	snprintf(pat, sizeof(pat), "\r\n%s:", name);
	val[0] = '\0';
	if ((p = strcasestr(r->head, pat)) == NULL)
		return val;
	p += strlen(pat);
	p += strspn(p, " ");
	e = strstr(p, "\r\n");
	snprintf(val, valsz, "%.*s", (int)(e - p), p);
	return val;
}

/*
 * Read one response (Content-Length framed, as sluice writes them; the
 * answer to a HEAD has none of the body it announces).
 */
static void
client_response_to(struct client *cl, struct response *r, int head)
{
	char cl_val[32], *end;
	size_t hl, want;

	memset(r, 0, sizeof(*r));
	for (;;) {
		cl->buf[cl->len < sizeof(cl->buf) ? cl->len :
		    sizeof(cl->buf) - 1] = '\0';
		if ((end = strstr(cl->buf, "\r\n\r\n")) != NULL)
			break;
		if (!client_fill(cl))
			return;
	}
	hl = (size_t)(end + 4 - cl->buf);
	snprintf(r->head, sizeof(r->head), "%.*s", (int)hl, cl->buf);
	r->status = atoi(r->head + 9);
	want = head ? 0 : (size_t)atol(field(r, "content-length", cl_val,
	    sizeof(cl_val)));
	while (cl->len - hl < want && client_fill(cl))
		;
	r->body_len = cl->len - hl < want ? cl->len - hl : want;
	r->complete = r->body_len == want;
	snprintf(r->body, sizeof(r->body), "%.*s", (int)r->body_len,
	    cl->buf + hl);
	hl += r->body_len;
	memmove(cl->buf, cl->buf + hl, cl->len - hl);
	cl->len -= hl;
}

static void
client_response(struct client *cl, struct response *r)
{
	client_response_to(cl, r, 0);
}

/* --- the scenarios ------------------------------------------------------- */

/* Two requests on one connection, one upstream connection for both. */
static void
test_keepalive(void)
{
	struct client cl;
	struct response r;

	CHECK(client_open(&cl, "api.test") == 0, "CONNECT and TLS through "
	    "sluice");
	CHECK(client_get(&cl, "/s1/a") == 0, "keep-alive: first request sent");
	client_response(&cl, &r);
	CHECK(r.status == 200 && r.complete &&
	    strcmp(r.body, "hello /s1/a") == 0,
	    "keep-alive: first response whole from the upstream");
	CHECK(client_get(&cl, "/s1/b") == 0, "keep-alive: second request sent "
	    "on the same connection");
	client_response(&cl, &r);
	CHECK(r.status == 200 && r.complete &&
	    strcmp(r.body, "hello /s1/b") == 0,
	    "keep-alive: second response whole");
	/* Responses without a body: UPSTREAM -> DONE at the head. */
	client_get(&cl, "/204");
	client_response(&cl, &r);
	CHECK(r.status == 204 && cl.len == 0,
	    "keep-alive: a 204 ends at its head");
	client_send(&cl, "HEAD /s1/head HTTP/1.1\r\nHost: api.test\r\n\r\n");
	client_response_to(&cl, &r, 1);
	CHECK(r.status == 200 && cl.len == 0,
	    "keep-alive: the answer to a HEAD has no body");
	client_get(&cl, "/s1/c");
	client_response(&cl, &r);
	CHECK(r.status == 200 && strcmp(r.body, "hello /s1/c") == 0,
	    "keep-alive: and the connection goes on");
	CHECK(up_count(&up.nconns) == 1,
	    "keep-alive: all went on one upstream connection");
	CHECK(counted(COUNTERS_FORWARDED) == 5, "keep-alive: five forwarded "
	    "requests counted");
	client_close(&cl);
}

/*
 * The upstream leg an exchange left with its client connection goes to
 * the pool when sluice closes that connection (the client said
 * Connection: close); the next client's exchange takes it from there.
 */
static void
test_leg_to_pool(void)
{
	struct client cl;
	struct response r;
	int before;

	CHECK(client_open(&cl, "api.test") == 0, "pool: first client");
	client_send(&cl, "GET /s1/p1 HTTP/1.1\r\nHost: api.test\r\n"
	    "Connection: close\r\n\r\n");
	client_response(&cl, &r);
	CHECK(r.status == 200 && strcmp(r.body, "hello /s1/p1") == 0,
	    "pool: first client served, and not kept");
	before = up_count(&up.nconns);
	client_close(&cl);
	CHECK(client_open(&cl, "api.test") == 0, "pool: second client");
	client_get(&cl, "/s1/p2");
	client_response(&cl, &r);
	CHECK(r.status == 200 && strcmp(r.body, "hello /s1/p2") == 0,
	    "pool: second client served");
	CHECK(up_count(&up.nconns) == before, "pool: the second client's "
	    "request went on the first one's upstream connection");
	client_close(&cl);
}

/* A deny rule answers 403 itself and keeps the connection. */
static void
test_denied(void)
{
	struct client cl;
	struct response r;
	int before = up_count(&up.requests);

	CHECK(client_open(&cl, "api.test") == 0, "denied: connected");
	client_get(&cl, "/denied/x");
	client_response(&cl, &r);
	CHECK(r.status == 403 && r.complete &&
	    strstr(r.body, "\"rule\":1") != NULL,
	    "denied: 403 naming the deny rule");
	CHECK(strcasestr(r.head, "connection: close") == NULL,
	    "denied: the 403 keeps the connection");
	CHECK(up_count(&up.requests) == before,
	    "denied: nothing reached the upstream");
	client_get(&cl, "/s2/after");
	client_response(&cl, &r);
	CHECK(r.status == 200 && strcmp(r.body, "hello /s2/after") == 0,
	    "denied: the next request on the connection is forwarded");
	/* Answered before its body came: EX_DONE while the body ends. */
	client_send(&cl, "POST /denied/y HTTP/1.1\r\nHost: api.test\r\n"
	    "Content-Length: 10\r\n\r\n");
	client_response(&cl, &r);
	CHECK(r.status == 403 && strcasestr(r.head, "connection: close") ==
	    NULL, "denied: a POST is answered before its body comes");
	client_send(&cl, "0123456789");
	client_send(&cl, "POST /s2/post HTTP/1.1\r\nHost: api.test\r\n"
	    "Content-Length: 5\r\n\r\nabcde");
	client_response(&cl, &r);
	CHECK(r.status == 200 &&
	    strcmp(r.body, "hello /s2/post, 5 bytes") == 0,
	    "denied: the late body is dropped, the next POST forwarded whole");
	CHECK(counted(COUNTERS_DENIED) == 2, "denied: two denials counted");
	client_close(&cl);
}

/*
 * 1 request/s, burst 1, held up to 1.5 s: the first passes, the second
 * waits for the token due in about 1 s (EX_HELD) and is forwarded; a third
 * on another connection meanwhile would wait about 2 s: 429.
 */
static void
test_rate_limit(void)
{
	struct client a, b;
	struct response r;
	uint64_t rejected, delayed;
	double t0;
	char v[64];

	CHECK(client_open(&a, "api.test") == 0 &&
	    client_open(&b, "api.test") == 0, "rate limit: two connections");
	client_get(&a, "/limited");
	client_response(&a, &r);
	CHECK(r.status == 200, "rate limit: the burst's token passes at once");
	t0 = now_ms();
	client_get(&a, "/limited");
	/* b's request must come second: after a's is held. */
	while (ratelimit_held(sl.ratelimit) == 0 && now_ms() - t0 < 2000)
		usleep(5 * 1000);
	client_get(&b, "/limited");
	client_response(&b, &r);
	CHECK(r.status == 429 && r.complete,
	    "rate limit: past the longest hold, 429");
	CHECK(atoi(field(&r, "retry-after", v, sizeof(v))) >= 1,
	    "rate limit: the 429 says when to retry");
	CHECK(ratelimit_held(sl.ratelimit) == 1,
	    "rate limit: meanwhile the other request is held");
	client_get(&b, "/s3/after");
	client_response(&b, &r);
	CHECK(r.status == 200, "rate limit: the 429 kept its connection");
	client_response(&a, &r);
	CHECK(r.status == 200 && strcmp(r.body, "hello /limited") == 0,
	    "rate limit: the held request is forwarded when its token is due");
	CHECK(now_ms() - t0 >= 700, "rate limit: ... after about a second");
	CHECK(ratelimit_held(sl.ratelimit) == 0,
	    "rate limit: no request held any more");
	ratelimit_stats(sl.ratelimit, &rejected, &delayed);
	CHECK(rejected == 1 && delayed == 1,
	    "rate limit: one refused and one delayed, counted");
	client_close(&a);
	client_close(&b);
}

/*
 * Two identical GETs at once on a cache rule: the first leads the fetch
 * (the upstream takes SLOW_MS), the second waits for it (EX_COLLAPSED)
 * and is answered from the cache.
 */
static void
test_collapse(void)
{
	struct client a, b;
	struct response ra, rb;
	double t0;
	char va[64], vb[64];

	CHECK(client_open(&a, "api.test") == 0 &&
	    client_open(&b, "api.test") == 0, "collapse: two connections");
	client_get(&a, "/cached/slow");
	/* b's request must come second: once a's reached the upstream. */
	t0 = now_ms();
	while (up_count(&up.slow_hits) == 0 && now_ms() - t0 < 2000)
		usleep(5 * 1000);
	t0 = now_ms();
	client_get(&b, "/cached/slow");
	client_response(&b, &rb);
	client_response(&a, &ra);
	CHECK(ra.status == 200 && rb.status == 200 &&
	    strcmp(ra.body, "hello /cached/slow") == 0 &&
	    strcmp(rb.body, ra.body) == 0,
	    "collapse: both get the response");
	CHECK(up_count(&up.slow_hits) == 1,
	    "collapse: the upstream was asked once");
	CHECK(strstr(field(&ra, "cache-status", va, sizeof(va)), "fwd=miss") !=
	    NULL, "collapse: the first was a miss, fetched");
	CHECK(strstr(field(&rb, "cache-status", vb, sizeof(vb)), "hit") !=
	    NULL, "collapse: the second was answered from the cache");
	CHECK(now_ms() - t0 >= SLOW_MS / 2,
	    "collapse: ... after waiting for the first");
	CHECK(atomic_load(&ws[0].counters.cache_hits) == 1,
	    "collapse: one cache hit counted");
	client_close(&a);
	client_close(&b);
}

/* The upstream ends mid-body; an upstream that refuses the connection. */
static void
test_upstream_failures(void)
{
	struct client cl;
	struct response r;

	CHECK(client_open(&cl, "api.test") == 0, "cut: connected");
	client_get(&cl, "/cut");
	client_response(&cl, &r);
	CHECK(!r.complete, "cut: the client does not get a whole response");
	client_fill(&cl);
	CHECK(cl.eof && !cl.clean_eof,
	    "cut: the connection ends without close_notify");
	client_close(&cl);

	CHECK(client_open(&cl, "down.test") == 0,
	    "refused: CONNECT to a closed port is answered 200");
	client_send(&cl, "GET / HTTP/1.1\r\nHost: down.test\r\n\r\n");
	client_response(&cl, &r);
	CHECK(r.status == 502 && r.complete &&
	    strstr(r.body, "connection refused") != NULL,
	    "refused: 502, the upstream refused the connection");
	client_close(&cl);
}

/*
 * The upstream connection kept from the last request closes as the next
 * one arrives: that one is sent again, once, on another connection
 * (EX_UPSTREAM, a failure, EX_UPSTREAM again) and the client sees nothing.
 */
static void
test_retry(void)
{
	struct client cl;
	struct response r;
	int before;

	CHECK(client_open(&cl, "api.test") == 0, "retry: connected");
	client_get(&cl, "/drop-next");
	client_response(&cl, &r);
	CHECK(r.status == 200, "retry: the first request is answered");
	before = up_count(&up.requests);
	client_get(&cl, "/s7/again");
	client_response(&cl, &r);
	CHECK(r.status == 200 && r.complete &&
	    strcmp(r.body, "hello /s7/again") == 0,
	    "retry: the next one, dropped by the upstream, is sent again");
	CHECK(up_count(&up.requests) == before + 1,
	    "retry: ... and answered once");
	client_close(&cl);
}

/* A malformed head: 400 and a close; the daemon goes on serving. */
static void
test_malformed(void)
{
	struct client cl;
	struct response r;

	CHECK(client_open(&cl, "api.test") == 0, "malformed: connected");
	client_send(&cl, "GET /s6 HTTP/1.1\r\nHost: api.test\r\n"
	    "no colon here\r\n\r\n");
	client_response(&cl, &r);
	CHECK(r.status == 400 && r.complete,
	    "malformed: 400 for a field line without a colon");
	CHECK(strcasestr(r.head, "connection: close") != NULL,
	    "malformed: the 400 closes the connection");
	client_fill(&cl);
	CHECK(cl.eof && cl.clean_eof, "malformed: closed with close_notify");
	client_close(&cl);

	CHECK(client_open(&cl, "api.test") == 0,
	    "malformed: a new connection is accepted");
	client_get(&cl, "/s6/after");
	client_response(&cl, &r);
	CHECK(r.status == 200 && strcmp(r.body, "hello /s6/after") == 0,
	    "malformed: and served");
	client_close(&cl);
}

/* --- the audit rows, read after audit_close() wrote them all ------------- */

static int
rows(sqlite3 *db, const char *where)
{
	char sql[512];
	sqlite3_stmt *st;
	int n = -1;

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM requests WHERE %s",
	    where);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return n;
}

static void
test_audit_rows(void)
{
	sqlite3 *db;

	if (sqlite3_open_v2(audit_path, &db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK) {
		CHECK(0, "audit: the database opens");
		sqlite3_close(db);
		return;
	}
	CHECK(rows(db, "path IN ('/s1/a', '/s1/b') AND decision = 'forwarded' "
	    "AND status = 200 AND rule_id = 4") == 2,
	    "audit: a row per keep-alive request");
	CHECK(rows(db, "path IN ('/denied/x', '/denied/y') AND decision = "
	    "'denied' AND status = 403 AND rule_id = 1") == 2,
	    "audit: the denials");
	CHECK(rows(db, "path = '/s2/post' AND decision = 'forwarded' AND "
	    "req_bytes = 5") == 1, "audit: the POST and its body's size");
	CHECK(rows(db, "path = '/limited' AND decision = 'forwarded' AND "
	    "limit_source = 'local'") == 2 &&
	    rows(db, "path = '/limited' AND decision = 'rate_limited' AND "
	    "status = 429 AND rule_id = 2") == 1,
	    "audit: two forwarded under the limit, one refused");
	CHECK(rows(db, "path = '/cached/slow' AND decision = 'forwarded'") ==
	    1 && rows(db, "path = '/cached/slow' AND decision = 'cached' AND "
	    "status = 200 AND rule_id = 3") == 1,
	    "audit: the collapsed request is a cache hit");
	CHECK(rows(db, "path = '/cut' AND decision = 'error' AND status = 200 "
	    "AND error LIKE '%before the response ended%'") == 1,
	    "audit: the cut response is an error");
	CHECK(rows(db, "host = 'down.test' AND decision = 'error' AND "
	    "status = 502 AND error LIKE '%connection refused%'") == 1,
	    "audit: the refused upstream");
	CHECK(rows(db, "path = '/s7/again' AND decision = 'forwarded' AND "
	    "status = 200 AND error IS NULL") == 1,
	    "audit: the request sent again is one row, forwarded");
	CHECK(rows(db, "decision = 'error' AND status = 400") == 1,
	    "audit: the malformed request");
	CHECK(rows(db, "path IN ('/s1/a', '/s1/b') AND client_proto = "
	    "'http/1.1' AND upstream_proto = 'http/1.1'") == 2 &&
	    rows(db, "path = '/s7/again' AND upstream_proto = 'http/1.1'") ==
	    1, "audit: both legs' protocols, also on a reused or retried leg");
	CHECK(rows(db, "decision IN ('denied', 'rate_limited', 'cached') AND "
	    "(upstream_proto IS NOT NULL OR client_proto IS NULL)") == 0 &&
	    rows(db, "host = 'down.test' AND upstream_proto IS NULL") == 1,
	    "audit: no upstream_proto without a leg that connected");
	CHECK(rows(db, "status = 400 AND client_proto = 'http/1.1'") == 1,
	    "audit: a head that did not parse was answered in HTTP/1.1");
	sqlite3_close(db);
}

int
main(void)
{
	double t0 = now_ms();

	/* A hang is a failure too. */
	alarm(60);
	signal(SIGPIPE, SIG_IGN);
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(ca_crt, sizeof(ca_crt), "%s/ca.crt", tmpdir);
	snprintf(ca_key, sizeof(ca_key), "%s/ca.key", tmpdir);
	snprintf(up_ca_crt, sizeof(up_ca_crt), "%s/up-ca.crt", tmpdir);
	snprintf(up_ca_key, sizeof(up_ca_key), "%s/up-ca.key", tmpdir);
	snprintf(rules_path, sizeof(rules_path), "%s/rules.db", tmpdir);
	snprintf(audit_path, sizeof(audit_path), "%s/audit.db", tmpdir);
	make_ca(ca_crt, ca_key);
	make_ca(up_ca_crt, up_ca_key);
	make_rules();
	up_start();
	sluice_start();

	if ((client_ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    SSL_CTX_load_verify_file(client_ctx, ca_crt) != 1) {
		fprintf(stderr, "cannot make the client's SSL_CTX\n");
		return 1;
	}
	SSL_CTX_set_verify(client_ctx, SSL_VERIFY_PEER, NULL);

	test_keepalive();
	test_leg_to_pool();
	test_denied();
	test_rate_limit();
	test_collapse();
	test_upstream_failures();
	test_retry();
	test_malformed();

	sluice_stop();
	up_stop();
	sluice_free();
	SSL_CTX_free(client_ctx);
	test_audit_rows();

	unlink(ca_crt);
	unlink(ca_key);
	unlink(up_ca_crt);
	unlink(up_ca_key);
	unlink(rules_path);
	snprintf(rules_path, sizeof(rules_path), "%s/rules.db-wal", tmpdir);
	unlink(rules_path);
	snprintf(rules_path, sizeof(rules_path), "%s/rules.db-shm", tmpdir);
	unlink(rules_path);
	unlink(audit_path);
	snprintf(audit_path, sizeof(audit_path), "%s/audit.db-wal", tmpdir);
	unlink(audit_path);
	snprintf(audit_path, sizeof(audit_path), "%s/audit.db-shm", tmpdir);
	unlink(audit_path);
	if (rmdir(tmpdir) == -1)
		fprintf(stderr, "# %s left behind: %s\n", tmpdir,
		    strerror(errno));
	printf("# %.0f ms\n", now_ms() - t0);
	return unit_done();
}
