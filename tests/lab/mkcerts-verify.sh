#!/bin/bash
# mkcerts-verify.sh DIR CA_BASE ADDR IPDNS_ADDR - the certificates of the
# upstream verification matrix (tests/integration/41*): each is wrong in one
# way, or right, for the name upstream.py serves it under.
#
# CA_BASE.crt and CA_BASE.key are the lab's trusted upstream CA
# (mkcerts.sh's DIR/ca), which sluice trusts.  Writes:
#   DIR/verify/NAME.crt, NAME.key  served for SNI NAME (the chain after the
#                                  leaf); LAB_VFY_CASES in lab.sh says what
#                                  each is made to test
#   DIR/verify/default.*           no SNI: IP:ADDR (and DNS:good.test)
#   DIR/ipdns/default.*            no SNI: DNS:IPDNS_ADDR (its address
#                                  spelled as a DNS name) and IP:ADDR
#   DIR/inter.crt                  the intermediate CA, for a trust store
#                                  that holds it
# Keys are EC P-256 unless the case is the key.
set -euo pipefail

dir=${1:?usage: mkcerts-verify.sh DIR CA_BASE ADDR IPDNS_ADDR}
ca=${2:?}
addr=${3:?}
ipdns=${4:?}
out=$dir/verify
work=$dir/work

mkdir -p "$out" "$dir/ipdns" "$work"
umask 077
: >"$work/index.txt"
echo 1000 >"$work/serial"
cat >"$work/ca.cnf" <<EOF
[ca]
default_ca = d
[d]
database = $work/index.txt
new_certs_dir = $work
serial = $work/serial
default_md = sha256
policy = p
unique_subject = no
[p]
organizationName = optional
commonName = supplied
EOF

# mkcert ISSUER OUT CN EXT... : OUT.crt and OUT.key, issued by ISSUER (a
# prefix of .crt and .key) with extensions EXT (lines of an extfile).
# KEY (an openssl genpkey -algorithm/-pkeyopt list), MD, START and END
# (YYYYMMDDHHMMSSZ) override the defaults.
mkcert() {
	local issuer=$1 o=$2 cn=$3 dates=(-days 30)
	shift 3
	printf '%s\n' "$@" >"$work/ext"
	[ -z "${START:-}" ] || dates=(-startdate "$START" -enddate "$END")
	# shellcheck disable=SC2086
	openssl genpkey ${KEY:--algorithm EC -pkeyopt ec_paramgen_curve:P-256} \
		-out "$o.key" 2>/dev/null
	openssl req -new -key "$o.key" -subj "/O=sluice tests/CN=$cn" \
		-out "$work/csr" 2>/dev/null
	openssl ca -config "$work/ca.cnf" -batch -notext -preserveDN \
		-cert "$issuer.crt" -keyfile "$issuer.key" -md "${MD:-sha256}" \
		"${dates[@]}" -extfile "$work/ext" -in "$work/csr" -out "$o.crt" \
		2>"$work/err" || { cat "$work/err" >&2; return 1; }
	chmod 0644 "$o.crt"
}

leaf_ext=("basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature")
server=("${leaf_ext[@]}" "extendedKeyUsage=serverAuth")

# leaf NAME SAN [EXT...]: verify/NAME, issued by the CA ("" SAN: none).
leaf() {
	local n=$1 san=$2
	shift 2
	mkcert "$ca" "$out/$n" "$n" "${server[@]}" ${san:+"subjectAltName=$san"} "$@"
}

# same NAME OTHER: verify/NAME serves OTHER's certificate.
same() {
	cp "$out/$2.crt" "$out/$1.crt"
	cp "$out/$2.key" "$out/$1.key"
}

leaf good.test DNS:good.test
leaf default "IP:$addr,DNS:good.test"
mkcert "$ca" "$dir/ipdns/default" ipdns "${server[@]}" \
	"subjectAltName=DNS:$ipdns,IP:$addr"

# Names
mkcert "$ca" "$out/wrong-name.test" other.test "${server[@]}" \
	"subjectAltName=DNS:other.test"
leaf cn-only.test DNS:other.test	# the CN matches, the SAN does not
leaf cn-nosan.test ""			# the CN matches, no SAN at all
mkcert "$ca" "$out/a.wild.test" "*.wild.test" "${server[@]}" \
	"subjectAltName=DNS:*.wild.test"
same a.b.wild.test a.wild.test
same wild.test a.wild.test
leaf ab.part.test "DNS:a*.part.test"
leaf ab.test "DNS:a*.test"
leaf star.test "DNS:*.test"

# Dates
START=20200101000000Z END=20210101000000Z leaf expired.test DNS:expired.test
START=20400101000000Z END=20410101000000Z leaf notyet.test DNS:notyet.test

# Chains: an intermediate CA, and a leaf (CA:FALSE) that issues a leaf.
mkcert "$ca" "$dir/inter" "sluice test intermediate CA" \
	"basicConstraints=critical,CA:TRUE,pathlen:0" \
	"keyUsage=critical,keyCertSign,cRLSign"
mkcert "$dir/inter" "$out/chain.test" chain.test "${server[@]}" \
	"subjectAltName=DNS:chain.test"
cat "$dir/inter.crt" >>"$out/chain.test.crt"
mkcert "$dir/inter" "$out/no-intermediate.test" no-intermediate.test \
	"${server[@]}" "subjectAltName=DNS:no-intermediate.test"
mkcert "$ca" "$work/issuer" issuer.test "basicConstraints=critical,CA:FALSE" \
	"keyUsage=critical,digitalSignature,keyCertSign" \
	"extendedKeyUsage=serverAuth" "subjectAltName=DNS:issuer.test"
mkcert "$work/issuer" "$out/leaf-signed.test" leaf-signed.test \
	"${server[@]}" "subjectAltName=DNS:leaf-signed.test"
cat "$work/issuer.crt" >>"$out/leaf-signed.test.crt"

# Purpose and strength
mkcert "$ca" "$out/eku-client.test" eku-client.test "${leaf_ext[@]}" \
	"extendedKeyUsage=clientAuth" "subjectAltName=DNS:eku-client.test"
KEY="-algorithm RSA -pkeyopt rsa_keygen_bits:1024" leaf rsa1024.test DNS:rsa1024.test
MD=sha1 leaf sha1.test DNS:sha1.test
leaf tls11.test DNS:tls11.test

rm -rf "$work"
