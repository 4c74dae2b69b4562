#!/bin/bash
# A WebSocket stream whose HTTP/2 client does not read is bounded: the
# origin floods it, sluice passes on no more than the stream's window and
# stops reading the origin (its memory does not grow with the flood), and a
# WebSocket on another stream of the same connection echoes meanwhile.
. "$(dirname "$0")/../lab/lab.sh"
lab_wsecho_up
lab_require_h2

rss0=$(awk '/^VmRSS:/ { print $2 }' "/proc/$LAB_SLUICE_PID/status")
out=$(lab_ws --h2 --path /ws --stall /ws/flood/64 --hold 2 one two)
assert_eq '/ws 200 ["one", "two"] end_stream
/ws/flood/64 200 []' \
	"$(while read -r l; do lab_json "$l" '" ".join(str(x) for x in (d["path"], d["status"], json.dumps(d["echoes"]), d.get("closed", ""))).strip()'; done <<<"$out")" \
	"each stream (path, status, echoes, end)"
got=$(lab_json "$(sed -n 2p <<<"$out")" 'd["received"]')
[ "$got" -le 65535 ] || fail "the unread stream got $got bytes, over its window (65535)"
lab_poll 10000 grep -q '"flood"' "$LAB_WSLOG" >/dev/null || fail "the flood did not end"
sent=$(lab_jsonl "$LAB_WSLOG" 'd["sent"] if d["event"] == "flood" else None')
[ "$sent" -lt $((64 << 20)) ] || fail "the origin sent the whole flood ($sent bytes): nothing held it back"
grow=$(($(lab_sluice_hwm_kb) - rss0))
lab_log "flood: origin sent $sent bytes, client got $got, sluice peak RSS +$grow KiB"
if lab_sluice_asan; then
	lab_log "AddressSanitizer build: peak RSS not checked"
else
	[ "$grow" -le 16384 ] || fail "sluice's peak RSS grew $grow KiB during the flood (at most 16384)"
fi
lab_stop_sluice
