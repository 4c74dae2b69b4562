#!/bin/bash
# --pcap on HTTP/2: an upstream that echoes the credential sluice injected,
# in a response header (which sluice masks as '***' before the client gets
# it) and in the body, leaves no trace of it in the file: tshark decodes
# the field as sent and the body with '*' in its place, the same length,
# and the raw bytes hold no form of the secret.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
command -v tshark >/dev/null || skip "needs tshark (tools/bootstrap installs it)"
lab_up

lab_rules_sql "
	INSERT INTO secrets (name, value) VALUES ('tok', 'bearer-tok-391a'), ('qs', 'qs-key-391b');
	INSERT INTO rules (id, host, path, action) VALUES
		(1, 'api.test', '/echo/*', 'allow'), (2, 'api.test', '/headers', 'allow');
	INSERT INTO injections (rule_id, kind, name, secret) VALUES
		(1, 'bearer', NULL, 'tok'), (2, 'query', 'x-echo-key', 'qs');" ||
	fail "inserting the rules"
pcap=$LAB_DIR/out.pcap
lab_start_sluice --default-policy deny --pcap "$pcap"

# One connection, two streams; /headers?k=v answers with k: v as a field.
out=$(lab_curl --http2 -w '%{http_code} %{http_version}\n' \
	-o "$LAB_DIR/echo.json" 'https://api.test/echo/bearer?n=391' \
	-D "$LAB_DIR/headers.head" -o "$LAB_DIR/headers.json" 'https://api.test/headers?n=391') ||
	fail "curl --http2 failed"
assert_eq "200 2
200 2" "$out" "statuses and HTTP versions"
# The upstream did get each secret and echo it: the client got them
# masked, in the field and in the bodies.
assert_contains "$(lab_upseen "$(cat "$LAB_DIR/echo.json")")" "Bearer bearer-tok-391a" \
	"what /echo/bearer got"
assert_eq "***" "$(lab_hval headers x-echo-key)" "the x-echo-key field /headers echoed"
grep -q -F -- qs-key-391b "$LAB_REQLOG" || fail "the upstream never got the query secret"
assert_contains "$(cat "$LAB_DIR/headers.json")" '["x-echo-key", "***********"]' "the /headers body"
lab_stop_sluice

for s in bearer-tok-391a qs-key-391b; do
	assert_eq 0 "$(grep -c -a -F -- "$s" "$pcap")" "lines of the pcap file with '$s'"
done

stars() { printf '%*s' "$1" '' | tr ' ' '*'; }
ts() { tshark -r "$pcap" -d tcp.port==443,http "$@" 2>/dev/null; }
values=$(ts -Y http2 -T fields -E occurrence=a -E aggregator='|' -e http2.header.name \
	-e http2.header.value)
printf '%s\n' "$values" >"$LAB_DIR/values"
assert_not_contains "$values" "391a" "header values tshark decodes (bearer)"
assert_not_contains "$values" "391b" "header values tshark decodes (query)"
field=$(ts -Y 'http2.headers.status == 200 && http2.streamid == 3' -T fields \
	-e http2.header.value -E occurrence=a -E aggregator=$'\n' | grep -F -x -- '***')
assert_eq '***' "$field" "the x-echo-key value, masked as sluice sent it"
bodies=$(ts -Y 'http2.type == 0' -T fields -e http2.data.data | tr -d ',\n' | xxd -r -p)
printf '%s\n' "$bodies" >"$LAB_DIR/bodies"
assert_contains "$bodies" "\"Authorization\", \"Bearer $(stars 15)\"" "the /echo/bearer body, starred"
assert_contains "$bodies" "[\"x-echo-key\", \"$(stars 11)\"]" "the /headers body, starred"
assert_not_contains "$bodies" "391a" "the bodies tshark decodes (bearer)"
codes=$(ts -Y 'http2.headers.status' -T fields -e http2.headers.status | sort | uniq -c |
	awk '{ print $1 "x" $2 }')
assert_eq "2x200" "$codes" "responses tshark decodes"
bad=$(ts -Y '_ws.malformed || _ws.expert.severity >= "warning"')
assert_eq "" "$bad" "packets tshark finds malformed or warns about"
