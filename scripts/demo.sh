#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The README's main command: installs the Debian packages, builds fcn, and runs the bundled
# default job. For now (framework core) that is `fcntool check` on the VGG-16 FCN-8s deploy
# net at 500x500: every layer's top shape, the parameter count and the memory.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
build=${FCN_BUILD_DIR:-build}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPython3_EXECUTABLE=/usr/bin/python3
cmake --build "$build" -j "$(nproc)" --target fcntool
"$build/src/fcntool" check --model=models/voc-fcn8s/deploy.prototxt
