/*
 * addrname.c - the address -> name table that DNS answers fill.
 *
 * Owns a fixed array of entries allocated once: nothing grows after
 * addrname_new().  Entries are used in ring order, so when the table is
 * full the entry written longest ago (the oldest insertion; refreshing an
 * address keeps its slot) is the one replaced.  A hash index of
 * 2 * capacity buckets chains entries by address.
 *
 * One writer (the DNS capture thread) and one reader (the nfqueue thread)
 * share it under one mutex, held for a hash walk and a copy of at most
 * DNS_NAME_MAX bytes.  tests/bench/nfq-run measures a whole decision
 * (parse, this lookup, the rules match) at under 1.1 µs on average, next
 * to 50-85 µs for the kernel to reinject the packet: a lock-free scheme
 * would save nothing measurable.
 *
 * Invariants: an entry is in its bucket's chain iff used; next links
 * only used entries; expires_ms <= set time + ttl_max.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "addrname.h"

#define ADDRNAME_NONE	SIZE_MAX

struct addrname_entry {
	uint8_t		 addr[16];
	int		 family;
	int		 used;
	int64_t		 expires_ms;
	size_t		 next;		/* in its bucket's chain */
	char		 name[DNS_NAME_MAX];
};

struct addrname {
	pthread_mutex_t	 mtx;
	struct addrname_entry *entries;
	size_t		 capacity;
	size_t		 ring;		/* the next entry to (re)use */
	size_t		 used;
	size_t		*buckets;
	size_t		 nbuckets;
	uint32_t	 ttl_max;
};

static size_t
addrname_len(int family)
{
	return family == AF_INET ? 4 : 16;
}

/* FNV-1a over the address bytes. */
static size_t
addrname_bucket(const struct addrname *t, int family, const uint8_t *addr)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < addrname_len(family); i++)
		h = (h ^ addr[i]) * 0x100000001b3ULL;
	return (size_t)(h % t->nbuckets);
}

struct addrname *
addrname_new(size_t capacity, uint32_t ttl_max)
{
	struct addrname *t;
	size_t i;

	if (capacity == 0 || (t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->capacity = capacity;
	t->nbuckets = capacity * 2;
	t->ttl_max = ttl_max;
	t->entries = calloc(capacity, sizeof(*t->entries));
	t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
	if (t->entries == NULL || t->buckets == NULL) {
		addrname_free(t);
		return NULL;
	}
	for (i = 0; i < t->nbuckets; i++)
		t->buckets[i] = ADDRNAME_NONE;
	pthread_mutex_init(&t->mtx, NULL);
	return t;
}

void
addrname_free(struct addrname *t)
{
	if (t == NULL)
		return;
	if (t->entries != NULL && t->buckets != NULL)
		pthread_mutex_destroy(&t->mtx);
	free(t->entries);
	free(t->buckets);
	free(t);
}

/* The entry for addr, or ADDRNAME_NONE; *prevp links to it. */
static size_t
addrname_find(struct addrname *t, int family, const uint8_t *addr,
    size_t **prevp)
{
	size_t *link = &t->buckets[addrname_bucket(t, family, addr)];
	struct addrname_entry *e;

	while (*link != ADDRNAME_NONE) {
		e = &t->entries[*link];
		if (e->family == family &&
		    memcmp(e->addr, addr, addrname_len(family)) == 0) {
			if (prevp != NULL)
				*prevp = link;
			return *link;
		}
		link = &e->next;
	}
	return ADDRNAME_NONE;
}

static void
addrname_unlink(struct addrname *t, size_t i)
{
	struct addrname_entry *e = &t->entries[i];
	size_t *link;

	if (addrname_find(t, e->family, e->addr, &link) == i)
		*link = e->next;
	e->used = 0;
	t->used--;
}

void
addrname_put(struct addrname *t, int family, const uint8_t *addr,
    const char *name, uint32_t ttl, int64_t now_ms)
{
	struct addrname_entry *e;
	size_t i, b;

	if (family != AF_INET && family != AF_INET6)
		return;
	if (ttl > t->ttl_max)
		ttl = t->ttl_max;
	pthread_mutex_lock(&t->mtx);
	if ((i = addrname_find(t, family, addr, NULL)) == ADDRNAME_NONE) {
		i = t->ring;
		t->ring = (t->ring + 1) % t->capacity;
		if (t->entries[i].used)
			addrname_unlink(t, i);
		e = &t->entries[i];
		memset(e->addr, 0, sizeof(e->addr));
		memcpy(e->addr, addr, addrname_len(family));
		e->family = family;
		e->used = 1;
		t->used++;
		b = addrname_bucket(t, family, addr);
		e->next = t->buckets[b];
		t->buckets[b] = i;
	}
	e = &t->entries[i];
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->expires_ms = now_ms + (int64_t)ttl * 1000;
	pthread_mutex_unlock(&t->mtx);
}

int
addrname_get(struct addrname *t, int family, const uint8_t *addr,
    int64_t now_ms, char *out)
{
	struct addrname_entry *e;
	size_t i;
	int found = 0;

	pthread_mutex_lock(&t->mtx);
	if ((i = addrname_find(t, family, addr, NULL)) != ADDRNAME_NONE) {
		e = &t->entries[i];
		if (now_ms < e->expires_ms) {
			memcpy(out, e->name, DNS_NAME_MAX);
			found = 1;
		}
	}
	pthread_mutex_unlock(&t->mtx);
	return found;
}

size_t
addrname_count(struct addrname *t)
{
	size_t n;

	pthread_mutex_lock(&t->mtx);
	n = t->used;
	pthread_mutex_unlock(&t->mtx);
	return n;
}
