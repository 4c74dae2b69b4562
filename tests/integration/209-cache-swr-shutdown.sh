#!/bin/bash
# Response cache, stale-while-revalidate at shutdown: a background
# revalidation still waiting for its upstream when sluice is told to stop
# is given up with the worker, and sluice exits 0 at once (under
# tools/test --sanitize, a revalidation left behind is a leak, and
# LeakSanitizer makes the exit status non-zero).
. "$(dirname "$0")/../lab/lab.sh"
lab_cache_up
lab_start_sluice --default-policy deny

t='/cache/swrstop?cc=max-age%3D2%2C%20stale-while-revalidate%3D60&delay=6'
u="https://api.test$t"
assert_eq 200 "$(lab_get a "$u")" "status of the first GET"
sleep 2.5
assert_eq 200 "$(lab_get b "$u")" "status of the GET of the stale entry"
lab_assert_cs b "sluice; hit; fwd=stale" "GET of the stale entry"
# The revalidation now waits 6 s for the upstream; sluice must not.
lab_poll 3000 test "$(lab_uhits "$t")" = 2 >/dev/null ||
	fail "the background revalidation did not reach the upstream"
start=$(date +%s%N)
lab_stop_sluice 5
ms=$(( ($(date +%s%N) - start) / 1000000 ))
lab_log "sluice exited $ms ms after SIGTERM, the revalidation still waiting"
[ "$ms" -lt 4000 ] || fail "sluice took $ms ms to exit: it waited for the revalidation"
