#!/bin/bash
# The overrides meet a deny in every spelling an upstream reads them in.
# X-HTTP-Method-Override: in any case, with spaces around it (Node and
# Rack trim them), as the first or a later element of a list (Express's
# method-override takes the first; another reader may take another), or
# percent-encoded: a deny of DELETE meets it (403, nothing forwarded; h2
# resets a stream whose field has spaces around its value).  So does a
# "_method" query parameter (Laravel, Symfony), its name or value
# encoded.  X-Original-URL: with dot segments, "//", "%2F", ";x", a
# trailing slash or another case, it meets a deny of its path as the
# request's own path would.  On both listeners, over HTTP/1.1 and h2.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_rules_sql "
	INSERT INTO rules (id, priority, host, method, path, action) VALUES
		(1, 10, 'api.test', 'DELETE', NULL, 'deny'),
		(2, 10, 'api.test', NULL, '/echo/admin*', 'deny'),
		(3, 20, 'api.test', NULL, '/echo/*', 'allow');" || fail "inserting the rules"
lab_start_sluice --default-policy deny --resolve "api.test:443:$LAB_U4"

n=0 sent=0
for via in transparent connect; do
	if [ $via = connect ]; then
		to=(--connect api.test:443 --proxy "$LAB_GL4:$LAB_CONNECT_PORT")
	else
		to=(--addr "$LAB_U4")
	fi
	while IFS='|' read -r want method name value; do
		n=$((n + 1))
		t=/echo/rw?m=$n h1f= h2f=
		if [ "$name" = "?" ]; then	# a query parameter
			t=$t\&$value
		else
			h1f="$name: $value\r\n"
			h2f=", [\"$(echo "$name" | tr A-Z a-z)\", $("$LAB_PY" -c \
				'import json, sys; print(json.dumps(sys.argv[1]))' "$value")]"
		fi
		out=$(lab_reqprobe_status "${to[@]}" \
			--h1 "$method $t HTTP/1.1\r\nHost: api.test\r\n${h1f}Content-Length: 0\r\nConnection: close\r\n\r\n" \
			--h2 "[[\":method\", \"$method\"], [\":scheme\", \"https\"], [\":authority\", \"api.test\"],
			       [\":path\", \"$t\"]$h2f]")
		assert_eq "${want%,*}
${want#*,}" "$out" "status of $method $t with '$name: $value' over HTTP/1.1, then h2 ($via)"
		[ "$want" = 200 ] && sent=$((sent + 2))
	done <<-'EOF'
	200|POST|X-HTTP-Method-Override|PATCH
	403|POST|X-HTTP-Method-Override|DELETE
	403|POST|X-HTTP-Method-Override|delete
	403|POST|X-HTTP-Method-Override|dElEtE
	403,0|POST|X-HTTP-Method-Override| DELETE 
	403|POST|X-HTTP-Method-Override|DEL%45TE
	403|POST|X-HTTP-Method-Override|%44%45%4c%45%54%45
	403|POST|X-HTTP-Method-Override|DELETE, GET
	403|POST|X-HTTP-Method-Override|GET,DELETE
	403|POST|X-HTTP-Method|DELETE,
	403|POST|X-Method-Override|PATCH , delete
	200|POST|X-HTTP-Method-Override|GET, PATCH
	200|POST|?|_method=PATCH
	403|POST|?|_method=DELETE
	403|POST|?|a=1;_method=delete
	403|POST|?|%5Fmethod=DEL%45TE
	200|POST|?|x_method=DELETE
	200|GET|X-Original-URL|/echo/ok
	403|GET|X-Original-URL|/echo/admin
	403|GET|X-Original-URL|/echo/ok/../admin
	403|GET|X-Original-URL|/echo/ok/%2e%2e/admin
	403|GET|X-Original-URL|//echo//admin
	403|GET|X-Original-URL|/echo/ok%2F..%2Fadmin
	403|GET|X-Original-URL|/echo%2Fadmin
	403|GET|X-Rewrite-URL|/echo/admin;x=1
	403|GET|X-Rewrite-URL|/echo/admin/
	403|GET|X-Rewrite-URL|/ECHO/Admin
	403|GET|X-Rewrite-URL|/echo/%61dmin?x=1
	EOF
done
assert_eq "$sent" "$(lab_upstream_hits /echo/)" "requests the upstream got (the 200s)"
lab_stop_sluice
