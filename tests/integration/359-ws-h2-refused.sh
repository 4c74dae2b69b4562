#!/bin/bash
# An origin that answers an extended CONNECT's handshake with anything but
# a 101 (here 403 and a body) gives the HTTP/2 stream that response, not a
# tunnel.
. "$(dirname "$0")/../lab/lab.sh"
lab_wsecho_up
lab_require_h2

out=$(lab_ws --h2 --path /ws/refuse hello)
assert_eq '403 [] end_stream' \
	"$(lab_json "$out" '"%d %s %s" % (d["status"], json.dumps(d["echoes"]), d["closed"])')" \
	"status, echoes and end of the stream"
assert_eq '{"error": "refused by the origin"}' "$(lab_json "$out" 'd["body"]')" "the origin's body"
assert_eq 1 "$(lab_audit_wait 1)" "audit rows"
assert_eq "GET|/ws/refuse|403|forwarded|NULL" \
	"$(lab_audit_sql "SELECT method, path, status, decision, quote(upgrade) FROM requests")" \
	"audit row (method|path|status|decision|upgrade)"
lab_stop_sluice
