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
# libjpeg (Debian libjpeg-dev): JPEG headers are read before an image is decoded.
find_package(JPEG REQUIRED)
# zlib: the CRC-32 that ties a .solverstate to its .caffemodel.
find_package(ZLIB REQUIRED)
# OpenMP (GCC's libgomp): parallel CPU loops of the index-wise kernels; oneDNN's runtime.
find_package(OpenMP COMPONENTS CXX)
# oneDNN (Debian libdnnl-dev): the default CPU engine of Convolution and Deconvolution.
set(FCN_HAVE_DNNL 0)
if(FCN_USE_DNNL)
  # oneDNN's own config calls find_package(OpenCL REQUIRED) when the library was built with
  # its OpenCL GPU runtime (Debian's is), and a missing OpenCL then ends configure in a stack
  # trace inside dnnl-config.cmake. Look first, and say in one line what to install.
  find_file(FCN_DNNL_CONFIG NAMES dnnl-config.cmake HINTS ${dnnl_DIR}
            PATH_SUFFIXES lib/${CMAKE_LIBRARY_ARCHITECTURE}/cmake/dnnl lib/cmake/dnnl NO_CACHE)
  if(NOT FCN_DNNL_CONFIG)
    # A leading space keeps CMake from wrapping the message: it stays one line.
    message(FATAL_ERROR " oneDNN not found (package libdnnl-dev): run 'sudo apt-get install libdnnl-dev "
                        "ocl-icd-opencl-dev' or 'bash scripts/install-deps.sh' (or configure with -DFCN_USE_DNNL=OFF)")
  endif()
  file(STRINGS "${FCN_DNNL_CONFIG}" _fcn_dnnl_ocl REGEX "set\\(DNNL_GPU_RUNTIME \"OCL\"\\)")
  if(_fcn_dnnl_ocl)
    find_package(OpenCL QUIET)
    if(NOT OpenCL_FOUND)
      message(FATAL_ERROR " oneDNN's CMake config needs OpenCL (package ocl-icd-opencl-dev), which is missing: "
                          "run 'sudo apt-get install ocl-icd-opencl-dev' or 'bash scripts/install-deps.sh'")
    endif()
  endif()
  find_package(dnnl CONFIG REQUIRED)
  set(FCN_HAVE_DNNL 1)
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

# MPI (Debian libopenmpi-dev, OpenMPI 4.1): data-parallel training across processes and hosts
# (docs/distributed.md). Built by default when found; without it fcntool trains in one process.
set(FCN_HAVE_MPI 0)
if(FCN_USE_MPI)
  find_package(MPI COMPONENTS C)
  if(MPI_C_FOUND)
    set(FCN_HAVE_MPI 1)
    find_program(FCN_MPIEXEC NAMES mpirun mpiexec HINTS ${MPIEXEC_EXECUTABLE})
  else()
    message(STATUS "MPI not found (package libopenmpi-dev): fcntool trains in one process only")
  endif()
endif()

# NCCL (it ships with the CUDA toolkit under /usr/local/cuda): the GPU communicator. Needs MPI,
# which carries the NCCL id from rank 0 to the others.
set(FCN_HAVE_NCCL 0)
if(FCN_HAVE_CUDA AND FCN_HAVE_MPI AND FCN_USE_NCCL)
  find_path(NCCL_INCLUDE_DIR nccl.h HINTS ${CUDAToolkit_INCLUDE_DIRS})
  find_library(NCCL_LIBRARY nccl HINTS ${CUDAToolkit_LIBRARY_DIR})
  if(NCCL_INCLUDE_DIR AND NCCL_LIBRARY)
    set(FCN_HAVE_NCCL 1)
  else()
    message(STATUS "NCCL not found next to the CUDA toolkit: GPU ranks reduce over MPI through host memory")
  endif()
endif()
