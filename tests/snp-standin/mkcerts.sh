#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# mkcerts.sh: TEST ONLY. Creates a throw-away PKI shaped like AMD's SEV-SNP chain
# (ARK -> ASK -> VCEK, RSA-PSS SHA-384 signatures, the VCEK extensions of shared/spec 4.2)
# for kagi-snp-standin. Nothing here chains to AMD: a verifier configured with AMD's roots
# rejects every certificate and report made from it.
#
# Usage: mkcerts.sh OUTDIR [--product Milan|Genoa|Turin] [--tcb bl,tee,snp,ucode[,fmc]]
#                          [--hwid HEX64] [--days N] [--rsa-bits N]
# Writes: ark.pem ask.pem chain.pem (ASK then ARK, like KDS cert_chain) vcek.pem vcek.der
#         vcek-key.pem, and the CA keys ark-key.pem ask-key.pem.
set -eu

prog=mkcerts.sh
usage() {
	echo "usage: $prog OUTDIR [--product Milan|Genoa|Turin] [--tcb bl,tee,snp,ucode[,fmc]]" >&2
	echo "       [--hwid HEX64 (128 hex digits)] [--days N] [--rsa-bits N (ARK/ASK, default 4096)]" >&2
	exit 2
}
die() {
	echo "$prog: $*" >&2
	exit 1
}

[ $# -ge 1 ] || usage
case $1 in -*) usage ;; esac
out=$1
shift
product=Milan
tcb=
hwid=
days=730
rsa_bits=4096
while [ $# -gt 0 ]; do
	case $1 in
	--product) [ $# -ge 2 ] || usage; product=$2; shift 2 ;;
	--product=*) product=${1#*=}; shift ;;
	--tcb) [ $# -ge 2 ] || usage; tcb=$2; shift 2 ;;
	--tcb=*) tcb=${1#*=}; shift ;;
	--hwid) [ $# -ge 2 ] || usage; hwid=$2; shift 2 ;;
	--hwid=*) hwid=${1#*=}; shift ;;
	--days) [ $# -ge 2 ] || usage; days=$2; shift 2 ;;
	--days=*) days=${1#*=}; shift ;;
	--rsa-bits) [ $# -ge 2 ] || usage; rsa_bits=$2; shift 2 ;;
	--rsa-bits=*) rsa_bits=${1#*=}; shift ;;
	*) usage ;;
	esac
done

command -v openssl >/dev/null 2>&1 || die "openssl not found"
case $days in '' | *[!0-9]*) die "--days: '$days' is not a number" ;; esac
case $rsa_bits in 2048 | 3072 | 4096) ;; *) die "--rsa-bits: 2048, 3072 or 4096" ;; esac

# productName with stepping, and a plausible default TCB (bl,tee,snp,ucode[,fmc]) per product
case $product in
Milan) pname=Milan-B0; deftcb=3,0,8,115 ;;
Genoa) pname=Genoa-B1; deftcb=7,0,14,72 ;;
Turin) pname=Turin-B0; deftcb=1,1,1,48,1 ;;
*) die "unknown product '$product' (Milan, Genoa or Turin)" ;;
esac
[ -n "$tcb" ] || tcb=$deftcb

old_ifs=$IFS
IFS=,
# shellcheck disable=SC2086
set -- $tcb
IFS=$old_ifs
[ $# -eq 4 ] || [ $# -eq 5 ] || die "--tcb wants bl,tee,snp,ucode[,fmc], got '$tcb'"
for v in "$@"; do
	case $v in '' | *[!0-9]*) die "--tcb: '$v' is not a number" ;; esac
	[ "$v" -le 255 ] || die "--tcb: $v > 255"
done
bl=$1 tee=$2 snp=$3 ucode=$4 fmc=${5:-}
[ -z "$fmc" ] || [ "$product" = Turin ] || die "--tcb: fmc exists only on Turin"

if [ -n "$hwid" ]; then
	case $hwid in *[!0-9a-fA-F]*) die "--hwid: not hex" ;; esac
	[ ${#hwid} -eq 128 ] || die "--hwid: want 64 bytes (128 hex digits), got ${#hwid} digits"
elif [ "$product" = Turin ]; then
	# Turin CHIP_IDs carry 8 significant bytes; the rest is zero
	hwid=$(openssl rand -hex 8)$(printf '%0112d' 0)
else
	hwid=$(openssl rand -hex 64)
fi

mkdir -p "$out"
umask 077
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kagi-mkcerts.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

dn_tail="/OU=kagi TEST ONLY/O=kagi SNP stand-in"
pss="-sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:48 -sigopt rsa_mgf1_md:sha384"
serial() { echo "0x$(openssl rand -hex 8)"; }

cat >"$tmp/openssl.cnf" <<EOF
[ req ]
distinguished_name = req_dn
prompt = no
[ req_dn ]
CN = unused
[ ark_ext ]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ ask_ext ]
basicConstraints = critical, CA:true, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[ vcek_ext ]
# like AMD's VCEKs: only the AMD extensions
subjectKeyIdentifier = none
authorityKeyIdentifier = none
1.3.6.1.4.1.3704.1.1 = ASN1:INTEGER:1
1.3.6.1.4.1.3704.1.2 = ASN1:IA5STRING:$pname
1.3.6.1.4.1.3704.1.3.1 = ASN1:INTEGER:$bl
1.3.6.1.4.1.3704.1.3.2 = ASN1:INTEGER:$tee
1.3.6.1.4.1.3704.1.3.4 = ASN1:INTEGER:0
1.3.6.1.4.1.3704.1.3.5 = ASN1:INTEGER:0
1.3.6.1.4.1.3704.1.3.6 = ASN1:INTEGER:0
1.3.6.1.4.1.3704.1.3.7 = ASN1:INTEGER:0
1.3.6.1.4.1.3704.1.3.3 = ASN1:INTEGER:$snp
1.3.6.1.4.1.3704.1.3.8 = ASN1:INTEGER:$ucode
EOF
[ -z "$fmc" ] || echo "1.3.6.1.4.1.3704.1.3.9 = ASN1:INTEGER:$fmc" >>"$tmp/openssl.cnf"
echo "1.3.6.1.4.1.3704.1.4 = ASN1:FORMAT:HEX,OCTETSTRING:$hwid" >>"$tmp/openssl.cnf"

q() { "$@" >"$tmp/log" 2>&1 || { cat "$tmp/log" >&2; die "failed: $1 $2"; }; }

# ARK: RSA (4096 like AMD's unless --rsa-bits), self-signed with RSA-PSS SHA-384 (MGF1 SHA-384, salt 48)
q openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:"$rsa_bits" -out "$out/ark-key.pem"
# shellcheck disable=SC2086
q openssl req -x509 -new -key "$out/ark-key.pem" -subj "/CN=ARK-$product$dn_tail" \
	-config "$tmp/openssl.cnf" -extensions ark_ext -set_serial "$(serial)" -days 3650 \
	-sha384 $pss -out "$out/ark.pem"

# ASK: RSA, signed by the ARK
q openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:"$rsa_bits" -out "$out/ask-key.pem"
q openssl req -new -key "$out/ask-key.pem" -subj "/CN=SEV-$product$dn_tail" \
	-config "$tmp/openssl.cnf" -out "$tmp/ask.csr"
# shellcheck disable=SC2086
q openssl x509 -req -in "$tmp/ask.csr" -CA "$out/ark.pem" -CAkey "$out/ark-key.pem" \
	-set_serial "$(serial)" -days 3650 -sha384 $pss \
	-extfile "$tmp/openssl.cnf" -extensions ask_ext -out "$out/ask.pem"

# VCEK: EC P-384, signed by the ASK, with the AMD extensions
q openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$out/vcek-key.pem"
q openssl req -new -key "$out/vcek-key.pem" -subj "/CN=SEV-VCEK$dn_tail" \
	-config "$tmp/openssl.cnf" -out "$tmp/vcek.csr"
# shellcheck disable=SC2086
q openssl x509 -req -in "$tmp/vcek.csr" -CA "$out/ask.pem" -CAkey "$out/ask-key.pem" \
	-set_serial "$(serial)" -days "$days" -sha384 $pss \
	-extfile "$tmp/openssl.cnf" -extensions vcek_ext -out "$out/vcek.pem"
q openssl x509 -in "$out/vcek.pem" -outform DER -out "$out/vcek.der"

cat "$out/ask.pem" "$out/ark.pem" >"$out/chain.pem"
chmod 0644 "$out/ark.pem" "$out/ask.pem" "$out/chain.pem" "$out/vcek.pem" "$out/vcek.der"

# the chain must verify with the ARK as the only anchor (not -x509_strict: like AMD's, the
# VCEK has no authority key identifier)
q openssl verify -CAfile "$out/ark.pem" -untrusted "$out/ask.pem" "$out/vcek.pem"

echo "$prog: TEST ONLY $pname PKI in $out (TCB bl=$bl tee=$tee snp=$snp ucode=$ucode${fmc:+ fmc=$fmc})"
