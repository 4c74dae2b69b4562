#!/bin/bash
# A master whose schema version this build does not know (a newer sluice
# made it) is refused by sluice-rules push, and so is such a file handed
# to install directly: the gateways keep serving the rules they had.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up

GW1=$LAB_DIR/rules.db GW2=$LAB_DIR/gw2/rules.db
mkdir -p "$LAB_DIR/gw2"
lab_master_sql "INSERT INTO rules (id, host, action) VALUES (1, 'api.test', 'allow')" ||
	fail "writing the master"
lab_sluice_rules push "$LAB_DIR/master.db" "$GW1" "$GW2" >/dev/null || fail "the first push"
lab_start_fleet --default-policy deny
before=$(lab_sluice_rules status "$GW1" "$GW2") || fail "status before"

lab_master_sql "INSERT INTO rules (id, priority, host, action) VALUES (2, 10, 'api.test', 'deny');
	PRAGMA user_version = 99" || fail "making the master version 99"

out=$(lab_sluice_rules push "$LAB_DIR/master.db" "$GW1" "$GW2" 2>&1) &&
	fail "push accepted a version 99 master: $out"
assert_eq 1 "$(printf '%s\n' "$out" | wc -l)" "lines of push's error ($out)"
assert_contains "$out" "schema version 99" "push's error"

# The gateway's own check, for a file that did not come from snapshot.
cp "$LAB_DIR/master.db" "$LAB_DIR/v99.db"
out=$(lab_sluice_rules install - "$GW2" <"$LAB_DIR/v99.db" 2>&1) &&
	fail "install accepted a version 99 database: $out"
assert_contains "$out" "schema version 99" "install's error"

sleep 1.5	# longer than sluice's reload poll
for port in "$LAB_CONNECT_PORT" "$LAB_CONNECT_PORT2"; do
	assert_eq 200 "$(lab_curl --proxy "http://$LAB_GL4:$port" -o /dev/null \
		-w '%{http_code}' https://api.test/echo)" "status through the gateway on port $port"
done
assert_eq "$before" "$(lab_sluice_rules status "$GW1" "$GW2")" "the gateways' rules after the refused push"
