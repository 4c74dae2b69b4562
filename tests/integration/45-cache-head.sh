#!/bin/bash
# Response cache, HEAD: after a GET stored the response, a HEAD of the same
# URL is answered from that entry without reaching the upstream: status and
# fields of the GET's answer (Content-Length included), no body, "Cache-Status:
# sluice; hit", Age; audited as cached with no body bytes.  A HEAD with no
# entry to use goes to the upstream.
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

t='/cache/head?cc=max-age%3D60&etag=hd&size=3000'
assert_eq 200 "$(get g "https://api.test$t")" "status of the GET"
assert_eq 3000 "$(wc -c <"$LAB_DIR/g.body")" "size of the GET's body"
assert_eq 1 "$(uhits "$t")" "requests the upstream got for the GET"

# -I: curl sends HEAD and expects no body whatever Content-Length says.
assert_eq 200 "$(lab_curl -I -D "$LAB_DIR/h.head" -o /dev/null -w '%{http_code}' "https://api.test$t")" \
	"status of the HEAD"
assert_cs h "sluice; hit" "HEAD after a GET"
assert_eq 3000 "$(hval h Content-Length)" "Content-Length of the HEAD answered from the GET's entry"
assert_eq '"hd"' "$(hval h ETag)" "ETag of the HEAD"
assert_eq 1 "$(hval h X-Upstream-Count)" "X-Upstream-Count of the HEAD (the GET's)"
[[ $(hval h Age) =~ ^[0-9]+$ ]] || fail "Age '$(hval h Age)' of the HEAD is not a number"
assert_eq 1 "$(uhits "$t")" "requests the upstream got after the GET and the HEAD"

# The HEAD's answer carried no body: the connection is still in step for a
# GET that follows on it (curl reuses it within one command; --next resets
# the options lab_curl added).
out=$(lab_curl -I -o /dev/null -w '%{http_code}\n' "https://api.test$t" \
	--next -4 --cacert "$LAB_DIR/ica/ca.crt" --max-time 30 -o "$LAB_DIR/g2.body" -w '%{http_code} %{num_connects}\n' "https://api.test$t") ||
	fail "HEAD then GET on one connection failed"
assert_eq "200
200 0" "$out" "HEAD then GET on one connection (status, new connections for the GET)"
cmp -s "$LAB_DIR/g.body" "$LAB_DIR/g2.body" || fail "the GET after a cached HEAD got another body"
assert_eq 1 "$(uhits "$t")" "requests the upstream got after all that"

# No entry: the HEAD goes to the upstream.
t2='/cache/head2?cc=max-age%3D60'
assert_eq 200 "$(lab_curl -I -D "$LAB_DIR/h2.head" -o /dev/null -w '%{http_code}' "https://api.test$t2")" \
	"status of a HEAD without an entry"
assert_not_contains "$(hval h2 Cache-Status)" hit "Cache-Status of a HEAD without an entry"
assert_eq 1 "$(uhits "$t2")" "requests the upstream got for a HEAD without an entry"

assert_eq 5 "$(lab_audit_wait 5)" "audit rows"
assert_eq "GET|forwarded|200|3000
HEAD|cached|200|0
HEAD|cached|200|0
GET|cached|200|3000" \
	"$(lab_audit_sql "SELECT method, decision, status, resp_bytes FROM requests WHERE path = '$t' ORDER BY id")" \
	"audit rows for $t (method|decision|status|resp_bytes)"
assert_eq "HEAD|forwarded|200" \
	"$(lab_audit_sql "SELECT method, decision, status FROM requests WHERE path = '$t2'")" \
	"audit row for the HEAD without an entry"
lab_stop_sluice
