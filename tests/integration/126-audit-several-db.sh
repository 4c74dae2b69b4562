#!/bin/bash
# sluice-audit with several --db reads them as one: tail merges the rows by
# time and names each row's gateway (requests.gateway where the file has
# that column, else the file's name), summary adds the counts up, show
# prints the id from each file, and tail follows new rows in every file.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
A=$LAB_DIR/audit.db B=$LAB_DIR/b.db

# Two gateways' files: real traffic into each, then times that interleave
# (a1 b1 a2 b2); b's rows name their gateway, a is made a file from before
# the gateway column.
lab_start_sluice --default-policy allow
lab_curl -o /dev/null -o /dev/null 'https://api.test/echo?a1' 'https://api.test/echo?a2' ||
	fail "curl failed"
assert_eq 2 "$(lab_audit_wait 2)" "audit rows in a"
lab_stop_sluice
lab_start_sluice --default-policy allow --audit "$B" --gateway-name gw-b
lab_curl -o /dev/null -o /dev/null 'https://api.test/echo?b1' 'https://other.test/echo?b2' ||
	fail "curl failed"
lab_stop_sluice
sqlite3 "$A" "UPDATE requests SET ts = '2026-01-01T00:00:0' || (substr(path, -1) * 2 - 1) || '.000Z';
	ALTER TABLE requests DROP COLUMN gateway" &&
sqlite3 "$B" "UPDATE requests SET ts = '2026-01-01T00:00:0' || (substr(path, -1) * 2) || '.000Z'" ||
	fail "preparing the two files"

"$SLUICE_AUDIT_TOOL" --db "$A" --db "$B" tail >"$LAB_DIR/tail.out" 2>&1 &
tail_pid=$!
LAB_PIDS+=("$tail_pid")
lab_poll 2000 grep -q 'b2$' "$LAB_DIR/tail.out" >/dev/null ||
	fail "tail printed no rows: $(cat "$LAB_DIR/tail.out")"
assert_eq "TS GATEWAY CLIENT DECISION STATUS RULE MS METHOD HOST PATH
$A /echo?a1
gw-b /echo?b1
$A /echo?a2
gw-b /echo?b2" "$(awk 'NR == 1 { print; next } { print $2, $NF }' "$LAB_DIR/tail.out" | tr -s ' ')" \
	"tail of both files (gateway path)"

# A row arriving in the second file.
sqlite3 "$B" "INSERT INTO requests (ts, client, server, host, method, path, status, decision, gateway)
	VALUES ('2026-01-01T00:00:09.000Z', '10.77.1.2:1', '10.77.2.2:443', 'api.test', 'GET', '/late', 200,
	'forwarded', 'gw-b')" || fail "inserting a row"
lab_poll 2000 grep -q '/late$' "$LAB_DIR/tail.out" >/dev/null ||
	fail "tail did not follow the second file: $(cat "$LAB_DIR/tail.out")"
kill -TERM "$tail_pid"
wait "$tail_pid"
assert_eq 0 "$?" "tail's exit status after SIGTERM"

json=$("$SLUICE_AUDIT_TOOL" --db "$A" --db "$B" summary --json) || fail "summary failed: $json"
assert_eq "$A api.test 2, gw-b api.test 2, gw-b other.test 1" \
	"$(lab_json "$json" '", ".join("%s %s %d" % (r["gateway"], r["host"], r["count"]) for r in d)')" \
	"summary of both files, by gateway"

# tail --json: one object per line; stopped once it has printed them all.
"$SLUICE_AUDIT_TOOL" --db "$A" --db "$B" --json --host api.test tail >"$LAB_DIR/tail.json" 2>&1 &
tail_pid=$!
LAB_PIDS+=("$tail_pid")
lab_poll 2000 grep -q '/late"' "$LAB_DIR/tail.json" >/dev/null || fail "tail --json: $(cat "$LAB_DIR/tail.json")"
kill -INT "$tail_pid"
wait "$tail_pid"
assert_eq "$A /echo?a1|gw-b /echo?b1|$A /echo?a2|gw-b /late" "$("$LAB_PY" -c '
import json, sys
print("|".join("%s %s" % (d["gateway"], d["path"]) for d in map(json.loads, open(sys.argv[1]))))' \
	"$LAB_DIR/tail.json")" "tail --json --host api.test (gateway path)"

out=$("$SLUICE_AUDIT_TOOL" --db "$A" --db "$B" show 1) || fail "show 1 failed: $out"
assert_eq "$A /echo?a1
gw-b /echo?b1" "$(printf '%s\n' "$out" | awk '$1 == "gateway" { g = $2 } $1 == "path" { print g, $2 }')" \
	"show 1 in both files (gateway path)"
