#!/bin/bash
# A background revalidation's audit row names the host as the row of the
# request that started it does, without the port, also for an origin on
# another port than 443 (here api.test:8443 through CONNECT): one host
# for one origin in denied_recent, top_hosts and sluice-audit --host.
# For an HTTP/1.1 and an h2 client.
. "$(dirname "$0")/../lab/lab.sh"
lab_cache_up
lab_start_sluice --default-policy deny --resolve "api.test:8443:$LAB_U4:443"

proxy=http://$LAB_GL4:$LAB_CONNECT_PORT
for v in --http1.1 --http2; do
	t="/cache/408$v?cc=max-age%3D1%2C%20stale-while-revalidate%3D60&etag=e1"
	u="https://api.test:8443$t"
	assert_eq 200 "$(lab_get a$v --proxy "$proxy" $v "$u")" "status of the first GET ($v)"
	sleep 2.5
	assert_eq 200 "$(lab_get b$v --proxy "$proxy" $v "$u")" "status of the GET of the stale entry ($v)"
	lab_assert_cs b$v "sluice; hit; fwd=stale" "GET of the stale entry ($v)"
	assert_eq 1 "$(lab_audit_wait 1 "decision = 'revalidated' AND path = '$t'")" "revalidation rows ($v)"
	assert_eq "cached|api.test
forwarded|api.test
revalidated|api.test" "$(lab_audit_sql "SELECT decision, host FROM requests WHERE path = '$t' ORDER BY decision")" \
		"audit rows' hosts ($v)"
done
lab_stop_sluice
