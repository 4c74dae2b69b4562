#!/bin/bash
# --pcap in /metrics: the packets counted are the packets in the file
# (tshark counts them after sluice stops), they grow with the traffic, and
# none is dropped; without --pcap both series are there and stay at 0.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
command -v tshark >/dev/null || skip "needs tshark (tools/bootstrap installs it)"
lab_up
lab_rules_sql "INSERT INTO rules (id, host, action) VALUES (1, 'api.test', 'allow');" ||
	fail "inserting the rules"
ADMIN=127.0.0.1:9175
pcap=$LAB_DIR/out.pcap

lab_start_sluice --default-policy deny --admin "$ADMIN"
lab_curl -o /dev/null https://api.test/echo || fail "curl without --pcap failed"
lab_metrics "$ADMIN"
assert_eq 0 "$(lab_metric sluice_pcap_packets_total)" "pcap packets without --pcap"
assert_eq 0 "$(lab_metric sluice_pcap_dropped_total)" "pcap drops without --pcap"
lab_stop_sluice

lab_start_sluice --default-policy deny --admin "$ADMIN" --pcap "$pcap"
lab_metrics "$ADMIN"
assert_eq 0 "$(lab_metric sluice_pcap_packets_total)" "pcap packets before any traffic"
for i in 1 2 3; do
	lab_curl -o /dev/null "https://api.test/bytes/20000?seed=$i" || fail "curl $i failed"
done
# The writer thread catches up within a moment; then the count holds.
last=-1
steady() {
	lab_metrics "$ADMIN"
	local n
	n=$(lab_metric sluice_pcap_packets_total)
	[ "$n" = "$last" ] && [ "$n" -gt 0 ]
	local rc=$?
	last=$n
	return $rc
}
lab_poll 3000 steady >/dev/null || fail "pcap packets did not settle (last $last)"
lab_stop_sluice
inFile=$(tshark -r "$pcap" -T fields -e frame.number 2>/dev/null | wc -l)
# Three connections: at least a handshake, a request, a response and a FIN each.
[ "$last" -ge 12 ] || fail "only $last pcap packets for three exchanges"
assert_eq "$inFile" "$last" "pcap packets counted vs packets in the file"
assert_eq 0 "$(lab_metric sluice_pcap_dropped_total)" "pcap drops"
