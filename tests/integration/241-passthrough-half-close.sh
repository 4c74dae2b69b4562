#!/bin/bash
# A passthrough tunnel's half-close: the side that sends its FIN first has
# every byte it sent delivered before the other side sees the end, whether
# the client closes first (5 MiB up) or the server does (5 MiB down), and
# the audit row counts them.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
N=$((5 * 1024 * 1024))
lab_rules_sql "INSERT INTO rules (id, host, action) VALUES (3, 'pinned.test', 'passthrough')" ||
	fail "inserting the passthrough rule"
lab_start_sluice --default-policy deny --resolve "pinned.test:443:$LAB_U4:4443"

# The client sends 5 MiB and its FIN at once; the server sends nothing.
lab_start_rawtcp --send 0
out=$(lab_rawtcp_client --send "$N" --seed 3 --shut-first) || fail "the client that closed first failed"
lab_poll 10000 test -s "$LAB_RAWTCP_LOG" >/dev/null || fail "the raw server logged no connection"
sent=$(lab_json "$out" 'd["sent"]')
assert_eq "$sent $(lab_json "$out" 'd["sent_sha256"]')" \
	"$(lab_rawtcp_conn 'd["received"]') $(lab_rawtcp_conn 'd["received_sha256"]')" \
	"what the server received after the client's FIN (bytes sha256)"
assert_eq "0 true" "$(lab_json "$out" 'd["received"]') $(lab_json "$out" 'd["eof"]')" \
	"what the client received, and whether its tunnel ended"
lab_audit_wait 1 "sni = 'pinned.test'" >/dev/null
assert_eq "$sent|0" "$(lab_audit_sql "SELECT req_bytes, resp_bytes FROM requests WHERE sni = 'pinned.test'")" \
	"audit row of the client-closed tunnel (req_bytes|resp_bytes)"

# The server sends 5 MiB and its FIN at once; the client waits for the end.
kill "${LAB_PIDS[-1]}" 2>/dev/null
lab_start_rawtcp --send "$N" --seed 4 --shut-first
out=$(lab_rawtcp_client --send 0 --expect "$N") || fail "the client of the server that closed first failed"
assert_eq "$N $(lab_gen "$N" 4 | sha256sum | cut -d' ' -f1) true" \
	"$(lab_json "$out" 'd["received"]') $(lab_json "$out" 'd["received_sha256"]') $(lab_json "$out" 'd["eof"]')" \
	"what the client received after the server's FIN (bytes sha256 eof)"
lab_poll 10000 test -s "$LAB_RAWTCP_LOG" >/dev/null || fail "the raw server logged no connection"
lab_audit_wait 2 "sni = 'pinned.test'" >/dev/null
assert_eq "$(lab_json "$out" 'd["sent"]')|$N" \
	"$(lab_audit_sql "SELECT req_bytes, resp_bytes FROM requests WHERE sni = 'pinned.test' ORDER BY id DESC LIMIT 1")" \
	"audit row of the server-closed tunnel (req_bytes|resp_bytes)"
lab_stop_sluice
