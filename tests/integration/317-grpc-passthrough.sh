#!/bin/bash
# gRPC works through a passthrough rule (the only way before issue 9), and
# this proves the lab's gRPC tooling that the interception tests 318-329
# use: grpc_upstream.py with the lab's certificate, grpc_client.py with a
# CA, unary and bidirectional calls, metadata and trailers both ways.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_grpc
lab_rules_sql "INSERT INTO rules (id, host, action) VALUES (3, 'pinned.test', 'passthrough')" ||
	fail "inserting the passthrough rule"
lab_start_sluice --default-policy deny --resolve "pinned.test:443:$LAB_U4:$LAB_GRPC_PORT"
ca=$LAB_DIR/certs/ca.crt

assert_eq "status OK
reply hello
trailer x-echo-len=5" \
	"$(lab_grpc pinned.test "$ca" --metadata authorization='Bearer t0k' /test.Echo/Unary hello)" \
	"unary call"
assert_eq "status OK
reply one
reply two
reply three" "$(lab_grpc pinned.test "$ca" /test.Echo/Bidi one two three)" "bidi call"
assert_eq "status NOT_FOUND
details gone away
reply one" "$(lab_grpc pinned.test "$ca" /test.Echo/Bidi one status:NOT_FOUND:'gone away')" \
	"bidi call ended by the server with a status after a message"
assert_eq "status OK
reply secret" "$(lab_grpc pinned.test "$ca" /test.Admin/Secret)" "the other service"

assert_eq "/test.Echo/Unary Bearer t0k
/test.Echo/Bidi
/test.Echo/Bidi
/test.Admin/Secret" \
	"$(lab_grpc_calls '" ".join([d["method"]] + [v for k, v in d["metadata"] if k == "authorization"])')" \
	"calls the server logged, with their authorization"
assert_eq 4 "$(lab_audit_wait 4 "sni = 'pinned.test' AND decision = 'passthrough'")" \
	"passthrough rows: one per connection"
