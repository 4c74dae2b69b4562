#!/bin/bash
# Response cache, transfer codings: a response with "Transfer-Encoding:
# gzip, chunked" (and max-age=60) reaches the client with that
# Transfer-Encoding and the gzip-coded bytes, chunked, as the upstream
# sent them (sluice does not un-frame a coding it does not know), and is
# not stored: the second GET goes to the upstream again.  The same
# response with plain chunked framing is stored.
. "$(dirname "$0")/../lab/lab.sh"
lab_cache_up
lab_start_sluice --default-policy deny

# Prints the status, the Transfer-Encoding, the Cache-Status and the "n" of
# the body (chunks joined, then gunzipped when the coding says gzip).
te_get() {
	lab_in_c "$LAB_PY" - "$LAB_DIR/ica/ca.crt" "$LAB_U4" "$1" <<'PY'
import gzip, json, socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[1])
s = ctx.wrap_socket(socket.create_connection((sys.argv[2], 443), timeout=10),
                    server_hostname="api.test")
s.sendall(b"GET %s HTTP/1.1\r\nHost: api.test\r\nConnection: close\r\n\r\n"
          % sys.argv[3].encode())
data = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    data += b
head, _, rest = data.partition(b"\r\n\r\n")
lines = head.decode("latin-1").split("\r\n")
fields = {}
for l in lines[1:]:
    k, _, v = l.partition(":")
    fields[k.strip().lower()] = v.strip()
te = fields.get("transfer-encoding", "")
body = b""
if te.endswith("chunked"):
    while True:
        size_line, _, rest = rest.partition(b"\r\n")
        n = int(size_line.split(b";")[0], 16)
        if n == 0:
            break
        body += rest[:n]
        rest = rest[n + 2:]
else:
    body = rest[:int(fields.get("content-length", len(rest)))]
if "gzip" in te:
    body = gzip.decompress(body)
print(lines[0].split(" ")[1], "|", te, "|", fields.get("cache-status", ""),
      "|", json.loads(body)["n"])
PY
}

t='/cache/te?cc=max-age%3D60&te=gzip,%20chunked'
assert_eq "200 | gzip, chunked | sluice; fwd=miss | 1" "$(te_get "$t")" "first GET of a gzip, chunked response"
assert_eq "200 | gzip, chunked | sluice; fwd=miss | 2" "$(te_get "$t")" "second GET: not stored, passed on as sent"
assert_eq 2 "$(lab_uhits "$t")" "requests the upstream got (gzip, chunked)"

t='/cache/tec?cc=max-age%3D60&te=chunked'
assert_eq "200 | chunked | sluice; fwd=miss | 1" "$(te_get "$t")" "first GET of a chunked response"
assert_eq "200 |  | sluice; hit | 1" "$(te_get "$t")" "second GET of a chunked response: stored"
lab_stop_sluice
