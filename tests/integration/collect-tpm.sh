#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# collect-tpm.sh: `kagi collect` against swtpm, checked offline with kagictl, python3 and
# tpm2-tools: EK template bytes, AK, quote (nonce, PCR digest, signature), PCR extend,
# ActivateCredential round trip with a credential made by tpm2_makecredential. Prints TAP.
#
# Usage: collect-tpm.sh KAGI KAGICTL [STANDIN (ignored)]
set -u
export LC_ALL=C

kagi=${1:-}
kagictl=${2:-}

skip_all() {
	echo "1..0 # SKIP $*"
	exit 0
}
[ -x "$kagi" ] || skip_all "kagi '$kagi' is not executable"
for tool in swtpm jq python3; do
	command -v "$tool" >/dev/null 2>&1 || skip_all "$tool is missing"
done
have_tools=1
for tool in tpm2_makecredential tpm2_createek tpm2_flushcontext; do
	command -v "$tool" >/dev/null 2>&1 || have_tools=0
done

planned=49
echo "1..$planned"
n=0
failed=0
ok() {
	n=$((n + 1))
	echo "ok $n - $1"
}
not_ok() {
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n - $1"
}
skip() {
	n=$((n + 1))
	echo "ok $n # SKIP $1"
}
# check DESCRIPTION COMMAND...: ok when the command succeeds (its stdout is dropped)
check() {
	local desc=$1
	shift
	if "$@" >/dev/null; then ok "$desc"; else not_ok "$desc"; fi
}
diag() {
	sed 's/^/# /' "$@" >&2
}
# run_rc DESC EXPECTED_RC COMMAND...: ok when COMMAND exits with EXPECTED_RC
run_rc() {
	local desc=$1 want=$2 rc
	shift 2
	"$@" >"$tmp/last.out" 2>"$tmp/last.err"
	rc=$?
	if [ "$rc" = "$want" ]; then
		ok "$desc"
	else
		diag "$tmp/last.out" "$tmp/last.err"
		not_ok "$desc (exit $rc, expected $want)"
	fi
}
hex_of() {
	od -An -v -tx1 "$1" | tr -d ' \n'
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kagi-collect-tpm.XXXXXX")
swtpm_pid=
cleanup() {
	if [ -n "$swtpm_pid" ]; then
		kill -TERM "$swtpm_pid" 2>/dev/null
		wait "$swtpm_pid" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# ---- swtpm on two free consecutive ports (retried: another test may grab them) ----
start_swtpm() {
	local _
	for _ in 1 2 3 4 5; do
		port=$(python3 - <<'EOF'
import random, socket
for _ in range(200):
    p = random.randrange(20000, 40000, 2)
    try:
        for q in (p, p + 1):
            s = socket.socket(); s.bind(("127.0.0.1", q)); s.close()
        print(p)
        break
    except OSError:
        pass
EOF
)
		rm -rf "$tmp/tpmstate"
		mkdir -p "$tmp/tpmstate"
		swtpm socket --tpm2 --tpmstate dir="$tmp/tpmstate" \
			--server type=tcp,port="$port",bindaddr=127.0.0.1 \
			--ctrl type=tcp,port=$((port + 1)),bindaddr=127.0.0.1 \
			--flags not-need-init,startup-clear >"$tmp/swtpm.log" 2>&1 &
		swtpm_pid=$!
		for _ in $(seq 50); do
			kill -0 "$swtpm_pid" 2>/dev/null || break
			if python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' \
				"$port" 2>/dev/null; then
				return 0
			fi
			sleep 0.1
		done
		kill -TERM "$swtpm_pid" 2>/dev/null
		wait "$swtpm_pid" 2>/dev/null
		swtpm_pid=
	done
	return 1
}
if ! start_swtpm; then
	diag "$tmp/swtpm.log"
	echo "Bail out! swtpm did not start"
	exit 1
fi
tcti="swtpm:host=127.0.0.1,port=$port"
ok "swtpm listens on 127.0.0.1:$port"

# ---- collect ----
nonce=$(head -c 32 /dev/urandom | od -An -v -tx1 | tr -d ' \n')
out=$tmp/out
"$kagi" collect --no-snp --tcti "$tcti" --nonce "$nonce" --out-dir "$out" --json \
	>"$tmp/c1.json" 2>"$tmp/c1.err"
rc=$?
if [ $rc = 0 ]; then
	ok "kagi collect --no-snp exits 0 against swtpm"
else
	diag "$tmp/c1.err"
	not_ok "kagi collect --no-snp exits 0 against swtpm (exit $rc)"
fi
check "--json prints one JSON object" jq -e 'type == "object"' "$tmp/c1.json"
# shellcheck disable=SC2016 # $n is a jq variable
check "JSON: nonce, tpm.collected, snp skipped" jq -e --arg n "$nonce" \
	'.nonce == $n and .tpm.collected == true and .snp.collected == false and .snp.skipped == "--no-snp"' \
	"$tmp/c1.json"
check "JSON: EK is the 314-byte RSA L-1 public, AK RSASSA" jq -e \
	'.tpm.ek_type == "rsa2048-l1" and (.tpm.ek_public_hex | length) == 628 and
	 .tpm.ak_type == "rsa2048-rsassa-sha256" and (.tpm.ak_name_hex | test("^000b[0-9a-f]{64}$"))' \
	"$tmp/c1.json"
check "JSON: 24 sha256 PCRs of 32 bytes" jq -e \
	'(.tpm.pcrs.sha256 | keys | length) == 24 and
	 ([.tpm.pcrs.sha256[] | test("^[0-9a-f]{64}$")] | all)' "$tmp/c1.json"
check "JSON: quote hex equals the files written" test \
	"$(jq -r .tpm.quote_attest_hex "$tmp/c1.json")" = "$(hex_of "$out/quote.attest")" -a \
	"$(jq -r .tpm.quote_sig_hex "$tmp/c1.json")" = "$(hex_of "$out/quote.sig")" -a \
	"$(jq -r .tpm.ak_public_hex "$tmp/c1.json")" = "$(hex_of "$out/ak.tpmt")"
check "OUT has ek.tpmt ak.tpmt ak.priv quote.attest quote.sig pcrs.json nonce.hex" test \
	-s "$out/ek.tpmt" -a -s "$out/ak.tpmt" -a -s "$out/ak.priv" -a -s "$out/quote.attest" -a \
	-s "$out/quote.sig" -a -s "$out/pcrs.json" -a -s "$out/nonce.hex"
check "OUT has no SNP files with --no-snp" test ! -e "$out/report.bin" -a ! -e "$out/auxblob.bin"
check "nonce.hex holds the nonce" test "$(cat "$out/nonce.hex")" = "$nonce"
check "pcrs.json is {\"sha256\": {\"0\": hex, ...}} and matches the JSON output" \
	test "$(jq -cS . "$out/pcrs.json")" = "$(jq -cS .tpm.pcrs "$tmp/c1.json")"

# ---- EK and AK bytes ----
check "ek.tpmt is 314 bytes" test "$(stat -c %s "$out/ek.tpmt")" = 314
check "ek.tpmt has the L-1 template fields (type, nameAlg, 0x000300B2, policy A, AES-128-CFB, 2048, e=0, 256-byte unique)" \
	python3 - "$out/ek.tpmt" <<'EOF'
import sys
d = open(sys.argv[1], "rb").read()
want = bytes.fromhex(
    "0001" "000b" "000300b2" "0020"
    "837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa"
    "0006" "0080" "0043" "0010" "0800" "00000000" "0100")
assert len(d) == 314, len(d)
assert d[:58] == want, d[:58].hex()
n = d[58:]
assert len(n) == 256 and n[0] & 0x80 and any(n), "modulus"
EOF
check "ak.tpmt: RSA, SHA-256, 0x00050472, RSASSA-SHA256, 2048 bits" python3 - "$out/ak.tpmt" <<'EOF'
import sys
d = open(sys.argv[1], "rb").read()
assert d[:18] == bytes.fromhex("0001" "000b" "00050472" "0000" "0010" "0014" "000b" "0800"), d[:18].hex()
assert d[18:24] == bytes.fromhex("00000000" "0100") and len(d) == 24 + 256, len(d)
EOF
check "AK name = 000b || SHA-256(ak.tpmt)" test "$(jq -r .tpm.ak_name_hex "$tmp/c1.json")" = \
	"000b$(python3 -c 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())' "$out/ak.tpmt")"

# ---- quote, parsed independently ----
quote_check() { # ATTEST PCRS_JSON NONCE_HEX
	python3 - "$@" <<'EOF'
import hashlib, json, struct, sys
a = open(sys.argv[1], "rb").read()
pcrs = json.load(open(sys.argv[2]))["sha256"]
nonce = bytes.fromhex(sys.argv[3])
o = 0
def take(n):
    global o
    b = a[o:o + n]; assert len(b) == n, "short"; o += n; return b
def u16(): return struct.unpack(">H", take(2))[0]
def u32(): return struct.unpack(">I", take(4))[0]
assert u32() == 0xff544347, "magic"
assert u16() == 0x8018, "type"
take(u16())                       # qualifiedSigner
assert take(u16()) == nonce, "extraData != nonce"
take(17 + 8)                      # clockInfo, firmwareVersion
assert u32() == 1, "one bank"
assert u16() == 0x000b, "sha256 bank"
sel = take(take(1)[0])
idx = [i for i in range(8 * len(sel)) if sel[i // 8] >> (i % 8) & 1]
assert idx == sorted(int(k) for k in pcrs), (idx, sorted(pcrs))
digest = take(u16())
assert o == len(a), "trailing bytes"
want = hashlib.sha256(b"".join(bytes.fromhex(pcrs[str(i)]) for i in idx)).digest()
assert digest == want, "pcrDigest != SHA-256(PCR values)"
print(digest.hex())
EOF
}
check "quote.attest: magic, ATTEST_QUOTE, extraData = nonce, 24 PCRs, pcrDigest = SHA-256(pcrs.json)" \
	quote_check "$out/quote.attest" "$out/pcrs.json" "$nonce"
digest1=$(quote_check "$out/quote.attest" "$out/pcrs.json" "$nonce" 2>/dev/null)

# ---- offline verification with kagictl ----
run_rc "kagictl quote verify accepts the quote (exit 0)" 0 \
	"$kagictl" quote verify --attest "$out/quote.attest" --sig "$out/quote.sig" --ak "$out/ak.tpmt" \
	--nonce "$nonce" --pcrs "$out/pcrs.json"
wrong=$(head -c 32 /dev/urandom | od -An -v -tx1 | tr -d ' \n')
run_rc "kagictl quote verify rejects a wrong nonce (exit 1)" 1 \
	"$kagictl" quote verify --attest "$out/quote.attest" --sig "$out/quote.sig" --ak "$out/ak.tpmt" \
	--nonce "$wrong" --pcrs "$out/pcrs.json"

# ---- ECC AK ----
out_ecc=$tmp/out-ecc
run_rc "kagi collect --ak-type ecc --pcrs 0-7,16 exits 0" 0 \
	"$kagi" collect --no-snp --tcti "$tcti" --nonce "$nonce" --ak-type ecc --pcrs 0-7,16 \
	--out-dir "$out_ecc" --json
cp "$tmp/last.out" "$tmp/c-ecc.json"
check "ECC AK: ECDSA-SHA256 P-256 public, 9 PCRs" jq -e \
	'.tpm.ak_type == "ecc-p256-ecdsa-sha256" and (.tpm.pcrs.sha256 | keys | length) == 9' \
	"$tmp/c-ecc.json"
check "ecc ak.tpmt: ECC, 0x00050472, ECDSA-SHA256, NIST P-256" python3 - "$out_ecc/ak.tpmt" <<'EOF'
import sys
d = open(sys.argv[1], "rb").read()
assert d[:20] == bytes.fromhex("0023" "000b" "00050472" "0000" "0010" "0018" "000b" "0003" "0010"), d[:20].hex()
EOF
check "ECC quote: extraData = nonce, pcrDigest = SHA-256(pcrs.json)" \
	quote_check "$out_ecc/quote.attest" "$out_ecc/pcrs.json" "$nonce"
run_rc "kagictl quote verify accepts the ECDSA quote (exit 0)" 0 \
	"$kagictl" quote verify --attest "$out_ecc/quote.attest" --sig "$out_ecc/quote.sig" \
	--ak "$out_ecc/ak.tpmt" --nonce "$nonce" --pcrs "$out_ecc/pcrs.json"
check "the EK is the same key in both runs (primary from the same seed)" \
	cmp -s "$out/ek.tpmt" "$out_ecc/ek.tpmt"
check "each run creates a new AK" test "$(hex_of "$out/ak.tpmt")" != "$(hex_of "$out_ecc/ak.tpmt")"

# ---- the EK as tpm2-tools creates it from the same template ----
if [ $have_tools = 1 ] && tpm2_createek -T "$tcti" -G rsa -c "$tmp/ek.ctx" -u "$tmp/ek.pub" \
	>"$tmp/createek.log" 2>&1; then
	tpm2_flushcontext -T "$tcti" -t >/dev/null 2>&1
	# ek.pub is a TPM2B_PUBLIC: a 2-byte size, then the TPMT_PUBLIC
	check "ek.tpmt equals the EK from tpm2_createek -G rsa" \
		cmp -s <(tail -c +3 "$tmp/ek.pub") "$out/ek.tpmt"
elif [ $have_tools = 1 ]; then
	diag "$tmp/createek.log"
	not_ok "ek.tpmt equals the EK from tpm2_createek -G rsa (tpm2_createek failed)"
else
	skip "tpm2-tools are not installed"
fi

# ---- the one-shot tpm_ek_public_marshaled() and the L-2 ECC EK ----
run_rc "kagi tpm-debug ek --type rsa (tpm_ek_public_marshaled) exits 0" 0 \
	"$kagi" tpm-debug ek --tcti "$tcti" --type rsa --out "$tmp/ek-rsa.tpmt"
check "... and gives the same 314 bytes as kagi collect" cmp -s "$tmp/ek-rsa.tpmt" "$out/ek.tpmt"
run_rc "kagi tpm-debug ek --type ecc exits 0" 0 \
	"$kagi" tpm-debug ek --tcti "$tcti" --type ecc --out "$tmp/ek-ecc.tpmt"
check "the ECC EK has the L-2 template fields (122 bytes, P-256, AES-128-CFB, policy A)" \
	python3 - "$tmp/ek-ecc.tpmt" <<'EOF'
import sys
d = open(sys.argv[1], "rb").read()
want = bytes.fromhex(
    "0023" "000b" "000300b2" "0020"
    "837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa"
    "0006" "0080" "0043" "0010" "0003" "0010" "0020")
assert len(d) == 122, len(d)
assert d[:len(want)] == want, d[:len(want)].hex()
assert d[len(want) + 32:len(want) + 34] == b"\x00\x20"
EOF
if [ $have_tools = 1 ] && tpm2_createek -T "$tcti" -G ecc -c "$tmp/ekecc.ctx" -u "$tmp/ekecc.pub" \
	>"$tmp/createek.log" 2>&1; then
	tpm2_flushcontext -T "$tcti" -t >/dev/null 2>&1
	check "the ECC EK equals the EK from tpm2_createek -G ecc" \
		cmp -s <(tail -c +3 "$tmp/ekecc.pub") "$tmp/ek-ecc.tpmt"
elif [ $have_tools = 1 ]; then
	diag "$tmp/createek.log"
	not_ok "the ECC EK equals the EK from tpm2_createek -G ecc (tpm2_createek failed)"
else
	skip "tpm2-tools are not installed"
fi

# ---- PCR extend changes the next quote ----
run_rc "kagi tpm-debug extend PCR 16 exits 0" 0 \
	"$kagi" tpm-debug extend --tcti "$tcti" --pcr 16 --data-hex 6b6167692d74657374
out2=$tmp/out2
run_rc "a second collect after the extend exits 0" 0 \
	"$kagi" collect --no-snp --tcti "$tcti" --nonce "$nonce" --out-dir "$out2" --json
cp "$tmp/last.out" "$tmp/c2.json"
check "PCR 16 = SHA-256(0^32 || SHA-256(data)), other PCRs unchanged" python3 - "$out/pcrs.json" \
	"$out2/pcrs.json" <<'EOF'
import hashlib, json, sys
a = json.load(open(sys.argv[1]))["sha256"]
b = json.load(open(sys.argv[2]))["sha256"]
want = hashlib.sha256(bytes.fromhex(a["16"]) + hashlib.sha256(b"kagi-test").digest()).hexdigest()
assert b["16"] == want, (b["16"], want)
assert all(a[k] == b[k] for k in a if k != "16")
EOF
digest2=$(quote_check "$out2/quote.attest" "$out2/pcrs.json" "$nonce" 2>/dev/null)
check "the second quote's PCR digest differs from the first" \
	test -n "$digest1" -a -n "$digest2" -a "$digest1" != "$digest2"
run_rc "kagictl quote verify accepts the second quote" 0 \
	"$kagictl" quote verify --attest "$out2/quote.attest" --sig "$out2/quote.sig" --ak "$out2/ak.tpmt" \
	--nonce "$nonce" --pcrs "$out2/pcrs.json"
run_rc "kagictl quote verify rejects the first quote against the new PCR values (exit 1)" 1 \
	"$kagictl" quote verify --attest "$out/quote.attest" --sig "$out/quote.sig" --ak "$out/ak.tpmt" \
	--nonce "$nonce" --pcrs "$out2/pcrs.json"
run_rc "tpm-debug extend refuses PCR 24 (usage, exit 2)" 2 \
	"$kagi" tpm-debug extend --tcti "$tcti" --pcr 24 --data-hex 00

# ---- ActivateCredential round trip (credential made offline by tpm2_makecredential) ----
if [ $have_tools = 1 ]; then
	# the EK as TPM2B_PUBLIC for tpm2_makecredential
	python3 -c 'import struct,sys; d=open(sys.argv[1],"rb").read(); open(sys.argv[2],"wb").write(struct.pack(">H",len(d))+d)' \
		"$out2/ek.tpmt" "$tmp/ek.tpm2b"
	head -c 32 /dev/urandom >"$tmp/cred.bin"
	ak_name=$(jq -r .tpm.ak_name_hex "$tmp/c2.json")
	# tpm2-tools credential file: magic BADCC0DE, version 1, TPM2B_ID_OBJECT, TPM2B_ENCRYPTED_SECRET
	split_cred() { # MKCRED_OUT PREFIX
		python3 - "$@" <<'EOF'
import struct, sys
d = open(sys.argv[1], "rb").read()
assert d[:8] == bytes.fromhex("badcc0de00000001"), d[:8].hex()
n = struct.unpack(">H", d[8:10])[0]
blob, sec = d[8:10 + n], d[10 + n:]
assert struct.unpack(">H", sec[:2])[0] == len(sec) - 2
open(sys.argv[2] + ".blob", "wb").write(blob)
open(sys.argv[2] + ".secret", "wb").write(sec)
EOF
	}
	if tpm2_makecredential -T none -u "$tmp/ek.tpm2b" -s "$tmp/cred.bin" -n "$ak_name" \
		-o "$tmp/mkcred.out" >"$tmp/mk.log" 2>&1 && split_cred "$tmp/mkcred.out" "$tmp/cred"; then
		ok "tpm2_makecredential (offline) made a credential for the EK and the AK name"
	else
		diag "$tmp/mk.log"
		not_ok "tpm2_makecredential (offline) made a credential for the EK and the AK name"
	fi
	run_rc "kagi ActivateCredential (AK password + EK PolicySecret) returns the credential" 0 \
		"$kagi" tpm-debug activate --tcti "$tcti" --ak-public "$out2/ak.tpmt" \
		--ak-private "$out2/ak.priv" --blob "$tmp/cred.blob" --secret "$tmp/cred.secret" \
		--expect "$tmp/cred.bin"
	head -c 32 /dev/urandom >"$tmp/other.bin"
	run_rc "a different expected credential is reported as different (exit 1)" 1 \
		"$kagi" tpm-debug activate --tcti "$tcti" --ak-public "$out2/ak.tpmt" \
		--ak-private "$out2/ak.priv" --blob "$tmp/cred.blob" --secret "$tmp/cred.secret" \
		--expect "$tmp/other.bin"
	run_rc "the credential cannot be activated with another AK (exit 1)" 1 \
		"$kagi" tpm-debug activate --tcti "$tcti" --ak-public "$out_ecc/ak.tpmt" \
		--ak-private "$out_ecc/ak.priv" --blob "$tmp/cred.blob" --secret "$tmp/cred.secret" \
		--expect "$tmp/cred.bin"
	check "that failure is the TPM's integrity check" grep -q "integrity" "$tmp/last.err"
else
	for _ in 1 2 3 4 5; do skip "tpm2-tools are not installed"; done
fi

# ---- failures are reported clearly ----
run_rc "no SNP and no TPM: nothing collected (exit 1)" 1 "$kagi" collect --no-snp --no-tpm
check "... and it says so" grep -q "nothing was collected" "$tmp/last.err"
run_rc "a TCTI with nothing behind it: exit 1" 1 \
	"$kagi" collect --no-snp --tcti "swtpm:host=127.0.0.1,port=$((port + 2))" \
	--eventlog "$tmp/missing-eventlog"
check "... naming the TCTI" grep -q "no TPM reachable through TCTI" "$tmp/last.out"
run_rc "a nonce longer than 64 bytes is a usage error (exit 2)" 2 \
	"$kagi" collect --no-snp --tcti "$tcti" --nonce "$(printf '%0130d' 0)"
run_rc "an odd-length nonce is a usage error (exit 2)" 2 \
	"$kagi" collect --no-snp --tcti "$tcti" --nonce abc

[ $n = $planned ] || echo "# planned $planned tests, ran $n" >&2
[ $failed = 0 ] && [ $n = $planned ]
