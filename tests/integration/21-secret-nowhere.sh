#!/bin/bash
# An injected secret's bytes appear nowhere sluice writes: not in audit.db
# (nor its -wal file, read while sluice runs and after it exits), not in its
# log (with --verbose), not in any response head or body (the upstream's
# /echo answers echo it: masked), and not in any response sluice makes
# itself (403, 421, 400, 502, 504, the CONNECT reply), whatever the
# secret's source (literal, env:, file:) and injection kind.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up

S=sk-live-SLUICETEST-7f3a9c
B64=$(printf 'svc:%s' "$S" | base64 -w0)	# what basic sends
printf '%s\n' "$S" >"$LAB_DIR/secret21"
lab_rules_sql "
	INSERT INTO secrets (name, value) VALUES
		('lit21', '$S'), ('env21', 'env:SLUICE_TEST_SECRET_21'),
		('file21', 'file:$LAB_DIR/secret21'), ('basic21', 'svc:$S');
	INSERT INTO rules (id, priority, host, path, action) VALUES
		(1, 100, 'api.test', NULL, 'allow'),
		(2, 10, 'api.test', '/echo/basic', 'allow'),
		(3, 10, 'api.test', '/deny/*', 'deny'),
		(4, 100, 'untrusted.test', NULL, 'allow'),
		(5, 100, 'other.test', NULL, 'allow');
	INSERT INTO injections (rule_id, kind, name, secret) VALUES
		(1, 'bearer', NULL, 'lit21'),
		(1, 'header', 'X-Api-Key', 'env21'),
		(1, 'query', 'api_key', 'file21'),
		(2, 'basic', NULL, 'basic21'),
		(2, 'header', 'X-Api-Key', 'lit21'),
		(3, 'bearer', NULL, 'lit21'),
		(4, 'bearer', NULL, 'lit21'),
		(4, 'query', 'api_key', 'env21'),
		(5, 'bearer', NULL, 'file21');" || fail "inserting the rules"
export SLUICE_TEST_SECRET_21=$S
lab_start_sluice --default-policy deny --verbose --upstream-timeout 1 --resolve "other.test:443:$LAB_U4"
unset SLUICE_TEST_SECRET_21

resp=$LAB_DIR/resp
mkdir -p "$resp"
n=0
# req NAME WANT_STATUS CURL_ARGS...: keeps the response head and body in $resp
req() {
	local name=$1 want=$2 code
	shift 2
	code=$(lab_curl -D "$resp/$name.head" -o "$resp/$name.body" -w '%{http_code}' "$@") ||
		fail "curl failed ($name)"
	assert_eq "$want" "$code" "status ($name)"
	n=$((n + 1))
}

# Injected and forwarded: the upstream got every secret (its echo shows them,
# so only the heads of these answers are sluice's to keep clean).
req echo 200 'https://api.test/echo?q=1'
b=$(lab_upseen "$(cat "$resp/echo.body")")	# what the upstream got
assert_eq "Bearer $S" "$(lab_hdr "$b" Authorization)" "Authorization at the upstream"
assert_eq "$S" "$(lab_hdr "$b" X-Api-Key)" "X-Api-Key at the upstream"
assert_eq "'$S'" "$(lab_param "$b" api_key)" "api_key at the upstream"
req basic 200 https://api.test/echo/basic
assert_eq "Basic $B64" "$(lab_hdr "$(lab_upseen "$(cat "$resp/basic.body")")" Authorization)" \
	"basic Authorization at the upstream"
req connect 200 -p -x "http://$LAB_GL4:$LAB_CONNECT_PORT" 'https://other.test/echo?via=connect'
assert_eq "Bearer $S" "$(lab_hdr "$(lab_upseen "$(cat "$resp/connect.body")")" Authorization)" \
	"Authorization at the upstream (CONNECT)"
req post 200 -d 'hello' 'https://api.test/echo?p=1'

# Answers sluice makes itself, on requests whose rule injects.
req deny 403 'https://api.test/deny/x?api_key=mine' -H 'Authorization: Bearer client-own'
req mismatch 421 -H 'Host: other.test' https://api.test/echo
req untrusted 502 'https://untrusted.test/echo?q=2'
req untrusted-ip 502 --resolve "api.test:443:$LAB_UX4" https://api.test/echo
req timeout 504 https://api.test/slow/3

# A malformed request (Content-Length with Transfer-Encoding) on api.test.
lab_in_c "$LAB_PY" - "$LAB_DIR/ica/ca.crt" "$LAB_U4" >"$resp/malformed.raw" <<'PY' || fail "raw client failed"
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[1])
s = ctx.wrap_socket(socket.create_connection((sys.argv[2], 443), timeout=10),
                    server_hostname="api.test")
s.sendall(b"POST /echo?q=3 HTTP/1.1\r\nHost: api.test\r\nContent-Length: 5\r\n"
          b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
data = b""
try:
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
except (ssl.SSLError, OSError):
    pass
sys.stdout.buffer.write(data)
PY
assert_eq 400 "$(head -n 1 "$resp/malformed.raw" | cut -d' ' -f2)" "status of the malformed request"
n=$((n + 1))

# Audit rows of the HTTP requests (the CONNECT itself may or may not have one).
[ "$(lab_audit_wait 10 "status IS NOT NULL")" -ge 10 ] || fail "audit rows: $(lab_audit_sql 'SELECT count(*) FROM requests')"

# The audit database's files while sluice runs, then everything after it exits.
mkdir -p "$LAB_DIR/live"
cp "$LAB_DIR"/audit.db* "$LAB_DIR/live/"
lab_audit_sql .dump >"$LAB_DIR/live/dump.sql" || fail "dumping the audit database"
lab_stop_sluice
lab_audit_sql .dump >"$LAB_DIR/dump.sql" || fail "dumping the audit database"

found=0
for f in "$LAB_DIR"/audit.db* "$LAB_DIR"/live/* "$LAB_DIR/dump.sql" "$LAB_DIR/sluice.log" "$resp"/*; do
	[ -f "$f" ] || continue
	for needle in "$S" SLUICETEST "$B64"; do
		if grep -a -q -F -- "$needle" "$f"; then
			lab_log "the secret ($needle) is in ${f#"$LAB_DIR"/}: $(grep -a -n -F -m1 -- "$needle" "$f" | head -c 300)"
			found=1
		fi
	done
done
[ "$found" = 0 ] || fail "the secret's bytes were found (see above)"

# The checks saw what they should have: the log is verbose, the audit is there.
[ -s "$LAB_DIR/sluice.log" ] || fail "sluice's log is empty"
grep -q 'api_key=\*\*\*' "$LAB_DIR/dump.sql" || fail "no masked api_key in the audit dump"
assert_eq 10 "$n" "requests made"
