#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The main job end to end on one machine (Debian 12, as root):
#   1. real AMD-signed evidence from tests/data is verified against AMD's roots;
#   2. a swtpm vTPM and the TEST-ONLY SNP stand-in (configfs-tsm semantics, FUSE) play the
#      confidential VM under an SVSM; the agent's real collectors gather an SNP report, the SVSM
#      vTPM report binding the TPM's EK, an AK, a quote and the PCRs;
#   3. everything collected is verified offline with kagictl, and the stand-in's evidence is
#      shown to be refused under AMD's roots.
# The verifier, key release and LUKS unlock join this demo as they land.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
contrib/install-deps.sh

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

say "build (meson, with the TEST-ONLY SNP stand-in)"
if [[ ! -f build-demo/build.ninja ]]; then
	meson setup build-demo -Dsnp-standin=true >/dev/null
fi
ninja -C build-demo >/dev/null
K=$top/build-demo/contrib/kagictl
A=$top/build-demo/agent/kagi
S=$top/build-demo/tests/snp-standin/kagi-snp-standin
D=$top/tests/data

tmp=$(mktemp -d /tmp/kagi-demo.XXXXXX)
swtpm_pid= standin_pid=
cleanup() {
	[[ -n $standin_pid ]] && kill -TERM "$standin_pid" 2>/dev/null && wait "$standin_pid" 2>/dev/null
	[[ -n $swtpm_pid ]] && kill "$swtpm_pid" 2>/dev/null && wait "$swtpm_pid" 2>/dev/null
	mountpoint -q "$tmp/tsm" 2>/dev/null && fusermount3 -u "$tmp/tsm"
	rm -rf "$tmp"
}
trap cleanup EXIT

say "1. real AMD-signed SNP reports, verified against AMD's roots (contrib/amd-roots)"
run "$K" report verify "$D/snp/virtee-sev/report_milan.bin" --vcek "$D/snp/virtee-sev/vcek_milan.der" \
	--amd-roots contrib/amd-roots
run "$K" report verify "$D/snp/oak/genoa_oc_report.bin" --vcek "$D/snp/oak/genoa_oc_vcek.der" \
	--amd-roots contrib/amd-roots --at 2025-09-01T00:00:00Z
echo "# one flipped bit in the signed part:"
run "$K" report verify "$D/snp/negative/virtee_report_milan_byte21_xor80.bin" \
	--vcek "$D/snp/virtee-sev/vcek_milan.der" --amd-roots contrib/amd-roots || true
echo "# a real event log replayed, and a real quote checked against it:"
run "$K" eventlog replay "$D/tpmquote/go-tpm-tools/gce-cos-85-nonce9009/eventlog.bin" --json >"$tmp/pcrs.json"
echo "replayed $(jq '[.[] | length] | add' "$tmp/pcrs.json") PCR values in $(jq -r 'keys | join(", ")' "$tmp/pcrs.json")"
Q=$D/tpmquote/go-tpm-tools/gce-cos-85-nonce9009
run "$K" quote verify --attest "$Q/quote_sha256.attest.bin" --sig "$Q/quote_sha256.sig.tpmt_signature.bin" \
	--ak "$Q/ak_pub.pem" --nonce 9009 --pcrs "$Q/pcrs_sha256.json"

say "2. a confidential VM played by swtpm + the TEST-ONLY SNP stand-in (guest at VMPL 2 under an SVSM)"
mkdir -p "$tmp/tpm" "$tmp/tsm"
port=$((20000 + RANDOM % 20000))
swtpm socket --tpm2 --tpmstate dir="$tmp/tpm" --server type=tcp,port=$port,bindaddr=127.0.0.1 \
	--ctrl type=tcp,port=$((port + 1)),bindaddr=127.0.0.1 --flags not-need-init,startup-clear &
swtpm_pid=$!
tcti="swtpm:host=127.0.0.1,port=$port"
run tests/snp-standin/mkcerts.sh "$tmp/pki" --product Genoa --rsa-bits 3072 >/dev/null
sleep 0.5
"$S" --vcek-key "$tmp/pki/vcek-key.pem" --vcek "$tmp/pki/vcek.der" --ask "$tmp/pki/ask.pem" \
	--ark "$tmp/pki/ark.pem" --vmpl-floor 2 --tcti "$tcti" "$tmp/tsm" -f 2>"$tmp/standin.log" &
standin_pid=$!
for _ in $(seq 50); do mountpoint -q "$tmp/tsm" && break; sleep 0.1; done
head -1 "$tmp/standin.log"
nonce=$(head -c 64 /dev/urandom | xxd -p -c 64)
run "$A" collect --tsm-dir "$tmp/tsm" --tcti "$tcti" --nonce "$nonce" --out-dir "$tmp/ev"
ls -l "$tmp/ev"

say "3. the collected evidence, verified offline"
echo "# the SVSM's report (VMPL 0) that binds the vTPM's EK, under the test ARK (trusted explicitly):"
run "$K" report verify "$tmp/ev/svsm-report.bin" --certs-from-aux "$tmp/ev/auxblob.bin" --chain "$tmp/pki/chain.pem"
exp=$( (xxd -r -p <<<"$nonce"; cat "$tmp/ev/manifest.bin") | sha512sum | cut -c1-128)
got=$("$K" report show "$tmp/ev/svsm-report.bin" --json | jq -r .report_data)
echo "REPORT_DATA == SHA-512(nonce || manifest): $([[ $exp == "$got" ]] && echo yes || echo NO)"
cmp -s "$tmp/ev/manifest.bin" "$tmp/ev/ek.tpmt" && echo "manifest == the EK recreated in the TPM: yes"
echo "# the quote, signed by the AK, over the PCRs, with the nonce:"
run "$K" quote verify --attest "$tmp/ev/quote.attest" --sig "$tmp/ev/quote.sig" --ak "$tmp/ev/ak.tpmt" \
	--nonce "$nonce" --pcrs "$tmp/ev/pcrs.json"
echo "# a replayed quote (wrong nonce) is refused:"
run "$K" quote verify --attest "$tmp/ev/quote.attest" --sig "$tmp/ev/quote.sig" --ak "$tmp/ev/ak.tpmt" \
	--nonce 00 || true
echo "# the stand-in is never trusted by a verifier configured with AMD's roots:"
run "$K" report verify "$tmp/ev/svsm-report.bin" --certs-from-aux "$tmp/ev/auxblob.bin" \
	--amd-roots contrib/amd-roots || true

say "done: evidence collected by the real collectors and verified; the stand-in refused under AMD's roots"
