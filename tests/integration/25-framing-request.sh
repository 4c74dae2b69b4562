#!/bin/bash
# A request's framing is sluice's: a Connection header that names
# Content-Length, Transfer-Encoding or Host cannot strip them on the way out
# while sluice frames the body by them.  Otherwise the body would reach the
# upstream as a second request that no rule checked and no row audits.  The
# origin here (rawup.py) frames the bytes it gets like any server would and
# logs each request it sees: exactly one per request sluice audited.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_rawup
lab_rules_sql "INSERT INTO rules (id, host, path, action) VALUES (1, 'api.test', '/ok*', 'allow');
	INSERT INTO rules (id, priority, host, path, action) VALUES (2, 10, 'api.test', '/admin*', 'deny')" ||
	fail "inserting the rules"
lab_start_sluice --default-policy deny --resolve "api.test:443:$LAB_U4:4443"

smuggled='GET /admin HTTP/1.1\r\nHost: api.test\r\n\r\n'
len=$(printf '%b' "$smuggled" | wc -c)
hexlen=$(printf '%x' "$len")

check() {	# check N WHAT REQUEST: the Nth request sent; one request upstream
	local out
	out=$(lab_raw "$3" 2) || fail "raw client failed for: $2"
	assert_eq 200 "$(printf '%s\n' "$out" | head -n 1)" "status for $2"
	assert_eq "$1" "$(lab_audit_wait "$1")" "audit rows after $2"
	assert_eq "" "$(lab_rawlog 'd["path"] if d["event"] == "request" and d["path"] != "/ok" else None')" \
		"requests other than /ok that reached the origin after $2"
	assert_eq "" "$(lab_rawlog 'd["data"] if d["event"] == "garbage" else None')" \
		"bytes the origin could not frame after $2"
	assert_eq "$1" "$(lab_rawlog '1 if d["event"] == "request" else None' | wc -l)" \
		"requests the origin framed after $2"
}

check 1 "Connection: content-length" \
	"POST /ok HTTP/1.1\r\nHost: api.test\r\nConnection: content-length\r\nContent-Length: $len\r\n\r\n$smuggled"
assert_eq "$(printf '%b' "$smuggled")" \
	"$(lab_rawlog 'd["body"] if d["event"] == "request" else None' | head -c "$len")" \
	"the body the origin got (the would-be second request, as data)"

check 2 "Connection: transfer-encoding" \
	"POST /ok HTTP/1.1\r\nHost: api.test\r\nConnection: transfer-encoding\r\nTransfer-Encoding: chunked\r\n\r\n$hexlen\r\n$smuggled\r\n0\r\n\r\n"

check 3 "Connection: host, content-length, transfer-encoding (no body)" \
	'GET /ok HTTP/1.1\r\nHost: api.test\r\nConnection: host, content-length, transfer-encoding\r\n\r\n'
assert_eq "api.test" "$(lab_rawlog '[v for k, v in d["headers"] if k.lower() == "host"][0] if d["event"] == "request" else None' | tail -n 1)" \
	"Host the origin got when Connection named it"

# The framing the origin got is the one sluice wrote: one Content-Length, or
# one Transfer-Encoding: chunked, never both.
assert_eq "Content-Length:$len
Transfer-Encoding:chunked" \
	"$(lab_rawlog '",".join(k + ":" + v for k, v in d["headers"] if k.lower() in ("content-length", "transfer-encoding")) if d["event"] == "request" and d["method"] == "POST" else None')" \
	"framing fields of the two POSTs at the origin"

assert_eq "/ok|/ok|/ok" "$(lab_audit_sql "SELECT group_concat(path, '|') FROM (SELECT path FROM requests ORDER BY id)")" \
	"audited paths"
lab_stop_sluice
