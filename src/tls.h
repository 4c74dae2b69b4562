/*
 * tls.h - the process's SSL_CTXs, built once at start-up.
 *
 * Client side (sluice acts as the server): one SSL_CTX; each connection gets
 * the forged leaf for its name.  Upstream side (sluice acts as the client):
 * one SSL_CTX holding the trust store; each connection verifies the name it
 * dialled.
 */
#ifndef SLUICE_TLS_H
#define SLUICE_TLS_H

#include <openssl/ssl.h>

struct certforge;

/* NULL after logging why.  keylog_path may be NULL. */
SSL_CTX *tls_client_ctx_new(struct certforge *, const char *keylog_path,
    int resumption);
SSL_CTX *tls_upstream_ctx_new(const char *ca_path, const char *keylog_path);

/* A server-side SSL presenting the leaf forged for name. NULL on failure. */
SSL *tls_client_ssl_new(SSL_CTX *, struct certforge *, const char *name);

/*
 * A client-side SSL that sends sni (when it is a DNS name) and verifies the
 * peer's certificate for name (a DNS name or an IP literal).
 */
SSL *tls_upstream_ssl_new(SSL_CTX *, const char *sni, const char *name);

/*
 * After a client handshake failed because the client offered ALPN protocols
 * and none was http/1.1: those protocols, printable and comma-separated
 * ("h2, spdy/3.1"), owned by the SSL.  Otherwise NULL.
 */
const char *tls_alpn_refused(SSL *);

/* Why verification failed, or NULL if it did not. */
const char *tls_verify_error(SSL *);

void tls_keylog_close(void);

#endif
