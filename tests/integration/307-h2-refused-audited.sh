#!/bin/bash
# Over HTTP/2, the heads sluice cannot act on are answered on their stream
# and audited as HTTP/1's are: a head over 64 KiB (decoded) gets 431 with
# sluice's JSON, a plain CONNECT (no :protocol) 405; each is a request row
# with decision 'error' and that status, and the connection goes on
# serving.  (curl and nghttp will not send a head that large, so Python's
# h2 does it.)
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_sluice --default-policy allow

out=$(lab_in_c "$LAB_PY" - "$LAB_DIR/ica/ca.crt" <<'PY'
import json, socket, ssl, sys
import h2.config, h2.connection, h2.events
ctx = ssl.create_default_context(cafile=sys.argv[1])
ctx.set_alpn_protocols(["h2"])
s = ctx.wrap_socket(socket.create_connection(("api.test", 443), timeout=5),
                    server_hostname="api.test")
c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True,
    validate_outbound_headers=False))
c.initiate_connection()
req = [(":method", "GET"), (":scheme", "https"), (":authority", "api.test")]
big = [("x-big%d" % i, "e" * 25000) for i in range(3)]	# 75,000 bytes
status, body, done = {}, {}, set()

def until_done(sid):	# read until stream sid ended or was reset
    while sid not in done:
        data = s.recv(65536)
        if not data:
            return
        for e in c.receive_data(data):
            if isinstance(e, h2.events.ResponseReceived):
                status[e.stream_id] = dict(e.headers)[b":status"].decode()
            elif isinstance(e, h2.events.DataReceived):
                body[e.stream_id] = body.get(e.stream_id, b"") + e.data
                c.acknowledge_received_data(e.flow_controlled_length, e.stream_id)
            elif isinstance(e, (h2.events.StreamEnded, h2.events.StreamReset)):
                done.add(e.stream_id)
        s.sendall(c.data_to_send())

# One at a time: a refused head alone on the connection must not upset it.
c.send_headers(1, req + [(":path", "/echo/big")] + big, end_stream=True)
s.sendall(c.data_to_send())
until_done(1)
c.send_headers(3, [(":method", "CONNECT"), (":authority", "api.test:443")])
s.sendall(c.data_to_send())
until_done(3)
c.send_headers(5, req + [(":path", "/echo/after")], end_stream=True)
s.sendall(c.data_to_send())
until_done(5)
print(status.get(1), json.loads(body.get(1, b"{}")).get("error"), status.get(3), status.get(5))
PY
) || fail "the HTTP/2 client failed: $out"
assert_eq "431 too_large 405 200" "$out" \
	"statuses of the big head (and its JSON error), the plain CONNECT and a GET after them"
assert_eq 0 "$(lab_uhits /echo/big)" "requests the upstream got for the big head"

assert_eq 3 "$(lab_audit_wait 3)" "audit rows"
assert_eq "error|405||;error|431||;forwarded|200|GET|/echo/after" \
	"$(lab_audit_sql "SELECT group_concat(decision || '|' || status || '|' || coalesce(method, '') ||
		'|' || coalesce(path, ''), ';') FROM (SELECT * FROM requests ORDER BY decision, status)")" \
	"audit rows (decision|status|method|path)"
assert_eq "request head larger than 64 KiB" \
	"$(lab_audit_sql "SELECT error FROM requests WHERE status = 431")" "the 431 row's error"
assert_eq 1 "$(lab_audit_sql "SELECT count(DISTINCT conn_id) FROM requests")" \
	"connections the three rows name"
lab_stop_sluice
