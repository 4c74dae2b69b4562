#!/bin/bash
# --pcap: tshark reads the file without any key and decodes HTTP: each
# request and response, over IPv4 and IPv6, between the client's real
# address and the original destination (the client leg), with a
# handshake, and the response body exactly as the upstream served it.
# The file is 0600 whatever the umask.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
command -v tshark >/dev/null || skip "needs tshark (tools/bootstrap installs it)"
lab_up

lab_rules_sql "INSERT INTO rules (id, host, action) VALUES (1, 'api.test', 'allow');" ||
	fail "inserting the rules"
pcap=$LAB_DIR/out.pcap
umask_was=$(umask)
umask 000
lab_start_sluice --default-policy deny --pcap "$pcap"
umask "$umask_was"

code=$(lab_curl -o "$LAB_DIR/got" -w '%{http_code}' 'https://api.test/bytes/300000?seed=110') ||
	fail "curl /bytes failed"
assert_eq 200 "$code" "status of GET /bytes"
code=$(lab_curl -6 -o /dev/null -w '%{http_code}' -d 'hello=110' 'https://api.test/echo?v6=1') ||
	fail "curl -6 /echo failed"
assert_eq 200 "$code" "status of POST /echo over IPv6"
code=$(lab_curl -o /dev/null -w '%{http_code}' 'https://api.test/missing') ||
	fail "curl /missing failed"
lab_stop_sluice

assert_eq "600" "$(stat -c %a "$pcap")" "mode of the pcap file"

fields=$(tshark -r "$pcap" -Y http -T fields -E separator=' ' \
	-e ip.src -e ipv6.src -e tcp.srcport -e ip.dst -e ipv6.dst -e tcp.dstport \
	-e http.request.method -e http.request.uri -e http.response.code 2>&1) ||
	fail "tshark cannot read the file: $fields"
printf '%s\n' "$fields" >"$LAB_DIR/fields"
# The client's port is its own; the server side is the original destination.
assert_contains "$fields" "$LAB_C4  " "IPv4 client address"
assert_contains "$fields" " $LAB_U4  443 GET /bytes/300000?seed=110" "IPv4 request to the original destination"
assert_contains "$fields" "$LAB_U4  443 $LAB_C4  " "IPv4 response from the original destination"
assert_contains "$fields" " $LAB_U6 443 POST /echo?v6=1" "IPv6 request to the original destination"
assert_contains "$fields" "$LAB_U6 443  $LAB_C6 " "IPv6 response from the original destination"
assert_contains "$fields" " GET /missing" "the request for /missing"
for status in 200 404; do
	n=$(printf '%s\n' "$fields" | awk -v s=$status '$NF == s' | wc -l)
	[ "$n" -ge 1 ] || fail "no response with status $status in: $fields"
done

# Three connections, each with a whole handshake and FINs both ways.
syn=$(tshark -r "$pcap" -Y 'tcp.flags.syn == 1 && tcp.flags.ack == 0' 2>/dev/null | wc -l)
fin=$(tshark -r "$pcap" -Y 'tcp.flags.fin == 1' 2>/dev/null | wc -l)
assert_eq 3 "$syn" "SYN packets"
assert_eq 6 "$fin" "FIN packets"
# tshark's own verdict on the numbering: no gap, no retransmission.
bad=$(tshark -r "$pcap" -Y 'tcp.analysis.flags && !tcp.analysis.window_update' 2>/dev/null)
assert_eq "" "$bad" "packets tshark flags (lost segments, bad numbers)"
# IP and TCP checksums are computed, and right.
bad=$(tshark -r "$pcap" -o ip.check_checksum:TRUE -o tcp.check_checksum:TRUE \
	-Y 'ip.checksum.status != 2 && ip.checksum.status != 1 || tcp.checksum.status != 1' 2>/dev/null)
assert_eq "" "$bad" "packets with a checksum tshark does not verify"

# The body as Wireshark's "Export Objects" saves it: the upstream's bytes.
mkdir "$LAB_DIR/objects"
tshark -r "$pcap" -q --export-objects "http,$LAB_DIR/objects" >/dev/null 2>&1 ||
	fail "tshark --export-objects failed"
obj=$(ls -S "$LAB_DIR/objects" | head -n 1)
[ -n "$obj" ] || fail "tshark exported no HTTP object"
assert_eq "$(lab_gen 300000 110 | sha256sum | cut -d' ' -f1)" \
	"$(sha256sum <"$LAB_DIR/objects/$obj" | cut -d' ' -f1)" "sha256 of the exported body"
