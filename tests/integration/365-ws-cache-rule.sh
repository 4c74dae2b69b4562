#!/bin/bash
# A WebSocket under a rule with a cache policy never goes through the
# cache: while one WebSocket on /ws is open, another on the same path, over
# HTTP/1.1 or as an HTTP/2 extended CONNECT, opens at once (it does not
# wait, as a collapsed miss would, for the first one's "response", which
# ends only when that WebSocket does), and the cache counts no miss, no
# hit and stores nothing.
. "$(dirname "$0")/../lab/lab.sh"
ADMIN=127.0.0.1:9365
lab_wsecho_rules_up "
	INSERT INTO rules (id, host, path, action) VALUES (1, 'api.test', '/ws*', 'allow');
	INSERT INTO cache_policies (rule_id, ttl_seconds) VALUES (1, 60);" --admin "$ADMIN"
lab_require_h2

lab_metrics_mark "$ADMIN"
lab_ws --hold 4 first >"$LAB_DIR/first.out" &
pid=$!
lab_poll 10000 grep -q '"request"' "$LAB_WSLOG" >/dev/null || fail "the origin got no handshake"
for v in h1 h2; do
	flag=
	[ $v = h2 ] && flag=--h2
	start=$(date +%s%N)
	out=$(lab_ws $flag "$v")
	ms=$((($(date +%s%N) - start) / 1000000))
	assert_eq "[\"$v\"]" "$(lab_json "$out" 'json.dumps(d["echoes"])')" "echo of the $v WebSocket"
	[ "$ms" -lt 2000 ] || fail "the $v WebSocket took $ms ms while the first was open"
done
wait $pid || fail "the first WebSocket failed"
assert_eq '["first"]' "$(lab_json "$(cat "$LAB_DIR/first.out")" 'json.dumps(d["echoes"])')" \
	"echo of the first WebSocket"
lab_metrics "$ADMIN"
assert_eq "0 0 0" "$(lab_metric_delta sluice_cache_misses_total) $(lab_metric_delta sluice_cache_hits_total) $(lab_metric sluice_cache_entries)" \
	"cache misses, hits and entries"
assert_eq 3 "$(lab_audit_wait 3)" "audit rows"
lab_stop_sluice
