#!/bin/bash
# The protocol columns of the cache's rows: a hit has a client leg and no
# upstream leg (upstream_proto NULL); a stale-while-revalidate refresh has
# an upstream leg and no client (client_proto NULL).
. "$(dirname "$0")/../lab/lab.sh"
lab_cache_up
lab_start_sluice --default-policy deny

# Fresh for 1 s, then served stale while sluice refreshes it in the background.
u='https://api.test/cache/swr-proto?cc=max-age%3D1%2C%20stale-while-revalidate%3D60&etag=e1'
lab_get first "$u" >/dev/null
sleep 2.5
lab_get stale "$u" >/dev/null
assert_eq 3 "$(lab_audit_wait 3)" "audit rows: the miss, the stale hit and its refresh"
lab_stop_sluice
assert_eq "cached|'http/1.1'|NULL
forwarded|'http/1.1'|'http/1.1'
revalidated|NULL|'http/1.1'" \
	"$(lab_audit_sql "SELECT decision, quote(client_proto), quote(upstream_proto)
		FROM requests ORDER BY decision")" \
	"audit rows (decision|client_proto|upstream_proto)"
