#!/bin/bash
# A first dial that does not settle does not hold the requests waiting for
# it: against an upstream that accepts TCP but never answers the TLS
# handshake, five concurrent streams of one nghttp client each get 504
# after --upstream-timeout (2 s), not later (the wait for the first dial,
# at most 1 s, is part of it), and the upstream saw five connections (the
# waiters gave up on the first dial and dialed on their own).
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
command -v nghttp >/dev/null || fail "no nghttp (Debian's nghttp2-client)"
lab_up
lab_start_rawtcp --send 0
lab_start_sluice --default-policy allow --workers 1 --upstream-timeout 2 \
	--resolve "pinned.test:443:$LAB_U4:4443"

lab_in_c nghttp -n -s -m 5 https://pinned.test/hello >"$LAB_DIR/nghttp.out" 2>&1 ||
	fail "nghttp failed: $(tail -n 5 "$LAB_DIR/nghttp.out")"
assert_eq 5 "$(grep -c ' 504 ' "$LAB_DIR/nghttp.out")" "streams answered 504"
assert_eq 5 "$(lab_audit_wait 5 "status = 504")" "audit rows of the 504s"
# sluice's own clock: a wait that outlived the timeout would take 3 s
assert_eq 5 "$(lab_audit_sql "SELECT count(*) FROM requests WHERE status = 504 AND
	duration_ms BETWEEN 1900 AND 2700")" "504s after about 2000 ms (duration_ms)"
conns() { [ "$(wc -l <"$LAB_RAWTCP_LOG")" -ge 5 ]; }
lab_poll 5000 conns >/dev/null || fail "the upstream saw $(wc -l <"$LAB_RAWTCP_LOG") connections"
assert_eq 5 "$(wc -l <"$LAB_RAWTCP_LOG")" "connections the upstream saw"
lab_stop_sluice
