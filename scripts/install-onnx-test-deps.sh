#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Installs the ONNX export checks' test-only dependency: ONNX Runtime for Node.js (npm
# onnxruntime-node, whose CPU binaries ship inside the package) into tests/onnx/node_modules,
# at the version pinned by tests/onnx/package-lock.json. Its install script (which would
# download GPU binaries) is skipped. Idempotent; scripts/install-deps.sh calls it.
set -euo pipefail
dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/../tests/onnx" && pwd)"
if ! command -v npm >/dev/null; then
  echo "install-onnx-test-deps: npm not found (Debian package npm; scripts/install-deps.sh installs it)" >&2
  exit 1
fi
if [ -f "$dir/node_modules/onnxruntime-node/package.json" ] &&
   [ "$(node -p "require('$dir/node_modules/onnxruntime-node/package.json').version")" = \
     "$(node -p "require('$dir/package-lock.json').packages['node_modules/onnxruntime-node'].version")" ]; then
  echo "install-onnx-test-deps: onnxruntime-node present"
  exit 0
fi
echo "install-onnx-test-deps: npm ci --ignore-scripts in $dir"
(cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund)
