#!/bin/bash
# A bearer credential injected by a rule reaches the gRPC server as the
# call's authorization metadata, and its bytes are neither in the audit
# database (which names the injected field) nor in sluice's log.
# Skips until sluice speaks HTTP/2 to clients and to h2-only upstreams.
. "$(dirname "$0")/../lab/lab.sh"
S=grpc-SLUICETEST-321-s3cret
lab_grpc_up "
	INSERT INTO secrets (name, value) VALUES ('tok321', '$S');
	INSERT INTO rules (id, host, path, action) VALUES (1, 'api.test', '/test.Echo/*', 'allow');
	INSERT INTO injections (rule_id, kind, name, secret) VALUES (1, 'bearer', NULL, 'tok321');" \
	--default-policy deny --verbose

assert_eq "status OK
reply x
trailer x-echo-len=1" "$(lab_grpc api.test "$LAB_DIR/ica/ca.crt" /test.Echo/Unary x)" \
	"unary call with an injected bearer"
assert_eq "/test.Echo/Unary Bearer $S" \
	"$(lab_grpc_calls '" ".join([d["method"]] + [v for k, v in d["metadata"] if k == "authorization"])')" \
	"the call and its authorization as the server got them"
assert_eq 1 "$(lab_audit_wait 1 "host = 'api.test'")" "audit rows"
lab_stop_sluice
assert_eq "1|/test.Echo/Unary|Authorization" \
	"$(lab_audit_sql "SELECT rule_id, path, injected FROM requests WHERE host = 'api.test'")" "audit row (rule|path|injected)"
lab_audit_sql .dump >"$LAB_DIR/dump.sql" || fail "dumping the audit database"
for f in "$LAB_DIR"/audit.db* "$LAB_DIR/dump.sql" "$LAB_DIR/sluice.log"; do
	[ -f "$f" ] || continue
	grep -a -q -F -- "$S" "$f" && fail "the secret is in ${f#"$LAB_DIR"/}"
done
exit 0
