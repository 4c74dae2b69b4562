#!/bin/bash
# An upstream that speaks only HTTP/2 is verified as any other: an expired
# certificate or one for another name is a 502 naming OpenSSL's reason,
# whether the client speaks HTTP/1.1 or h2, transparently or through
# CONNECT, and the upstream gets no stream; a good one carries the request
# over h2.
. "$(dirname "$0")/../lab/lab.sh"
lab_verify_up --resolve "expired.test:443:$LAB_U4:50061" \
	--resolve "wrong-name.test:443:$LAB_U4:50062" --resolve "good.test:443:$LAB_U4:50063"
lab_start_nghttpd_as 50061 expired.test
lab_start_nghttpd_as 50062 wrong-name.test
lab_start_nghttpd_as 50063 good.test
echo hello >"$LAB_DIR/h2docs/headers"
proxy=http://$LAB_GL4:$LAB_CONNECT_PORT

for via in "" --http2 --proxy; do
	args=()
	[ "$via" = --proxy ] && args=(--proxy "$proxy")
	[ "$via" = --http2 ] && args=(--http2)
	lab_verify_case expired.test 502 "certificate has expired" "${args[@]}"
	lab_verify_case wrong-name.test 502 "hostname mismatch" "${args[@]}"
done
for port in 50061 50062; do
	assert_eq 0 "$(grep -c 'recv HEADERS frame' "$LAB_DIR/nghttpd-$port.log")" \
		"request streams nghttpd on $port got"
	assert_not_contains "$(cat "$LAB_DIR/nghttpd-$port.log")" leaked "nghttpd on $port's log"
done

# The control: the same upstream with a good certificate.
code=$(lab_curl --http2 -o "$LAB_DIR/body" -w '%{http_code}' https://good.test/headers) ||
	fail "curl good.test failed"
assert_eq "200 hello" "$code $(cat "$LAB_DIR/body")" "status and body from the good h2 upstream"
assert_eq 7 "$(lab_audit_wait 7 "conn_id IN (SELECT id FROM connections)")" "audit rows"
assert_eq "forwarded|h2|ok" "$(lab_audit_sql "SELECT r.decision, r.upstream_proto, c.verify_result
	FROM requests r JOIN connections c ON c.id = r.conn_id WHERE r.host = 'good.test'")" \
	"audit of the good h2 upstream (decision|upstream_proto|verify_result)"
lab_stop_sluice
