/*
 * test_clienthello.c - the ClientHello peek on real and crafted input.
 *
 * Real ClientHellos come from OpenSSL itself: an SSL client on a BIO pair,
 * one SSL_connect(), and whatever it wrote.  Crafted ones are built byte by
 * byte to reach the malformed cases a real client never sends.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/ssl.h>

#include "clienthello.h"
#include "unit.h"

#define BUFSZ	(CLIENTHELLO_MAX + 4096)

struct bytes {
	uint8_t	b[BUFSZ];
	size_t	len;
};

static void
put8(struct bytes *o, unsigned v)
{
	o->b[o->len++] = (uint8_t)v;
}

static void
put16(struct bytes *o, unsigned v)
{
	put8(o, v >> 8);
	put8(o, v);
}

static void
put(struct bytes *o, const void *p, size_t n)
{
	memcpy(o->b + o->len, p, n);
	o->len += n;
}

static void
rec_hdr(struct bytes *o, unsigned type, size_t len)
{
	put8(o, type);
	put16(o, 0x0301);
	put16(o, (unsigned)len);
}

/* What an OpenSSL client sends first; maxver 0 means the default. */
static size_t
real_hello(const char *sni, int maxver, struct bytes *o)
{
	SSL_CTX *ctx;
	SSL *ssl;
	BIO *ib, *nb;
	int n;

	ctx = SSL_CTX_new(TLS_client_method());
	ssl = SSL_new(ctx);
	BIO_new_bio_pair(&ib, 0, &nb, 0);
	SSL_set_bio(ssl, ib, ib);
	if (sni != NULL)
		SSL_set_tlsext_host_name(ssl, sni);
	if (maxver != 0)
		SSL_set_max_proto_version(ssl, maxver);
	SSL_connect(ssl);
	n = BIO_read(nb, o->b, sizeof(o->b));
	o->len = n > 0 ? (size_t)n : 0;
	BIO_free(nb);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	return o->len;
}

/*
 * Re-frame the handshake bytes of a one-record hello into records cut at
 * cuts[] (offsets into the handshake bytes, increasing).
 */
static void
reframe(const struct bytes *in, const size_t *cuts, size_t ncuts,
    struct bytes *o)
{
	const uint8_t *hs = in->b + 5;
	size_t hslen = in->len - 5, from = 0, to, i;

	o->len = 0;
	for (i = 0; i <= ncuts; i++) {
		to = i < ncuts ? cuts[i] : hslen;
		rec_hdr(o, 22, to - from);
		put(o, hs + from, to - from);
		from = to;
	}
}

static enum clienthello_result
parse(const struct bytes *in, char *sni)
{
	return clienthello_parse(in->b, in->len, sni, 256);
}

/* MORE for every proper prefix. */
static int
all_prefixes_more(const struct bytes *in)
{
	char sni[256];
	size_t i;

	for (i = 0; i < in->len; i++)
		if (clienthello_parse(in->b, i, sni, sizeof(sni)) !=
		    CLIENTHELLO_MORE) {
			printf("# prefix %zu of %zu is not MORE\n", i, in->len);
			return 0;
		}
	return 1;
}

static int
parses_to(const struct bytes *in, const char *want)
{
	char sni[256];

	memset(sni, 'x', sizeof(sni));
	return parse(in, sni) == CLIENTHELLO_OK && strcmp(sni, want) == 0;
}

static int
is_bad(const struct bytes *in)
{
	char sni[256];

	memset(sni, 'x', sizeof(sni));
	return parse(in, sni) == CLIENTHELLO_BAD && sni[0] == '\0';
}

static void
test_real(void)
{
	struct bytes h, o;
	size_t cuts[3], i, n;
	char what[96];
	char sni[256];

	real_hello("api.example.com", 0, &h);
	CHECK(h.len > 100 && h.b[0] == 22, "OpenSSL wrote a handshake record");
	CHECK(parses_to(&h, "api.example.com"), "real hello: SNI found");
	CHECK(all_prefixes_more(&h), "real hello: every truncation is MORE");

	real_hello(NULL, 0, &h);
	CHECK(parses_to(&h, ""), "real hello without SNI: OK, empty name");

	real_hello("API.Example.COM", 0, &h);
	CHECK(parses_to(&h, "api.example.com"), "uppercase SNI lowercased");

	real_hello("example.com.", 0, &h);
	CHECK(parses_to(&h, "example.com"), "trailing dot stripped");

	real_hello("tls12.example.com", TLS1_2_VERSION, &h);
	CHECK(parses_to(&h, "tls12.example.com"), "TLS 1.2 hello: SNI found");

	real_hello("svc_a.internal", 0, &h);
	CHECK(parses_to(&h, "svc_a.internal"), "underscore allowed");

	real_hello("split.example.com", 0, &h);
	/* Cuts inside the handshake header and inside the body. */
	for (n = 1; n < 6; n++) {
		cuts[0] = n;
		reframe(&h, cuts, 1, &o);
		snprintf(what, sizeof(what),
		    "2 records cut at handshake byte %zu", n);
		CHECK(parses_to(&o, "split.example.com"), what);
	}
	cuts[0] = (h.len - 5) / 2;
	reframe(&h, cuts, 1, &o);
	CHECK(parses_to(&o, "split.example.com"), "2 records cut mid-way");
	CHECK(all_prefixes_more(&o), "2 records: every truncation is MORE");
	cuts[0] = h.len - 5 - 1;
	reframe(&h, cuts, 1, &o);
	CHECK(parses_to(&o, "split.example.com"),
	    "2 records, the second of one byte");

	cuts[0] = 10;
	cuts[1] = 60;
	cuts[2] = 61;
	reframe(&h, cuts, 3, &o);
	CHECK(parses_to(&o, "split.example.com"), "4 records");

	/* One record per handshake byte. */
	o.len = 0;
	for (i = 5; i < h.len; i++) {
		rec_hdr(&o, 22, 1);
		put8(&o, h.b[i]);
	}
	CHECK(parses_to(&o, "split.example.com"), "one record per byte");

	/* What follows the hello is not our business. */
	o = h;
	rec_hdr(&o, 23, 3);
	put(&o, "abc", 3);
	CHECK(parses_to(&o, "split.example.com"),
	    "application data after the hello ignored");
	o = h;
	memset(o.b + o.len, 0xff, CLIENTHELLO_MAX);
	o.len += CLIENTHELLO_MAX;
	CHECK(parses_to(&o, "split.example.com"),
	    "hello followed by more than CLIENTHELLO_MAX bytes");

	/* A record of another type between fragments. */
	cuts[0] = 20;
	reframe(&h, cuts, 1, &o);
	memmove(o.b + 5 + 20 + 6, o.b + 5 + 20, o.len - 5 - 20);
	o.b[25] = 20;		/* change_cipher_spec */
	o.b[26] = 3;
	o.b[27] = 3;
	o.b[28] = 0;
	o.b[29] = 1;
	o.b[30] = 1;
	o.len += 6;
	CHECK(is_bad(&o), "non-handshake record between fragments: BAD");

	o = h;
	o.b[0] = 23;
	CHECK(is_bad(&o), "application_data content type: BAD");
	o = h;
	o.b[5] = 2;
	CHECK(is_bad(&o), "handshake type ServerHello: BAD");
	CHECK(clienthello_parse(o.b, 6, sni, sizeof(sni)) == CLIENTHELLO_BAD,
	    "wrong handshake type refused from its first byte");
	o = h;
	o.b[1] = 2;
	CHECK(is_bad(&o), "record version 2.x: BAD");

	/* Small sni buffers: the name must fit with its NUL. */
	n = strlen("split.example.com");
	CHECK(clienthello_parse(h.b, h.len, sni, n + 1) == CLIENTHELLO_OK &&
	    strcmp(sni, "split.example.com") == 0,
	    "sni buffer just large enough");
	memset(sni, 'x', sizeof(sni));
	CHECK(clienthello_parse(h.b, h.len, sni, n) == CLIENTHELLO_BAD &&
	    sni[0] == '\0', "sni buffer one byte short: BAD, sni empty");
	CHECK(clienthello_parse(h.b, h.len, sni, 0) == CLIENTHELLO_BAD,
	    "sni buffer of 0: BAD");
}

static void
test_not_tls(void)
{
	static const char http[] =
	    "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";
	/* An SSLv2-compatible ClientHello header (RFC 5246 E.2). */
	static const uint8_t sslv2[] = { 0x80, 0x2e, 0x01, 0x03, 0x01, 0x00,
	    0x15, 0x00, 0x00, 0x00, 0x10 };
	static const uint8_t garbage[] = { 0x16, 0x03, 0x01, 0x00, 0x00 };
	static const uint8_t huge_rec[] = { 0x16, 0x03, 0x01, 0x40, 0x01 };
	static const uint8_t huge_hs[] = { 0x16, 0x03, 0x01, 0x00, 0x04,
	    0x01, 0x00, 0x40, 0x00 };
	static const uint8_t zeros[64];
	char sni[256];

	CHECK(clienthello_parse((const uint8_t *)http, strlen(http), sni,
	    sizeof(sni)) == CLIENTHELLO_BAD, "HTTP request: BAD");
	CHECK(clienthello_parse((const uint8_t *)http, 1, sni, sizeof(sni)) ==
	    CLIENTHELLO_BAD, "HTTP request refused from its first byte");
	CHECK(clienthello_parse(sslv2, sizeof(sslv2), sni, sizeof(sni)) ==
	    CLIENTHELLO_BAD, "SSLv2 hello: BAD");
	CHECK(clienthello_parse(zeros, sizeof(zeros), sni, sizeof(sni)) ==
	    CLIENTHELLO_BAD, "zeros: BAD");
	CHECK(clienthello_parse(garbage, sizeof(garbage), sni, sizeof(sni)) ==
	    CLIENTHELLO_BAD, "empty handshake record: BAD");
	CHECK(clienthello_parse(huge_rec, sizeof(huge_rec), sni, sizeof(sni)) ==
	    CLIENTHELLO_BAD, "record longer than 2^14: BAD");
	CHECK(clienthello_parse(huge_hs, sizeof(huge_hs), sni, sizeof(sni)) ==
	    CLIENTHELLO_BAD, "handshake longer than CLIENTHELLO_MAX: BAD");
	CHECK(clienthello_parse(zeros, 0, sni, sizeof(sni)) ==
	    CLIENTHELLO_MORE, "nothing yet: MORE");
}

/*
 * A crafted ClientHello: TLS 1.2 layout, one cipher suite, null
 * compression, then exts (or no extensions block at all when exts is NULL).
 */
static void
craft(struct bytes *o, const struct bytes *exts)
{
	struct bytes body;
	uint8_t random[32] = { 0 };

	body.len = 0;
	put16(&body, 0x0303);
	put(&body, random, sizeof(random));
	put8(&body, 0);			/* session id */
	put16(&body, 2);
	put16(&body, 0x1301);
	put8(&body, 1);
	put8(&body, 0);
	if (exts != NULL) {
		put16(&body, (unsigned)exts->len);
		put(&body, exts->b, exts->len);
	}
	o->len = 0;
	rec_hdr(o, 22, body.len + 4);
	put8(o, 1);
	put8(o, (unsigned)(body.len >> 16));
	put16(o, (unsigned)body.len);
	put(o, body.b, body.len);
}

/* Append a server_name extension with one entry per (type, name). */
static void
sni_ext(struct bytes *exts, size_t n, const unsigned *types,
    const char **names)
{
	size_t i, list = 0;

	for (i = 0; i < n; i++)
		list += 3 + strlen(names[i]);
	put16(exts, 0);
	put16(exts, (unsigned)(list + 2));
	put16(exts, (unsigned)list);
	for (i = 0; i < n; i++) {
		put8(exts, types[i]);
		put16(exts, (unsigned)strlen(names[i]));
		put(exts, names[i], strlen(names[i]));
	}
}

static int
crafted_sni(const char *name, const char *want)
{
	static struct bytes exts, o;
	unsigned type = 0;

	exts.len = 0;
	sni_ext(&exts, 1, &type, &name);
	craft(&o, &exts);
	return want == NULL ? is_bad(&o) : parses_to(&o, want);
}

static void
test_crafted(void)
{
	static struct bytes exts, o, big;
	static const unsigned two_hosts[] = { 0, 0 };
	static const unsigned other_then_host[] = { 7, 0 };
	static const uint8_t next_hdr[] = { 22, 3, 1, 0, 1 };
	const char *names[] = { "a.example", "b.example" };
	char name[300], want[300];
	size_t i;

	craft(&o, NULL);
	CHECK(parses_to(&o, ""), "no extensions block: OK, no SNI");
	CHECK(all_prefixes_more(&o), "crafted: every truncation is MORE");

	exts.len = 0;
	put16(&exts, 0x000a);			/* supported_groups */
	put16(&exts, 4);
	put16(&exts, 2);
	put16(&exts, 0x001d);
	craft(&o, &exts);
	CHECK(parses_to(&o, ""), "extensions without server_name: OK");

	CHECK(crafted_sni("crafted.example", "crafted.example"),
	    "crafted SNI found");
	CHECK(crafted_sni("bad!host", NULL), "'!' in SNI: BAD");
	CHECK(crafted_sni("bad host", NULL), "space in SNI: BAD");
	CHECK(crafted_sni("a..b", NULL), "empty label: BAD");
	CHECK(crafted_sni(".a.b", NULL), "leading dot: BAD");
	CHECK(crafted_sni("a.b..", NULL), "two trailing dots: BAD");
	CHECK(crafted_sni(".", NULL), "lone dot: BAD");
	CHECK(crafted_sni("", NULL), "empty name: BAD");
	CHECK(crafted_sni("[::1]", NULL), "IPv6 literal: BAD");
	CHECK(crafted_sni("caf\xc3\xa9.example", NULL), "non-ASCII: BAD");

	/* 253 bytes: labels of 63 + 63 + 63 + 61. */
	memset(name, 'a', 253);
	name[63] = name[127] = name[191] = '.';
	name[253] = '\0';
	CHECK(crafted_sni(name, name), "253-byte name: OK");
	strcpy(want, name);
	name[253] = '.';
	name[254] = '\0';
	CHECK(crafted_sni(name, want), "253 bytes plus trailing dot: OK");
	name[253] = 'a';
	CHECK(crafted_sni(name, NULL), "254-byte name: BAD");
	memset(name, 'a', 64);
	strcpy(name + 64, ".example");
	CHECK(crafted_sni(name, NULL), "64-byte label: BAD");
	strcpy(name + 63, ".example");
	CHECK(crafted_sni(name, name), "63-byte label: OK");

	/* A NUL inside the name. */
	exts.len = 0;
	put16(&exts, 0);
	put16(&exts, 2 + 3 + 3);
	put16(&exts, 3 + 3);
	put8(&exts, 0);
	put16(&exts, 3);
	put(&exts, "a\0b", 3);
	craft(&o, &exts);
	CHECK(is_bad(&o), "NUL in SNI: BAD");

	exts.len = 0;
	sni_ext(&exts, 2, two_hosts, names);
	craft(&o, &exts);
	CHECK(is_bad(&o), "two host_name entries: BAD");

	exts.len = 0;
	sni_ext(&exts, 2, other_then_host, names);
	craft(&o, &exts);
	CHECK(parses_to(&o, "b.example"), "unknown name type skipped");

	exts.len = 0;
	sni_ext(&exts, 1, other_then_host, names);
	craft(&o, &exts);
	CHECK(parses_to(&o, ""), "server_name without host_name: OK, empty");

	exts.len = 0;
	sni_ext(&exts, 1, two_hosts, names);
	sni_ext(&exts, 1, two_hosts, names + 1);
	craft(&o, &exts);
	CHECK(is_bad(&o), "two server_name extensions: BAD");

	exts.len = 0;
	put16(&exts, 0);
	put16(&exts, 0);
	craft(&o, &exts);
	CHECK(is_bad(&o), "empty server_name extension: BAD");

	exts.len = 0;
	put16(&exts, 0);
	put16(&exts, 2);
	put16(&exts, 0);
	craft(&o, &exts);
	CHECK(is_bad(&o), "empty server_name list: BAD");

	/* Lengths that do not add up. */
	exts.len = 0;
	sni_ext(&exts, 1, two_hosts, names);
	craft(&o, &exts);
	o.b[o.len - 13]++;			/* list length, low byte */
	CHECK(is_bad(&o), "server_name list longer than its extension: BAD");

	exts.len = 0;
	sni_ext(&exts, 1, two_hosts, names);
	craft(&o, &exts);
	o.b[o.len - 10]++;			/* name length, low byte */
	CHECK(is_bad(&o), "host_name longer than its list: BAD");

	exts.len = 0;
	sni_ext(&exts, 1, two_hosts, names);
	craft(&o, &exts);
	o.b[o.len - exts.len - 1]--;		/* extensions length */
	CHECK(is_bad(&o), "extensions block shorter than the message: BAD");

	craft(&o, NULL);
	o.b[5 + 4 + 2 + 32] = 33;		/* session id length */
	CHECK(is_bad(&o), "session id of 33 bytes: BAD");

	craft(&o, NULL);
	o.b[5 + 4 + 2 + 32 + 1 + 1] = 3;	/* cipher suites length */
	CHECK(is_bad(&o), "odd cipher suites length: BAD");

	craft(&o, NULL);
	o.b[5 + 4] = 2;				/* legacy_version */
	CHECK(is_bad(&o), "legacy_version 2.x: BAD");

	craft(&o, NULL);
	o.b[5 + 4 + 2 + 32 + 1 + 2 + 2] = 0;	/* compression count */
	CHECK(is_bad(&o), "no compression methods: BAD");

	/* Lengths agree but the message ends inside the random. */
	o.len = 0;
	rec_hdr(&o, 22, 4 + 10);
	put8(&o, 1);
	put8(&o, 0);
	put16(&o, 10);
	put16(&o, 0x0303);
	memset(o.b + o.len, 0, 8);
	o.len += 8;
	CHECK(is_bad(&o), "ClientHello cut short by its own length: BAD");

	/*
	 * One-byte records up to the peek limit without finishing: BAD, not
	 * MORE, since the caller will never peek more.  The last record is
	 * cut short by the limit, inside its header.
	 */
	big.len = 0;
	rec_hdr(&big, 22, 4);
	put8(&big, 1);
	put8(&big, 0);
	put16(&big, 8000);
	while (big.len + 6 <= CLIENTHELLO_MAX) {
		rec_hdr(&big, 22, 1);
		put8(&big, 0x03);
	}
	for (i = 0; big.len < CLIENTHELLO_MAX; i++)
		put8(&big, next_hdr[i]);
	CHECK(clienthello_parse(big.b, big.len - 1, want, sizeof(want)) ==
	    CLIENTHELLO_MORE, "incomplete, under CLIENTHELLO_MAX: MORE");
	CHECK(clienthello_parse(big.b, big.len, want, sizeof(want)) ==
	    CLIENTHELLO_BAD, "incomplete at CLIENTHELLO_MAX: BAD");
}

int
main(void)
{
	test_real();
	test_not_tls();
	test_crafted();
	return unit_done();
}
