#!/bin/bash
# --nfqueue NUM when another process holds queue NUM: sluice exits non-zero
# at start-up with one line naming the queue.
. "$(dirname "$0")/../lab/lab.sh"
. "$(dirname "$0")/../lab/nfq.sh"
lab_require_root
lab_require_sluice
lab_up
nfq_start_sluice

lab_in_g timeout 10 "$SLUICE" --listen 127.0.0.1:9443 --rules "$LAB_DIR/rules2.db" \
	--audit "$LAB_DIR/audit2.db" --ca-cert "$LAB_DIR/ica/ca.crt" --ca-key "$LAB_DIR/ica/ca.key" \
	--nfqueue "$NFQ_NUM" >/dev/null 2>"$LAB_DIR/second.log"
rc=$?
[ "$rc" = 1 ] || fail "a second sluice on queue $NFQ_NUM exited with $rc, not 1"
err=$(grep -v '^level=info ' "$LAB_DIR/second.log")
assert_eq 1 "$(printf '%s\n' "$err" | wc -l)" "lines of error ($err)"
assert_contains "$err" "--nfqueue $NFQ_NUM: cannot bind the queue" "the error"
lab_stop_sluice
