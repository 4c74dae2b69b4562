#!/bin/bash
# A response's framing is sluice's too: an upstream whose Connection header
# names Content-Length or Transfer-Encoding cannot make the client frame the
# body differently from sluice; and a 101 is relayed only when the request
# asked for that upgrade (else 502, and the upstream connection is closed).
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_rawup
lab_start_sluice --default-policy allow --resolve "api.test:443:$LAB_U4:4443"

# Two requests on one connection: the first response must end where sluice
# framed it, or the second one's bytes would become part of its body.
two() {	# two PATH WHAT: PATH then /ok on one connection
	local out
	out=$(LAB_CURL_TIMEOUT=10 lab_curl -D "$LAB_DIR/h1" -w '\n%{http_code}\n' \
		"https://api.test$1" https://api.test/ok) ||
		fail "curl for a response whose Connection names $2 failed: $out"
	# n counts the requests rawup's connection carried: /ok went on the
	# same one as PATH (and as earlier clients', which the pool keeps).
	assert_eq "hello
200
{\"path\": \"/ok\", \"n\": N}
200" "$(printf '%s\n' "$out" | sed -E 's/"n": ([2-9]|[1-9][0-9]+)\}/"n": N}/')" \
		"bodies and statuses on one connection, the first one's Connection naming $2"
}

two /resp/cl-named Content-Length
assert_eq "5" "$(tr -d '\r' <"$LAB_DIR/h1" | awk -F': ' 'tolower($1) == "content-length" { print $2; exit }')" \
	"Content-Length of the first response at the client"
two /resp/te-named Transfer-Encoding

# A 101 nobody asked for is not a tunnel.
out=$(LAB_CURL_TIMEOUT=10 lab_curl -o "$LAB_DIR/b101" -w '%{http_code}' https://api.test/resp/101)
assert_eq 502 "$out" "status for an unrequested 101"
assert_not_contains "$(cat "$LAB_DIR/b101")" surprise "body of the 502"
assert_eq "101
open" "$(lab_raw 'GET /resp/ws HTTP/1.1\r\nHost: api.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n' 2)" \
	"a 101 the request asked for (status, connection state)"

assert_eq 6 "$(lab_audit_wait 6)" "audit rows"
assert_eq "/resp/101|502" "$(lab_audit_sql "SELECT path, status FROM requests WHERE status >= 500")" \
	"audited 502"
lab_stop_sluice
