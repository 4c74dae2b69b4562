/*
 * listener.h - listening sockets and the original destination of a
 * redirected connection.
 */
#ifndef SLUICE_LISTENER_H
#define SLUICE_LISTENER_H

#include <sys/socket.h>

struct config;

/*
 * A non-blocking listening socket with SO_REUSEPORT, so that each worker can
 * bind its own and the kernel spreads connections.  IPv6 wildcard sockets are
 * dual-stack.  transparent: IP_TRANSPARENT / IPV6_TRANSPARENT, for TPROXY
 * (--tproxy; needs CAP_NET_ADMIN).  -1 after logging why.
 */
int listener_bind(const struct sockaddr *sa, socklen_t len, int transparent);

/*
 * The destination the client dialled before netfilter diverted it to the
 * accepted socket fd: the socket's own local address if it came through a
 * --tproxy listener, else SO_ORIGINAL_DST (IPv4, also for v4-mapped clients
 * on a dual-stack socket), then IP6T_SO_ORIGINAL_DST.  -1 when the
 * connection was not diverted, including a client that dialled one of
 * sluice's listeners itself (sluice would dial itself).
 */
int listener_destination(const struct config *cfg, int fd,
    struct sockaddr_storage *ss, socklen_t *len);

#endif
