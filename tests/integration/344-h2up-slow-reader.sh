#!/bin/bash
# A slow reader on one stream of a shared h2 upstream connection does not
# stall another client's stream on it: while one client takes a 4 MB file
# at 100 kB/s, another gets it whole at full speed, over the same single
# upstream connection.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_nghttpd 50064
head -c 4000000 /dev/urandom >"$LAB_DIR/h2docs/blob"
lab_start_sluice --default-policy allow --workers 1 \
	--resolve "pinned.test:443:$LAB_U4:50064"

assert_eq 200 "$(lab_curl -o /dev/null -w '%{http_code}' https://pinned.test/blob?first)" "first request"
lab_curl --limit-rate 100k -o /dev/null -w '%{http_code} %{size_download}\n' \
	"https://pinned.test/blob?slow" >"$LAB_DIR/slow.out" 2>&1 &
slow=$!
sleep 1
out=$(LAB_CURL_TIMEOUT=10 lab_curl -o /dev/null -w '%{http_code} %{size_download}' \
	"https://pinned.test/blob?fast")
assert_eq "200 4000000" "$out" "the fast client, while the slow one reads"
kill -0 "$slow" 2>/dev/null || fail "the slow client ended before the fast one: $(cat "$LAB_DIR/slow.out")"
assert_eq 1 "$(lab_nghttpd_conns)" "connections nghttpd accepted"
kill "$slow" 2>/dev/null
wait "$slow"
lab_stop_sluice
