#!/bin/bash
# A ClientHello that arrives in pieces is waited for without polling: one
# completed after a second of silence still gets through, one never
# completed is closed at --handshake-timeout, and 300 idle half-sent
# ClientHellos cost sluice next to no CPU: the old 2 ms poll took about
# 0.5 s of CPU in 2 s; waiting takes ~0, and the bound (0.2 s) is far from
# both.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_sluice --default-policy allow --handshake-timeout 3
hello=$LAB_SRCDIR/tests/lab/hello.py

assert_eq 200 "$(lab_in_c "$LAB_PY" "$hello" split "$LAB_U4" api.test "$LAB_DIR/ica/ca.crt" 1)" \
	"status after a ClientHello completed 1 s late"
assert_eq 1 "$(lab_upstream_hits /echo?split=1)" "requests the upstream got"
assert_eq closed "$(lab_in_c "$LAB_PY" "$hello" stall "$LAB_U4" api.test 10)" \
	"a ClientHello never completed, after the 3 s handshake timeout"

lab_in_c "$LAB_PY" "$hello" hold "$LAB_U4" api.test 300 >"$LAB_DIR/hold.out" 2>&1 &
LAB_PIDS+=($!)
disown $!
for ((i = 0; i < 300; i++)); do
	grep -q ready "$LAB_DIR/hold.out" && break
	sleep 0.1
done
grep -q ready "$LAB_DIR/hold.out" || fail "the client did not open its connections: $(cat "$LAB_DIR/hold.out")"
t0=$(awk '{ print $14 + $15 }' "/proc/$LAB_SLUICE_PID/stat")
sleep 2
t1=$(awk '{ print $14 + $15 }' "/proc/$LAB_SLUICE_PID/stat")
hz=$(getconf CLK_TCK)
[ $(((t1 - t0) * 100 / hz)) -lt 20 ] ||
	fail "sluice used $((t1 - t0)) ticks (of $hz/s) in 2 s holding 300 half ClientHellos"
lab_stop_sluice
