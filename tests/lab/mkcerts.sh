#!/bin/bash
# mkcerts.sh DIR [EXTRA_SAN...] - certificates for the lab's test upstream.
#
# Writes, with the openssl command line only:
#   DIR/ca.crt, DIR/ca.key               the test upstream CA (sluice trusts it
#                                        through --upstream-ca)
#   DIR/trusted/NAME.crt, NAME.key       one leaf per lab name, signed by ca
#   DIR/trusted/default.crt, .key        SANs: every name plus EXTRA_SAN
#                                        (e.g. IP:10.77.2.2), for no/unknown SNI
#   DIR/untrusted-ca.crt, .key           a second CA that nobody trusts
#   DIR/untrusted/...                    the same layout, signed by it
# Keys are EC P-256 so a run costs a fraction of a second.  upstream.py picks
# the leaf by SNI from one of the two leaf directories.
set -euo pipefail

dir=${1:?usage: mkcerts.sh DIR [EXTRA_SAN...]}
shift
extra_san=("$@")

names_trusted=(api.test other.test pinned.test evil.test)
names_untrusted=(untrusted.test)

mkdir -p "$dir/trusted" "$dir/untrusted"
umask 077

mkca() {	# mkca BASENAME COMMON_NAME
	openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
		-nodes -keyout "$dir/$1.key" -out "$dir/$1.crt" -days 30 \
		-subj "/O=sluice tests/CN=$2" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" \
		-addext "subjectKeyIdentifier=hash" 2>/dev/null
	chmod 0644 "$dir/$1.crt"
}

mkleaf() {	# mkleaf CA_BASENAME OUT_PREFIX COMMON_NAME SAN
	local ext="$2.ext"
	printf '%s\n' \
		"basicConstraints=critical,CA:FALSE" \
		"keyUsage=critical,digitalSignature" \
		"extendedKeyUsage=serverAuth" \
		"subjectKeyIdentifier=hash" \
		"authorityKeyIdentifier=keyid" \
		"subjectAltName=$4" > "$ext"
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$2.key" -out "$2.csr" -subj "/O=sluice tests/CN=$3" \
		2>/dev/null
	openssl x509 -req -in "$2.csr" -CA "$dir/$1.crt" -CAkey "$dir/$1.key" \
		-CAcreateserial -CAserial "$dir/$1.srl" -days 30 \
		-extfile "$ext" -out "$2.crt" 2>/dev/null
	rm -f "$2.csr" "$ext"
	chmod 0644 "$2.crt"
}

mkset() {	# mkset CA_BASENAME CA_CN LEAFDIR NAME...
	local ca=$1 cn=$2 leafdir=$3 all="" n
	shift 3
	mkca "$ca" "$cn"
	for n in "$@"; do
		mkleaf "$ca" "$dir/$leafdir/$n" "$n" "DNS:$n"
		all="${all:+$all,}DNS:$n"
	done
	for n in "${extra_san[@]}"; do
		all="$all,$n"
	done
	mkleaf "$ca" "$dir/$leafdir/default" "default" "$all"
}

mkset ca "sluice test upstream CA" trusted "${names_trusted[@]}"
mkset untrusted-ca "sluice untrusted CA" untrusted "${names_untrusted[@]}" \
	"${names_trusted[@]}"
