#!/bin/bash
# A compressed body hides an echoed secret from the masker, so a request
# under a rule that injects asks the upstream for none (Accept-Encoding:
# identity, whatever the client accepts) and gets its echo masked; an
# upstream that compresses anyway gets its answer refused (502, nothing of
# it forwarded, audited as an error), over HTTP/1.1 and h2.  A rule
# without injections passes the client's Accept-Encoding and a compressed
# answer as they are.
. "$(dirname "$0")/../lab/lab.sh"
S=tok-399-coded-secret
lab_echo_up "$S" "
	INSERT INTO rules (id, host, method, path, action) VALUES
		(1, 'api.test', 'GET', '/resp/*', 'allow'), (2, 'api.test', 'POST', '/resp/*', 'allow'),
		(3, 'other.test', NULL, '/echo', 'allow');
	INSERT INTO injections (rule_id, kind, name, secret) VALUES (1, 'bearer', NULL, 't'),
		(3, 'bearer', NULL, 't')"
lab_start_sluice --default-policy deny --resolve "api.test:443:$LAB_U4:4443"

# rawup_ae METHOD: the Accept-Encoding of the last METHOD rawup.py got.
rawup_ae() {
	lab_rawlog 'next((v for k, v in d["headers"] if k.lower() == "accept-encoding"), "-") if d["event"] == "request" and d["method"] == "'"$1"'" else None' |
		tail -n 1
}

for v in --http1.1 --http2; do
	assert_eq 200 "$(lab_get e "$v" --compressed https://other.test/echo)" "status of /echo ($v)"
	assert_eq "identity" "$(lab_hdr "$(lab_upseen "$(cat "$LAB_DIR/e.body")")" Accept-Encoding)" \
		"Accept-Encoding the upstream got ($v, the client accepts gzip)"
	assert_eq "" "$(lab_hval e Content-Encoding)" "Content-Encoding of the /echo answer ($v)"
	assert_not_contains "$(cat "$LAB_DIR/e.body")" "$S" "the /echo body ($v)"
	assert_contains "$(cat "$LAB_DIR/e.body")" '"Bearer ********************"' "the /echo body ($v)"

	assert_eq 502 "$(lab_get z "$v" --compressed https://api.test/resp/gzip-echo)" \
		"status of a gzip answer to a request that got a secret ($v)"
	assert_eq identity "$(rawup_ae GET)" "Accept-Encoding rawup.py got ($v)"
	assert_not_contains "$(cat "$LAB_DIR/z.body")" "$S" "the 502's body ($v)"

	assert_eq 200 "$(lab_get p "$v" --compressed -d x https://api.test/resp/gzip-echo)" \
		"status of a gzip answer without injections ($v)"
	assert_eq gzip "$(lab_hval p Content-Encoding)" "Content-Encoding without injections ($v)"
	assert_eq '{"seen": "-"}' "$(cat "$LAB_DIR/p.body")" "the answer, decompressed by curl ($v)"
	assert_contains "$(rawup_ae POST)" gzip "Accept-Encoding rawup.py got without injections ($v)"
done

assert_eq 6 "$(lab_audit_wait 6)" "audit rows"
assert_eq "502|error|2" "$(lab_audit_sql "SELECT status, decision, count(*) FROM requests
	WHERE method = 'GET' AND path = '/resp/gzip-echo' GROUP BY 1, 2")" \
	"audit rows of the refused answers (status|decision|count)"
lab_stop_sluice
lab_assert_no_secret "$S"
