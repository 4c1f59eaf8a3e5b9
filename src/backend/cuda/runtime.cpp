// SPDX-License-Identifier: BSD-2-Clause
// The CUDA build's device memory, device queries and library handles, on the CUDA runtime
// API (libcudart), cuBLAS and cuDNN; nothing here touches the driver API.
#include <cuda_runtime_api.h>

#include <sstream>
#include <string>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/handles.h"
#include "backend/device_memory.h"
#include "fcn/gpu.h"

namespace fcn {

namespace cuda {

const char* CublasStatusName(cublasStatus_t status) {
  switch (status) {
    case CUBLAS_STATUS_SUCCESS:
      return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED:
      return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED:
      return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE:
      return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH:
      return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR:
      return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED:
      return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR:
      return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED:
      return "CUBLAS_STATUS_NOT_SUPPORTED";
    case CUBLAS_STATUS_LICENSE_ERROR:
      return "CUBLAS_STATUS_LICENSE_ERROR";
  }
  return "unknown cuBLAS status";
}

}  // namespace cuda

namespace device {

void* Malloc(std::size_t bytes) {
  void* pointer = nullptr;
  const cudaError_t status = cudaMalloc(&pointer, bytes);
  if (status != cudaSuccess) {
    throw RuntimeError(
        StrCat("out of device memory allocating ", bytes, " bytes: ", cudaGetErrorString(status)));
  }
  return pointer;
}

void Free(void* pointer) noexcept {
  if (pointer != nullptr) (void)cudaFree(pointer);
}

void CopyHostToDevice(void* dst, const void* src, std::size_t bytes) {
  FCN_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice));
}

void CopyDeviceToHost(void* dst, const void* src, std::size_t bytes) {
  FCN_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost));
}

void CopyDeviceToDevice(void* dst, const void* src, std::size_t bytes) {
  FCN_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToDevice));
}

void Zero(void* pointer, std::size_t bytes) { FCN_CUDA_CHECK(cudaMemset(pointer, 0, bytes)); }

}  // namespace device

GpuHandles::GpuHandles() {
  FCN_CUBLAS_CHECK(cublasCreate(&cublas));
  // Host scalars (alpha, beta) and host results (asum, dot), as in Caffe.
  FCN_CUBLAS_CHECK(cublasSetPointerMode(cublas, CUBLAS_POINTER_MODE_HOST));
#if FCN_HAVE_CUDNN
  FCN_CUDNN_CHECK(cudnnCreate(&cudnn));
#endif
}

GpuHandles::~GpuHandles() {
#if FCN_HAVE_CUDNN
  if (cudnn != nullptr) (void)cudnnDestroy(cudnn);
#endif
  if (cublas != nullptr) (void)cublasDestroy(cublas);
}

namespace gpu {

bool Built() { return true; }

bool CudnnBuilt() { return FCN_HAVE_CUDNN != 0; }

int DeviceCount(std::string* why) {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    (void)cudaGetLastError();  // clear the sticky error for later calls
    if (why != nullptr) {
      *why = StrCat("cudaGetDeviceCount: ", cudaGetErrorName(status), " (",
                    cudaGetErrorString(status), ")");
    }
    return 0;
  }
  if (count == 0 && why != nullptr) *why = "cudaGetDeviceCount found no CUDA device";
  return count;
}

int ComputeCapability(int id) {
  std::string why;
  const int count = DeviceCount(&why);
  if (id < 0 || id >= count) {
    throw RuntimeError(count == 0 ? StrCat("no CUDA device: ", why)
                                  : StrCat("no CUDA device ", id, " (", count, " found)"));
  }
  int major = 0;
  int minor = 0;
  FCN_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, id));
  FCN_CUDA_CHECK(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, id));
  return major * 10 + minor;
}

std::string DeviceQuery(int id) {
  std::string why;
  const int count = DeviceCount(&why);
  if (id < 0 || id >= count) {
    throw RuntimeError(count == 0 ? StrCat("no CUDA device: ", why)
                                  : StrCat("no CUDA device ", id, " (", count, " found)"));
  }
  cudaDeviceProp prop{};
  FCN_CUDA_CHECK(cudaGetDeviceProperties(&prop, id));
  int runtime = 0;
  int driver = 0;
  FCN_CUDA_CHECK(cudaRuntimeGetVersion(&runtime));
  FCN_CUDA_CHECK(cudaDriverGetVersion(&driver));
  std::ostringstream out;
  out << "Device id:                     " << id << "\n"
      << "Name:                          " << prop.name << "\n"
      << "Compute capability:            " << prop.major << "." << prop.minor << "\n"
      << "Total global memory:           " << prop.totalGlobalMem << "\n"
      << "Total shared memory per block: " << prop.sharedMemPerBlock << "\n"
      << "Total registers per block:     " << prop.regsPerBlock << "\n"
      << "Warp size:                     " << prop.warpSize << "\n"
      << "Maximum threads per block:     " << prop.maxThreadsPerBlock << "\n"
      << "Maximum dimension of block:    " << prop.maxThreadsDim[0] << ", " << prop.maxThreadsDim[1]
      << ", " << prop.maxThreadsDim[2] << "\n"
      << "Maximum dimension of grid:     " << prop.maxGridSize[0] << ", " << prop.maxGridSize[1]
      << ", " << prop.maxGridSize[2] << "\n"
      << "Number of multiprocessors:     " << prop.multiProcessorCount << "\n"
      << "CUDA runtime version:          " << runtime / 1000 << "." << runtime % 1000 / 10 << "\n"
      << "CUDA driver version:           " << driver / 1000 << "." << driver % 1000 / 10;
#if FCN_HAVE_CUDNN
  out << "\ncuDNN version:                 " << cudnnGetVersion();
#endif
  return out.str();
}

void SetDevice(int id) {
  std::string why;
  const int count = DeviceCount(&why);
  if (count == 0) throw RuntimeError(StrCat("--gpu=", id, ": no CUDA device (", why, ")"));
  if (id < 0 || id >= count) {
    throw RuntimeError(StrCat("--gpu=", id, ": no such CUDA device (", count, " found)"));
  }
  FCN_CUDA_CHECK(cudaSetDevice(id));
}

}  // namespace gpu

}  // namespace fcn
