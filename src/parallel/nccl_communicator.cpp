// SPDX-License-Identifier: BSD-2-Clause
// NcclCommunicator: ncclBroadcast / ncclAllReduce on a stream of its own, grouped per call.
#include "fcn/nccl_communicator.h"

#include <cuda_runtime_api.h>
#include <glog/logging.h>
#include <nccl.h>

#include "backend/cuda/cuda_check.h"

#define FCN_NCCL_CHECK(call)                                                        \
  do {                                                                              \
    const ncclResult_t fcn_nccl_status_ = (call);                                   \
    if (fcn_nccl_status_ != ncclSuccess) {                                          \
      throw ::fcn::RuntimeError(                                                    \
          ::fcn::StrCat(#call, " failed: ", ncclGetErrorString(fcn_nccl_status_))); \
    }                                                                               \
  } while (false)

namespace fcn {

namespace {

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(std::shared_ptr<MpiCommunicator> mpi, int device_id)
      : mpi_(std::move(mpi)), device_id_(device_id) {
    FCN_CUDA_CHECK(cudaSetDevice(device_id_));
    ncclUniqueId id{};
    if (mpi_->rank() == 0) FCN_NCCL_CHECK(ncclGetUniqueId(&id));
    mpi_->Broadcast(&id, sizeof(id), 0);
    FCN_NCCL_CHECK(ncclCommInitRank(&comm_, mpi_->size(), id, mpi_->rank()));
    // A blocking stream: its work waits for the legacy default stream (where the layers
    // run), so a gradient is complete before its all-reduce starts.
    FCN_CUDA_CHECK(cudaStreamCreate(&stream_));
    int version = 0;
    ncclGetVersion(&version);
    LOG(INFO) << "NCCL " << version << ": rank " << mpi_->rank() << " of " << mpi_->size()
              << " on device " << device_id_;
  }
  ~NcclCommunicator() override {
    if (stream_ != nullptr) cudaStreamDestroy(stream_);
    if (comm_ != nullptr) ncclCommDestroy(comm_);
  }
  NcclCommunicator(const NcclCommunicator&) = delete;
  NcclCommunicator& operator=(const NcclCommunicator&) = delete;

  int rank() const override { return mpi_->rank(); }
  int size() const override { return mpi_->size(); }
  std::string name() const override { return "NCCL"; }
  Device device() const override { return Device::kCuda; }

  void Broadcast(void* data, std::size_t bytes, int root) override {
    mpi_->Broadcast(data, bytes, root);
  }
  void BroadcastFloats(const std::vector<FloatSpan>& spans, int root) override {
    FCN_CUDA_CHECK(cudaSetDevice(device_id_));
    FCN_NCCL_CHECK(ncclGroupStart());
    for (const FloatSpan& s : spans) {
      FCN_NCCL_CHECK(ncclBroadcast(s.data, s.data, static_cast<std::size_t>(s.count), ncclFloat,
                                   root, comm_, stream_));
    }
    FCN_NCCL_CHECK(ncclGroupEnd());
    FCN_CUDA_CHECK(cudaStreamSynchronize(stream_));
  }
  void AllReduceSum(const std::vector<FloatSpan>& spans) override {
    FCN_CUDA_CHECK(cudaSetDevice(device_id_));  // the gradient thread's own device
    FCN_NCCL_CHECK(ncclGroupStart());
    for (const FloatSpan& s : spans) {
      FCN_NCCL_CHECK(ncclAllReduce(s.data, s.data, static_cast<std::size_t>(s.count), ncclFloat,
                                   ncclSum, comm_, stream_));
    }
    FCN_NCCL_CHECK(ncclGroupEnd());
    FCN_CUDA_CHECK(cudaStreamSynchronize(stream_));
  }
  void AllReduceHost(float* data, int count) override { mpi_->AllReduceHost(data, count); }
  void Barrier() override { mpi_->Barrier(); }

 private:
  std::shared_ptr<MpiCommunicator> mpi_;
  int device_id_;
  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr;
};

}  // namespace

std::unique_ptr<Communicator> CreateNcclCommunicator(std::shared_ptr<MpiCommunicator> mpi,
                                                     int device_id) {
  return std::make_unique<NcclCommunicator>(std::move(mpi), device_id);
}

}  // namespace fcn
