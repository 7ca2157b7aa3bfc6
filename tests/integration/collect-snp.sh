#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# collect-snp.sh: the SNP evidence collector against kagi-snp-standin (TEST ONLY FUSE stand-in
# for /sys/kernel/config/tsm/report), with a throw-away test PKI and, for the SVSM vTPM part,
# swtpm. Prints TAP.
#
# Usage: collect-snp.sh KAGI KAGICTL KAGI-SNP-STANDIN
# Environment: KAGI_SOURCE_ROOT (for contrib/amd-roots and tests/snp-standin/mkcerts.sh).
set -u
export LC_ALL=C

kagi=${1:-}
kagictl=${2:-}
standin=${3:-}
src=${KAGI_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}

skip_all() {
	echo "1..0 # SKIP $*"
	exit 0
}
[ -n "$standin" ] || skip_all "kagi-snp-standin not built (meson setup -Dsnp-standin=true)"
[ -x "$standin" ] || skip_all "kagi-snp-standin '$standin' is not executable"
[ -c /dev/fuse ] || skip_all "/dev/fuse is missing"
command -v fusermount3 >/dev/null 2>&1 || skip_all "fusermount3 is missing"
for tool in openssl jq python3 mountpoint; do
	command -v "$tool" >/dev/null 2>&1 || skip_all "$tool is missing"
done

have_swtpm=1
command -v swtpm >/dev/null 2>&1 || have_swtpm=0

planned=45
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
# check DESCRIPTION COMMAND...: ok when the command succeeds (its output is not TAP: dropped)
check() {
	local desc=$1
	shift
	if "$@" >/dev/null 2>"$tmp/check.err"; then
		ok "$desc"
	else
		diag "$tmp/check.err"
		not_ok "$desc"
	fi
}
diag() {
	sed 's/^/# /' "$@" >&2
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kagi-collect-snp.XXXXXX")
mnt=$tmp/tsm
mkdir -p "$mnt"
standin_pid=
swtpm_pid=

stop_standin() {
	if [ -n "$standin_pid" ]; then
		kill -TERM "$standin_pid" 2>/dev/null
		for _ in $(seq 50); do
			kill -0 "$standin_pid" 2>/dev/null || break
			sleep 0.1
		done
		wait "$standin_pid" 2>/dev/null
		standin_pid=
	fi
	if mountpoint -q "$mnt"; then
		fusermount3 -u "$mnt" 2>/dev/null || fusermount3 -uz "$mnt" 2>/dev/null
	fi
}
cleanup() {
	stop_standin
	if [ -n "$swtpm_pid" ]; then
		kill -TERM "$swtpm_pid" 2>/dev/null
		wait "$swtpm_pid" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# start_standin LOG ARGS...: mount the stand-in in the foreground (background job), wait for it
start_standin() {
	local log=$1
	shift
	"$standin" --vcek-key "$pki/vcek-key.pem" --vcek "$pki/vcek.der" --ask "$pki/ask.pem" \
		--ark "$pki/ark.pem" "$@" "$mnt" -f >"$log" 2>&1 &
	standin_pid=$!
	for _ in $(seq 100); do
		mountpoint -q "$mnt" && return 0
		kill -0 "$standin_pid" 2>/dev/null || break
		sleep 0.1
	done
	diag "$log"
	return 1
}

# expect_fail DESC ERRTEXT COMMAND...: ok if COMMAND fails and its stderr names ERRTEXT
expect_fail() {
	local desc=$1 text=$2
	shift 2
	if "$@" 2>"$tmp/err"; then
		not_ok "$desc (it succeeded)"
	elif grep -q "$text" "$tmp/err"; then
		ok "$desc"
	else
		diag "$tmp/err"
		not_ok "$desc (wrong error)"
	fi
}
# put FILE VALUE: one write() of VALUE and a newline, like echo
put() {
	printf '%s\n' "$2" >"$1"
}
# putf FILE SRC: the bytes of SRC
putf() {
	cat "$2" >"$1"
}
# get FILE OUT: read FILE until EOF into OUT
get() {
	cat "$1" >"$2"
}
gen() {
	cat "$1/generation"
}
# field FILE OFFSET LEN: the bytes as hex
field() {
	python3 -c 'import sys; d=open(sys.argv[1],"rb").read(); o=int(sys.argv[2],0); print(d[o:o+int(sys.argv[3],0)].hex())' "$@"
}
# u32 FILE OFFSET: a little-endian u32
u32() {
	python3 -c 'import sys; d=open(sys.argv[1],"rb").read(); o=int(sys.argv[2],0); print(int.from_bytes(d[o:o+4],"little"))' "$@"
}
hex_of() {
	od -An -v -tx1 "$1" | tr -d ' \n'
}
sha512_of() {
	cat "$@" | openssl dgst -sha512 -r | cut -d' ' -f1
}

# ---- test PKI ----
pki=$tmp/pki
if ! "$src/tests/snp-standin/mkcerts.sh" "$pki" --product Milan >"$tmp/mkcerts.log" 2>&1; then
	diag "$tmp/mkcerts.log"
	echo "Bail out! mkcerts.sh failed"
	exit 1
fi

# ---- (a) direct report: the configfs-tsm ABI from the shell ----
if ! start_standin "$tmp/standin1.log"; then
	echo "Bail out! the stand-in did not mount"
	exit 1
fi
ok "stand-in mounted (direct SNP, VMPL 0)"
check "stand-in prints the TEST ONLY banner" grep -q "TEST ONLY SEV-SNP stand-in" "$tmp/standin1.log"

e=$mnt/shell-$$
check "mkdir creates a report entry" mkdir "$e"
check "provider is sev_guest" test "$(cat "$e/provider")" = sev_guest
check "privlevel_floor is 0 and the SVSM attributes are hidden" \
	test "$(cat "$e/privlevel_floor")" = 0 -a ! -e "$e/service_provider" -a ! -e "$e/manifestblob"
check "generation starts at 0" test "$(gen "$e")" = 0
expect_fail "outblob before any inblob fails with EINVAL" "Invalid argument" get "$e/outblob" /dev/null

head -c 64 /dev/urandom >"$tmp/nonce-a.bin"
putf "$e/inblob" "$tmp/nonce-a.bin"
check "a 64-byte inblob is stored at close: generation 1" test "$(gen "$e")" = 1
get "$e/outblob" "$tmp/a-report.bin"
check "outblob is a 1184-byte report" test "$(stat -c %s "$tmp/a-report.bin")" = 1184
check "report_data is the inblob" \
	test "$(field "$tmp/a-report.bin" 0x50 64)" = "$(hex_of "$tmp/nonce-a.bin")"
get "$e/outblob" "$tmp/a-report2.bin"
if cmp -s "$tmp/a-report.bin" "$tmp/a-report2.bin" && [ "$(gen "$e")" = 1 ]; then
	ok "rereading without writes returns the cached report, generation unchanged"
else
	not_ok "rereading without writes returns the cached report, generation unchanged"
fi
get "$e/auxblob" "$tmp/a-aux.bin"
check "auxblob holds the certificate table" test "$(stat -c %s "$tmp/a-aux.bin")" -gt 1000

expect_fail "privlevel 4 is rejected by write() with EINVAL" "Invalid argument" put "$e/privlevel" 4
check "a rejected privlevel leaves generation unchanged" test "$(gen "$e")" = 1
put "$e/privlevel" 0x1
get "$e/outblob" "$tmp/a-report3.bin"
check "privlevel 0x1 bumps generation and the new report has VMPL 1" \
	test "$(gen "$e")" = 2 -a "$(u32 "$tmp/a-report3.bin" 0x30)" = 1

head -c 63 /dev/urandom >"$tmp/short.bin"
putf "$e/inblob" "$tmp/short.bin"
check "a 63-byte inblob is stored at close: generation 3" test "$(gen "$e")" = 3
expect_fail "outblob after a 63-byte inblob fails with EINVAL" "Invalid argument" \
	get "$e/outblob" /dev/null
head -c 65 /dev/urandom >"$tmp/long.bin"
expect_fail "a 65-byte inblob write fails with EFBIG" "File too large" putf "$e/inblob" "$tmp/long.bin"
check "rmdir removes the entry" rmdir "$e"
check "the entry is gone" test ! -e "$e"

"$kagictl" report verify "$tmp/a-report.bin" --certs-from-aux "$tmp/a-aux.bin" \
	--chain "$pki/chain.pem" >"$tmp/v.log" 2>&1
rc=$?
if [ $rc = 0 ]; then
	ok "kagictl verifies the shell-read report against the test ARK"
else
	diag "$tmp/v.log"
	not_ok "kagictl verifies the shell-read report against the test ARK (exit $rc)"
fi

# ---- (b) kagi collect through the agent's configfs-tsm code ----
nonce=$(head -c 64 /dev/urandom | od -An -v -tx1 | tr -d ' \n')
out=$tmp/out
"$kagi" collect --no-tpm --tsm-dir "$mnt" --nonce "$nonce" --out-dir "$out" --json \
	>"$tmp/collect.json" 2>"$tmp/collect.err"
rc=$?
if [ $rc = 0 ]; then
	ok "kagi collect --no-tpm succeeds against the stand-in"
else
	diag "$tmp/collect.err"
	not_ok "kagi collect --no-tpm succeeds against the stand-in (exit $rc)"
fi
# shellcheck disable=SC2016
check "kagi collect --json reports the nonce and report_data_matches_nonce" \
	jq -e --arg n "$nonce" '.nonce == $n and .snp.report_data_matches_nonce == true' \
	"$tmp/collect.json"
rd=$("$kagictl" report show "$out/report.bin" --json 2>/dev/null | jq -r .report_data)
check "OUT/report.bin has report_data == nonce" test "$rd" = "$nonce"
check "kagi collect left no entry behind" test -z "$(ls -A "$mnt")"

# ---- (c) trusted only with the test ARK, never with AMD's roots ----
"$kagictl" report verify "$out/report.bin" --certs-from-aux "$out/auxblob.bin" \
	--chain "$pki/chain.pem" >"$tmp/v.log" 2>&1
rc=$?
if [ $rc = 0 ]; then
	ok "kagictl report verify --chain TESTPKI/chain.pem exits 0"
else
	diag "$tmp/v.log"
	not_ok "kagictl report verify --chain TESTPKI/chain.pem exits 0 (exit $rc)"
fi
"$kagictl" report verify "$out/report.bin" --certs-from-aux "$out/auxblob.bin" \
	--amd-roots "$src/contrib/amd-roots" >"$tmp/v.log" 2>&1
rc=$?
if [ $rc = 1 ]; then
	ok "with AMD's roots the stand-in report is rejected (exit 1)"
else
	diag "$tmp/v.log"
	not_ok "with AMD's roots the stand-in report is rejected (exit 1, got $rc)"
fi
rm -f "$tmp/tampered.bin"
if cp "$out/report.bin" "$tmp/tampered.bin" 2>/dev/null; then
	printf '\245' | dd of="$tmp/tampered.bin" bs=1 seek=$((0x90)) conv=notrunc status=none
fi
"$kagictl" report verify "$tmp/tampered.bin" --certs-from-aux "$out/auxblob.bin" \
	--chain "$pki/chain.pem" >"$tmp/v.log" 2>&1
rc=$?
if [ $rc = 1 ] && [ -s "$tmp/tampered.bin" ] && ! cmp -s "$out/report.bin" "$tmp/tampered.bin"; then
	ok "a report with one changed measurement byte is rejected (exit 1)"
else
	diag "$tmp/v.log"
	not_ok "a report with one changed measurement byte is rejected (exit 1, got $rc)"
fi

kill -TERM "$standin_pid"
for _ in $(seq 50); do
	kill -0 "$standin_pid" 2>/dev/null || break
	sleep 0.1
done
if mountpoint -q "$mnt" || kill -0 "$standin_pid" 2>/dev/null; then
	not_ok "SIGTERM stops and unmounts the stand-in"
	stop_standin
else
	wait "$standin_pid"
	rc=$?
	standin_pid=
	check "SIGTERM stops and unmounts the stand-in, exit status 0 (got $rc)" test $rc = 0
fi

# ---- (d) SVSM vTPM: report_data = SHA-512(nonce || EK TPMT_PUBLIC), VMPL 0 ----
svsm_tests=16
if [ $have_swtpm = 0 ]; then
	for _ in $(seq $svsm_tests); do skip "swtpm is not installed"; done
	[ $failed = 0 ]
	exit
fi

# two free consecutive TCP ports
port=$(python3 -c '
import random, socket
for _ in range(200):
    p = random.randrange(20000, 60000, 2)
    try:
        for q in (p, p + 1):
            s = socket.socket()
            s.bind(("127.0.0.1", q))
            s.close()
        print(p)
        break
    except OSError:
        pass
')
mkdir -p "$tmp/tpm"
swtpm socket --tpm2 --tpmstate dir="$tmp/tpm" --server type=tcp,port="$port",bindaddr=127.0.0.1 \
	--ctrl type=tcp,port=$((port + 1)),bindaddr=127.0.0.1 --flags not-need-init,startup-clear \
	>"$tmp/swtpm.log" 2>&1 &
swtpm_pid=$!
tcti="swtpm:host=127.0.0.1,port=$port"
for _ in $(seq 50); do
	python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' \
		"$port" 2>/dev/null && break
	sleep 0.1
done

if start_standin "$tmp/standin2.log" --vmpl-floor 2 --tcti "$tcti"; then
	ok "stand-in mounted as a guest at VMPL 2 under an SVSM with a vTPM"
else
	diag "$tmp/swtpm.log"
	not_ok "stand-in mounted as a guest at VMPL 2 under an SVSM with a vTPM"
	for _ in $(seq $((svsm_tests - 1))); do skip "the stand-in did not mount"; done
	exit 1
fi

e=$mnt/svsm-$$
mkdir "$e"
check "privlevel_floor is 2 and the SVSM attributes are visible" \
	test "$(cat "$e/privlevel_floor")" = 2 -a -e "$e/service_provider" -a -e "$e/service_guid" \
	-a -e "$e/service_manifest_version" -a -e "$e/manifestblob"
expect_fail "privlevel below the floor is rejected with EINVAL" "Invalid argument" \
	put "$e/privlevel" 1
expect_fail "bad service_guid text is rejected with EINVAL" "Invalid argument" \
	put "$e/service_guid" not-a-guid
check "... and still bumps generation (kernel quirk)" test "$(gen "$e")" = 1
put "$e/service_provider" svsm
put "$e/service_guid" a4453a59-9e1b-4787-a033-1986d6adbe55
head -c 64 /dev/urandom >"$tmp/nonce-d.bin"
putf "$e/inblob" "$tmp/nonce-d.bin"
expect_fail "a service other than the vTPM fails with EINVAL" "Invalid argument" \
	get "$e/outblob" /dev/null
put "$e/service_guid" c476f1eb-0123-45a5-9641-b4e7dde5bfe3
put "$e/service_manifest_version" 0
get "$e/outblob" "$tmp/d-report.bin"
get "$e/manifestblob" "$tmp/d-manifest.bin"
check "generation counts the 6 writes" test "$(gen "$e")" = 6
check "the manifest is a 314-byte RSA-2048 EK TPMT_PUBLIC" \
	test "$(stat -c %s "$tmp/d-manifest.bin")" = 314 -a \
	"$(field "$tmp/d-manifest.bin" 0 8)" = 0001000b000300b2
check "the SVSM report has VMPL 0 and report_data = SHA-512(nonce || manifest)" \
	test "$(u32 "$tmp/d-report.bin" 0x30)" = 0 -a \
	"$(field "$tmp/d-report.bin" 0x50 64)" = "$(sha512_of "$tmp/nonce-d.bin" "$tmp/d-manifest.bin")"
rmdir "$e"

if ! command -v tpm2_createek >/dev/null 2>&1; then
	skip "tpm2_createek is not installed"
elif tpm2_createek -T "$tcti" -G rsa -c "$tmp/ek.ctx" -u "$tmp/ek.pub" >"$tmp/ek.log" 2>&1; then
	tpm2_flushcontext -T "$tcti" -t >/dev/null 2>&1
	# ek.pub is a TPM2B_PUBLIC: a 2-byte size, then the TPMT_PUBLIC
	tail -c +3 "$tmp/ek.pub" >"$tmp/ek.tpmt"
	check "the manifest is the TPM's EK (tpm2_createek)" cmp -s "$tmp/ek.tpmt" "$tmp/d-manifest.bin"
else
	diag "$tmp/ek.log"
	not_ok "the manifest is the TPM's EK (tpm2_createek failed)"
fi

nonce=$(head -c 64 /dev/urandom | od -An -v -tx1 | tr -d ' \n')
out2=$tmp/out2
"$kagi" collect --tsm-dir "$mnt" --tcti "$tcti" --nonce "$nonce" --out-dir "$out2" --json \
	>"$tmp/collect2.json" 2>"$tmp/collect2.err"
rc=$?
if [ $rc = 0 ]; then
	ok "kagi collect (SVSM vTPM) succeeds against the stand-in and swtpm"
else
	diag "$tmp/collect2.err"
	not_ok "kagi collect (SVSM vTPM) succeeds against the stand-in and swtpm (exit $rc)"
fi
check "kagi collect --json reports the vTPM binding as valid" jq -e '.snp.svsm |
	.vtpm_binding_valid == true and .manifest_matches_ek == true and .vmpl0 == true and
	.report_data_ok == true' "$tmp/collect2.json"
printf '%s' "$nonce" | python3 -c 'import sys; sys.stdout.buffer.write(bytes.fromhex(sys.stdin.read()))' \
	>"$tmp/nonce-d2.bin"
check "OUT2/manifest.bin is the vTPM EK TPMT_PUBLIC" cmp -s "$out2/manifest.bin" "$tmp/d-manifest.bin"
check "OUT2/svsm-report.bin has VMPL 0 and report_data = SHA-512(nonce || manifest)" \
	test -s "$out2/svsm-report.bin" -a "$(u32 "$out2/svsm-report.bin" 0x30)" = 0 -a \
	"$(field "$out2/svsm-report.bin" 0x50 64)" = "$(sha512_of "$tmp/nonce-d2.bin" "$tmp/d-manifest.bin")"
"$kagictl" report show "$out2/report.bin" --json >"$tmp/show2.json" 2>/dev/null
check "OUT2/report.bin is the direct report: VMPL 2, report_data == nonce" \
	test "$(jq -r .vmpl "$tmp/show2.json" 2>/dev/null)" = 2 -a \
	"$(jq -r .report_data "$tmp/show2.json" 2>/dev/null)" = "$nonce"
"$kagictl" report verify "$out2/svsm-report.bin" --certs-from-aux "$out2/auxblob.bin" \
	--chain "$pki/chain.pem" >"$tmp/v.log" 2>&1
rc=$?
if [ $rc = 0 ]; then
	ok "the SVSM report verifies against the test ARK"
else
	diag "$tmp/v.log"
	not_ok "the SVSM report verifies against the test ARK (exit $rc)"
fi

[ "$n" = "$planned" ] || echo "# planned $planned tests, ran $n" >&2
[ $failed = 0 ]
