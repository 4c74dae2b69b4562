#!/bin/bash
# A chunked request body reaches the upstream in sluice's own chunks: chunk
# extensions (RFC 9112 7.1.1) are framing the client wrote for sluice, not
# data, and are never forwarded.  The origin (rawup.py) logs the body's
# bytes as framed, so the test sees what sluice wrote, not only the data.
. "$(dirname "$0")/../lab/lab.sh"
lab_rawup_up

lab_rawup_send 'POST /ok HTTP/1.1\r\nHost: api.test\r\nTransfer-Encoding: chunked\r\n\r\n5;sig="a;b"\r\nhello\r\n6 ; n=1\r\n world\r\n0;end=1\r\n\r\n' \
	"a chunked POST with extensions"
assert_eq "hello world" "$(lab_rawlog 'd["body"] if d["event"] == "request" else None')" \
	"the data the origin got"
assert_not_contains "$LAB_WIRE" ";" "the body as the origin got it ($LAB_WIRE)"
assert_contains "$LAB_WIRE" '0\r\n\r\n' "the body's end as the origin got it"
assert_eq "200|11" "$(lab_audit_sql "SELECT status, req_bytes FROM requests")" \
	"audited status and request bytes (data only)"
lab_stop_sluice
