#!/bin/bash
# --pcap: an upstream that echoes the credentials sluice injected (the
# lab's /echo returns the headers and the query it received) does not put
# them in the pcap file: every kind (bearer, basic, header, query) is
# masked with '*', the same length, so the capture still decodes as the
# same HTTP messages; the raw secret does not appear either.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
command -v tshark >/dev/null || skip "needs tshark (tools/bootstrap installs it)"
lab_up

qsecret='q111&v=1 2+3'
lab_rules_sql "
	INSERT INTO secrets (name, value) VALUES
		('tok', 'bearer-tok-111a'),
		('cred', 'alice:pw-111b'),
		('hdr', 'hdr-key-111c'),
		('qs', '$qsecret');
	INSERT INTO rules (id, host, path, action) VALUES
		(1, 'api.test', '/echo/bearer', 'allow'),
		(2, 'api.test', '/echo/basic', 'allow'),
		(3, 'api.test', '/echo/header', 'allow'),
		(4, 'api.test', '/echo/query', 'allow');
	INSERT INTO injections (rule_id, kind, name, secret) VALUES
		(1, 'bearer', NULL, 'tok'),
		(2, 'basic', NULL, 'cred'),
		(3, 'header', 'X-Api-Key', 'hdr'),
		(4, 'query', 'api_key', 'qs');" || fail "inserting the rules"
pcap=$LAB_DIR/out.pcap
lab_start_sluice --default-policy deny --pcap "$pcap"

# The upstream did get each secret (the client reads it masked).
for kind in bearer basic header query; do
	lab_curl -o "$LAB_DIR/$kind.json" "https://api.test/echo/$kind?n=111" ||
		fail "curl /echo/$kind failed"
	lab_upseen "$(cat "$LAB_DIR/$kind.json")" >"$LAB_DIR/$kind.seen"
done
assert_contains "$(cat "$LAB_DIR/bearer.seen")" "Bearer bearer-tok-111a" "what /echo/bearer got"
assert_contains "$(cat "$LAB_DIR/header.seen")" "hdr-key-111c" "what /echo/header got"
# Two requests on one connection: the second's echo is masked too.
lab_curl -o /dev/null -o /dev/null "https://api.test/echo/header?k=1" "https://api.test/echo/bearer?k=2" ||
	fail "curl with two requests failed"
lab_stop_sluice

basic=$(printf '%s' 'alice:pw-111b' | base64 -w0)
qwire=$(lab_json "$(cat "$LAB_DIR/query.seen")" 'd["path"]')
qwire=${qwire##*api_key=}
qwire=${qwire%%&*}
[ -n "$qwire" ] || fail "no api_key in the path /echo/query echoed"
for s in bearer-tok-111a "$basic" alice:pw-111b hdr-key-111c "$qwire" "$qsecret"; do
	n=$(grep -c -a -F -- "$s" "$pcap")
	assert_eq 0 "$n" "lines of the pcap file with '$s'"
done

# Masked in place, same length: the echoes still decode, with stars.
stars() { printf '%*s' "$1" '' | tr ' ' '*'; }
bearer=bearer-tok-111a
assert_eq 2 "$(grep -a -o -F -- "\"Bearer $(stars ${#bearer})\"" "$pcap" | wc -l)" \
	"masked bearer values (two /echo/bearer answers)"
assert_eq 2 "$(grep -a -o -F -- "\"X-Api-Key\", \"$(stars 12)\"" "$pcap" | wc -l)" \
	"masked X-Api-Key values (two /echo/header answers)"
codes=$(tshark -r "$pcap" -Y http.response -T fields -e http.response.code 2>/dev/null | sort | uniq -c | awk '{ print $1 "x" $2 }')
assert_eq "6x200" "$codes" "responses tshark decodes"
