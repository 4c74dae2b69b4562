#!/bin/bash
# RFC 8441: an HTTP/2 client's extended CONNECT (:protocol websocket) opens
# a WebSocket on an HTTP/1.1 origin through sluice: the origin gets a GET
# with the RFC 6455 handshake (sluice's own Sec-WebSocket-Key, checked
# against the 101), the stream gets :status 200, messages echo both ways,
# END_STREAM closes it, and the stream gets one audit row when it ends.
. "$(dirname "$0")/../lab/lab.sh"
lab_wsecho_up
lab_require_h2

out=$(lab_ws --h2 --header 'sec-websocket-protocol: chat, superchat' hello "from h2")
assert_eq '200 chat ["hello", "from h2"] end_stream' \
	"$(lab_json "$out" '"%d %s %s %s" % (d["status"], d.get("protocol"), json.dumps(d["echoes"]), d["closed"])')" \
	"status, subprotocol, echoes and end of the stream"
assert_eq "GET /ws websocket 13 24 chat, superchat" \
	"$(lab_jsonl "$LAB_WSLOG" 'None if d["event"] != "request" else " ".join([d["method"], d["path"]] + [(lambda h: h.get(n, "-"))({k.lower(): v for k, v in d["headers"]}) for n in ("upgrade", "sec-websocket-version")] + [str(len(v)) for k, v in d["headers"] if k.lower() == "sec-websocket-key"] + [v for k, v in d["headers"] if k.lower() == "sec-websocket-protocol"])')" \
	"the handshake the origin got (method, path, upgrade, version, key length, protocol)"
assert_eq 1 "$(lab_audit_wait 1)" "audit rows"
assert_eq "GET|/ws|200|forwarded|websocket|$(lab_json "$out" 'd["sent"]')|$(lab_json "$out" 'd["received"]')|h2|http/1.1|NULL" \
	"$(lab_audit_sql "SELECT method, path, status, decision, upgrade, req_bytes, resp_bytes,
		client_proto, upstream_proto, quote(error) FROM requests")" \
	"audit row (method|path|status|decision|upgrade|req_bytes|resp_bytes|protos|error)"
lab_stop_sluice
