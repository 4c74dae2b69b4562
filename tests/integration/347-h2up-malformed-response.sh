#!/bin/bash
# The response side of an HTTP/2 upstream: a response head RFC 9113 8
# calls malformed (CR, LF or NUL in a field, an uppercase or broken name,
# :status that is not three digits, missing or doubled, a pseudo-header
# after a field, connection-specific fields) is not forwarded (8.1.1):
# the client gets sluice's 502, over HTTP/1.1 (where a copied field could
# split the response) and over h2, never the field the upstream tried to
# add, and the audit row says why ("malformed upstream response...", not a
# reset); the connection's next request is served.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
port=50070
ip netns exec "$LAB_U" "$LAB_PY" "$LAB_SRCDIR/tests/lab/h2evilup.py" \
	--cert "$LAB_DIR/certs/trusted/default.crt" --key "$LAB_DIR/certs/trusted/default.key" \
	--listen "$LAB_U4:$port" >>"$LAB_DIR/upstream.log" 2>&1 &
LAB_PIDS+=($!)
disown $!
lab_wait_listen "$LAB_U" "$port" || fail "h2evilup.py did not start"
lab_start_sluice --default-policy allow --resolve "pinned.test:443:$LAB_U4:$port"

names="crlf-value lf-value nul-value crlf-name colon-name space-name upper-name
	status-text status-missing status-twice pseudo-after unknown-pseudo conn-field
	te-chunked"
n=0
for v in --http1.1 --http2; do
	for name in $names; do
		out=$(lab_curl $v -s -i "https://pinned.test/$name" "https://pinned.test/ok" 2>&1)
		status=$(printf '%s\n' "$out" | sed -n 's/^HTTP\/[0-9.]* \([0-9]*\).*/\1/p' | tr '\n' ' ')
		assert_eq "502 200 " "$status" "statuses for $name then ok over $v"
		assert_not_contains "$(printf '%s\n' "$out" | tr 'A-Z' 'a-z')" "x-injected" \
			"what the client got for $name over $v"
		n=$((n + 2))
	done
done
assert_eq "$n" "$(lab_audit_wait "$n" "host = 'pinned.test'")" "audit rows"
assert_eq 0 "$(lab_audit_sql "SELECT count(*) FROM requests WHERE host = 'pinned.test' \
	AND path NOT LIKE '%/ok' AND (status <> 502 OR error IS NULL)")" \
	"rows of malformed responses without status 502 and an error"
assert_eq "" "$(lab_audit_sql "SELECT path || ': ' || error FROM requests
	WHERE host = 'pinned.test' AND path NOT LIKE '%/ok'
	AND error NOT LIKE 'malformed upstream response%'")" \
	"rows of malformed responses whose error does not say so"
lab_stop_sluice
