#!/bin/bash
# HTTP/2 conformance of sluice's client side (RFC 9113, RFC 7541): every case
# of tests/lab/h2conform.py passes through the REDIRECT, and no request the
# RFC calls malformed (nor one whose header block does not decode) reaches
# the upstream.
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

# Each request carries h2conform=CASE in its query: the malformed ones must
# not be among those the upstream got, and a well-formed one must.  Three
# cases are malformed only by their body's length (8.1.1/1-3), which nobody
# knows until the DATA comes: sluice streams bodies, so their head may have
# gone upstream by then (it does under a sanitizer's timing); the stream is
# reset and the upstream leg closed, so no body is completed.
forwarded=$("$LAB_PY" - "$LAB_DIR/conform.jsonl" "$LAB_REQLOG" <<'PY'
import json, sys, urllib.parse
bad = set()
for line in open(sys.argv[1], encoding="utf-8"):
    d = json.loads(line)
    if "what" in d and ("malformed" in d["what"] or "COMPRESSION_ERROR" in d["what"]) \
            and d["id"] not in ("8.1.1/1", "8.1.1/2", "8.1.1/3"):
        bad.add(d["id"])
seen = set()
for line in open(sys.argv[2], encoding="utf-8"):
    d = json.loads(line)
    if d.get("event") == "request":
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(d["path"]).query))
        seen.add(q.get("h2conform"))
print(" ".join(sorted(seen & bad)) or "none", "8.1.1/4" in seen)
PY
)
assert_eq "none True" "$forwarded" \
	"malformed cases the upstream received, and whether it got the well-formed POST"
lab_stop_sluice
