#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# kagictl quote against the real TPM quotes in tests/data/tpmquote (PROVENANCE.md §3).
# The positive list comes from EXPECTED_quotes.json (entries whose files exist); each valid
# quote is also tampered with in a temporary directory so every check is seen failing.
# The named negatives of PROVENANCE §3 run when their files are present. Output is TAP.
set -u

KAGICTL=${1:?usage: check-quote.sh KAGICTL}
D=${KAGI_TESTDATA:?KAGI_TESTDATA is not set}/tpmquote
EXP=$D/EXPECTED_quotes.json
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

n=0
failed=0

# check DESC WANT_EXIT PATTERN CMD...: PATTERN (may be empty) must appear in stdout+stderr
check() {
	local desc=$1 want=$2 pat=$3 out rc
	shift 3
	out=$("$@" 2>&1)
	rc=$?
	n=$((n + 1))
	if [ "$rc" = "$want" ] && { [ -z "$pat" ] || grep -qF -- "$pat" <<<"$out"; }; then
		echo "ok $n - $desc"
	else
		echo "not ok $n - $desc (exit $rc, wanted $want${pat:+ with '$pat'})"
		sed 's/^/# /' <<<"$out"
		failed=$((failed + 1))
	fi
}

# result DESC CONDITION-EXIT-STATUS: record a check computed by the caller
result() {
	n=$((n + 1))
	if [ "$2" = 0 ]; then
		echo "ok $n - $1"
	else
		echo "not ok $n - $1"
		failed=$((failed + 1))
	fi
}

skip() {
	n=$((n + 1))
	echo "ok $n - $1 # SKIP ${2:-files not present}"
}

hex_of() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }

# Flip the lowest bit of byte OFFSET (negative: from the end) of file IN into OUT.
flip_byte() {
	python3 - "$1" "$2" "$3" <<'EOF'
import sys
b = bytearray(open(sys.argv[1], 'rb').read())
b[int(sys.argv[3])] ^= 1
open(sys.argv[2], 'wb').write(b)
EOF
}

# Change one selected PCR value in a {"bank": ..., "pcrs": {...}} file (first key, first digit).
# Prints nothing and fails if the file has another shape.
tamper_pcrs() {
	python3 - "$1" "$2" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
if not isinstance(d, dict) or not isinstance(d.get('pcrs'), dict) or not d['pcrs']:
    sys.exit(1)
k = sorted(d['pcrs'], key=int)[0]
v = d['pcrs'][k]
d['pcrs'][k] = ('1' if v[0] == '0' else '0') + v[1:]
json.dump(d, open(sys.argv[2], 'w'))
EOF
}

# Drop the highest-numbered PCR from such a file.
drop_pcr() {
	python3 - "$1" "$2" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
if not isinstance(d, dict) or not isinstance(d.get('pcrs'), dict) or not d['pcrs']:
    sys.exit(1)
del d['pcrs'][max(d['pcrs'], key=int)]
json.dump(d, open(sys.argv[2], 'w'))
EOF
}

if [ ! -f "$EXP" ]; then
	echo "1..0 # SKIP $EXP not found"
	exit 0
fi

SEP=$'\x1f'
i=0
while IFS=$SEP read -r set attest sig ak valid nonce ascii pcrs pcrs_ok; do
	i=$((i + 1))
	A=$D/$attest S=$D/$sig K=$D/$ak
	if [ ! -f "$A" ] || [ ! -f "$S" ] || [ ! -f "$K" ]; then
		skip "$set: quote files"
		continue
	fi
	V=(verify --attest "$A" --sig "$S" --ak "$K")
	if [ "$valid" = true ]; then
		check "$set: signature valid, nonce $nonce" 0 "quote: valid" \
			"$KAGICTL" quote "${V[@]}" --nonce "$nonce"
	else
		check "$set: signature invalid" 1 "quote: REJECTED: quote.signature" \
			"$KAGICTL" quote "${V[@]}" --nonce "$nonce"
		continue
	fi

	# PCR values as listed
	if [ -n "$pcrs" ] && [ -f "$D/$pcrs" ]; then
		if [ "$pcrs_ok" = true ]; then
			check "$set: pcr digest matches $pcrs" 0 "pcr digest matches" \
				"$KAGICTL" quote "${V[@]}" --nonce "$nonce" --pcrs "$D/$pcrs"
			if tamper_pcrs "$D/$pcrs" "$T/pcrs-$i-tampered.json"; then
				check "$set: one PCR value changed -> pcr digest mismatch" 1 \
					"REJECTED: quote.pcrs.digest" "$KAGICTL" quote "${V[@]}" \
					--pcrs "$T/pcrs-$i-tampered.json"
			fi
			if drop_pcr "$D/$pcrs" "$T/pcrs-$i-short.json"; then
				check "$set: one selected PCR missing" 1 "REJECTED: quote.pcrs.missing" \
					"$KAGICTL" quote "${V[@]}" --pcrs "$T/pcrs-$i-short.json"
			fi
		else
			check "$set: pcr digest does not match $pcrs" 1 "REJECTED: quote.pcrs" \
				"$KAGICTL" quote "${V[@]}" --nonce "$nonce" --pcrs "$D/$pcrs"
		fi
	fi

	# the same values in the multi-quote shape kept beside some sets
	if [ -f "$(dirname "$A")/quotes_pcrs.json" ] && [ "$pcrs_ok" = true ]; then
		check "$set: pcr digest matches quotes_pcrs.json" 0 "pcr digest matches" \
			"$KAGICTL" quote "${V[@]}" --pcrs "$(dirname "$A")/quotes_pcrs.json"
	fi

	# nonce: another value must be refused, and "no nonce" is reported as not checked
	if [ -n "$nonce" ]; then
		wrong=${nonce%??}$(printf '%02x' $((0x${nonce: -2} ^ 1)))
	else
		wrong=00
	fi
	check "$set: wrong nonce $wrong" 1 "REJECTED: quote.nonce" \
		"$KAGICTL" quote "${V[@]}" --nonce "$wrong"
	check "$set: no --nonce" 0 "nonce not checked" "$KAGICTL" quote "${V[@]}"
	if [ "$ascii" = challenge ]; then
		for bad in "$(hex_of egnellahc)" 01020304; do
			check "$set: nonce $bad instead of 'challenge'" 1 "REJECTED: quote.nonce" \
				"$KAGICTL" quote "${V[@]}" --nonce "$bad"
		done
	fi

	# the signature and the attestation bytes are both covered
	flip_byte "$S" "$T/sig-$i" -1
	check "$set: last signature byte flipped" 1 "REJECTED: quote.signature" \
		"$KAGICTL" quote verify --attest "$A" --sig "$T/sig-$i" --ak "$K"
	flip_byte "$A" "$T/attest-$i" -1
	check "$set: last attest byte flipped" 1 "REJECTED: quote.signature" \
		"$KAGICTL" quote verify --attest "$T/attest-$i" --sig "$S" --ak "$K"
	{ cat "$A"; printf '\0'; } >"$T/attest-$i-long"
	check "$set: trailing byte after TPMS_ATTEST" 2 "quote.attest.trailing" \
		"$KAGICTL" quote verify --attest "$T/attest-$i-long" --sig "$S" --ak "$K"
	head -c $(($(wc -c <"$A") - 1)) "$A" >"$T/attest-$i-short"
	check "$set: truncated TPMS_ATTEST" 2 "cannot decode --attest" \
		"$KAGICTL" quote verify --attest "$T/attest-$i-short" --sig "$S" --ak "$K"

	# a TPMT_SIGNATURE RSASSA-SHA256 without its 6-byte header is the raw form
	if [ "$(head -c 4 "$S" | od -An -tx1 | tr -d ' \n')" = 0014000b ]; then
		tail -c +7 "$S" >"$T/raw-$i"
		check "$set: same signature as raw RSASSA bytes" 0 "(raw)" \
			"$KAGICTL" quote verify --attest "$A" --sig "$T/raw-$i" --ak "$K" --nonce "$nonce"
	fi

	# the AK as a TPMT_PUBLIC, where the set has one
	tpmt=$(dirname "$K")/ak_pub.tpmt_public.bin
	if [ -f "$tpmt" ]; then
		check "$set: AK as TPMT_PUBLIC" 0 "quote: valid" \
			"$KAGICTL" quote verify --attest "$A" --sig "$S" --ak "$tpmt" --nonce "$nonce"
	fi

	# decoded fields equal the expected ones
	"$KAGICTL" quote show --attest "$A" --json >"$T/show-$i.json" 2>&1
	python3 - "$EXP" "$((i - 1))" "$T/show-$i.json" <<'EOF'
import json, sys
e = json.load(open(sys.argv[1]))[int(sys.argv[2])]
s = json.load(open(sys.argv[3]))
ok = (s['extra_data'] == e['extraData_hex'] and s['pcr_digest'] == e['pcr_digest']
      and s['clock_info']['clock'] == e['clock'] and s['clock_info']['reset_count'] == e['reset']
      and s['clock_info']['restart_count'] == e['restart']
      and int(s['firmware_version'], 16) == int(e['firmware_version'], 16)
      and [x['pcrs'] for x in s['pcr_select']] == [x['pcrs'] for x in e['pcr_select']])
sys.exit(0 if ok else 1)
EOF
	result "$set: quote show --json fields equal EXPECTED_quotes.json" $?
done < <(jq -r --arg s "$SEP" '.[] | [.set, .attest, .signature, .ak_pub,
	(.signature_valid | tostring), (.extraData_hex // ""), (.extraData_ascii // ""),
	(.pcrs_file // ""), (.pcr_digest_matches_pcrs_file | tostring)] | join($s)' "$EXP")

# ---- PCR values from 'kagictl eventlog replay --json' (the gce sets carry their event log) ----
G=$D/go-tpm-tools/gce-cos-85-nonce9009
if [ -f "$G/eventlog.bin" ] && [ -f "$G/quote_sha256.attest.bin" ] &&
	"$KAGICTL" eventlog replay "$G/eventlog.bin" --json >"$T/replay.json" 2>/dev/null; then
	# PCR 10 (IMA) is extended by the OS after boot: the boot log cannot reproduce it
	check "gce sha256 quote vs replayed boot log: PCR 10 differs" 1 \
		"REJECTED: quote.pcrs.digest" "$KAGICTL" quote verify \
		--attest "$G/quote_sha256.attest.bin" --sig "$G/quote_sha256.sig.tpmt_signature.bin" \
		--ak "$G/ak_pub.pem" --nonce 9009 --pcrs "$T/replay.json"
	python3 - "$T/replay.json" "$G/pcrs_sha256.json" "$T/replay10.json" <<'EOF2'
import json, sys
r = json.load(open(sys.argv[1]))
r['sha256']['10'] = json.load(open(sys.argv[2]))['pcrs']['10']
json.dump(r, open(sys.argv[3], 'w'))
EOF2
	check "gce sha256 quote vs replayed boot log with the quoted PCR 10" 0 \
		"pcr digest matches 24 sha256 PCRs" "$KAGICTL" quote verify \
		--attest "$G/quote_sha256.attest.bin" --sig "$G/quote_sha256.sig.tpmt_signature.bin" \
		--ak "$G/ak_pub.pem" --nonce 9009 --pcrs "$T/replay10.json"
else
	skip "replayed event log as PCR values" "no event log or no eventlog replay"
fi

# ---- named negatives (PROVENANCE §3) ----
AZ=$D/azure-vtpm
H=$AZ/trustee-hcl-report-milan
CH=$(hex_of challenge)
if [ -f "$H/quote.attest.bin" ] && [ -f "$H/ak_pub_from_hcl_runtime_data.pem" ]; then
	if [ -f "$D/negative/trustee-hcl-report-milan_quote.sig_byte0_xor1.bin" ]; then
		check "trustee-hcl-report-milan: signature byte 0 xor 1" 1 \
			"REJECTED: quote.signature" "$KAGICTL" quote verify \
			--attest "$H/quote.attest.bin" --ak "$H/ak_pub_from_hcl_runtime_data.pem" \
			--sig "$D/negative/trustee-hcl-report-milan_quote.sig_byte0_xor1.bin" \
			--nonce "$CH"
	else
		skip "trustee-hcl-report-milan: signature byte 0 xor 1"
	fi
	if [ -f "$D/negative/trustee-hcl-report-milan_pcrs_sha256_pcr0_byte0_xor1.json" ]; then
		check "trustee-hcl-report-milan: PCR0 byte 0 xor 1" 1 "REJECTED: quote.pcrs.digest" \
			"$KAGICTL" quote verify --attest "$H/quote.attest.bin" \
			--ak "$H/ak_pub_from_hcl_runtime_data.pem" \
			--sig "$H/quote.sig.rsassa_sha256.bin" --nonce "$CH" \
			--pcrs "$D/negative/trustee-hcl-report-milan_pcrs_sha256_pcr0_byte0_xor1.json"
	else
		skip "trustee-hcl-report-milan: PCR0 byte 0 xor 1"
	fi
else
	skip "trustee-hcl-report-milan negatives"
fi
C=$AZ/azure-cvm-tooling-milan
if [ -f "$C/quote.attest.bin" ] && [ -f "$C/ak_pub.original_akpub.pem" ] &&
	[ -f "$D/negative/azure-cvm-tooling_quote.sig_reversed.bin" ]; then
	check "azure-cvm-tooling: original signature verifies with akpub.pem" 0 "quote: valid" \
		"$KAGICTL" quote verify --attest "$C/quote.attest.bin" \
		--ak "$C/ak_pub.original_akpub.pem" --sig "$C/quote.sig.rsassa_sha256.bin" \
		--nonce "$CH"
	check "azure-cvm-tooling: reversed signature" 1 "REJECTED: quote.signature" \
		"$KAGICTL" quote verify --attest "$C/quote.attest.bin" \
		--ak "$C/ak_pub.original_akpub.pem" \
		--sig "$D/negative/azure-cvm-tooling_quote.sig_reversed.bin" --nonce "$CH"
	check "azure-cvm-tooling: nonce 01020304" 1 "REJECTED: quote.nonce" \
		"$KAGICTL" quote verify --attest "$C/quote.attest.bin" \
		--ak "$C/ak_pub.original_akpub.pem" --sig "$C/quote.sig.rsassa_sha256.bin" \
		--nonce 01020304
	if [ -f "$C/ak_pub_from_hcl_runtime_data.pem" ]; then
		check "azure-cvm-tooling: not signed by the HCL report's AK" 1 \
			"REJECTED: quote.signature" "$KAGICTL" quote verify \
			--attest "$C/quote.attest.bin" --ak "$C/ak_pub_from_hcl_runtime_data.pem" \
			--sig "$C/quote.sig.rsassa_sha256.bin" --nonce "$CH"
	fi
else
	skip "azure-cvm-tooling negatives"
fi

# ---- AK name (keylime: ak.name is the Name of ak.pub) ----
KL=$D/keylime-test-data
if [ -f "$KL/ak.pub" ] && [ -f "$KL/ak.name" ]; then
	got=$("$KAGICTL" quote ak --ak "$KL/ak.pub" --json | jq -r .name)
	want=$(od -An -tx1 "$KL/ak.name" | tr -d ' \n')
	[ "$got" = "$want" ]
	result "keylime ak.pub: Name equals ak.name ($want)" $?
	check "keylime ak.pub: AK attributes accepted" 0 "AK attributes ok" \
		"$KAGICTL" quote ak "$KL/ak.pub"
	if [ -f "$KL/ek.pub" ]; then
		check "keylime ek.pub used as the AK: refused for its attributes" 1 \
			"REJECTED: ak.attributes" "$KAGICTL" quote verify --attest "$KL/quote.out" \
			--sig "$KL/quotesig.out" --ak "$KL/ek.pub"
	fi
else
	skip "keylime AK name"
fi

# ---- usage and unreadable input ----
Q=$D/keylime-test-data
check "missing --ak is a usage error" 2 "needs --attest, --sig and --ak" \
	"$KAGICTL" quote verify --attest "$Q/quote.out" --sig "$Q/quotesig.out"
check "missing file names the file" 2 "$T/does-not-exist" \
	"$KAGICTL" quote verify --attest "$T/does-not-exist" --sig "$Q/quotesig.out" \
	--ak "$Q/akpub.pem"
check "AK file that is not a key" 2 "cannot decode --ak file" \
	"$KAGICTL" quote verify --attest "$Q/quote.out" --sig "$Q/quotesig.out" --ak "$Q/quote.out"
check "signature file that is neither form" 2 "cannot decode --sig file" \
	"$KAGICTL" quote verify --attest "$Q/quote.out" --sig "$Q/quote.out" --ak "$Q/akpub.pem"
check "attest file that is a signature" 2 "quote.attest.magic" \
	"$KAGICTL" quote verify --attest "$Q/quotesig.out" --sig "$Q/quotesig.out" \
	--ak "$Q/akpub.pem"
check "bad --nonce hex" 2 "--nonce" \
	"$KAGICTL" quote verify --attest "$Q/quote.out" --sig "$Q/quotesig.out" \
	--ak "$Q/akpub.pem" --nonce xyz
echo '{"bank": "sha256", "pcrs": {"15": "00"}}' >"$T/short-hex.json"
check "PCR value of the wrong length" 2 "pcrs.json.value" \
	"$KAGICTL" quote verify --attest "$Q/quote.out" --sig "$Q/quotesig.out" \
	--ak "$Q/akpub.pem" --pcrs "$T/short-hex.json"

echo "1..$n"
[ "$failed" = 0 ]
