/*
 * worker.h - the process-wide context and the event-loop threads.
 *
 * struct sluice is built by main() before any thread starts and is read-only
 * afterwards, except for the atomic connection count.  A worker's counters
 * are written only by its own thread and read by the admin thread (relaxed
 * loads and stores: a plain mov, no lock on the hot path).  Each struct worker is
 * owned by its thread: its event base, listeners, connections, idle upstream
 * pool and rules snapshot are touched by no other thread.  The only way in
 * from outside is worker_stop(), which activates an event.
 */
#ifndef SLUICE_WORKER_H
#define SLUICE_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/queue.h>

#include <openssl/ssl.h>

#include "config.h"

struct audit;
struct cache;
struct capture;
struct ratelimit;
struct ratelimit_redis;
struct certforge;
struct conn;
struct rules_snapshot;
struct upstream_idle;

struct sluice {
	const struct config	*cfg;
	struct certforge	*certforge;
	SSL_CTX			*client_ctx;
	SSL_CTX			*upstream_ctx;
	struct audit		*audit;
	struct ratelimit	*ratelimit;
	struct cache		*cache;
	struct capture		*capture;	/* NULL: no --pcap */
	atomic_int		 nconns;	/* open client connections, all workers */
};

/* The decisions of audit rows, as sluice_requests_total labels them. */
enum worker_decision {
	WORKER_FORWARDED = 0,
	WORKER_DENIED,
	WORKER_RATE_LIMITED,
	WORKER_CACHED,
	WORKER_PASSTHROUGH,
	WORKER_ERROR,
	WORKER_WOULD_DENY,	/* --report-only: forwarded, policy said deny */
	WORKER_OTHER,
	WORKER_NDECISIONS,
};

struct worker_counters {
	_Atomic uint64_t	 requests[WORKER_NDECISIONS];	/* audit rows */
	_Atomic uint64_t	 tls_client_failures;	/* client handshakes */
	_Atomic uint64_t	 shared_local;	/* shared limits decided locally */
};

struct worker {
	int			 id;
	pthread_t		 thread;
	struct sluice		*sl;
	struct event_base	*base;
	struct evdns_base	*dns;
	struct evconnlistener	*listeners[3 * CONFIG_MAX_LISTEN];
	int			 nlisteners;
	int			 listen_fds[3 * CONFIG_MAX_LISTEN];
	int			 listen_connect[3 * CONFIG_MAX_LISTEN];

	TAILQ_HEAD(, conn)	 conns;
	int			 nconns;
	TAILQ_HEAD(, upstream_idle) idle;	/* pooled upstream connections */
	int			 nidle;

	struct rules_snapshot	*rules;
	uint64_t		 rules_gen;

	struct ratelimit_redis	*redis;		/* NULL: no --redis */

	struct worker_counters	 counters;

	struct event		*stop_ev;
	struct event		*drain_timer;
	int			 draining;
};

/*
 * Bind every listener for n workers (fds[w][i]) and create the workers.
 * Returns the array, or NULL after logging why.
 */
struct worker *worker_create_all(struct sluice *, int n);
int worker_start(struct worker *);
/* Ask a worker to drain and exit (thread-safe). */
void worker_stop(struct worker *);
/*
 * Wait for the n workers and free what they own, but not the array: the
 * admin thread may still read their counters.  The caller frees it.
 */
void worker_join_all(struct worker *, int n);

/* The current rules snapshot (refreshed if a new one was published). */
struct rules_snapshot *worker_rules(struct worker *);

/* Called by conn.c when a connection ends (for draining). */
void worker_conn_closed(struct worker *);

/* Count one audit row of this decision (the worker's own thread only). */
void worker_count_request(struct worker *, const char *decision);
/* Count one decision of a shared limit made locally (own thread only). */
void worker_count_shared_local(struct worker *);
/* Count one failed client TLS handshake (the worker's own thread only). */
void worker_count_tls_failure(struct worker *);
/* The label of a decision, "forwarded" ... "other". */
const char *worker_decision_name(enum worker_decision);

#endif
