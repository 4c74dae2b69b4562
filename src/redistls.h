/*
 * redistls.h - a worker's TLS bridge to Redis, for --redis-tls.
 *
 * Debian 12's hiredis (0.14) speaks no TLS and its async API cannot adopt
 * a socket, so hiredis connects to a unix socket of this bridge instead,
 * and the bridge relays each such connection to Redis over TLS, verified
 * like an upstream.
 */
#ifndef SLUICE_REDISTLS_H
#define SLUICE_REDISTLS_H

#include <openssl/ssl.h>

struct config;
struct event_base;
struct redistls;

/* The upstream SSL_CTX (trust store), set once before workers start. */
void redistls_set_ctx(SSL_CTX *);

/* Listens on a unix socket in a new private directory; NULL after logging. */
struct redistls *redistls_new(const struct config *, struct event_base *);

/* The unix socket hiredis connects to. */
const char *redistls_path(const struct redistls *);

/* Closes every relayed connection and removes the socket and directory. */
void redistls_free(struct redistls *);

#endif
