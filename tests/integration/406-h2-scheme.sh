#!/bin/bash
# Every client connection is TLS, so an h2 request whose :scheme is not
# https asks for another origin (http://api.test is port 80's): it gets
# 400 and reaches no upstream, where a framework would otherwise build
# http:// links or skip its https-only checks.  "https" in any case is
# forwarded, always as :scheme https.  On both listeners; an HTTP/1.1
# request has no scheme but an absolute target's, refused the same way.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_rules_sql "INSERT INTO rules (id, host, action) VALUES (1, 'api.test', 'allow');" ||
	fail "inserting the rule"
lab_start_h2cache 4446
lab_start_sluice --default-policy deny --resolve "api.test:443:$LAB_U4:4446"

n=0
for via in transparent connect; do
	if [ $via = connect ]; then
		to=(--connect api.test:443 --proxy "$LAB_GL4:$LAB_CONNECT_PORT")
	else
		to=(--addr "$LAB_U4")
	fi
	while read -r want scheme; do
		n=$((n + 1))
		t=/406/$n
		assert_eq "$want" "$(lab_reqprobe_status "${to[@]}" --h2 "[[\":method\", \"GET\"],
			[\":scheme\", \"$scheme\"], [\":authority\", \"api.test\"], [\":path\", \"$t\"]]")" \
			"status of an h2 GET with :scheme $scheme ($via)"
		if [ "$want" = 200 ]; then
			assert_eq https "$(lab_h2cache_req "$t" 1 'h[":scheme"]')" \
				":scheme the upstream got for :scheme $scheme ($via)"
		else
			assert_eq 0 "$(lab_h2cache_req "$t" 0 '')" "requests forwarded for :scheme $scheme ($via)"
		fi
	done <<-EOF
	200 https
	200 HTTPS
	400 http
	400 ftp
	EOF
	assert_eq 400 "$(lab_reqprobe_status "${to[@]}" --h1 "GET http://api.test/406/h1 HTTP/1.1\r\nHost: api.test\r\nConnection: close\r\n\r\n")" \
		"status of an HTTP/1.1 GET for http://api.test ($via)"
done
assert_eq 4 "$(lab_audit_wait 4 "status = 400 AND path LIKE '/406/%'")" "audit rows of the refused h2 requests"
lab_stop_sluice
