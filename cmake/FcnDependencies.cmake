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
# OpenMP (GCC's libgomp): parallel CPU loops of the index-wise kernels; oneDNN's runtime.
find_package(OpenMP COMPONENTS CXX)
# oneDNN (Debian libdnnl-dev): the default CPU engine of Convolution and Deconvolution.
set(FCN_HAVE_DNNL 0)
if(FCN_USE_DNNL)
  find_package(dnnl CONFIG)
  if(dnnl_FOUND)
    set(FCN_HAVE_DNNL 1)
  else()
    message(WARNING "FCN_USE_DNNL: oneDNN not found (apt-get install libdnnl-dev); "
                    "convolutions use the im2col engine only")
  endif()
endif()

# Python: Debian's interpreter, which has numpy/protobuf/lmdb (the python3 first on PATH may not).
if(NOT Python3_EXECUTABLE AND EXISTS /usr/bin/python3)
  set(Python3_EXECUTABLE /usr/bin/python3 CACHE FILEPATH "Python interpreter with Debian's python3-* packages")
endif()
find_package(Python3 COMPONENTS Interpreter)
