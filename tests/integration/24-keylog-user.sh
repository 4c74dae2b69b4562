#!/bin/bash
# --keylog writes the TLS secrets of both legs in SSLKEYLOGFILE format to a
# file only its owner can read; --user drops root after binding, and sluice
# keeps serving and auditing as that user.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_sluice --default-policy allow --keylog "$LAB_DIR/keys.log" --user nobody

code=$(lab_curl -o /dev/null -w '%{http_code}' https://api.test/echo) || fail "curl through sluice failed"
assert_eq 200 "$code" "status of a GET while running as nobody"
assert_eq "$(id -u nobody)" "$(awk '/^Uid:/ { print $2 }' "/proc/$LAB_SLUICE_PID/status")" \
	"real uid of the running sluice"
assert_eq 600 "$(stat -c %a "$LAB_DIR/keys.log")" "mode of the keylog file"
n=$(grep -c '^CLIENT_HANDSHAKE_TRAFFIC_SECRET [0-9a-f]\{64\} [0-9a-f]\+$' "$LAB_DIR/keys.log")
[ "$n" -ge 2 ] || fail "keylog holds $n TLS 1.3 handshake secrets, expected one per leg (2 or more)"
assert_eq 1 "$(lab_audit_wait 1)" "audit rows"
lab_stop_sluice
