#!/bin/bash
# A background revalidation (stale-while-revalidate) verifies the upstream
# as a client's request does: when the upstream's certificate no longer
# verifies, the revalidation sends nothing, and its audit row and the log
# say why, as for a client's 502.
. "$(dirname "$0")/../lab/lab.sh"
lab_cache_up
lab_start_sluice --default-policy deny --resolve "api.test:443:$LAB_U4:4443"

# upstream_at CERTDIR LOG: upstream.py on $LAB_U4:4443; prints its pid.
upstream_at() {
	: >"$2"
	ip netns exec "$LAB_U" "$LAB_PY" "$LAB_SRCDIR/tests/lab/upstream.py" --certdir "$1" \
		--listen "$LAB_U4:4443" --request-log "$2" >>"$LAB_DIR/upstream.log" 2>&1 &
	LAB_PIDS+=($!)
	disown $!
	lab_wait_listen "$LAB_U" 4443 || fail "upstream.py did not start on 4443"
	echo $!
}

t='/cache/swr-verify?cc=max-age%3D1%2C%20stale-while-revalidate%3D60&etag=e1'
u="https://api.test$t"
pid=$(upstream_at "$LAB_DIR/certs/trusted" "$LAB_DIR/good.jsonl")
assert_eq 200 "$(lab_get a "$u")" "status of the first GET"
# The same name and address, now with a certificate from an unknown CA.
kill "$pid"
lab_poll 5000 sh -c "! ss -N $LAB_U -Hltn | grep -q ':4443 '" >/dev/null ||
	fail "upstream.py on 4443 did not stop"
upstream_at "$LAB_DIR/certs/untrusted" "$LAB_DIR/bad.jsonl" >/dev/null
sleep 1.5
assert_eq 200 "$(lab_get b "$u")" "status of the GET of the stale entry"
lab_assert_cs b "sluice; hit; fwd=stale" "GET of the stale entry"

err="unable to get local issuer certificate"
assert_eq 1 "$(lab_audit_wait 1 "decision = 'revalidated'")" "revalidation rows"
assert_eq "upstream certificate verification failed: $err" \
	"$(lab_audit_sql "SELECT error FROM requests WHERE decision = 'revalidated'")" \
	"the revalidation row's error"
lab_log_wait "event=upstream_verify_failed .*host=api.test .*err=\"$err\"" >/dev/null ||
	fail "no event=upstream_verify_failed line for the revalidation"
assert_eq "" "$(lab_jsonl "$LAB_DIR/bad.jsonl" 'd["path"] if d["event"] == "request" else None')" \
	"requests the upstream with the untrusted certificate got"
lab_stop_sluice
