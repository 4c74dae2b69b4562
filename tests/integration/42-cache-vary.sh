#!/bin/bash
# Response cache and Vary: a response with "Vary: Accept-Language" is
# stored once per language: en, fr, en, fr reach the upstream twice and
# each language gets its own answer back; a request without the field is a
# variant of its own.  A response with "Vary: *" is never stored.
. "$(dirname "$0")/../lab/lab.sh"
lab_cache_up
lab_start_sluice --default-policy deny

# lang NAME: the Accept-Language the upstream saw for response NAME.
lang() { lab_json "$(cat "$LAB_DIR/$1.body")" \
	'next((v for k, v in d["headers"] if k.lower() == "accept-language"), "")'; }

t='/cache/vary?cc=max-age%3D60&vary=Accept-Language'
assert_eq 200 "$(lab_get en1 -H 'Accept-Language: en' "https://api.test$t")" "status (en, 1st)"
lab_assert_cs en1 "sluice; fwd=miss" "en, 1st"
assert_eq 200 "$(lab_get fr1 -H 'Accept-Language: fr' "https://api.test$t")" "status (fr, 1st)"
lab_assert_cs fr1 "sluice; fwd=miss" "fr, 1st (another variant)"
assert_eq 200 "$(lab_get en2 -H 'Accept-Language: en' "https://api.test$t")" "status (en, 2nd)"
lab_assert_cs en2 "sluice; hit" "en, 2nd"
assert_eq 200 "$(lab_get fr2 -H 'Accept-Language: fr' "https://api.test$t")" "status (fr, 2nd)"
lab_assert_cs fr2 "sluice; hit" "fr, 2nd"
assert_eq 2 "$(lab_uhits "$t")" "requests the upstream got for en, fr, en, fr"
assert_eq "1 en" "$(lab_bn en2) $(lang en2)" "counter and language of the answer to en, 2nd"
assert_eq "2 fr" "$(lab_bn fr2) $(lang fr2)" "counter and language of the answer to fr, 2nd"
assert_eq Accept-Language "$(lab_hval en2 Vary)" "Vary of a cached answer"

# Without the field: a variant of its own.
assert_eq 200 "$(lab_get no1 "https://api.test$t")" "status (no Accept-Language, 1st)"
lab_assert_cs no1 "sluice; fwd=miss" "no Accept-Language, 1st"
assert_eq "3 " "$(lab_bn no1) $(lang no1)" "counter and language (no Accept-Language, 1st)"
assert_eq 200 "$(lab_get no2 "https://api.test$t")" "status (no Accept-Language, 2nd)"
lab_assert_cs no2 "sluice; hit" "no Accept-Language, 2nd"
assert_eq 3 "$(lab_bn no2)" "counter (no Accept-Language, 2nd)"
assert_eq 200 "$(lab_get en3 -H 'Accept-Language: en' "https://api.test$t")" "status (en, 3rd)"
assert_eq "1 en" "$(lab_bn en3) $(lang en3)" "counter and language of the answer to en, 3rd"
assert_eq 3 "$(lab_uhits "$t")" "requests the upstream got"

# Vary: * is never stored.
t='/cache/star?cc=max-age%3D60&vary=*'
for i in 1 2; do
	assert_eq 200 "$(lab_get s$i -H 'Accept-Language: en' "https://api.test$t")" "status of GET $i (Vary: *)"
	assert_eq "$i" "$(lab_bn s$i)" "upstream counter in answer $i (Vary: *)"
done
lab_assert_cs s2 "sluice; fwd=miss" "second GET (Vary: *)"
assert_eq 2 "$(lab_uhits "$t")" "requests the upstream got for two GETs (Vary: *)"
lab_stop_sluice
