#!/bin/bash
# Response cache, statuses: 200, 203, 204, 300, 301, 404 and 410 responses
# (max-age=60) are stored and served with their status; others (201, 302,
# 307, 400, 403, 500, 503) are not, even with max-age=60.  A cached 404 is
# audited as cached with status 404.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_rules_sql "
	INSERT INTO rules (id, host, path, action) VALUES (1, 'api.test', '/cache/*', 'allow');
	INSERT INTO cache_policies (rule_id, ttl_seconds) VALUES (1, 60);" ||
	fail "inserting the rules"
lab_start_sluice --default-policy deny

# get NAME CURL-ARGS...: the response's head goes to $LAB_DIR/NAME.head, its
# body to NAME.body; prints the status.
get() {
	local n=$1
	shift
	lab_curl -D "$LAB_DIR/$n.head" -o "$LAB_DIR/$n.body" -w '%{http_code}' "$@" ||
		fail "curl $* failed"
}
# hval NAME FIELD: the first FIELD of response NAME.
hval() { tr -d '\r' <"$LAB_DIR/$1.head" | grep -i -m1 "^$2:" | sed 's/^[^:]*: *//; s/ *$//'; }
# bn NAME: the upstream's request counter for the target in response NAME's body.
bn() { lab_json "$(cat "$LAB_DIR/$1.body")" 'd["n"]'; }
# assert_cs NAME EXPECTED WHAT: response NAME's Cache-Status is EXPECTED
# (further parameters after it allowed).
assert_cs() {
	local v
	v=$(hval "$1" Cache-Status)
	case $v in
	"$2" | "$2;"*) ;;
	*) fail "$3: Cache-Status '$v', expected '$2'" ;;
	esac
}
# uhits TARGET: how many requests the upstream got for exactly TARGET.
uhits() {
	"$LAB_PY" -c '
import json, sys
n = 0
for line in open(sys.argv[1], encoding="utf-8"):
    d = json.loads(line)
    n += d.get("event") == "request" and d.get("path") == sys.argv[2]
print(n)' "$LAB_REQLOG" "$1"
}

for s in 200 203 204 300 301 404 410; do
	t="/cache/s$s?cc=max-age%3D60&status=$s"
	for i in 1 2; do
		assert_eq "$s" "$(get x$i "https://api.test$t")" "status of GET $i of a $s"
	done
	assert_cs x2 "sluice; hit" "second GET of a $s"
	cmp -s "$LAB_DIR/x1.body" "$LAB_DIR/x2.body" || fail "the cached body of a $s differs"
	assert_eq 1 "$(uhits "$t")" "requests the upstream got for two GETs of a $s (stored)"
done
for s in 201 302 307 400 403 500 503; do
	t="/cache/s$s?cc=max-age%3D60&status=$s"
	for i in 1 2; do
		assert_eq "$s" "$(get x$i "https://api.test$t")" "status of GET $i of a $s"
	done
	assert_cs x2 "sluice; fwd=miss" "second GET of a $s"
	assert_eq 2 "$(uhits "$t")" "requests the upstream got for two GETs of a $s (not stored)"
done

t='/cache/s404?cc=max-age%3D60&status=404'
assert_eq 28 "$(lab_audit_wait 28)" "audit rows"
assert_eq "forwarded|404|1
cached|404|1" "$(lab_audit_sql "SELECT decision, status, rule_id FROM requests WHERE path = '$t' ORDER BY id")" \
	"audit rows for the 404 (decision|status|rule)"
assert_eq 7 "$(lab_audit_sql "SELECT count(*) FROM requests WHERE decision = 'cached'")" "cached audit rows"
lab_stop_sluice
