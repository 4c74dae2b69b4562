#!/bin/bash
# sluice-netfilter up --nfqueue with nothing reading the queue (sluice
# stopped): new flows from the LAN are blocked (fail-closed, the default);
# with --fail-open they pass, unqueued and untouched.  IPv4 and IPv6.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_redirect_off

# tcp_try ADDR [SECONDS]: "connected" or why not, for a TCP connect to
# ADDR:443 within SECONDS (8: a loaded machine can lose the first SYN, and
# the kernel resends it after 1 s, then 3 s).
tcp_try() {
	lab_in_c "$LAB_PY" - "$1" "${2:-8}" <<'PY'
import socket, sys
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
s.settimeout(float(sys.argv[2]))
try:
    s.connect((sys.argv[1], 443))
    print("connected")
except socket.timeout:
    print("timeout")
except OSError as e:
    print(type(e).__name__)
PY
}

for addr in "$LAB_U4" "$LAB_U6"; do
	assert_eq connected "$(tcp_try "$addr")" "TCP to $addr:443 with no rules installed"
done

lab_netfilter up --lan "$LAB_IF_GL" --listen-port "$LAB_PROXY_PORT" \
	--listen-port6 "$LAB_PROXY_PORT6" --nfqueue 7 || fail "sluice-netfilter up --nfqueue 7 failed"
for addr in "$LAB_U4" "$LAB_U6"; do
	assert_eq timeout "$(tcp_try "$addr" 2)" "TCP to $addr:443 with --nfqueue 7 and no reader (fail-closed)"
done

lab_netfilter up --lan "$LAB_IF_GL" --listen-port "$LAB_PROXY_PORT" \
	--listen-port6 "$LAB_PROXY_PORT6" --nfqueue 7 --fail-open ||
	fail "sluice-netfilter up --nfqueue 7 --fail-open failed"
for addr in "$LAB_U4" "$LAB_U6"; do
	assert_eq connected "$(tcp_try "$addr")" "TCP to $addr:443 with --nfqueue 7 --fail-open and no reader"
done
# Unqueued flows have no verdict mark, so nothing redirected them to sluice:
# the client saw the upstream's own certificate.
code=$(lab_in_c curl -sS -4 --cacert "$LAB_DIR/certs/ca.crt" --max-time 10 \
	-o /dev/null -w '%{http_code}' https://api.test/echo) || fail "curl to the upstream failed"
assert_eq 200 "$code" "status from the upstream itself, trusting only its CA"
exit 0
