/*
 * listener.h - listening sockets and the original destination of a
 * redirected connection.
 */
#ifndef SLUICE_LISTENER_H
#define SLUICE_LISTENER_H

#include <sys/socket.h>

/*
 * A non-blocking listening socket with SO_REUSEPORT, so that each worker can
 * bind its own and the kernel spreads connections.  IPv6 wildcard sockets are
 * dual-stack.  -1 after logging why.
 */
int listener_bind(const struct sockaddr *sa, socklen_t len);

/*
 * The destination the client dialled before netfilter redirected it:
 * SO_ORIGINAL_DST first (IPv4, also for v4-mapped clients on a dual-stack
 * socket), then IP6T_SO_ORIGINAL_DST.  -1 when the connection was not
 * redirected.
 */
int listener_original_dst(int fd, struct sockaddr_storage *ss,
    socklen_t *len);

#endif
