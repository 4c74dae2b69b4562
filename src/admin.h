/*
 * admin.h - the --admin HTTP listener: health, readiness, metrics, rules.
 *
 * One thread with its own event_base and evhttp, apart from the workers.
 * It only reads: the workers' counters (relaxed atomics), the process-wide
 * atomics and a reference to the current rules snapshot.
 */
#ifndef SLUICE_ADMIN_H
#define SLUICE_ADMIN_H

#include <sys/socket.h>

struct admin;
struct sluice;
struct worker;

/* Is this address loopback (127.0.0.0/8, ::1, ::ffff:127.x.x.x)? */
int admin_addr_is_loopback(const struct sockaddr *);

/*
 * Bind the admin address and build the server for the n workers ws.  Needs
 * libevent's threading set up (worker_create_all()).  Returns NULL after
 * logging why.
 */
struct admin *admin_new(struct sluice *, struct worker *ws, int n,
    const struct sockaddr *addr, socklen_t addrlen);
int admin_start(struct admin *);
/* Listeners bound, rules loaded, workers running: /readyz says 200. */
void admin_set_ready(struct admin *);
/* SIGTERM received: /healthz and /readyz say 503. */
void admin_set_draining(struct admin *);
/* Stop the thread and free everything; NULL is a no-op. */
void admin_free(struct admin *);

#endif
