#!/bin/bash
# The upstream's SETTINGS_MAX_CONCURRENT_STREAMS holds (nghttpd -m 2): six
# slow downloads at once, more than one connection may carry, are all
# answered whole, over at least three upstream connections.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_nghttpd 50062 -m 2
head -c 2000000 /dev/urandom >"$LAB_DIR/h2docs/blob"
printf 'hello h2\n' >"$LAB_DIR/h2docs/hello"
lab_start_sluice --default-policy allow --workers 1 \
	--resolve "pinned.test:443:$LAB_U4:50062"

assert_eq 200 "$(lab_curl -o /dev/null -w '%{http_code}' https://pinned.test/hello)" "first request"
pids=()
for i in $(seq 1 6); do
	lab_curl --limit-rate 500k -o /dev/null -w '%{http_code} %{size_download}\n' \
		"https://pinned.test/blob?c=$i" >"$LAB_DIR/curl.$i" 2>&1 &
	pids+=($!)
done
wait "${pids[@]}"
assert_eq 6 "$(cat "$LAB_DIR"/curl.* | grep -c '^200 2000000$')" "downloads answered whole"
n=$(lab_nghttpd_conns)
[ "$n" -ge 3 ] || fail "nghttpd accepted $n connections for 6 streams at once with a limit of 2"
lab_stop_sluice
