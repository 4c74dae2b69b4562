#!/bin/bash
# A client that closes between requests leaves its upstream connection to
# the worker's pool for the next client.  The pool holds what a burst
# needed: 100 concurrent h2 streams to an HTTP/1.1 upstream take about 100
# upstream connections, and a second burst of 100 reuses them (no new TLS
# connection reaches the upstream; a pool of 64 closed 36 of them after each
# burst and dialed them again).  --upstream-idle-timeout closes them once
# idle that long: the upstream then holds no connection from sluice.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
command -v nghttp >/dev/null || fail "no nghttp (Debian's nghttp2-client)"
lab_up
lab_start_sluice --default-policy allow --workers 1 --upstream-idle-timeout 3

conns() { grep -c '"event": "conn"' "$LAB_REQLOG"; }
established() {	# TCP connections the upstream holds (sluice's, v4 or v6)
	lab_in_u ss -Htn state established "( sport = :443 )" | wc -l
}
burst() {	# burst N: 100 concurrent streams, each answered after 0.5 s
	lab_in_c nghttp -n -s -m 100 https://api.test/slow/0.5 >"$LAB_DIR/nghttp.$1" 2>&1 ||
		fail "nghttp burst $1 failed: $(tail -n 5 "$LAB_DIR/nghttp.$1")"
	assert_eq 100 "$(grep -c ' 200 ' "$LAB_DIR/nghttp.$1")" "streams answered 200 in burst $1"
}

# Two clients one after the other, each closing without Connection: close:
# the first's upstream connection goes to the pool, the second takes it.
for i in 1 2; do
	assert_eq 200 "$(lab_curl -o /dev/null -w '%{http_code}' https://api.test/echo)" \
		"status of plain client $i"
done
assert_eq 1 "$(conns)" "upstream connections for two clients one after the other"

burst 1
first=$(conns)
[ "$first" -ge 90 ] || fail "100 concurrent streams took only $first upstream connections"
kept=$(established)
assert_eq "$first" "$kept" "upstream connections still open after the first burst"
burst 2
assert_eq "$first" "$(conns)" "upstream connections after the second burst (none new)"
assert_eq 200 "$(lab_audit_wait 200 "path = '/slow/0.5' AND status = 200")" "audit rows"

# Idle for 3 s: every pooled connection is closed (the upstream sees it).
none_open() { [ "$(established)" = 0 ]; }
lab_poll 10000 none_open >/dev/null ||
	fail "$(established) upstream connections still open 10 s after the last request"
lab_stop_sluice
