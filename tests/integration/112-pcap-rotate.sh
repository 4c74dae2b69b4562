#!/bin/bash
# --pcap-max-mb 1: after about 8 MiB of traffic the capture is FILE and
# FILE.1 ... FILE.5 (no more), each about 1 MiB, 0600 and readable by
# tshark on its own.  --pcap-max-mb without --pcap is a usage error.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
command -v tshark >/dev/null || skip "needs tshark (tools/bootstrap installs it)"
lab_up

lab_rules_sql "INSERT INTO rules (id, host, action) VALUES (1, 'api.test', 'allow');" ||
	fail "inserting the rules"
lab_rules_init
out=$("$SLUICE" --rules "$LAB_DIR/rules.db" --audit "$LAB_DIR/audit.db" \
	--ca-cert "$LAB_DIR/ica/ca.crt" --ca-key "$LAB_DIR/ica/ca.key" \
	--listen 127.0.0.1:1 --pcap-max-mb 1 2>&1)
assert_eq 2 "$?" "exit status for --pcap-max-mb without --pcap"
assert_contains "$out" "--pcap-max-mb needs --pcap" "the error message"

pcap=$LAB_DIR/out.pcap
lab_start_sluice --default-policy deny --pcap "$pcap" --pcap-max-mb 1
for i in 1 2 3 4 5 6 7 8; do
	code=$(lab_curl -o /dev/null -w '%{http_code}' "https://api.test/bytes/1048576?seed=$i") ||
		fail "curl $i failed"
	assert_eq 200 "$code" "status of download $i"
done
lab_stop_sluice

for f in "$pcap" "$pcap".{1,2,3,4,5}; do
	[ -f "$f" ] || fail "no ${f##*/} after 8 MiB with --pcap-max-mb 1: $(ls "$LAB_DIR")"
	assert_eq 600 "$(stat -c %a "$f")" "mode of ${f##*/}"
	size=$(stat -c %s "$f")
	# A chunk is written whole, so a file may pass 1 MiB by one chunk.
	[ "$size" -le $((1024 * 1024 + 128 * 1024)) ] || fail "${f##*/} has $size bytes"
	tshark -r "$f" >/dev/null 2>&1 || fail "tshark cannot read ${f##*/}"
done
[ ! -e "$pcap.6" ] || fail "more than five rotated files kept"
for f in "$pcap".{1,2,3,4,5}; do
	size=$(stat -c %s "$f")
	[ "$size" -ge $((1024 * 1024)) ] || fail "${f##*/} was rotated at $size bytes"
done
# The newest traffic is in FILE: the last download's response ends there.
n=$(tshark -r "$pcap" -Y 'tcp.flags.fin == 1' 2>/dev/null | wc -l)
[ "$n" -ge 2 ] || fail "the last connection's FINs are not in the current file"
