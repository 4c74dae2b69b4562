#!/bin/bash
# Response cache, Vary with list-valued selecting fields (RFC 9111, 4.1):
# the request's value is compared as a list, so other spacing around the
# commas, or the same list split over two field lines, selects the stored
# response; another order does not.
. "$(dirname "$0")/../lab/lab.sh"
lab_cache_up
lab_start_sluice --default-policy deny

t='/cache/varylist?cc=max-age%3D60&vary=X-Foo'
u="https://api.test$t"
assert_eq 200 "$(lab_get a -H 'X-Foo: 1,2' "$u")" "status of the first GET"
assert_eq 200 "$(lab_get b -H 'X-Foo:  1 ,   2 ' "$u")" "status with other spacing"
lab_assert_cs b "sluice; hit" "the same list with other spacing"
assert_eq 200 "$(lab_get c -H 'X-Foo: 1' -H 'X-Foo: 2' "$u")" "status with two lines"
lab_assert_cs c "sluice; hit" "the same list in two field lines"
assert_eq 200 "$(lab_get d -H 'X-Foo: 2, 1' "$u")" "status with another order"
assert_eq "sluice; fwd=miss" "$(lab_hval d Cache-Status)" "another order is another variant"
assert_eq 2 "$(lab_uhits "$t")" "requests the upstream got"
lab_stop_sluice
