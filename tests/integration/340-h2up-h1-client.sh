#!/bin/bash
# An HTTP/1.1 client reaches an upstream that speaks only h2 (nghttpd):
# sluice offers h2 upstream, the legs are independent, so the client gets
# the file intact over HTTP/1.1 and the audit row says client_proto
# http/1.1, upstream_proto h2.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_nghttpd 50060
head -c 300000 /dev/urandom >"$LAB_DIR/h2docs/blob"
want=$(sha256sum <"$LAB_DIR/h2docs/blob" | cut -d' ' -f1)
lab_start_sluice --default-policy allow --resolve "pinned.test:443:$LAB_U4:50060"

out=$(lab_curl -o "$LAB_DIR/got" -w '%{http_code} %{http_version}' https://pinned.test/blob)
assert_eq "200 1.1" "$out" "status and HTTP version the client saw"
assert_eq "$want" "$(sha256sum <"$LAB_DIR/got" | cut -d' ' -f1)" "sha256 of the body"
assert_eq 1 "$(lab_audit_wait 1 "host = 'pinned.test' AND status = 200")" "audit rows"
assert_eq "'http/1.1'|'h2'|300000" "$(lab_audit_sql "SELECT quote(client_proto), \
	quote(upstream_proto), resp_bytes FROM requests WHERE host = 'pinned.test'")" \
	"client_proto, upstream_proto and resp_bytes audited"
lab_stop_sluice
