#!/bin/bash
# Ambiguous or malformed requests get a 400 and the connection is closed;
# sluice keeps serving well-formed requests.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_sluice --default-policy allow

check() {	# check WHAT REQUEST
	local out
	out=$(lab_raw "$2") || fail "raw client failed for: $1"
	assert_eq "400
closed" "$out" "response to $1 (status, connection state)"
}

check "Content-Length together with Transfer-Encoding" \
	'POST /echo HTTP/1.1\r\nHost: api.test\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'
check "an obs-fold header line" \
	'GET /echo HTTP/1.1\r\nHost: api.test\r\nX-Folded: a\r\n b\r\n\r\n'
check "two different Content-Length values" \
	'POST /echo HTTP/1.1\r\nHost: api.test\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!'
check "whitespace between a header name and the colon" \
	'GET /echo HTTP/1.1\r\nHost : api.test\r\n\r\n'
check "bare LF line ends (refused at once, not after the idle timeout)" \
	'GET /echo HTTP/1.1\nHost: api.test\n\n'
check "a request line with no HTTP version" \
	'GET /echo\r\nHost: api.test\r\n\r\n'

# A well-formed raw request on the same path keeps the connection open.
assert_eq "200
open" "$(lab_raw 'GET /echo HTTP/1.1\r\nHost: api.test\r\n\r\n')" \
	"response to a well-formed raw request (status, connection state)"
code=$(lab_curl -o /dev/null -w '%{http_code}' https://api.test/echo) || fail "curl failed"
assert_eq 200 "$code" "status of a normal request after the malformed ones"
lab_stop_sluice
