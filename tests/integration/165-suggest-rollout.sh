#!/bin/bash
# The report-only rollout end to end: sluice with the default deny and
# --report-only lets traffic to two hosts through; sluice-audit suggest
# turns the would_deny rows into INSERT statements; fed to sqlite3 and
# sluice restarted without --report-only, exactly that traffic is allowed
# (api.test: its three exact method and path pairs; other.test: GET under
# the common directory of its five paths), and everything else, a third
# host included, is denied.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_sluice --default-policy deny --report-only

lab_curl -o /dev/null -o /dev/null https://api.test/echo/a 'https://api.test/echo/b?q=1' ||
	fail "curl failed"
lab_curl -o /dev/null -d x https://api.test/echo/c || fail "curl failed"
for i in 1 2 3 4 5; do
	lab_curl -o /dev/null "https://other.test/echo/v1/item$i" || fail "curl failed"
done
assert_eq 8 "$(lab_audit_wait 8 "decision = 'would_deny'")" "would_deny rows"
lab_stop_sluice

out=$(lab_sluice_audit suggest) || fail "suggest failed: $out"
printf '%s\n' "$out" >"$LAB_DIR/suggest.sql"
assert_eq "-- api.test:443: 3 would_deny requests from $LAB_C4
-- other.test:443: 5 would_deny requests from $LAB_C4" "$(grep -- ':443: ' "$LAB_DIR/suggest.sql")" \
	"suggest's group comments"
lab_rules_sql <"$LAB_DIR/suggest.sql" || fail "sqlite3 refused the suggestion: $out"
assert_eq "api.test|443|GET|/echo/a|allow
api.test|443|GET|/echo/b|allow
api.test|443|POST|/echo/c|allow
other.test|443|GET|/echo/v1/*|allow" \
	"$(lab_rules_sql "SELECT host, port, method, path, action FROM rules ORDER BY id")" \
	"the rules inserted"

lab_start_sluice --default-policy deny
# code METHOD URL: the status a request gets now.
code() {
	local data=()
	[ "$1" = POST ] && data=(-d x)
	lab_curl -o /dev/null -w '%{http_code}' "${data[@]}" "$2"
}
assert_eq 200 "$(code GET https://api.test/echo/a)" "GET api.test/echo/a"
assert_eq 200 "$(code GET 'https://api.test/echo/b?q=2')" "GET api.test/echo/b?q=2"
assert_eq 200 "$(code POST https://api.test/echo/c)" "POST api.test/echo/c"
assert_eq 200 "$(code GET https://other.test/echo/v1/item9)" "GET other.test/echo/v1/item9 (under the glob)"
assert_eq 403 "$(code GET https://api.test/echo/d)" "GET api.test/echo/d (no such request)"
assert_eq 403 "$(code POST https://api.test/echo/a)" "POST api.test/echo/a (another method)"
assert_eq 403 "$(code POST https://other.test/echo/v1/item1)" "POST other.test/echo/v1/item1 (another method)"
assert_eq 403 "$(code GET https://other.test/echo/v2)" "GET other.test/echo/v2 (outside the glob)"
assert_eq 403 "$(code GET https://evil.test/echo/a)" "GET evil.test/echo/a (a third host)"
lab_stop_sluice
