#!/bin/bash
# HTTP/2 conformance of sluice's client side (RFC 9113, RFC 7541): every case
# of tests/lab/h2conform.py passes through the REDIRECT, and no request the
# RFC calls malformed (nor one whose header block does not decode) reaches
# the upstream whole.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_sluice --default-policy allow
lab_require_h2

lab_h2tool h2conform --path /echo --json >"$LAB_DIR/conform.jsonl" 2>"$LAB_DIR/conform.err"
rc=$?
[ $rc = 0 ] || fail "h2conform.py exited $rc: $(cat "$LAB_DIR/conform.err")
$(grep -v '"result": "PASS"' "$LAB_DIR/conform.jsonl")"

# Each request carries h2conform=CASE in its query.  A request whose head is
# malformed must never reach the upstream.  A "late" case is malformed only
# in what follows a well-formed head (its DATA or trailers), which nobody
# knows until it comes: sluice streams bodies, so that head and part of the
# body may have gone upstream by then (they do under a sanitizer's timing);
# the upstream must never have the whole body: sluice holds back the last
# byte of a declared content-length, and the end of a body of unknown
# length, until the stream ends well.  The well-formed POST must arrive whole.
forwarded=$("$LAB_PY" - "$LAB_DIR/conform.jsonl" "$LAB_REQLOG" <<'PY'
import json, sys, urllib.parse
bad, late = set(), set()
for line in open(sys.argv[1], encoding="utf-8"):
    d = json.loads(line)
    if "what" not in d:
        continue
    if d["late"]:
        late.add(d["id"])
    elif "malformed" in d["what"] or "COMPRESSION_ERROR" in d["what"]:
        bad.add(d["id"])
wrong, whole = set(), set()
for line in open(sys.argv[2], encoding="utf-8"):
    d = json.loads(line)
    q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(d.get("path", "")).query))
    cid = q.get("h2conform")
    if d.get("event") == "request" and cid in bad:
        wrong.add(cid)
    if d.get("event") == "body":
        whole.add(cid)
        if cid in late:
            wrong.add(cid)
print(" ".join(sorted(wrong)) or "none", "8.1.1/4" in whole)
PY
)
assert_eq "none True" "$forwarded" \
	"malformed cases the upstream received, and whether it got the well-formed POST whole"

# Some malformed heads (a space in :method or :path) would not even parse
# as an HTTP/1.1 request at the upstream, so its log cannot tell whether
# they were sent: the audit can, by the upstream leg a row had.
"$LAB_PY" - "$LAB_DIR/conform.jsonl" >"$LAB_DIR/bad-heads" <<'PY'
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    d = json.loads(line)
    if "what" in d and not d["late"] and \
            ("malformed" in d["what"] or "COMPRESSION_ERROR" in d["what"]):
        print(d["id"])
PY
sent=$(lab_audit_sql "SELECT path FROM requests WHERE upstream_proto IS NOT NULL" |
	sed -n 's/.*[?&]h2conform=\([^& ]*\).*/\1/p' | grep -x -F -f "$LAB_DIR/bad-heads")
assert_eq "" "$sent" "malformed heads that the audit shows went upstream"
lab_stop_sluice
