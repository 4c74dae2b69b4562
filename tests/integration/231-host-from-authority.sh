#!/bin/bash
# The Host the upstream gets is written from the request's authority: an
# HTTP/1.0 request without Host (allowed in HTTP/1.0) reaches the upstream
# with Host naming what the connection was verified for, so an origin that
# routes by Host routes it where the rules matched it.  A Host the client
# sent reaches it once, spelt as the connection was verified (lowercase,
# no final dot, no port 443), so the upstream reads the name sluice matched.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_sluice --default-policy allow

assert_eq "200
closed" "$(lab_raw 'GET /echo/231a HTTP/1.0\r\nX-Keep: 1\r\n\r\n')" \
	"HTTP/1.0 request without Host (status, connection state)"
assert_eq "api.test" "$(lab_uhdr /echo/231a 1 Host)" "Host the upstream got for an HTTP/1.0 request without one"

assert_eq "200
closed" "$(lab_raw 'GET /echo/231b HTTP/1.0\r\nHost: API.test:443\r\n\r\n')" \
	"HTTP/1.0 request with Host (status, connection state)"
assert_eq "api.test" "$(lab_uhdr /echo/231b 1 Host)" "Host the upstream got when the client sent one"
lab_stop_sluice
