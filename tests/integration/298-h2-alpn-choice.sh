#!/bin/bash
# ALPN: sluice serves h2 and http/1.1 and takes the client's preference
# among them.  A client offering only http/1.1 still gets it (and HTTP/1.1
# answers); one offering only h2 gets h2; a list naming http/1.1 first gets
# http/1.1; one offering neither is still refused.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_sluice --default-policy allow

out=$(lab_curl --http1.1 -o /dev/null -w '%{http_code} %{http_version}' https://api.test/echo) ||
	fail "curl --http1.1 failed"
assert_eq "200 1.1" "$out" "status and HTTP version with curl --http1.1"

# s_client ALPN: which protocol an s_client offering ALPN was given.
s_client() {
	lab_in_c timeout 10 openssl s_client -4 -connect api.test:443 -servername api.test \
		-CAfile "$LAB_DIR/ica/ca.crt" -alpn "$1" </dev/null 2>&1
}
assert_contains "$(s_client h2)" "ALPN protocol: h2" "s_client's output for -alpn h2"
assert_contains "$(s_client http/1.1,h2)" "ALPN protocol: http/1.1" \
	"s_client's output for -alpn http/1.1,h2"
assert_contains "$(s_client spdy/3.1,h2)" "ALPN protocol: h2" "s_client's output for -alpn spdy/3.1,h2"
assert_contains "$(s_client spdy/3.1)" "no application protocol" "s_client's output for -alpn spdy/3.1"
lab_stop_sluice
assert_eq "1.1:http/1.1" "$(lab_audit_sql "SELECT '1.1:' || alpn FROM connections ORDER BY id LIMIT 1")" \
	"ALPN of curl --http1.1's connection"
