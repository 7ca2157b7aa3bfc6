#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Run one libFuzzer target for a bounded time over a scratch copy of its seed corpus.
# Any crash, leak or timeout fails the test; the input is kept in the build dir to be added
# to tests/fuzz/corpus/<name>/ as a named regression case.
set -euo pipefail
fuzzer=$1 seeds=$2 work=$3
secs=${KAGI_FUZZ_SECONDS:-20}
rm -rf "$work"
mkdir -p "$work/corpus" "$work/artifacts"
"$fuzzer" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
	-artifact_prefix="$work/artifacts/" -print_final_stats=1 "$work/corpus" "$seeds" 2>&1 | tail -25
