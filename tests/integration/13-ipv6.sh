#!/bin/bash
# The transparent mode works for IPv6 clients and upstreams.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_sluice --default-policy allow

out=$(lab_curl -6 -o "$LAB_DIR/body" -w '%{http_code} %{remote_ip} %{local_port}' \
	'https://api.test/echo?v=6') || fail "curl -6 through sluice failed"
read -r code rip lport <<<"$out"
assert_eq 200 "$code" "status over IPv6"
assert_eq "$LAB_U6" "$rip" "address the client connected to"
assert_eq "/echo?v=6" "$(lab_json "$(cat "$LAB_DIR/body")" 'd["path"]')" "path the upstream saw"

code=$(lab_cert_of "$LAB_DIR/leaf.pem" -6 https://api.test/echo)
assert_eq 200 "$code" "status of the second request over IPv6"
assert_eq "$(cert_subject "$LAB_DIR/ica/ca.crt")" "$(cert_issuer "$LAB_DIR/leaf.pem")" \
	"issuer of the certificate seen over IPv6"

assert_eq 2 "$(lab_audit_wait 2)" "audit rows"
row=$(lab_audit_sql "SELECT decision, status, sni, server, client FROM requests WHERE path = '/echo?v=6'")
IFS='|' read -r decision status sni server client <<<"$row"
assert_eq "forwarded|200|api.test" "$decision|$status|$sni" "audit row (decision|status|sni)"
case $server in
"[$LAB_U6]:443" | "$LAB_U6:443") ;;
*) fail "audit server '$server' is not the upstream's IPv6 address and port 443" ;;
esac
case $client in
"[$LAB_C6]:$lport" | "$LAB_C6:$lport") ;;
*) fail "audit client '$client' is not [$LAB_C6]:$lport" ;;
esac
lab_stop_sluice
