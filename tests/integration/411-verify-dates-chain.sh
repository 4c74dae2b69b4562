#!/bin/bash
# An upstream certificate must be valid now and chain to a trusted CA
# through CAs: expired, not yet valid, issued by a leaf, or missing the
# intermediate the server did not send, it is a 502 naming OpenSSL's
# reason; a server that sends its intermediate passes, and so does one that
# does not once the trust store holds the intermediate.
. "$(dirname "$0")/../lab/lab.sh"
lab_verify_up
proxy=http://$LAB_GL4:$LAB_CONNECT_PORT
noissuer="unable to get local issuer certificate"

for via in "" --proxy --http2; do
	args=()
	[ "$via" = --proxy ] && args=(--proxy "$proxy")
	[ "$via" = --http2 ] && args=(--http2)
	lab_verify_case expired.test 502 "certificate has expired" "${args[@]}"
	lab_verify_case notyet.test 502 "certificate is not yet valid" "${args[@]}"
	lab_verify_case leaf-signed.test 502 "invalid CA certificate" "${args[@]}"
	lab_verify_case no-intermediate.test 502 "$noissuer" "${args[@]}"
	lab_verify_case chain.test 200 "" "${args[@]}"
done

# --upstream-ca holding the intermediate: the chain is complete.
lab_stop_sluice
cat "$LAB_DIR/certs/inter.crt" >>"$LAB_DIR/certs/ca.crt"
lab_start_sluice --default-policy allow
lab_verify_case no-intermediate.test 200 ""
lab_verify_case leaf-signed.test 502 "invalid CA certificate"
lab_stop_sluice
