/*
 * certforge.h - forge leaf certificates from the interception CA.
 *
 * One ECDSA P-256 key serves every leaf.  Leaves are cached in a bounded,
 * sharded LRU keyed by name (a mutex per shard), shared by all workers, and
 * re-forged when they come within a day of expiry.
 */
#ifndef SLUICE_CERTFORGE_H
#define SLUICE_CERTFORGE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

struct certforge;

/*
 * Load the CA from PEM files and make the shared leaf key.  Returns NULL after
 * logging a one-line reason (unreadable file, key not matching the cert, CA
 * cert without CA:TRUE...).  cache_entries bounds the LRU.
 */
struct certforge *certforge_new(const char *ca_cert_path,
    const char *ca_key_path, size_t cache_entries);
void certforge_free(struct certforge *);

/*
 * Return a leaf for name, from the cache or freshly forged; the caller owns
 * one reference and releases it with X509_free().  name is a DNS name or an
 * IPv4/IPv6 literal (then the SAN is an iPAddress).  NULL on failure.
 * Leaf properties: not a CA (basicConstraints CA:FALSE), keyUsage
 * digitalSignature, extendedKeyUsage serverAuth, a random 128-bit serial,
 * subject CN = name (truncated to 64 bytes), SAN = name, issuer = CA subject,
 * authority key id = CA's subject key id, its own subject key id (hash of the
 * leaf public key, so it differs from the CA's), notBefore = now - 1 day,
 * notAfter = notBefore + 190 days, signed with SHA-256.
 */
X509 *certforge_get(struct certforge *, const char *name);

/* Borrowed pointers, valid until certforge_free(). */
EVP_PKEY *certforge_leaf_key(struct certforge *);
X509 *certforge_ca_cert(struct certforge *);

/* Forge one leaf with no cache; exposed for tests. Caller owns the result. */
X509 *certforge_forge(struct certforge *, const char *name, time_t now);

/*
 * certforge_get() with the clock passed in: now decides both the new leaf's
 * validity and whether a cached one is within a day of expiry.  For tests.
 */
X509 *certforge_get_at(struct certforge *, const char *name, time_t now);

/* Cache counters since certforge_new(), for /metrics and tests. */
struct certforge_stats {
	uint64_t	hits;
	uint64_t	misses;		/* leaves forged by certforge_get() */
	uint64_t	evictions;	/* leaves the LRU let go of */
	size_t		entries;	/* leaves cached now */
};
void certforge_stats(struct certforge *, struct certforge_stats *);

/*
 * A new self-signed interception CA certificate for key (as tools/sluice-ca
 * writes it): subject O=sluice, CN=sluice interception CA; random serial;
 * valid from now - 1 hour for 10 years; basicConstraints critical CA:TRUE,
 * pathlen 0; keyUsage critical keyCertSign, cRLSign; subject key id.  NULL
 * after logging on failure; the caller owns the result.
 */
X509 *certforge_ca_build(EVP_PKEY *key, time_t now);

#endif
