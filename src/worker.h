/*
 * worker.h - the process-wide context and the event-loop threads.
 *
 * struct sluice is built by main() before any thread starts and is read-only
 * afterwards, except for the atomic connection count.  A worker's counters
 * are written only by its own thread and read by the admin thread (relaxed
 * loads and stores: a plain mov, no lock on the hot path).  Each struct worker is
 * owned by its thread: its event base, listeners, connections, idle upstream
 * pool and rules snapshot are touched by no other thread.  The only way in
 * from outside is its wake-up channel (wake.h): worker_stop(), and cache
 * flights that another worker finished.  Its connections see none of
 * this: only the struct dp_env (dpenv.h) it fills once, so the data path
 * never includes this header.
 */
#ifndef SLUICE_WORKER_H
#define SLUICE_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/queue.h>

#include <openssl/ssl.h>

#include "config.h"
#include "counters.h"
#include "dpenv.h"
#include "front.h"
#include "h2up.h"
#include "revalidate.h"
#include "upstream.h"
#include "wake.h"

struct audit;
struct cache;
struct capture;
struct ratelimit;
struct ratelimit_redis;
struct certforge;
struct rules;
struct rules_snapshot;

struct sluice {
	const struct config	*cfg;
	struct certforge	*certforge;
	SSL_CTX			*client_ctx;
	SSL_CTX			*upstream_ctx;
	struct audit		*audit;
	struct ratelimit	*ratelimit;
	struct rules		*rules;
	struct cache		*cache;
	struct capture		*capture;	/* NULL: no --pcap */
	atomic_int		 nconns;	/* open client connections, all workers */
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

	struct dp_env		 env;		/* what its connections see */
	struct front_conns	 conns;
	struct upstream_pool	 pool;
	struct h2up_pool	 h2pool;	/* shared HTTP/2 upstreams */
	struct revalidate_list	 revalidating;

	struct rules_snapshot	*rules;
	uint64_t		 rules_gen;

	struct ratelimit_redis	*redis;		/* NULL: no --redis */

	struct counters		 counters;

	struct wake		*wake;		/* other threads' way in */
	struct wake_call	 stop_call;
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

/* Requests counted for this rule id, by this worker (any thread). */
uint64_t worker_rule_requests(const struct worker *, int64_t rule_id);

#endif
