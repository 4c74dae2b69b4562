#!/bin/bash
# pcap losses in /metrics: when the --pcap file cannot keep up (here a FIFO
# that nobody reads, so the writer thread blocks), the bounded queue fills,
# captured bytes are dropped and counted, and the requests themselves are
# served as usual.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_rules_sql "INSERT INTO rules (id, host, action) VALUES (1, 'api.test', 'allow');" ||
	fail "inserting the rules"
ADMIN=127.0.0.1:9176
fifo=$LAB_DIR/out.pcap
mkfifo -m 0600 "$fifo" || fail "mkfifo"
# A reader that never reads: opening for writing succeeds, writing blocks.
sleep 600 <>"$fifo" &
holder=$!
drain=
cleanup_fifo() {
	[ -n "$drain" ] && kill "$drain" 2>/dev/null
	kill "$holder" 2>/dev/null
	lab_down
}
trap cleanup_fifo EXIT	# lab_up's trap, and the two readers

lab_start_sluice --default-policy deny --admin "$ADMIN" --pcap "$fifo"
lab_metrics_mark "$ADMIN"
# The queue holds 32 MiB; send twice that through the client leg.
for i in $(seq 1 8); do
	code=$(lab_curl -o /dev/null -w '%{http_code}' "https://api.test/bytes/8000000?seed=$i") ||
		fail "curl $i failed"
	assert_eq 200 "$code" "status of a large download while the pcap is stuck"
done
lab_metrics "$ADMIN"
dropped=$(lab_metric_delta sluice_pcap_dropped_total)
[ "$dropped" -gt 0 ] || fail "no pcap drops counted with the file stuck and 64 MiB sent"

# Let the file drain so that sluice can stop.
cat "$fifo" >/dev/null &
drain=$!
lab_stop_sluice 30
