#!/bin/bash
# Response cache, size limit: under a policy with max_bytes 1000, responses
# of 5000 bytes (Content-Length and chunked) are streamed to the client
# intact but not stored: two GETs, two upstream requests, both bodies
# exact.  A 500-byte one is stored and served intact from the cache, also
# chunked.  With max_bytes NULL (1 MiB; rule 2, for other.test) a
# 900000-byte response is stored, a 2000000-byte one is not.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_rules_sql "
	INSERT INTO rules (id, host, path, action) VALUES
		(1, 'api.test', NULL, 'allow'),
		(2, 'other.test', NULL, 'allow');
	INSERT INTO cache_policies (rule_id, ttl_seconds, max_bytes) VALUES (1, 60, 1000);
	INSERT INTO cache_policies (rule_id, ttl_seconds) VALUES (2, 60);" ||
	fail "inserting the rules"
lab_start_sluice --default-policy deny

# fetch2 HOST KIND N SEED STORED: two GETs of https://HOST/KIND/N?seed=SEED,
# both bodies exact; the upstream sees one request if STORED is 1, else two.
fetch2() {
	local host=$1 kind=$2 n=$3 seed=$4 stored=$5 want i sum
	local t="/$kind/$n?seed=$seed"
	want=$(lab_gen "$n" "$seed" | sha256sum | cut -d' ' -f1)
	for i in 1 2; do
		assert_eq 200 "$(lab_get f$i "https://$host$t")" "status of GET $i of $t"
		sum=$(sha256sum <"$LAB_DIR/f$i.body" | cut -d' ' -f1)
		assert_eq "$want" "$sum" "sha256 of the body of GET $i of $t ($(wc -c <"$LAB_DIR/f$i.body") bytes)"
	done
	if [ "$stored" = 1 ]; then
		lab_assert_cs f2 "sluice; hit" "second GET of $t"
		assert_eq 1 "$(lab_uhits "$t")" "requests the upstream got for two GETs of $t (stored)"
	else
		lab_assert_cs f2 "sluice; fwd=miss" "second GET of $t"
		assert_eq 2 "$(lab_uhits "$t")" "requests the upstream got for two GETs of $t (too big to store)"
	fi
}
fetch2 api.test bytes 5000 m 0
fetch2 api.test bytes 500 s 1
fetch2 api.test chunked 5000 mc 0
fetch2 api.test chunked 500 sc 1
fetch2 other.test chunked 2000000 big 0
fetch2 other.test chunked 900000 fits 1

assert_eq 12 "$(lab_audit_wait 12)" "audit rows"
assert_eq "forwarded|5000
forwarded|5000
forwarded|500
cached|500
forwarded|5000
forwarded|5000
forwarded|500
cached|500
forwarded|2000000
forwarded|2000000
forwarded|900000
cached|900000" \
	"$(lab_audit_sql "SELECT decision, resp_bytes FROM requests ORDER BY id")" \
	"audit rows (decision|resp_bytes)"
lab_stop_sluice
