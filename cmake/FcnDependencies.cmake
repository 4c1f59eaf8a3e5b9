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

# CUDA (FCN_USE_CUDA): the runtime API (libcudart), cuBLAS and, with FCN_USE_CUDNN, cuDNN's C
# API; never the driver API (libcuda), so the build links on machines without a driver. Only
# sm_90 is built unless CMAKE_CUDA_ARCHITECTURES says otherwise (-DCMAKE_CUDA_ARCHITECTURES="80;90").
set(FCN_HAVE_CUDA 0)
set(FCN_HAVE_CUDNN 0)
if(FCN_USE_CUDA)
  if(NOT CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
    set(CMAKE_CUDA_ARCHITECTURES 90)
  endif()
  enable_language(CUDA)
  set(CMAKE_CUDA_STANDARD 17)
  set(CMAKE_CUDA_STANDARD_REQUIRED ON)
  set(CMAKE_CUDA_RUNTIME_LIBRARY Shared)
  find_package(CUDAToolkit REQUIRED)
  set(FCN_HAVE_CUDA 1)
  if(FCN_USE_CUDNN)
    find_path(CUDNN_INCLUDE_DIR cudnn.h HINTS ${CUDAToolkit_INCLUDE_DIRS})
    find_library(CUDNN_LIBRARY cudnn HINTS ${CUDAToolkit_LIBRARY_DIR})
    if(CUDNN_INCLUDE_DIR AND CUDNN_LIBRARY)
      set(FCN_HAVE_CUDNN 1)
    else()
      message(FATAL_ERROR "FCN_USE_CUDNN: cudnn.h / libcudnn not found next to the CUDA toolkit "
                          "(set CUDNN_INCLUDE_DIR and CUDNN_LIBRARY, or -DFCN_USE_CUDNN=OFF)")
    endif()
  endif()
endif()
