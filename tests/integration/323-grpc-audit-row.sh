#!/bin/bash
# Each gRPC call is one audit row, however many messages it carried: POST,
# the method's path, status 200, and the protocol of each leg (h2 both ways
# to an h2-only server).
# Skips until sluice speaks HTTP/2 to clients and to h2-only upstreams.
. "$(dirname "$0")/../lab/lab.sh"
lab_grpc_up "" --default-policy allow
status() { lab_grpc api.test "$LAB_DIR/ica/ca.crt" "$@" | sed -n 1p; }

assert_eq "status OK" "$(status /test.Echo/Unary one)" "unary call"
assert_eq "status OK" "$(status /test.Echo/Bidi a b c d)" "bidi call"
assert_eq "status OK" "$(status /test.Admin/Secret)" "admin call"
assert_eq 3 "$(lab_audit_wait 3 "host = 'api.test'")" "audit rows: one per call"
lab_stop_sluice
assert_eq "POST|/test.Echo/Unary|200|h2|h2
POST|/test.Echo/Bidi|200|h2|h2
POST|/test.Admin/Secret|200|h2|h2" \
	"$(lab_audit_sql "SELECT method, path, status, client_proto, upstream_proto
		FROM requests WHERE host = 'api.test' ORDER BY id")" \
	"audit rows (method|path|status|client_proto|upstream_proto)"
