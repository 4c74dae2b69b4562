#!/bin/bash
# A cached answer that echoes the credential sluice injected is served
# masked, the bytes the miss got, to HTTP/1.1 and h2 clients; and the
# cache holds it masked: once the secret is rotated, the entries filled
# with the old one (by a client's miss, and by a stale-while-revalidate
# refresh in the background) still show no trace of it.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
OLD=tok-400-old-secret
NEW=tok-400-new-secret
lab_rules_sql "
	INSERT INTO secrets (name, value) VALUES ('t', '$OLD');
	INSERT INTO rules (id, host, path, action) VALUES (1, 'api.test', '/cache/*', 'allow'),
		(2, 'api.test', '/echo', 'allow');
	INSERT INTO injections (rule_id, kind, name, secret) VALUES (1, 'bearer', NULL, 't'),
		(2, 'bearer', NULL, 't');
	INSERT INTO cache_policies (rule_id, ttl_seconds) VALUES (1, 60)" || fail "inserting the rules"
lab_start_sluice --default-policy deny

stars="Bearer $(printf '%*s' ${#OLD} '' | tr ' ' '*')"
t='/cache/k?cc=max-age%3D60'
assert_eq 200 "$(lab_get m "https://api.test$t")" "status of the miss"
lab_assert_cs m "sluice; fwd=miss" "the first GET"
assert_eq "$stars" "$(lab_hdr "$(cat "$LAB_DIR/m.body")" Authorization)" "Authorization the miss echoed"
assert_eq "Bearer $OLD" "$(lab_hdr "$(lab_upseen "$(cat "$LAB_DIR/m.body")")" Authorization)" \
	"Authorization the upstream got"
for v in --http1.1 --http2; do
	assert_eq 200 "$(lab_get h "$v" "https://api.test$t")" "status of the hit ($v)"
	lab_assert_cs h "sluice; hit" "the hit ($v)"
	cmp -s "$LAB_DIR/m.body" "$LAB_DIR/h.body" || fail "the hit's body is not the miss's ($v): $(cat "$LAB_DIR/h.body")"
done
assert_eq 1 "$(lab_uhits "$t")" "requests the upstream got for $t"

# An entry that goes stale at once, refreshed in the background.
s='/cache/s?cc=max-age%3D1%2C%20stale-while-revalidate%3D60'
lab_get_stale "$s" 1.5
refreshed() { [ "$(lab_uhits "$s")" = 2 ]; }
lab_poll 5000 refreshed >/dev/null || fail "the stale entry was not revalidated"

lab_rules_sql "UPDATE secrets SET value = '$NEW' WHERE name = 't'" || fail "rotating the secret"
rotated() {
	[ "$(lab_hdr "$(lab_upseen "$(lab_curl https://api.test/echo)")" Authorization)" = "Bearer $NEW" ]
}
lab_poll 5000 rotated >/dev/null || fail "the new secret is not sent 5 s after the rotation"

for v in --http1.1 --http2; do
	assert_eq 200 "$(lab_get h "$v" "https://api.test$t")" "status of the hit after the rotation ($v)"
	lab_assert_cs h "sluice; hit" "the hit after the rotation ($v)"
	assert_not_contains "$(cat "$LAB_DIR/h.body")" "$OLD" "the entry the miss filled ($v)"
	assert_eq 200 "$(lab_get r "$v" "https://api.test$s")" "status of the revalidated entry ($v)"
	assert_not_contains "$(cat "$LAB_DIR/r.body")" "$OLD" "the entry the refresh filled ($v)"
	assert_eq "$stars" "$(lab_hdr "$(cat "$LAB_DIR/r.body")" Authorization)" \
		"Authorization in the entry the refresh filled ($v)"
done
lab_stop_sluice
lab_assert_no_secret "$OLD"
