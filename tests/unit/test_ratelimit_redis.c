/*
 * test_ratelimit_redis.c - the parts of ratelimit_redis.c that need no
 * Redis: bucket keys, the local share of a shared limit, and leased tokens
 * (spent one by one, forgotten on expiry or when another key takes the
 * slot, never more than were added).  The script and the client are
 * tested end to end by tests/integration/18*.
 */
#include <stdio.h>
#include <string.h>

#include "ratelimit_redis.h"
#include "rules.h"
#include "unit.h"

static void
test_key(void)
{
	char buf[RATELIMIT_REDIS_KEYMAX];

	CHECK(ratelimit_redis_key(buf, sizeof(buf), "sluice:", 7, NULL) == 0 &&
	    strcmp(buf, "sluice:rl:7") == 0, "key: per rule");
	CHECK(ratelimit_redis_key(buf, sizeof(buf), "prod:", 42,
	    "2001:db8::1") == 0 && strcmp(buf, "prod:rl:42:2001:db8::1") == 0,
	    "key: per client, IPv6");
	CHECK(ratelimit_redis_key(buf, sizeof(buf), "p:", -3, "10.0.0.1") ==
	    0 && strcmp(buf, "p:rl:-3:10.0.0.1") == 0, "key: negative id");
	CHECK(ratelimit_redis_key(buf, 8, "sluice:", 7, NULL) == -1,
	    "key: too long refused");
}

static void
test_local_limit(void)
{
	struct rule_limit shared = { .requests = 20, .per_seconds = 10,
	    .burst = 20, .max_delay_ms = 1000, .shared = 1, .lease = 5 };
	struct rule_limit local;

	ratelimit_redis_local_limit(&shared, 1, &local);
	CHECK(memcmp(&local, &shared, sizeof(local)) == 0,
	    "local: a fleet of one keeps the limit");
	ratelimit_redis_local_limit(&shared, 2, &local);
	CHECK(local.requests == 20 && local.per_seconds == 20 &&
	    local.burst == 10, "local: two gateways, half the rate and burst");
	ratelimit_redis_local_limit(&shared, 3, &local);
	CHECK(local.per_seconds == 30 && local.burst == 7,
	    "local: burst rounded up");
	shared.burst = 1;
	ratelimit_redis_local_limit(&shared, 50, &local);
	CHECK(local.burst == 1, "local: at least one token");
	shared.per_seconds = 2000000000;
	ratelimit_redis_local_limit(&shared, 1000, &local);
	CHECK(local.per_seconds == 2147483647, "local: period saturates");
}

static void
test_lease(void)
{
	static struct ratelimit_lease t[RATELIMIT_REDIS_LEASES];
	int i, n;

	CHECK(ratelimit_lease_take(t, RATELIMIT_REDIS_LEASES, 1, "", 0) == 0,
	    "lease: empty table has none");
	ratelimit_lease_add(t, RATELIMIT_REDIS_LEASES, 1, "", 4, 0, 10000);
	for (n = 0, i = 0; i < 10; i++)
		n += ratelimit_lease_take(t, RATELIMIT_REDIS_LEASES, 1, "",
		    100);
	CHECK(n == 4, "lease: exactly the tokens added are spent");
	ratelimit_lease_add(t, RATELIMIT_REDIS_LEASES, 1, "", 3, 200, 10000);
	ratelimit_lease_add(t, RATELIMIT_REDIS_LEASES, 1, "", 2, 300, 10000);
	for (n = 0, i = 0; i < 10; i++)
		n += ratelimit_lease_take(t, RATELIMIT_REDIS_LEASES, 1, "",
		    400);
	CHECK(n == 5, "lease: additions add up");
	ratelimit_lease_add(t, RATELIMIT_REDIS_LEASES, 2, "10.0.0.1", 3, 0,
	    1000);
	CHECK(ratelimit_lease_take(t, RATELIMIT_REDIS_LEASES, 2, "10.0.0.2",
	    10) == 0, "lease: another client has none");
	CHECK(ratelimit_lease_take(t, RATELIMIT_REDIS_LEASES, 2, "10.0.0.1",
	    10) == 1, "lease: its client has them");
	CHECK(ratelimit_lease_take(t, RATELIMIT_REDIS_LEASES, 2, "10.0.0.1",
	    1000) == 0, "lease: expired tokens are not spent");
	ratelimit_lease_add(t, RATELIMIT_REDIS_LEASES, 2, "10.0.0.1", 1, 2000,
	    1000);
	CHECK(ratelimit_lease_take(t, RATELIMIT_REDIS_LEASES, 2, "10.0.0.1",
	    2001) == 1 && ratelimit_lease_take(t, RATELIMIT_REDIS_LEASES, 2,
	    "10.0.0.1", 2002) == 0, "lease: expired tokens are forgotten");
	ratelimit_lease_add(t, 1, 5, "", 3, 0, 1000);
	ratelimit_lease_add(t, 1, 6, "", 1, 0, 1000);
	CHECK(ratelimit_lease_take(t, 1, 5, "", 1) == 0 &&
	    ratelimit_lease_take(t, 1, 6, "", 1) == 1 &&
	    ratelimit_lease_take(t, 1, 6, "", 1) == 0,
	    "lease: a colliding key replaces the slot's tokens");
	ratelimit_lease_add(t, 1, 7, "", 0, 0, 1000);
	CHECK(ratelimit_lease_take(t, 1, 7, "", 1) == 0,
	    "lease: adding none takes no slot");
}

int
main(void)
{
	test_key();
	test_local_limit();
	test_lease();
	return unit_done();
}
