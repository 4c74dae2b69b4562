/*
 * certforge.c - forge leaf certificates from the interception CA.
 *
 * Owns: the CA certificate and key, the one leaf key, the leaf cache, and
 * what a sluice CA certificate looks like (certforge_ca_build, used by
 * tools/sluice-ca).  Does not own: choosing the name a connection needs, or
 * putting a leaf into an SSL object.
 *
 * Every leaf carries the same EC P-256 key, so the extensions that do not
 * depend on the name (basicConstraints, keyUsage, extendedKeyUsage and both
 * key identifiers) are built once, in certforge_new(); forging is then a
 * serial, the names, the validity, the SAN and one signature.
 *
 * The cache is split into shards by a hash of the name.  A shard has its own
 * mutex, a fixed array of entries, a chained hash table and an LRU list
 * (head = most recently used).  Under the shard mutex:
 *   - entries[0..used) are in use, and each is on exactly one hash chain and
 *     on the LRU list; used <= cap;
 *   - an entry in use owns one reference to its cert.
 * A hit is a lookup, a move to the LRU head and X509_up_ref(), all under the
 * mutex and without allocating.  A miss forges with the mutex released,
 * since signing is the slow part, then looks again before inserting: another
 * worker may have forged the same name meanwhile, and the first one in wins.
 * Certificates the cache lets go of are freed after the mutex is released.
 */
#include <sys/types.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "certforge.h"
#include "log.h"

#define CERTFORGE_SHARDS_MAX	16
/* Small caches get fewer shards, so that a shard is never tiny. */
#define CERTFORGE_SHARD_MIN	64
#define CERTFORGE_NAME_MAX	253
#define CERTFORGE_CN_MAX	64	/* ub-common-name, RFC 5280 */
#define CERTFORGE_DAY		86400
#define CERTFORGE_LEAF_DAYS	190
#define CERTFORGE_SERIAL_BITS	128

struct certforge_entry {
	struct certforge_entry	*chain;		/* next in the hash bucket */
	struct certforge_entry	*newer;		/* LRU neighbours */
	struct certforge_entry	*older;
	X509			*cert;		/* one reference, ours */
	time_t			 not_after;
	uint64_t		 hash;
	char			 name[CERTFORGE_NAME_MAX + 1];
};

struct certforge_shard {
	pthread_mutex_t		 lock;
	struct certforge_entry	*entries;	/* cap slots */
	size_t			 cap;
	size_t			 used;
	struct certforge_entry	**buckets;
	size_t			 nbuckets;	/* a power of two */
	struct certforge_entry	*newest;
	struct certforge_entry	*oldest;
	uint64_t		 hits;
	uint64_t		 misses;
	uint64_t		 evictions;
};

struct certforge {
	X509				*ca_cert;
	EVP_PKEY			*ca_key;
	EVP_PKEY			*leaf_key;
	STACK_OF(X509_EXTENSION)	*leaf_exts;
	struct certforge_shard		 shards[CERTFORGE_SHARDS_MAX];
	size_t				 nshards;	/* initialised shards */
};

static X509_EXTENSION *
certforge_ext(int nid, const char *value)
{
	X509V3_CTX ctx;

	memset(&ctx, 0, sizeof(ctx));
	X509V3_set_ctx(&ctx, NULL, NULL, NULL, NULL, 0);
	return X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
}

/* RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits. */
static ASN1_OCTET_STRING *
certforge_keyid(EVP_PKEY *pkey)
{
	X509_PUBKEY *xpk = NULL;
	ASN1_OCTET_STRING *kid = NULL;
	const unsigned char *pk;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen;
	int pklen;

	if (!X509_PUBKEY_set(&xpk, pkey) ||
	    !X509_PUBKEY_get0_param(NULL, &pk, &pklen, NULL, xpk) ||
	    !EVP_Digest(pk, pklen, md, &mdlen, EVP_sha1(), NULL))
		goto fail;
	if ((kid = ASN1_OCTET_STRING_new()) == NULL ||
	    !ASN1_OCTET_STRING_set(kid, md, mdlen))
		goto fail;
	X509_PUBKEY_free(xpk);
	return kid;
 fail:
	ASN1_OCTET_STRING_free(kid);
	X509_PUBKEY_free(xpk);
	return NULL;
}

static int
certforge_add_ext(X509 *x, X509_EXTENSION *ext)
{
	int ok;

	if (ext == NULL)
		return -1;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -1;
}

/* A positive serial of exactly CERTFORGE_SERIAL_BITS bits. */
static int
certforge_serial(X509 *x)
{
	BIGNUM *bn;
	int ok;

	if ((bn = BN_new()) == NULL)
		return -1;
	ok = BN_rand(bn, CERTFORGE_SERIAL_BITS, BN_RAND_TOP_ONE,
	    BN_RAND_BOTTOM_ANY) &&
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
	BN_free(bn);
	return ok ? 0 : -1;
}

X509 *
certforge_ca_build(EVP_PKEY *key, time_t now)
{
	X509 *x;
	X509_NAME *subj;
	ASN1_OCTET_STRING *skid = NULL;

	if ((x = X509_new()) == NULL ||
	    !X509_set_version(x, X509_VERSION_3) ||
	    certforge_serial(x) == -1)
		goto fail;
	subj = X509_get_subject_name(x);
	if (!X509_NAME_add_entry_by_NID(subj, NID_organizationName,
	    MBSTRING_ASC, (const unsigned char *)"sluice", -1, -1, 0) ||
	    !X509_NAME_add_entry_by_NID(subj, NID_commonName, MBSTRING_ASC,
	    (const unsigned char *)"sluice interception CA", -1, -1, 0) ||
	    !X509_set_issuer_name(x, subj))
		goto fail;
	/* An hour back covers clients whose clocks run a little slow. */
	if (ASN1_TIME_set(X509_getm_notBefore(x), now - 3600) == NULL ||
	    ASN1_TIME_adj(X509_getm_notAfter(x), now, 10 * 365 + 3, 0) ==
	    NULL ||
	    !X509_set_pubkey(x, key))
		goto fail;
	if (certforge_add_ext(x, certforge_ext(NID_basic_constraints,
	    "critical,CA:TRUE,pathlen:0")) == -1 ||
	    certforge_add_ext(x, certforge_ext(NID_key_usage,
	    "critical,keyCertSign,cRLSign")) == -1)
		goto fail;
	if ((skid = certforge_keyid(key)) == NULL ||
	    !X509_add1_ext_i2d(x, NID_subject_key_identifier, skid, 0,
	    X509V3_ADD_DEFAULT))
		goto fail;
	if (!X509_sign(x, key, EVP_sha256()))
		goto fail;
	ASN1_OCTET_STRING_free(skid);
	return x;
 fail:
	log_event(LOG_WARN, "ca_build_failed", "err=%s", "OpenSSL error");
	log_ssl_errors("ca_build_failed");
	ASN1_OCTET_STRING_free(skid);
	X509_free(x);
	return NULL;
}

/*
 * The extensions every leaf shares.  The authority key id is the CA's
 * subject key id; a CA without one gets it computed the usual way, which is
 * what a verifier would compare against anyway.
 */
static STACK_OF(X509_EXTENSION) *
certforge_leaf_exts(X509 *ca, EVP_PKEY *leaf_key)
{
	STACK_OF(X509_EXTENSION) *exts;
	AUTHORITY_KEYID *akid = NULL;
	ASN1_OCTET_STRING *skid = NULL;
	const ASN1_OCTET_STRING *ca_skid;
	X509_EXTENSION *ext;

	if ((exts = sk_X509_EXTENSION_new_null()) == NULL)
		return NULL;
	if ((ext = certforge_ext(NID_basic_constraints,
	    "critical,CA:FALSE")) == NULL || !sk_X509_EXTENSION_push(exts, ext))
		goto fail;
	if ((ext = certforge_ext(NID_key_usage,
	    "critical,digitalSignature")) == NULL ||
	    !sk_X509_EXTENSION_push(exts, ext))
		goto fail;
	if ((ext = certforge_ext(NID_ext_key_usage, "serverAuth")) == NULL ||
	    !sk_X509_EXTENSION_push(exts, ext))
		goto fail;

	if ((skid = certforge_keyid(leaf_key)) == NULL ||
	    (ext = X509V3_EXT_i2d(NID_subject_key_identifier, 0, skid)) ==
	    NULL || !sk_X509_EXTENSION_push(exts, ext))
		goto fail;

	if ((akid = AUTHORITY_KEYID_new()) == NULL)
		goto fail;
	if ((ca_skid = X509_get0_subject_key_id(ca)) != NULL)
		akid->keyid = ASN1_OCTET_STRING_dup(ca_skid);
	else
		akid->keyid = certforge_keyid(X509_get0_pubkey(ca));
	if (akid->keyid == NULL ||
	    (ext = X509V3_EXT_i2d(NID_authority_key_identifier, 0, akid)) ==
	    NULL || !sk_X509_EXTENSION_push(exts, ext))
		goto fail;

	AUTHORITY_KEYID_free(akid);
	ASN1_OCTET_STRING_free(skid);
	return exts;
 fail:
	log_ssl_errors("leaf_extensions_failed");
	AUTHORITY_KEYID_free(akid);
	ASN1_OCTET_STRING_free(skid);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	return NULL;
}

static int
certforge_is_ip(const char *name)
{
	unsigned char addr[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, name, addr) == 1 ||
	    inet_pton(AF_INET6, name, addr) == 1;
}

/*
 * Lowercase name into out, refusing what cannot go into a SAN as given:
 * empty, too long, or bytes outside the DNS set plus ':' (IPv6 literals,
 * which must then parse as one).
 */
static int
certforge_name(const char *name, char out[CERTFORGE_NAME_MAX + 1])
{
	size_t i;
	char c;
	int colon = 0;

	for (i = 0; name[i] != '\0'; i++) {
		if (i == CERTFORGE_NAME_MAX)
			goto fail;
		c = name[i];
		if (c >= 'A' && c <= 'Z')
			c += 'a' - 'A';
		else if (c == ':')
			colon = 1;
		else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_'))
			goto fail;
		out[i] = c;
	}
	out[i] = '\0';
	if (i == 0 || (colon && !certforge_is_ip(out)))
		goto fail;
	return 0;
 fail:
	/* Debug only: the name may come from the network, unchecked. */
	log_event(LOG_DEBUG, "forge_refused", "err=%s", "invalid name");
	return -1;
}

static int
certforge_san(X509 *x, const char *name)
{
	GENERAL_NAMES *gens;
	GENERAL_NAME *gn;
	int ok;

	if ((gens = GENERAL_NAMES_new()) == NULL)
		return -1;
	gn = a2i_GENERAL_NAME(NULL, NULL, NULL,
	    certforge_is_ip(name) ? GEN_IPADD : GEN_DNS, name, 0);
	if (gn == NULL || !sk_GENERAL_NAME_push(gens, gn)) {
		GENERAL_NAME_free(gn);
		GENERAL_NAMES_free(gens);
		return -1;
	}
	ok = X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0,
	    X509V3_ADD_DEFAULT);
	GENERAL_NAMES_free(gens);
	return ok ? 0 : -1;
}

/* A leaf made at now is valid until this. */
static time_t
certforge_not_after(time_t now)
{
	return now - CERTFORGE_DAY + CERTFORGE_LEAF_DAYS * CERTFORGE_DAY;
}

/*
 * x decoded again from its own DER (x is freed).  X509_sign() leaves the
 * certificate without a cached encoding, so each handshake that sends it
 * would encode it from its fields, twice (to size it, then to write it); a
 * decoded certificate keeps its DER, and encoding it is a copy.
 */
static X509 *
certforge_keep_der(X509 *x)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	X509 *y = NULL;
	int len;

	if ((len = i2d_X509(x, &der)) > 0) {
		p = der;
		y = d2i_X509(NULL, &p, len);
	}
	OPENSSL_free(der);
	X509_free(x);
	return y;
}

/* name is already checked and lowercased by certforge_name(). */
static X509 *
certforge_leaf(struct certforge *cf, const char *name, time_t now)
{
	X509 *x;
	size_t cnlen;
	int i;

	cnlen = strlen(name);
	if (cnlen > CERTFORGE_CN_MAX)
		cnlen = CERTFORGE_CN_MAX;
	if ((x = X509_new()) == NULL ||
	    !X509_set_version(x, X509_VERSION_3) ||
	    certforge_serial(x) == -1 ||
	    !X509_set_issuer_name(x, X509_get_subject_name(cf->ca_cert)) ||
	    !X509_NAME_add_entry_by_NID(X509_get_subject_name(x),
	    NID_commonName, MBSTRING_ASC, (const unsigned char *)name,
	    (int)cnlen, -1, 0))
		goto fail;
	/* A day back: client clocks are often off, and never trusted. */
	if (ASN1_TIME_set(X509_getm_notBefore(x), now - CERTFORGE_DAY) ==
	    NULL ||
	    ASN1_TIME_set(X509_getm_notAfter(x), certforge_not_after(now)) ==
	    NULL ||
	    !X509_set_pubkey(x, cf->leaf_key))
		goto fail;
	for (i = 0; i < sk_X509_EXTENSION_num(cf->leaf_exts); i++)
		if (!X509_add_ext(x, sk_X509_EXTENSION_value(cf->leaf_exts, i),
		    -1))
			goto fail;
	if (certforge_san(x, name) == -1 ||
	    !X509_sign(x, cf->ca_key, EVP_sha256()))
		goto fail;
	x = certforge_keep_der(x);
	if (x == NULL)
		goto fail;
	return x;
 fail:
	log_event(LOG_WARN, "forge_failed", "name=%s", name);
	log_ssl_errors("forge_failed");
	X509_free(x);
	return NULL;
}

X509 *
certforge_forge(struct certforge *cf, const char *name, time_t now)
{
	char key[CERTFORGE_NAME_MAX + 1];

	if (certforge_name(name, key) == -1)
		return NULL;
	return certforge_leaf(cf, key, now);
}

/* FNV-1a: names are short, and a chain is bounded by the shard's cap. */
static uint64_t
certforge_hash(const char *name)
{
	uint64_t h = 14695981039346656037ULL;

	for (; *name != '\0'; name++) {
		h ^= (unsigned char)*name;
		h *= 1099511628211ULL;
	}
	return h;
}

static struct certforge_entry **
certforge_bucket(struct certforge_shard *s, uint64_t hash)
{
	/* The low bits chose the shard; take others for the bucket. */
	return &s->buckets[(hash >> 32) & (s->nbuckets - 1)];
}

static struct certforge_entry *
certforge_lookup(struct certforge_shard *s, const char *name, uint64_t hash)
{
	struct certforge_entry *e;

	for (e = *certforge_bucket(s, hash); e != NULL; e = e->chain)
		if (e->hash == hash && strcmp(e->name, name) == 0)
			return e;
	return NULL;
}

static void
certforge_lru_unlink(struct certforge_shard *s, struct certforge_entry *e)
{
	if (e->newer != NULL)
		e->newer->older = e->older;
	else
		s->newest = e->older;
	if (e->older != NULL)
		e->older->newer = e->newer;
	else
		s->oldest = e->newer;
	e->newer = e->older = NULL;
}

static void
certforge_lru_push(struct certforge_shard *s, struct certforge_entry *e)
{
	e->newer = NULL;
	e->older = s->newest;
	if (s->newest != NULL)
		s->newest->newer = e;
	else
		s->oldest = e;
	s->newest = e;
}

static void
certforge_touch(struct certforge_shard *s, struct certforge_entry *e)
{
	if (s->newest == e)
		return;
	certforge_lru_unlink(s, e);
	certforge_lru_push(s, e);
}

/*
 * A slot for a new name: a free one, or the least recently used one, whose
 * cert goes to *drop for the caller to free once the mutex is released.
 */
static struct certforge_entry *
certforge_slot(struct certforge_shard *s, const char *name, uint64_t hash,
    X509 **drop)
{
	struct certforge_entry *e, **pp;

	if (s->used < s->cap) {
		e = &s->entries[s->used++];
	} else {
		e = s->oldest;
		certforge_lru_unlink(s, e);
		for (pp = certforge_bucket(s, e->hash); *pp != e;
		    pp = &(*pp)->chain)
			;
		*pp = e->chain;
		*drop = e->cert;
		s->evictions++;
	}
	e->cert = NULL;
	e->hash = hash;
	strcpy(e->name, name);		/* checked: <= CERTFORGE_NAME_MAX */
	pp = certforge_bucket(s, hash);
	e->chain = *pp;
	*pp = e;
	certforge_lru_push(s, e);
	return e;
}

/* Whether a cached leaf is good for another day at least. */
static int
certforge_fresh(const struct certforge_entry *e, time_t now)
{
	return e->not_after - now > CERTFORGE_DAY;
}

X509 *
certforge_get_at(struct certforge *cf, const char *name, time_t now)
{
	char key[CERTFORGE_NAME_MAX + 1];
	struct certforge_shard *s;
	struct certforge_entry *e;
	X509 *x, *drop = NULL;
	uint64_t hash;

	if (certforge_name(name, key) == -1)
		return NULL;
	hash = certforge_hash(key);
	s = &cf->shards[hash % cf->nshards];

	pthread_mutex_lock(&s->lock);
	if ((e = certforge_lookup(s, key, hash)) != NULL &&
	    certforge_fresh(e, now)) {
		certforge_touch(s, e);
		x = e->cert;
		X509_up_ref(x);
		s->hits++;
		pthread_mutex_unlock(&s->lock);
		return x;
	}
	s->misses++;
	pthread_mutex_unlock(&s->lock);

	if ((x = certforge_leaf(cf, key, now)) == NULL)
		return NULL;

	pthread_mutex_lock(&s->lock);
	if ((e = certforge_lookup(s, key, hash)) != NULL &&
	    certforge_fresh(e, now)) {
		/* Another worker got there first; hand out its leaf. */
		drop = x;
		x = e->cert;
	} else {
		if (e == NULL)
			e = certforge_slot(s, key, hash, &drop);
		else
			drop = e->cert;
		e->cert = x;
		e->not_after = certforge_not_after(now);
	}
	certforge_touch(s, e);
	X509_up_ref(x);
	pthread_mutex_unlock(&s->lock);
	X509_free(drop);
	return x;
}

X509 *
certforge_get(struct certforge *cf, const char *name)
{
	return certforge_get_at(cf, name, time(NULL));
}

void
certforge_stats(struct certforge *cf, struct certforge_stats *st)
{
	struct certforge_shard *s;
	size_t i;

	memset(st, 0, sizeof(*st));
	for (i = 0; i < cf->nshards; i++) {
		s = &cf->shards[i];
		pthread_mutex_lock(&s->lock);
		st->hits += s->hits;
		st->misses += s->misses;
		st->evictions += s->evictions;
		st->entries += s->used;
		pthread_mutex_unlock(&s->lock);
	}
}

static int
certforge_shard_init(struct certforge_shard *s, size_t cap)
{
	memset(s, 0, sizeof(*s));
	s->cap = cap;
	for (s->nbuckets = 1; s->nbuckets < cap; s->nbuckets <<= 1)
		;
	if ((s->entries = calloc(cap, sizeof(*s->entries))) == NULL ||
	    (s->buckets = calloc(s->nbuckets, sizeof(*s->buckets))) == NULL) {
		free(s->entries);
		return -1;
	}
	if (pthread_mutex_init(&s->lock, NULL) != 0) {
		free(s->buckets);
		free(s->entries);
		return -1;
	}
	return 0;
}

static void
certforge_shard_free(struct certforge_shard *s)
{
	size_t i;

	for (i = 0; i < s->used; i++)
		X509_free(s->entries[i].cert);
	pthread_mutex_destroy(&s->lock);
	free(s->buckets);
	free(s->entries);
}

/* Never prompt on a terminal for a passphrase: refuse encrypted keys. */
static int
certforge_no_passphrase(char *buf, int size, int rwflag, void *arg)
{
	return -1;
}

/* Load and check the CA; each failure is one log line naming the file. */
static int
certforge_load_ca(struct certforge *cf, const char *cert_path,
    const char *key_path)
{
	FILE *f;

	if ((f = fopen(cert_path, "r")) == NULL) {
		log_event(LOG_WARN, "ca_load_failed", "cert=%s err=%s",
		    cert_path, strerror(errno));
		return -1;
	}
	cf->ca_cert = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (cf->ca_cert == NULL) {
		log_event(LOG_WARN, "ca_load_failed", "cert=%s err=%s",
		    cert_path, "no PEM certificate in it");
		goto fail;
	}
	if (!(X509_get_extension_flags(cf->ca_cert) & EXFLAG_CA)) {
		log_event(LOG_WARN, "ca_load_failed", "cert=%s err=%s",
		    cert_path, "not a CA (no basicConstraints CA:TRUE)");
		goto fail;
	}
	if (!(X509_get_key_usage(cf->ca_cert) & KU_KEY_CERT_SIGN)) {
		log_event(LOG_WARN, "ca_load_failed", "cert=%s err=%s",
		    cert_path, "keyUsage lacks keyCertSign");
		goto fail;
	}

	if ((f = fopen(key_path, "r")) == NULL) {
		log_event(LOG_WARN, "ca_load_failed", "key=%s err=%s",
		    key_path, strerror(errno));
		return -1;
	}
	cf->ca_key = PEM_read_PrivateKey(f, NULL, certforge_no_passphrase,
	    NULL);
	fclose(f);
	if (cf->ca_key == NULL) {
		log_event(LOG_WARN, "ca_load_failed", "key=%s err=%s",
		    key_path, "no unencrypted PEM private key in it");
		goto fail;
	}
	if (X509_check_private_key(cf->ca_cert, cf->ca_key) != 1) {
		log_event(LOG_WARN, "ca_load_failed", "key=%s cert=%s err=%s",
		    key_path, cert_path, "the key does not match the "
		    "certificate");
		goto fail;
	}
	return 0;
 fail:
	/* The one line above says it all; drop OpenSSL's details. */
	ERR_clear_error();
	return -1;
}

struct certforge *
certforge_new(const char *ca_cert_path, const char *ca_key_path,
    size_t cache_entries)
{
	struct certforge *cf;
	X509 *probe;
	size_t i, nshards;

	if (cache_entries == 0) {
		log_event(LOG_WARN, "certforge_init_failed", "err=%s",
		    "the leaf cache needs at least one entry");
		return NULL;
	}
	if ((cf = calloc(1, sizeof(*cf))) == NULL) {
		log_event(LOG_WARN, "certforge_init_failed", "err=%s",
		    strerror(errno));
		return NULL;
	}
	if (certforge_load_ca(cf, ca_cert_path, ca_key_path) == -1)
		goto fail;
	if ((cf->leaf_key = EVP_EC_gen("P-256")) == NULL ||
	    (cf->leaf_exts = certforge_leaf_exts(cf->ca_cert, cf->leaf_key)) ==
	    NULL) {
		log_event(LOG_WARN, "certforge_init_failed", "err=%s",
		    "cannot make the leaf key");
		log_ssl_errors("certforge_init_failed");
		goto fail;
	}

	nshards = cache_entries / CERTFORGE_SHARD_MIN;
	if (nshards < 1)
		nshards = 1;
	if (nshards > CERTFORGE_SHARDS_MAX)
		nshards = CERTFORGE_SHARDS_MAX;
	for (i = 0; i < nshards; i++) {
		/* Spread the remainder so the caps add up to cache_entries. */
		if (certforge_shard_init(&cf->shards[i],
		    cache_entries / nshards + (i < cache_entries % nshards)) ==
		    -1) {
			log_event(LOG_WARN, "certforge_init_failed",
			    "what=leaf_cache err=%s", strerror(errno));
			goto fail;
		}
		cf->nshards++;
	}

	/* Find out now, not at the first client, if the CA key cannot sign. */
	if ((probe = certforge_leaf(cf, "sluice.invalid", time(NULL))) ==
	    NULL) {
		log_event(LOG_WARN, "ca_load_failed", "key=%s err=%s",
		    ca_key_path, "cannot sign leaf certificates");
		goto fail;
	}
	X509_free(probe);
	return cf;
 fail:
	certforge_free(cf);
	return NULL;
}

void
certforge_free(struct certforge *cf)
{
	size_t i;

	if (cf == NULL)
		return;
	for (i = 0; i < cf->nshards; i++)
		certforge_shard_free(&cf->shards[i]);
	sk_X509_EXTENSION_pop_free(cf->leaf_exts, X509_EXTENSION_free);
	EVP_PKEY_free(cf->leaf_key);
	EVP_PKEY_free(cf->ca_key);
	X509_free(cf->ca_cert);
	free(cf);
}

EVP_PKEY *
certforge_leaf_key(struct certforge *cf)
{
	return cf->leaf_key;
}

X509 *
certforge_ca_cert(struct certforge *cf)
{
	return cf->ca_cert;
}
