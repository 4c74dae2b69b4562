#!/bin/bash
# --pcap-filter HOST applies to HTTP/2 connections as to HTTP/1 ones: an
# h2 connection to a host that does not match flows but is not in the
# file; one to the host that matches is, decoded.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
command -v tshark >/dev/null || skip "needs tshark (tools/bootstrap installs it)"
lab_up

lab_rules_sql "INSERT INTO rules (id, host, action) VALUES
	(1, 'api.test', 'allow'), (2, 'other.test', 'allow');" || fail "inserting the rules"
pcap=$LAB_DIR/out.pcap
lab_start_sluice --default-policy deny --pcap "$pcap" --pcap-filter other.test
for host in api.test other.test api.test; do
	out=$(lab_curl --http2 -o /dev/null -w '%{http_code} %{http_version}' \
		"https://$host/echo?from=392") || fail "curl --http2 $host failed"
	assert_eq "200 2" "$out" "status and HTTP version from $host"
done
lab_stop_sluice

hosts=$(tshark -r "$pcap" -d tcp.port==443,http -Y http2.headers.authority -T fields \
	-e http2.headers.authority 2>/dev/null | sort | uniq -c | awk '{ print $1 "x" $2 }')
assert_eq "1xother.test" "$hosts" "authorities of the captured requests"
syn=$(tshark -r "$pcap" -Y 'tcp.flags.syn == 1 && tcp.flags.ack == 0' 2>/dev/null | wc -l)
assert_eq 1 "$syn" "captured connections"
