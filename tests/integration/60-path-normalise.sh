#!/bin/bash
# Path normalisation: what a rule matched is what the upstream gets.  Rules
# allow api.test /echo/* (the lab upstream answers /echo/... with what it
# received), deny /echo/admin* and deny DELETE; the default denies.  Every
# other spelling of /echo/admin (//, ./, x/.., %61, %2e%2e, /echo//admin
# which nginx would merge) is denied; allowed targets reach the upstream
# normalised, %2F kept encoded; 'delete' is a DELETE; a bad escape is 400;
# the audit shows the normalised targets.  Sent raw: curl rewrites some.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up

lab_rules_sql "
INSERT INTO rules (id, priority, host, path, action) VALUES (1, 10, 'api.test', '/echo/admin*', 'deny');
INSERT INTO rules (id, priority, host, method, action) VALUES (2, 10, 'api.test', 'DELETE', 'deny');
INSERT INTO rules (id, priority, host, path, action) VALUES (3, 20, 'api.test', '/echo/*', 'allow');" ||
	fail "inserting the rules"
lab_start_sluice --default-policy deny

# raw METHOD TARGET: the status sluice answers a raw request with.
raw() {
	lab_raw "$1 $2 HTTP/1.1\r\nHost: api.test\r\nConnection: close\r\n\r\n" | head -n 1
}

n=0
for t in //echo/admin /echo/./admin /echo/x/../admin /echo/%61dmin \
	/echo/%2e%2e/echo/admin /echo//admin /echo///admin/x '/echo/%2E%2e/echo/admin?a=1' \
	/echo/../../etc/passwd /../etc/passwd; do
	assert_eq 403 "$(raw GET "$t")" "status of GET $t"
	n=$((n + 1))
done
assert_eq 403 "$(raw delete /echo/x)" "status of 'delete /echo/x' (rule 2 is DELETE)"
assert_eq 403 "$(raw DeLeTe /echo/x)" "status of 'DeLeTe /echo/x'"
assert_eq 400 "$(raw GET /echo/%zz)" "status of a target with a bad escape"
assert_eq 400 "$(raw GET '/echo/..;/admin')" "status of a '..;' segment"
n=$((n + 4))
assert_eq 0 "$(grep -c -i -e admin -e passwd -e '"DELETE"' "$LAB_REQLOG")" \
	"upstream requests for admin, passwd or DELETE"

# Allowed spellings reach the upstream normalised; the query as sent.
assert_eq 200 "$(raw GET /echo/ok)" "status of GET /echo/ok"
assert_eq 200 "$(raw GET '/echo/./x/../ok2?q=/../&r=%2e')" "status of GET /echo/./x/../ok2?q=..."
assert_eq 200 "$(raw GET /echo/a%2fb/%7Euser)" "status of GET /echo/a%2fb/%7Euser"
assert_eq 200 "$(raw GET /../echo/root)" "status of GET /../echo/root"
assert_eq 200 "$(raw GET /echo/s3//key)" "status of GET /echo/s3//key (allowed both ways)"
n=$((n + 5))
assert_eq 1 "$(lab_uhits /echo/ok)" "upstream requests for /echo/ok"
assert_eq 1 "$(lab_uhits '/echo/ok2?q=/../&r=%2e')" "upstream requests for /echo/ok2?q=/../&r=%2e"
assert_eq 1 "$(lab_uhits /echo/a%2Fb/~user)" "upstream requests for /echo/a%2Fb/~user (%2F kept)"
assert_eq 1 "$(lab_uhits /echo/root)" "upstream requests for /echo/root"
assert_eq 1 "$(lab_uhits /echo/s3//key)" "upstream requests for /echo/s3//key (// kept)"
assert_eq 5 "$(lab_upstream_hits)" "upstream requests in all"

# The audit shows what was matched and sent.
assert_eq "$n" "$(lab_audit_wait "$n")" "audit rows"
audit() { lab_audit_sql "SELECT decision, status, rule_id FROM requests WHERE method = '$1' AND path = '$2'"; }
assert_eq "denied|403|1" "$(audit GET //echo/admin)" "audit of //echo/admin"
assert_eq 4 "$(lab_audit_sql "SELECT count(*) FROM requests WHERE path = '/echo/admin' AND rule_id = 1")" \
	"audit rows with path /echo/admin (./, x/.., %61, %2e%2e)"
assert_eq "denied|403|1" "$(audit GET /echo//admin)" "audit of /echo//admin"
assert_eq "denied|403|1" "$(audit GET '/echo/admin?a=1')" "audit of /echo/%2E%2e/echo/admin?a=1"
assert_eq 2 "$(lab_audit_sql "SELECT count(*) FROM requests WHERE path = '/etc/passwd' AND rule_id IS NULL AND status = 403")" \
	"audit rows with path /etc/passwd (default policy)"
assert_eq "denied|403|2" "$(audit delete /echo/x)" "audit of delete /echo/x"
assert_eq "error|400|" "$(audit GET /echo/%zz)" "audit of the bad escape (as sent)"
assert_eq "forwarded|200|3" "$(audit GET '/echo/ok2?q=/../&r=%2e')" "audit of /echo/./x/../ok2?q=..."
assert_eq "forwarded|200|3" "$(audit GET /echo/a%2Fb/~user)" "audit of /echo/a%2fb/%7Euser"
lab_stop_sluice
