#!/bin/bash
# --log-format json: every line sluice writes to stderr is one JSON object
# with ts (UTC, milliseconds), level, and msg (libevent's lines, fatal
# errors) or event and its pairs, whatever the level.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
trap 'rm -rf "/etc/netns/$LAB_G"; lab_down' EXIT
# A nameserver line evdns cannot parse: a warn line (see 93-libevent-log).
mkdir -p "/etc/netns/$LAB_G" || fail "mkdir /etc/netns/$LAB_G"
printf 'nameserver not-an-address\nnameserver %s\n' "$LAB_GL4" >"/etc/netns/$LAB_G/resolv.conf"
lab_start_sluice --default-policy allow --workers 1 --log-format json --log-level debug
# An upstream sluice does not trust: a 502 with an error, a debug line.
lab_curl -o /dev/null https://untrusted.test/echo || fail "curl failed"
lab_log_wait '"level":"debug"' >/dev/null || fail "no debug line"
lab_stop_sluice

# The lab's own "+ sluice ..." line is not sluice's.
levels=$(grep -v '^+ sluice ' "$LAB_DIR/sluice.log" | "$LAB_PY" -c '
import json, re, sys
levels = set()
for n, line in enumerate(sys.stdin, 1):
    try:
        d = json.loads(line)
    except ValueError:
        sys.exit("line %d is not JSON: %r" % (n, line))
    if not isinstance(d, dict) or not {"ts", "level"} <= set(d) or \
            not ("msg" in d or "event" in d):
        sys.exit("line %d lacks ts, level, or msg and event: %r" % (n, line))
    if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", d["ts"]):
        sys.exit("line %d: ts %r" % (n, d["ts"]))
    levels.add(d["level"])
print(" ".join(sorted(levels)))') || fail "$levels"
assert_eq "debug info warn" "$levels" "levels seen"
grep -q '"level":"warn","msg":"libevent: Unable to parse nameserver address not-an-address"' \
	"$LAB_DIR/sluice.log" || fail "no libevent warn line in JSON"
grep -q '"event":"ready","listeners":3,"workers":1,"default_policy":"allow"}' "$LAB_DIR/sluice.log" ||
	fail "no ready line in JSON"
