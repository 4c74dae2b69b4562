#!/bin/bash
# A unary gRPC call from Python grpcio (which offers only h2) through
# sluice's interception: the client trusts only sluice's CA, gets status OK,
# its message echoed and the server's trailing metadata, and the server
# logged exactly that call (grpc_upstream.py speaks only h2).
. "$(dirname "$0")/../lab/lab.sh"
lab_grpc_up "" --default-policy allow

assert_eq "status OK
reply hello through sluice
trailer x-echo-len=20" \
	"$(lab_grpc api.test "$LAB_DIR/ica/ca.crt" /test.Echo/Unary 'hello through sluice')" \
	"unary call through sluice"
assert_eq "/test.Echo/Unary" "$(lab_grpc_calls 'd["method"]')" "calls the server got"
