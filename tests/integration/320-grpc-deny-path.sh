#!/bin/bash
# Rules match a gRPC call's :path (/package.Service/Method): with one
# service allowed and /test.Admin/* denied, the client sees
# PERMISSION_DENIED for the denied method (sluice's 403 as grpcio maps it),
# the server never gets that call, and the allowed service still works.
# Skips until sluice speaks HTTP/2 to clients and to h2-only upstreams.
. "$(dirname "$0")/../lab/lab.sh"
lab_grpc_up "INSERT INTO rules (id, host, path, action) VALUES
	(1, 'api.test', '/test.Echo/*', 'allow'),
	(2, 'api.test', '/test.Admin/*', 'deny')" --default-policy deny

out=$(lab_grpc api.test "$LAB_DIR/ica/ca.crt" /test.Admin/Secret)
assert_eq "status PERMISSION_DENIED" "$(head -n 1 <<<"$out")" "status of the denied method"
assert_not_contains "$out" "reply" "answer to the denied method"
assert_eq "status OK
reply allowed
trailer x-echo-len=7" "$(lab_grpc api.test "$LAB_DIR/ica/ca.crt" /test.Echo/Unary allowed)" \
	"the allowed service"
assert_eq "/test.Echo/Unary" "$(lab_grpc_calls 'd["method"]')" "calls the server got"
assert_eq "2|/test.Admin/Secret|denied
1|/test.Echo/Unary|forwarded" "$(lab_audit_wait 2 "host = 'api.test'" >/dev/null
	lab_audit_sql "SELECT rule_id, path, decision FROM requests WHERE host = 'api.test' ORDER BY id")" \
	"audit rows (rule|path|decision)"
