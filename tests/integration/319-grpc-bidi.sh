#!/bin/bash
# A bidirectional gRPC stream through sluice: five messages each way, each
# answer arriving before the next message is sent (so both directions are
# open at once, not a buffered request then a response), in order, status OK.
# Skips until sluice speaks HTTP/2 to clients and to h2-only upstreams.
. "$(dirname "$0")/../lab/lab.sh"
lab_grpc_up "" --default-policy allow

assert_eq "status OK
reply m1
reply m2
reply m3
reply m4
reply m5" "$(lab_grpc api.test "$LAB_DIR/ica/ca.crt" /test.Echo/Bidi m1 m2 m3 m4 m5)" \
	"bidi stream through sluice"
assert_eq "/test.Echo/Bidi" "$(lab_grpc_calls 'd["method"]')" "calls the server got"
