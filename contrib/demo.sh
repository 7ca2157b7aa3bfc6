#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The main job end to end on one machine (Debian 12, as root):
#   1. real AMD-signed evidence from tests/data is verified offline against AMD's roots;
#   2. a verifier (kagi-verifier) on 127.0.0.1 with a generated PKI and policy; a LUKS2 image
#      enrolled through the verifier's admin API (kagi enroll);
#   3. the agent (kagi unlock) in a "confidential VM" played by swtpm (the vTPM) and the
#      TEST-ONLY SNP stand-in (configfs-tsm semantics, FUSE; guest at VMPL 2 under an SVSM):
#      it attests, the key is released to that TPM only, and proven to open the image;
#   4. the same VM booted with another kernel command line (PCR 8 changes) is refused, with
#      the reason.
# The world of steps 2-4 is built by tests/integration/fixtures.sh, the same code the
# integration tests (protocol.sh, refusals.sh, no-key-leak.sh) use.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
contrib/install-deps.sh

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*" >&2; "$@"; } # the command on stderr: its output may be redirected
die() {
	echo "demo: $*" >&2
	exit 1
}

say "build (meson, with the TEST-ONLY SNP stand-in)"
build=${KAGI_DEMO_BUILD:-build-demo}
if [[ ! -f $build/build.ninja ]]; then
	meson setup "$build" -Dsnp-standin=true >/dev/null
fi
ninja -C "$build" agent/kagi contrib/kagictl contrib/kagi-verifier \
	tests/snp-standin/kagi-snp-standin >/dev/null
K=$top/$build/contrib/kagictl
A=$top/$build/agent/kagi
D=$top/tests/data

say "1. real AMD-signed SNP reports, verified against AMD's roots (contrib/amd-roots)"
run "$K" report verify "$D/snp/virtee-sev/report_milan.bin" --vcek "$D/snp/virtee-sev/vcek_milan.der" \
	--amd-roots contrib/amd-roots
run "$K" report verify "$D/snp/oak/genoa_oc_report.bin" --vcek "$D/snp/oak/genoa_oc_vcek.der" \
	--amd-roots contrib/amd-roots --at 2025-09-01T00:00:00Z
echo "# one flipped bit in the signed part:"
run "$K" report verify "$D/snp/negative/virtee_report_milan_byte21_xor80.bin" \
	--vcek "$D/snp/virtee-sev/vcek_milan.der" --amd-roots contrib/amd-roots || true
echo "# a real event log replayed, and a real quote checked against it:"
pcrs=$(mktemp /tmp/kagi-demo-pcrs.XXXXXX)
run "$K" eventlog replay "$D/tpmquote/go-tpm-tools/gce-cos-85-nonce9009/eventlog.bin" --json >"$pcrs"
echo "replayed $(jq '[.[] | length] | add' "$pcrs") PCR values in $(jq -r 'keys | join(", ")' "$pcrs")"
rm -f "$pcrs"
Q=$D/tpmquote/go-tpm-tools/gce-cos-85-nonce9009
run "$K" quote verify --attest "$Q/quote_sha256.attest.bin" --sig "$Q/quote_sha256.sig.tpmt_signature.bin" \
	--ak "$Q/ak_pub.pem" --nonce 9009 --pcrs "$Q/pcrs_sha256.json"

# ---- the world of the protocol (tests/integration/fixtures.sh) ----
set +e # the fixtures check every step themselves
kagi=$A
kagictl=$K
standin=$top/$build/tests/snp-standin/kagi-snp-standin
verifier=$top/$build/contrib/kagi-verifier
src=$top
tmp=$(mktemp -d /tmp/kagi-demo.XXXXXX)
# shellcheck source=tests/integration/lib.sh
. tests/integration/lib.sh
# shellcheck source=tests/integration/fixtures.sh
. tests/integration/fixtures.sh
lib_init # every process started below is stopped on exit, the stand-in unmounted

say "2. the verifier: PKI, policy, key store; a LUKS2 image enrolled through the admin API"
fx_world || die "the fixtures could not be created (swtpm, stand-in, PKI)"
echo "TLS PKI (openssl):      server CA -> verifier cert (SAN IP:127.0.0.1); agents' CA -> agent"
echo "                        client cert; admin CA -> admin cert     (in $tmp/pki-tls)"
echo "verifier secrets:       token key and KEK ($K kek generate), 32 bytes, mode 0600"
echo "TEST-ONLY SNP PKI:      tests/snp-standin/mkcerts.sh (ARK -> ASK -> VCEK, not AMD's)"
echo "vTPM:                   swtpm on $TCTI, booted with a TCG event log:"
"$K" eventlog show "$EVENTLOG" | grep -B2 'string: kernel_cmdline' | sed 's/^/    /'
echo "confidential VM:        kagi-snp-standin --vmpl-floor 2 --tcti ... mounted on $TSM_DIR"
fx_luks root || die "could not create the LUKS2 image"
echo "LUKS2 image:            ${LUKS_IMG[root]} on ${LUKS_DEV[root]}, UUID ${LUKS_UUID[root]}"
POLICY_VTPM_VOLUMES=${LUKS_UUID[root]}
POLICY_DIRECT_VOLUMES=
fx_policy || die "policy"
echo "# the policy: the launch measurement, chip and TCB of the (stand-in) CPU, a vTPM, and"
echo "# PCR 8 = the kernel command line measured at boot:"
jq . "$POLICY"
fx_verifier_config
echo "# the verifier's configuration:"
cat "$VERIFIER_CONF"
fx_verifier_start || die "the verifier did not start (log: $VERIFIER_LOG)"
echo "kagi-verifier listens on $VERIFIER_URL (pid $VERIFIER_PID)"
printf '%s' "$FX_PASSPHRASE" | run "$A" enroll --device "${LUKS_DEV[root]}" --url "$VERIFIER_URL" \
	--ca "$TLS_SERVER_CA" --admin-cert "$TLS_ADMIN_CERT" --admin-key "$TLS_ADMIN_KEY" \
	--label "demo root volume" --passphrase-stdin || die "kagi enroll failed"
run "$K" key list --config "$VERIFIER_CONF"
before=$(sha256_of "${LUKS_IMG[root]}")

say "3. the agent in the VM: attest, receive the key, prove it opens the image"
fx_cmdline "$tmp/cmdline" vtpm "${LUKS_UUID[root]}"
echo "# the kernel command line the agent reads (rd.kagi.*):"
tr ' ' '\n' <"$tmp/cmdline" | grep '^rd\.kagi\.' | sed 's/^/    /'
echo "PCR 15 before: $(pcr_read main 15)"
run "$A" unlock --cmdline "$tmp/cmdline" --check-only \
	--device "${LUKS_UUID[root]}=${LUKS_DEV[root]}" || die "kagi unlock failed"
echo "PCR 15 after:  $(pcr_read main 15)   (this boot can never attest again)"
if [[ $(sha256_of "${LUKS_IMG[root]}") == "$before" ]]; then
	echo "the image is byte-identical (check only: the key was tried against the keyslots)"
else
	die "the image changed"
fi
echo "# the verifier's audit log:"
tail -n 1 "$AUDIT_LOG" | jq -c .

say "4. the same VM booted with another kernel command line: PCR 8 differs from the policy"
fx_tpm_boot main cmdline2 || die "TPM reset failed"
"$K" eventlog show "$EVENTLOG_CMDLINE2" | grep -B2 'string: kernel_cmdline' | sed 's/^/    /'
fx_cmdline "$tmp/cmdline2" vtpm "${LUKS_UUID[root]}" -- "rd.kagi.eventlog=$EVENTLOG_CMDLINE2"
run "$A" unlock --cmdline "$tmp/cmdline2" --check-only \
	--device "${LUKS_UUID[root]}=${LUKS_DEV[root]}" && die "the changed boot was granted"
echo "# the verifier's audit log:"
tail -n 1 "$AUDIT_LOG" | jq -c .

say "done: the key was released only to the attested VM and opened its disk; a changed boot was refused"
