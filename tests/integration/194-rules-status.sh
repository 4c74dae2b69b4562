#!/bin/bash
# sluice-rules status shows, for each gateway, the id of the snapshot in its
# rules file and, through --admin, the generation sluice has loaded: the
# same id on both once pushed, and a new id and generation after the next
# push.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up

GW1=$LAB_DIR/rules.db GW2=$LAB_DIR/gw2/rules.db
mkdir -p "$LAB_DIR/gw2"
status() {
	lab_sluice_rules status --admin "http://$LAB_ADMIN1" "$GW1" \
		--admin "http://$LAB_ADMIN2" "$GW2"
}

lab_master_sql "INSERT INTO rules (id, host, action) VALUES (1, 'api.test', 'allow')" ||
	fail "writing the master"
a=$(lab_sluice_rules push "$LAB_DIR/master.db" "$GW1" "$GW2" | awk '/^snapshot/ { print $2 }')
[ -n "$a" ] || fail "the first push printed no snapshot id"
lab_start_fleet --default-policy deny

out=$(status) || fail "status: $out"
assert_eq "$GW1 id=$a version=2 rules=1 generation=1
$GW2 id=$a version=2 rules=1 generation=1" "$out" "status before the second push"

lab_master_sql "INSERT INTO rules (id, host, action) VALUES (2, 'other.test', 'allow')" ||
	fail "adding a rule to the master"
b=$(lab_sluice_rules push "$LAB_DIR/master.db" "$GW1" "$GW2" | awk '/^snapshot/ { print $2 }')
[ -n "$b" ] && [ "$b" != "$a" ] || fail "the second push's id: '$b' (first: $a)"
lab_log_wait 'event=rules_loaded rules=2 ' 3 >/dev/null || fail "gateway 1 did not reload"
for ((i = 0; i < 30; i++)); do
	grep -q 'event=rules_loaded rules=2 ' "$LAB_DIR/gw2/sluice.log" && break
	sleep 0.1
done
out=$(status) || fail "status: $out"
assert_eq "$GW1 id=$b version=2 rules=2 generation=2
$GW2 id=$b version=2 rules=2 generation=2" "$out" "status after the second push"

# A gateway that does not answer is one line on stderr; the other still shows.
out=$(lab_sluice_rules status --admin http://127.0.0.1:1 "$GW1" \
	--admin "http://$LAB_ADMIN2" "$GW2" 2>"$LAB_DIR/err") &&
	fail "status succeeded with an admin listener that does not answer"
assert_eq 1 "$(wc -l <"$LAB_DIR/err")" "lines on stderr ($(cat "$LAB_DIR/err"))"
assert_contains "$out" "$GW2 id=$b version=2 rules=2 generation=2" "the other gateway's line"
