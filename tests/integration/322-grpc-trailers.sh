#!/bin/bash
# gRPC's status travels in HTTP/2 trailers after the messages: through
# sluice the client gets a unary call's trailing metadata, and a stream the
# server ends with NOT_FOUND after one message arrives as that message then
# NOT_FOUND with the server's details (not as an error of sluice's own).
# Skips until sluice speaks HTTP/2 to clients and to h2-only upstreams.
. "$(dirname "$0")/../lab/lab.sh"
lab_grpc_up "" --default-policy allow
ca=$LAB_DIR/ica/ca.crt

assert_eq "status OK
reply abc
trailer x-echo-len=3" "$(lab_grpc api.test "$ca" /test.Echo/Unary abc)" \
	"unary call: trailing metadata"
assert_eq "status NOT_FOUND
details gone away
reply first" "$(lab_grpc api.test "$ca" /test.Echo/Bidi first status:NOT_FOUND:'gone away')" \
	"stream ended by the server with NOT_FOUND after a message"
assert_eq 2 "$(lab_audit_wait 2 "host = 'api.test' AND status = 200 AND decision = 'forwarded'")" \
	"audit rows: both calls were HTTP 200, whatever their gRPC status"
