#!/bin/bash
# An HTTP/2 upstream's echo (h2cache.py's /echo: the request's fields and
# path as JSON, in DATA frames) reaches HTTP/1.1 and h2 clients with the
# injected bearer token and query secret starred, the same length as the
# upstream sent it (its content-length stands).
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
S=tok-402-h2-secret
Q=q402/secret
lab_rules_sql "
	INSERT INTO secrets (name, value) VALUES ('t', '$S'), ('q', '$Q');
	INSERT INTO rules (id, host, path, action) VALUES (1, 'api.test', '/echo', 'allow');
	INSERT INTO injections (rule_id, kind, name, secret) VALUES (1, 'bearer', NULL, 't'),
		(1, 'query', 'key', 'q')" || fail "inserting the rules"
lab_start_in_u h2cache.py default 4445 "$LAB_DIR/h2cache.jsonl"
lab_start_sluice --default-policy deny --resolve "api.test:443:$LAB_U4:4445"

stars() { printf '%*s' "$1" '' | tr ' ' '*'; }
for v in --http1.1 --http2; do
	out=$(lab_curl "$v" -D "$LAB_DIR/e.head" -o "$LAB_DIR/e.body" -w '%{http_code} %{size_download}' \
		'https://api.test/echo?x=1') || fail "curl $v failed"
	len=$(lab_hval e Content-Length)
	assert_eq "200 $len" "$out" "status, and bytes as many as Content-Length ($v)"
	b=$(cat "$LAB_DIR/e.body")
	assert_eq "Bearer $(stars ${#S})|/echo?x=1&key=$(stars 13)" \
		"$(lab_json "$b" 'dict(d["headers"])["authorization"] + "|" + d["path"]')" \
		"authorization and path the upstream echoed ($v)"
	assert_not_contains "$b" "$S" "the body ($v)"
done
assert_eq "Bearer $S|/echo?x=1&key=q402%2Fsecret" \
	"$(lab_jsonl "$LAB_DIR/h2cache.jsonl" 'dict(d["headers"])["authorization"] + "|" + d["path"] if d["event"] == "request" else None' | tail -n 1)" \
	"authorization and path the upstream got"
assert_eq "h2" "$(lab_audit_wait 2 >/dev/null; lab_audit_sql "SELECT DISTINCT upstream_proto FROM requests")" \
	"the upstream leg's protocol"
lab_stop_sluice
