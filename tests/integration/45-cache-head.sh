#!/bin/bash
# Response cache, HEAD: after a GET stored the response, a HEAD of the same
# URL is answered from that entry without reaching the upstream: status and
# fields of the GET's answer (Content-Length included), no body, "Cache-Status:
# sluice; hit", Age; audited as cached with no body bytes.  A HEAD with no
# entry to use goes to the upstream.
. "$(dirname "$0")/../lab/lab.sh"
lab_cache_up
lab_start_sluice --default-policy deny

t='/cache/head?cc=max-age%3D60&etag=hd&size=3000'
assert_eq 200 "$(lab_get g "https://api.test$t")" "status of the GET"
assert_eq 3000 "$(wc -c <"$LAB_DIR/g.body")" "size of the GET's body"
assert_eq 1 "$(lab_uhits "$t")" "requests the upstream got for the GET"

# -I: curl sends HEAD and expects no body whatever Content-Length says.
assert_eq 200 "$(lab_curl -I -D "$LAB_DIR/h.head" -o /dev/null -w '%{http_code}' "https://api.test$t")" \
	"status of the HEAD"
lab_assert_cs h "sluice; hit" "HEAD after a GET"
assert_eq 3000 "$(lab_hval h Content-Length)" "Content-Length of the HEAD answered from the GET's entry"
assert_eq '"hd"' "$(lab_hval h ETag)" "ETag of the HEAD"
assert_eq 1 "$(lab_hval h X-Upstream-Count)" "X-Upstream-Count of the HEAD (the GET's)"
[[ $(lab_hval h Age) =~ ^[0-9]+$ ]] || fail "Age '$(lab_hval h Age)' of the HEAD is not a number"
assert_eq 1 "$(lab_uhits "$t")" "requests the upstream got after the GET and the HEAD"

# The HEAD's answer carried no body: the connection is still in step for a
# GET that follows on it (curl reuses it within one command; --next resets
# the options lab_curl added).
out=$(lab_curl -I -o /dev/null -w '%{http_code}\n' "https://api.test$t" \
	--next -4 --cacert "$LAB_DIR/ica/ca.crt" --max-time 30 -o "$LAB_DIR/g2.body" -w '%{http_code} %{num_connects}\n' "https://api.test$t") ||
	fail "HEAD then GET on one connection failed"
assert_eq "200
200 0" "$out" "HEAD then GET on one connection (status, new connections for the GET)"
cmp -s "$LAB_DIR/g.body" "$LAB_DIR/g2.body" || fail "the GET after a cached HEAD got another body"
assert_eq 1 "$(lab_uhits "$t")" "requests the upstream got after all that"

# No entry: the HEAD goes to the upstream.
t2='/cache/head2?cc=max-age%3D60'
assert_eq 200 "$(lab_curl -I -D "$LAB_DIR/h2.head" -o /dev/null -w '%{http_code}' "https://api.test$t2")" \
	"status of a HEAD without an entry"
assert_not_contains "$(lab_hval h2 Cache-Status)" hit "Cache-Status of a HEAD without an entry"
assert_eq 1 "$(lab_uhits "$t2")" "requests the upstream got for a HEAD without an entry"

assert_eq 5 "$(lab_audit_wait 5)" "audit rows"
assert_eq "GET|forwarded|200|3000
HEAD|cached|200|0
HEAD|cached|200|0
GET|cached|200|3000" \
	"$(lab_audit_sql "SELECT method, decision, status, resp_bytes FROM requests WHERE path = '$t' ORDER BY id")" \
	"audit rows for $t (method|decision|status|resp_bytes)"
assert_eq "HEAD|forwarded|200" \
	"$(lab_audit_sql "SELECT method, decision, status FROM requests WHERE path = '$t2'")" \
	"audit row for the HEAD without an entry"
lab_stop_sluice
