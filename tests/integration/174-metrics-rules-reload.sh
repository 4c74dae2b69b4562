#!/bin/bash
# Rules reloads in /metrics: a committed change is one reload (and a new
# generation, with the new number of rules); SIGHUP is one more; a rules.db
# the loader rejects (a schema version newer than this sluice knows) is one
# failed reload that keeps the rules loaded, and is counted once however
# many polls retry it; once the file is good again it loads.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_rules_sql "INSERT INTO rules (id, host, action) VALUES (1, 'api.test', 'allow')" ||
	fail "inserting rule 1"
ADMIN=127.0.0.1:9174
lab_start_sluice --default-policy deny --admin "$ADMIN"

lab_metrics_mark "$ADMIN"
assert_eq 0 "$(lab_metric sluice_rules_reloads_total)" "reloads at start-up"
assert_eq 0 "$(lab_metric sluice_rules_reload_failures_total)" "failed reloads at start-up"
assert_eq 1 "$(lab_metric sluice_rules_loaded)" "rules loaded at start-up"

lab_rules_sql "INSERT INTO rules (id, host, action) VALUES (2, 'other.test', 'allow')" ||
	fail "inserting rule 2"
reloaded() { lab_metrics "$ADMIN"; [ "$(lab_metric_delta sluice_rules_reloads_total)" = "$1" ]; }
lab_poll 4000 reloaded 1 >/dev/null || fail "reloads after a commit: $(lab_metric_delta sluice_rules_reloads_total), not 1"
assert_eq 2 "$(lab_metric sluice_rules_loaded)" "rules loaded after the commit"
assert_eq 1 "$(lab_metric_delta sluice_rules_generation)" "generations after the commit"

kill -HUP "$LAB_SLUICE_PID"
lab_poll 4000 reloaded 2 >/dev/null || fail "reloads after SIGHUP: $(lab_metric_delta sluice_rules_reloads_total), not 2"

# A newer schema version: the loader refuses the file and keeps rule 1 and 2.
v=$(lab_rules_sql "PRAGMA user_version") || fail "reading user_version"
lab_rules_sql "PRAGMA user_version = 999" || fail "setting user_version"
failed() { lab_metrics "$ADMIN"; [ "$(lab_metric_delta sluice_rules_reload_failures_total)" = 1 ]; }
lab_poll 4000 failed >/dev/null ||
	fail "failed reloads after a bad file: $(lab_metric_delta sluice_rules_reload_failures_total), not 1"
lab_log_wait 'event=rules_reload_failed' >/dev/null || fail "no line about the failed reload in the log"
sleep 2.5	# the loader retries each second
lab_metrics "$ADMIN"
assert_eq 1 "$(lab_metric_delta sluice_rules_reload_failures_total)" "failed reloads after more polls"
assert_eq 2 "$(lab_metric_delta sluice_rules_reloads_total)" "reloads while the file is refused"
assert_eq 2 "$(lab_metric sluice_rules_loaded)" "rules loaded while the file is refused"
assert_eq 200 "$(lab_curl -o /dev/null -w '%{http_code}' https://other.test/echo)" \
	"status under rule 2 while the file is refused"

lab_rules_sql "PRAGMA user_version = $v" || fail "restoring user_version"
lab_poll 4000 reloaded 3 >/dev/null || fail "reloads once the file is good: $(lab_metric_delta sluice_rules_reloads_total), not 3"
assert_eq 1 "$(lab_metric_delta sluice_rules_reload_failures_total)" "failed reloads at the end"
lab_stop_sluice
