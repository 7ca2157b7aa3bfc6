#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# kagictl key | kek | policy: the verifier's key store, KEK and policy file, in a temporary
# directory. The PKCS#11 part builds a private SoftHSM2 token and runs when softhsm2-util,
# pkcs11-tool and the SoftHSM2 module are installed. Output is TAP.
set -u

KAGICTL=${1:?usage: check-admin.sh KAGICTL}
SRC=${KAGI_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
EXAMPLE=$SRC/contrib/examples/policy.json
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
# key bytes never appear in argv; stdin is /dev/null unless a test pipes a key in
exec </dev/null

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

# check_in DESC WANT_EXIT PATTERN INPUT-FILE CMD...: as check, with INPUT-FILE on stdin
check_in() {
	local desc=$1 want=$2 pat=$3 in=$4 out rc
	shift 4
	out=$("$@" 2>&1 <"$in")
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

# result DESC STATUS: record a check computed by the caller
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
	echo "ok $n - $1 # SKIP ${2:-tools not installed}"
}

# contains FILE KEYFILE: does FILE contain the bytes of KEYFILE (or its first 8 bytes)?
contains() {
	python3 - "$1" "$2" <<'EOF'
import os, sys
path, key = sys.argv[1], open(sys.argv[2], 'rb').read()
data = open(path, 'rb').read() if os.path.exists(path) else b''
sys.exit(0 if (key in data or key[:8] in data) else 1)
EOF
}

mode_of() { stat -c %a "$1"; }

V1=0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9
V2=1b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9
V3=2b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9
V4=3b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9
DB=$T/kagi.db
KEK=$T/kek.bin
S=(--store "sqlite:$DB" --kek "file:$KEK")

# ---- kek generate ---------------------------------------------------------------------------
check "kek generate writes a new KEK" 0 "wrote a new 32-byte KEK" "$KAGICTL" kek generate --file "$KEK"
result "the KEK file has 32 bytes and mode 600" \
	"$([ "$(stat -c %s "$KEK")" = 32 ] && [ "$(mode_of "$KEK")" = 600 ] && echo 0 || echo 1)"
sum=$(sha256sum <"$KEK")
check "kek generate refuses to overwrite" 1 "refusing to overwrite" "$KAGICTL" kek generate --file "$KEK"
result "the refused overwrite left the KEK unchanged" "$([ "$(sha256sum <"$KEK")" = "$sum" ] && echo 0 || echo 1)"
check "kek generate needs --file" 2 "--file PATH is required" "$KAGICTL" kek generate
check "kek generate refuses --volume" 2 "does not apply" "$KAGICTL" kek generate --file "$T/x" --volume $V1
check "kek: unknown verb" 2 "unknown verb 'kek rotate'" "$KAGICTL" kek rotate
"$KAGICTL" kek generate --file "$T/kek2.bin" >/dev/null 2>&1
result "two generated KEKs differ" "$(cmp -s "$KEK" "$T/kek2.bin" && echo 1 || echo 0)"

# ---- key add ----------------------------------------------------------------------------------
head -c 32 /dev/urandom >"$T/key32"
head -c 16 /dev/urandom >"$T/key16"
head -c 64 /dev/urandom >"$T/key64"
head -c 15 /dev/urandom >"$T/key15"
head -c 65 /dev/urandom >"$T/key65"

check "key add --generate" 0 "key for volume $V1 added" "$KAGICTL" key add "${S[@]}" --volume $V1 --label web-1 --generate
out=$("$KAGICTL" key add "${S[@]}" --volume $V4 --generate 2>&1)
result "key add --generate prints one line and nothing of the key" \
	"$([ "$(printf '%s\n' "$out" | wc -l)" = 1 ] && [ "$out" = "key for volume $V4 added" ] && echo 0 || echo 1)"
result "the store file was created with mode 600" "$([ "$(mode_of "$DB")" = 600 ] && echo 0 || echo 1)"
check_in "key add --key-stdin (32 bytes)" 0 "key for volume $V2 added" "$T/key32" "$KAGICTL" key add "${S[@]}" --volume $V2 --key-stdin
check_in "key add --key-stdin (16 bytes, uppercase UUID)" 0 "key for volume $V3 added" "$T/key16" "$KAGICTL" key add "${S[@]}" --volume "${V3^^}" --key-stdin
check_in "key add --key-stdin (64 bytes)" 0 "added" "$T/key64" "$KAGICTL" key add "${S[@]}" --volume 4b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9 --key-stdin
check_in "key add --key-stdin refuses 15 bytes" 2 "held 15 bytes; a volume key has 16 to 64 bytes" "$T/key15" "$KAGICTL" key add "${S[@]}" --volume 5b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9 --key-stdin
check_in "key add --key-stdin refuses 65 bytes" 2 "held more than 64 bytes" "$T/key65" "$KAGICTL" key add "${S[@]}" --volume 5b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9 --key-stdin
check "key add --key-stdin refuses empty input" 2 "held 0 bytes" "$KAGICTL" key add "${S[@]}" --volume 5b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9 --key-stdin
check_in "key add refuses a second key for a volume" 1 "already has a key" "$T/key32" "$KAGICTL" key add "${S[@]}" --volume $V2 --key-stdin
check "key add needs --key-stdin or --generate" 2 "exactly one of --key-stdin and --generate" "$KAGICTL" key add "${S[@]}" --volume 5b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9
check "key add refuses both --key-stdin and --generate" 2 "exactly one of" "$KAGICTL" key add "${S[@]}" --volume 5b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9 --key-stdin --generate
check "key add has no option taking the key on the command line" 2 "unknown option '--key'" "$KAGICTL" key add "${S[@]}" --volume 5b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9 --key 00112233445566778899aabbccddeeff
check "key add needs --volume" 2 "--volume UUID is required" "$KAGICTL" key add "${S[@]}" --generate
check "key add refuses a malformed UUID" 2 "is not a UUID" "$KAGICTL" key add "${S[@]}" --volume 0b1c2d3e4f5046178293a4b5c6d7e8f9 --generate
check "key add refuses a label with a control character" 2 "control character" "$KAGICTL" key add "${S[@]}" --volume 5b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9 --label "$(printf 'a\tb')" --generate
check "key add without a store" 2 "no store given" "$KAGICTL" key add --kek "file:$KEK" --volume $V1 --generate
check "key add without a KEK" 2 "no KEK given" "$KAGICTL" key add --store "sqlite:$DB" --volume $V1 --generate
check "key add refuses --json" 2 "option '--json' does not apply to 'key add'" "$KAGICTL" key add "${S[@]}" --volume $V1 --generate --json

# ---- the database holds no plain key ----------------------------------------------------------
leak=0
for k in key32 key16 key64; do
	for f in "$DB" "$DB-wal"; do
		contains "$f" "$T/$k" && leak=1
	done
done
result "no plain key bytes in the database or its WAL" $leak
# the scan itself works: a key inserted in clear would be found
python3 -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('CREATE TABLE probe(b BLOB)'); c.execute('INSERT INTO probe VALUES (?)', (open(sys.argv[2],'rb').read(),)); c.commit(); c.close()" "$T/probe.db" "$T/key32"
result "the key scan finds a key stored in clear" "$(contains "$T/probe.db" "$T/key32" && echo 0 || echo 1)"

# ---- key list ----------------------------------------------------------------------------------
check "key list shows the header" 0 "VOLUME" "$KAGICTL" key list "${S[@]}"
check "key list shows a label" 0 "web-1" "$KAGICTL" key list "${S[@]}"
check "key list shows an uppercase UUID in lowercase" 0 "$V3" "$KAGICTL" key list "${S[@]}"
json=$("$KAGICTL" key list "${S[@]}" --json 2>&1)
result "key list --json lists 5 keys" "$([ "$(jq length <<<"$json")" = 5 ] && echo 0 || echo 1)"
result "key list --json fields" "$(jq -e --arg v $V1 '.[] | select(.uuid == $v) | .label == "web-1" and .revoked == false and (.created | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$")) and (has("revoked_at") | not)' <<<"$json" >/dev/null && echo 0 || echo 1)"
check "key list refuses --volume" 2 "does not apply" "$KAGICTL" key list "${S[@]}" --volume $V1

# ---- key revoke --------------------------------------------------------------------------------
check "key revoke" 0 "key for volume $V1 revoked" "$KAGICTL" key revoke "${S[@]}" --volume $V1
result "key list --json shows the revocation" "$("$KAGICTL" key list "${S[@]}" --json | jq -e --arg v $V1 '.[] | select(.uuid == $v) | .revoked == true and (.revoked_at | test("Z$"))' >/dev/null && echo 0 || echo 1)"
check "key revoke again" 0 "was already revoked" "$KAGICTL" key revoke "${S[@]}" --volume $V1
check "key revoke of an unknown volume" 1 "no key is registered for volume 9b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9" "$KAGICTL" key revoke "${S[@]}" --volume 9b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9
check "a revoked volume cannot get a new key" 1 "already has a key" "$KAGICTL" key add "${S[@]}" --volume $V1 --generate
check "key: unknown verb" 2 "unknown verb 'key get'" "$KAGICTL" key get "${S[@]}" --volume $V1

# ---- --config ----------------------------------------------------------------------------------
cat >"$T/verifier.conf" <<EOF
# kagi-verifier configuration
listen = 127.0.0.1:8443

  store = sqlite:$DB
kek=file:$KEK
policy = /etc/kagi-verifier/policy.json
EOF
check "--config reads store and kek" 0 "$V2" "$KAGICTL" key list --config "$T/verifier.conf"
check "--store overrides --config" 0 "VOLUME" "$KAGICTL" key list --config "$T/verifier.conf" --store "sqlite:$T/other.db"
result "the overriding store is a new, empty one" "$([ "$("$KAGICTL" key list --config "$T/verifier.conf" --store "sqlite:$T/other.db" --json | jq length)" = 0 ] && echo 0 || echo 1)"
printf 'store = sqlite:%s\nthis line is wrong\n' "$DB" >"$T/bad.conf"
check "--config: a line without '='" 2 "bad.conf:2: expected 'key = value'" "$KAGICTL" key list --config "$T/bad.conf"
printf 'store = sqlite:%s\nkek = file:%s\nstore = sqlite:/x\n' "$DB" "$KEK" >"$T/dup.conf"
check "--config: store given twice" 2 "dup.conf:3: 'store' was already set on line 1" "$KAGICTL" key list --config "$T/dup.conf"
printf 'listen = :8443\n' >"$T/none.conf"
check "--config without a store line" 2 "no store given" "$KAGICTL" key list --config "$T/none.conf"
check "--config: missing file" 2 "cannot read configuration" "$KAGICTL" key list --config "$T/nope.conf"

# ---- KEK and store errors ------------------------------------------------------------------------
cp "$KEK" "$T/open-kek.bin" && chmod 644 "$T/open-kek.bin"
check "a world-readable KEK is refused" 2 "chmod 600" "$KAGICTL" key list --store "sqlite:$DB" --kek "file:$T/open-kek.bin"
head -c 31 /dev/urandom >"$T/short-kek.bin" && chmod 600 "$T/short-kek.bin"
check "a 31-byte KEK is refused" 2 "holds 31 bytes" "$KAGICTL" key list --store "sqlite:$DB" --kek "file:$T/short-kek.bin"
check "an unknown KEK scheme is refused" 2 "unknown KEK 'vault" "$KAGICTL" key list --store "sqlite:$DB" --kek "vault:kagi"
check "an unknown store scheme is refused" 2 "unknown store 'postgres:" "$KAGICTL" key list --store "postgres://db" --kek "file:$KEK"
head -c 4096 /dev/urandom >"$T/garbage.db"
check "a file that is not a database is refused" 2 "file is not a database" "$KAGICTL" key list --store "sqlite:$T/garbage.db" --kek "file:$KEK"

# ---- policy check ------------------------------------------------------------------------------
check "policy check: the example policy" 0 "valid: 2 groups, 3 volumes" "$KAGICTL" policy check "$EXAMPLE"
check "policy check: group summary" 0 "group 'web': 2 volumes" "$KAGICTL" policy check "$EXAMPLE"
pol() { printf '%s' "$2" >"$T/$1.json"; }
G='"name": "a", "snp": {}, "volumes": ["0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9"]'
pol ok "{\"groups\": [{$G}]}"
check "policy check: minimal policy (with a warning)" 0 "warning: group 'a' accepts any launch measurement" "$KAGICTL" policy check "$T/ok.json"
pol uuid "{\"groups\": [{$G}, {\"name\": \"b\", \"snp\": {}, \"volumes\": [\"0B1C2D3E-4F50-4617-8293-A4B5C6D7E8F9\"]}]}"
check "policy check: uppercase UUID" 2 "groups[1].volumes[0]: '0B1C2D3E-4F50-4617-8293-A4B5C6D7E8F9' is not a canonical lowercase UUID" "$KAGICTL" policy check "$T/uuid.json"
pol dup "{\"groups\": [{$G}, {$G}]}"
check "policy check: duplicate group name" 2 "groups[1].name: 'a' is already the name of groups[0]" "$KAGICTL" policy check "$T/dup.json"
pol member "{\"groups\": [{$G, \"pcr\": {}}]}"
check "policy check: unknown member" 2 "groups[0]: unknown member 'pcr'" "$KAGICTL" policy check "$T/member.json"
pol evtype "{\"groups\": [{$G, \"events\": [{\"pcr\": 9, \"type\": \"EV_KERNEL\", \"digest\": \"00\"}]}]}"
check "policy check: unknown event type" 2 "groups[0].events[0].type: 'EV_KERNEL' is not a known event type" "$KAGICTL" policy check "$T/evtype.json"
pol pcrhex "{\"groups\": [{$G, \"pcrs\": {\"sha256\": {\"7\": \"abcd\"}}}]}"
check "policy check: short PCR value" 2 "groups[0].pcrs: sha256 PCR 7" "$KAGICTL" policy check "$T/pcrhex.json"
pol snp "{\"groups\": [{\"name\": \"a\", \"snp\": {\"min_abi\": \"one\"}, \"volumes\": [\"0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9\"]}]}"
check "policy check: bad SNP rule" 2 "groups[0].snp: min_abi:" "$KAGICTL" policy check "$T/snp.json"
pol json "{\"groups\": [{$G}"
check "policy check: invalid JSON" 2 "vpolicy.json at offset" "$KAGICTL" policy check "$T/json.json"
pol debug "{\"groups\": [{\"name\": \"d\", \"snp\": {\"allow_debug\": true, \"measurements\": [\"$(printf 'ab%.0s' $(seq 48))\"]}, \"volumes\": [\"0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9\"]}]}"
check "policy check: warns about DEBUG guests" 0 "warning: group 'd' accepts DEBUG guests" "$KAGICTL" policy check "$T/debug.json"
check "policy check: missing file" 2 "cannot read policy file" "$KAGICTL" policy check "$T/none.json"
check "policy check: needs exactly one file" 2 "exactly one FILE" "$KAGICTL" policy check "$T/ok.json" "$T/ok.json"
check "policy: unknown verb" 2 "unknown verb 'policy show'" "$KAGICTL" policy show "$T/ok.json"

# ---- PKCS#11 KEK (SoftHSM2) --------------------------------------------------------------------------
MODULE=
for m in /usr/lib/softhsm/libsofthsm2.so /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so \
	/usr/lib64/pkcs11/libsofthsm2.so; do
	[ -r "$m" ] && MODULE=$m && break
done
if [ -n "$MODULE" ] && command -v softhsm2-util >/dev/null && command -v pkcs11-tool >/dev/null; then
	mkdir -p "$T/tokens"
	printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' "$T/tokens" >"$T/softhsm2.conf"
	export SOFTHSM2_CONF=$T/softhsm2.conf
	printf '1234\n' >"$T/pin" && chmod 600 "$T/pin"
	printf '9999\n' >"$T/wrong-pin" && chmod 600 "$T/wrong-pin"
	softhsm2-util --init-token --free --label kagi --so-pin 5678 --pin 1234 >"$T/hsm.log" 2>&1 &&
		pkcs11-tool --module "$MODULE" --token-label kagi --login --pin 1234 --keygen \
			--key-type AES:32 --label kagi-kek --sensitive --usage-decrypt >>"$T/hsm.log" 2>&1
	result "SoftHSM2 token with an AES-256 KEK" $?
	P11="pkcs11:module=$MODULE;token=kagi;object=kagi-kek;pin-file=$T/pin"
	P=(--store "sqlite:$T/hsm.db" --kek "$P11")
	check_in "key add with a PKCS#11 KEK" 0 "key for volume $V2 added" "$T/key32" "$KAGICTL" key add "${P[@]}" --volume $V2 --key-stdin
	check "key list with a PKCS#11 KEK" 0 "$V2" "$KAGICTL" key list "${P[@]}"
	result "no plain key bytes in the PKCS#11-wrapped store" "$({ contains "$T/hsm.db" "$T/key32" || contains "$T/hsm.db-wal" "$T/key32"; } && echo 1 || echo 0)"
	check "a wrong PIN names C_Login and the CKR code" 2 "C_Login failed: CKR_PIN_INCORRECT" "$KAGICTL" key list --store "sqlite:$T/hsm.db" --kek "pkcs11:module=$MODULE;token=kagi;object=kagi-kek;pin-file=$T/wrong-pin"
	check "an unknown token label is named" 2 "no token labeled 'other'" "$KAGICTL" key list --store "sqlite:$T/hsm.db" --kek "pkcs11:module=$MODULE;token=other;object=kagi-kek;pin-file=$T/pin"
	check "an unknown key label is named" 2 "no secret key labeled 'nokey'" "$KAGICTL" key list --store "sqlite:$T/hsm.db" --kek "pkcs11:module=$MODULE;token=kagi;object=nokey;pin-file=$T/pin"
else
	for d in "SoftHSM2 token" "key add with a PKCS#11 KEK" "key list with a PKCS#11 KEK" \
		"no plain key bytes (PKCS#11)" "wrong PIN" "unknown token" "unknown key"; do
		skip "$d"
	done
fi

echo "1..$n"
[ "$failed" = 0 ]
