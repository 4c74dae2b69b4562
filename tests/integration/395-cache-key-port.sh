#!/bin/bash
# The cache keys on the origin, port included: a rule for any port of
# api.test caches what api.test:4443 answered, and a request for the same
# target on api.test:443 never gets it (another origin, another server);
# each port's answer is served again to its own port.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_rawup
lab_rules_sql "
	INSERT INTO rules (id, host, path, action) VALUES (1, 'api.test', '/cache/*', 'allow');
	INSERT INTO cache_policies (rule_id, ttl_seconds) VALUES (1, 60);" || fail "inserting the rule"
lab_start_sluice --default-policy deny

# via PORT: GET /cache/395 through CONNECT api.test:PORT; prints the
# Cache-Status and who answered (rawup's body has "n", upstream.py's "method").
via() {
	lab_in_c "$LAB_PY" "$LAB_SRCDIR/tests/lab/reqprobe.py" --ca "$LAB_DIR/ica/ca.crt" \
		--connect "api.test:$1" --proxy "$LAB_GL4:$LAB_CONNECT_PORT" \
		--h1 'GET /cache/395 HTTP/1.1\r\nHost: api.test:'"$1"'\r\nConnection: close\r\n\r\n' |
		"$LAB_PY" -c '
import json, sys
d = json.loads(sys.stdin.read())
cs = dict(d["headers"]).get("cache-status", "-")
print(d["status"], cs, "upstream.py" if "method" in json.loads(d["body"]) else "rawup")'
}
assert_eq "200 sluice; fwd=miss rawup" "$(via 4443)" "first request to port 4443"
assert_eq "200 sluice; fwd=miss upstream.py" "$(via 443)" "first request to port 443"
assert_eq "200 sluice; hit rawup" "$(via 4443)" "second request to port 4443"
assert_eq "200 sluice; hit upstream.py" "$(via 443)" "second request to port 443"
lab_stop_sluice
