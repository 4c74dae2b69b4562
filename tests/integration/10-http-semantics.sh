#!/bin/bash
# HTTP details a client relies on through the proxy: Alt-Svc is stripped
# (it would steer clients to QUIC, around the proxy), HEAD/204/304 responses
# have no body and leave the connection usable, Expect: 100-continue works.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_sluice --default-policy allow

lab_curl -D "$LAB_DIR/head" -o /dev/null \
	'https://api.test/headers?Alt-Svc=h3%3D%22%3A443%22&X-Kept=yes' || fail "curl failed"
head=$(tr -d '\r' < "$LAB_DIR/head")
assert_contains "$head" "X-Kept: yes" "response headers"
shopt -s nocasematch
[[ $head == *alt-svc* ]] && fail "Alt-Svc reached the client: $head"
shopt -u nocasematch

# Each bodiless response is followed by a GET on the same connection.
ica=$LAB_DIR/ica/ca.crt
for first in "-I https://api.test/bytes/1000" "https://api.test/status/204" \
	"https://api.test/status/304"; do
	out=$(lab_in_c curl -sS -4 --max-time 10 --cacert "$ica" -o /dev/null \
		-w '%{http_code} %{size_download} %{num_connects}\n' $first \
		--next -sS -4 --max-time 10 --cacert "$ica" -w '%{http_code} %{num_connects}\n' \
		-o "$LAB_DIR/body" https://api.test/echo) || fail "curl $first, then GET failed"
	read -r c1 size1 _ c2 n2 <<<"$(echo $out)"
	case $first in
	-I*) assert_eq 200 "$c1" "status of HEAD" ;;
	*) assert_eq "${first##*/}" "$c1" "status of $first" ;;
	esac
	assert_eq 0 "$size1" "body bytes after $first"
	assert_eq 200 "$c2" "status of the GET after $first"
	assert_eq 0 "$n2" "new connections for the GET after $first"
	assert_eq /echo "$(lab_json "$(cat "$LAB_DIR/body")" 'd["path"]')" "path after $first"
done
len=$(lab_curl -I https://api.test/bytes/1000 | tr -d '\r' | awk -F': ' 'tolower($1) == "content-length" { print $2 }')
assert_eq 1000 "$len" "Content-Length of the HEAD response"

# curl waits up to --expect100-timeout for "100 Continue" before sending.
lab_gen 2000000 expect > "$LAB_DIR/req"
want=$(sha256sum < "$LAB_DIR/req" | cut -d' ' -f1)
start=$(date +%s%N)
body=$(lab_curl -H 'Expect: 100-continue' --expect100-timeout 10 \
	--data-binary @"$LAB_DIR/req" https://api.test/echo) || fail "POST with Expect failed"
ms=$((($(date +%s%N) - start) / 1000000))
assert_eq "$want" "$(lab_json "$body" 'd["body_sha256"]')" "sha256 of the body sent after 100 Continue"
[ "$ms" -lt 5000 ] || fail "the Expect: 100-continue POST took ${ms} ms: no 100 Continue came back"

lab_stop_sluice
