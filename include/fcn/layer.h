// SPDX-License-Identifier: BSD-2-Clause
// Layer: the unit of computation. A layer reads its bottom blobs and writes its top blobs
// (Forward), and turns top diffs into bottom diffs and parameter diffs (Backward).
//
// Life cycle, as in Caffe: the Net checks the layer parameter against the layer's schema,
// creates the layer through the registry, then calls SetUp(bottom, top) once
// (LayerSetUp, Reshape, loss weights). Forward() calls Reshape() before every pass, so one
// net takes whole images of any size.
//
// Writing a layer:
//   class ReLULayer final : public Layer {
//    public:
//     static const LayerSchema& Schema();            // "ReLU", 1 bottom, 1 top, in place ok
//     explicit ReLULayer(const LayerParameter& p);   // reads and validates relu_param
//     void Reshape(const BlobVec& bottom, const BlobVec& top) override;
//    protected:
//     void ForwardImpl(const ExecContext&, const BlobVec& bottom, const BlobVec& top) override;
//     void BackwardImpl(const ExecContext&, const BlobVec& top,
//                       const std::vector<bool>& propagate_down, const BlobVec& bottom) override;
//   };
// and FCN_REGISTER_LAYER(ReLULayer) in its .cpp (fcn/layer_registry.h). User errors throw ConfigError with the
// message only; the Net adds file, line and layer name.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "fcn/blob.h"
#include "fcn/exec_context.h"
#include "fcn/options.h"
#include "fcn/proto/fcn.pb.h"
#include "fcn/rng.h"

namespace fcn {

using BlobVec = std::vector<Blob*>;

/// How a layer maps spatial coordinates from its bottom to its top, for crop derivation and
/// receptive fields (CoordMapAnalysis, fcntool check/align). Every schema states one: the
/// registry refuses kUndeclared, so a new layer cannot silently block the analysis.
enum class CoordMapRule {
  kUndeclared,     ///< not stated: LayerRegistry::AddEntry fails
  kNone,           ///< no spatial map (data, loss, inner product, argmax, ...)
  kIdentity,       ///< element-wise: top pixel = bottom pixel (ReLU, Eltwise, Scale, ...)
  kConcat,         ///< identity when concatenating along axis 0 or 1
  kCrop,           ///< b = -offset, through bottom 0 only
  kConvolution,    ///< a = 1/s, b = (p - d(k-1)/2) / s from convolution_param
  kDeconvolution,  ///< a = s, b = d(k-1)/2 - p from convolution_param
  kPooling,        ///< a = 1/s, b = (p - (k-1)/2) / s from pooling_param
};

/// What the Net checks before it creates a layer, and what analyses know of its type.
struct LayerSchema {
  std::string type;
  int min_bottoms = 0;
  int max_bottoms = 0;  ///< -1: no limit
  int min_tops = 0;
  int max_tops = 0;  ///< -1: no limit
  /// Top j may be bottom j (computed in place).
  bool in_place = false;
  /// Missing tops (up to min_tops) are created anonymously, as Caffe's AutoTopBlobs.
  bool auto_top = false;
  /// A loss layer: loss_weight defaults to 1 on top 0; no backward to the label bottom.
  bool loss = false;
  /// LayerParameter sub-messages (field names such as "convolution_param") this type reads.
  std::vector<std::string> params;
  /// Its coordinate map (required).
  CoordMapRule coord_map = CoordMapRule::kUndeclared;
};

class Layer {
 public:
  explicit Layer(const LayerParameter& param);
  virtual ~Layer() = default;
  Layer(const Layer&) = delete;
  Layer& operator=(const Layer&) = delete;

  const LayerSchema& schema() const { return *schema_; }
  const LayerParameter& layer_param() const { return layer_param_; }
  const std::string& name() const { return layer_param_.name(); }
  const std::string& type() const { return layer_param_.type(); }
  Phase phase() const { return phase_; }
  /// The options of the net this layer belongs to (set by the Net before SetUp; a layer made
  /// on its own runs with the default Options).
  const Options& options() const { return options_; }
  void set_options(const Options& options) { options_ = options; }
  /// The random source of the run this layer belongs to (fillers, Dropout masks, data order):
  /// the Net's, set before SetUp; a layer made on its own has its own, seeded as Rng().
  Rng& rng() const { return *rng_; }
  void set_rng(Rng* rng) { rng_ = rng != nullptr ? rng : &own_rng_; }

  /// Runs LayerSetUp and Reshape and sets the loss weights (blob counts were checked against
  /// the schema by LayerRegistry::Create).
  void SetUp(const BlobVec& bottom, const BlobVec& top);
  /// Reshape, then the computation; returns the weighted loss of this layer's tops.
  float Forward(const ExecContext& ctx, const BlobVec& bottom, const BlobVec& top);
  /// Writes bottom diffs where propagate_down[i]; accumulates parameter diffs where
  /// param_propagate_down(j).
  void Backward(const ExecContext& ctx, const BlobVec& top, const std::vector<bool>& propagate_down,
                const BlobVec& bottom);

  /// One-time set-up from the parameter and the first bottoms (e.g. allocate weights).
  virtual void LayerSetUp(const BlobVec& bottom, const BlobVec& top);
  /// Computes the top shapes (and internal buffers) from the bottom shapes.
  virtual void Reshape(const BlobVec& bottom, const BlobVec& top) = 0;

  /// Whether force_backward may request a gradient for this bottom.
  virtual bool AllowForceBackward(int bottom_index) const;

  /// The learnable (or fixed) parameter blobs, in Caffe's order (weights, then bias).
  std::vector<std::shared_ptr<Blob>>& blobs() { return blobs_; }
  const std::vector<std::shared_ptr<Blob>>& blobs() const { return blobs_; }

  float loss(int top_index) const;
  void set_loss(int top_index, float weight);
  bool param_propagate_down(int index) const;
  void set_param_propagate_down(int index, bool value);

  /// Whether ForwardImpl/BackwardImpl run on `device`. Every layer runs on the CPU; a layer
  /// whose math goes through ForEachIndex and math:: on the ctx-aware blob pointers
  /// (Blob::data(ctx), ...) also runs on CUDA and returns true. On a CUDA context the others
  /// run on ctx.host(), their blobs copied to the host and back on demand.
  virtual bool RunsOn(Device device) const { return device == Device::kCpu; }

  /// Set by a Net that never runs backward (Net::set_release_consumed_data): the layer may
  /// skip what only its backward reads (MAX pooling's argmax: 30 MB for FCN-8s's pool1 at
  /// 500x500). Backward on such a layer is a logic error.
  void set_forward_only(bool forward_only) { forward_only_ = forward_only; }
  bool forward_only() const { return forward_only_; }

  /// Whether this layer's backward reads the data of its top / bottom `index`. A training net
  /// that releases what backward has consumed (Net::set_release_consumed_diffs) frees each
  /// activation once the last backward that reads it has run. Default: it reads them all.
  virtual bool BackwardReadsTopData(int /*index*/) const { return true; }
  virtual bool BackwardReadsBottomData(int /*index*/) const { return true; }

  /// Bytes of internal buffers beyond tops and parameters (reported by fcntool check).
  virtual std::size_t internal_bytes() const { return 0; }
  /// The engine that ran this layer last (before any run: the one chosen for the current
  /// shape), for logs and tests, e.g. "DNNL (jit:avx512_core)" or "CAFFE (im2col + GEMM)";
  /// empty for layers that have one way to run.
  virtual std::string engine_name() const { return std::string(); }

  /// State beyond the parameters that an exact resume needs (a data layer's cursor and RNG,
  /// for example), as opaque bytes stored in the .solverstate. Empty for most layers.
  virtual std::string SaveState() const { return ""; }
  /// Restores what SaveState returned; throws ConfigError when the bytes do not fit.
  virtual void RestoreState(const std::string& state);
  /// Data-parallel training (docs/distributed.md): a layer that reads a dataset reads only
  /// the share of rank `index` among `count` ranks: of each group of `count` consecutive
  /// batches of the one-process order, the batch at `index`. Its saved state stays the
  /// position after the whole group (the global cursor), the same on every rank. Restarts
  /// from the position of its set-up. Other layers ignore it.
  virtual void SetDataShard(int index, int count);

 protected:
  virtual void ForwardImpl(const ExecContext& ctx, const BlobVec& bottom, const BlobVec& top) = 0;
  /// Default: no gradient (layers with no bottoms, or data layers).
  virtual void BackwardImpl(const ExecContext& ctx, const BlobVec& top,
                            const std::vector<bool>& propagate_down, const BlobVec& bottom);

  LayerParameter layer_param_;
  Phase phase_;
  std::vector<std::shared_ptr<Blob>> blobs_;
  std::vector<bool> param_propagate_down_;
  std::vector<float> loss_;
  Options options_;
  bool forward_only_ = false;

 private:
  friend class LayerRegistry;
  void SetLossWeights(const BlobVec& top);
  const LayerSchema* schema_ = nullptr;
  mutable Rng own_rng_;
  Rng* rng_ = &own_rng_;
};

}  // namespace fcn
