#!/bin/bash
# A client cannot forge a log line or a pair: a CONNECT whose authority
# holds quotes and "level=warn event=forged" (refused as malformed), a Host
# header and a path with "event=", '"' and an encoded newline in them, at
# --log-level debug (where failed requests are logged too), leave a log in
# which every line parses as logfmt, the CONNECT is one bad_connect event,
# and no line is the forged event.  The same traffic with --log-format json
# leaves one JSON object per line.  (The quoting itself, for values that do
# reach a line, is in tests/unit/test_log.c.)
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_rules_sql "INSERT INTO rules (id, host, action) VALUES (1, 'api.test', 'allow')" ||
	fail "inserting the rules"

evil='x"level=warn"event=forged'
# connect_raw AUTHORITY: a CONNECT for AUTHORITY to the --connect listener;
# prints the status sluice answered.
connect_raw() {
	lab_in_c "$LAB_PY" - "$LAB_GL4" "$LAB_CONNECT_PORT" "$1" <<'PY'
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
s.sendall(b"CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (sys.argv[3].encode(), sys.argv[3].encode()))
data = b""
while b"\r\n" not in data:
    b = s.recv(4096)
    if not b:
        break
    data += b
print(data.split(b" ")[1].decode() if data.startswith(b"HTTP/1.1 ") else "none")
PY
}

traffic() {
	assert_eq 400 "$(connect_raw "$evil:8080")" "status of the CONNECT to '$evil:8080'"
	code=$(lab_curl -o /dev/null -w '%{http_code}' -H 'Host: api.test level=warn event=forged' \
		https://api.test/echo) || fail "curl with a forged Host failed"
	assert_eq 400 "$code" "status of a request whose Host is not a host"
	code=$(lab_curl -o /dev/null -w '%{http_code}' \
		'https://api.test/x%0Alevel=warn%20event=forged/event="forged"') ||
		fail "curl with a forged path failed"
	assert_eq 404 "$code" "status the upstream gave a path with event= in it"
}

lab_start_sluice --default-policy deny --log-level debug
traffic
lab_log_wait 'event=bad_connect' >/dev/null || fail "no bad_connect line"
lab_stop_sluice
events=$(lab_log_events) || exit 1
assert_not_contains "$events" '"event": "forged"' "events in the log"
printf '%s\n' "$events" | "$LAB_PY" -c '
import json, sys
for l in sys.stdin:
    d = json.loads(l)
    if d.get("level") not in ("debug", "info", "warn") or ("event" in d) == ("msg" in d):
        sys.exit("not one event or one message: " + l)' || fail "a line of the log is neither"
bad=$(printf '%s\n' "$events" | grep '"event": "bad_connect"')
assert_eq 1 "$(printf '%s\n' "$bad" | grep -c .)" "bad_connect events"
[[ $(lab_json "$bad" 'd["client"]') =~ ^10\.77\.1\.2:[0-9]+$ ]] || fail "client of bad_connect: $bad"
assert_eq "$(grep -c . <<<"$events")" "$(grep -vc '^+ sluice ' "$LAB_DIR/sluice.log")" \
	"events parsed vs lines written"

: >"$LAB_DIR/sluice.log"
lab_start_sluice --default-policy deny --log-level debug --log-format json
traffic
lab_log_wait '"event":"bad_connect"' >/dev/null || fail "no bad_connect object"
lab_stop_sluice
grep -v '^+ sluice ' "$LAB_DIR/sluice.log" | "$LAB_PY" -c '
import json, sys
for n, line in enumerate(sys.stdin, 1):
    d = json.loads(line)
    if d.get("event") == "forged" or d.get("level") not in ("debug", "info", "warn") \
            or ("event" in d) == ("msg" in d):
        sys.exit("line %d: %r" % (n, line))' || fail "the JSON log has a forged or broken line"
