#!/bin/bash
# --admin: /healthz and /readyz answer 200 while serving; /rules is the loaded
# snapshot as JSON with secret names but never a secret's value; /metrics
# counts requests by decision exactly as the client drives them; other paths
# are 404, other methods 405; while draining /healthz answers 503.  A
# non-loopback --admin address without --admin-allow-remote, or one already
# taken, fails start-up with one line.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up

ADMIN=127.0.0.1:9130
S=sk-live-ADMINTEST-130c0ffee

# A non-loopback address is refused before anything is opened.
out=$("$SLUICE" --rules /nonexistent --audit /nonexistent --ca-cert /x \
	--ca-key /x --listen 127.0.0.1:1 --admin 0.0.0.0:9130 2>&1)
rc=$?
[ "$rc" -ne 0 ] || fail "sluice started with a non-loopback --admin"
assert_eq 1 "$(printf '%s\n' "$out" | wc -l)" "lines of the error for --admin 0.0.0.0 ($out)"
assert_contains "$out" "--admin-allow-remote" "error for --admin 0.0.0.0"

lab_rules_sql "
	INSERT INTO secrets (name, value) VALUES ('tok130', '$S');
	INSERT INTO rules (id, priority, host, path, action) VALUES
		(13, 10, 'api.test', '/deny/*', 'deny'),
		(14, 20, 'api.test', NULL, 'allow');
	INSERT INTO injections (rule_id, kind, name, secret) VALUES
		(14, 'header', 'X-Api-Key', 'tok130');" || fail "inserting the rules"
lab_start_sluice --default-policy deny --admin "$ADMIN"

# An address already taken fails a second sluice's start-up with one line.
out=$(lab_in_g "$SLUICE" --listen 127.0.0.1:9131 --rules "$LAB_DIR/rules.db" \
	--audit "$LAB_DIR/audit-second.db" --ca-cert "$LAB_DIR/ica/ca.crt" \
	--ca-key "$LAB_DIR/ica/ca.key" --log-level warn --admin "$ADMIN" 2>&1)
rc=$?
[ "$rc" -ne 0 ] || fail "a second sluice started on a taken --admin address"
assert_eq 1 "$(printf '%s\n' "$out" | grep -vc '^$')" "lines of the error for a taken --admin address ($out)"
assert_contains "$out" "admin" "error for a taken --admin address"

# admin PATH [CURL_ARGS...]: the body, and the status in $LAB_DIR/admin.code
admin() {
	local path=$1
	shift
	lab_in_g curl -sS --max-time 10 -o "$LAB_DIR/admin.body" \
		-w '%{http_code}' "$@" "http://$ADMIN$path" >"$LAB_DIR/admin.code" ||
		fail "curl $path failed"
	cat "$LAB_DIR/admin.body"
}
code() { cat "$LAB_DIR/admin.code"; }
# requests DECISION: sluice_requests_total{decision="DECISION"} now
requests() {
	admin /metrics | awk -v k="sluice_requests_total{decision=\"$1\"}" '$1 == k { print $2 }'
}

body=$(admin /healthz)
assert_eq 200 "$(code)" "/healthz status"
assert_eq ok "$body" "/healthz body"
admin /readyz >/dev/null
assert_eq 200 "$(code)" "/readyz status"
admin /nothing >/dev/null
assert_eq 404 "$(code)" "status of an unknown path"
admin /metrics -X POST >/dev/null
assert_eq 405 "$(code)" "status of POST /metrics"

rules=$(admin /rules)
assert_eq 200 "$(code)" "/rules status"
assert_eq "[13, 14]" "$(lab_json "$rules" '[r["id"] for r in d["rules"]]')" "rule ids in /rules"
assert_eq "deny|/deny/*" "$(lab_json "$rules" 'd["rules"][0]["action"] + "|" + d["rules"][0]["path"]')" \
	"rule 13 in /rules"
assert_eq '[{"kind": "header", "name": "X-Api-Key", "secret": "tok130"}]' \
	"$(lab_json "$rules" 'd["rules"][1]["injections"]')" "rule 14's injections in /rules"

metrics=$(admin /metrics)
assert_eq 200 "$(code)" "/metrics status"
assert_contains "$metrics" "# TYPE sluice_requests_total counter" "/metrics"
assert_contains "$metrics" "sluice_rules_loaded 2" "/metrics"
assert_contains "$metrics" "sluice_audit_dropped_total 0" "/metrics"

# N forwarded requests move the forwarded count by N; one denied by 1.
fwd0=$(requests forwarded)
den0=$(requests denied)
[ -n "$fwd0" ] && [ -n "$den0" ] || fail "no sluice_requests_total in /metrics"
N=5
for ((i = 0; i < N; i++)); do
	b=$(lab_curl "https://api.test/echo?i=$i") || fail "curl $i failed"
done
assert_eq "$S" "$(lab_hdr "$(lab_upseen "$b")" X-Api-Key)" "X-Api-Key at the upstream"
c=$(lab_curl -o /dev/null -w '%{http_code}' https://api.test/deny/x) || fail "curl failed (denied)"
assert_eq 403 "$c" "status of the denied request"
assert_eq $((N + 1)) "$(lab_audit_wait $((N + 1)))" "audit rows"
assert_eq $((fwd0 + N)) "$(requests forwarded)" "forwarded requests after $N"
assert_eq $((den0 + 1)) "$(requests denied)" "denied requests after one"

# The secret's value is in no admin answer.
all="$(admin /rules)$(admin /metrics)$(admin /healthz)$(admin /readyz)"
assert_not_contains "$all" "$S" "admin answers"
assert_not_contains "$all" "ADMINTEST" "admin answers"

# A slow request in flight is an active connection; SIGTERM starts the
# drain, during which /healthz and /readyz answer 503 until sluice exits.
lab_curl -o "$LAB_DIR/slow.body" https://api.test/slow/3 &
slow=$!
active_is_1() { [ "$(admin /metrics | awk '$1 == "sluice_connections_active" { print $2 }')" = 1 ]; }
healthz_503() { admin /healthz >/dev/null; [ "$(code)" = 503 ]; }
lab_poll 2000 active_is_1 >/dev/null ||
	fail "sluice_connections_active is not 1 with a request in flight"
kill -TERM "$LAB_SLUICE_PID"
lab_poll 2000 healthz_503 >/dev/null || fail "/healthz answers $(code), not 503, while draining"
admin /readyz >/dev/null
assert_eq 503 "$(code)" "/readyz status while draining"
wait "$slow" || fail "the slow request failed during the drain"
lab_stop_sluice
