/*
 * test_certforge.c - forged leaves, the leaf cache, and tools/sluice-ca.
 *
 * A CA is made in a mkdtemp() directory with certforge_ca_build(), the code
 * sluice-ca uses.  The sluice-ca checks (file modes, refusing to overwrite,
 * exit codes) run the built tool: its path comes from argv[1] or
 * $SLUICE_CA_TOOL, and without either they are skipped.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "certforge.h"
#include "unit.h"

#define DAY	86400

static char tmpdir[] = "/tmp/test_certforge.XXXXXX";

static void
write_pem(const char *path, X509 *crt, EVP_PKEY *key)
{
	FILE *f;

	if ((f = fopen(path, "w")) == NULL) {
		perror(path);
		exit(1);
	}
	if (crt != NULL)
		PEM_write_X509(f, crt);
	if (key != NULL)
		PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
	fclose(f);
}

/* Make DIR/NAME.crt and DIR/NAME.key for a new CA with key. */
static void
make_ca(const char *name, EVP_PKEY *key, char *crtpath, char *keypath)
{
	X509 *ca;

	snprintf(crtpath, 256, "%s/%s.crt", tmpdir, name);
	snprintf(keypath, 256, "%s/%s.key", tmpdir, name);
	if ((ca = certforge_ca_build(key, time(NULL))) == NULL) {
		fprintf(stderr, "certforge_ca_build failed\n");
		exit(1);
	}
	write_pem(crtpath, ca, NULL);
	write_pem(keypath, NULL, key);
	X509_free(ca);
}

static time_t
asn1_to_time(const ASN1_TIME *t)
{
	struct tm tm;

	if (!ASN1_TIME_to_tm(t, &tm))
		return 0;
	return timegm(&tm);
}

/* The SAN of x, if it is exactly one name of type want. */
static const ASN1_STRING *
only_san(X509 *x, int want, GENERAL_NAMES **gensp)
{
	GENERAL_NAMES *gens;
	GENERAL_NAME *gn;

	*gensp = gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	if (gens == NULL || sk_GENERAL_NAME_num(gens) != 1)
		return NULL;
	gn = sk_GENERAL_NAME_value(gens, 0);
	if (gn->type != want)
		return NULL;
	return want == GEN_DNS ? gn->d.dNSName : gn->d.iPAddress;
}

static int
san_dns_is(X509 *x, const char *name)
{
	GENERAL_NAMES *gens;
	const ASN1_STRING *s;
	int ok;

	s = only_san(x, GEN_DNS, &gens);
	ok = s != NULL && (size_t)ASN1_STRING_length(s) == strlen(name) &&
	    memcmp(ASN1_STRING_get0_data(s), name, strlen(name)) == 0;
	GENERAL_NAMES_free(gens);
	return ok;
}

static int
san_ip_is(X509 *x, int af, const char *ip)
{
	GENERAL_NAMES *gens;
	const ASN1_STRING *s;
	unsigned char addr[16];
	int len = af == AF_INET ? 4 : 16, ok;

	if (inet_pton(af, ip, addr) != 1)
		return 0;
	s = only_san(x, GEN_IPADD, &gens);
	ok = s != NULL && ASN1_STRING_length(s) == len &&
	    memcmp(ASN1_STRING_get0_data(s), addr, len) == 0;
	GENERAL_NAMES_free(gens);
	return ok;
}

static int
cn_is(X509 *x, const char *cn)
{
	char buf[256];
	int n;

	n = X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName,
	    buf, sizeof(buf));
	return n >= 0 && strcmp(buf, cn) == 0;
}

/* Verify leaf against ca alone, for TLS servers, for host or IP name. */
static int
verifies(X509 *ca, X509 *leaf, const char *name, int is_ip)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	X509_VERIFY_PARAM *param;
	int ok = 0;

	if (store == NULL || ctx == NULL || !X509_STORE_add_cert(store, ca) ||
	    !X509_STORE_CTX_init(ctx, store, leaf, NULL))
		goto done;
	param = X509_STORE_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_SERVER);
	if (is_ip)
		X509_VERIFY_PARAM_set1_ip_asc(param, name);
	else
		X509_VERIFY_PARAM_set1_host(param, name, 0);
	ok = X509_verify_cert(ctx) == 1;
	if (!ok)
		fprintf(stderr, "# verify %s: %s\n", name,
		    X509_verify_cert_error_string(
		    X509_STORE_CTX_get_error(ctx)));
 done:
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return ok;
}

static int
same_serial(X509 *a, X509 *b)
{
	return ASN1_INTEGER_cmp(X509_get0_serialNumber(a),
	    X509_get0_serialNumber(b)) == 0;
}

static void
test_leaf(struct certforge *cf)
{
	X509 *ca = certforge_ca_cert(cf), *x, *y;
	const ASN1_OCTET_STRING *ca_skid, *skid, *akid;
	EVP_PKEY *pk;
	BIGNUM *bn;
	char group[64];
	time_t now = time(NULL), nb, na;
	uint32_t fl;

	x = certforge_get(cf, "api.example.com");
	CHECK(x != NULL, "leaf forged for a DNS name");
	if (x == NULL)
		return;
	CHECK(san_dns_is(x, "api.example.com"), "SAN is exactly DNS:name");
	CHECK(cn_is(x, "api.example.com"), "subject CN is the name");
	CHECK(X509_NAME_cmp(X509_get_issuer_name(x),
	    X509_get_subject_name(ca)) == 0, "issuer is the CA subject");
	CHECK(X509_get_version(x) == X509_VERSION_3, "version 3");

	fl = X509_get_extension_flags(x);
	CHECK((fl & EXFLAG_BCONS) && !(fl & EXFLAG_CA),
	    "basicConstraints present, CA:FALSE");
	CHECK(X509_check_ca(x) == 0, "X509_check_ca says not a CA");
	CHECK(X509_get_key_usage(x) == KU_DIGITAL_SIGNATURE,
	    "keyUsage digitalSignature only");
	CHECK(X509_get_extended_key_usage(x) == XKU_SSL_SERVER,
	    "extendedKeyUsage serverAuth only");

	ca_skid = X509_get0_subject_key_id(ca);
	skid = X509_get0_subject_key_id(x);
	akid = X509_get0_authority_key_id(x);
	CHECK(ca_skid != NULL, "CA has a subject key id");
	CHECK(skid != NULL, "leaf has a subject key id");
	CHECK(skid != NULL && ca_skid != NULL &&
	    ASN1_OCTET_STRING_cmp(skid, ca_skid) != 0,
	    "leaf SKI differs from CA SKI");
	CHECK(akid != NULL && ca_skid != NULL &&
	    ASN1_OCTET_STRING_cmp(akid, ca_skid) == 0,
	    "leaf AKI is the CA SKI");

	CHECK(verifies(ca, x, "api.example.com", 0),
	    "X509_verify_cert ok, purpose sslserver, host api.example.com");
	CHECK(X509_check_host(x, "api.example.com", 0, 0, NULL) == 1,
	    "X509_check_host matches");
	CHECK(X509_check_host(x, "other.example.com", 0, 0, NULL) != 1,
	    "X509_check_host rejects another host");
	CHECK(X509_get_signature_nid(x) == NID_ecdsa_with_SHA256,
	    "signed ecdsa-with-SHA256 by the EC CA");

	nb = asn1_to_time(X509_get0_notBefore(x));
	na = asn1_to_time(X509_get0_notAfter(x));
	CHECK(nb != 0 && nb <= now - 3600, "notBefore <= now - 1h");
	CHECK(na > now + 100 * DAY, "notAfter well in the future");
	CHECK(na - nb < 200 * DAY, "validity spans less than 200 days");

	pk = X509_get0_pubkey(x);
	CHECK(pk != NULL && EVP_PKEY_get_base_id(pk) == EVP_PKEY_EC &&
	    EVP_PKEY_get_group_name(pk, group, sizeof(group), NULL) &&
	    OBJ_txt2nid(group) == NID_X9_62_prime256v1,
	    "leaf key is EC P-256");
	CHECK(pk != NULL && EVP_PKEY_eq(pk, certforge_leaf_key(cf)) == 1,
	    "leaf key is certforge_leaf_key()");
	CHECK(X509_check_private_key(x, certforge_leaf_key(cf)) == 1,
	    "leaf cert matches the leaf private key");

	bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	CHECK(bn != NULL && !BN_is_negative(bn) && BN_num_bits(bn) == 128,
	    "serial is a positive 128-bit number");
	BN_free(bn);

	y = certforge_get(cf, "www.example.com");
	CHECK(y != NULL && y != x, "another name, another leaf");
	CHECK(y != NULL && !same_serial(x, y), "serials of two leaves differ");
	X509_free(y);
	X509_free(x);

	x = certforge_forge(cf, "a.example.com", now);
	y = certforge_forge(cf, "a.example.com", now);
	CHECK(x != NULL && y != NULL && x != y && !same_serial(x, y),
	    "certforge_forge forges anew every time, new serial");
	X509_free(y);
	X509_free(x);

	x = certforge_forge(cf, "past.example.com", now - 50 * DAY);
	CHECK(x != NULL && asn1_to_time(X509_get0_notBefore(x)) ==
	    now - 51 * DAY, "certforge_forge: notBefore = now - 1 day");
	CHECK(x != NULL && asn1_to_time(X509_get0_notAfter(x)) ==
	    now - 51 * DAY + 190 * DAY,
	    "certforge_forge: notAfter = notBefore + 190 days");
	X509_free(x);
}

static void
test_names(struct certforge *cf)
{
	X509 *ca = certforge_ca_cert(cf), *x, *y;
	char longname[256], cn64[65];

	x = certforge_get(cf, "192.0.2.7");
	CHECK(x != NULL && san_ip_is(x, AF_INET, "192.0.2.7"),
	    "IPv4 literal: SAN is iPAddress");
	CHECK(x != NULL && verifies(ca, x, "192.0.2.7", 1),
	    "IPv4 leaf verifies for the IP");
	CHECK(x != NULL && X509_check_ip_asc(x, "192.0.2.7", 0) == 1,
	    "X509_check_ip_asc matches IPv4");
	X509_free(x);

	x = certforge_get(cf, "2001:db8::1");
	CHECK(x != NULL && san_ip_is(x, AF_INET6, "2001:db8::1"),
	    "IPv6 literal: SAN is iPAddress");
	CHECK(x != NULL && verifies(ca, x, "2001:db8::1", 1),
	    "IPv6 leaf verifies for the IP");
	X509_free(x);

	x = certforge_get(cf, "Mixed.Example.COM");
	y = certforge_get(cf, "mixed.example.com");
	CHECK(x != NULL && x == y, "names are cached case-insensitively");
	CHECK(x != NULL && san_dns_is(x, "mixed.example.com"),
	    "SAN is lowercased");
	X509_free(y);
	X509_free(x);

	x = certforge_get(cf, "under_score.example.com");
	CHECK(x != NULL, "underscore accepted");
	X509_free(x);

	/* 3 labels of 63 + ".com": 196 bytes, CN truncated to 64. */
	memset(longname, 'a', 63);
	longname[63] = '.';
	memset(longname + 64, 'b', 63);
	longname[127] = '.';
	memset(longname + 128, 'c', 63);
	strcpy(longname + 191, ".com");
	memcpy(cn64, longname, 64);
	cn64[64] = '\0';
	x = certforge_get(cf, longname);
	CHECK(x != NULL && san_dns_is(x, longname), "long name: full SAN");
	CHECK(x != NULL && cn_is(x, cn64), "long name: CN cut to 64 bytes");
	CHECK(x != NULL && verifies(ca, x, longname, 0),
	    "long name verifies");
	X509_free(x);

	memset(longname, 'a', 254);
	longname[254] = '\0';
	CHECK(certforge_get(cf, longname) == NULL, "254-byte name refused");
	CHECK(certforge_get(cf, "") == NULL, "empty name refused");
	CHECK(certforge_get(cf, "bad name") == NULL, "space refused");
	CHECK(certforge_get(cf, "a,DNS:evil.com") == NULL, "comma refused");
	CHECK(certforge_get(cf, "[::1]") == NULL, "bracketed IPv6 refused");
	CHECK(certforge_get(cf, "evil:host") == NULL,
	    "colon outside an IPv6 literal refused");
	CHECK(certforge_get(cf, "\xc3\xa9.example") == NULL,
	    "non-ASCII refused");
}

static void
test_cache(struct certforge *cf)
{
	struct certforge_stats st0, st;
	X509 *a1, *a2, *b;

	certforge_stats(cf, &st0);
	a1 = certforge_get(cf, "cache.example.com");
	a2 = certforge_get(cf, "cache.example.com");
	b = certforge_get(cf, "cache2.example.com");
	CHECK(a1 != NULL && a1 == a2, "same name: same cert object");
	CHECK(b != NULL && b != a1, "different name: different cert object");
	certforge_stats(cf, &st);
	CHECK(st.hits == st0.hits + 1 && st.misses == st0.misses + 2,
	    "stats count one hit and two misses");
	X509_free(a1);
	X509_free(a2);
	X509_free(b);
}

/* A cache below 64 entries is one shard: an exact LRU. */
static void
test_lru(const char *crt, const char *key)
{
	struct certforge *cf;
	struct certforge_stats st;
	X509 *first, *again, *x, *keep, *keep2;
	char name[64];
	int i, n = 50;

	if ((cf = certforge_new(crt, key, n)) == NULL) {
		CHECK(0, "certforge_new for the LRU test");
		return;
	}
	first = certforge_get(cf, "n0.example");
	for (i = 1; i < n + 10; i++) {
		snprintf(name, sizeof(name), "n%d.example", i);
		X509_free(certforge_get(cf, name));
	}
	certforge_stats(cf, &st);
	CHECK(st.entries == (size_t)n, "cache holds exactly cache_entries");
	CHECK(st.evictions == 10, "10 evictions after cache_entries + 10");
	again = certforge_get(cf, "n0.example");
	CHECK(again != NULL && again != first && !same_serial(first, again),
	    "first name was evicted: a new leaf with a new serial");
	X509_free(again);
	X509_free(first);

	/* Touching an entry protects it; the least recently used goes. */
	keep = certforge_get(cf, "n20.example");	/* now most recent */
	for (i = 100; i < 100 + n - 1; i++) {
		snprintf(name, sizeof(name), "n%d.example", i);
		X509_free(certforge_get(cf, name));
	}
	keep2 = certforge_get(cf, "n20.example");
	CHECK(keep != NULL && keep == keep2, "recently used entry survives");
	x = certforge_get(cf, "n21.example");
	CHECK(x != NULL && x != keep, "least recently used entry evicted");
	certforge_stats(cf, &st);
	CHECK(st.entries == (size_t)n, "still exactly cache_entries");
	X509_free(x);
	X509_free(keep2);
	X509_free(keep);

	/* Leaves handed out outlive the cache. */
	x = certforge_get(cf, "survivor.example");
	certforge_free(cf);
	CHECK(x != NULL && san_dns_is(x, "survivor.example"),
	    "a held leaf is still valid after certforge_free");
	X509_free(x);
}

/* A big cache is sharded: the bound holds in all. */
static void
test_sharded(const char *crt, const char *key)
{
	struct certforge *cf;
	struct certforge_stats st;
	char name[64];
	int i, n = 1024;

	if ((cf = certforge_new(crt, key, n)) == NULL) {
		CHECK(0, "certforge_new for the sharded test");
		return;
	}
	for (i = 0; i < n + 10; i++) {
		snprintf(name, sizeof(name), "s%d.example", i);
		X509_free(certforge_get(cf, name));
	}
	certforge_stats(cf, &st);
	CHECK(st.entries <= (size_t)n, "sharded cache within cache_entries");
	CHECK(st.evictions >= 10 && st.entries + st.evictions ==
	    (size_t)n + 10, "sharded cache: every leaf cached or evicted");
	CHECK(st.misses == (uint64_t)n + 10 && st.hits == 0,
	    "sharded cache: all misses");
	certforge_free(cf);
}

static void
test_expiry(struct certforge *cf)
{
	time_t now = time(NULL);
	X509 *old, *renewed, *fresh, *fresh2;

	/* Forged 188.5 days ago: notAfter is 12 hours from now. */
	old = certforge_get_at(cf, "expiring.example",
	    now - 188 * DAY - DAY / 2);
	renewed = certforge_get(cf, "expiring.example");
	CHECK(old != NULL && renewed != NULL && renewed != old &&
	    !same_serial(old, renewed),
	    "a cached leaf within a day of expiry is re-forged");
	CHECK(renewed != NULL &&
	    asn1_to_time(X509_get0_notAfter(renewed)) > now + 180 * DAY,
	    "the re-forged leaf has a fresh notAfter");
	fresh = certforge_get(cf, "expiring.example");
	CHECK(fresh == renewed, "the re-forged leaf replaced the old in cache");
	X509_free(fresh);
	X509_free(renewed);
	X509_free(old);

	/* Forged 100 days ago: 89 days left, kept. */
	fresh = certforge_get_at(cf, "keep.example", now - 100 * DAY);
	fresh2 = certforge_get(cf, "keep.example");
	CHECK(fresh != NULL && fresh == fresh2,
	    "a cached leaf far from expiry is kept");
	X509_free(fresh2);
	X509_free(fresh);
}

struct hammer {
	struct certforge	*cf;
	int			 seed;
	int			 failures;
};

static void *
hammer_run(void *arg)
{
	struct hammer *h = arg;
	char name[64];
	X509 *x;
	int i;

	for (i = 0; i < 3000; i++) {
		snprintf(name, sizeof(name), "t%d.example",
		    (i * 7 + h->seed) % 150);
		if ((x = certforge_get(h->cf, name)) == NULL ||
		    !san_dns_is(x, name))
			h->failures++;
		X509_free(x);
	}
	return NULL;
}

/* Threads sharing a cache smaller than their working set: hits, races and
 * evictions all at once; ASan/UBSan builds catch misuse. */
static void
test_threads(const char *crt, const char *key)
{
	struct certforge *cf;
	struct hammer h[4];
	pthread_t t[4];
	int i, failures = 0;

	if ((cf = certforge_new(crt, key, 100)) == NULL) {
		CHECK(0, "certforge_new for the thread test");
		return;
	}
	for (i = 0; i < 4; i++) {
		h[i].cf = cf;
		h[i].seed = i * 37;
		h[i].failures = 0;
		pthread_create(&t[i], NULL, hammer_run, &h[i]);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		failures += h[i].failures;
	}
	CHECK(failures == 0, "4 threads, 12000 gets: every leaf right");
	certforge_free(cf);
}

static void
test_load_errors(const char *crt, const char *key, X509 *leaf_crt,
    EVP_PKEY *leaf_key)
{
	char path[256], path2[256], other_crt[256], other_key[256];
	EVP_PKEY *other;
	FILE *f;

	snprintf(path, sizeof(path), "%s/missing.crt", tmpdir);
	CHECK(certforge_new(path, key, 10) == NULL, "missing CA cert refused");
	snprintf(path, sizeof(path), "%s/missing.key", tmpdir);
	CHECK(certforge_new(crt, path, 10) == NULL, "missing CA key refused");

	snprintf(path, sizeof(path), "%s/garbage.pem", tmpdir);
	if ((f = fopen(path, "w")) != NULL) {
		fputs("not a certificate\n", f);
		fclose(f);
	}
	CHECK(certforge_new(path, key, 10) == NULL, "garbage CA cert refused");
	CHECK(certforge_new(crt, path, 10) == NULL, "garbage CA key refused");

	other = EVP_EC_gen("P-256");
	make_ca("other", other, other_crt, other_key);
	CHECK(certforge_new(crt, other_key, 10) == NULL,
	    "key that does not match the cert refused");
	EVP_PKEY_free(other);

	/* A forged leaf with its own key: a matching pair, but not a CA. */
	snprintf(path, sizeof(path), "%s/leaf.crt", tmpdir);
	snprintf(path2, sizeof(path2), "%s/leaf.key", tmpdir);
	write_pem(path, leaf_crt, NULL);
	write_pem(path2, NULL, leaf_key);
	CHECK(certforge_new(path, path2, 10) == NULL, "non-CA cert refused");

	snprintf(path, sizeof(path), "%s/enc.key", tmpdir);
	if ((f = fopen(path, "w")) != NULL) {
		other = EVP_EC_gen("P-256");
		PEM_write_PrivateKey(f, other, EVP_aes_128_cbc(), NULL, 0,
		    NULL, (void *)"secret");
		EVP_PKEY_free(other);
		fclose(f);
	}
	CHECK(certforge_new(crt, path, 10) == NULL,
	    "encrypted key refused without prompting");
	CHECK(certforge_new(crt, key, 0) == NULL, "cache_entries 0 refused");
}

/* An RSA CA key works too; leaves are still EC P-256. */
static void
test_rsa_ca(void)
{
	char crt[256], key[256];
	struct certforge *cf;
	EVP_PKEY *rsa;
	X509 *x;

	rsa = EVP_RSA_gen(2048);
	make_ca("rsa", rsa, crt, key);
	EVP_PKEY_free(rsa);
	if ((cf = certforge_new(crt, key, 10)) == NULL) {
		CHECK(0, "certforge_new with an RSA CA");
		return;
	}
	x = certforge_get(cf, "rsa.example.com");
	CHECK(x != NULL && X509_get_signature_nid(x) ==
	    NID_sha256WithRSAEncryption, "RSA CA: leaf signed sha256WithRSA");
	CHECK(x != NULL && verifies(certforge_ca_cert(cf), x,
	    "rsa.example.com", 0), "RSA CA: leaf verifies");
	CHECK(x != NULL && EVP_PKEY_get_base_id(X509_get0_pubkey(x)) ==
	    EVP_PKEY_EC, "RSA CA: leaf key is EC");
	X509_free(x);
	certforge_free(cf);
}

static int
run(const char *tool, const char *args)
{
	char cmd[1024];
	int st;

	snprintf(cmd, sizeof(cmd), "'%s' %s >/dev/null 2>&1", tool, args);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int
read_file(const char *path, char *buf, size_t bufsz, size_t *len)
{
	FILE *f;

	if ((f = fopen(path, "r")) == NULL)
		return -1;
	*len = fread(buf, 1, bufsz, f);
	fclose(f);
	return 0;
}

static void
test_tool(const char *tool)
{
	char dir[256], args[512], crt[300], key[300];
	char before[4096], after[4096];
	size_t blen = 0, alen = 0;
	struct certforge *cf;
	struct stat st;

	if (tool == NULL || *tool == '\0') {
		printf("ok # skip sluice-ca checks: "
		    "set SLUICE_CA_TOOL or pass its path\n");
		return;
	}
	snprintf(dir, sizeof(dir), "%s/ca", tmpdir);
	snprintf(crt, sizeof(crt), "%s/ca.crt", dir);
	snprintf(key, sizeof(key), "%s/ca.key", dir);
	snprintf(args, sizeof(args), "init '%s'", dir);

	CHECK(run(tool, args) == 0, "sluice-ca init exits 0");
	CHECK(stat(dir, &st) == 0 && S_ISDIR(st.st_mode) &&
	    (st.st_mode & 07777) == 0755, "sluice-ca made DIR, mode 0755");
	CHECK(stat(key, &st) == 0 && (st.st_mode & 07777) == 0600,
	    "ca.key is mode 0600");
	CHECK(stat(crt, &st) == 0 && (st.st_mode & 07777) == 0644,
	    "ca.crt is mode 0644");
	cf = certforge_new(crt, key, 10);
	CHECK(cf != NULL, "certforge loads the CA sluice-ca made");
	certforge_free(cf);

	CHECK(read_file(key, before, sizeof(before), &blen) == 0,
	    "read ca.key");
	CHECK(run(tool, args) == 1, "second init refuses, exit 1");
	CHECK(read_file(key, after, sizeof(after), &alen) == 0 &&
	    alen == blen && memcmp(before, after, blen) == 0,
	    "second init left ca.key untouched");
	CHECK(stat(key, &st) == 0 && (st.st_mode & 07777) == 0600,
	    "ca.key still mode 0600");

	CHECK(run(tool, "") == 2, "no arguments: exit 2");
	CHECK(run(tool, "init") == 2, "init without DIR: exit 2");
	CHECK(run(tool, "frob x") == 2, "unknown command: exit 2");
	CHECK(run(tool, "--help") == 0, "--help: exit 0");
}

int
main(int argc, char *argv[])
{
	char crt[256], key[256], cmd[300];
	struct certforge *cf;
	EVP_PKEY *cakey;
	X509 *leaf;

	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	cakey = EVP_EC_gen("P-256");
	make_ca("ca", cakey, crt, key);
	EVP_PKEY_free(cakey);

	cf = certforge_new(crt, key, 1000);
	CHECK(cf != NULL, "certforge_new loads a certforge_ca_build CA");
	if (cf == NULL)
		return unit_done();
	test_leaf(cf);
	test_names(cf);
	test_cache(cf);
	test_expiry(cf);
	leaf = certforge_get(cf, "leaf.example");
	test_load_errors(crt, key, leaf, certforge_leaf_key(cf));
	X509_free(leaf);
	certforge_free(cf);

	test_lru(crt, key);
	test_sharded(crt, key);
	test_threads(crt, key);
	test_rsa_ca();
	test_tool(argc > 1 ? argv[1] : getenv("SLUICE_CA_TOOL"));

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "# could not remove %s\n", tmpdir);
	return unit_done();
}
