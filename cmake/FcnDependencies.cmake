# SPDX-License-Identifier: BSD-2-Clause
# Every dependency is a Debian package (scripts/install-deps.sh).
find_package(Protobuf REQUIRED)
find_package(gflags REQUIRED)
find_package(glog REQUIRED)
find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(OPENBLAS REQUIRED IMPORTED_TARGET openblas)
pkg_check_modules(LMDB REQUIRED IMPORTED_TARGET lmdb)
find_package(OpenCV REQUIRED COMPONENTS core imgcodecs imgproc)
# HDF5 snapshots (snapshot_format: HDF5) through the C API.
find_package(HDF5 REQUIRED COMPONENTS C)
find_package(PNG REQUIRED)

# Python: Debian's interpreter, which has numpy/protobuf/lmdb (the python3 first on PATH may not).
if(NOT Python3_EXECUTABLE AND EXISTS /usr/bin/python3)
  set(Python3_EXECUTABLE /usr/bin/python3 CACHE FILEPATH "Python interpreter with Debian's python3-* packages")
endif()
find_package(Python3 COMPONENTS Interpreter)
