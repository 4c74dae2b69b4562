#!/bin/bash
# An upstream whose certificate does not verify is one log line,
# "level=warn event=upstream_verify_failed host=... err=...", with the
# client and the upstream's address, and err the reason the audit's
# verify_result gives; with --log-format json the same event is one object
# with the same keys.  Every line of the log parses as logfmt.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_sluice --default-policy allow

code=$(lab_curl -o /dev/null -w '%{http_code}' https://untrusted.test/echo) || fail "curl failed"
assert_eq 502 "$code" "status for an upstream that does not verify"
lab_log_wait '^level=warn event=upstream_verify_failed ' >/dev/null ||
	fail "no upstream_verify_failed line in the log"
lab_stop_sluice
verify=$(lab_audit_sql "SELECT verify_result FROM connections WHERE sni = 'untrusted.test'")
[ -n "$verify" ] && [ "$verify" != ok ] || fail "verify_result '$verify' in the audit"

events=$(lab_log_events) || exit 1
ev=$(printf '%s\n' "$events" | grep '"event": "upstream_verify_failed"')
assert_eq 1 "$(printf '%s\n' "$ev" | grep -c .)" "upstream_verify_failed lines"
assert_eq "warn|untrusted.test|$verify|$LAB_UX4:443" \
	"$(lab_json "$ev" 'd["level"] + "|" + d["host"] + "|" + d["err"] + "|" + d["upstream"]')" \
	"level, host, err and upstream of the event"
[[ $(lab_json "$ev" 'd["client"]') =~ ^10\.77\.1\.2:[0-9]+$ ]] || fail "client of the event: $ev"
assert_contains "$events" '"event": "ready"' "events in the log"

# The same in JSON.
: >"$LAB_DIR/sluice.log"
lab_start_sluice --default-policy allow --log-format json
lab_curl -o /dev/null https://untrusted.test/echo || fail "curl failed (json)"
lab_log_wait '"event":"upstream_verify_failed"' >/dev/null ||
	fail "no upstream_verify_failed object in the JSON log"
lab_stop_sluice
line=$(grep '"event":"upstream_verify_failed"' "$LAB_DIR/sluice.log")
assert_eq "warn|untrusted.test|$verify|$LAB_UX4:443" \
	"$(lab_json "$line" 'd["level"] + "|" + d["host"] + "|" + d["err"] + "|" + d["upstream"]')" \
	"level, host, err and upstream of the JSON event"
