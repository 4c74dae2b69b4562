#!/bin/bash
# UDP/443 (QUIC) from the LAN is refused at once, so clients fall back to
# TCP that sluice sees: a connected UDP client gets ECONNREFUSED from the
# gateway's ICMP port unreachable, IPv4 and IPv6, while UDP to another port
# still reaches the upstream.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
LAB_UPSTREAM=0
lab_up

# A UDP echo server in U on ports 443 and 4433, both families: without the
# gateway's reject, UDP/443 would be answered like UDP/4433.
lab_in_u "$LAB_PY" - "$LAB_U4" "$LAB_U6" >>"$LAB_DIR/upstream.log" 2>&1 <<'PY' &
import select, socket, sys
socks = []
for fam, addr in ((socket.AF_INET, sys.argv[1]), (socket.AF_INET6, sys.argv[2])):
    for port in (443, 4433):
        s = socket.socket(fam, socket.SOCK_DGRAM)
        s.bind((addr, port))
        socks.append(s)
while True:
    for s in select.select(socks, [], [])[0]:
        data, peer = s.recvfrom(2048)
        s.sendto(b"echo:" + data, peer)
PY
LAB_PIDS+=($!)
disown $!
for ((i = 0; i < 50; i++)); do
	[ "$(lab_in_u ss -Hlun | wc -l)" -ge 4 ] && break
	sleep 0.1
done

# udp_try ADDR PORT: what a connected UDP client gets within 3 s.
udp_try() {
	lab_in_c "$LAB_PY" - "$1" "$2" <<'PY'
import socket, sys, time
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.settimeout(3)
s.connect((sys.argv[1], int(sys.argv[2])))
t0 = time.monotonic()
try:
    s.send(b"hello")
    print(s.recv(2048).decode(), end=" ")
except ConnectionRefusedError:
    print("refused", end=" ")
except socket.timeout:
    print("timeout", end=" ")
print(round((time.monotonic() - t0) * 1000))
PY
}

for addr in "$LAB_U4" "$LAB_U6"; do
	read -r what ms <<<"$(udp_try "$addr" 443)"
	assert_eq refused "$what" "UDP to $addr port 443 from the LAN"
	[ "$ms" -lt 2000 ] || fail "UDP/443 to $addr was refused after $ms ms, not at once (a drop waits 3 s)"
	read -r what ms <<<"$(udp_try "$addr" 4433)"
	assert_eq echo:hello "$what" "UDP to $addr port 4433 from the LAN"
done
exit 0
