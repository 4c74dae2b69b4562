#!/bin/bash
# TLS in /metrics, by leg and reason: two requests to api.test, one client
# after the other, are two client handshakes, one forged certificate (a
# miss, then a hit) and one upstream handshake (the second client takes the
# first one's upstream connection from the pool, where it stays open); while
# a request is in flight one connection is open on each leg; a client that does not trust the interception CA fails its
# handshake (protocol), one offering only h2 fails on ALPN; an upstream
# whose certificate does not verify fails the upstream leg (verify) and is a
# 502 counted as an error and a 5xx.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up

ADMIN=127.0.0.1:9171
lab_start_sluice --default-policy allow --admin "$ADMIN" --workers 1

fails() { printf 'sluice_tls_handshake_failures_total{leg="%s",reason="%s"}' "$1" "$2"; }

lab_metrics_mark "$ADMIN"
assert_eq 0 "$(lab_metric sluice_cert_cache_entries)" "certificates cached before any request"
for i in 1 2; do
	c=$(lab_curl -o /dev/null -w '%{http_code}' https://api.test/echo) || fail "curl $i failed"
	assert_eq 200 "$c" "status of request $i"
done
lab_metrics "$ADMIN"
assert_eq 2 "$(lab_metric_delta 'sluice_tls_handshakes_total{leg="client"}')" "client handshakes"
assert_eq 1 "$(lab_metric_delta 'sluice_tls_handshakes_total{leg="upstream"}')" "upstream handshakes"
assert_eq 1 "$(lab_metric_delta sluice_cert_cache_misses_total)" "certificate cache misses"
assert_eq 1 "$(lab_metric_delta sluice_cert_cache_hits_total)" "certificate cache hits"
assert_eq 1 "$(lab_metric sluice_cert_cache_entries)" "certificates cached"
assert_eq 1 "$(lab_metric sluice_upstream_connections_active)" "upstream connections open (pooled) after the requests"

# A slow request in flight holds one connection on each leg.
lab_curl -o /dev/null https://api.test/slow/2 &
slow=$!
open_1() {
	lab_metrics "$ADMIN"
	[ "$(lab_metric sluice_upstream_connections_active)" = 1 ] &&
		[ "$(lab_metric sluice_connections_active)" = 1 ]
}
lab_poll 2000 open_1 >/dev/null || fail "with a request in flight: $(lab_metric sluice_connections_active) \
client and $(lab_metric sluice_upstream_connections_active) upstream connections, not 1 and 1"
wait "$slow" || fail "the slow request failed"
closed_0() {
	lab_metrics "$ADMIN"
	[ "$(lab_metric sluice_upstream_connections_active)" = 1 ] &&
		[ "$(lab_metric sluice_connections_active)" = 0 ]
}
lab_poll 2000 closed_0 >/dev/null || fail "after the slow request: $(lab_metric sluice_connections_active) \
client and $(lab_metric sluice_upstream_connections_active) upstream connections, not 0 and 1 (pooled)"

# A client that does not trust the interception CA aborts with an alert.
lab_metrics_mark "$ADMIN"
lab_in_c curl -sS -4 --max-time 10 -o /dev/null https://api.test/echo 2>/dev/null &&
	fail "curl trusted the interception CA without --cacert"
out=$(printf '' | lab_in_c timeout 10 openssl s_client -4 -connect api.test:443 \
	-servername api.test -CAfile "$LAB_DIR/ica/ca.crt" -alpn spdy/3.1 2>&1)
assert_contains "$out" "no application protocol" "s_client's output for -alpn spdy/3.1"
failed() { lab_metrics "$ADMIN"; [ "$(lab_metric_delta "$(fails client alpn)")" = 1 ]; }
lab_poll 3000 failed >/dev/null || fail "client ALPN failures: $(lab_metric_delta "$(fails client alpn)"), not 1"
assert_eq 1 "$(lab_metric_delta "$(fails client protocol)")" "client handshakes failed with an alert"
assert_eq 0 "$(lab_metric_delta "$(fails client verify)")" "client handshakes failed on verification"
assert_eq 0 "$(lab_metric_delta 'sluice_tls_handshakes_total{leg="client"}')" "client handshakes completed"
assert_eq 0 "$(lab_metric_delta "$(fails upstream verify)")" "upstream verification failures (none yet)"

# An upstream whose certificate does not verify.
lab_metrics_mark "$ADMIN"
c=$(lab_curl -o /dev/null -w '%{http_code}' https://untrusted.test/echo) || fail "curl failed (untrusted)"
assert_eq 502 "$c" "status for an upstream that does not verify"
lab_metrics "$ADMIN"
assert_eq 1 "$(lab_metric_delta "$(fails upstream verify)")" "upstream verification failures"
assert_eq 0 "$(lab_metric_delta "$(fails upstream protocol)")" "upstream protocol failures"
assert_eq 0 "$(lab_metric_delta 'sluice_tls_handshakes_total{leg="upstream"}')" "upstream handshakes completed"
assert_eq 1 "$(lab_metric_delta 'sluice_tls_handshakes_total{leg="client"}')" "client handshakes"
assert_eq 1 "$(lab_metric_delta 'sluice_requests_total{decision="error"}')" "requests that ended in an error"
assert_eq 1 "$(lab_metric_delta 'sluice_responses_total{class="5xx"}')" "5xx responses"
assert_eq 0 "$(lab_metric_delta sluice_upstream_latency_seconds_count)" "latency observations (no response head)"
assert_eq 1 "$(lab_metric sluice_upstream_connections_active)" "upstream connections open (the failed one closed, api.test's pooled)"
lab_stop_sluice
