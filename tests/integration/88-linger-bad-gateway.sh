#!/bin/bash
# A 502 that sluice gives while an 8 MiB request body is still arriving (the
# upstream refuses the connection) reaches the client, for curl without
# Expect: 100-continue and for Python's http.client.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_sluice --default-policy allow --resolve "api.test:443:$LAB_U4:9"
head -c $((8 << 20)) /dev/urandom >"$LAB_DIR/big"

for i in 1 2 3; do
	out=$(lab_curl -H 'Expect:' -T "$LAB_DIR/big" -o /dev/null -w '%{http_code}' \
		"https://api.test/echo?try=$i" 2>&1)
	assert_eq 502 "$out" "curl's status for an 8 MiB PUT to a refusing upstream (try $i)"
	out=$(lab_py_post "/echo?py=$i" "$LAB_DIR/big")
	assert_contains "$out" "502 " "http.client's answer to an 8 MiB POST to a refusing upstream (try $i)"
done
assert_eq 6 "$(lab_audit_wait 6)" "audit rows"
lab_stop_sluice
