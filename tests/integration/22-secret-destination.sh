#!/bin/bash
# A secret is sent only on an upstream connection whose certificate was
# verified for the host its rule matched: SNI api.test towards an address
# whose server cannot prove it is api.test gets a 502 and that server never
# sees a request; SNI and Host that disagree get a 421 and nothing is
# forwarded; and upstream connections are never shared between hosts, so
# the secret only ever arrives on a connection made for api.test.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up

S=sk-live-SLUICETEST-22b1
lab_rules_sql "
	INSERT INTO secrets (name, value) VALUES ('tok22', '$S');
	INSERT INTO rules (id, host, action) VALUES
		(1, 'api.test', 'allow'), (2, 'other.test', 'allow'), (3, 'untrusted.test', 'allow');
	INSERT INTO injections (rule_id, kind, name, secret) VALUES
		(1, 'bearer', NULL, 'tok22'), (1, 'query', 'api_key', 'tok22'),
		(3, 'header', 'X-Api-Key', 'tok22');" || fail "inserting the rules"
lab_start_sluice --default-policy deny

req() {	# req WANT_STATUS CURL_ARGS...: prints the body
	local want=$1 code
	shift
	code=$(lab_curl -o "$LAB_DIR/body" -w '%{http_code}' "$@") || fail "curl $* failed"
	assert_eq "$want" "$code" "status of curl $*"
	cat "$LAB_DIR/body"
}
# requests_to LOG MARKER: request heads in LOG whose path contains MARKER
requests_to() { grep '"event": "request"' "$1" | grep -c -F -- "$2"; }

# 1. SNI api.test, but the address is the untrusted server's (its certificate
#    names api.test, signed by a CA sluice does not trust).
b=$(req 502 --resolve "api.test:443:$LAB_UX4" 'https://api.test/echo?m=untrusted-ip')
assert_not_contains "$b" "$S" "502 body"
sleep 0.5
grep -q '"sni": "api.test"' "$LAB_REQLOG_X" ||
	fail "sluice never connected to the untrusted server with SNI api.test (the check proves nothing): $(cat "$LAB_REQLOG_X")"
assert_eq 0 "$(grep -c '"event": "request"' "$LAB_REQLOG_X")" "requests the untrusted server received"
assert_not_contains "$(cat "$LAB_REQLOG_X")" "$S" "what the untrusted server received"

# 2. A rule for untrusted.test injects, and the address is the trusted
#    server's, whose certificates (from the trusted CA) do not name it.
b=$(req 502 --resolve "untrusted.test:443:$LAB_U4" 'https://untrusted.test/echo?m=wrong-name')
assert_not_contains "$b" "$S" "502 body"
sleep 0.5
assert_eq 0 "$(requests_to "$LAB_REQLOG" m=wrong-name)" \
	"requests the trusted server received for untrusted.test"

# 3. SNI and Host disagree, either way round: 421, nothing forwarded.
b=$(req 421 -H 'Host: other.test' 'https://api.test/echo?m=sni-api-host-other')
assert_not_contains "$b" "$S" "421 body"
b=$(req 421 -H 'Host: api.test' 'https://other.test/echo?m=sni-other-host-api')
assert_not_contains "$b" "$S" "421 body"
# both on one connection, after a good request
c=(-sS -4 --cacert "$LAB_DIR/ica/ca.crt" --max-time 30 -w '%{http_code} %{num_connects} ')
lab_in_c curl "${c[@]}" -o /dev/null 'https://api.test/echo?m=good-first' \
	--next "${c[@]}" -o /dev/null -H 'Host: other.test' 'https://api.test/echo?m=kept-alive-mismatch' \
	>"$LAB_DIR/codes" || fail "curl with two requests failed"
assert_eq "200 1 421 0 " "$(cat "$LAB_DIR/codes")" \
	"status and new connections of a good request, then of a mismatched Host on the same connection"
sleep 0.5
assert_eq 0 "$(requests_to "$LAB_REQLOG" m=sni-)" "requests forwarded with SNI and Host disagreeing"
assert_eq 0 "$(requests_to "$LAB_REQLOG" m=kept-alive-mismatch)" "mismatched requests forwarded on a kept-alive connection"

# 4. Alternate hosts at one address: the secret only ever travels on
#    upstream connections made (and verified) for api.test.
for i in 1 2 3; do
	b=$(req 200 "https://other.test/echo?m=mix-other-$i")
	assert_eq "" "$(lab_hdr "$b" Authorization)" "Authorization at the upstream for other.test"
	b=$(lab_upseen "$(req 200 "https://api.test/echo?m=mix-api-$i")")
	assert_eq "Bearer $S" "$(lab_hdr "$b" Authorization)" "Authorization at the upstream for api.test"
	assert_eq api.test "$(lab_json "$b" 'd["sni"]')" "SNI of the upstream connection that got api.test's secret"
done
sleep 0.5
"$LAB_PY" - "$LAB_REQLOG" "$S" <<'EOF' || fail "the secret arrived on a connection not made for api.test"
import json, sys
bad = 0
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e["event"] == "request" and sys.argv[2] in json.dumps(e) and e["sni"] != "api.test":
        print("secret on a connection with SNI %r: %s %s" % (e["sni"], e["method"], e["path"]), file=sys.stderr)
        bad += 1
    host = [v for k, v in e.get("headers", []) if k.lower() == "host"]
    if e["event"] == "request" and host and host[0].split(":")[0].lower() != (e["sni"] or "").lower():
        print("Host %r on a connection with SNI %r: %s" % (host[0], e["sni"], e["path"]), file=sys.stderr)
        bad += 1
sys.exit(1 if bad else 0)
EOF
[ "$(grep -c -F -- "$S" "$LAB_REQLOG")" -ge 4 ] || fail "the trusted server got the secret fewer times than expected"

assert_eq "error|502" \
	"$(lab_audit_wait 1 "path LIKE '/echo?m=untrusted-ip%'" >/dev/null
	lab_audit_sql "SELECT decision, status FROM requests WHERE path LIKE '/echo?m=untrusted-ip%'")" \
	"audit row of the request towards the untrusted server (decision|status)"
lab_stop_sluice
