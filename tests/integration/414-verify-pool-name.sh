#!/bin/bash
# A pooled upstream connection verified for one name is never used for
# another name on the same address: the pool's key holds the name, so the
# second name gets its own handshake and its own verification (no HTTP/2
# connection coalescing).  Both with an HTTP/1.1 upstream and with an
# h2-only one; one worker, so that both requests see the same pool.
. "$(dirname "$0")/../lab/lab.sh"
lab_verify_up --workers 1 --resolve "a.wild.test:443:$LAB_U4:50064" \
	--resolve "wild.test:443:$LAB_U4:50064"

# HTTP/1.1: good.test's connection is pooled and reused ...
id1=$(lab_curl -H 'Connection: close' -D - -o /dev/null https://good.test/headers | tr -d '\r' | sed -n 's/^X-Conn-Id: //Ip')
id2=$(lab_curl -H 'Connection: close' -D - -o /dev/null https://good.test/headers | tr -d '\r' | sed -n 's/^X-Conn-Id: //Ip')
[ -n "$id1" ] || fail "no X-Conn-Id from good.test"
assert_eq "$id1" "$id2" "upstream connection of good.test's second request (pooled)"
# ... but not for wrong-name.test at the same address, whose own is refused.
LAB_VFY_N=2
lab_verify_case wrong-name.test 502 "hostname mismatch"
assert_eq "1 1" "$(lab_jsonl "$LAB_REQLOG_VFY" 'd["sni"] if d["event"] == "conn" else None' |
	sort | uniq -c | awk '{ printf "%s%s", sep, $1; sep = " " }')" \
	"upstream handshakes (good.test, wrong-name.test)"

# h2: a.wild.test's connection (*.wild.test) is pooled and reused ...
lab_start_nghttpd_as 50064 a.wild.test
echo hello >"$LAB_DIR/h2docs/headers"
for i in 1 2; do
	assert_eq 200 "$(lab_curl --http2 -o /dev/null -w '%{http_code}' https://a.wild.test/headers)" \
		"status of a.wild.test's request $i"
done
assert_eq 1 "$(lab_nghttpd_conns_at 50064)" "nghttpd's connections after a.wild.test twice"
assert_eq 5 "$(lab_audit_wait 5 "conn_id IN (SELECT id FROM connections)")" "audit rows"
assert_eq "h2|ok
h2|ok" "$(lab_audit_sql "SELECT r.upstream_proto, c.verify_result FROM requests r
	JOIN connections c ON c.id = r.conn_id WHERE r.host = 'a.wild.test'")" \
	"audit of a.wild.test (upstream_proto|verify_result)"
# ... but not for wild.test, which *.wild.test does not cover.
LAB_VFY_N=5
lab_verify_case wild.test 502 "hostname mismatch" --http2
assert_eq 2 "$(lab_nghttpd_conns_at 50064)" "nghttpd's connections after wild.test"
lab_stop_sluice
