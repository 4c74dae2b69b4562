#!/bin/bash
# An upstream certificate must name the host sluice verified: the SNI (or
# the CONNECT host), or without SNI the address dialled.  Each refusal is a
# 502 naming OpenSSL's reason, audited and logged, with nothing of the
# upstream's answer at the client and nothing of the request at the
# upstream.
. "$(dirname "$0")/../lab/lab.sh"
lab_verify_up
mismatch="hostname mismatch"

lab_verify_case good.test 200 ""
lab_verify_case wrong-name.test 502 "$mismatch"		# CN and SAN other.test
lab_verify_case cn-only.test 502 "$mismatch"		# a SAN, so the CN is ignored
lab_verify_case cn-nosan.test 502 "$mismatch"		# no SAN: the CN is not enough

# Wildcards: one whole label, the leftmost, not the last two.
lab_verify_case a.wild.test 200 ""			# *.wild.test
lab_verify_case a.b.wild.test 502 "$mismatch"		# *.wild.test covers one label
lab_verify_case wild.test 502 "$mismatch"		# ... and not none
lab_verify_case ab.part.test 502 "$mismatch"		# a*.part.test: partial
lab_verify_case ab.test 502 "$mismatch"			# a*.test
lab_verify_case star.test 502 "$mismatch"		# *.test

# No SNI: the certificate must carry the address as an IP SAN.
lab_verify_case "$LAB_VFY4" 200 ""			# IP:$LAB_VFY4
lab_verify_case "$LAB_VFY_IPDNS4" 502 "IP address mismatch"	# DNS:$LAB_VFY_IPDNS4 only

# The same through the explicit proxy and over HTTP/2.
proxy=http://$LAB_GL4:$LAB_CONNECT_PORT
lab_verify_case good.test 200 "" --proxy "$proxy"
lab_verify_case wrong-name.test 502 "$mismatch" --proxy "$proxy"
lab_verify_case cn-only.test 502 "$mismatch" --proxy "$proxy"
lab_verify_case a.b.wild.test 502 "$mismatch" --proxy "$proxy"
lab_verify_case "$LAB_VFY_IPDNS4" 502 "IP address mismatch" --proxy "$proxy"
lab_verify_case good.test 200 "" --http2
lab_verify_case wrong-name.test 502 "$mismatch" --http2
lab_verify_case ab.part.test 502 "$mismatch" --http2
lab_verify_case wrong-name.test 502 "$mismatch" --http2 --proxy "$proxy"
lab_stop_sluice
