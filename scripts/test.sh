#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The README's test command: installs the Debian packages, builds the CPU Release build with
# warnings as errors, and runs the test suite except the tests labelled `slow`.
#   scripts/test.sh              # build/ + ctest -LE slow
#   FCN_TEST_LABELS=slow scripts/test.sh   # only the slow tests
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
build=${FCN_BUILD_DIR:-build}
t0=$(date +%s)
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DFCN_WERROR=ON \
  -DPython3_EXECUTABLE=/usr/bin/python3 ${FCN_CMAKE_ARGS:-}
cmake --build "$build" -j "$(nproc)"
t1=$(date +%s)
echo "=== build: $((t1 - t0)) s ==="
if [ -n "${FCN_TEST_LABELS:-}" ]; then
  ctest --test-dir "$build" -L "$FCN_TEST_LABELS" --output-on-failure -j "$(nproc)"
else
  ctest --test-dir "$build" -LE slow --output-on-failure -j "$(nproc)"
fi
echo "=== ctest: $(( $(date +%s) - t1 )) s ==="
