#!/bin/bash
# A response delimited by the close that the upstream ends with close_notify
# is whole: sluice passes every byte and ends the client's connection with
# close_notify too, so a client that insists on one (openssl s_client; curl
# and Python on Debian 12 ignore a missing one) accepts it.  Sluice used to
# end every connection without close_notify.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_sluice --default-policy allow
n=300000

lab_curl -o "$LAB_DIR/body" "https://api.test/until-close/$n?cut=clean&seed=7" 2>"$LAB_DIR/err" ||
	fail "curl failed for a response ended with close_notify: $(cat "$LAB_DIR/err")"
lab_gen "$n" 7 >"$LAB_DIR/want"
cmp -s "$LAB_DIR/want" "$LAB_DIR/body" || fail "the body differs from what the upstream sent"

# openssl s_client fails with "unexpected eof while reading" without one.
printf 'GET /until-close/%s?cut=clean HTTP/1.1\r\nHost: api.test\r\n\r\n' "$n" >"$LAB_DIR/req"
{ cat "$LAB_DIR/req"; sleep 3; } | lab_in_c timeout 20 openssl s_client -connect api.test:443 \
	-servername api.test -CAfile "$LAB_DIR/ica/ca.crt" -quiet -ign_eof \
	>"$LAB_DIR/sout" 2>"$LAB_DIR/serr" ||
	fail "openssl s_client: $(grep -v '^depth\|^verify' "$LAB_DIR/serr")"
assert_not_contains "$(cat "$LAB_DIR/serr")" "unexpected eof" "s_client's errors"
[ "$(wc -c <"$LAB_DIR/sout")" -gt "$n" ] || fail "s_client got $(wc -c <"$LAB_DIR/sout") bytes, expected $n and a head"
assert_eq 2 "$(lab_audit_wait 2)" "audit rows"
assert_eq "200|forwarded|$n|
200|forwarded|$n|" \
	"$(lab_audit_sql "SELECT status, decision, resp_bytes, error FROM requests")" "audit rows"
lab_stop_sluice
