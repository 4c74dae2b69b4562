#!/bin/bash
# A chunked request's trailers reach the upstream when they may be trailers
# (RFC 9110 6.5.1): an integrity field goes on, while Content-Length (which
# frames), Authorization (which sluice decides on and injects in the head)
# and Host (which routes) do not, so a client cannot smuggle them past the
# decision in a trailer.
. "$(dirname "$0")/../lab/lab.sh"
lab_rawup_up

lab_rawup_send 'POST /ok HTTP/1.1\r\nHost: api.test\r\nTransfer-Encoding: chunked\r\nTE: trailers\r\n\r\n5\r\nhello\r\n0\r\nX-Checksum: abc\r\nContent-Length: 99\r\nAuthorization: Bearer smuggled\r\nHost: evil.test\r\n\r\n' \
	"a chunked POST with trailers"
assert_contains "$LAB_WIRE" '5\r\nhello\r\n0\r\nX-Checksum: abc\r\n\r\n' \
	"the body and trailers the origin got ($LAB_WIRE)"
for f in Content-Length smuggled evil.test; do
	assert_not_contains "$LAB_WIRE" "$f" "the trailers the origin got"
done
lab_stop_sluice
