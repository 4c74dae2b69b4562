#!/bin/bash
# --pcap-filter HOST captures only the connections whose name (SNI, CONNECT
# host or address) matches HOST as a rules.host pattern; other traffic
# still flows but is not in the file.  A pattern rules could not hold is a
# usage error.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
command -v tshark >/dev/null || skip "needs tshark (tools/bootstrap installs it)"
lab_up

lab_rules_sql "INSERT INTO rules (id, host, action) VALUES
	(1, 'api.test', 'allow'), (2, 'other.test', 'allow');" || fail "inserting the rules"
lab_rules_init
out=$("$SLUICE" --rules "$LAB_DIR/rules.db" --audit "$LAB_DIR/audit.db" \
	--ca-cert "$LAB_DIR/ica/ca.crt" --ca-key "$LAB_DIR/ica/ca.key" \
	--listen 127.0.0.1:1 --pcap "$LAB_DIR/x.pcap" --pcap-filter 'api*' 2>&1)
assert_eq 2 "$?" "exit status for --pcap-filter 'api*'"
assert_contains "$out" "--pcap-filter wants a host" "the error message"

pcap=$LAB_DIR/out.pcap
lab_start_sluice --default-policy deny --pcap "$pcap" --pcap-filter '*.test'
lab_stop_sluice
lab_start_sluice --default-policy deny --pcap "$pcap" --pcap-filter api.test
for host in api.test other.test api.test; do
	code=$(lab_curl -o /dev/null -w '%{http_code}' "https://$host/echo?from=113") ||
		fail "curl $host failed"
	assert_eq 200 "$code" "status from $host"
done
lab_stop_sluice

hosts=$(tshark -r "$pcap" -Y http.request -T fields -e http.host 2>/dev/null | sort | uniq -c | awk '{ print $1 "x" $2 }')
assert_eq "2xapi.test" "$hosts" "hosts of the captured requests"
syn=$(tshark -r "$pcap" -Y 'tcp.flags.syn == 1 && tcp.flags.ack == 0' 2>/dev/null | wc -l)
assert_eq 2 "$syn" "captured connections"
