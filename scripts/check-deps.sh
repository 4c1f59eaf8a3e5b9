#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The dependency check: every Debian package that a configured build tree (CMakeCache.txt,
# ldd of fcntool and the test binaries) and the project's Python (data_scripts/, bench/,
# experiments/, models/, scripts/, tests/) use must be installed by scripts/install-deps.sh or
# pulled in by a package it installs. Names each missing package and the file that needs it.
#   scripts/check-deps.sh [BUILD_DIR]     # default: build
# Exit 0 when complete, 1 when a package is missing, 2 on bad arguments.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
exec /usr/bin/python3 "$here/check_deps.py" "$@"
