/*
 * test_tls.c - what the client-side SSL_CTX lets a client negotiate.
 *
 * A client SSL and sluice's server SSL (tls_client_ctx_new, a leaf forged by
 * a certforge made in a mkdtemp() directory) shake hands in memory over a
 * BIO pair.  Checked: the ALPN answer (http/1.1, nothing, or the
 * no_application_protocol alert with the refused list kept for the audit,
 * printable and bounded) and the TLS 1.2 suites (AEAD with ECDHE only).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "certforge.h"
#include "tls.h"
#include "unit.h"

static char tmpdir[] = "/tmp/test_tls.XXXXXX";
static struct certforge *cf;
static SSL_CTX *server_ctx;

static void
make_ca(char *crtpath, char *keypath)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *ca = key ? certforge_ca_build(key, time(NULL)) : NULL;
	FILE *f;

	snprintf(crtpath, 256, "%s/ca.crt", tmpdir);
	snprintf(keypath, 256, "%s/ca.key", tmpdir);
	if (ca == NULL || (f = fopen(crtpath, "w")) == NULL ||
	    !PEM_write_X509(f, ca) || fclose(f) != 0 ||
	    (f = fopen(keypath, "w")) == NULL ||
	    !PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) ||
	    fclose(f) != 0) {
		fprintf(stderr, "cannot make a CA in %s\n", tmpdir);
		exit(1);
	}
	X509_free(ca);
	EVP_PKEY_free(key);
}

struct result {
	int		 ok;		/* both sides finished the handshake */
	char		 alpn[64];	/* what the client got, "" for none */
	char		 cipher[64];
	char		 refused[256];	/* tls_alpn_refused(), "" for NULL */
	unsigned long	 client_err;	/* the client's first OpenSSL error */
};

/*
 * One handshake; alpn is the client's wire list (alpnlen 0: no ALPN),
 * cipher its TLS 1.2 cipher list (NULL: OpenSSL's default, TLS 1.3).
 */
static struct result
handshake(const char *alpn, unsigned alpnlen, const char *cipher)
{
	struct result r;
	SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
	SSL *c = SSL_new(cctx);
	SSL *s = tls_client_ssl_new(server_ctx, cf, "api.test");
	BIO *cb, *sb;
	const unsigned char *sel;
	unsigned sellen;
	const char *refused;
	int i, cdone = 0, sdone = 0, cfail = 0, sfail = 0;

	memset(&r, 0, sizeof(r));
	if (c == NULL || s == NULL || BIO_new_bio_pair(&cb, 0, &sb, 0) != 1) {
		fprintf(stderr, "cannot set up a handshake\n");
		exit(1);
	}
	SSL_set_bio(c, cb, cb);
	SSL_set_bio(s, sb, sb);
	SSL_set_connect_state(c);
	SSL_set_accept_state(s);
	SSL_set_tlsext_host_name(c, "api.test");
	if (alpnlen > 0)
		SSL_set_alpn_protos(c, (const unsigned char *)alpn, alpnlen);
	if (cipher != NULL) {
		SSL_set_max_proto_version(c, TLS1_2_VERSION);
		SSL_set_cipher_list(c, cipher);
	}
	ERR_clear_error();
	for (i = 0; i < 20 && !(cdone && sdone) && !cfail && !sfail; i++) {
		if (!cdone) {
			int rc = SSL_do_handshake(c);

			cdone = rc == 1;
			if (rc <= 0 && SSL_get_error(c, rc) != SSL_ERROR_WANT_READ) {
				cfail = 1;
				r.client_err = ERR_peek_error();
			}
		}
		if (!sdone) {
			int rc = SSL_do_handshake(s);

			sdone = rc == 1;
			sfail = rc <= 0 &&
			    SSL_get_error(s, rc) != SSL_ERROR_WANT_READ;
		}
	}
	/* The server's alert is read by the client's next step. */
	if (sfail && !cfail && SSL_do_handshake(c) <= 0)
		r.client_err = ERR_peek_error();
	ERR_clear_error();
	r.ok = cdone && sdone;
	SSL_get0_alpn_selected(c, &sel, &sellen);
	snprintf(r.alpn, sizeof(r.alpn), "%.*s", (int)sellen, sel);
	if (r.ok)
		snprintf(r.cipher, sizeof(r.cipher), "%s",
		    SSL_get_cipher_name(c));
	refused = tls_alpn_refused(s);
	snprintf(r.refused, sizeof(r.refused), "%s", refused ? refused : "");
	SSL_free(c);
	SSL_free(s);
	SSL_CTX_free(cctx);
	return r;
}

#define WIRE(s)	(s), sizeof(s) - 1

static void
test_alpn(void)
{
	struct result r;
	char wire[512], want[256];
	unsigned n = 0;
	int i;

	r = handshake(WIRE("\x08spdy/3.1"), NULL);
	CHECK(!r.ok, "only spdy/3.1: the handshake fails");
	CHECK(ERR_GET_REASON(r.client_err) ==
	    SSL_R_TLSV1_ALERT_NO_APPLICATION_PROTOCOL,
	    "only spdy/3.1: the client gets no_application_protocol");
	CHECK(strcmp(r.refused, "spdy/3.1") == 0,
	    "only spdy/3.1: the refused list is spdy/3.1");

	r = handshake(WIRE("\x08spdy/3.1\x08http/1.1"), NULL);
	CHECK(r.ok && strcmp(r.alpn, "http/1.1") == 0,
	    "spdy/3.1,http/1.1: http/1.1 is selected");
	CHECK(r.refused[0] == '\0', "spdy/3.1,http/1.1: nothing refused");

	r = handshake(NULL, 0, NULL);
	CHECK(r.ok && r.alpn[0] == '\0', "no ALPN: served, no ALPN answer");
	CHECK(r.refused[0] == '\0', "no ALPN: nothing refused");

	r = handshake(WIRE("\x08spdy/3.1"), "ECDHE-ECDSA-AES128-GCM-SHA256");
	CHECK(!r.ok && strcmp(r.refused, "spdy/3.1") == 0,
	    "only spdy/3.1 on TLS 1.2: refused too");

	r = handshake(WIRE("\x03" "a\nb" "\x03" "h\xffx" "\x05spdy "), NULL);
	CHECK(strcmp(r.refused, "a?b, h?x, spdy?") == 0,
	    "bytes outside printable ASCII are shown as '?'");

	/* 40 names of 10 bytes: more than fits, cut at a name with ", ...". */
	for (i = 0; i < 40; i++) {
		wire[n++] = 10;
		n += (unsigned)snprintf(wire + n, sizeof(wire) - n, "proto-%04d",
		    i);
	}
	r = handshake(wire, n, NULL);
	CHECK(strlen(r.refused) <= 120, "a long list is cut at 120 bytes");
	CHECK(strncmp(r.refused, "proto-0000, proto-0001, ", 24) == 0 &&
	    strcmp(r.refused + strlen(r.refused) - 5, ", ...") == 0,
	    "a long list shows its first names, then ', ...'");
	memset(want, 'x', 200);
	wire[0] = (char)200;
	memcpy(wire + 1, want, 200);
	r = handshake(wire, 201, NULL);
	CHECK(strcmp(r.refused, "...") == 0, "one overlong name is '...'");
}

/* Issue 9: h2 or http/1.1, whichever the client lists first. */
static void
test_alpn_preference(void)
{
	struct result r;

	r = handshake(WIRE("\x02h2\x08http/1.1"), NULL);
	CHECK(r.ok && strcmp(r.alpn, "h2") == 0, "h2,http/1.1: h2 is selected");
	r = handshake(WIRE("\x08http/1.1\x02h2"), NULL);
	CHECK(r.ok && strcmp(r.alpn, "http/1.1") == 0,
	    "http/1.1,h2: http/1.1 is selected");
	r = handshake(WIRE("\x02h2"), NULL);
	CHECK(r.ok && strcmp(r.alpn, "h2") == 0 && r.refused[0] == '\0',
	    "only h2: h2 is selected");
	r = handshake(WIRE("\x02h2"), "ECDHE-ECDSA-AES128-GCM-SHA256");
	CHECK(r.ok && strcmp(r.alpn, "h2") == 0, "only h2 on TLS 1.2: h2");
	r = handshake(WIRE("\x08spdy/3.1\x02h3\x02h2"), NULL);
	CHECK(r.ok && strcmp(r.alpn, "h2") == 0,
	    "spdy/3.1,h3,h2: h2, past what sluice does not serve");
	r = handshake(WIRE("\x08spdy/3.1\x02h3"), NULL);
	CHECK(!r.ok && ERR_GET_REASON(r.client_err) ==
	    SSL_R_TLSV1_ALERT_NO_APPLICATION_PROTOCOL &&
	    strcmp(r.refused, "spdy/3.1, h3") == 0,
	    "neither: no_application_protocol, the list remembered");
}

static void
test_suites(void)
{
	static const char *aead[] = { "ECDHE-ECDSA-AES128-GCM-SHA256",
	    "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305" };
	static const char *refused[] = { "ECDHE-ECDSA-AES128-SHA",
	    "ECDHE-ECDSA-AES256-SHA384", "AES128-GCM-SHA256",
	    "ECDHE-RSA-AES128-GCM-SHA256" };
	struct result r;
	char what[128];
	size_t i;

	for (i = 0; i < sizeof(aead) / sizeof(aead[0]); i++) {
		r = handshake(NULL, 0, aead[i]);
		snprintf(what, sizeof(what), "TLS 1.2 with %s works", aead[i]);
		CHECK(r.ok && strcmp(r.cipher, aead[i]) == 0, what);
	}
	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		r = handshake(NULL, 0, refused[i]);
		snprintf(what, sizeof(what), "TLS 1.2 with %s is refused",
		    refused[i]);
		CHECK(!r.ok, what);
	}
}

int
main(void)
{
	char crt[256], key[256];

	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	make_ca(crt, key);
	if ((cf = certforge_new(crt, key, 10)) == NULL ||
	    (server_ctx = tls_client_ctx_new(cf, NULL, 1)) == NULL) {
		fprintf(stderr, "cannot make the client-side context\n");
		return 1;
	}
	test_alpn();
	test_alpn_preference();
	test_suites();
	SSL_CTX_free(server_ctx);
	certforge_free(cf);
	unlink(crt);
	unlink(key);
	rmdir(tmpdir);
	return unit_done();
}
