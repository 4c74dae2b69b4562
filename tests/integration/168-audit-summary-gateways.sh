#!/bin/bash
# sluice-audit summary over two gateways' databases (--db a --db b) counts
# the traffic of both, each under its gateway's name (the rows' gateway
# column, from --gateway-name), as text and as JSON.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
A=$LAB_DIR/audit.db B=$LAB_DIR/b.db

lab_start_sluice --default-policy allow --gateway-name gw-a
lab_curl -o /dev/null -o /dev/null https://api.test/echo https://api.test/echo || fail "curl failed"
assert_eq 2 "$(lab_audit_wait 2)" "audit rows in a"
lab_stop_sluice
lab_start_sluice --default-policy allow --gateway-name gw-b --audit "$B"
lab_curl -o /dev/null -o /dev/null -o /dev/null https://api.test/echo https://other.test/echo \
	https://other.test/echo || fail "curl failed"
lab_stop_sluice

out=$("$SLUICE_AUDIT_TOOL" --db "$A" --db "$B" summary) || fail "summary failed: $out"
assert_eq "GATEWAY HOST DECISION STATUS COUNT
gw-a api.test forwarded 200 2
gw-b other.test forwarded 200 2
gw-b api.test forwarded 200 1" "$(printf '%s\n' "$out" | tr -s ' ')" "summary of both gateways"

json=$("$SLUICE_AUDIT_TOOL" --db "$A" --db "$B" summary --json) || fail "summary --json failed: $json"
assert_eq "gw-a api.test 2, gw-b api.test 1, gw-b other.test 2" \
	"$(lab_json "$json" '", ".join("%s %s %d" % (r["gateway"], r["host"], r["count"]) for r in sorted(d, key=lambda r: (r["gateway"], r["host"])))')" \
	"summary --json of both gateways"
