#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# kds.sh: the AMD KDS client (`kagictl kds`) against a local stand-in KDS (kds-standin.py, plain
# HTTP on 127.0.0.1, which the client accepts only for a literal loopback address):
#   - the VCEK of a real Milan report is fetched from exactly the right URL, equals AMD's
#     certificate, is cached (0700 directory, 0600 file), and `report verify` accepts the report
#     with it; a second fetch is served from the cache (the stand-in's request counter does not
#     move); the cert_chain is fetched and verifies the report too;
#   - HTTP 429 with Retry-After: 1 twice: the fetch waits and succeeds; always 429: it fails
#     with kds.rate_limited after the configured retries; 404 fails with kds.not_found naming
#     the URL;
#   - a garbage body, a certificate of another chip and an oversized body are refused and NOT
#     cached; a poisoned cache entry is ignored and replaced; an all-zero CHIP_ID and a non-https
#     URL are refused without any request.
# Prints TAP.
#
# Usage: kds.sh KAGI KAGICTL [SNP-STANDIN]   (only KAGICTL is used)
# Environment: KAGI_SOURCE_ROOT, KAGI_TESTDATA.
set -u
export LC_ALL=C

kagictl=${2:-}
src=${KAGI_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
data=${KAGI_TESTDATA:-$src/tests/data}
# shellcheck source=tests/integration/lib.sh
. "$src/tests/integration/lib.sh"

[ -x "$kagictl" ] || skip_all "kagictl not given"
command -v python3 >/dev/null || skip_all "python3 not installed"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kagi-kds.XXXXXX")
lib_init
tap_plan 20

standin=$src/tests/integration/kds-standin.py
report=$data/snp/go-sev-guest/milan_v2_attestation.bin
vcek=$data/snp/go-sev-guest/milan_vcek.der
chain=$data/snp/go-sev-guest/ask_ark_milan.pem
other_vcek=$data/snp/oak/milan_oc_release_vcek.der
hwid=$(hex_of "$report" | cut -c $((0x1A0 * 2 + 1))-$((0x1E0 * 2)))
query='blSPL=2&teeSPL=0&snpSPL=5&ucodeSPL=68'
vcek_path="/vcek/v1/Milan/$hwid?$query"
root=$tmp/root
served=$root$vcek_path
mkdir -p "$root/vcek/v1/Milan"
cp "$chain" "$root/vcek/v1/Milan/cert_chain"

# kds_start NAME ARGS...: start the stand-in on a free port; KDS_URL, KDS_PID, KDS_NAME
KDS_PID=
kds_start() {
	local name=$1 _
	shift
	KDS_NAME=$name
	rm -f "$tmp/$name.port"
	python3 "$standin" --root "$root" --port 0 --port-file "$tmp/$name.port" \
		--count-file "$tmp/$name.count" --log-file "$tmp/$name.log" "$@" \
		>"$tmp/$name.out" 2>&1 &
	KDS_PID=$!
	lib_track "$KDS_PID"
	for _ in $(seq 100); do
		if [ -s "$tmp/$name.port" ]; then
			KDS_URL=http://127.0.0.1:$(cat "$tmp/$name.port")
			return 0
		fi
		kill -0 "$KDS_PID" 2>/dev/null || break
		sleep 0.1
	done
	diag "$tmp/$name.out"
	return 1
}
kds_stop() {
	lib_stop "$KDS_PID"
	KDS_PID=
}
# requests: how many requests the running stand-in has seen
requests() {
	cat "$tmp/$KDS_NAME.count" 2>/dev/null || echo 0
}
# fetch CACHE OUT [ARGS...]: kagictl kds fetch of the Milan report; stdout/stderr in $tmp/fetch.*
fetch() {
	local cache=$1 out=$2
	shift 2
	"$kagictl" kds fetch "$report" --product Milan --kds-url "$KDS_URL" --cache "$cache" \
		--out "$out" "$@" >"$tmp/fetch.out" 2>"$tmp/fetch.err"
}
cache_file() {
	echo "$1/vcek-Milan-$hwid-bl2-tee0-snp5-ucode68.der"
}
# fails_with WHAT STATUS: the last fetch exited STATUS and named WHAT on stderr
fails_with() {
	local rc=$?
	if [ "$rc" = "$2" ] && grep -qE "kds: $1( at offset 0x[0-9a-f]+)?:" "$tmp/fetch.err"; then
		return 0
	fi
	echo "exit status $rc, expected $2; stderr:" >"$tmp/check.err"
	cat "$tmp/fetch.err" >>"$tmp/check.err"
	return 1
}
result() { # result DESCRIPTION: ok/not ok from the status of the previous command
	if [ "$1" = 0 ]; then
		ok "$2"
	else
		[ -s "$tmp/check.err" ] && diag "$tmp/check.err"
		not_ok "$2"
	fi
	: >"$tmp/check.err"
}
: >"$tmp/check.err"

# ---- 1: the happy path ----
cp "$vcek" "$served"
if kds_start main; then
	ok "stand-in KDS listens on $KDS_URL"
else
	not_ok "stand-in KDS listens"
	echo "Bail out! the stand-in KDS did not start"
	exit 1
fi

c1=$tmp/cache1
fetch "$c1" "$tmp/vcek1.der"
rc=$?
[ "$rc" = 0 ] && cmp -s "$tmp/vcek1.der" "$vcek"
r=$?
[ "$r" = 0 ] || cp "$tmp/fetch.err" "$tmp/check.err"
result $r "kds fetch gets the VCEK of the Milan report, byte-identical to AMD's certificate"

[ "$(requests)" = 1 ] && grep -qxF "200 $vcek_path" "$tmp/main.log"
r=$?
[ "$r" = 0 ] || { echo "requests: $(requests)"; cat "$tmp/main.log"; } >"$tmp/check.err"
result $r "exactly one request, for /vcek/v1/Milan/<128 hex CHIP_ID>?$query"

[ "$(stat -c %a "$c1")" = 700 ] && [ "$(stat -c %a "$(cache_file "$c1")")" = 600 ] &&
	cmp -s "$(cache_file "$c1")" "$vcek"
result $? "the cache directory is 0700 and holds the VCEK as a 0600 file keyed by product/hwid/TCB"

check "report verify --vcek FETCHED --amd-roots contrib/amd-roots accepts the report" \
	"$kagictl" report verify "$report" --vcek "$tmp/vcek1.der" --amd-roots "$src/contrib/amd-roots"

fetch "$c1" "$tmp/vcek1b.der"
rc=$?
[ "$rc" = 0 ] && [ "$(requests)" = 1 ] && cmp -s "$tmp/vcek1b.der" "$vcek" &&
	grep -q '^source: cache ' "$tmp/fetch.out"
result $? "a second fetch is served from the cache (request counter still 1)"

"$kagictl" kds chain Milan --kds-url "$KDS_URL" --cache "$c1" --out "$tmp/chain.pem" \
	>"$tmp/chain.out" 2>"$tmp/check.err" &&
	[ "$(requests)" = 2 ] &&
	"$kagictl" report verify "$report" --vcek "$tmp/vcek1.der" --chain "$tmp/chain.pem" \
		>/dev/null 2>>"$tmp/check.err"
result $? "kds chain Milan fetches ASK+ARK; report verify --chain with it accepts the report"

"$kagictl" kds chain Milan --kds-url "$KDS_URL" --cache "$c1" >"$tmp/chain.out" 2>"$tmp/check.err" &&
	[ "$(requests)" = 2 ] && grep -q '^source: cache ' "$tmp/chain.out"
result $? "the cert_chain is served from the cache the second time"

# ---- 2: refusals (same stand-in) ----
n0=$(requests)
"$kagictl" kds fetch "$report" --product Genoa --kds-url "$KDS_URL" --cache "$tmp/cache404" \
	>"$tmp/fetch.out" 2>"$tmp/fetch.err"
fails_with kds.not_found 1 && grep -qF "$KDS_URL/vcek/v1/Genoa/$hwid?$query" "$tmp/fetch.err" &&
	[ "$(requests)" = $((n0 + 1)) ] && [ -z "$(ls -A "$tmp/cache404")" ]
result $? "an unknown certificate (HTTP 404) fails with kds.not_found naming the URL"

head -c 700 /dev/urandom >"$served"
c2=$tmp/cache-garbage
n0=$(requests)
fetch "$c2" "$tmp/garbage.der"
fails_with kds.response 1 && [ -z "$(ls -A "$c2")" ] && [ ! -e "$tmp/garbage.der" ]
result $? "a garbage body is refused (kds.response) and nothing is cached"
fetch "$c2" "$tmp/garbage.der"
fails_with kds.response 1 && [ "$(requests)" = $((n0 + 2)) ]
result $? "the refused answer was not cached: the next fetch asks the KDS again"

cp "$other_vcek" "$served"
fetch "$c2" "$tmp/other.der"
fails_with kds.mismatch 1 && [ -z "$(ls -A "$c2")" ]
result $? "a valid VCEK of another chip is refused (kds.mismatch) and not cached"

{
	cat "$vcek"
	head -c $((9 * 1024)) /dev/zero
} >"$served"
fetch "$c2" "$tmp/big.der"
fails_with kds.size 1 && [ -z "$(ls -A "$c2")" ]
result $? "an answer above the 8 KiB VCEK cap is refused (kds.size)"

# a poisoned cache entry (another chip's certificate) is ignored, refetched and replaced
cp "$vcek" "$served"
cp "$other_vcek" "$(cache_file "$c1")"
n0=$(requests)
fetch "$c1" "$tmp/repaired.der" && [ "$(requests)" = $((n0 + 1)) ] && cmp -s "$tmp/repaired.der" "$vcek" &&
	cmp -s "$(cache_file "$c1")" "$vcek"
result $? "a poisoned cache entry is not returned: the VCEK is fetched again and the entry replaced"

python3 - "$report" "$tmp/zero-chip.bin" <<'EOF'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[0x1A0:0x1E0] = bytes(64)
open(sys.argv[2], "wb").write(b)
EOF
n0=$(requests)
"$kagictl" kds fetch "$tmp/zero-chip.bin" --product Milan --kds-url "$KDS_URL" \
	>"$tmp/fetch.out" 2>"$tmp/fetch.err"
fails_with kds.chip_id 1 && [ "$(requests)" = "$n0" ]
result $? "an all-zero CHIP_ID (MASK_CHIP_ID) is refused with kds.chip_id, without a request"

"$kagictl" kds fetch "$report" --product Milan --kds-url "http://kdsintf.amd.com" \
	>"$tmp/fetch.out" 2>"$tmp/fetch.err"
fails_with kds.url 2
result $? "plain http:// to anything but 127.0.0.1/[::1] is refused (kds.url)"
kds_stop

# ---- 3: rate limiting ----
kds_start limited2 --rate-limit 2 --retry-after 1 || echo "# stand-in did not start" >&2
t0=$(date +%s%N)
fetch "$tmp/cache-rl" "$tmp/rl.der"
rc=$?
t1=$(date +%s%N)
[ "$rc" = 0 ] && cmp -s "$tmp/rl.der" "$vcek" && [ "$(requests)" = 3 ] &&
	[ $(((t1 - t0) / 1000000)) -ge 2000 ] &&
	[ "$(cut -d' ' -f1 "$tmp/limited2.log" | tr '\n' ' ')" = "429 429 200 " ]
r=$?
[ "$r" = 0 ] || { cat "$tmp/fetch.err" "$tmp/limited2.log"; echo "took $(((t1 - t0) / 1000000)) ms"; } >"$tmp/check.err"
result $r "429 + Retry-After: 1 twice: the fetch waits (>= 2 s) and then succeeds"
kds_stop

kds_start limited --rate-limit 1000 --retry-after 1 || echo "# stand-in did not start" >&2
fetch "$tmp/cache-rl2" "$tmp/rl2.der" --retries 3
fails_with kds.rate_limited 1 && [ "$(requests)" = 4 ] && [ -z "$(ls -A "$tmp/cache-rl2")" ]
result $? "always 429: fails with kds.rate_limited after 3 retries (4 requests), nothing cached"
n0=$(requests)
fetch "$tmp/cache-rl2" "$tmp/rl2.der" --retries 0
fails_with kds.rate_limited 1 && [ "$(requests)" = $((n0 + 1)) ]
result $? "--retries 0: one request, then kds.rate_limited"
kds_stop

kds_start limited-long --rate-limit 1000 --retry-after 3600 || echo "# stand-in did not start" >&2
t0=$(date +%s%N)
fetch "$tmp/cache-rl3" "$tmp/rl3.der"
fails_with kds.rate_limited 1 && [ "$(requests)" = 1 ] && grep -q "3600 s" "$tmp/fetch.err" &&
	[ $((($(date +%s%N) - t0) / 1000000)) -lt 5000 ]
result $? "Retry-After beyond the 10 s waiting budget: gives up at once with kds.rate_limited"
kds_stop

tap_done
