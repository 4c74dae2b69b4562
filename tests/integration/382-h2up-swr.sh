#!/bin/bash
# stale-while-revalidate over an HTTP/2 upstream leg: against an h2-only
# origin (h2cache.py), the GET of a stale entry (max-age=3,
# stale-while-revalidate=60) is answered from it at once ("Cache-Status:
# sluice; hit; fwd=stale") while the background revalidation (with
# If-None-Match) goes over h2, as an exchange's request would: as a stream
# of the pooled h2 connection (the origin still sees one connection), or,
# once the origin closed that connection (goaway=1: GOAWAY after each
# answer), on a new one dialed offering h2 (a second connection).  Its 304
# refreshes the entry (the next GET is a fresh hit) and it has its own
# audit row: decision revalidated, status 304, upstream_proto h2.  One
# worker: each has its own pool.
. "$(dirname "$0")/../lab/lab.sh"
lab_h2cache_up 50382 --workers 1

conns() { lab_jsonl "$LAB_H2CACHE_LOG" 'd["conn"] if d["event"] == "conn" else None' | wc -l; }
cc='cc=max-age%3D3%2C%20stale-while-revalidate%3D60&etag=e1'
n=0
for t in "/cache/pooled?$cc" "/cache/dialed?$cc&goaway=1"; do
	n=$((n + 1))
	lab_get_stale "$t" 3.5
	lab_assert_cs b "sluice; hit; fwd=stale" "GET of the stale entry $t"
	assert_eq $n "$(lab_audit_wait $n "decision = 'revalidated'")" "revalidation rows"
	assert_eq 200 "$(lab_get c "https://api.test$t")" "status of the GET after the revalidation $t"
	assert_eq "sluice; hit" "$(lab_hval c Cache-Status)" "Cache-Status of the GET after the revalidation $t"
	assert_eq 2 "$(lab_h2cache_req "$t" 0)" "requests the h2 origin got for $t"
	assert_eq '"e1"' "$(lab_h2cache_req "$t" 2 'h.get("if-none-match")')" \
		"If-None-Match of the background revalidation of $t"
	assert_eq $n "$(conns)" "connections the h2 origin accepted after $t"
	assert_eq "revalidated|304|1|'h2'|GET|$t|" "$(lab_audit_sql "SELECT decision, status,
		rule_id, quote(upstream_proto), method, path, error FROM requests
		WHERE decision = 'revalidated' AND path = '$t'")" "the revalidation row of $t"
done
lab_stop_sluice
