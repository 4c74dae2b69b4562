/*
 * test_ratelimit.c - ratelimit.c: burst then refusal, exact refill over
 * long runs, per-client and per-rule scopes, delay mode, levels kept across
 * a limit change, bounded memory with LRU eviction, and no over- or
 * under-granting when workers race on the same buckets.
 *
 * Every test but the concurrent ones runs on an injected clock.
 */
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ratelimit.h"
#include "rules.h"
#include "unit.h"

#define TEST_THREADS		8
#define TEST_RUN_MS		1000.0
#define TEST_CLIENTS		16
#define TEST_EVICT_BUCKETS	64
#define TEST_EVICT_CLIENTS	10000
#define TEST_BENCH_TAKES	1000000

struct test_racer {
	struct ratelimit	*rl;
	const struct rule_limit	*lim;
	int			 id;
	pthread_barrier_t	*go;
	const double		*deadline;	/* written before go */
	_Atomic long		*passed;	/* per client, or [0] */
	long			 takes;
	double			 first;		/* now_ms of the first take */
	double			 covered;	/* of the TEST_CLIENTS-th */
	double			 last;
};

static double
test_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static struct rule_limit
test_limit(int requests, int per_seconds, int burst, int per_client)
{
	struct rule_limit lim = {
		.requests = requests,
		.per_seconds = per_seconds,
		.burst = burst,
		.per_client = per_client,
		.max_delay_ms = 1000,
	};

	return lim;
}

static void
test_client(char *buf, size_t len, int n)
{
	snprintf(buf, len, "10.%d.%d.%d", (n >> 16) & 0xff, (n >> 8) & 0xff,
	    n & 0xff);
}

static void
test_burst(void)
{
	struct rule_limit lim = test_limit(10, 60, 5, 0);
	struct ratelimit *rl;
	int i, ok = 1;

	rl = ratelimit_new(1024);
	CHECK(rl != NULL, "burst: ratelimit_new");
	for (i = 0; i < 5; i++)
		ok &= ratelimit_take(rl, &lim, 1, NULL, 1000.0) == 0;
	CHECK(ok, "burst: 5 pass");
	CHECK(ratelimit_take(rl, &lim, 1, NULL, 1000.0) == 6000,
	    "burst: the 6th waits 6000 ms");
	CHECK(ratelimit_take(rl, &lim, 1, NULL, 1000.5) == 6000,
	    "burst: the wait rounds up to whole ms (5999.5 -> 6000)");
	CHECK(ratelimit_take(rl, &lim, 1, NULL, 6999.5) == 1,
	    "burst: the wait is at least 1 ms");
	CHECK(ratelimit_take(rl, &lim, 1, NULL, 7000.0) == 0,
	    "burst: 6 s later one more passes");
	CHECK(ratelimit_take(rl, &lim, 1, NULL, 7000.0) == 6000,
	    "burst: and only one");
	CHECK(ratelimit_held(rl) == 0, "burst: nothing held without delay");
	ratelimit_free(rl);
}

/* steps + 1 takes, step_ms apart from start_ms; returns how many passed */
static int
test_run(struct ratelimit *rl, const struct rule_limit *lim, int64_t rule,
    double start_ms, double step_ms, int steps)
{
	int i, passed = 0;

	for (i = 0; i <= steps; i++)
		passed += ratelimit_take(rl, lim, rule, NULL,
		    start_ms + i * step_ms) == 0;
	return passed;
}

static void
test_refill(void)
{
	struct rule_limit two = test_limit(2, 1, 5, 0);
	struct rule_limit odd = test_limit(3, 7, 4, 0);
	struct rule_limit slow = test_limit(1, 3600, 1, 0);
	struct ratelimit *rl;

	rl = ratelimit_new(1024);
	/* 1001 takes, 100 ms apart: 100 s at 2/s */
	CHECK(test_run(rl, &two, 1, 0.0, 100.0, 1000) == 5 + 200,
	    "refill: 2/s over 100 s passes exactly burst + 200");
	/* a token due every 2333.33 ms, met exactly every third one */
	CHECK(test_run(rl, &odd, 2, 0.0, 70.0, 10000) == 4 + 300,
	    "refill: 3 per 7 s over 700 s passes exactly burst + 300");
	/* 1 per hour, one take a second for ten hours */
	CHECK(test_run(rl, &slow, 3, 0.0, 1000.0, 36000) == 1 + 10,
	    "refill: 1/h over 10 h passes exactly burst + 10");
	ratelimit_free(rl);

	rl = ratelimit_new(1024);
	CHECK(ratelimit_take(rl, &two, 4, NULL, 0.0) == 0 &&
	    ratelimit_take(rl, &two, 4, NULL, 3600e3) == 0,
	    "refill: a long idle bucket");
	CHECK(test_run(rl, &two, 4, 3600e3, 0.0, 10) == 4,
	    "refill: fills to burst, not beyond");
	ratelimit_free(rl);
}

static void
test_scope(void)
{
	struct rule_limit client = test_limit(1, 60, 2, 1);
	struct rule_limit rule = test_limit(1, 60, 2, 0);
	struct ratelimit *rl;

	rl = ratelimit_new(1024);
	CHECK(ratelimit_take(rl, &client, 1, "10.0.0.1", 0) == 0 &&
	    ratelimit_take(rl, &client, 1, "10.0.0.1", 0) == 0 &&
	    ratelimit_take(rl, &client, 1, "10.0.0.1", 0) > 0,
	    "per-client: a client's burst, then refused");
	CHECK(ratelimit_take(rl, &client, 1, "10.0.0.2", 0) == 0 &&
	    ratelimit_take(rl, &client, 1, "10.0.0.2", 0) == 0 &&
	    ratelimit_take(rl, &client, 1, "10.0.0.2", 0) > 0,
	    "per-client: another client has its own bucket");
	CHECK(ratelimit_take(rl, &client, 1, "2001:db8::1", 0) == 0,
	    "per-client: an IPv6 client has its own bucket");
	CHECK(ratelimit_take(rl, &client, 2, "10.0.0.1", 0) == 0,
	    "per-client: the same client under another rule is separate");

	CHECK(ratelimit_take(rl, &rule, 3, "10.0.0.1", 0) == 0 &&
	    ratelimit_take(rl, &rule, 3, "10.0.0.2", 0) == 0,
	    "per-rule: two clients take the burst");
	CHECK(ratelimit_take(rl, &rule, 3, "10.0.0.3", 0) > 0 &&
	    ratelimit_take(rl, &rule, 3, NULL, 0) > 0,
	    "per-rule: and any client is refused after");
	CHECK(ratelimit_take(rl, &rule, 1, NULL, 0) == 0,
	    "per-rule: rule 1's rule bucket is not its client buckets");
	ratelimit_free(rl);
}

static void
test_delay(void)
{
	static const int64_t want[10] = {
		0, 0, -1000, -2000, -3000, -4000, -5000, 6000, 6000, 6000
	};
	struct rule_limit lim = test_limit(1, 1, 2, 0);
	struct ratelimit *rl;
	char what[64];
	int64_t got;
	int i;

	lim.delay = 1;
	lim.max_delay_ms = 5000;
	rl = ratelimit_new(1024);
	for (i = 0; i < 10; i++) {
		got = ratelimit_take(rl, &lim, 1, NULL, 0.0);
		snprintf(what, sizeof(what), "delay: take %d returns %lld",
		    i + 1, (long long)want[i]);
		CHECK(got == want[i], what);
	}
	CHECK(ratelimit_held(rl) == 5, "delay: 5 held");
	for (i = 0; i < 4; i++)
		ratelimit_held_done(rl);
	CHECK(ratelimit_held(rl) == 1, "delay: 1 held after 4 done");
	ratelimit_held_done(rl);
	CHECK(ratelimit_held(rl) == 0, "delay: none held after 5 done");

	/* the borrowed tokens are repaid first, one a second */
	CHECK(ratelimit_take(rl, &lim, 1, NULL, 2500.0) == -3500,
	    "delay: a later request queues behind the held ones");
	CHECK(ratelimit_take(rl, &lim, 1, NULL, 6000.0) == -1000,
	    "delay: the queue drains at the refill rate");
	CHECK(ratelimit_take(rl, &lim, 1, NULL, 8000.0) == 0,
	    "delay: an empty queue passes at once");
	CHECK(ratelimit_held(rl) == 2, "delay: held counts both");
	ratelimit_held_done(rl);
	ratelimit_held_done(rl);
	ratelimit_free(rl);
}

static void
test_reload(void)
{
	struct rule_limit ten = test_limit(1, 1, 10, 0);
	struct rule_limit five = test_limit(1, 1, 5, 0);
	struct rule_limit twenty = test_limit(1, 1, 20, 0);
	struct rule_limit fast = test_limit(10, 1, 1, 0);
	struct ratelimit *rl;

	rl = ratelimit_new(1024);
	test_run(rl, &ten, 7, 0.0, 0.0, 2);
	CHECK(test_run(rl, &five, 7, 0.0, 0.0, 9) == 5,
	    "reload: a smaller burst clamps the level (7 -> 5)");
	test_run(rl, &ten, 8, 0.0, 0.0, 2);
	CHECK(test_run(rl, &twenty, 8, 0.0, 0.0, 9) == 7,
	    "reload: a larger burst keeps the level (7), no refill");
	CHECK(test_run(rl, &ten, 8, 0.0, 0.0, 0) == 0,
	    "reload: the same id keeps its bucket across limits");

	CHECK(ratelimit_take(rl, &ten, 9, NULL, 0.0) == 0, "reload: prime 9");
	test_run(rl, &ten, 9, 0.0, 0.0, 8);
	/* 0.5 s at 1/s gives half a token; the other half at 10/s: 50 ms */
	CHECK(ratelimit_take(rl, &fast, 9, NULL, 500.0) == 50,
	    "reload: time before the change is credited at the old rate");
	CHECK(ratelimit_take(rl, &fast, 9, NULL, 550.0) == 0,
	    "reload: time after it at the new rate");
	ratelimit_free(rl);
}

static void
test_evict(void)
{
	struct rule_limit lim = test_limit(1, 3600, 1, 1);
	struct ratelimit *rl;
	struct mallinfo2 before, after;
	char client[32];
	int i, passed = 0, refused = 0;

	rl = ratelimit_new(TEST_EVICT_BUCKETS);
	CHECK(ratelimit_take(rl, &lim, 1, "10.255.0.1", 0) == 0 &&
	    ratelimit_take(rl, &lim, 1, "10.255.0.1", 0) > 0,
	    "evict: the first client empties its bucket");

	before = mallinfo2();
	for (i = 0; i < TEST_EVICT_CLIENTS; i++) {
		test_client(client, sizeof(client), i);
		passed += ratelimit_take(rl, &lim, 1, client, i) == 0;
	}
	after = mallinfo2();
	CHECK(passed == TEST_EVICT_CLIENTS, "evict: every new client passes");
	CHECK(after.uordblks == before.uordblks,
	    "evict: 10000 clients allocate nothing");

	/*
	 * Newest first: in every shard the buckets still there are its
	 * newest clients, so they are all probed (and refused, changing
	 * nothing) before a probe of an evicted client recycles a slot.
	 */
	for (i = TEST_EVICT_CLIENTS - 1; i >= 0; i--) {
		test_client(client, sizeof(client), i);
		refused += ratelimit_take(rl, &lim, 1, client,
		    TEST_EVICT_CLIENTS) > 0;
	}
	printf("# evict: %d of %d clients still had a bucket\n", refused,
	    TEST_EVICT_CLIENTS);
	CHECK(refused <= TEST_EVICT_BUCKETS,
	    "evict: at most max_buckets buckets are kept");
	CHECK(refused >= TEST_EVICT_BUCKETS / 2,
	    "evict: the recent clients are kept");
	CHECK(ratelimit_take(rl, &lim, 1, "10.255.0.1", 0) == 0,
	    "evict: an evicted client's bucket is full again");
	ratelimit_free(rl);

	/* a per-rule bucket outlives any number of per-client ones */
	rl = ratelimit_new(TEST_EVICT_BUCKETS);
	lim.per_client = 0;
	ratelimit_take(rl, &lim, 2, NULL, 0);
	lim.per_client = 1;
	for (i = 0; i < TEST_EVICT_CLIENTS; i++) {
		test_client(client, sizeof(client), i);
		ratelimit_take(rl, &lim, 3, client, 0);
	}
	lim.per_client = 0;
	CHECK(ratelimit_take(rl, &lim, 2, NULL, 0) > 0,
	    "evict: per-client buckets are evicted before per-rule ones");
	/* more per-rule buckets than the table holds: still bounded */
	for (i = 0; i < TEST_EVICT_CLIENTS; i++)
		ratelimit_take(rl, &lim, 100 + i, NULL, 0);
	CHECK(ratelimit_take(rl, &lim, 100, NULL, 0) == 0,
	    "evict: per-rule buckets too, when nothing else is left");
	ratelimit_free(rl);

	CHECK(ratelimit_new(0) == NULL, "evict: max_buckets 0 is refused");
	rl = ratelimit_new(1);
	CHECK(rl != NULL && ratelimit_take(rl, &lim, 1, NULL, 0) == 0 &&
	    ratelimit_take(rl, &lim, 1, NULL, 0) > 0 &&
	    ratelimit_take(rl, &lim, 2, NULL, 0) == 0 &&
	    ratelimit_take(rl, &lim, 1, NULL, 0) == 0,
	    "evict: a one-bucket table works");
	ratelimit_free(rl);
}

static void *
test_racer_main(void *arg)
{
	struct test_racer *r = arg;
	char clients[TEST_CLIENTS][32];
	double now;
	int c = r->id % TEST_CLIENTS, i;

	for (i = 0; i < TEST_CLIENTS; i++)
		test_client(clients[i], sizeof(clients[i]), 1000 + i);
	pthread_barrier_wait(r->go);
	while ((now = test_now_ms()) < *r->deadline) {
		if (ratelimit_take(r->rl, r->lim, 1, clients[c], now) == 0)
			atomic_fetch_add(&r->passed[r->lim->per_client ? c : 0],
			    1);
		if (r->takes == 0)
			r->first = now;
		if (++r->takes == TEST_CLIENTS)
			r->covered = now;
		r->last = now;
		c = (c + 1) % TEST_CLIENTS;
	}
	return NULL;
}

/*
 * TEST_THREADS threads take as fast as they can for TEST_RUN_MS on a real
 * clock, each cycling over the clients.  A bucket cannot have granted more
 * than burst + rate x (last take - first take) + 1, nor much less than
 * burst + rate x (last take - the time every thread had touched every
 * bucket, so it surely existed): what it loses is the fraction of a token
 * accrued after its last take, and whatever it accrues while full, which
 * takes a stall of all the threads for burst / rate.
 */
static void
test_race(const struct rule_limit *lim, const char *name)
{
	struct test_racer r[TEST_THREADS];
	pthread_t t[TEST_THREADS];
	pthread_barrier_t go;
	_Atomic long passed[TEST_CLIENTS];
	struct ratelimit *rl;
	double deadline, first, covered, last, rate, hi, lo;
	long takes = 0, total = 0;
	char what[128];
	int i, nbuckets = lim->per_client ? TEST_CLIENTS : 1, ok_hi = 1,
	    ok_lo = 1;

	rl = ratelimit_new(1024);
	for (i = 0; i < TEST_CLIENTS; i++)
		atomic_init(&passed[i], 0);
	pthread_barrier_init(&go, NULL, TEST_THREADS + 1);
	for (i = 0; i < TEST_THREADS; i++) {
		r[i] = (struct test_racer){ .rl = rl, .lim = lim, .id = i,
		    .go = &go, .deadline = &deadline, .passed = passed };
		if (pthread_create(&t[i], NULL, test_racer_main, &r[i]) != 0) {
			fprintf(stderr, "pthread_create failed\n");
			exit(1);
		}
	}
	deadline = test_now_ms() + TEST_RUN_MS;
	pthread_barrier_wait(&go);
	first = deadline;
	covered = last = 0;
	for (i = 0; i < TEST_THREADS; i++) {
		pthread_join(t[i], NULL);
		takes += r[i].takes;
		if (r[i].first < first)
			first = r[i].first;
		if (r[i].covered > covered)
			covered = r[i].covered;
		if (r[i].last > last)
			last = r[i].last;
	}
	pthread_barrier_destroy(&go);

	rate = (double)lim->requests / (lim->per_seconds * 1000.0);
	hi = lim->burst + rate * (last - first) + 1;
	lo = lim->burst + rate * (last - covered) -
	    (rate * TEST_RUN_MS * 0.02 + 2);
	for (i = 0; i < nbuckets; i++) {
		ok_hi &= passed[i] <= hi;
		ok_lo &= passed[i] >= lo;
		total += passed[i];
	}
	printf("# %s: %ld of %ld takes passed in %.0f ms, %d bucket(s) "
	    "each within [%.0f, %.0f], %d threads: %.0f ns per take (wall)\n",
	    name, total, takes, last - first, nbuckets, lo, hi, TEST_THREADS,
	    (last - first) * 1e6 / takes);
	snprintf(what, sizeof(what),
	    "%s: no bucket passes more than burst + rate x elapsed + 1", name);
	CHECK(ok_hi, what);
	snprintf(what, sizeof(what),
	    "%s: every bucket passes burst + rate x elapsed, nearly", name);
	CHECK(ok_lo, what);
	ratelimit_free(rl);
}

static void
test_bench(void)
{
	struct rule_limit lim = test_limit(1000000, 1, 1000000, 1);
	struct ratelimit *rl;
	char clients[TEST_CLIENTS][32];
	double start, elapsed;
	long passed = 0;
	int i;

	rl = ratelimit_new(65536);
	for (i = 0; i < TEST_CLIENTS; i++)
		test_client(clients[i], sizeof(clients[i]), 2000 + i);
	start = test_now_ms();
	for (i = 0; i < TEST_BENCH_TAKES; i++)
		passed += ratelimit_take(rl, &lim, 1,
		    clients[i % TEST_CLIENTS], i * 0.001) == 0;
	elapsed = test_now_ms() - start;
	printf("# ns per take: %.1f (one thread, per-client, %d clients, "
	    "%ld passed)\n", elapsed * 1e6 / TEST_BENCH_TAKES, TEST_CLIENTS,
	    passed);
	ratelimit_free(rl);
}

int
main(void)
{
	/*
	 * The races' bursts hold 200 and 500 ms of tokens: a bucket only
	 * loses what accrues while it is full, which takes every thread
	 * stalled that long, and a machine running other tests beside this
	 * one stalled all of them for over 25 ms (the old 50 at 2000/s).
	 */
	struct rule_limit rule = test_limit(2000, 1, 400, 0);
	struct rule_limit client = test_limit(200, 1, 100, 1);

	test_burst();
	test_refill();
	test_scope();
	test_delay();
	test_reload();
	test_evict();
	test_race(&rule, "race per-rule");
	test_race(&client, "race per-client");
	test_bench();
	return unit_done();
}
