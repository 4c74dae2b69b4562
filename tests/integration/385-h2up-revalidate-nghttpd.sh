#!/bin/bash
# Revalidation against nghttpd, an upstream that speaks only h2 and gives
# its files Last-Modified but no ETag: a stale entry (ttl_seconds 1 caps
# nghttpd's max-age=3600) is revalidated over h2 with If-Modified-Since;
# nghttpd's 304 makes sluice answer with the stored body ("fwd=stale;
# fwd-status=304", audited cached, upstream_proto h2).
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_nghttpd 50385
echo first >"$LAB_DIR/h2docs/doc"
touch -d '-1 hour' "$LAB_DIR/h2docs/doc"
lab_rules_sql "
	INSERT INTO rules (id, host, path, action) VALUES (1, 'pinned.test', '/*', 'allow');
	INSERT INTO cache_policies (rule_id, ttl_seconds) VALUES (1, 1);" ||
	fail "inserting the rules"
lab_start_sluice --default-policy deny --resolve "pinned.test:443:$LAB_U4:50385"

assert_eq 200 "$(lab_get a https://pinned.test/doc)" "status of the first GET"
sleep 2.2
assert_eq 200 "$(lab_get b https://pinned.test/doc)" "status of the GET of the stale entry"
lab_assert_cs b "sluice; fwd=stale; fwd-status=304" "GET revalidated by nghttpd's 304"
assert_eq first "$(cat "$LAB_DIR/b.body")" "body after the 304"
assert_eq "$(lab_hval a Last-Modified)" \
	"$(sed -n 's/^.*if-modified-since: //p' "$LAB_NGHTTPD_LOG" | tr -d '\r' | head -n 1)" \
	"If-Modified-Since nghttpd got"

assert_eq 2 "$(lab_audit_wait 2)" "audit rows"
assert_eq "forwarded|200|'h2'
cached|200|'h2'" "$(lab_audit_sql "SELECT decision, status, quote(upstream_proto)
	FROM requests ORDER BY id")" "audit rows (decision|status|upstream_proto)"
lab_stop_sluice
