/*
 * dpenv.h - the data path's environment: what a worker hands the
 * connections it accepts.
 *
 * A worker fills one struct dp_env in its own thread before it accepts
 * anything and never changes it; every connection, pooled upstream and
 * background revalidation keeps a const pointer to it.  The data path
 * (front.c ... respond.c, upstream.c, revalidate.c) includes this header
 * and never worker.h, so worker code depends on connection code and not
 * the other way round.
 *
 * The handles are shared by all workers and have their own locking (rules,
 * cache, audit, limits, capture, the certificate forge); the pointers in
 * the second group lead to the worker's own state, touched by its thread
 * only; the two calls are the only way back into the worker.
 */
#ifndef SLUICE_DPENV_H
#define SLUICE_DPENV_H

#include <stdatomic.h>

#include <openssl/ssl.h>

struct audit;
struct cache;
struct capture;
struct certforge;
struct config;
struct counters;
struct event_base;
struct evdns_base;
struct front_conns;
struct h2up_pool;
struct ratelimit;
struct ratelimit_redis;
struct revalidate_list;
struct rules_snapshot;
struct upstream_pool;
struct wake;

struct dp_env {
	struct event_base	*base;
	struct evdns_base	*dns;
	struct wake		*wake;		/* this worker's, for cache waiters */
	const struct config	*cfg;
	struct certforge	*certforge;
	SSL_CTX			*client_ctx;
	SSL_CTX			*upstream_ctx;
	struct audit		*audit;
	struct ratelimit	*ratelimit;
	struct cache		*cache;
	struct capture		*capture;	/* NULL: no --pcap */
	struct ratelimit_redis	*redis;		/* NULL: no --redis; this
						   worker's client */
	atomic_int		*nconns;	/* open client connections,
						   all workers */

	/* The worker's own state. */
	const int		*draining;	/* set once: finish, keep none */
	struct counters		*counters;
	struct upstream_pool	*pool;		/* idle upstream connections */
	struct h2up_pool	*h2pool;	/* shared HTTP/2 upstreams */
	struct front_conns	*conns;		/* its client connections */
	struct revalidate_list	*revalidating;	/* background revalidations */

	/* Back into the worker, with owner as the argument. */
	struct rules_snapshot	*(*rules)(void *owner);
	void			(*conn_closed)(void *owner);
	void			*owner;
};

/* The current rules snapshot (refreshed if a new one was published). */
struct rules_snapshot *dpenv_rules(const struct dp_env *);
/* A client connection ended (the worker may be waiting for its last). */
void dpenv_conn_closed(const struct dp_env *);

#endif
