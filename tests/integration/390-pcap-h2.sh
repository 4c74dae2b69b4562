#!/bin/bash
# --pcap captures HTTP/2 client connections: tshark reads the file without
# keys and decodes HTTP/2 (both HPACK directions): the request paths, the
# response statuses and bodies, on one connection with its handshake and
# FINs, numbered without a gap.  Port 443 decoded as HTTP takes HTTP/1.1
# and HTTP/2 connections of one file alike.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
command -v tshark >/dev/null || skip "needs tshark (tools/bootstrap installs it)"
lab_up

lab_rules_sql "INSERT INTO rules (id, host, action) VALUES (1, 'api.test', 'allow');" ||
	fail "inserting the rules"
pcap=$LAB_DIR/out.pcap
lab_start_sluice --default-policy deny --pcap "$pcap"

out=$(lab_curl --http2 -o "$LAB_DIR/echo.json" -w '%{http_code} %{http_version}\n' \
	'https://api.test/echo?n=390' -o "$LAB_DIR/bytes" 'https://api.test/bytes/40000?seed=390') ||
	fail "curl --http2 failed"
assert_eq "200 2
200 2" "$out" "statuses and HTTP versions"
code=$(lab_curl -o /dev/null -w '%{http_code}' 'https://api.test/echo?h1=390') ||
	fail "curl --http1.1 failed"
assert_eq 200 "$code" "status over HTTP/1.1"
lab_stop_sluice

# Port 443 decoded as HTTP: HTTP/1 as HTTP, HTTP/2 by its preface.
ts() { tshark -r "$pcap" -d tcp.port==443,http "$@" 2>/dev/null; }
fields=$(ts -Y http2 -T fields -e http2.headers.path) ||
	fail "tshark cannot read the file"
assert_contains "$fields" "/echo?n=390" "the first request's path"
assert_contains "$fields" "/bytes/40000?seed=390" "the second request's path"
n=$(ts -Y 'http2.headers.status == 200' -T fields -e http2.streamid | tr ',' '\n' |
	sort -u | tr '\n' ' ')
assert_eq "1 3 " "$n" "streams with a 200 response"
assert_contains "$(ts -Y 'http2.streamid == 1 && http2.type == 0' -T fields \
	-e http2.data.data | tr -d ',\n' | xxd -r -p)" '"path": "/echo?n=390"' \
	"the /echo body tshark decodes"
assert_eq "$(lab_gen 40000 390 | sha256sum | cut -d' ' -f1)" \
	"$(ts -Y 'http2.streamid == 3 && http2.body.reassembled.data' -T fields \
		-e http2.body.reassembled.data | tr -d '\n' | xxd -r -p | sha256sum | cut -d' ' -f1)" \
	"sha256 of the /bytes body tshark reassembles"

assert_eq "/echo?h1=390" "$(ts -Y http.request -T fields -e http.request.uri)" \
	"the HTTP/1.1 request in the same file"

syn=$(ts -Y 'tcp.flags.syn == 1 && tcp.flags.ack == 0' | wc -l)
fin=$(ts -Y 'tcp.flags.fin == 1' | wc -l)
assert_eq 2 "$syn" "SYN packets"
assert_eq 4 "$fin" "FIN packets"
bad=$(ts -Y 'tcp.analysis.flags && !tcp.analysis.window_update')
assert_eq "" "$bad" "packets tshark flags (lost segments, bad numbers)"
# (HTTP/1.1 on port 443 gets Wireshark's "unencrypted HTTP" warning.)
bad=$(ts -Y '_ws.malformed || (http2 && _ws.expert.severity >= "warning")')
assert_eq "" "$bad" "packets tshark finds malformed or warns about in HTTP/2"
