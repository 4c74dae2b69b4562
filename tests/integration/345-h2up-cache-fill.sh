#!/bin/bash
# A storable response from an h2-only upstream fills the cache from its
# DATA (no chunked framing to take off): under a rule with a cache policy
# the first GET is a miss forwarded over h2, the second a hit with the
# same 200 KB body, and nghttpd got one request.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_nghttpd 50065
head -c 200000 /dev/urandom >"$LAB_DIR/h2docs/doc"
lab_rules_sql "
	INSERT INTO rules (id, host, path, action) VALUES (1, 'pinned.test', '/*', 'allow');
	INSERT INTO cache_policies (rule_id, ttl_seconds) VALUES (1, 60);" ||
	fail "inserting the rules"
lab_start_sluice --default-policy deny --resolve "pinned.test:443:$LAB_U4:50065"

assert_eq 200 "$(lab_get a https://pinned.test/doc)" "status of the first GET"
lab_assert_cs a "sluice; fwd=miss" "first GET"
assert_eq 200 "$(lab_get b https://pinned.test/doc)" "status of the second GET"
lab_assert_cs b "sluice; hit" "second GET"
cmp -s "$LAB_DIR/h2docs/doc" "$LAB_DIR/a.body" || fail "the first body differs from the file"
cmp -s "$LAB_DIR/h2docs/doc" "$LAB_DIR/b.body" || fail "the cached body differs from the file"
assert_eq 1 "$(grep -c ':path: /doc' "$LAB_NGHTTPD_LOG")" "requests nghttpd got"
# The audit writer is asynchronous: both rows first.
assert_eq 2 "$(lab_audit_wait 2 "host = 'pinned.test'")" "audit rows of the miss and the hit"
assert_eq "'h2'" "$(lab_audit_sql "SELECT quote(upstream_proto) FROM requests WHERE \
	host = 'pinned.test' ORDER BY id LIMIT 1")" "the miss went over h2"
lab_stop_sluice
