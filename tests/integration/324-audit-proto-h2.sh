#!/bin/bash
# A request from an HTTP/2 client to an HTTP/1.1-only upstream: the legs are
# independent, and the audit row says so (client_proto 'h2',
# upstream_proto 'http/1.1').  Skips until sluice speaks HTTP/2 to clients.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_sluice --default-policy allow
lab_require_h2

out=$(lab_curl --http2 -o /dev/null -w '%{http_code} %{http_version}' https://api.test/echo) ||
	fail "curl --http2 failed"
assert_eq "200 2" "$out" "status and HTTP version curl saw"
assert_eq 1 "$(lab_audit_wait 1)" "audit rows"
lab_stop_sluice
assert_eq "/echo|h2|http/1.1" \
	"$(lab_audit_sql "SELECT path, client_proto, upstream_proto FROM requests")" \
	"audit row (path|client_proto|upstream_proto)"
