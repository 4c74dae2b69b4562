/*
 * addrname.h - a bounded table of address -> name, learned from DNS
 * answers (dnslearn.c) and read by the flow verdicts (nfqueue.c).
 */
#ifndef SLUICE_ADDRNAME_H
#define SLUICE_ADDRNAME_H

#include <stddef.h>
#include <stdint.h>

#include "dns.h"

struct addrname;

/* A table of at most capacity addresses; ttl_max caps every TTL (s). */
struct addrname *addrname_new(size_t capacity, uint32_t ttl_max);
void addrname_free(struct addrname *);

/*
 * addr (4 or 16 bytes by family) is name for ttl seconds from now_ms
 * (monotonic).  A known address takes the new name and expiry; a new one
 * replaces the oldest entry when the table is full.
 */
void addrname_put(struct addrname *, int family, const uint8_t *addr,
    const char *name, uint32_t ttl, int64_t now_ms);

/*
 * Copy addr's unexpired name into out (DNS_NAME_MAX bytes).  1 if there
 * is one, 0 if not.  Never allocates.
 */
int addrname_get(struct addrname *, int family, const uint8_t *addr,
    int64_t now_ms, char *out);

/* Entries in use (expired ones included until replaced). */
size_t addrname_count(struct addrname *);

#endif
