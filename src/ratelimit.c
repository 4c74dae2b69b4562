/*
 * ratelimit.c - token buckets shared by all workers.
 *
 * Owns the buckets behind the rate_limits rows: one per limited rule, or
 * one per (rule, client address) for scope 'client', and the count of
 * requests held in delay mode.  Does not own the limits themselves (rules.c
 * loads them into the snapshot and the caller passes one in on every take)
 * nor what a refusal looks like (the caller answers 429 or holds).
 *
 * A bucket holds at most burst tokens and gains requests / per_seconds
 * tokens per second, continuously; a new bucket starts full.  The level is
 * a double, brought up to date on each take from the time of the one
 * before, so an idle bucket costs nothing.  In delay mode a request may
 * borrow a token that is not there yet: the level goes below zero, and
 * since the k-th borrowed token is due k intervals from now, held requests
 * leave evenly spaced, in the order they came.  A level within
 * RATELIMIT_EPSILON of a whole token counts as that token, so that
 * rounding in the refill never costs one.
 *
 * Buckets are keyed by rule id, not by snapshot, so a reload that keeps a
 * rule's id keeps its level.  Each bucket remembers the limit it was last
 * taken under: the time up to a take is credited at that rate; if the limit
 * has since changed, the level is then clamped to the new burst (never
 * raised).
 *
 * Memory is fixed by ratelimit_new(): max_buckets slots split evenly over
 * up to RATELIMIT_SHARDS shards (fewer for a small table, so that each
 * shard's LRU has a few buckets to choose from); nothing is allocated
 * afterwards.  A full shard recycles the slot of
 * its least recently used per-client bucket, or of its least recently used
 * per-rule bucket when it holds no per-client one.  Evicting a bucket
 * forgets it: the next take finds a new, full bucket, so an evicted client
 * is refilled early and tokens borrowed by held requests are forgiven.
 * max_buckets must therefore be well above the number of clients active
 * within a refill period, and far above the number of limited rules.
 *
 * Locking: a bucket lives in the shard its key hashes to and is read or
 * written only under that shard's mutex; shards are cache-line aligned, so
 * takes on different shards share neither a lock nor a line.  The hash is
 * seeded at random: clients choose their addresses (an IPv6 client has a
 * /64 to pick from) and could otherwise aim them all at one shard, evicting
 * the other clients there.  held is an atomic counter outside any lock.
 */
#include <netinet/in.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "ratelimit.h"
#include "rules.h"

#define RATELIMIT_SHARDS	64	/* at most; a power of two */
#define RATELIMIT_SHARD_MIN	8	/* fewer shards rather than fewer slots */
#define RATELIMIT_MAX_BUCKETS	(1U << 30)
#define RATELIMIT_EPSILON	1e-9	/* tokens */

/*
 * Client strings are IP literals from inet_ntop(); anything longer is cut
 * here, so two such strings sharing this prefix would share a bucket.
 */
struct ratelimit_key {
	int64_t		 rule_id;
	int		 per_client;
	char		 client[INET6_ADDRSTRLEN];	/* "" when !per_client */
};

/* Links are slot index + 1, so 0 ends a list and calloc'd memory is empty. */
struct ratelimit_bucket {
	struct ratelimit_key key;
	uint64_t	 hash;
	double		 level;		/* tokens; below 0: borrowed */
	double		 stamp;		/* now_ms that level is true at */
	int		 requests;	/* the limit level was taken under */
	int		 per_seconds;
	int		 burst;
	uint32_t	 chain;		/* next in the hash chain */
	uint32_t	 prev;		/* LRU list: towards the most recent */
	uint32_t	 next;		/* LRU list: towards the least recent */
};

/* Most recently used at head. */
struct ratelimit_lru {
	uint32_t	 head;
	uint32_t	 tail;
};

struct ratelimit_shard {
	pthread_mutex_t	 mtx;
	struct ratelimit_bucket *buckets;	/* shard_cap slots */
	uint32_t	*chains;		/* chain_mask + 1 heads */
	uint32_t	 nused;			/* slots [0, nused) hold buckets */
	struct ratelimit_lru lru[2];		/* by key.per_client */
	uint64_t	 rejected;		/* takes answered with a wait */
	uint64_t	 delayed;		/* takes held until due */
} __attribute__((aligned(64)));

struct ratelimit {
	struct ratelimit_shard	*shards;
	unsigned		 nshards;
	unsigned		 nmutexes;	/* initialised, for _free */
	uint32_t		 shard_cap;
	uint32_t		 chain_mask;
	uint64_t		 seed;
	struct ratelimit_bucket	*buckets;	/* all shards' slots */
	uint32_t		*chains;	/* all shards' chain heads */
	_Atomic uint64_t	 held;
};

static void	ratelimit_key_set(struct ratelimit_key *, int64_t,
		    int, const char *);
static uint64_t	ratelimit_hash(uint64_t, const struct ratelimit_key *);
static struct ratelimit_bucket *ratelimit_find(struct ratelimit *,
		    struct ratelimit_shard *, const struct ratelimit_key *,
		    uint64_t);
static struct ratelimit_bucket *ratelimit_insert(struct ratelimit *,
		    struct ratelimit_shard *, const struct ratelimit_key *,
		    uint64_t, const struct rule_limit *, double);
static uint32_t	ratelimit_evict(struct ratelimit *,
		    struct ratelimit_shard *);
static void	ratelimit_lru_unlink(struct ratelimit_shard *, uint32_t);
static void	ratelimit_lru_push(struct ratelimit_shard *, uint32_t);
static void	ratelimit_refill(struct ratelimit_bucket *,
		    const struct rule_limit *, double);
static int64_t	ratelimit_ceil_ms(double);

struct ratelimit *
ratelimit_new(size_t max_buckets)
{
	struct ratelimit *rl;
	struct ratelimit_shard *shard;
	size_t nchains;
	unsigned i;
	int error;

	if (max_buckets == 0 || max_buckets > RATELIMIT_MAX_BUCKETS) {
		log_event(LOG_WARN, "ratelimit_init_failed", "max_buckets=%zu "
		    "max=%u", max_buckets, RATELIMIT_MAX_BUCKETS);
		return NULL;
	}
	if ((rl = calloc(1, sizeof(*rl))) == NULL) {
		log_event(LOG_WARN, "ratelimit_init_failed",
		    "call=calloc err=%s", strerror(errno));
		return NULL;
	}
	rl->nshards = RATELIMIT_SHARDS;
	while (rl->nshards > 1 &&
	    max_buckets / rl->nshards < RATELIMIT_SHARD_MIN)
		rl->nshards /= 2;
	rl->shard_cap = max_buckets / rl->nshards;
	for (nchains = 1; nchains < rl->shard_cap; nchains *= 2)
		;
	rl->chain_mask = nchains - 1;
	arc4random_buf(&rl->seed, sizeof(rl->seed));
	atomic_init(&rl->held, 0);

	/* calloc'd: pages a small table never uses are never touched. */
	rl->buckets = calloc((size_t)rl->nshards * rl->shard_cap,
	    sizeof(*rl->buckets));
	rl->chains = calloc(rl->nshards * nchains, sizeof(*rl->chains));
	if (rl->buckets == NULL || rl->chains == NULL) {
		log_event(LOG_WARN, "ratelimit_init_failed", "buckets=%u err=%s",
		    rl->nshards * rl->shard_cap, strerror(errno));
		goto fail;
	}
	if ((error = posix_memalign((void **)&rl->shards,
	    _Alignof(struct ratelimit_shard),
	    rl->nshards * sizeof(*rl->shards))) != 0) {
		errno = error;
		log_event(LOG_WARN, "ratelimit_init_failed",
		    "call=posix_memalign err=%s", strerror(errno));
		goto fail;
	}
	memset(rl->shards, 0, rl->nshards * sizeof(*rl->shards));
	for (i = 0; i < rl->nshards; i++) {
		shard = &rl->shards[i];
		shard->buckets = rl->buckets + (size_t)i * rl->shard_cap;
		shard->chains = rl->chains + (size_t)i * nchains;
		if ((error = pthread_mutex_init(&shard->mtx, NULL)) != 0) {
			errno = error;
			log_event(LOG_WARN, "ratelimit_init_failed",
			    "call=pthread_mutex_init err=%s", strerror(errno));
			goto fail;
		}
		rl->nmutexes++;
	}
	return rl;

fail:
	ratelimit_free(rl);
	return NULL;
}

void
ratelimit_free(struct ratelimit *rl)
{
	unsigned i;

	if (rl == NULL)
		return;
	for (i = 0; i < rl->nmutexes; i++)
		pthread_mutex_destroy(&rl->shards[i].mtx);
	free(rl->shards);
	free(rl->chains);
	free(rl->buckets);
	free(rl);
}

/*
 * lim must be as rules.c loads it: requests, per_seconds, burst and
 * max_delay_ms all > 0 (NULLs in the database already resolved).
 */
int64_t
ratelimit_take(struct ratelimit *rl, const struct rule_limit *lim,
    int64_t rule_id, const char *client, double now_ms)
{
	struct ratelimit_key key;
	struct ratelimit_shard *shard;
	struct ratelimit_bucket *b;
	uint64_t h;
	double wait;
	int64_t ret;

	ratelimit_key_set(&key, rule_id, lim->per_client, client);
	h = ratelimit_hash(rl->seed, &key);
	shard = &rl->shards[(h >> 32) & (rl->nshards - 1)];

	pthread_mutex_lock(&shard->mtx);
	if ((b = ratelimit_find(rl, shard, &key, h)) != NULL) {
		ratelimit_refill(b, lim, now_ms);
		ratelimit_lru_unlink(shard, b - shard->buckets);
		ratelimit_lru_push(shard, b - shard->buckets);
	} else
		b = ratelimit_insert(rl, shard, &key, h, lim, now_ms);

	if (b->level >= 1 - RATELIMIT_EPSILON) {
		b->level -= 1;
		ret = 0;
	} else {
		/* Until the level reaches the point where a take passes. */
		wait = (1 - RATELIMIT_EPSILON - b->level) *
		    (lim->per_seconds * 1000.0) / lim->requests;
		ret = ratelimit_ceil_ms(wait);
		if (lim->delay && ret <= lim->max_delay_ms) {
			b->level -= 1;
			ret = -ret;
			shard->delayed++;
		} else
			shard->rejected++;
	}
	pthread_mutex_unlock(&shard->mtx);

	if (ret < 0)
		atomic_fetch_add_explicit(&rl->held, 1, memory_order_relaxed);
	return ret;
}

void
ratelimit_held_done(struct ratelimit *rl)
{
	atomic_fetch_sub_explicit(&rl->held, 1, memory_order_relaxed);
}

void
ratelimit_stats(struct ratelimit *rl, uint64_t *rejected, uint64_t *delayed)
{
	unsigned i;

	*rejected = *delayed = 0;
	for (i = 0; i < rl->nshards; i++) {
		pthread_mutex_lock(&rl->shards[i].mtx);
		*rejected += rl->shards[i].rejected;
		*delayed += rl->shards[i].delayed;
		pthread_mutex_unlock(&rl->shards[i].mtx);
	}
}

uint64_t
ratelimit_held(struct ratelimit *rl)
{
	return atomic_load_explicit(&rl->held, memory_order_relaxed);
}

static void
ratelimit_key_set(struct ratelimit_key *key, int64_t rule_id, int per_client,
    const char *client)
{
	size_t i = 0;

	key->rule_id = rule_id;
	key->per_client = per_client != 0;
	if (per_client && client != NULL)
		for (; i < sizeof(key->client) - 1 && client[i] != '\0'; i++)
			key->client[i] = client[i];
	key->client[i] = '\0';
}

/*
 * FNV-1a over the seeded key, then murmur3's finaliser so that the high
 * bits (the shard) and the low bits (the chain) both depend on every byte.
 */
static uint64_t
ratelimit_hash(uint64_t seed, const struct ratelimit_key *key)
{
	uint64_t h = seed ^ 0xcbf29ce484222325ULL;
	const unsigned char *p;
	size_t i;

	for (i = 0; i < sizeof(key->rule_id); i++)
		h = (h ^ (((uint64_t)key->rule_id >> (8 * i)) & 0xff)) *
		    0x100000001b3ULL;
	h = (h ^ (unsigned)key->per_client) * 0x100000001b3ULL;
	for (p = (const unsigned char *)key->client; *p != '\0'; p++)
		h = (h ^ *p) * 0x100000001b3ULL;

	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

/* Called with shard->mtx held. */
static struct ratelimit_bucket *
ratelimit_find(struct ratelimit *rl, struct ratelimit_shard *shard,
    const struct ratelimit_key *key, uint64_t h)
{
	struct ratelimit_bucket *b;
	uint32_t link;

	for (link = shard->chains[h & rl->chain_mask]; link != 0;
	    link = b->chain) {
		b = &shard->buckets[link - 1];
		if (b->hash == h && b->key.rule_id == key->rule_id &&
		    b->key.per_client == key->per_client &&
		    strcmp(b->key.client, key->client) == 0)
			return b;
	}
	return NULL;
}

/* A new, full bucket for key, most recently used.  shard->mtx held. */
static struct ratelimit_bucket *
ratelimit_insert(struct ratelimit *rl, struct ratelimit_shard *shard,
    const struct ratelimit_key *key, uint64_t h, const struct rule_limit *lim,
    double now_ms)
{
	struct ratelimit_bucket *b;
	uint32_t i, *head;

	if (shard->nused < rl->shard_cap)
		i = shard->nused++;
	else
		i = ratelimit_evict(rl, shard);
	b = &shard->buckets[i];
	b->key = *key;
	b->hash = h;
	b->level = lim->burst;
	b->stamp = now_ms;
	b->requests = lim->requests;
	b->per_seconds = lim->per_seconds;
	b->burst = lim->burst;
	head = &shard->chains[h & rl->chain_mask];
	b->chain = *head;
	*head = i + 1;
	ratelimit_lru_push(shard, i);
	return b;
}

/*
 * Unlink the least recently used bucket of a full shard, per-client ones
 * first, and return its slot.  shard->mtx held.
 */
static uint32_t
ratelimit_evict(struct ratelimit *rl, struct ratelimit_shard *shard)
{
	struct ratelimit_bucket *b;
	uint32_t i, *link;

	if (shard->lru[1].tail != 0)
		i = shard->lru[1].tail - 1;
	else
		i = shard->lru[0].tail - 1;
	b = &shard->buckets[i];
	ratelimit_lru_unlink(shard, i);
	for (link = &shard->chains[b->hash & rl->chain_mask]; *link != i + 1;
	    link = &shard->buckets[*link - 1].chain)
		;
	*link = b->chain;
	return i;
}

static void
ratelimit_lru_unlink(struct ratelimit_shard *shard, uint32_t i)
{
	struct ratelimit_bucket *b = &shard->buckets[i];
	struct ratelimit_lru *lru = &shard->lru[b->key.per_client];

	if (b->prev != 0)
		shard->buckets[b->prev - 1].next = b->next;
	else
		lru->head = b->next;
	if (b->next != 0)
		shard->buckets[b->next - 1].prev = b->prev;
	else
		lru->tail = b->prev;
	b->prev = b->next = 0;
}

static void
ratelimit_lru_push(struct ratelimit_shard *shard, uint32_t i)
{
	struct ratelimit_bucket *b = &shard->buckets[i];
	struct ratelimit_lru *lru = &shard->lru[b->key.per_client];

	b->prev = 0;
	b->next = lru->head;
	if (lru->head != 0)
		shard->buckets[lru->head - 1].prev = i + 1;
	else
		lru->tail = i + 1;
	lru->head = i + 1;
}

/*
 * Credit the time since the last take at the rate the bucket was filled
 * under, then adopt lim.  A clock reading older than the bucket's (another
 * worker read the clock first but took the lock second) credits nothing
 * and leaves stamp alone, so no interval is ever counted twice.
 */
static void
ratelimit_refill(struct ratelimit_bucket *b, const struct rule_limit *lim,
    double now_ms)
{
	if (now_ms > b->stamp) {
		b->level += (now_ms - b->stamp) * b->requests /
		    (b->per_seconds * 1000.0);
		if (b->level > b->burst)
			b->level = b->burst;
		b->stamp = now_ms;
	}
	if (b->requests != lim->requests ||
	    b->per_seconds != lim->per_seconds || b->burst != lim->burst) {
		b->requests = lim->requests;
		b->per_seconds = lim->per_seconds;
		b->burst = lim->burst;
		if (b->level > b->burst)
			b->level = b->burst;
	}
}

/* Whole milliseconds, rounded up; ms > 0, so the result is >= 1. */
static int64_t
ratelimit_ceil_ms(double ms)
{
	int64_t whole = (int64_t)ms;

	return (double)whole < ms ? whole + 1 : whole;
}
