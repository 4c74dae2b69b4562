#!/bin/bash
# Response cache, freshness: s-maxage, then max-age, then Expires (minus
# Date), each capped at the policy's ttl_seconds; without any of them a
# response is fresh for ttl_seconds when heuristic = 1 and not at all when
# heuristic = 0 (then stored only with a validator, and revalidated on every
# use).  max-age=0, an Expires in the past and an invalid Expires make a
# response stale at once.  Each target is fetched twice; what is fresh at the
# second fetch reaches the upstream once, what is stale twice.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_rules_sql "
	INSERT INTO rules (id, host, path, action) VALUES
		(1, 'api.test', '/cache/f/*', 'allow'),
		(2, 'api.test', '/cache/t/*', 'allow'),
		(3, 'api.test', '/cache/h/*', 'allow');
	INSERT INTO cache_policies (rule_id, ttl_seconds, heuristic) VALUES
		(1, 60, 1), (2, 1, 1), (3, 60, 0);" ||
	fail "inserting the rules"
lab_start_sluice --default-policy deny

# notfresh NAME WHAT: response NAME was fetched (a stale entry without a
# validator is as good as none: fwd=miss or fwd=stale).
notfresh() {
	local v
	v=$(lab_hval "$1" Cache-Status)
	case $v in
	"sluice; fwd=miss" | "sluice; fwd=miss;"* | "sluice; fwd=stale" | "sluice; fwd=stale;"*) ;;
	*) fail "$2: Cache-Status '$v', expected 'sluice; fwd=miss' (or fwd=stale)" ;;
	esac
	assert_not_contains "$v" "fwd-status=304" "$2: Cache-Status"
}

fresh=(	# still fresh 2.5 s later
	'/cache/f/long?cc=max-age%3D60'
	'/cache/f/exp60?exp=60'
	'/cache/f/none'
	'/cache/f/smaxwins?cc=s-maxage%3D60,%20max-age%3D1'
	'/cache/f/maxwins?cc=max-age%3D60&exp=1'
	'/cache/h/long?cc=max-age%3D60'
)
stale=(	# stale 2.5 s later
	'/cache/f/smax?cc=s-maxage%3D1,%20max-age%3D60'
	'/cache/f/max1?cc=max-age%3D1'
	'/cache/f/exp1?exp=1'
	'/cache/f/maxexp?cc=max-age%3D1&exp=60'
	'/cache/t/long?cc=max-age%3D3600'
	'/cache/t/smax?cc=s-maxage%3D3600'
	'/cache/t/exp?exp=3600'
	'/cache/t/none'
)
never=(	# stale at once
	'/cache/f/max0?cc=max-age%3D0'
	'/cache/f/past?exp=-10'
	'/cache/f/badexp?exp=never'
	'/cache/h/none'
)

for t in "${fresh[@]}" "${stale[@]}" "${never[@]}" /cache/h/etag?etag=he; do
	assert_eq 200 "$(lab_get x "https://api.test$t")" "status of the first GET $t"
	assert_eq 1 "$(lab_bn x)" "upstream counter in the first GET $t"
done

for t in "${never[@]}"; do
	assert_eq 200 "$(lab_get x "https://api.test$t")" "status of the second GET $t"
	notfresh x "second GET $t (never fresh, no validator)"
	assert_eq 2 "$(lab_uhits "$t")" "requests the upstream got for $t (never fresh)"
done
# heuristic 0 and only a validator: stored, revalidated each time
t=/cache/h/etag?etag=he
assert_eq 200 "$(lab_get x "https://api.test$t")" "status of the second GET $t"
lab_assert_cs x "sluice; fwd=stale; fwd-status=304" "second GET $t (heuristic 0, ETag only)"
assert_eq 1 "$(lab_bn x)" "upstream counter in the second GET $t (the stored body)"
assert_eq 2 "$(lab_uhits "$t")" "requests the upstream got for $t"

sleep 2.5
for t in "${fresh[@]}"; do
	assert_eq 200 "$(lab_get x "https://api.test$t")" "status of the second GET $t"
	lab_assert_cs x "sluice; hit" "second GET $t 2.5 s later (still fresh)"
	assert_eq 1 "$(lab_uhits "$t")" "requests the upstream got for $t (still fresh)"
done
for t in "${stale[@]}"; do
	assert_eq 200 "$(lab_get x "https://api.test$t")" "status of the second GET $t"
	notfresh x "second GET $t 2.5 s later (stale, no validator)"
	assert_eq 2 "$(lab_bn x)" "upstream counter in the second GET $t (stale)"
done
lab_stop_sluice
