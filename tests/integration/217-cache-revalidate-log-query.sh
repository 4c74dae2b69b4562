#!/bin/bash
# A target's query stays out of sluice's log: a client's token in the query
# of a GET whose stale entry (stale-while-revalidate) is revalidated in the
# background, with --log-level debug, appears nowhere in the log, though
# the cache_revalidate line names the target's path.
. "$(dirname "$0")/../lab/lab.sh"
lab_cache_up
lab_start_sluice --default-policy deny --log-level debug

S=tok-SLUICETEST-217-c4e1
t="/cache/tok?cc=max-age%3D2%2C%20stale-while-revalidate%3D60&access_token=$S"
assert_eq 200 "$(lab_get a "https://api.test$t")" "status of the first GET"
sleep 2.5
assert_eq 200 "$(lab_get b "https://api.test$t")" "status of the GET of the stale entry"
lab_assert_cs b "sluice; hit; fwd=stale" "GET of the stale entry"
assert_eq 1 "$(lab_audit_wait 1 "decision = 'revalidated'")" "revalidation rows"
assert_eq 2 "$(lab_uhits "$t")" "requests the upstream got: one background revalidation"
lab_stop_sluice
events=$(lab_log_events) || exit 1
ev=$(printf '%s\n' "$events" | grep '"event": "cache_revalidate"')
assert_eq "api.test /cache/tok" "$(lab_json "$ev" 'd["host"] + " " + d["target"]')" \
	"host and target of the cache_revalidate line"
assert_not_contains "$(cat "$LAB_DIR/sluice.log")" "$S" "sluice's log"
