/*
 * tls.c - SSL_CTXs for both legs, and the per-connection SSL objects.
 *
 * Owns the keylog file (written under a mutex: key material is rare, one line
 * per handshake).  Does not own the forged certificates (certforge.c) nor any
 * socket I/O (libevent's bufferevent_openssl turns WANT_READ/WANT_WRITE into
 * event changes).
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "certforge.h"
#include "log.h"
#include "tls.h"
#include "util.h"

static FILE		*tls_keylog;
static pthread_mutex_t	 tls_keylog_mtx = PTHREAD_MUTEX_INITIALIZER;

static void
tls_keylog_cb(const SSL *ssl, const char *line)
{
	pthread_mutex_lock(&tls_keylog_mtx);
	if (tls_keylog != NULL) {
		fprintf(tls_keylog, "%s\n", line);
		fflush(tls_keylog);
	}
	pthread_mutex_unlock(&tls_keylog_mtx);
}

static int
tls_keylog_open(SSL_CTX *ctx, const char *path)
{
	if (path == NULL)
		return 0;
	pthread_mutex_lock(&tls_keylog_mtx);
	if (tls_keylog == NULL) {
		int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
		    0600);
		if (fd == -1 || (tls_keylog = fdopen(fd, "a")) == NULL) {
			pthread_mutex_unlock(&tls_keylog_mtx);
			log_warn("keylog: %s", path);
			return -1;
		}
	}
	pthread_mutex_unlock(&tls_keylog_mtx);
	SSL_CTX_set_keylog_callback(ctx, tls_keylog_cb);
	return 0;
}

void
tls_keylog_close(void)
{
	pthread_mutex_lock(&tls_keylog_mtx);
	if (tls_keylog != NULL)
		fclose(tls_keylog);
	tls_keylog = NULL;
	pthread_mutex_unlock(&tls_keylog_mtx);
}

/* Offer only HTTP/1.1 until HTTP/2 is implemented. */
static int
tls_alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	static const unsigned char ours[] = "\x08http/1.1";

	if (SSL_select_next_proto((unsigned char **)out, outlen, ours,
	    sizeof(ours) - 1, in, inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK;
	return SSL_TLSEXT_ERR_OK;
}

SSL_CTX *
tls_client_ctx_new(struct certforge *cf, const char *keylog_path,
    int resumption)
{
	SSL_CTX *ctx;

	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL)
		goto fail;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE);
	if (SSL_CTX_use_PrivateKey(ctx, certforge_leaf_key(cf)) != 1)
		goto fail;
	/* Clients trust the CA itself; sending it helps those that want a chain. */
	if (SSL_CTX_add1_chain_cert(ctx, certforge_ca_cert(cf)) != 1)
		ERR_clear_error();
	SSL_CTX_set_alpn_select_cb(ctx, tls_alpn_select, NULL);
	if (resumption) {
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
		SSL_CTX_set_session_id_context(ctx,
		    (const unsigned char *)"sluice", 6);
	} else {
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
		SSL_CTX_set_num_tickets(ctx, 0);
	}
	if (tls_keylog_open(ctx, keylog_path) == -1)
		goto fail;
	return ctx;
fail:
	log_ssl_errors("tls: client context");
	SSL_CTX_free(ctx);
	return NULL;
}

SSL_CTX *
tls_upstream_ctx_new(const char *ca_path, const char *keylog_path)
{
	SSL_CTX *ctx;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		goto fail;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (ca_path != NULL) {
		if (SSL_CTX_load_verify_locations(ctx, ca_path, NULL) != 1) {
			log_warnx("tls: cannot load upstream CA %s", ca_path);
			goto fail;
		}
	} else if (SSL_CTX_set_default_verify_paths(ctx) != 1)
		goto fail;
	if (SSL_CTX_set_alpn_protos(ctx, (const unsigned char *)"\x08http/1.1",
	    9) != 0)
		goto fail;
	if (tls_keylog_open(ctx, keylog_path) == -1)
		goto fail;
	return ctx;
fail:
	log_ssl_errors("tls: upstream context");
	SSL_CTX_free(ctx);
	return NULL;
}

SSL *
tls_client_ssl_new(SSL_CTX *ctx, struct certforge *cf, const char *name)
{
	SSL *ssl = NULL;
	X509 *leaf;

	if ((leaf = certforge_get(cf, name)) == NULL)
		return NULL;
	if ((ssl = SSL_new(ctx)) == NULL ||
	    SSL_use_certificate(ssl, leaf) != 1) {
		log_ssl_errors("tls: client ssl");
		SSL_free(ssl);
		ssl = NULL;
	}
	X509_free(leaf);
	return ssl;
}

SSL *
tls_upstream_ssl_new(SSL_CTX *ctx, const char *sni, const char *name)
{
	SSL *ssl;
	int ok;

	if ((ssl = SSL_new(ctx)) == NULL)
		goto fail;
	if (sni != NULL && sni[0] != '\0' && !util_is_ip_literal(sni) &&
	    SSL_set_tlsext_host_name(ssl, sni) != 1)
		goto fail;
	if (util_is_ip_literal(name))
		ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name);
	else {
		SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		ok = SSL_set1_host(ssl, name);
	}
	if (ok != 1)
		goto fail;
	return ssl;
fail:
	log_ssl_errors("tls: upstream ssl");
	SSL_free(ssl);
	return NULL;
}

const char *
tls_verify_error(SSL *ssl)
{
	long r = SSL_get_verify_result(ssl);

	if (r == X509_V_OK)
		return NULL;
	return X509_verify_cert_error_string(r);
}
