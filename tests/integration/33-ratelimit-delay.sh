#!/bin/bash
# Rate limit, delay mode (2 per second, burst 1, max_delay_ms 3000): five
# requests at once are not refused but held and let through one token at a
# time, about 0.5 s apart; while they wait, the worker keeps serving other
# requests.  Of twelve at once, those whose token would be due more than
# 3 s away get 429 straight away.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_rules_sql "
	INSERT INTO rules (id, host, path, action) VALUES (1, 'api.test', '/echo/*', 'allow');
	INSERT INTO rules (id, host, action) VALUES (2, 'api.test', 'allow');
	INSERT INTO rate_limits (rule_id, requests, per_seconds, burst, on_limit, max_delay_ms)
		VALUES (1, 2, 1, 1, 'delay', 3000);" || fail "inserting the rules"
# One worker: a held request must not stall its event loop.
lab_start_sluice --default-policy deny --workers 1

# --- five at once: all 200, spread over ~2 s --------------------------------
lab_burst 5 https://api.test/echo/d >"$LAB_DIR/burst5" &
bpid=$!
sleep 1
t=$(lab_curl -o /dev/null -w '%{http_code} %{time_total}' https://api.test/status/200) ||
	fail "curl while requests are held failed"
wait "$bpid" || fail "lab_burst failed"
read -r code secs <<<"$t"
assert_eq 200 "$code" "status of a request to an unlimited rule while others are held"
awk -v s="$secs" 'BEGIN { exit !(s < 1.0) }' ||
	fail "a request to an unlimited rule took ${secs} s while others were held (the worker blocked?)"

cat "$LAB_DIR/burst5" >&2
assert_eq "200 5" "$(lab_codes <"$LAB_DIR/burst5")" "statuses of 5 requests at once (delay mode, max 3 s)"
# done times, sorted
read -r d0 d1 d2 d3 d4 <<<"$(awk '{ print $3 }' "$LAB_DIR/burst5" | sort -n | paste -sd' ')"
[ "$d1" -ge 400 ] || fail "two of five requests were answered within 400 ms (burst 1): done at $d0 $d1 $d2 $d3 $d4 ms"
[ $((d4 - d0)) -ge 1500 ] ||
	fail "the last of 5 was answered $((d4 - d0)) ms after the first; 4 tokens at 2/s take 2000 ms"
[ "$d4" -le 4000 ] || fail "the last of 5 was answered after $d4 ms; its token was due at about 2000 ms"
[ $((d2 - d0)) -ge 600 ] && [ $((d3 - d0)) -ge 1100 ] ||
	fail "not spread about 500 ms apart: done at $d0 $d1 $d2 $d3 $d4 ms"

# --- twelve at once: those due within 3 s pass, the rest 429 at once ------
sleep 1	# the bucket (burst 1) is full again
lab_burst 12 https://api.test/echo/e >"$LAB_DIR/burst12" || fail "lab_burst failed"
cat "$LAB_DIR/burst12" >&2
codes=$(lab_codes <"$LAB_DIR/burst12")
ok=$(printf '%s\n' "$codes" | awk '$1 == 200 { print $2 }')
limited=$(printf '%s\n' "$codes" | awk '$1 == 429 { print $2 }')
assert_eq 12 "$((${ok:-0} + ${limited:-0}))" "answers of 12 at once that were 200 or 429 (got: $(echo $codes))"
# Token k (k = 0, 1, ...) is due at k * 500 ms: k = 0..6 are within 3000 ms
# (6 is on the bound), a little more if the requests reached sluice spread out.
[ "${ok:-0}" -ge 6 ] && [ "${ok:-0}" -le 8 ] ||
	fail "${ok:-0} of 12 at once passed; tokens due within 3000 ms at 2/s, burst 1: 6 or 7"
late=$(awk '$1 == 429 && $3 > 1000' "$LAB_DIR/burst12" | wc -l)
assert_eq 0 "$late" "429 answers that took over 1 s (a refused request is not held)"
last=$(awk '$1 == 200 { print $3 }' "$LAB_DIR/burst12" | sort -n | tail -n 1)
[ "$last" -ge 2000 ] && [ "$last" -le 5000 ] ||
	fail "the last 200 of 12 came after $last ms; tokens 5 or 6 are due at 2500-3000 ms"

assert_eq "$((5 + ok))" "$(lab_upstream_hits /echo/)" "requests that reached the upstream"
n=$((5 + 1 + 12))
assert_eq "$n" "$(lab_audit_wait "$n")" "audit rows"
assert_eq "1|forwarded|200|$((5 + ok))
1|rate_limited|429|$limited
2|forwarded|200|1" \
	"$(lab_audit_sql 'SELECT rule_id, decision, status, count(*) FROM requests
		GROUP BY rule_id, decision, status ORDER BY rule_id, decision')" \
	"audit rows per (rule|decision|status|count)"
lab_stop_sluice
