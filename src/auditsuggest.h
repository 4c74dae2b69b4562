/*
 * auditsuggest.h - how `sluice-audit suggest` turns would_deny requests
 * into rules: which hosts and methods a rule can hold, and how many paths
 * become one glob.
 */
#ifndef SLUICE_AUDITSUGGEST_H
#define SLUICE_AUDITSUGGEST_H

#include <stddef.h>

/* Up to this many distinct paths of one method: one rule each, exact. */
#define AUDITSUGGEST_EXACT_MAX	3

/*
 * Whether host can be a rule's host naming exactly that host: visible
 * ASCII, no '*' (a wildcard would allow more) or '/', which the schema
 * refuses.  A quote is fine: statements quote it.
 */
int auditsuggest_host_ok(const char *host);

/* Whether method fits rules.method (uppercase letters only). */
int auditsuggest_method_ok(const char *method);

/*
 * The glob for n (> AUDITSUGGEST_EXACT_MAX) paths: their longest common
 * prefix cut after its last '/', then '*' ("/v1/users/1", "/v1/users/2",
 * "/v1/orders" give "/v1/" and '*').  Writes it to out; returns 0, or 1 when the
 * prefix is only "/" (any path: the rule's path is NULL), or -1 when it
 * does not fit outsz or a path does not start with '/'.
 */
int auditsuggest_glob(const char *const *paths, size_t n, char *out,
    size_t outsz);

#endif
