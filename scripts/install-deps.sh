#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Installs every Debian package fcn needs: build, tests, benchmarks and data scripts.
# Idempotent: packages already present are skipped, so a second run costs a few seconds.
set -euo pipefail

packages=(
  # build
  build-essential cmake ninja-build pkg-config git
  protobuf-compiler libprotobuf-dev
  libgoogle-glog-dev libgflags-dev
  libopenblas-dev
  liblmdb-dev
  libdnnl-dev
  # Debian's oneDNN is built with its OpenCL GPU runtime: its CMake config needs OpenCL's
  # headers and library even though fcn never uses a GPU through it
  ocl-icd-opencl-dev
  libhdf5-dev
  libpng-dev libjpeg-dev libopencv-dev
  libgtest-dev libgmock-dev
  # data-parallel training across processes and hosts (docs/distributed.md): OpenMPI's
  # library and headers, and mpirun for launching and for the tests
  libopenmpi-dev openmpi-bin
  # the two-host test: network namespaces joined by a veth pair (ip netns)
  iproute2
  # python side: data scripts, tests, benchmarks
  python3-numpy python3-protobuf python3-pytest python3-lmdb python3-pil
  python3-scipy python3-h5py python3-opencv
  # the Python module fcn (python/, docs/python.md): pybind11 and Python 3's headers
  pybind11-dev python3-dev
  # loss curves of experiments/camvid/run.py report
  python3-matplotlib
  # the speed comparison in bench/ (PyTorch, CPU)
  python3-torch
  # tools used by the fcntool draw command and docs
  graphviz
  # scripts/fresh-check.sh: a Debian bookworm root for the fresh-machine check
  debootstrap
  # fcntool export: onnx.proto (compiled by the build's protoc); the ONNX checker in its tests
  libonnx-dev python3-onnx
  # the export tests run ONNX Runtime through npm's onnxruntime-node (install-onnx-test-deps.sh)
  nodejs npm
  # fuzz/ (FCN_FUZZ=ON, scripts/fuzz.sh): libFuzzer needs clang and its runtime libraries
  clang-14 libclang-rt-14-dev
  # ...and clang's OpenMP (the library's CPU loops and oneDNN's runtime build with -fopenmp)
  libomp-14-dev
  # the build compiles through ccache when present (FCN_CCACHE): unchanged sources in another
  # build folder or git worktree, or in the next CI run, come from its cache
  ccache
)

missing=()
for p in "${packages[@]}"; do
  # A nodejs from elsewhere (NodeSource) brings its own npm and conflicts with Debian's.
  if [ "$p" = npm ] && command -v npm >/dev/null; then continue; fi
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
else
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# npm: the ONNX export tests' ONNX Runtime (test-only, tests/onnx/node_modules).
bash "$(dirname "${BASH_SOURCE[0]}")/install-onnx-test-deps.sh"
