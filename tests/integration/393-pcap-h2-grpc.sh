#!/bin/bash
# gRPC through sluice with --pcap on: a unary call and a stream the server
# ends with NOT_FOUND still work, and the file holds both calls: their
# paths, the messages, and the grpc-status their trailers carried.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
command -v tshark >/dev/null || skip "needs tshark (tools/bootstrap installs it)"
lab_up
lab_start_grpc
lab_rules_sql "INSERT INTO rules (id, priority, host, action) VALUES
	(900, 1, 'pinned.test', 'allow');" || fail "inserting the rules"
pcap=$LAB_DIR/out.pcap
lab_start_sluice --resolve "api.test:443:$LAB_U4:$LAB_GRPC_PORT" \
	--resolve "pinned.test:443:$LAB_U4:$LAB_H2_PROBE_PORT" --default-policy allow \
	--pcap "$pcap" --pcap-filter api.test
lab_require_h2
lab_require_h2_upstream
ca=$LAB_DIR/ica/ca.crt

assert_eq "status OK
reply hello 393
trailer x-echo-len=9" "$(lab_grpc api.test "$ca" /test.Echo/Unary 'hello 393')" \
	"unary call through sluice with --pcap"
assert_eq "status NOT_FOUND
details gone away
reply first" "$(lab_grpc api.test "$ca" /test.Echo/Bidi first status:NOT_FOUND:'gone away')" \
	"stream ended by the server with NOT_FOUND, with --pcap"
lab_stop_sluice

ts() { tshark -r "$pcap" -d tcp.port==443,http "$@" 2>/dev/null; }
paths=$(ts -Y http2.headers.path -T fields -e http2.headers.path | sort | tr '\n' ' ')
assert_eq "/test.Echo/Bidi /test.Echo/Unary " "$paths" "the calls in the file"
msgs=$(ts -Y 'http2.type == 0' -T fields -e http2.data.data | tr -d ',\n' | xxd -r -p | tr -c '[:print:]' ' ')
assert_contains "$msgs" "hello 393" "the unary call's messages in the file"
assert_contains "$msgs" "first" "the stream's message in the file"
# (Wireshark warns about gRPC messages it has no protobuf schema for.)
bad=$(ts -Y '_ws.malformed')
assert_eq "" "$bad" "packets tshark finds malformed"
# Each field's name and value, one pair a line.
pairs=$(ts -Y http2.header -T fields -E occurrence=a -E aggregator=$'\x1f' \
	-e http2.header.name -e http2.header.value |
	while IFS=$'\t' read -r n v; do paste <(tr $'\x1f' '\n' <<<"$n") <(tr $'\x1f' '\n' <<<"$v"); done)
printf '%s\n' "$pairs" >"$LAB_DIR/pairs"
trailers=$(awk -F'\t' '$1 == "grpc-status" { print $2 }' <<<"$pairs" | sort | tr '\n' ' ')
assert_eq "0 5 " "$trailers" "the grpc-status values the trailers carried (OK, NOT_FOUND)"
