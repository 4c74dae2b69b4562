/*
 * front.h - the data path's entry: a worker hands it each accepted socket.
 */
#ifndef SLUICE_FRONT_H
#define SLUICE_FRONT_H

#include <sys/queue.h>
#include <sys/socket.h>

struct conn;
struct dp_env;

/* A worker's client connections, kept by front.c. */
struct front_conns {
	TAILQ_HEAD(, conn)	 list;
	int			 n;
};

/*
 * Take over an accepted socket.  connect_mode: the socket came from a
 * --connect listener (explicit CONNECT), else from a transparent one.
 */
void front_accept(const struct dp_env *, int fd, const struct sockaddr *peer,
    socklen_t peerlen, int connect_mode);

/* Close connections that are idle between requests (draining). */
void front_close_idle(struct front_conns *);
/* Close every connection now (drain timeout, shutdown). */
void front_close_all(struct front_conns *);

#endif
