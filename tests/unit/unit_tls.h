/*
 * unit_tls.h - TLS contexts for unit tests that make real connections: a
 * server with a fresh self-signed certificate (certforge_ca_build) and a
 * client that does not verify it; a server ALPN choice set by the test.
 */
#ifndef SLUICE_UNIT_TLS_H
#define SLUICE_UNIT_TLS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "certforge.h"

/* Exits if they cannot be made: nothing would run without them. */
static inline void
unit_tls_contexts(SSL_CTX **server, SSL_CTX **client)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *crt = key ? certforge_ca_build(key, time(NULL)) : NULL;

	*server = SSL_CTX_new(TLS_server_method());
	*client = SSL_CTX_new(TLS_client_method());
	if (crt == NULL || *server == NULL || *client == NULL ||
	    SSL_CTX_use_certificate(*server, crt) != 1 ||
	    SSL_CTX_use_PrivateKey(*server, key) != 1) {
		fprintf(stderr, "cannot make a certificate\n");
		exit(1);
	}
	X509_free(crt);
	EVP_PKEY_free(key);
}

/*
 * A server's ALPN choice: the protocol *arg points to, whatever the
 * client offered (NULL: answer no ALPN).  For SSL_CTX_set_alpn_select_cb
 * with a pointer to the test's variable.
 */
static inline int
unit_tls_alpn_pick(SSL *ssl, const unsigned char **out,
    unsigned char *outlen, const unsigned char *in, unsigned int inlen,
    void *arg)
{
	const char *picks = *(const char **)arg;

	(void)ssl;
	(void)in;
	(void)inlen;
	if (picks == NULL)
		return SSL_TLSEXT_ERR_NOACK;
	*out = (const unsigned char *)picks;
	*outlen = (unsigned char)strlen(picks);
	return SSL_TLSEXT_ERR_OK;
}

#endif
