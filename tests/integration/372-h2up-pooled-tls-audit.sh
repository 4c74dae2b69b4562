#!/bin/bash
# A client connection whose request joins a pooled h2 upstream connection
# (made by an earlier client's request) names that connection's TLS in its
# connections row, as one reusing a pooled HTTP/1 leg does: version,
# cipher, subject, issuer and the verify result, the same as the first's.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_nghttpd 50072
printf 'hello h2\n' >"$LAB_DIR/h2docs/hello"
lab_start_sluice --default-policy allow --workers 1 \
	--resolve "pinned.test:443:$LAB_U4:50072"

assert_eq 200 "$(lab_curl -o /dev/null -w '%{http_code}' https://pinned.test/hello)" "first request"
assert_eq 200 "$(lab_curl -o /dev/null -w '%{http_code}' https://pinned.test/hello?2)" "second request"
assert_eq 2 "$(lab_audit_wait 2 "host = 'pinned.test' AND upstream_proto = 'h2'")" "requests over h2"
assert_eq 1 "$(lab_nghttpd_conns)" "connections nghttpd accepted"
lab_stop_sluice
tls="upstream_tls_version || '|' || upstream_cipher || '|' || upstream_subject || '|' ||
	upstream_issuer || '|' || verify_result"
first=$(lab_audit_sql "SELECT $tls FROM connections WHERE sni = 'pinned.test' ORDER BY id LIMIT 1")
assert_contains "$first" "|ok" "the first connection's upstream TLS"
assert_eq "$first
$first" "$(lab_audit_sql "SELECT ifnull($tls, 'none') FROM connections WHERE sni = 'pinned.test' \
	ORDER BY id")" "both connections' upstream TLS"
