#!/bin/bash
# An upstream that echoes what it received cannot hand the injected
# credentials to the client: a redirect that keeps the query (as a
# trailing-slash redirect does) and debugging fields that repeat the
# Authorization or the API key reach the client with each secret, in the
# form it was sent (percent-encoded, base64) or as is, replaced by '***',
# over HTTP/1.1 and h2, and also when the answer comes from the cache.
# Following the masked Location works: the rule's injection replaces the
# client's 'key=***' again.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_rawup
lab_rules_sql "
	INSERT INTO secrets (name, value) VALUES ('q', 'qs-66/secret'), ('b', 'user66:pw-66-secret'),
		('h', 'xkey-66-secret');
	INSERT INTO rules (id, host, action) VALUES (1, 'api.test', 'allow');
	INSERT INTO injections (rule_id, kind, name, secret) VALUES (1, 'query', 'key', 'q'),
		(1, 'basic', NULL, 'b'), (1, 'header', 'X-Key', 'h');
	INSERT INTO cache_policies (rule_id, ttl_seconds) VALUES (1, 60)" || fail "inserting the rule"
lab_start_sluice --default-policy deny --resolve "api.test:443:$LAB_U4:4443"

b64=$(printf '%s' 'user66:pw-66-secret' | base64)
n=0
for v in --http1.1 --http2 --http2; do
	n=$((n + 1))
	code=$(lab_curl $v -s -D "$LAB_DIR/h$n.head" -o /dev/null -w '%{http_code}' \
		'https://api.test/resp/echo-auth?a=1') || fail "curl $v failed"
	assert_eq 302 "$code" "status of request $n ($v)"
	for s in qs-66 pw-66 "$b64" xkey-66; do
		grep -a -q -F -- "$s" "$LAB_DIR/h$n.head" && fail "response $n ($v) carries '$s': $(cat "$LAB_DIR/h$n.head")"
	done
	assert_eq "/moved?a=1&key=***" "$(lab_hval "h$n" Location)" "Location of response $n ($v)"
	assert_eq "Basic ***|***" "$(lab_hval "h$n" X-Seen-Auth)|$(lab_hval "h$n" X-Seen-Key)" \
		"echoed Authorization and X-Key of response $n ($v)"
done
assert_eq "sluice; hit" "$(lab_hval h3 Cache-Status)" "Cache-Status of the third response"

# The masked Location, followed, reaches the upstream with the real key.
code=$(lab_curl -s -o /dev/null -w '%{http_code}' 'https://api.test/moved?a=1&key=***') ||
	fail "curl of the Location failed"
assert_eq 200 "$code" "status of the followed Location"
assert_eq "/moved?a=1&key=qs-66%2Fsecret" \
	"$(lab_rawlog 'd["path"] if d["event"] == "request" and d["path"].startswith("/moved") else None')" \
	"target the upstream got for the followed Location"
assert_eq 4 "$(lab_audit_wait 4)" "audit rows"
for s in qs-66 pw-66 xkey-66; do
	lab_assert_no_secret "$s"
done
lab_stop_sluice
