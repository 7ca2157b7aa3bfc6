#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# refusals.sh: one test per refusal of the attestation protocol, end to end: kagi-verifier,
# kagi-test (the agent with test hooks that tamper with its own evidence), swtpm, the TEST ONLY
# SNP stand-in and real LUKS2 images. For every refusal the agent must print the exact reason
# code (`kagi: refused: CODE: ...`), the verifier's audit log must record it, and nothing may be
# unlocked (non-zero exit, no success message, the boot-phase PCR untouched). TLS refusals end
# before any HTTP exchange: the agent reports a TLS error and the verifier grants nothing.
# Covered: token.replayed/invalid/expired; snp.signature/report_data/chain;
# snp.policy.debug/measurement/min_tcb/chip_id; svsm.signature/binding;
# tpm.quote.signature/nonce, tpm.eventlog, tpm.boot_phase; policy.pcr/event/vtpm_required;
# volume.revoked/not_allowed/unknown; no client certificate, a client certificate from an
# unknown CA; and an AK outside the EK's TPM (granted, but TPM2_ActivateCredential fails).
# Prints TAP.
#
# Usage: refusals.sh KAGI KAGICTL KAGI-SNP-STANDIN
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

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kagi-refusals.XXXXXX")
lib_init
tap_plan 81
# refusals should end fast: one attempt, short timeouts
FX_AGENT_TIMEOUT=30
ZERO=$(printf '%064d' 0)
BOOTED15=$(python3 -c 'import hashlib; print(hashlib.sha256(b"\0" * 32 + hashlib.sha256(b"kagi-boot-phase-v1\0unlocked").digest()).hexdigest())')

# ---- the world ----
if ! fx_world || ! fx_luks root || ! fx_luks revoked || ! fx_luks other || ! fx_luks unenrolled; then
	echo "Bail out! the fixtures could not be created"
	exit 1
fi
POLICY_VTPM_VOLUMES="${LUKS_UUID[root]} ${LUKS_UUID[revoked]} ${LUKS_UUID[unenrolled]}"
POLICY_DIRECT_VOLUMES=
fx_policy
fx_verifier_config
if fx_verifier_start; then
	ok "fixtures ready and kagi-verifier answers on $VERIFIER_URL"
else
	not_ok "fixtures ready and kagi-verifier answers on $VERIFIER_URL"
	echo "Bail out! the verifier did not start"
	exit 1
fi
enrolled=0
for v in root revoked other; do
	fx_enroll "$v" && enrolled=$((enrolled + 1)) || diag "$tmp/enroll-$v.log"
done
check "three images enrolled (two in group vtpm, one in no group; a fourth in the group is not)" \
	test $enrolled = 3

# not_unlocked NAME [PCR15]: the agent did not unlock: no success message, PCR 15 as expected
not_unlocked() {
	local name=$1 want=${2:-$ZERO}
	! grep -q -E "$FX_UNLOCK_OK_RE" "$tmp/agent/$name.out" "$tmp/agent/$name.err" &&
		[ "$(pcr_read main 15)" = "$want" ]
}
# refusal NAME CODE [PCR15] -- AGENT-ARGS (as for fx_agent, without NAME and BINARY):
# three tests: the agent prints the code and fails; the audit log has it; nothing was unlocked
refusal() {
	local name=$1 code=$2 want=$ZERO before granted first
	shift 2
	if [ "$1" != -- ]; then
		want=$1
		shift
	fi
	shift
	before=$(audit_count refused "$code")
	granted=$(audit_count granted)
	fx_agent "$name" "$kagi_test" "$@"
	first=$(sed -n 's/^kagi: refused: \([^:]*\):.*/\1/p' "$tmp/agent/$name.err" | head -n1)
	if [ "$AGENT_RC" != 0 ] && [ "$first" = "$code" ]; then
		ok "$name: the agent is refused with $code (exit $AGENT_RC)"
	else
		diag "$tmp/agent/$name.out" "$tmp/agent/$name.err"
		not_ok "$name: the agent is refused with $code (exit $AGENT_RC, first reason '$first')"
	fi
	if [ "$(audit_count refused "$code")" = $((before + 1)) ] &&
		[ "$(audit_count granted)" = "$granted" ]; then
		ok "$name: the audit log records one refusal with $code and no grant"
	else
		tail -n 3 "$AUDIT_LOG" 2>/dev/null | diag
		not_ok "$name: the audit log records one refusal with $code and no grant"
	fi
	if not_unlocked "$name" "$want"; then
		ok "$name: nothing was unlocked (no success message, PCR 15 untouched)"
	else
		diag "$tmp/agent/$name.out"
		not_ok "$name: nothing was unlocked (no success message, PCR 15 untouched)"
	fi
}
# granted NAME -- AGENT-ARGS: a control run that must succeed (uses kagi-test, no tampering)
granted() {
	local name=$1
	shift 2
	fx_agent "$name" "$kagi_test" "$@"
	if [ "$AGENT_RC" = 0 ] && grep -q -E "$FX_UNLOCK_OK_RE" "$tmp/agent/$name.out" "$tmp/agent/$name.err"; then
		ok "$name: control run without tampering is granted and unlocks"
	else
		diag "$tmp/agent/$name.out" "$tmp/agent/$name.err"
		not_ok "$name: control run without tampering is granted and unlocks (exit $AGENT_RC)"
	fi
}
rand_hex() {
	head -c "$1" /dev/urandom | od -An -v -tx1 | tr -d ' \n'
}

# ---- a control run, which also saves its token for the replay test ----
granted control -- vtpm root --- --test-save-token "$tmp/token.saved"
check "control: PCR 15 was extended by the successful run" test "$(pcr_read main 15)" = "$BOOTED15"
fx_tpm_boot main base || echo "Bail out! TPM reset failed"

# ---- tokens: replayed, forged ----
refusal replayed-token token.replayed -- vtpm root --- --test-reuse-token "$tmp/token.saved"
# the saved file holds the nonce (hex) and the token (base64url): change one token character
python3 - "$tmp/token.saved" "$tmp/token.forged" <<'EOF'
import sys
nonce, token = open(sys.argv[1]).read().split()
i = len(token) // 2
token = token[:i] + ("B" if token[i] == "A" else "A") + token[i + 1:]
open(sys.argv[2], "w").write(nonce + "\n" + token + "\n")
EOF
refusal forged-token token.invalid -- vtpm root --- --test-reuse-token "$tmp/token.forged"

# ---- evidence tampered by the agent ----
# one byte of MEASUREMENT (offset 0x90) of the direct report: the signature no longer verifies
refusal tamper-report snp.signature -- vtpm root --- --test-tamper snp.report:0x90
refusal tamper-svsm-report svsm.signature -- vtpm root --- --test-tamper svsm.report:0x90
# a changed manifest (EK) no longer matches the SVSM's REPORT_DATA
refusal tamper-manifest svsm.binding -- vtpm root --- --test-tamper svsm.manifest:100
refusal tamper-quote-sig tpm.quote.signature -- vtpm root --- --test-tamper quote.sig:20
refusal other-tls-key snp.report_data -- vtpm root --- --test-bind-other-tls-key
refusal quote-nonce tpm.quote.nonce -- vtpm root --- --test-quote-nonce "$(rand_hex 32)"
refusal eventlog-altered tpm.eventlog -- vtpm root --- --test-eventlog "$EVENTLOG_ALTERED"

# ---- the stand-in's reports under AMD's roots only (no trust_chain override) ----
fx_verifier_restart trust_chain= || echo "Bail out! verifier restart failed"
refusal amd-roots-only snp.chain -- vtpm root
fx_verifier_restart || echo "Bail out! verifier restart failed"

# ---- a token that expired between the challenge and the attestation ----
fx_verifier_restart token_lifetime=10 || echo "Bail out! verifier restart failed"
refusal token-expired token.expired -- vtpm root --- --test-delay-after-challenge 12
fx_verifier_restart || echo "Bail out! verifier restart failed"

# ---- a boot whose kernel command line differs from the one the policy pins (PCR 8) ----
fx_tpm_boot main cmdline2 || echo "Bail out! TPM reset failed"
refusal pcr-policy policy.pcr -- vtpm root -- "rd.kagi.eventlog=$EVENTLOG_CMDLINE2"
fx_tpm_boot main base || echo "Bail out! TPM reset failed"

# ---- the AK is not resident in the TPM that holds the EK ----
# a second swtpm with the same boot measurements: the quote verifies, the verifier grants, but
# the credential is for the EK of the first TPM and the AK of the second: ActivateCredential fails
if swtpm_start second && fx_tpm_boot second base; then
	granted_before=$(audit_count granted)
	fx_agent ak-elsewhere "$kagi_test" vtpm root --- --test-ak-tcti "$(swtpm_tcti second)"
	check "ak-elsewhere: the verifier grants (the evidence itself is consistent)" \
		test "$(audit_count granted)" = $((granted_before + 1))
	if [ "$AGENT_RC" != 0 ] && grep -q -i "activatecredential" "$tmp/agent/ak-elsewhere.err"; then
		ok "ak-elsewhere: the agent fails and says TPM2_ActivateCredential failed (exit $AGENT_RC)"
	else
		diag "$tmp/agent/ak-elsewhere.out" "$tmp/agent/ak-elsewhere.err"
		not_ok "ak-elsewhere: the agent fails and says TPM2_ActivateCredential failed (exit $AGENT_RC)"
	fi
	if not_unlocked ak-elsewhere; then
		ok "ak-elsewhere: nothing was unlocked (no success message, PCR 15 untouched)"
	else
		not_ok "ak-elsewhere: nothing was unlocked (no success message, PCR 15 untouched)"
	fi
else
	for _ in 1 2 3; do not_ok "ak-elsewhere: the second swtpm did not start"; done
fi

# ---- a second attestation in the same boot ----
granted first-unlock -- vtpm root
refusal second-unlock tpm.boot_phase "$BOOTED15" -- vtpm root
fx_tpm_boot main base || echo "Bail out! TPM reset failed"

# ---- SNP policy ----
fx_standin_svsm --policy 0xb0000 || echo "Bail out! stand-in restart failed"
refusal debug-guest snp.policy.debug -- vtpm root
fx_standin_svsm || echo "Bail out! stand-in restart failed"

fx_policy ".groups[0].snp.measurements = [\"$(rand_hex 48)\"]"
fx_verifier_restart || echo "Bail out! verifier restart failed"
refusal measurement snp.policy.measurement -- vtpm root
fx_policy '.groups[0].snp.min_tcb.ucode += 1'
fx_verifier_restart || echo "Bail out! verifier restart failed"
refusal tcb-too-old snp.policy.min_tcb -- vtpm root
fx_policy ".groups[0].snp.chip_ids = [\"$(rand_hex 64)\"]"
fx_verifier_restart || echo "Bail out! verifier restart failed"
refusal other-chip snp.policy.chip_id -- vtpm root
fx_policy ".groups[0].events += [{pcr: 9, type: \"EV_IPL\", digest: \"$(rand_hex 32)\"}]"
fx_verifier_restart || echo "Bail out! verifier restart failed"
refusal missing-event policy.event -- vtpm root
fx_policy
fx_verifier_restart || echo "Bail out! verifier restart failed"

# ---- the direct path (no vTPM) for a group that requires one ----
# (a group without PCR and event rules: those come first in the order of checks)
fx_policy 'del(.groups[0].pcrs, .groups[0].events)'
fx_verifier_restart || echo "Bail out! verifier restart failed"
fx_standin_direct || echo "Bail out! stand-in restart failed"
refusal no-vtpm policy.vtpm_required -- direct root
fx_standin_svsm || echo "Bail out! stand-in restart failed"
fx_policy
fx_verifier_restart || echo "Bail out! verifier restart failed"

# ---- TLS: no client certificate, a certificate from a CA the verifier does not trust ----
# tls_refusal NAME -- AGENT-ARGS
tls_refusal() {
	local name=$1 lines granted refused
	shift 2
	lines=$(wc -l <"$AUDIT_LOG" 2>/dev/null || echo 0)
	granted=$(audit_count granted)
	refused=$(grep -c "TLS handshake refused" "$VERIFIER_LOG")
	fx_agent "$name" "$kagi_test" "$@"
	if [ "$AGENT_RC" != 0 ] && grep -q -i -E "FAILED: .*(tls|handshake)" "$tmp/agent/$name.err" &&
		! grep -q "^kagi: refused: " "$tmp/agent/$name.err"; then
		ok "$name: the TLS handshake is refused and the agent reports a TLS error (exit $AGENT_RC)"
	else
		diag "$tmp/agent/$name.out" "$tmp/agent/$name.err"
		not_ok "$name: the TLS handshake is refused and the agent reports a TLS error (exit $AGENT_RC)"
	fi
	if [ "$(audit_count granted)" = "$granted" ] &&
		[ "$(grep -c "TLS handshake refused" "$VERIFIER_LOG")" -gt "$refused" ]; then
		ok "$name: the verifier logged the refused handshake and granted nothing ($(($(wc -l <"$AUDIT_LOG") - lines)) new audit lines)"
	else
		tail -n 3 "$VERIFIER_LOG" | diag
		not_ok "$name: the verifier logged the refused handshake and granted nothing"
	fi
	if not_unlocked "$name"; then
		ok "$name: nothing was unlocked"
	else
		not_ok "$name: nothing was unlocked"
	fi
}
tls_refusal no-client-cert -- vtpm root --- --test-no-client-cert
tls_refusal wrong-ca -- vtpm root -- "rd.kagi.cert=$TLS_OTHER_CERT" "rd.kagi.key=$TLS_OTHER_KEY"

# ---- keys: revoked, and a volume no group may unlock ----
"$kagictl" key revoke --config "$VERIFIER_CONF" --volume "${LUKS_UUID[revoked]}" >"$tmp/revoke.log" 2>&1
rc=$?
if [ $rc = 0 ]; then
	ok "kagictl key revoke ${LUKS_UUID[revoked]}"
else
	diag "$tmp/revoke.log"
	not_ok "kagictl key revoke ${LUKS_UUID[revoked]} (exit $rc)"
fi
refusal revoked volume.revoked -- vtpm revoked
refusal not-allowed volume.not_allowed -- vtpm other
refusal unknown-volume volume.unknown -- vtpm unenrolled

fx_verifier_stop
tap_done
