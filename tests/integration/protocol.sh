#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# protocol.sh: the attestation protocol end to end, happy paths. A real kagi-verifier (mutual
# TLS, SQLite store, file KEK, policy, audit log), the real agent (`kagi enroll`, `kagi unlock`),
# swtpm as the vTPM, the TEST ONLY SNP stand-in (SVSM mode, then direct mode) and real LUKS2
# images on loop devices:
#   - two images are enrolled through the admin API and listed by kagictl;
#   - vTPM path: `kagi unlock --check-only` is granted, recovers the key through
#     TPM2_ActivateCredential and proves it opens the image; the image is unchanged; the
#     boot-phase PCR 15 was extended;
#   - direct path (rd.kagi.no-tpm=1, stand-in without SVSM, a group without require_vtpm): the
#     key is released through ECDH and opens the other image;
#   - the audit log has one "granted" line per success.
# Prints TAP.
#
# Usage: protocol.sh KAGI KAGICTL KAGI-SNP-STANDIN
# Environment: KAGI_SOURCE_ROOT, KAGI_BUILD_ROOT (kagi-verifier, kagi-test).
set -u
export LC_ALL=C

kagi=${1:-}
kagictl=${2:-}
standin=${3:-}
src=${KAGI_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=tests/integration/lib.sh
. "$src/tests/integration/lib.sh"
# shellcheck source=tests/integration/fixtures.sh
. "$src/tests/integration/fixtures.sh"
fx_locate
fx_require

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kagi-protocol.XXXXXX")
lib_init
tap_plan 24

# ---- the world ----
if ! fx_world; then
	echo "Bail out! the fixtures could not be created (swtpm, stand-in, PKI)"
	exit 1
fi
ok "fixtures: TLS PKI, token key, KEK, stand-in PKI, swtpm, stand-in in SVSM mode"
replayed=$("$kagictl" eventlog replay "$EVENTLOG" --json 2>/dev/null | jq -c '.sha256 | {"0", "4", "7", "8", "9"}')
intpm=$(for p in 0 4 7 8 9; do printf '%s\n' "$p" "$(pcr_read main "$p")"; done |
	jq -Rn -c '[inputs] as $a | [range(0; $a | length; 2) | {key: $a[.], value: $a[. + 1]}] | from_entries')
check "the event log replays to the swtpm's PCRs 0, 4, 7, 8, 9" test -n "$replayed" -a "$replayed" = "$intpm"

if ! fx_luks root || ! fx_luks data; then
	echo "Bail out! could not create the LUKS2 images"
	exit 1
fi
POLICY_VTPM_VOLUMES=${LUKS_UUID[root]}
POLICY_DIRECT_VOLUMES=${LUKS_UUID[data]}
fx_policy
fx_verifier_config
if fx_verifier_start; then
	ok "kagi-verifier answers a challenge over mutual TLS on $VERIFIER_URL"
else
	not_ok "kagi-verifier answers a challenge over mutual TLS on $VERIFIER_URL"
	echo "Bail out! the verifier did not start"
	exit 1
fi

# ---- enrollment through the admin API ----
for v in root data; do
	if fx_enroll "$v"; then
		ok "kagi enroll adds a new key to image '$v' and registers it with the verifier"
	else
		diag "$tmp/enroll-$v.log"
		not_ok "kagi enroll adds a new key to image '$v' and registers it with the verifier"
	fi
done
"$kagictl" key list --config "$VERIFIER_CONF" >"$tmp/keylist.out" 2>"$tmp/keylist.err"
rc=$?
if [ $rc = 0 ] && grep -q -F "${LUKS_UUID[root]}" "$tmp/keylist.out" &&
	grep -q -F "${LUKS_UUID[data]}" "$tmp/keylist.out"; then
	ok "kagictl key list shows both enrolled volumes"
else
	diag "$tmp/keylist.out" "$tmp/keylist.err"
	not_ok "kagictl key list shows both enrolled volumes (exit $rc)"
fi
check "the passphrase still opens the image (enroll added a keyslot, removed none)" \
	cryptsetup open --test-passphrase --key-file <(printf '%s' "$FX_PASSPHRASE") "${LUKS_IMG[root]}"
check "image 'root' has two keyslots now" \
	test "$(cryptsetup luksDump --dump-json-metadata "${LUKS_IMG[root]}" 2>/dev/null | jq '.keyslots | length')" = 2

# ---- vTPM path ----
before_root=$(sha256_of "${LUKS_IMG[root]}")
granted0=$(audit_count granted)
pcr15_before=$(pcr_read main 15)
check "PCR 15 is all zero before the unlock" test "$pcr15_before" = "$(printf '%064d' 0)"
fx_agent vtpm "$kagi" vtpm root
if [ "$AGENT_RC" = 0 ]; then
	ok "kagi unlock --check-only (SVSM vTPM + swtpm + event log) exits 0"
else
	diag "$tmp/agent/vtpm.out" "$tmp/agent/vtpm.err"
	not_ok "kagi unlock --check-only (SVSM vTPM + swtpm + event log) exits 0 (exit $AGENT_RC)"
fi
if grep -q -E "$FX_UNLOCK_OK_RE" "$tmp/agent/vtpm.out" "$tmp/agent/vtpm.err"; then
	ok "... and says the released key opens volume ${LUKS_UUID[root]}"
else
	diag "$tmp/agent/vtpm.out" "$tmp/agent/vtpm.err"
	not_ok "... and says the released key opens volume ${LUKS_UUID[root]}"
fi
check "... and printed no refusal" eval "! grep -q 'refused' '$tmp/agent/vtpm.err'"
check "the image is byte-identical after the check-only unlock" \
	test "$(sha256_of "${LUKS_IMG[root]}")" = "$before_root"
want15=$(python3 -c 'import hashlib; print(hashlib.sha256(b"\0" * 32 + hashlib.sha256(b"kagi-boot-phase-v1\0unlocked").digest()).hexdigest())')
check "the boot-phase PCR 15 was extended with SHA-256(\"kagi-boot-phase-v1\\0unlocked\")" \
	test "$(pcr_read main 15)" = "$want15"
check "the audit log has one new \"granted\" line" test "$(audit_count granted)" = $((granted0 + 1))
check "... for group vtpm and the volume" jq -e -s --arg u "${LUKS_UUID[root]}" \
	'[.[] | select(.route == "/v1/attest" and .decision == "granted")] | last | .group == "vtpm" and .volumes == [$u]' "$AUDIT_LOG"

# ---- direct path (no vTPM) ----
if fx_standin_direct; then
	ok "stand-in remounted in direct mode (guest at VMPL 0, no SVSM)"
else
	not_ok "stand-in remounted in direct mode (guest at VMPL 0, no SVSM)"
fi
before_data=$(sha256_of "${LUKS_IMG[data]}")
fx_agent direct "$kagi" direct data
if [ "$AGENT_RC" = 0 ]; then
	ok "kagi unlock --check-only with rd.kagi.no-tpm=1 (ECDH key release) exits 0"
else
	diag "$tmp/agent/direct.out" "$tmp/agent/direct.err"
	not_ok "kagi unlock --check-only with rd.kagi.no-tpm=1 (ECDH key release) exits 0 (exit $AGENT_RC)"
fi
if grep -q -E "$FX_UNLOCK_OK_RE" "$tmp/agent/direct.out" "$tmp/agent/direct.err"; then
	ok "... and says the released key opens volume ${LUKS_UUID[data]}"
else
	diag "$tmp/agent/direct.out" "$tmp/agent/direct.err"
	not_ok "... and says the released key opens volume ${LUKS_UUID[data]}"
fi
check "the image is byte-identical after the direct-path unlock" \
	test "$(sha256_of "${LUKS_IMG[data]}")" = "$before_data"
check "the direct path left the TPM alone (PCR 15 unchanged)" test "$(pcr_read main 15)" = "$want15"
check "the audit log has exactly two \"granted\" lines" test "$(audit_count granted)" = $((granted0 + 2))
check "... the second for group direct and the volume" jq -e -s --arg u "${LUKS_UUID[data]}" \
	'[.[] | select(.route == "/v1/attest" and .decision == "granted")] | last | .group == "direct" and .volumes == [$u]' "$AUDIT_LOG"
check "every audit line is one JSON object with time, peer, route and decision" jq -e -s \
	'length > 0 and all(.[]; type == "object" and has("time") and has("peer") and has("route") and has("decision"))' \
	"$AUDIT_LOG"

fx_verifier_stop
tap_done
