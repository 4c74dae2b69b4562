#!/bin/bash
# --gateway-name NAME fills the gateway column of every requests and
# connections row; without it the column holds the host name (in G, the
# machine's host name: network namespaces share it).  A name with a space,
# a control byte or more than 64 bytes is refused at start with one line.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up

for bad in "gw one" "$(printf 'gw\001')" "" "$(printf 'g%.0s' {1..65})"; do
	out=$("$SLUICE" --rules "$LAB_DIR/rules.db" --audit "$LAB_DIR/bad.db" --ca-cert /x \
		--ca-key /x --listen 127.0.0.1:1 --gateway-name "$bad" 2>&1)
	rc=$?
	assert_eq 2 "$rc" "exit status for --gateway-name '$bad'"
	assert_eq 1 "$(printf '%s\n' "$out" | wc -l)" "lines of the error for --gateway-name '$bad'"
	assert_contains "$out" "--gateway-name wants 1 to 64 printable ASCII characters" "error for '$bad'"
done

lab_start_sluice --default-policy allow --gateway-name gw-east.1
lab_curl -o /dev/null -o /dev/null https://api.test/echo https://other.test/echo || fail "curl failed"
lab_stop_sluice
lab_start_sluice --default-policy allow
lab_curl -o /dev/null https://api.test/echo/default || fail "curl failed"
lab_stop_sluice

host=$(hostname)
assert_eq "gw-east.1|2
$host|1" "$(lab_audit_sql "SELECT gateway, count(*) FROM requests GROUP BY gateway ORDER BY min(id)")" \
	"requests by gateway"
assert_eq "gw-east.1|2
$host|1" "$(lab_audit_sql "SELECT gateway, count(*) FROM connections GROUP BY gateway ORDER BY min(id)")" \
	"connections by gateway"
