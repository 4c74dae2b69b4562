/*
 * tls.c - SSL_CTXs for both legs, and the per-connection SSL objects.
 *
 * Owns the keylog file (written under a mutex: key material is rare, one line
 * per handshake).  Does not own the forged certificates (certforge.c) nor any
 * socket I/O (sock.c turns WANT_READ/WANT_WRITE into event changes, through
 * its own BIO).
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
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
			log_event(LOG_WARN, "keylog_open_failed",
			    "path=%s err=%s", path, strerror(errno));
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

/*
 * The protocols a client offered when none of them was ours, kept on its SSL
 * (ex_data, freed with it) for tls_alpn_refused().
 */
static int tls_alpn_idx = -1;

static void
tls_alpn_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
    long argl, void *argp)
{
	free(ptr);
}

/*
 * The client's ALPN list (length-prefixed names) as "h2, spdy/3.1": what it
 * sent is untrusted, so bytes outside printable ASCII become '?' and names
 * that do not fit in TLS_ALPN_SHOWN bytes become "...".
 */
#define TLS_ALPN_SHOWN	120

static void
tls_alpn_remember(SSL *ssl, const unsigned char *in, unsigned int inlen)
{
	char buf[TLS_ALPN_SHOWN + 1], *s;
	size_t n = 0;
	unsigned int i = 0, j, len;

	while (i < inlen) {
		len = in[i++];
		/* Room for this name, its ", " and a ", ..." after it. */
		if (len > inlen - i || n + 2 + len + 5 > TLS_ALPN_SHOWN) {
			memcpy(buf + n, n > 0 ? ", ..." : "...", n > 0 ? 5 : 3);
			n += n > 0 ? 5 : 3;
			break;
		}
		if (n > 0) {
			buf[n++] = ',';
			buf[n++] = ' ';
		}
		for (j = 0; j < len; j++)
			buf[n++] = in[i + j] > 0x20 && in[i + j] < 0x7f ?
			    (char)in[i + j] : '?';
		i += len;
	}
	buf[n] = '\0';
	if ((s = strdup(buf)) == NULL)
		return;
	free(SSL_get_ex_data(ssl, tls_alpn_idx));
	if (SSL_set_ex_data(ssl, tls_alpn_idx, s) != 1)
		free(s);
}

/*
 * Serve h2 and http/1.1, whichever the client lists first: its order is its
 * preference (RFC 7301 3.2 lets the server choose; the client knows best
 * which of its stacks it would rather use).  A client that offers ALPN
 * with neither would otherwise get no ALPN answer and speak, say, spdy/3.1
 * to sluice; it gets the no_application_protocol alert that RFC 7301 asks
 * for instead.  A client that sends no ALPN is served HTTP/1.1.
 */
static int
tls_alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	unsigned int i = 0, len;

	while (i < inlen) {
		len = in[i++];
		if (len > inlen - i)
			break;
		if ((len == 2 && memcmp(in + i, "h2", 2) == 0) ||
		    (len == 8 && memcmp(in + i, "http/1.1", 8) == 0)) {
			*out = in + i;
			*outlen = (unsigned char)len;
			return SSL_TLSEXT_ERR_OK;
		}
		i += len;
	}
	tls_alpn_remember(ssl, in, inlen);
	return SSL_TLSEXT_ERR_ALERT_FATAL;
}

const char *
tls_alpn_refused(SSL *ssl)
{
	return tls_alpn_idx == -1 ? NULL : SSL_get_ex_data(ssl, tls_alpn_idx);
}

/*
 * What clients may negotiate: Mozilla's "intermediate" profile, i.e. only
 * AEAD suites with ECDHE.  The forged leaves are ECDSA P-256 keys
 * (certforge.c), so the profile's RSA and DHE suites could never be chosen
 * and are left out.  TLS 1.3's suites are all AEAD with forward secrecy;
 * they are named so that no openssl.cnf can add others.
 */
#define TLS_CLIENT_CIPHERS	"ECDHE-ECDSA-AES128-GCM-SHA256:" \
				"ECDHE-ECDSA-AES256-GCM-SHA384:" \
				"ECDHE-ECDSA-CHACHA20-POLY1305"
#define TLS_CLIENT_SUITES	"TLS_AES_128_GCM_SHA256:" \
				"TLS_AES_256_GCM_SHA384:" \
				"TLS_CHACHA20_POLY1305_SHA256"
/* Both legs: RSA and DH keys of 2048 bits or more, no SHA-1 signatures. */
#define TLS_SECURITY_LEVEL	2

SSL_CTX *
tls_client_ctx_new(struct certforge *cf, const char *keylog_path,
    int resumption)
{
	SSL_CTX *ctx;

	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL)
		goto fail;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_security_level(ctx, TLS_SECURITY_LEVEL);
	if (SSL_CTX_set_cipher_list(ctx, TLS_CLIENT_CIPHERS) != 1 ||
	    SSL_CTX_set_ciphersuites(ctx, TLS_CLIENT_SUITES) != 1)
		goto fail;
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE);
	if (SSL_CTX_use_PrivateKey(ctx, certforge_leaf_key(cf)) != 1)
		goto fail;
	/* Clients trust the CA itself; sending it helps those that want a chain. */
	if (SSL_CTX_add1_chain_cert(ctx, certforge_ca_cert(cf)) != 1)
		ERR_clear_error();
	if (tls_alpn_idx == -1 && (tls_alpn_idx = SSL_get_ex_new_index(0, NULL,
	    NULL, NULL, tls_alpn_free)) == -1)
		goto fail;
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
	log_ssl_errors("tls_client_context_failed");
	SSL_CTX_free(ctx);
	return NULL;
}

SSL_CTX *
tls_upstream_ctx_new(const char *ca_path, const char *keylog_path)
{
	SSL_CTX *ctx;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		goto fail;
	/*
	 * Beyond TLS 1.2 and the security level, OpenSSL's default suites:
	 * upstreams are real APIs, some of them old, and clients never see
	 * what this leg negotiated.
	 */
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_security_level(ctx, TLS_SECURITY_LEVEL);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (ca_path != NULL) {
		if (SSL_CTX_load_verify_locations(ctx, ca_path, NULL) != 1) {
			/* One line: the last error is the one that says why. */
			const char *why;

			why = ERR_reason_error_string(ERR_peek_last_error());
			log_event(LOG_WARN, "upstream_ca_failed", "path=%s "
			    "err=%s", ca_path, why != NULL ? why :
			    "cannot load it");
			ERR_clear_error();
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
	log_ssl_errors("tls_upstream_context_failed");
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
		log_ssl_errors("tls_client_ssl_failed");
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
	/*
	 * The name must be in a subjectAltName, never only in the CN: a CN
	 * is a display name that not every CA checks, browsers and Go no
	 * longer match it, and public CAs put every name in the SAN.
	 */
	if (util_is_ip_literal(name))
		ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name);
	else {
		SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS |
		    X509_CHECK_FLAG_NEVER_CHECK_SUBJECT);
		ok = SSL_set1_host(ssl, name);
	}
	if (ok != 1)
		goto fail;
	return ssl;
fail:
	log_ssl_errors("tls_upstream_ssl_failed");
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
