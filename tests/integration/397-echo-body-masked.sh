#!/bin/bash
# An upstream that echoes the request in its body (upstream.py's /echo:
# the headers and the path, as JSON) does not hand the client the
# credentials sluice injected: over HTTP/1.1 and h2, every form of each
# secret (bearer's value, basic's user:password and base64, a header's
# value, the query's percent-encoding, and a value as JSON escapes it: a
# quote, a backslash) is replaced by '*' of the same length, so the body
# is as long as the upstream's (Content-Length as it sent it) and still
# the same JSON, with stars where the secrets were.  The upstream did get
# every secret.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_rules_sql "
	INSERT INTO secrets (name, value) VALUES ('b', 'tok-397/a+b='), ('u', 'u397:pw/397'),
		('h', 'hk\"397\\x'), ('q', 'q 397&k/v');
	INSERT INTO rules (id, host, path, action) VALUES
		(1, 'api.test', '/echo/a', 'allow'), (2, 'api.test', '/echo/b', 'allow');
	INSERT INTO injections (rule_id, kind, name, secret) VALUES (1, 'bearer', NULL, 'b'),
		(1, 'header', 'X-Key', 'h'), (1, 'query', 'key', 'q'), (2, 'basic', NULL, 'u')" ||
	fail "inserting the rules"
lab_start_sluice --default-policy deny

# check NAME: response NAME (lab_get) is an /echo answer as long as the
# upstream's, the same JSON, with no five bytes in a row of any secret's
# forms; prints its Authorization, X-Key and path.
check() {
	"$LAB_PY" - "$LAB_DIR/$1.body" "$LAB_REQLOG" "$(lab_hval "$1" Content-Length)" <<'PY' ||
import base64, json, sys
body = open(sys.argv[1], "rb").read()
d = json.loads(body)
sent = [a["length"] for a in map(json.loads, open(sys.argv[2], encoding="utf-8"))
        if a["event"] == "answer" and a["req"] == d["req"]]
if sent != [len(body)] or sys.argv[3] not in ("", str(len(body))):
    sys.exit("%d bytes, Content-Length %r; the upstream sent %r" % (len(body), sys.argv[3], sent))
forms = [b"tok-397/a+b=", b'hk"397\\x', b'hk\\"397\\\\x', b"q%20397%26k%2Fv", b"q 397&k/v",
         b"u397:pw/397", base64.b64encode(b"u397:pw/397")]
for f in forms:
    for i in range(len(f) - 4):
        if f[i:i + 5] in body:
            sys.exit("%r of %r in %r" % (f[i:i + 5], f, body))
h = {k.lower(): v for k, v in d["headers"]}
print("%s|%s|%s" % (h.get("authorization"), h.get("x-key"), d["path"]))
PY
		fail "response $1: $(cat "$LAB_DIR/$1.body")"
}
stars() { printf '%*s' "$1" '' | tr ' ' '*'; }

for v in --http1.1 --http2; do
	assert_eq 200 "$(lab_get a "$v" 'https://api.test/echo/a?x=1')" "status of /echo/a ($v)"
	assert_eq "Bearer $(stars 12)|$(stars 10)|/echo/a?x=1&key=$(stars 15)" "$(check a)" \
		"Authorization, X-Key and path /echo/a echoed ($v)"
	assert_eq "Bearer tok-397/a+b=|hk\"397\\x" \
		"$(lab_json "$(lab_upseen "$(cat "$LAB_DIR/a.body")")" \
		'"|".join(v for k, v in d["headers"] if k in ("Authorization", "X-Key"))')" \
		"Authorization and X-Key the upstream got ($v)"
	assert_eq 200 "$(lab_get b "$v" https://api.test/echo/b)" "status of /echo/b ($v)"
	assert_eq "Basic $(stars 16)|None|/echo/b" "$(check b)" "Authorization /echo/b echoed ($v)"
done
assert_eq 4 "$(lab_audit_wait 4)" "audit rows"
lab_stop_sluice
