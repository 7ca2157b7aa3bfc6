#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# kagictl eventlog against the real-world logs in $KAGI_TESTDATA (see PROVENANCE.md section 2).
# Usage: check-eventlog.sh KAGICTL. Prints TAP; exits non-zero if any check failed.
#
# Expected values come from the data folder only (expected_pcrs.json, tpm2-tools YAML, quoted
# PCR values); nothing here is computed by kagictl itself.
set -u

KAGICTL=${1:?usage: check-eventlog.sh KAGICTL}
D=${KAGI_TESTDATA:?KAGI_TESTDATA is not set}
EL=$D/eventlog
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

n=0
failed=0
ok() {
	n=$((n + 1))
	echo "ok $n - $*"
}
notok() {
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n - $*"
}
skip() {
	n=$((n + 1))
	echo "ok $n # SKIP $*"
}
# Indent a diagnostic file as TAP comments
diag() {
	sed 's/^/# /' "$1"
}

# cmp_pcrs REPLAY.json EXPECTED.json [bank:pcr ...]
# EXPECTED maps bank -> pcr -> hex (an optional 0x prefix and any case). Every listed PCR of
# every listed bank must equal the replay, except the bank:pcr pairs given as arguments.
# Prints the differences; exit status 0 when all compared values are equal.
cmp_pcrs() {
	python3 - "$@" <<'EOF'
import json, sys
replay = json.load(open(sys.argv[1]))
want = json.load(open(sys.argv[2]))
skip = set(sys.argv[3:])
bad = 0
count = 0
for bank, pcrs in want.items():
    for pcr, hexval in pcrs.items():
        if f"{bank}:{pcr}" in skip:
            continue
        w = hexval.lower().removeprefix("0x")
        got = replay.get(bank, {}).get(str(pcr))
        count += 1
        if got != w:
            bad += 1
            print(f"{bank} PCR {pcr}: replay {got}, expected {w}")
if count == 0:
    print("nothing compared")
    sys.exit(1)
print(f"{count} values compared, {bad} differ")
sys.exit(1 if bad else 0)
EOF
}

# replay FILE OUT.json: kagictl eventlog replay --json, stderr kept beside it
replay() {
	"$KAGICTL" eventlog replay --json "$1" >"$2" 2>"$2.err"
}

# pcr_events FILE PCR: number of events the log has for that PCR
pcr_events() {
	"$KAGICTL" eventlog show --json "$1" | jq --argjson p "$2" '[.events[] | select(.pcr == $p)] | length'
}

# ------------------------------------------------------------------------------------------
# go-tpm-tools: every listed PCR of every listed bank
for key in $(jq -r 'keys[]' "$EL/go-tpm-tools/expected_pcrs.json"); do
	f=$(jq -r --arg k "$key" '.[$k].file' "$EL/go-tpm-tools/expected_pcrs.json")
	log=$EL/go-tpm-tools/$f
	if [ ! -e "$log" ]; then
		skip "go-tpm-tools $f: not present"
		continue
	fi
	jq --arg k "$key" '.[$k].expected_pcrs' "$EL/go-tpm-tools/expected_pcrs.json" >"$TMP/want.json"
	if replay "$log" "$TMP/got.json" && cmp_pcrs "$TMP/got.json" "$TMP/want.json" >"$TMP/out"; then
		ok "go-tpm-tools $f: replay matches $(tail -1 "$TMP/out")"
	else
		notok "go-tpm-tools $f: replay differs from expected_pcrs.json"
		diag "$TMP/out"
		diag "$TMP/got.json.err"
	fi
done

# ------------------------------------------------------------------------------------------
# go-attestation: expected_pcrs.json is keyed by file name; documented exceptions below
GA=$EL/go-attestation
for key in $(jq -r 'keys[]' "$GA/expected_pcrs.json"); do
	log=$GA/$key
	if [ ! -e "$log" ]; then
		skip "go-attestation $key: not present"
		continue
	fi
	jq --arg k "$key" '.[$k].pcrs_by_bank' "$GA/expected_pcrs.json" >"$TMP/want.json"
	if ! replay "$log" "$TMP/got.json"; then
		notok "go-attestation $key: replay failed"
		diag "$TMP/got.json.err"
		continue
	fi
	case $key in
	sb_cert_eventlog)
		# PCR 10 has no events in this log (IMA extends it after boot, PROVENANCE §2):
		# everything else must match, and PCR 10 must stay at its start value.
		if cmp_pcrs "$TMP/got.json" "$TMP/want.json" sha1:10 sha256:10 >"$TMP/out"; then
			ok "go-attestation $key: replay matches except PCR 10 ($(tail -1 "$TMP/out"))"
		else
			notok "go-attestation $key: replay differs"
			diag "$TMP/out"
		fi
		zero=$(jq -r '[.sha1["10"], .sha256["10"]] | map(test("^0+$")) | all' "$TMP/got.json")
		if [ "$(pcr_events "$log" 10)" = 0 ] && [ "$zero" = true ] &&
			[ "$(jq --slurpfile g "$TMP/got.json" '[to_entries[] | select(.value["10"] == $g[0][.key]["10"])] | length' "$TMP/want.json")" = 0 ]; then
			ok "go-attestation $key: PCR 10 has no log events, stays zero, differs from expected (IMA)"
		else
			notok "go-attestation $key: PCR 10 exception no longer holds"
		fi
		;;
	ebs_event_missing_eventlog)
		# The log lacks the two ExitBootServices events: a strict replay of PCR 5 must
		# MISMATCH, and adding exactly those two EV_EFI_ACTION extends must give the
		# expected value.
		if python3 - "$TMP/got.json" "$TMP/want.json" >"$TMP/out" <<'EOF'; then
import hashlib, json, sys
got = json.load(open(sys.argv[1]))
want = json.load(open(sys.argv[2]))
rc = 0
for bank, pcrs in want.items():
    w = pcrs["5"].lower()
    g = got.get(bank, {}).get("5")
    if g is None:
        print(f"{bank}: bank not in the log, so PCR 5 cannot match either")
        continue
    if g == w:
        print(f"{bank} PCR 5 matches although the EBS events are missing")
        rc = 1
        continue
    v = bytes.fromhex(g)
    for s in (b"Exit Boot Services Invocation", b"Exit Boot Services Returned with Success"):
        v = hashlib.new(bank, v + hashlib.new(bank, s).digest()).digest()
    print(f"{bank} PCR 5: replay {g} != expected {w}; with the two EBS events: {v.hex()}")
    if v.hex() != w:
        rc = 1
sys.exit(rc)
EOF
			ok "go-attestation $key: PCR 5 mismatches exactly by the missing EBS events"
			diag "$TMP/out"
		else
			notok "go-attestation $key: PCR 5 check"
			diag "$TMP/out"
		fi
		;;
	*)
		if cmp_pcrs "$TMP/got.json" "$TMP/want.json" >"$TMP/out"; then
			ok "go-attestation $key: replay matches ($(tail -1 "$TMP/out"))"
		else
			notok "go-attestation $key: replay differs"
			diag "$TMP/out"
		fi
		;;
	esac
done

# go-attestation windows_gcp_shielded_vm.json: the raw SHA-1 log and the 24 quoted SHA-1 PCRs
WJ=$GA/windows_gcp_shielded_vm.json
if [ -e "$WJ" ]; then
	python3 - "$WJ" "$TMP/win.bin" "$TMP/win-want.json" <<'EOF'
import base64, json, sys
d = json.load(open(sys.argv[1]))["Log"]
open(sys.argv[2], "wb").write(base64.b64decode(d["Raw"]))
# DigestAlg 3 is Go's crypto.SHA1
assert all(p["DigestAlg"] == 3 for p in d["PCRs"])
json.dump({"sha1": {str(p["Index"]): base64.b64decode(p["Digest"]).hex() for p in d["PCRs"]}},
          open(sys.argv[3], "w"))
EOF
	if replay "$TMP/win.bin" "$TMP/got.json" &&
		cmp_pcrs "$TMP/got.json" "$TMP/win-want.json" >"$TMP/out"; then
		ok "go-attestation windows_gcp_shielded_vm.json: replay matches the quoted PCRs ($(tail -1 "$TMP/out"))"
	else
		notok "go-attestation windows_gcp_shielded_vm.json: replay differs"
		diag "$TMP/out"
	fi
else
	skip "go-attestation windows_gcp_shielded_vm.json: not present"
fi

# ------------------------------------------------------------------------------------------
# tpm2-tools: the pcrs: block at the end of the upstream expected YAML
for log in "$EL"/tpm2-tools/*.bin; do
	name=$(basename "$log")
	y=$EL/tpm2-tools/expected-yaml/$name.yaml
	if [ ! -e "$y" ]; then
		skip "tpm2-tools $name: no expected YAML"
		continue
	fi
	python3 - "$y" "$TMP/want.json" <<'EOF'
import json, re, sys
text = open(sys.argv[1]).read()
block = text[text.index("\npcrs:\n") + 7:]
want, bank = {}, None
for line in block.splitlines():
    m = re.match(r"^  (\w+):\s*$", line)
    if m:
        bank = m.group(1)
        want[bank] = {}
        continue
    m = re.match(r"^\s+(\d+)\s*:\s*0x([0-9a-fA-F]+)\s*$", line)
    if m and bank:
        want[bank][m.group(1)] = m.group(2)
json.dump(want, open(sys.argv[2], "w"))
EOF
	if replay "$log" "$TMP/got.json" && cmp_pcrs "$TMP/got.json" "$TMP/want.json" >"$TMP/out"; then
		ok "tpm2-tools $name: replay matches the YAML pcrs block ($(tail -1 "$TMP/out"))"
	else
		notok "tpm2-tools $name: replay differs from the YAML pcrs block"
		diag "$TMP/out"
	fi
done

# ------------------------------------------------------------------------------------------
# tpmquote/go-tpm-tools/*/eventlog.bin: against the quoted PCR values beside it
for log in "$D"/tpmquote/go-tpm-tools/*/eventlog.bin; do
	[ -e "$log" ] || continue
	dir=$(dirname "$log")
	set=$(basename "$dir")
	jq -n 'reduce inputs as $p ({}; .[$p.bank] = $p.pcrs)' "$dir"/pcrs_*.json >"$TMP/want.json"
	if ! replay "$log" "$TMP/got.json"; then
		notok "tpmquote $set: replay failed"
		diag "$TMP/got.json.err"
		continue
	fi
	banks=$(jq -r 'keys | join(",")' "$TMP/want.json")
	# PCR 10 is the IMA PCR: the running OS extends it after boot, so the firmware log has
	# no events for it and cannot reproduce the quoted value. All other PCRs must match.
	ex=$(jq -r 'keys[] | . + ":10"' "$TMP/want.json")
	# shellcheck disable=SC2086 # one argument per bank:pcr
	if cmp_pcrs "$TMP/got.json" "$TMP/want.json" $ex >"$TMP/out"; then
		ok "tpmquote $set: replay matches the quoted PCRs 0-9,11-23 of $banks ($(tail -1 "$TMP/out"))"
	else
		notok "tpmquote $set: replay differs from the quoted PCRs"
		diag "$TMP/out"
	fi
	if [ "$(pcr_events "$log" 10)" = 0 ] &&
		[ "$(jq --slurpfile g "$TMP/got.json" '[to_entries[] | select(.value["10"] == $g[0][.key]["10"])] | length' "$TMP/want.json")" = 0 ]; then
		ok "tpmquote $set: PCR 10 has no log events and differs in every bank (IMA)"
	else
		notok "tpmquote $set: PCR 10 exception no longer holds"
	fi
done

# tpmquote/go-attestation-windows-gcp: SHA-1 quote and log (PCRs 0, 4, 5, 7, 11-14)
WD=$D/tpmquote/go-attestation-windows-gcp
if [ -e "$WD/eventlog.bin" ] && [ -e "$WD/pcrs.json" ]; then
	python3 - "$WD/pcrs.json" "$TMP/want.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
if "pcrs" in d:
    bank, pcrs = d.get("bank", "sha1"), d["pcrs"]
elif "sha1" in d:
    bank, pcrs = "sha1", d["sha1"]
else:
    bank, pcrs = "sha1", d
if isinstance(pcrs, list):
    pcrs = {str(i): v for i, v in enumerate(pcrs)}
keep = ["0", "4", "5", "7", "11", "12", "13", "14"]
json.dump({bank: {k: pcrs[k] for k in keep}}, open(sys.argv[2], "w"))
EOF
	if replay "$WD/eventlog.bin" "$TMP/got.json" &&
		cmp_pcrs "$TMP/got.json" "$TMP/want.json" >"$TMP/out"; then
		ok "tpmquote go-attestation-windows-gcp: PCRs 0,4,5,7,11-14 match ($(tail -1 "$TMP/out"))"
	else
		notok "tpmquote go-attestation-windows-gcp: replay differs"
		diag "$TMP/out"
	fi
else
	skip "tpmquote go-attestation-windows-gcp: not present"
fi

# ------------------------------------------------------------------------------------------
# Parse-only logs, and show/show --json on every good log
good=""
for f in "$EL"/go-tpm-tools/*.bin "$EL"/tpm2-tools/*.bin "$D"/tpmquote/*/*/eventlog.bin \
	"$EL"/go-attestation/coreos_36_shielded_vm_no_secure_boot_eventlog \
	"$EL"/go-attestation/crypto_agile_eventlog "$EL"/go-attestation/sb_cert_eventlog \
	"$EL"/go-attestation/short_no_action_eventlog "$EL"/go-attestation/option_rom_eventlog \
	"$EL"/go-attestation/ebs_event_missing_eventlog \
	"$EL"/go-attestation/ubuntu_2104_shielded_vm_no_secure_boot_eventlog \
	"$EL"/keylime/binary_bios_measurements "$EL"/keylime/binary_bios_measurements-secureboot \
	"$EL"/keylime/mb_log.bin "$EL"/trustee-ccel-tdx/CCEL_data_ovmf; do
	[ -e "$f" ] && good="$good $f"
done
for f in $good; do
	rel=${f#"$D"/}
	if "$KAGICTL" eventlog show "$f" >"$TMP/show.txt" 2>"$TMP/err" &&
		grep -q '^Events: ' "$TMP/show.txt"; then
		ok "show $rel"
	else
		notok "show $rel"
		diag "$TMP/err"
	fi
	if "$KAGICTL" eventlog show --json "$f" >"$TMP/show.json" 2>"$TMP/err" &&
		jq -e '(.events | length) == .event_count and (.banks | length) > 0' \
			"$TMP/show.json" >/dev/null; then
		ok "show --json $rel: valid JSON, $(jq .event_count "$TMP/show.json") events"
	else
		notok "show --json $rel"
		diag "$TMP/err"
	fi
done

# keylime: parse tests (no expected PCRs upstream); the CCEL log is a format input only.
# PROVENANCE counts records: the Spec ID header of a crypto-agile log is one more.
for f in binary_bios_measurements binary_bios_measurements-secureboot mb_log.bin; do
	n_ev=$("$KAGICTL" eventlog show --json "$EL/keylime/$f" 2>/dev/null |
		jq '.event_count + (if .format == "crypto-agile" then 1 else 0 end)')
	case $f in
	binary_bios_measurements) want=121 ;;
	binary_bios_measurements-secureboot) want=99 ;;
	*) want="" ;;
	esac
	if [ -n "$n_ev" ] && { [ -z "$want" ] || [ "$n_ev" = "$want" ]; }; then
		ok "keylime $f parses ($n_ev records${want:+, as documented})"
	else
		notok "keylime $f: got '$n_ev' events, expected ${want:-some}"
	fi
done
if "$KAGICTL" eventlog show --json "$EL/trustee-ccel-tdx/CCEL_data_ovmf" >"$TMP/ccel.json" &&
	jq -e '.spec_id.pcr == 1 and ([.banks[].alg] == ["sha384"]) and .trailing_bytes > 0' \
		"$TMP/ccel.json" >/dev/null; then
	ok "trustee CCEL_data_ovmf decodes: sha384 only, Spec ID in MR index 1, 0xff padding"
else
	notok "trustee CCEL_data_ovmf"
fi

# Malformed input: rejected with exit 2 and a message naming the file, check and offset
for f in binary_bios_measurements-bogus binary_bios_measurements-empty; do
	for verb in show replay; do
		"$KAGICTL" eventlog $verb "$EL/keylime/$f" >"$TMP/out" 2>"$TMP/err"
		rc=$?
		if [ $rc = 2 ] && [ ! -s "$TMP/out" ] &&
			grep -Eq "^kagictl: eventlog '.*$f': eventlog\.[a-z_.0-9]+ at offset 0x[0-9a-f]+: .+" "$TMP/err"; then
			ok "keylime $f: $verb rejects it: $(cat "$TMP/err")"
		else
			notok "keylime $f: $verb exit $rc"
			diag "$TMP/err"
		fi
	done
done
if "$KAGICTL" eventlog show "$EL/keylime/binary_bios_measurements-empty" 2>&1 | grep -q 'empty event log'; then
	ok "empty log: 'empty event log'"
else
	notok "empty log message"
fi

# Usage and I/O errors
"$KAGICTL" eventlog replay "$TMP/does-not-exist" >/dev/null 2>"$TMP/err"
rc=$?
if [ $rc = 2 ] && grep -q "cannot read" "$TMP/err"; then
	ok "missing file: exit 2"
else
	notok "missing file: exit $rc"
fi
"$KAGICTL" eventlog frobnicate x >/dev/null 2>&1
rc=$?
[ $rc = 2 ] && ok "unknown verb: exit 2" || notok "unknown verb: exit $rc"
"$KAGICTL" eventlog show >/dev/null 2>&1
rc=$?
[ $rc = 2 ] && ok "missing FILE: exit 2" || notok "missing FILE: exit $rc"

# Text replay: one line per bank and PCR, the same values as the JSON
f=$EL/go-tpm-tools/ubuntu-2104-no-dbx.bin
if [ -e "$f" ]; then
	"$KAGICTL" eventlog replay "$f" >"$TMP/replay.txt"
	"$KAGICTL" eventlog replay --json "$f" |
		jq -r 'to_entries[] | .key as $b | .value | to_entries[] | "\($b) \(.key) \(.value)"' |
		sort >"$TMP/a"
	awk '{print $1, $2, $3}' "$TMP/replay.txt" | sort >"$TMP/b"
	nb=$("$KAGICTL" eventlog replay --json "$f" | jq length)
	if [ "$(wc -l <"$TMP/b")" = $((nb * 24)) ] && [ "$nb" -ge 2 ] && cmp -s "$TMP/a" "$TMP/b"; then
		ok "replay text output: $nb banks x 24 PCRs, equal to the JSON"
	else
		notok "replay text output"
	fi
fi

echo "1..$n"
[ "$failed" = 0 ]
