#!/bin/bash
# sluice-rules push to two gateways while a client drives traffic through
# both: both take the new rules within 2 s (a rule that turns a path from
# allowed to denied), and no request sees anything but that allow or deny
# (no 5xx, no connection error, no reload of a half-written database).
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up

GW1=$LAB_DIR/rules.db GW2=$LAB_DIR/gw2/rules.db
mkdir -p "$LAB_DIR/gw2"
lab_master_sql "INSERT INTO rules (id, host, action) VALUES (1, 'api.test', 'allow')" ||
	fail "writing the master"
lab_sluice_rules push "$LAB_DIR/master.db" "$GW1" "$GW2" >/dev/null ||
	fail "the first push"
lab_start_fleet --default-policy deny

OUT=$LAB_DIR/drive.txt
lab_fleet_drive 6 "$OUT" /echo/flip
sleep 2
lab_master_sql "INSERT INTO rules (id, priority, host, path, action)
	VALUES (2, 10, 'api.test', '/echo/flip', 'deny')" || fail "adding the deny to the master"
t0=$(date +%s%3N)
out=$(lab_sluice_rules push "$LAB_DIR/master.db" "$GW1" "$GW2" 2>&1) ||
	fail "push under traffic: $out"
t1=$(date +%s%3N)
lab_drive_wait "$OUT"

# Only the two expected answers, and enough of them to mean something.
codes=$(awk '{ print $3 }' "$OUT" | lab_codes | tr '\n' ' ')
bad=$(awk '$3 != 200 && $3 != 403' "$OUT" | head -3)
[ -z "$bad" ] || fail "requests that were neither allowed nor denied: $bad (all: $codes)"
for gw in 1 2; do
	n=$(awk -v g=$gw '$2 == g' "$OUT" | wc -l)
	[ "$n" -ge 20 ] || fail "only $n requests through gateway $gw"
	# Allowed until the push began; denied from 2 s after it ended.
	early=$(awk -v g=$gw -v t=$t0 '$2 == g && $1 < t && $3 != 200' "$OUT" | head -1)
	[ -z "$early" ] || fail "gateway $gw denied before the push: $early"
	late=$(awk -v g=$gw -v t=$((t1 + 2000)) '$2 == g && $1 >= t && $3 != 403' "$OUT" | head -1)
	[ -z "$late" ] || fail "gateway $gw still allowed 2 s after the push: $late"
	[ "$(awk -v g=$gw -v t=$((t1 + 2000)) '$2 == g && $1 >= t' "$OUT" | wc -l)" -ge 5 ] ||
		fail "too few requests through gateway $gw after the switch"
	first=$(awk -v g=$gw '$2 == g && $3 == 403 { print $1; exit }' "$OUT")
	lab_log "gateway $gw: first deny $((first - t0)) ms after the push began (push took $((t1 - t0)) ms)"
done
for log in "$LAB_DIR/sluice.log" "$LAB_DIR/gw2/sluice.log"; do
	assert_not_contains "$(cat "$log")" "reload failed" "$log"
done
