#!/bin/bash
# An HTTP/1.1 client of an h2-only upstream (nghttpd) reads the standard
# reason phrase in its status line, which HTTP/2 does not carry: "200 OK"
# forwarded, "200 OK" again from the cache it filled, "404 Not Found".
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_nghttpd 50070
printf 'hello\n' >"$LAB_DIR/h2docs/doc"
lab_rules_sql "
	INSERT INTO rules (id, host, path, action) VALUES (1, 'pinned.test', '/*', 'allow');
	INSERT INTO cache_policies (rule_id, ttl_seconds) VALUES (1, 60);" ||
	fail "inserting the rules"
lab_start_sluice --default-policy deny --resolve "pinned.test:443:$LAB_U4:50070"

status_line() { head -n 1 "$LAB_DIR/$1.head" | tr -d '\r'; }
assert_eq 200 "$(lab_get a https://pinned.test/doc)" "status of the first GET"
lab_assert_cs a "sluice; fwd=miss" "first GET"
assert_eq "HTTP/1.1 200 OK" "$(status_line a)" "status line forwarded from h2"
assert_eq 200 "$(lab_get b https://pinned.test/doc)" "status of the second GET"
lab_assert_cs b "sluice; hit" "second GET"
assert_eq "HTTP/1.1 200 OK" "$(status_line b)" "status line of the cache hit"
assert_eq 404 "$(lab_get c https://pinned.test/none)" "status of a missing file"
assert_eq "HTTP/1.1 404 Not Found" "$(status_line c)" "status line of the 404"
lab_stop_sluice
