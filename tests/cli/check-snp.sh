#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# kagictl report show/verify against the real-world SNP evidence in tests/data/snp (TAP).
# Expected outcomes come from tests/data/snp/EXPECTED_reports.json and PROVENANCE.md.
set -u
K=${1:?usage: check-snp.sh KAGICTL}
D=${KAGI_TESTDATA:?}/snp
ROOTS=${KAGI_SOURCE_ROOT:?}/contrib/amd-roots
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
n=0 fail=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
nok() { n=$((n + 1)); fail=$((fail + 1)); echo "not ok $n - $*"; }
skip() { n=$((n + 1)); echo "ok $n # SKIP $*"; }
# expect CODE PATTERN DESC -- CMD...: exit code and (for rejections) the reason on stdout
expect() {
	local code=$1 pat=$2 desc=$3 out rc
	shift 4
	out=$("$@" 2>&1)
	rc=$?
	if [[ $rc -eq $code ]] && grep -qE -- "$pat" <<<"$out"; then
		ok "$desc"
	else
		nok "$desc (exit $rc, want $code /$pat/): $out"
	fi
}

# One line per expected report: report|cert|chain|not_before|valid
python3 - "$D/EXPECTED_reports.json" >"$T/list" <<'PY'
import json, sys
for e in json.load(open(sys.argv[1])):
    valid = e["report_signature_valid"] and e["chain_valid"] and e["reported_tcb_matches_cert"]
    nb = e["cert_not_before"].replace(" ", "T").replace("+00:00", "Z")
    print("|".join([e["report"], e["signer_cert"], e["chain"], nb, str(valid).lower(),
                    e["measurement"], e["chip_id"], e["report_data"], e["policy"]]))
PY

while IFS='|' read -r rep cert chain nb valid meas chip rdata pol; do
	if [[ ! -f $D/$rep ]]; then
		skip "$rep not present"
		continue
	fi
	# A check time one day after the signer certificate's notBefore: several are expired now.
	at=$(date -u -d "${nb%Z} UTC + 1 day" +%Y-%m-%dT%H:%M:%SZ)
	want=0
	[[ $valid == true ]] || want=1
	expect "$want" "report: (valid|REJECTED)" "$rep verifies with AMD roots at $at" -- \
		"$K" report verify "$D/$rep" --vcek "$D/$cert" --amd-roots "$ROOTS" --at "$at"
	expect "$want" "report: (valid|REJECTED)" "$rep verifies with its own chain $chain" -- \
		"$K" report verify "$D/$rep" --vcek "$D/$cert" --chain "$D/$chain" --at "$at"
	"$K" report show "$D/$rep" --json >"$T/show.json" 2>&1
	if jq -e --arg m "$meas" --arg c "$chip" --arg r "$rdata" --arg p "$pol" \
		'.measurement == $m and .chip_id == $c and .report_data == $r and .policy == $p' \
		"$T/show.json" >/dev/null; then
		ok "$rep show --json fields match EXPECTED_reports.json"
	else
		nok "$rep show --json fields differ: $(head -c 300 "$T/show.json")"
	fi
	expect 0 "measurement" "$rep show (text)" -- "$K" report show "$D/$rep"
	# Policy: accept with its own values, reject each changed value.
	cat >"$T/pol-ok.json" <<-JSON
		{ "measurements": ["$meas"], "chip_ids": ["$chip"], "report_data": "$rdata",
		  "allow_debug": true, "allow_migrate_ma": true }
	JSON
	if [[ $valid == true ]]; then
		expect 0 "policy satisfied" "$rep policy with its own values" -- \
			"$K" report verify "$D/$rep" --vcek "$D/$cert" --amd-roots "$ROOTS" --at "$at" --policy "$T/pol-ok.json"
		bad_meas=$(tr '0-9a-f' '1-9a-f0' <<<"$meas")
		echo "{\"measurements\": [\"$bad_meas\"], \"allow_debug\": true, \"allow_migrate_ma\": true}" >"$T/pol-meas.json"
		expect 1 "policy.measurement" "$rep wrong measurement rejected" -- \
			"$K" report verify "$D/$rep" --vcek "$D/$cert" --amd-roots "$ROOTS" --at "$at" --policy "$T/pol-meas.json"
	fi
	# The same report with the VCEK of another report must fail.
	other=$(grep -v "^$rep|" "$T/list" | head -1 | cut -d'|' -f2)
	if [[ -f $D/$other ]]; then
		expect 1 "REJECTED" "$rep with a foreign signer cert rejected" -- \
			"$K" report verify "$D/$rep" --vcek "$D/$other" --amd-roots "$ROOTS" --at "$at"
	fi
done <"$T/list"

# Expired certificates without --at are rejected with the reason.
if [[ -f $D/trustee/test-vlek-report.bin ]]; then
	expect 1 "chain.expired" "VLEK report rejected today: VLEK expired 2025-12-10" -- \
		"$K" report verify "$D/trustee/test-vlek-report.bin" --vcek "$D/trustee/test-vlek.der" --amd-roots "$ROOTS" --at 2026-01-01T00:00:00Z
fi

# Negative cases materialised by byte tampering (PROVENANCE.md "snp/negative/").
neg() { # file cert pattern desc
	if [[ -f $D/negative/$1 ]]; then
		expect 1 "$3" "$4" -- "$K" report verify "$D/negative/$1" --vcek "$D/$2" --amd-roots "$ROOTS" --at 2025-06-01T00:00:00Z
	else
		skip "$1 not present"
	fi
}
neg trustee_test-report_byte42_plus1.bin trustee/test-vcek.der "report.signature" "trustee report byte 42+1: signature fails"
neg trustee_test-report_byte384_plus1.bin trustee/test-vcek.der "report.signature|reported_tcb" "trustee report REPORTED_TCB.bl 3->4 rejected"
neg trustee_test-vlek-report_byte42_plus1.bin trustee/test-vlek.der "report.signature" "VLEK report byte 42+1: signature fails"
neg trustee_test-vlek-report_byte384_plus1.bin trustee/test-vlek.der "report.signature|reported_tcb" "VLEK report byte 384+1 rejected"
neg virtee_report_milan_byte21_xor80.bin virtee-sev/vcek_milan.der "report.signature" "virtee report byte 21 ^0x80: signature fails"
if [[ -f $D/negative/trustee_az_hcl-report_0x1a6_zero.bin ]]; then
	dd if="$D/negative/trustee_az_hcl-report_0x1a6_zero.bin" of="$T/az.bin" bs=1 skip=32 count=1184 2>/dev/null
	expect 1 "REJECTED" "Azure HCL report REPORTED_TCB.snp 8->0 rejected" -- \
		"$K" report verify "$T/az.bin" --vcek "$D/trustee-az-snp-vtpm/vcek.pem" --amd-roots "$ROOTS" --at 2025-06-01T00:00:00Z
fi
for c in trustee_test-vcek_byte42_plus1.der virtee_vcek_milan_byte40_xorff.der; do
	if [[ -f $D/negative/$c ]]; then
		expect 1 "chain\." "$c: VCEK <- ASK chain fails" -- "$K" report verify-cert "$D/negative/$c" --amd-roots "$ROOTS"
	fi
done
if [[ -f $D/negative/trustee_test-vcek_byte42_plus1.der ]]; then
	expect 1 "chain\." "report with the tampered VCEK rejected" -- \
		"$K" report verify "$D/trustee/test-report.bin" --vcek "$D/negative/trustee_test-vcek_byte42_plus1.der" --amd-roots "$ROOTS"
fi
# Certificates not signed by AMD (trustee parse-test VCEKs) and chain-only checks.
for c in trustee/test-vcek-invalid-legacy.der trustee/test-vcek-invalid-new.der; do
	[[ -f $D/$c ]] && expect 1 "chain\." "$c is not signed by AMD" -- "$K" report verify-cert "$D/$c" --amd-roots "$ROOTS"
done
[[ -f $D/virtee-sev/vcek_turin.der ]] && expect 0 "certificate: valid" "Turin VCEK chains to ARK-Turin" -- \
	"$K" report verify-cert "$D/virtee-sev/vcek_turin.der" --chain "$D/virtee-sev/cert_chain_turin"
# A VCEK checked against the VLEK intermediate (ASVK) only must fail.
if [[ -f $D/trustee/test-vcek.der ]]; then
	awk '/BEGIN/{n++} n==3' "$ROOTS/../amd-roots/milan/asvk.pem" >/dev/null 2>&1
	cat "$ROOTS/milan/ark.pem" "$ROOTS/milan/asvk.pem" >"$T/ark-asvk.pem"
	expect 1 "chain\." "Milan VCEK against ARK+ASVK only: rejected" -- \
		"$K" report verify "$D/trustee/test-report.bin" --vcek "$D/trustee/test-vcek.der" --chain "$T/ark-asvk.pem"
	# A chain whose root is another product's ARK: rejected.
	expect 1 "chain\." "Milan VCEK against the Genoa roots: rejected" -- \
		"$K" report verify "$D/trustee/test-report.bin" --vcek "$D/trustee/test-vcek.der" --amd-roots "$ROOTS/genoa"
fi

# go-sev-guest policy mismatches (PROVENANCE.md: each of these must REJECT).
G=$D/go-sev-guest/milan_v2_attestation.bin
GC=$D/go-sev-guest/milan_vcek.der
if [[ -f $G ]]; then
	z64=$(printf '0%.0s' {1..128}) z32=$(printf '0%.0s' {1..64}) z16=$(printf '0%.0s' {1..32})
	pol() { # json pattern desc
		echo "$1" >"$T/p.json"
		expect 1 "$2" "go-sev-guest policy: $3" -- "$K" report verify "$G" --vcek "$GC" --amd-roots "$ROOTS" --policy "$T/p.json"
	}
	pol "{\"allow_debug\":true,\"report_data\":\"${z64%?}1\"}" "policy.report_data" "report_data 00..01"
	pol "{\"allow_debug\":true,\"host_data\":\"${z32%?}1\"}" "policy.host_data" "host_data ..01"
	pol "{\"allow_debug\":true,\"family_id\":\"${z16%?}1\"}" "policy.family_id" "family_id ..01"
	pol "{\"allow_debug\":true,\"image_id\":\"${z16%?}1\"}" "policy.image_id" "image_id ..01"
	chip=$(jq -r '.chip_id' <("$K" report show "$G" --json))
	pol "{\"allow_debug\":true,\"chip_ids\":[\"${chip%??}00\"]}" "policy.chip_id" "chip_id last byte changed"
	pol '{"allow_debug":true,"min_tcb":{"bl":3,"tee":0,"snp":5,"ucode":68}}' "policy.min_tcb" "minimum TCB 0x4405000000000003 (bl 3)"
	pol '{"allow_debug":true,"min_fw":"1.50"}' "policy.min_fw" "min firmware 1.50"
	pol '{"allow_debug":true,"require_id_block":true}' "policy.id_block" "require ID block"
	pol '{"allow_debug":true,"require_author_key":true}' "policy.author_key" "require author key"
	pol '{"allow_debug":true,"vmpls":[1]}' "policy.vmpl" "vmpl 1"
	pol '{"allow_debug":true,"platform_info_required":"0x2"}' "policy.platform_info" "platform_info requires TSME"
	pol '{"allow_debug":true,"platform_info_forbidden":"0x1"}' "policy.platform_info" "platform_info 0 (SMT_EN forbidden)"
	pol '{}' "policy.debug" "debug allowed by the guest policy is refused by default"
	pol '{"allow_debug":true,"forbid_policy_bits":"0x80000"}' "policy.forbid_policy_bits" "guest policy: debug bit forbidden"
	pol '{"allow_debug":true,"min_fw_build":257}' "policy.min_fw_build|out of range" "min build 257"
	pol '{"allow_debug":true,"min_fw_build":90}' "policy.min_fw_build" "min build 90"
	echo '{"allow_debug":true,"min_tcb":{"bl":2,"tee":0,"snp":5,"ucode":68},"vmpls":[0],"min_fw":"1.49","chip_ids":["'"$chip"'"]}' >"$T/p.json"
	expect 0 "policy satisfied" "go-sev-guest policy at its exact values accepted" -- \
		"$K" report verify "$G" --vcek "$GC" --amd-roots "$ROOTS" --policy "$T/p.json"
	for badpol in '{"measurements":"abc"}' '{"unknown_rule":1}' '{"min_tcb":{"bl":300}}' '[1,2]' '{"vmpls":[4]}' '{"allow_debug":"yes"}' '{'; do
		echo "$badpol" >"$T/p.json"
		expect 2 "policy" "malformed policy rejected with its reason: $badpol" -- \
			"$K" report verify "$G" --vcek "$GC" --amd-roots "$ROOTS" --policy "$T/p.json"
	done
fi

# Malformed inputs: usage/input errors (exit 2) with a reason.
head -c 1000 "$G" >"$T/short.bin"
expect 2 "report.size" "truncated report rejected" -- "$K" report show "$T/short.bin"
python3 -c "import sys; b=bytearray(open(sys.argv[1],'rb').read()); b[0]=9; open(sys.argv[2],'wb').write(b)" "$G" "$T/v9.bin"
expect 2 "report.version" "unknown report version rejected" -- "$K" report show "$T/v9.bin"
python3 -c "import sys; b=bytearray(open(sys.argv[1],'rb').read()); b[0x250]=1; open(sys.argv[2],'wb').write(b)" "$G" "$T/mbz.bin"
expect 2 "report.reserved" "non-zero reserved byte rejected" -- "$K" report show "$T/mbz.bin"
expect 2 "cannot read" "missing file" -- "$K" report show "$T/nope.bin"
expect 2 "Usage" "verify without a signer" -- "$K" report verify "$G"

echo "1..$n"
[[ $fail -eq 0 ]]
