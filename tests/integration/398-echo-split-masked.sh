#!/bin/bash
# A secret the upstream echoes in two writes 0.3 s apart (so two reads at
# sluice), split anywhere in it, is masked whole: with Content-Length, as
# two chunks split inside it, and delimited by the close, to HTTP/1.1 and
# h2 clients; the client reads the body with '*' in its place, the same
# length.  Only a read that ends one to three bytes into the secret lets
# those out (sluice does not hold a stream back for a start that short:
# most of those are a message that ends in the secret's first letter by
# chance), and the rest is masked.  A stream whose read ends in no
# secret's start is not held back: /pause/2's first line reaches the
# client before the pause ends.
. "$(dirname "$0")/../lab/lab.sh"
S=tok-398-split-secret
lab_echo_up "$S" "
	INSERT INTO rules (id, host, action) VALUES (1, 'api.test', 'allow'), (2, 'other.test', 'allow');
	INSERT INTO injections (rule_id, kind, name, secret) VALUES (1, 'bearer', NULL, 't'),
		(2, 'bearer', NULL, 't')"
lab_start_sluice --default-policy deny --resolve "api.test:443:$LAB_U4:4443"

# want SHOWN: the body rawup.py sends (the secret is bytes 17 to 36) with
# the secret's first SHOWN bytes and stars for the rest.
want() { printf '{"seen": "Bearer %s%s"}' "${S:0:$1}" "$(printf '%*s' $((${#S} - $1)) '' | tr ' ' '*')"; }
n=0
for v in --http1.1 --http2; do
	for frame in cl chunked close; do
		for at in 5 17 19 21 27 36 37; do
			shown=0
			[ "$at" -gt 17 ] && [ "$at" -lt 21 ] && shown=$((at - 17))
			code=$(lab_curl "$v" -o "$LAB_DIR/body" -w '%{http_code} %{size_download}' \
				"https://api.test/resp/split-echo?at=$at&frame=$frame") ||
				fail "curl $v, $frame, split at $at failed"
			n=$((n + 1))
			assert_eq "200 $(($(want 0 | wc -c) + 1))" "$code" "status and bytes ($v, $frame, split at $at)"
			assert_eq "$(want $shown)" "$(cat "$LAB_DIR/body")" "the body ($v, $frame, split at $at)"
		done
	done
done
assert_eq "$n" "$(lab_rawlog 'd["path"] if d["event"] == "request" and "Bearer '"$S"'" in str(d["headers"]) else None' | wc -l)" \
	"requests that reached the upstream with the secret"

# first_line_s V: seconds until /pause/2's first line reached the client.
first_line_s() {
	lab_in_c bash -c 'curl -sS -N -4 '"$1"' --cacert "$1" --max-time 10 https://other.test/pause/2 |
		python3 -c "
import sys, time
t = time.monotonic()
sys.stdin.buffer.readline()
print(\"%.1f\" % (time.monotonic() - t))"' - "$LAB_DIR/ica/ca.crt"
}
for v in --http1.1 --http2; do
	s=$(first_line_s "$v")
	[ -n "$s" ] && [ "${s%.*}" -lt 1 ] || fail "/pause/2's first line came after ${s:-?} s ($v)"
done
assert_eq $((n + 2)) "$(lab_audit_wait $((n + 2)))" "audit rows"
lab_stop_sluice
