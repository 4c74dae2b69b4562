/*
 * admin.c - the --admin HTTP listener: /healthz, /readyz, /metrics, /rules.
 *
 * Owns its thread, event_base, evhttp and listening socket.  Everything it
 * answers is read at request time: the workers' counters are summed with
 * relaxed loads (each is written by one worker only), so the proxy's hot
 * path takes no lock and no read-modify-write for the sake of metrics.
 * What the shared parts count (certificate and response caches, rate
 * limits, audit queue, pcap writer, rules loader) is asked of them here,
 * under their own locks: a scrape's cost, not a request's.
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
#include "cache.h"
#include "capture.h"
#include "certforge.h"
#include "json.h"
#include "log.h"
#include "ratelimit.h"
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
admin_rules(struct admin *a, struct evbuffer *out)
{
	struct rules_snapshot *snap;
	size_t i;

	if ((snap = rules_acquire(a->sl->rules)) == NULL)
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
	uint64_t	 requests[COUNTERS_NDECISIONS];
	uint64_t	 shared_local;
	uint64_t	 status[COUNTERS_NSTATUS];
	uint64_t	 latency[COUNTERS_NLATENCY + 1];
	uint64_t	 latency_sum_us;
	uint64_t	 tls_ok[COUNTERS_NLEGS];
	uint64_t	 tls_failed[COUNTERS_NLEGS][COUNTERS_NTLS_FAILURES];
	uint64_t	 cache_hits;
	uint64_t	 cache_misses;
	int64_t		 upstreams;
};

static uint64_t
admin_load(_Atomic uint64_t *n)
{
	return atomic_load_explicit(n, memory_order_relaxed);
}

/* Add the n counters at from to those at to. */
static void
admin_sum(uint64_t *to, _Atomic uint64_t *from, int n)
{
	int i;

	for (i = 0; i < n; i++)
		to[i] += admin_load(&from[i]);
}

static void
admin_totals(const struct admin *a, struct admin_totals *t)
{
	struct counters *c;
	int i, leg;

	memset(t, 0, sizeof(*t));
	for (i = 0; i < a->nworkers; i++) {
		c = &a->ws[i].counters;
		admin_sum(t->requests, c->requests, COUNTERS_NDECISIONS);
		admin_sum(t->status, c->status, COUNTERS_NSTATUS);
		admin_sum(t->latency, c->latency, COUNTERS_NLATENCY + 1);
		admin_sum(&t->latency_sum_us, &c->latency_sum_us, 1);
		admin_sum(t->tls_ok, c->tls_ok, COUNTERS_NLEGS);
		for (leg = 0; leg < COUNTERS_NLEGS; leg++)
			admin_sum(t->tls_failed[leg], c->tls_failed[leg],
			    COUNTERS_NTLS_FAILURES);
		admin_sum(&t->cache_hits, &c->cache_hits, 1);
		admin_sum(&t->cache_misses, &c->cache_misses, 1);
		admin_sum(&t->shared_local, &c->shared_local, 1);
		t->upstreams += atomic_load_explicit(&c->upstreams,
		    memory_order_relaxed);
	}
}

static void
admin_header(struct evbuffer *out, const char *name, const char *type,
    const char *help)
{
	evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help,
	    name, type);
}

static void
admin_metric(struct evbuffer *out, const char *name, const char *type,
    const char *help, uint64_t v)
{
	admin_header(out, name, type, help);
	evbuffer_add_printf(out, "%s %" PRIu64 "\n", name, v);
}

/* Requests by rule, for the rules of the current snapshot only. */
static void
admin_metrics_rules(struct admin *a, struct evbuffer *out,
    const struct rules_snapshot *snap)
{
	uint64_t n;
	size_t r;
	int i;

	admin_header(out, "sluice_rule_requests_total", "counter",
	    "Audit rows, by the rule that matched (rules loaded now).");
	for (r = 0; snap != NULL && r < snap->nrules; r++) {
		for (n = 0, i = 0; i < a->nworkers; i++)
			n += worker_rule_requests(&a->ws[i],
			    snap->rules[r].id);
		evbuffer_add_printf(out, "sluice_rule_requests_total{rule=\""
		    "%" PRId64 "\"} %" PRIu64 "\n", snap->rules[r].id, n);
	}
}

static void
admin_metrics_requests(struct admin *a, struct evbuffer *out,
    const struct admin_totals *t)
{
	static const int bounds[COUNTERS_NLATENCY] = COUNTERS_LATENCY_BOUNDS;
	uint64_t cum = 0;
	int i;

	admin_header(out, "sluice_requests_total", "counter",
	    "Audit rows submitted, by decision.");
	for (i = 0; i < COUNTERS_NDECISIONS; i++)
		evbuffer_add_printf(out,
		    "sluice_requests_total{decision=\"%s\"} %" PRIu64 "\n",
		    counters_decision_name(i), t->requests[i]);
	admin_header(out, "sluice_responses_total", "counter",
	    "Audit rows with a status, by status class.");
	for (i = 0; i < COUNTERS_NSTATUS; i++)
		evbuffer_add_printf(out,
		    "sluice_responses_total{class=\"%dxx\"} %" PRIu64 "\n",
		    i + 1, t->status[i]);
	admin_header(out, "sluice_upstream_latency_seconds", "histogram",
	    "From a request's head to the upstream's response head.");
	for (i = 0; i <= COUNTERS_NLATENCY; i++) {
		cum += t->latency[i];
		if (i < COUNTERS_NLATENCY)
			evbuffer_add_printf(out, "sluice_upstream_latency_"
			    "seconds_bucket{le=\"%g\"} %" PRIu64 "\n",
			    bounds[i] / 1000.0, cum);
		else
			evbuffer_add_printf(out, "sluice_upstream_latency_"
			    "seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n", cum);
	}
	evbuffer_add_printf(out, "sluice_upstream_latency_seconds_sum %.6f\n"
	    "sluice_upstream_latency_seconds_count %" PRIu64 "\n",
	    t->latency_sum_us / 1e6, cum);
}

static void
admin_metrics_tls(struct admin *a, struct evbuffer *out,
    const struct admin_totals *t)
{
	static const char *const legs[COUNTERS_NLEGS] = { "client", "upstream" };
	struct certforge_stats cs;
	int leg, why;

	admin_header(out, "sluice_tls_handshakes_total", "counter",
	    "Completed TLS handshakes, by leg.");
	for (leg = 0; leg < COUNTERS_NLEGS; leg++)
		evbuffer_add_printf(out, "sluice_tls_handshakes_total{leg=\"%s\"}"
		    " %" PRIu64 "\n", legs[leg], t->tls_ok[leg]);
	admin_header(out, "sluice_tls_handshake_failures_total", "counter",
	    "Failed TLS handshakes, by leg and reason.");
	for (leg = 0; leg < COUNTERS_NLEGS; leg++)
		for (why = 0; why < COUNTERS_NTLS_FAILURES; why++)
			evbuffer_add_printf(out, "sluice_tls_handshake_"
			    "failures_total{leg=\"%s\",reason=\"%s\"} %" PRIu64
			    "\n", legs[leg], counters_tls_failure_name(why),
			    t->tls_failed[leg][why]);
	certforge_stats(a->sl->certforge, &cs);
	admin_metric(out, "sluice_cert_cache_hits_total", "counter",
	    "Forged certificates found in the cache.", cs.hits);
	admin_metric(out, "sluice_cert_cache_misses_total", "counter",
	    "Certificates forged because none was cached.", cs.misses);
	admin_metric(out, "sluice_cert_cache_entries", "gauge",
	    "Forged certificates cached.", cs.entries);
}

/* What the shared modules count: rules, audit, cache, limits, pcap. */
static void
admin_metrics_modules(struct admin *a, struct evbuffer *out,
    const struct rules_snapshot *snap)
{
	struct sluice *sl = a->sl;
	uint64_t x, y;

	admin_metric(out, "sluice_rules_generation", "gauge",
	    "Generation of the loaded rules snapshot.",
	    rules_generation(sl->rules));
	admin_metric(out, "sluice_rules_loaded", "gauge",
	    "Enabled rules in the loaded snapshot.",
	    snap != NULL ? snap->nrules : 0);
	rules_reload_stats(sl->rules, &x, &y);
	admin_metric(out, "sluice_rules_reloads_total", "counter",
	    "Rules snapshots published after the first.", x);
	admin_metric(out, "sluice_rules_reload_failures_total", "counter",
	    "Reloads that failed; the previous rules stayed.", y);
	admin_metric(out, "sluice_audit_queue_depth", "gauge",
	    "Audit records waiting for the writer.", audit_queued(sl->audit));
	admin_metric(out, "sluice_audit_written_total", "counter",
	    "Audit records committed.", audit_written(sl->audit));
	admin_metric(out, "sluice_audit_dropped_total", "counter",
	    "Audit rows that could not be written.", audit_dropped(sl->audit));
	cache_stats(sl->cache, &x, &y);
	admin_metric(out, "sluice_cache_entries", "gauge",
	    "Responses in the cache.", x);
	admin_metric(out, "sluice_cache_bytes", "gauge",
	    "Bytes held by the cache.", y);
	ratelimit_stats(sl->ratelimit, &x, &y);
	admin_metric(out, "sluice_ratelimit_rejected_total", "counter",
	    "Requests refused by a rate limit (429).", x);
	admin_metric(out, "sluice_ratelimit_delayed_total", "counter",
	    "Requests held until their rate-limit token was due.", y);
	admin_metric(out, "sluice_pcap_packets_total", "counter",
	    "Packets written to the --pcap file.",
	    sl->capture != NULL ? capture_packets(sl->capture) : 0);
	admin_metric(out, "sluice_pcap_dropped_total", "counter",
	    "Chunks of captured bytes lost to a full --pcap queue.",
	    sl->capture != NULL ? capture_dropped(sl->capture) : 0);
}

static int
admin_metrics(struct admin *a, struct evbuffer *out)
{
	struct rules_snapshot *snap = rules_acquire(a->sl->rules);
	struct admin_totals t;

	admin_totals(a, &t);
	admin_metrics_requests(a, out, &t);
	admin_metrics_rules(a, out, snap);
	admin_metric(out, "sluice_cache_hits_total", "counter",
	    "Requests answered from the cache.", t.cache_hits);
	admin_metric(out, "sluice_cache_misses_total", "counter",
	    "Requests to a caching rule sent upstream (absent or stale).",
	    t.cache_misses);
	admin_metric(out, "sluice_shared_limit_local_total", "counter",
	    "Decisions of shared limits made by the local bucket (Redis "
	    "down, slow or erroring).", t.shared_local);
	admin_metric(out, "sluice_connections_active", "gauge",
	    "Open client connections.", (uint64_t)atomic_load_explicit(
	    &a->sl->nconns, memory_order_relaxed));
	admin_metric(out, "sluice_upstream_connections_active", "gauge",
	    "Open upstream connections, pooled ones included.",
	    t.upstreams > 0 ? (uint64_t)t.upstreams : 0);
	admin_metrics_tls(a, out, &t);
	admin_metrics_modules(a, out, snap);
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
		return admin_rules(a, out);
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
		log_event(LOG_WARN, "admin_listen_failed", "err=%s",
		    strerror(errno));
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
