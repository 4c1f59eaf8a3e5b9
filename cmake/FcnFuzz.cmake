# SPDX-License-Identifier: BSD-2-Clause
# FCN_FUZZ: every object of the project (the library, its protobuf classes and the fuzz
# targets) is built with libFuzzer's coverage instrumentation (-fsanitize=fuzzer-no-link),
# AddressSanitizer and UBSan; only the targets in fuzz/ link libFuzzer's main
# (-fsanitize=fuzzer). Needs clang (Debian clang-14 + libclang-rt-14-dev):
#   CC=clang-14 CXX=clang++-14 cmake -S . -B build-fuzz -G Ninja -DFCN_FUZZ=ON ...
if(FCN_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR " FCN_FUZZ needs clang (libFuzzer): configure with CC=clang-14 CXX=clang++-14 "
                        "(packages clang-14 libclang-rt-14-dev, installed by scripts/install-deps.sh)")
  endif()
  if(FCN_SANITIZE)
    message(FATAL_ERROR " FCN_FUZZ sets its own sanitizers (address, undefined); leave FCN_SANITIZE empty")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined -gline-tables-only)
  add_link_options(-fsanitize=address,undefined)
endif()
