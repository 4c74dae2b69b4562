#!/bin/bash
# sluice-audit and the background revalidation's row: --decision revalidated
# selects it (summary and show), and the summary counts it apart from the
# cached answer that started it and the forwarded request that filled the
# entry.
. "$(dirname "$0")/../lab/lab.sh"
lab_cache_up
lab_start_sluice --default-policy deny

t='/cache/swr-tool?cc=max-age%3D1%2C%20stale-while-revalidate%3D60&etag=e1'
u="https://api.test$t"
assert_eq 200 "$(lab_get a "$u")" "status of the first GET"
sleep 2.5
assert_eq 200 "$(lab_get b "$u")" "status of the GET of the stale entry"
assert_eq 1 "$(lab_audit_wait 1 "decision = 'revalidated'")" "revalidation rows"
assert_eq 3 "$(lab_audit_wait 3)" "audit rows"

out=$(lab_sluice_audit summary --decision revalidated) || fail "summary failed: $out"
assert_eq "HOST DECISION STATUS COUNT
api.test revalidated 304 1" "$(printf '%s\n' "$out" | tr -s ' ')" "summary --decision revalidated"
out=$(lab_sluice_audit summary) || fail "summary failed: $out"
assert_eq "HOST DECISION STATUS COUNT" "$(printf '%s\n' "$out" | head -n 1 | tr -s ' ')" "summary's header"
assert_eq "api.test cached 200 1
api.test forwarded 200 1
api.test revalidated 304 1" "$(printf '%s\n' "$out" | tail -n +2 | tr -s ' ' | sort)" "summary of all rows"
id=$(lab_audit_sql "SELECT id FROM requests WHERE decision = 'revalidated'")
out=$(lab_sluice_audit show "$id") || fail "show $id failed: $out"
assert_contains "$out" "revalidated" "show of the revalidation row"
assert_contains "$out" "$t" "show of the revalidation row: its path"
lab_stop_sluice
