#!/bin/bash
# A corrupted master database is refused by sluice-rules push: it exits
# non-zero saying why, installs nothing, and both gateways keep serving the
# rules they had.
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

# A deny that must never arrive, then a page of the master overwritten.
lab_master_sql "INSERT INTO rules (id, priority, host, action) VALUES (2, 10, 'api.test', 'deny')" ||
	fail "adding a deny to the master"
head -c 4096 /dev/urandom | dd of="$LAB_DIR/master.db" bs=4096 seek=1 conv=notrunc status=none ||
	fail "corrupting the master"

out=$(lab_sluice_rules push "$LAB_DIR/master.db" "$GW1" "$GW2" 2>&1) &&
	fail "push accepted a corrupt master: $out"
assert_eq 1 "$(printf '%s\n' "$out" | wc -l)" "lines of push's error ($out)"
assert_contains "$out" "master.db" "push's error names the master"

sleep 1.5	# longer than sluice's reload poll
for port in "$LAB_CONNECT_PORT" "$LAB_CONNECT_PORT2"; do
	assert_eq 200 "$(lab_curl --proxy "http://$LAB_GL4:$port" -o /dev/null \
		-w '%{http_code}' https://api.test/echo)" "status through the gateway on port $port"
done
assert_eq "$before" "$(lab_sluice_rules status "$GW1" "$GW2")" "the gateways' rules after the refused push"
ls "$LAB_DIR" "$LAB_DIR/gw2" | grep -q 'rules\.db\.' && fail "a temporary file was left: $(ls "$LAB_DIR" "$LAB_DIR/gw2")"
true
