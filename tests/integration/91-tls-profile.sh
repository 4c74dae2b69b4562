#!/bin/bash
# The forged endpoint offers clients TLS 1.2 and 1.3 with AEAD suites and
# forward secrecy only (Mozilla's intermediate profile for an ECDSA key):
# CBC suites (LUCKY13) and RSA key exchange are refused on TLS 1.2, and so
# is TLS 1.1; each AEAD suite and TLS 1.3 work.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up
lab_start_sluice --default-policy allow

# handshake ARGS...: a TLS handshake with api.test:443 from C (through the
# REDIRECT); prints the protocol and suite, "Protocol, Cipher", or, when
# the server refused, "refused: " and the alert it sent.
handshake() {
	local out
	out=$(lab_in_c timeout 10 openssl s_client -brief -4 \
		-connect api.test:443 -servername api.test \
		-CAfile "$LAB_DIR/ica/ca.crt" "$@" </dev/null 2>&1)
	if [ $? = 0 ] && [[ $out =~ Protocol\ version:\ (TLSv[0-9.]+) ]]; then
		printf '%s, ' "${BASH_REMATCH[1]}"
		[[ $out =~ Ciphersuite:\ ([A-Z0-9_-]+) ]]
		printf '%s\n' "${BASH_REMATCH[1]}"
	elif [[ $out =~ alert\ ([a-z ]+): ]]; then
		printf 'refused: %s\n' "${BASH_REMATCH[1]}"
	else
		printf 'failed: %s\n' "$out"
	fi
}

for c in ECDHE-ECDSA-AES128-GCM-SHA256 ECDHE-ECDSA-AES256-GCM-SHA384 \
	ECDHE-ECDSA-CHACHA20-POLY1305; do
	assert_eq "TLSv1.2, $c" "$(handshake -tls1_2 -cipher "$c")" "TLS 1.2 with $c"
done
for c in ECDHE-ECDSA-AES128-SHA ECDHE-ECDSA-AES256-SHA ECDHE-ECDSA-AES128-SHA256 \
	ECDHE-ECDSA-AES256-SHA384 AES128-GCM-SHA256 AES128-SHA; do
	assert_eq "refused: handshake failure" "$(handshake -tls1_2 -cipher "$c")" \
		"TLS 1.2 with $c"
done
# At its default security level (2 on Debian) s_client would not offer TLS 1.1.
assert_eq "refused: protocol version" "$(handshake -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0')" "TLS 1.1"
assert_eq "TLSv1.3, TLS_AES_128_GCM_SHA256" \
	"$(handshake -tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256)" "TLS 1.3"
lab_stop_sluice
