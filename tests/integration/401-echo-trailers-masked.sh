#!/bin/bash
# Trailers that echo the credential sluice injected reach the client with
# it masked as '***', as a head field would: an HTTP/1.1 upstream's chunked
# trailer and an h2 upstream's trailers, to HTTP/1.1 and h2 clients, and a
# gRPC status whose grpc-message quotes the request's authorization.
. "$(dirname "$0")/../lab/lab.sh"
S=tok-401-trailer-secret
lab_grpc_up "
	INSERT INTO secrets (name, value) VALUES ('t', '$S');
	INSERT INTO rules (id, host, action) VALUES (1, 'api.test', 'allow'), (2, 'other.test', 'allow'),
		(3, 'evil.test', 'allow');
	INSERT INTO injections (rule_id, kind, name, secret) VALUES (1, 'bearer', NULL, 't'),
		(2, 'bearer', NULL, 't'), (3, 'bearer', NULL, 't')" \
	--default-policy deny --resolve "other.test:443:$LAB_U4:4443" --resolve "evil.test:443:$LAB_U4:4445"
LAB_RAWLOG=$LAB_DIR/raw.jsonl	# rawup.py with the certificate for every lab name
lab_start_in_u rawup.py default 4443 "$LAB_RAWLOG"
lab_start_in_u h2cache.py default 4445 "$LAB_DIR/h2cache.jsonl"

# trailer NAME: the X-Seen-Auth trailer (curl writes trailers with the head).
trailer() { lab_hval "$1" X-Seen-Auth; }
for v in --http1.1 --http2; do
	assert_eq 200 "$(lab_get r "$v" -H 'TE: trailers' https://other.test/resp/trailer-echo)" \
		"status from the HTTP/1.1 upstream ($v)"
	assert_eq "Bearer ***" "$(trailer r)" "the HTTP/1.1 upstream's trailer ($v)"
	assert_eq 200 "$(lab_get h "$v" -H 'TE: trailers' 'https://evil.test/echo?trailer=1')" \
		"status from the h2 upstream ($v)"
	assert_eq "Bearer ***" "$(trailer h)" "the h2 upstream's trailer ($v)"
	for f in r h; do
		grep -a -q -F -- "$S" "$LAB_DIR/$f.head" "$LAB_DIR/$f.body" && fail "the secret reached the client ($v, $f)"
	done
done
assert_eq "Bearer $S" "$(lab_rawlog 'next(v for k, v in d["headers"] if k == "Authorization") if d["event"] == "request" else None' | tail -n 1)" \
	"Authorization the HTTP/1.1 upstream got"

out=$(lab_grpc api.test "$LAB_DIR/ica/ca.crt" /test.Echo/Bidi first 'status:PERMISSION_DENIED:bad credential {auth}')
assert_eq "status PERMISSION_DENIED
details bad credential Bearer ***
reply first" "$out" "a gRPC status quoting the authorization"
assert_eq "Bearer $S" "$(lab_grpc_calls '" ".join(v for k, v in d["metadata"] if k == "authorization") if d["method"] == "/test.Echo/Bidi" else None')" \
	"authorization the gRPC server got"
lab_stop_sluice
lab_assert_no_secret "$S"
