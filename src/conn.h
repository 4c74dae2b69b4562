/*
 * conn.h - one client connection, from accept to close.
 */
#ifndef SLUICE_CONN_H
#define SLUICE_CONN_H

#include <sys/socket.h>

struct worker;

/*
 * Take over an accepted socket.  connect_mode: the socket came from a
 * --connect listener (explicit CONNECT), else from a transparent one.
 */
void conn_accept(struct worker *, int fd, const struct sockaddr *peer,
    socklen_t peerlen, int connect_mode);

/* Close connections that are idle between requests (draining). */
void conn_close_idle(struct worker *);
/* Close every connection now (drain timeout, shutdown). */
void conn_close_all(struct worker *);

#endif
