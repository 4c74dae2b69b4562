#!/bin/bash
# One reading of the authority on every listener: each spelling of Host
# (HTTP/1.1) or :authority (h2) gets the same answer on both, and through
# the CONNECT listener: a malformed one (empty or signed port, an escape,
# an empty label) 400, another name or another port than the connection's
# 421 (an upstream routing on Host:port must not get this rule's
# credential for another origin), and the same name spelt otherwise (case,
# the root's dot, ":443") is forwarded with the Host the connection was
# verified for, never as the client spelt it.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_rules_sql "
	INSERT INTO secrets (name, value) VALUES ('k', 'sekrit-65');
	INSERT INTO rules (id, host, action) VALUES (1, 'api.test', 'allow');
	INSERT INTO injections (rule_id, kind, name, secret) VALUES (1, 'header', 'X-Key', 'k')" ||
	fail "inserting the rule"
lab_start_sluice --default-policy deny

# probe ARGS...: tests/lab/reqprobe.py from C to api.test; one status a line.
probe() {
	lab_in_c "$LAB_PY" "$LAB_SRCDIR/tests/lab/reqprobe.py" --ca "$LAB_DIR/ica/ca.crt" \
		--addr "$LAB_U4" "$@" | "$LAB_PY" -c '
import json, sys
for line in sys.stdin:
    print(json.loads(line)["status"])'
}

n=0 sent=0
while read -r want host; do
	n=$((n + 1))
	out=$(probe --h1 "GET /echo/65-$n HTTP/1.1\r\nHost: $host\r\nConnection: close\r\n\r\n" \
		--h2 "[[\":method\", \"GET\"], [\":scheme\", \"https\"], [\":authority\", \"$host\"],
		       [\":path\", \"/echo/65-$n\"]]")
	assert_eq "$want
$want" "$out" "status over HTTP/1.1, then h2, for authority '$host'"
	if [ "$want" = 200 ]; then
		sent=$((sent + 2))
		assert_eq "api.test|sekrit-65
api.test|sekrit-65" "$(lab_uhdr "/echo/65-$n" 1 Host)|$(lab_uhdr "/echo/65-$n" 1 X-Key)
$(lab_uhdr "/echo/65-$n" 2 Host)|$(lab_uhdr "/echo/65-$n" 2 X-Key)" \
			"Host and X-Key at the upstream for authority '$host'"
	else
		assert_eq 0 "$(lab_uhits "/echo/65-$n")" "requests forwarded for authority '$host'"
	fi
done <<'EOF'
200 api.test
200 API.Test.
200 api.test:443
200 api.test:0443
400 api.test:
400 api.test:+443
400 api.test:99999
400 api.test%2e
400 api.test..
400 api.test:443:443
421 api.test:444
421 api.test:8443
421 other.test
421 xn--api-test
421 [::1]
421 10.77.2.2
EOF

# The explicit proxy: the CONNECT target is read the same way (its root's
# dot and case are the SNI's name), and the Host inside must name its port.
cx() { probe --connect "$1" --proxy "$LAB_GL4:$LAB_CONNECT_PORT" --h1 "GET /echo/65-c HTTP/1.1\r\nHost: $2\r\nConnection: close\r\n\r\n"; }
assert_eq 200 "$(cx api.test:443 api.test)" "CONNECT api.test:443, Host api.test"
assert_eq 200 "$(cx API.Test.:443 api.test:443)" "CONNECT API.Test.:443 (SNI api.test), Host api.test:443"
assert_eq 421 "$(cx api.test:443 api.test:444)" "CONNECT api.test:443, Host api.test:444"
assert_eq 400 "$(cx api.test:443 'api.test:')" "CONNECT api.test:443, Host 'api.test:'"
assert_eq 2 "$(lab_uhits /echo/65-c)" "requests forwarded through CONNECT"
assert_eq "api.test" "$(lab_uhdr /echo/65-c 2 Host)" "Host at the upstream through CONNECT API.Test."

assert_eq "$((2 * n + 4))" "$(lab_audit_wait $((2 * n + 4)))" "audit rows"
assert_eq "$((sent + 2))" "$(lab_audit_sql "SELECT count(*) FROM requests WHERE status = 200")" \
	"audited 200s"
lab_stop_sluice
