#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The whole test suite, as CI runs it: dependencies, a -Werror build and its tests, the same
# tests under ASan+UBSan, bounded libFuzzer runs of every fuzz target, and the format check.
# Usage (as root on Debian 12): tests/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
contrib/install-deps.sh

jobs=$(nproc)
suites=(--suite unit --suite cli --suite fuzz --suite integration)

echo "== build (-Werror) and test"
rm -rf build-ci
meson setup build-ci -Dwerror=true -Dsnp-standin=true >/dev/null
ninja -C build-ci -j"$jobs"
meson test -C build-ci --print-errorlogs "${suites[@]}"

echo "== ASan+UBSan build and test"
rm -rf build-asan
meson setup build-asan -Dwerror=true -Dsnp-standin=true -Db_sanitize=address,undefined \
	-Db_lundef=false -Dbuildtype=debug >/dev/null
ninja -C build-asan -j"$jobs"
meson test -C build-asan --print-errorlogs "${suites[@]}"

echo "== libFuzzer (clang, ASan+UBSan), ${KAGI_FUZZ_SECONDS:=30} s per target"
rm -rf build-fuzz
CC=clang meson setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false \
	-Dbuildtype=debug >/dev/null
ninja -C build-fuzz -j"$jobs"
KAGI_FUZZ_SECONDS=$KAGI_FUZZ_SECONDS meson test -C build-fuzz --print-errorlogs --suite fuzz-run

echo "== format (clang-format 14)"
if git ls-files '*.c' '*.h' | xargs clang-format --dry-run --Werror; then
	echo "format: clean"
else
	echo "format: run clang-format -i on the files above" >&2
	exit 1
fi
# One closing line over the three runs (meson tests; each TAP test counts once).
python3 - build-ci build-asan build-fuzz <<'PY'
import json, sys
ok = bad = skipped = 0
for d in sys.argv[1:]:
    for line in open(d + "/meson-logs/testlog.json"):
        r = json.loads(line)["result"]
        if r in ("OK", "EXPECTEDFAIL"):
            ok += 1
        elif r == "SKIP":
            skipped += 1
        else:
            bad += 1
print(f"kagi: {ok} passed, {bad} failed, {skipped} skipped")
sys.exit(1 if bad else 0)
PY
