/*
 * revalidate.h - a cache entry's background revalidation
 * (stale-while-revalidate, RFC 5861, 3).
 */
#ifndef SLUICE_REVALIDATE_H
#define SLUICE_REVALIDATE_H

#include <sys/queue.h>
#include <sys/socket.h>

struct cache_entry;
struct dp_env;
struct msg;
struct revalidate;
struct rule;
struct rules_snapshot;

/* A worker's revalidations in flight. */
TAILQ_HEAD(revalidate_list, revalidate);

/*
 * The client was answered from the stale entry e; unless a revalidation of
 * e already runs (cache_entry_claim), send the request upstream (to addr,
 * with sni, verified for verify_name: a stream of the worker's shared
 * HTTP/2 connection there, else a new connection offered h2 and
 * http/1.1) and refresh or replace e with the answer.  req is the client's request (a
 * copy is kept; its path is the normalised target); rule under rules
 * (referenced here) sets the credentials and the policy; authority (the
 * connection's, port included) is the entry's host in the cache key.
 * client_auth as for cache_storable.  Once sent, the request gets an
 * audit row of its own, decision 'revalidated', with the client ("ip:port")
 * whose request started it and server, the original destination; its
 * host is verify_name, as an exchange's row has it.  Takes
 * nothing from the caller; 0 if started or already running, -1 if it
 * could not start.
 */
int revalidate_start(const struct dp_env *, const struct sockaddr *addr,
    socklen_t addrlen, const char *sni, const char *verify_name,
    struct cache_entry *e, struct rules_snapshot *rules,
    const struct rule *rule, const char *authority, const struct msg *req,
    int client_auth, const char *client, const char *server);

/* Free every revalidation the worker still runs (its exit). */
void revalidate_cancel_all(struct revalidate_list *);

#endif
