#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# no-key-leak.sh: the volume key never leaves memory in the clear. The test registers a key it
# knows (kagictl key add --key-stdin) and adds the same key as a keyslot of a LUKS2 image, runs
# a successful unlock and a few refusals, and then searches for the key — raw bytes, hex in
# both cases, base64 and base64url (at every alignment) — in every file of the test's
# directory (except the LUKS images), the verifier's and agent's output, the audit log, the
# SQLite database and the /proc/PID/environ and cmdline of the running verifier and agent.
# Any hit fails. A planted copy of the key proves the scanner finds every encoding.
# Prints TAP.
#
# Usage: no-key-leak.sh KAGI KAGICTL KAGI-SNP-STANDIN
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

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kagi-no-key-leak.XXXXXX")
lib_init
tap_plan 15

# The key: 32 random bytes, held only in this shell's memory (a variable that is never exported
# and never appears in a command's argv: printf is a builtin, the bytes travel through pipes).
KEY_HEX=$(head -c 32 /dev/urandom | od -An -v -tx1 | tr -d ' \n')
key_bytes() {
	printf '%s' "$KEY_HEX" | xxd -r -p
}

# scan.py [--exclude PATH]... PATH...: prints every file (recursively) that holds the key read
# from stdin (hex), with the encoding found; exit 1 on any hit, 0 when clean
cat >"$tmp/scan.py" <<'EOF'
import base64, os, sys
key = bytes.fromhex(sys.stdin.read().strip())
assert len(key) == 32
needles = {"raw": key, "hex": key.hex().encode(), "HEX": key.hex().upper().encode()}
for shift in range(3):
    # the base64 characters that depend only on key bytes, for each alignment of the key
    buf = bytes(shift) + key
    first = 0 if shift == 0 else 1
    last = (shift + len(key)) // 3
    for name, enc in (("base64", base64.b64encode), ("base64url", base64.urlsafe_b64encode)):
        needles["%s@%d" % (name, shift)] = enc(buf)[first * 4:last * 4]
args = sys.argv[1:]
exclude = set()
paths = []
while args:
    a = args.pop(0)
    if a == "--exclude":
        exclude.add(os.path.realpath(args.pop(0)))
    else:
        paths.append(a)
files = []
for p in paths:
    if os.path.isdir(p) and os.path.realpath(p) not in exclude:
        for root, dirs, names in os.walk(p):
            dirs[:] = [d for d in dirs if os.path.realpath(os.path.join(root, d)) not in exclude
                       and not os.path.ismount(os.path.join(root, d))]
            files += [os.path.join(root, n) for n in names]
    else:
        files.append(p)
hits = 0
scanned = 0
for f in files:
    if os.path.realpath(f) in exclude or os.path.islink(f):
        continue
    try:
        with open(f, "rb") as fh:
            data = fh.read()
    except OSError as e:
        print("unreadable %s: %s" % (f, e))
        hits += 1
        continue
    scanned += 1
    for name, n in needles.items():
        if n in data:
            print("KEY FOUND (%s) in %s" % (name, f))
            hits += 1
print("scanned %d files" % scanned)
sys.exit(1 if hits else 0)
EOF
# scan DESC PATH...: one TAP test, ok when none of the paths holds the key
scan() {
	local desc=$1
	shift
	if key_hex_out | python3 "$tmp/scan.py" --exclude "$tmp/tsm-snp" --exclude "$tmp/planted" \
		"${excl[@]}" "$@" >"$tmp/scan.out" 2>&1; then
		ok "$desc: no trace of the key ($(tail -n1 "$tmp/scan.out"))"
	else
		diag "$tmp/scan.out"
		not_ok "$desc: the key leaked"
	fi
}
key_hex_out() {
	printf '%s\n' "$KEY_HEX"
}

# ---- the scanner finds what it must find ----
mkdir -p "$tmp/planted"
key_bytes | { head -c 100 /dev/urandom; cat; head -c 7 /dev/urandom; } >"$tmp/planted/raw"
printf 'x%sy' "$KEY_HEX" >"$tmp/planted/hex"
printf '"%s"\n' "$KEY_HEX" | tr 'a-f' 'A-F' >"$tmp/planted/HEX"
for s in 0 1 2; do
	{ head -c "$s" /dev/zero; key_bytes; } | base64 -w0 >"$tmp/planted/b64-$s"
	{ head -c "$s" /dev/zero; key_bytes; } | base64 -w0 | tr '+/' '-_' | tr -d = >"$tmp/planted/b64url-$s"
done
found=0
for f in "$tmp"/planted/*; do
	key_hex_out | python3 "$tmp/scan.py" "$f" >/dev/null 2>&1 || found=$((found + 1))
done
if [ $found = 9 ] && printf 'no key here' >"$tmp/clean.txt" &&
	key_hex_out | python3 "$tmp/scan.py" "$tmp/clean.txt" >/dev/null 2>&1; then
	ok "the scanner finds the key planted raw, in hex, HEX, base64 and base64url (3 alignments), and passes a clean file"
else
	not_ok "the scanner finds the key planted raw, in hex, HEX, base64 and base64url (found $found of 9)"
fi
rm -f "$tmp/clean.txt"

# ---- the world ----
if ! fx_world || ! fx_luks leak; then
	echo "Bail out! the fixtures could not be created"
	exit 1
fi
excl=(--exclude "${LUKS_IMG[leak]}")
POLICY_VTPM_VOLUMES=${LUKS_UUID[leak]}
POLICY_DIRECT_VOLUMES=
fx_policy
fx_verifier_config
if ! fx_verifier_start; then
	echo "Bail out! the verifier did not start"
	exit 1
fi

# ---- the known key: registered with kagictl, added as a keyslot ----
key_bytes | "$kagictl" key add --config "$VERIFIER_CONF" --volume "${LUKS_UUID[leak]}" \
	--label leak-test --key-stdin >"$tmp/key-add.log" 2>&1
rc=$?
if [ $rc = 0 ]; then
	ok "kagictl key add --key-stdin registers the test's key"
else
	diag "$tmp/key-add.log"
	not_ok "kagictl key add --key-stdin registers the test's key (exit $rc)"
fi
cryptsetup luksAddKey "${LUKS_DEV[leak]}" --key-file <(printf '%s' "$FX_PASSPHRASE") \
	--new-keyfile <(key_bytes) >"$tmp/addkey.log" 2>&1
check "the same key is added as a LUKS2 keyslot and opens the image" \
	cryptsetup open --test-passphrase --key-file <(key_bytes) "${LUKS_DEV[leak]}"
"$kagictl" key list --config "$VERIFIER_CONF" >"$tmp/key-list.out" 2>&1

# ---- a successful unlock, with the agent's /proc captured while it runs ----
mkdir -p "$tmp/proc" "$tmp/agent"
fx_cmdline "$tmp/agent/ok.cmdline" vtpm "${LUKS_UUID[leak]}"
"$kagi_test" unlock --cmdline "$tmp/agent/ok.cmdline" --check-only \
	--device "${LUKS_UUID[leak]}=${LUKS_DEV[leak]}" --test-delay-after-challenge 3 \
	>"$tmp/agent/ok.out" 2>"$tmp/agent/ok.err" </dev/null &
agent_pid=$!
lib_track "$agent_pid"
sleep 1.5
captured=0
for f in environ cmdline; do
	cat "/proc/$agent_pid/$f" >"$tmp/proc/agent.$f" 2>/dev/null && captured=$((captured + 1))
	cat "/proc/$VERIFIER_PID/$f" >"$tmp/proc/verifier.$f" 2>/dev/null && captured=$((captured + 1))
done
wait "$agent_pid"
rc=$?
lib_stop "$agent_pid"
if [ $rc = 0 ] && grep -q -E "$FX_UNLOCK_OK_RE" "$tmp/agent/ok.out" "$tmp/agent/ok.err"; then
	ok "the unlock is granted and the released key opens the image"
else
	diag "$tmp/agent/ok.out" "$tmp/agent/ok.err"
	not_ok "the unlock is granted and the released key opens the image (exit $rc)"
fi
check "/proc/PID/environ and cmdline of the running agent and verifier were captured" \
	test $captured = 4

# ---- a few refusals (the key is looked up for none of them but the last) ----
refused=0
want="tpm.boot_phase snp.signature tpm.quote.nonce"
fx_agent again "$kagi_test" vtpm leak
grep -q "^kagi: refused: tpm.boot_phase:" "$tmp/agent/again.err" && refused=$((refused + 1))
fx_tpm_boot main base
fx_agent tamper "$kagi_test" vtpm leak --- --test-tamper snp.report:0x90
grep -q "^kagi: refused: snp.signature:" "$tmp/agent/tamper.err" && refused=$((refused + 1))
fx_agent nonce "$kagi_test" vtpm leak --- --test-quote-nonce "$(printf '%064d' 7)"
grep -q "^kagi: refused: tpm.quote.nonce:" "$tmp/agent/nonce.err" && refused=$((refused + 1))
"$kagictl" key revoke --config "$VERIFIER_CONF" --volume "${LUKS_UUID[leak]}" >"$tmp/revoke.log" 2>&1
fx_agent revoked "$kagi_test" vtpm leak
grep -q "^kagi: refused: volume.revoked:" "$tmp/agent/revoked.err" && refused=$((refused + 1))
if [ $refused = 4 ]; then
	ok "four refusals: $want volume.revoked"
else
	diag "$tmp"/agent/{again,tamper,nonce,revoked}.err
	not_ok "four refusals: $want volume.revoked (got $refused)"
fi
for f in environ cmdline; do
	cat "/proc/$VERIFIER_PID/$f" >"$tmp/proc/verifier-late.$f" 2>/dev/null
done

# ---- the search ----
scan "/proc/PID/environ and cmdline of the running agent" "$tmp/proc/agent.environ" "$tmp/proc/agent.cmdline"
scan "/proc/PID/environ and cmdline of the running verifier" "$tmp/proc/verifier.environ" \
	"$tmp/proc/verifier.cmdline" "/proc/$VERIFIER_PID/environ" "/proc/$VERIFIER_PID/cmdline"
scan "the audit log" "$AUDIT_LOG"
db_files=("$STORE_DB")
for f in "$STORE_DB-wal" "$STORE_DB-shm" "$STORE_DB-journal"; do
	[ -e "$f" ] && db_files+=("$f")
done
check "the SQLite database exists" test -s "$STORE_DB"
scan "the SQLite database (${#db_files[@]} files)" "${db_files[@]}"
scan "the verifier's stdout and stderr" "$VERIFIER_LOG"
scan "the agent's stdout and stderr (5 runs)" "$tmp/agent"
scan "kagictl's output (key add, key list, revoke)" "$tmp/key-add.log" "$tmp/key-list.out" "$tmp/revoke.log"
fx_verifier_stop
scan "every file under the test directory except the LUKS image" "$tmp"
tap_done
