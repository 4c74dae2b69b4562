#!/bin/bash
# The h2 upstream dies (killed) while a stream is open on its shared
# connection: that download is cut, not passed off as whole, and audited
# as an error; another client on another upstream at the same time is
# unaffected, and the next request to the restarted upstream gets a new
# connection and 200.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_nghttpd 50063
head -c 30000000 /dev/urandom >"$LAB_DIR/h2docs/blob"
printf 'hello h2\n' >"$LAB_DIR/h2docs/hello"
lab_start_sluice --default-policy allow --workers 1 \
	--resolve "pinned.test:443:$LAB_U4:50063"

lab_curl --limit-rate 200k -o /dev/null -w '%{http_code} %{size_download}\n' \
	https://pinned.test/blob >"$LAB_DIR/cut.out" 2>&1 &
cut=$!
lab_curl --limit-rate 200k -o /dev/null -w '%{http_code} %{size_download}\n' \
	"https://api.test/chunked/1000000?seed=other" >"$LAB_DIR/other.out" 2>&1 &
other=$!
sleep 2
kill "$LAB_NGHTTPD_PID"
wait "$cut" && fail "the cut download exited 0: $(cat "$LAB_DIR/cut.out")"
wait "$other" || fail "the other client failed: $(cat "$LAB_DIR/other.out")"
assert_eq "200 1000000" "$(cat "$LAB_DIR/other.out")" "the other upstream's client"
grep -q "^200 30000000$" "$LAB_DIR/cut.out" && fail "the cut download looks whole"
assert_eq 1 "$(lab_audit_wait 1 "host = 'pinned.test' AND decision = 'error'")" \
	"the cut download audited as an error"

lab_start_nghttpd 50063
assert_eq 200 "$(lab_curl -o /dev/null -w '%{http_code}' https://pinned.test/hello)" \
	"a request to the restarted upstream"
lab_stop_sluice
