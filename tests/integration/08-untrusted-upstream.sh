#!/bin/bash
# An upstream whose certificate does not verify gets a 502 with a JSON reason;
# nothing the upstream sends reaches the client.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_sluice --default-policy allow

code=$(lab_curl -D "$LAB_DIR/head" -o "$LAB_DIR/body" -w '%{http_code}' \
	'https://untrusted.test/headers?X-Upstream-Marker=leaked') || fail "curl failed"
assert_eq 502 "$code" "status for an upstream with a certificate from an unknown CA"
body=$(cat "$LAB_DIR/body")
reason=$(lab_json "$body" 'd.get("error") or d.get("reason") or ""')
[ -n "$reason" ] || fail "the 502 body names no reason: $body"
shopt -s nocasematch
[[ $body =~ cert|verif|trust|issuer ]] || fail "the 502 reason does not mention the certificate: $body"
shopt -u nocasematch
assert_not_contains "$(cat "$LAB_DIR/head" "$LAB_DIR/body")" leaked "502 response"
assert_not_contains "$(cat "$LAB_DIR/head")" X-Conn-Id "502 response headers"

# The same name with a trusted upstream still works.
code=$(lab_curl -o /dev/null -w '%{http_code}' https://api.test/echo) || fail "curl failed"
assert_eq 200 "$code" "status for the trusted upstream afterwards"

assert_eq 2 "$(lab_audit_wait 2)" "audit rows"
assert_eq "error|502|$LAB_UX4:443" \
	"$(lab_audit_sql "SELECT decision, status, server FROM requests WHERE sni = 'untrusted.test'")" \
	"audit row of the refused upstream (decision|status|server)"
lab_stop_sluice
