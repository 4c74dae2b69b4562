/*
 * admin.c - the --admin HTTP listener: /healthz, /readyz, /metrics, /rules.
 *
 * Owns its thread, event_base, evhttp and listening socket.  Everything it
 * answers is read at request time: the workers' counters are summed with
 * relaxed loads (each is written by one worker only), so the proxy's hot
 * path takes no lock and no read-modify-write for the sake of metrics.
 * /rules shows secret names only: never a value or its wire form.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "admin.h"
#include "audit.h"
#include "json.h"
#include "log.h"
#include "rules.h"
#include "worker.h"

#define ADMIN_BACKLOG		16
#define ADMIN_TIMEOUT_S		10

enum admin_state {
	ADMIN_STARTING = 0,
	ADMIN_READY,
	ADMIN_DRAINING,
};

struct admin {
	struct sluice		*sl;
	struct worker		*ws;
	int			 nworkers;
	struct event_base	*base;
	struct evhttp		*http;
	pthread_t		 thread;
	int			 started;
	atomic_int		 state;		/* enum admin_state */
};

int
admin_addr_is_loopback(const struct sockaddr *sa)
{
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

	if (sa->sa_family == AF_INET)
		return (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family != AF_INET6)
		return 0;
	if (IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr))
		return 1;
	return IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr) &&
	    s6->sin6_addr.s6_addr[12] == 127;
}

/* A JSON string, or null for NULL. */
static void
admin_json_str(struct evbuffer *out, const char *s)
{
	char *esc;
	size_t size;

	if (s == NULL) {
		evbuffer_add_printf(out, "null");
		return;
	}
	size = JSON_ESCAPE_MAX * strlen(s) + 1;
	if ((esc = malloc(size)) == NULL) {
		evbuffer_add_printf(out, "null");
		return;
	}
	json_escape(esc, size, s);
	evbuffer_add_printf(out, "\"%s\"", esc);
	free(esc);
}

static const char *
admin_action_name(enum rule_action a)
{
	switch (a) {
	case RULE_ALLOW: return "allow";
	case RULE_DENY: return "deny";
	case RULE_PASSTHROUGH: return "passthrough";
	}
	return "unknown";
}

static const char *
admin_kind_name(enum rule_inject_kind k)
{
	switch (k) {
	case RULE_INJECT_BEARER: return "bearer";
	case RULE_INJECT_BASIC: return "basic";
	case RULE_INJECT_HEADER: return "header";
	case RULE_INJECT_QUERY: return "query";
	}
	return "unknown";
}

/* Kind, header or parameter name and the secret's name: never its value. */
static void
admin_json_injections(struct evbuffer *out, const struct rule *r)
{
	size_t i;

	evbuffer_add_printf(out, "[");
	for (i = 0; i < r->ninjections; i++) {
		evbuffer_add_printf(out, "%s{\"kind\":\"%s\",\"name\":",
		    i > 0 ? "," : "", admin_kind_name(r->injections[i].kind));
		admin_json_str(out, r->injections[i].name);
		evbuffer_add_printf(out, ",\"secret\":");
		admin_json_str(out, r->injections[i].secret_name);
		evbuffer_add_printf(out, "}");
	}
	evbuffer_add_printf(out, "]");
}

static void
admin_json_rule(struct evbuffer *out, const struct rule *r)
{
	evbuffer_add_printf(out, "{\"id\":%" PRId64 ",\"priority\":%" PRId64
	    ",\"host\":", r->id, r->priority);
	admin_json_str(out, r->host);
	if (r->port != 0)
		evbuffer_add_printf(out, ",\"port\":%d", r->port);
	else
		evbuffer_add_printf(out, ",\"port\":null");
	evbuffer_add_printf(out, ",\"method\":");
	admin_json_str(out, r->method);
	evbuffer_add_printf(out, ",\"path\":");
	admin_json_str(out, r->path);
	evbuffer_add_printf(out, ",\"action\":\"%s\",\"injections\":",
	    admin_action_name(r->action));
	admin_json_injections(out, r);
	if (r->has_limit)
		evbuffer_add_printf(out, ",\"rate_limit\":{\"requests\":%d,"
		    "\"per_seconds\":%d,\"burst\":%d,\"scope\":\"%s\","
		    "\"on_limit\":\"%s\",\"max_delay_ms\":%d,"
		    "\"shared\":%s,\"lease\":%d}",
		    r->limit.requests, r->limit.per_seconds, r->limit.burst,
		    r->limit.per_client ? "client" : "rule",
		    r->limit.delay ? "delay" : "reject", r->limit.max_delay_ms,
		    r->limit.shared ? "true" : "false", r->limit.lease);
	if (r->has_cache)
		evbuffer_add_printf(out, ",\"cache\":{\"ttl_seconds\":%d,"
		    "\"max_bytes\":%zu,\"heuristic\":%s}", r->cache.ttl_seconds,
		    r->cache.max_bytes, r->cache.heuristic ? "true" : "false");
	evbuffer_add_printf(out, "}");
}

static int
admin_rules(struct evbuffer *out)
{
	struct rules_snapshot *snap;
	size_t i;

	if ((snap = rules_acquire()) == NULL)
		return 503;
	evbuffer_add_printf(out, "{\"generation\":%" PRIu64 ",\"rules\":[",
	    snap->generation);
	for (i = 0; i < snap->nrules; i++) {
		if (i > 0)
			evbuffer_add_printf(out, ",");
		admin_json_rule(out, &snap->rules[i]);
	}
	evbuffer_add_printf(out, "],\"skipped\":%zu}\n", snap->nskipped);
	rules_snapshot_unref(snap);
	return 200;
}

/* The workers' counters, summed at scrape time. */
struct admin_totals {
	uint64_t	 requests[WORKER_NDECISIONS];
	uint64_t	 tls_client_failures;
	uint64_t	 shared_local;
};

static void
admin_totals(const struct admin *a, struct admin_totals *t)
{
	struct worker_counters *c;
	int i, d;

	memset(t, 0, sizeof(*t));
	for (i = 0; i < a->nworkers; i++) {
		c = &a->ws[i].counters;
		for (d = 0; d < WORKER_NDECISIONS; d++)
			t->requests[d] += atomic_load_explicit(&c->requests[d],
			    memory_order_relaxed);
		t->tls_client_failures += atomic_load_explicit(
		    &c->tls_client_failures, memory_order_relaxed);
		t->shared_local += atomic_load_explicit(&c->shared_local,
		    memory_order_relaxed);
	}
}

static void
admin_metric(struct evbuffer *out, const char *name, const char *type,
    const char *help, uint64_t v)
{
	evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n%s %" PRIu64 "\n",
	    name, help, name, type, name, v);
}

static int
admin_metrics(struct admin *a, struct evbuffer *out)
{
	struct rules_snapshot *snap = rules_acquire();
	struct admin_totals t;
	int d;

	admin_totals(a, &t);
	evbuffer_add_printf(out, "# HELP sluice_requests_total Audit rows "
	    "submitted, by decision.\n"
	    "# TYPE sluice_requests_total counter\n");
	for (d = 0; d < WORKER_NDECISIONS; d++)
		evbuffer_add_printf(out,
		    "sluice_requests_total{decision=\"%s\"} %" PRIu64 "\n",
		    worker_decision_name(d), t.requests[d]);
	evbuffer_add_printf(out, "# HELP sluice_tls_handshake_failures_total "
	    "Failed TLS handshakes, by leg.\n"
	    "# TYPE sluice_tls_handshake_failures_total counter\n"
	    "sluice_tls_handshake_failures_total{leg=\"client\"} %" PRIu64
	    "\n", t.tls_client_failures);
	admin_metric(out, "sluice_shared_limit_local_total", "counter",
	    "Decisions of shared limits made by the local bucket (Redis "
	    "down, slow or erroring).", t.shared_local);
	admin_metric(out, "sluice_connections_active", "gauge",
	    "Open client connections.", (uint64_t)atomic_load_explicit(
	    &a->sl->nconns, memory_order_relaxed));
	admin_metric(out, "sluice_audit_dropped_total", "counter",
	    "Audit rows that could not be written.",
	    audit_dropped(a->sl->audit));
	admin_metric(out, "sluice_rules_generation", "gauge",
	    "Generation of the loaded rules snapshot.", rules_generation());
	admin_metric(out, "sluice_rules_loaded", "gauge",
	    "Enabled rules in the loaded snapshot.",
	    snap != NULL ? snap->nrules : 0);
	if (snap != NULL)
		rules_snapshot_unref(snap);
	return 200;
}

static int
admin_health(struct admin *a, enum admin_state want)
{
	int state = atomic_load(&a->state);

	if (state == ADMIN_DRAINING || (want == ADMIN_READY &&
	    state != ADMIN_READY))
		return 503;
	return 200;
}

/* Route one request; the body goes to out, the status is returned. */
static int
admin_route(struct admin *a, const char *path, struct evbuffer *out,
    const char **type)
{
	int status;

	*type = "text/plain; charset=utf-8";
	if (strcmp(path, "/healthz") == 0 || strcmp(path, "/readyz") == 0) {
		status = admin_health(a, path[1] == 'r' ? ADMIN_READY :
		    ADMIN_STARTING);
		evbuffer_add_printf(out, "%s\n", status == 200 ? "ok" :
		    atomic_load(&a->state) == ADMIN_DRAINING ? "draining" :
		    "starting");
		return status;
	}
	if (strcmp(path, "/metrics") == 0) {
		*type = "text/plain; version=0.0.4; charset=utf-8";
		return admin_metrics(a, out);
	}
	if (strcmp(path, "/rules") == 0) {
		*type = "application/json";
		return admin_rules(out);
	}
	evbuffer_add_printf(out, "not found\n");
	return 404;
}

static void
admin_request(struct evhttp_request *req, void *arg)
{
	struct admin *a = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	const char *type = "text/plain; charset=utf-8";
	struct evbuffer *out;
	int status;

	if ((out = evbuffer_new()) == NULL) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Allow", "GET");
		evbuffer_add_printf(out, "method not allowed\n");
		status = 405;
	} else if (path == NULL) {
		evbuffer_add_printf(out, "not found\n");
		status = 404;
	} else {
		status = admin_route(a, path, out, &type);
	}
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", type);
	evhttp_send_reply(req, status, NULL, out);
	evbuffer_free(out);
}

static int
admin_bind(const struct sockaddr *addr, socklen_t addrlen)
{
	int fd, on = 1;

	fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1 ||
	    bind(fd, addr, addrlen) == -1 || listen(fd, ADMIN_BACKLOG) == -1) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

struct admin *
admin_new(struct sluice *sl, struct worker *ws, int n,
    const struct sockaddr *addr, socklen_t addrlen)
{
	struct admin *a;
	int fd = -1;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		goto fail;
	a->sl = sl;
	a->ws = ws;
	a->nworkers = n;
	if ((a->base = event_base_new()) == NULL ||
	    (a->http = evhttp_new(a->base)) == NULL)
		goto fail;
	if ((fd = admin_bind(addr, addrlen)) == -1) {
		log_warn("admin: cannot listen on the --admin address");
		goto fail;
	}
	if (evhttp_accept_socket_with_handle(a->http, fd) == NULL)
		goto fail;
	fd = -1;	/* the evhttp owns it now */
	/* Let every method reach admin_request, which answers 405. */
	evhttp_set_allowed_methods(a->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	    EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT |
	    EVHTTP_REQ_PATCH);
	evhttp_set_timeout(a->http, ADMIN_TIMEOUT_S);
	evhttp_set_gencb(a->http, admin_request, a);
	return a;
fail:
	if (fd != -1)
		close(fd);
	admin_free(a);
	return NULL;
}

static void *
admin_main(void *arg)
{
	struct admin *a = arg;

	event_base_loop(a->base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

int
admin_start(struct admin *a)
{
	if (pthread_create(&a->thread, NULL, admin_main, a) != 0)
		return -1;
	a->started = 1;
	return 0;
}

void
admin_set_ready(struct admin *a)
{
	if (a != NULL)
		atomic_store(&a->state, ADMIN_READY);
}

void
admin_set_draining(struct admin *a)
{
	if (a != NULL)
		atomic_store(&a->state, ADMIN_DRAINING);
}

void
admin_free(struct admin *a)
{
	if (a == NULL)
		return;
	if (a->started) {
		/* Thread-safe: libevent threading is on (worker_create_all). */
		event_base_loopbreak(a->base);
		pthread_join(a->thread, NULL);
	}
	if (a->http != NULL)
		evhttp_free(a->http);
	if (a->base != NULL)
		event_base_free(a->base);
	free(a);
}
