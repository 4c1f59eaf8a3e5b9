// SPDX-License-Identifier: BSD-2-Clause
// Net: a DAG of layers built from a NetParameter, as Caffe's Net: phase/level/stage
// filtering, automatic Split insertion, in-place layers, loss weights, the backward-need
// analysis (propagate_down, force_backward) and parameter sharing by name.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "fcn/blob.h"
#include "fcn/exec_context.h"
#include "fcn/io.h"
#include "fcn/layer.h"

namespace fcn {

/// The net state a caller asks for (overrides the file's own `state` where set).
struct NetStateOptions {
  Phase phase = TEST;
  int level = 0;
  std::vector<std::string> stages;
};

class Net;

/// What a weights file holds, counted layer by layer as it is read (ForEachWeightsLayer), for
/// the checks that used to look at the whole file: whether it sets a parameter of the net.
struct WeightsTally {
  std::size_t layers = 0;                 ///< layers in the file
  std::size_t blobs = 0;                  ///< parameter blobs in all
  std::size_t layers_with_params = 0;     ///< layers that hold parameter blobs
  std::vector<std::string> with_params;   ///< the first five of those, by name
  bool names_a_layer = false;             ///< one with blobs has the name of one of the net's
  bool names_a_parametric_layer = false;  ///< ... of one that has parameters
  /// Counts `layer`, matching its name against `net`.
  void Add(const LayerParameter& layer, const Net& net);
};

class Net {
 public:
  /// Builds from a parameter as is (its `state` decides the phase), with the default Options
  /// (on the CPU). `source` supplies file locations for error messages (may be null).
  explicit Net(const NetParameter& param, const NetSource* source = nullptr);
  /// The same, running with `options` (device, engines, seed). The net draws its random
  /// numbers from `rng` when given (a Solver shares one between its train and test nets; it
  /// must outlive the net), otherwise from an Rng of its own seeded with options.random_seed.
  Net(const NetParameter& param, const Options& options, const NetSource* source = nullptr,
      Rng* rng = nullptr);
  /// Reads a prototxt and builds it in the given state, with `options` and `rng` as above.
  static std::unique_ptr<Net> FromFile(const std::string& path, const NetStateOptions& state,
                                       const Options& options = Options(), Rng* rng = nullptr);
  /// Applies phase, level and stages to a parameter's state.
  static void SetState(const NetStateOptions& state, NetParameter* param);

  ~Net();
  Net(const Net&) = delete;
  Net& operator=(const Net&) = delete;

  /// Runs every layer's Forward; returns the total weighted loss.
  float Forward();
  float ForwardFromTo(int start, int end);
  /// Runs Backward of the layers that need it, last to first.
  void Backward();
  void BackwardFromTo(int start, int end);
  float ForwardBackward() {
    const float loss = Forward();
    Backward();
    return loss;
  }
  /// Called by BackwardFromTo with each layer index, last to first, once that layer's
  /// backward has run (or was not needed), as Caffe's after-backward callbacks: data-parallel
  /// training starts reducing a parameter's gradient once the lowest layer using it is done.
  /// Empty: nothing is called.
  void set_after_backward(std::function<void(int layer)> fn) { after_backward_ = std::move(fn); }

  /// With `release` (the solver's training net, fcntool time), each activation gradient is
  /// freed as soon as the backward pass has consumed it (after the backward of the layer that
  /// produced the blob), so a training step holds the gradients of a few layers at a time
  /// instead of all of them. Net inputs, outputs, loss tops and parameters keep their diffs;
  /// other blobs' diffs are not readable after Backward(). So are their activations: each one
  /// is freed once no backward still to run reads it (Layer::BackwardReadsTopData and
  /// BackwardReadsBottomData), and its buffer serves the gradients that follow (conv1_2's
  /// output serves conv1_1's gradient). Off by default. CPU contexts only
  /// (on a GPU, freeing and re-allocating device memory every step would cost more than it
  /// saves).
  void set_release_consumed_diffs(bool release) { release_consumed_diffs_ = release; }
  bool release_consumed_diffs() const { return release_consumed_diffs_; }
  /// Frees the diffs that layer i's backward has consumed (its tops that are neither its
  /// bottoms, nor net inputs or outputs, nor loss tops), and the activations whose last
  /// backward reader is layer i, when release_consumed_diffs() is on.
  /// Backward() calls it after each layer; callers that run layers one by one (fcntool
  /// time) call it themselves.
  void ReleaseConsumedDiffs(int layer_index);
  /// The most activation-gradient bytes a training step's backward pass holds at once when
  /// consumed diffs are released (what it needs besides the activations, the parameters and
  /// their gradients and history): a replay of Backward()'s allocations and releases, forced
  /// as with force_backward (every layer, every bottom that allows a gradient), so a deploy
  /// net reports what training it would take.
  std::int64_t PeakBackwardDiffBytes() const;

  /// For nets that only run forward (scoring, segmentation, `fcntool test`): with `release`,
  /// each activation's memory is freed as soon as the last layer that reads it has run, so a
  /// pass holds a few layers' activations at a time instead of all of them. Inputs, outputs,
  /// loss tops and the blobs named in `keep` stay readable after Forward(); other blobs do
  /// not. Blobs that share data (Split's tops, a one-input Concat) are freed together, after
  /// the last reader of any of them. Backward() on such a net is a logic error. CPU contexts
  /// only. Off by default.
  void set_release_consumed_data(bool release, const std::vector<std::string>& keep = {});

  /// Recomputes every shape from the inputs (after an input blob was reshaped).
  void Reshape();
  /// Zeroes the diffs of all learnable parameters.
  void ClearParamDiffs();

  const std::string& name() const { return name_; }
  Phase phase() const { return phase_; }

  const std::vector<std::unique_ptr<Layer>>& layers() const { return layers_; }
  const std::vector<std::string>& layer_names() const { return layer_names_; }
  const std::vector<std::shared_ptr<Blob>>& blobs() const { return blobs_; }
  const std::vector<std::string>& blob_names() const { return blob_names_; }
  bool has_blob(const std::string& name) const { return blob_index_.count(name) > 0; }
  /// nullptr when absent.
  Blob* blob_by_name(const std::string& name) const;
  Layer* layer_by_name(const std::string& name) const;
  int layer_index(const std::string& name) const;

  const std::vector<Blob*>& input_blobs() const { return input_blobs_; }
  const std::vector<Blob*>& output_blobs() const { return output_blobs_; }
  const std::vector<int>& input_blob_indices() const { return input_blob_indices_; }
  const std::vector<int>& output_blob_indices() const { return output_blob_indices_; }

  const std::vector<std::vector<Blob*>>& bottom_vecs() const { return bottom_vecs_; }
  const std::vector<std::vector<Blob*>>& top_vecs() const { return top_vecs_; }
  const std::vector<std::vector<int>>& bottom_ids() const { return bottom_id_vecs_; }
  const std::vector<std::vector<int>>& top_ids() const { return top_id_vecs_; }
  const std::vector<bool>& layer_need_backward() const { return layer_need_backward_; }
  const std::vector<std::vector<bool>>& bottom_need_backward() const {
    return bottom_need_backward_;
  }
  const std::vector<float>& blob_loss_weights() const { return blob_loss_weights_; }

  /// Every parameter blob (owners and sharers) in layer order.
  const std::vector<std::shared_ptr<Blob>>& params() const { return params_; }
  /// The owners only: what the solver updates and snapshots, in order.
  const std::vector<Blob*>& learnable_params() const { return learnable_params_; }
  const std::vector<float>& params_lr() const { return params_lr_; }
  const std::vector<float>& params_weight_decay() const { return params_weight_decay_; }
  /// Index into params() of each parameter's owner (-1 when it owns itself).
  const std::vector<int>& param_owners() const { return param_owners_; }
  /// "layer name" and parameter index of each entry in params().
  const std::vector<std::pair<int, int>>& param_layer_indices() const {
    return param_layer_indices_;
  }

  /// Copies parameters from a weights NetParameter by layer name. Unknown source layers are
  /// skipped (and returned in `ignored`); a blob count or shape mismatch throws ConfigError
  /// naming `what` (the file), the layer and both shapes.
  void CopyTrainedLayersFrom(const NetParameter& weights, const std::string& what = "weights",
                             std::vector<std::string>* ignored = nullptr);
  /// CopyTrainedLayersFrom for one source layer (the step of a streamed load).
  /// `delivered` (one entry per blob, -1 for none) counts values a streamed load already read
  /// into the net's blob (ForEachWeightsLayer's sink).
  void CopyTrainedLayer(const LayerParameter& source, const std::string& what,
                        std::vector<std::string>* ignored = nullptr,
                        const std::vector<std::int64_t>& delivered = {});
  /// Throws ConfigError naming `file` when the net has learnable parameters and `weights`
  /// sets none of them (a truncated file, or one holding only parameterless layers): loading
  /// it would leave every parameter at its filler values without a word.
  void CheckWeightsSetAParameter(const NetParameter& weights, const std::string& file) const;
  /// The same check on a tally of the file's layers (a streamed load).
  void CheckWeightsSetAParameter(const WeightsTally& tally, const std::string& file) const;
  /// Reads a .caffemodel (current or V1) or an HDF5 .caffemodel.h5 (detected by its
  /// signature) and copies it in. A binary file is read and copied a layer at a time
  /// (ForEachWeightsLayer), so the load needs the net's parameters plus one layer of the file;
  /// its errors come as CopyTrainedLayersFrom's after CheckWeightsSetAParameter's.
  void CopyTrainedLayersFromFile(const std::string& path,
                                 std::vector<std::string>* ignored = nullptr);
  /// The same with another check of the file's tally in place of CheckWeightsSetAParameter.
  void CopyTrainedLayersFromFile(const std::string& path, std::vector<std::string>* ignored,
                                 const std::function<void(const WeightsTally&)>& check);
  /// Makes layers with the same name share parameter data with `other` (test nets).
  void ShareTrainedLayersWith(const Net& other);
  /// Writes the net (every layer, its full parameter and blobs) as Caffe's ToProto does.
  void ToProto(NetParameter* param, bool write_diff = false) const;
  /// Writes the parameters as Caffe's Net::ToHDF5 (a `.caffemodel.h5`: /data/<layer>/<i>,
  /// and /diff when write_diff); throws RuntimeError when the file cannot be written.
  void ToHdf5(const std::string& path, bool write_diff = false) const;

  /// The parameter the net was built from (after filtering, upgrades and Split insertion).
  const NetParameter& param() const { return param_; }
  const ExecContext& context() const { return *ctx_; }
  /// The options the net runs with (those of its context).
  const Options& options() const { return ctx_->options(); }
  /// The random source of this net's layers (its own, or the one given at construction).
  Rng& rng() const { return *rng_; }
  /// The pool of host buffers that this net's blobs release into and allocate from (each net
  /// has its own; see HostBufferPool).
  HostBufferPool& host_pool() const { return *host_pool_; }
  /// Runs the following passes on `device` (a net starts on its Options' device), with its
  /// other options unchanged. Blobs follow lazily: each is copied to where it is next used.
  void UseDevice(Device device, int device_id = 0);
  const NetSource& source() const { return source_; }
  /// Location of layer i in its file (unknown for inserted Splits' own text).
  SourceLocation layer_location(int i) const;

 private:
  // Building, in Init's order: the filtered, split parameter; each layer (created, wired,
  // set up, its parameters registered); which layers backward must run; the outputs and
  // shared parameters.
  void Init(const NetParameter& in_param);
  void PrepareParam(const NetParameter& in_param);
  void AddLayer(int layer_id, std::map<std::string, int>* available,
                std::map<std::string, int>* blob_name_to_idx);
  Layer* CreateLayer(int layer_id);
  void SetUpLayer(int layer_id);
  /// Registers the layer's parameters; true when one of them learns (lr_mult != 0).
  bool AppendParams(int layer_id);
  void PruneBackward();
  void ForceBackward();
  void ShareParams();
  void AppendTop(const LayerParameter& param, int layer_id, int top_id,
                 std::map<std::string, int>* available,
                 std::map<std::string, int>* blob_name_to_idx);
  int AppendBottom(const LayerParameter& param, int layer_id, int bottom_id,
                   std::map<std::string, int>* available,
                   std::map<std::string, int>* blob_name_to_idx);
  void AppendParam(const LayerParameter& param, int layer_id, int param_id);
  [[noreturn]] void ThrowAt(int layer_id, const std::string& message) const;
  [[noreturn]] void Rethrow(int layer_id, const ConfigError& e) const;
  /// Rethrows an allocation failure inside a layer as a RuntimeError naming the layer.
  [[noreturn]] void ThrowOutOfMemory(int layer_id, const char* pass, const std::string& what) const;

  std::string name_;
  Phase phase_ = TEST;
  NetParameter param_;
  NetSource source_;
  std::vector<SourceLocation> layer_locations_;
  std::unique_ptr<ExecContext> ctx_;
  std::shared_ptr<HostBufferPool> host_pool_ = std::make_shared<HostBufferPool>();
  std::unique_ptr<Rng> own_rng_;
  Rng* rng_ = nullptr;
  bool release_consumed_diffs_ = false;
  std::function<void(int)> after_backward_;
  /// Whether a top of this layer shares its diff buffer with one of the layer's bottoms.
  bool DiffSharedWithABottom(std::size_t layer, const Blob& top) const;
  /// Per blob: whether its diff is never freed (inputs, outputs, loss tops).
  std::vector<bool> KeptDiffs() const;
  /// Per blob: whether a layer without bottoms writes it (its data is never freed).
  std::vector<bool> SourcedBlobs() const;
  /// Per layer: the tops whose diffs its backward consumes (not in place, not kept).
  std::vector<std::vector<int>> ConsumedTops() const;
  std::vector<std::vector<int>> consumed_tops_;  ///< per layer: the blob ids it may release
  /// Per layer: the blobs whose data no backward after this layer's reads (computed once).
  std::vector<std::vector<int>> BackwardDataLastRead() const;
  std::vector<std::vector<int>> backward_data_last_read_;
  void ReleaseConsumedData(int layer_index);
  bool release_consumed_data_ = false;
  std::vector<std::string> keep_data_;
  std::vector<std::vector<int>> data_last_read_;  ///< per layer: blob ids whose data it frees

  std::vector<std::unique_ptr<Layer>> layers_;
  std::vector<std::string> layer_names_;
  std::map<std::string, int> layer_index_;
  std::vector<bool> layer_need_backward_;

  std::vector<std::shared_ptr<Blob>> blobs_;
  std::vector<std::string> blob_names_;
  std::map<std::string, int> blob_index_;
  std::vector<bool> blob_need_backward_;
  std::vector<float> blob_loss_weights_;

  std::vector<std::vector<Blob*>> bottom_vecs_;
  std::vector<std::vector<int>> bottom_id_vecs_;
  std::vector<std::vector<bool>> bottom_need_backward_;
  std::vector<std::vector<Blob*>> top_vecs_;
  std::vector<std::vector<int>> top_id_vecs_;

  std::vector<int> input_blob_indices_;
  std::vector<Blob*> input_blobs_;
  std::vector<int> output_blob_indices_;
  std::vector<Blob*> output_blobs_;

  std::vector<std::shared_ptr<Blob>> params_;
  std::vector<Blob*> learnable_params_;
  std::vector<int> learnable_param_ids_;
  std::vector<float> params_lr_;
  std::vector<bool> has_params_lr_;
  std::vector<float> params_weight_decay_;
  std::vector<bool> has_params_decay_;
  std::vector<int> param_owners_;
  std::vector<std::string> param_display_names_;
  std::vector<std::pair<int, int>> param_layer_indices_;
  std::map<std::string, int> param_names_index_;
  std::map<std::pair<int, int>, int> layer_param_index_;
};

/// A memory budget for CheckPlannedMemory: its bytes, the setting that raises it, and how an
/// error shows its value (for fcntool: "--max_memory", "=8G = 8.00 GiB" or "=23.1 GiB (the
/// memory available now)").
struct MemoryLimit {
  std::int64_t bytes = 0;
  std::string setting;
  std::string value;
};

/// Stops a net whose planned memory exceeds `limit` before it runs: the parameters (with their
/// gradients and SGD history when `training`), every activation (with its gradient when
/// `training`) and the layers' own buffers, summed layer by layer in order, plus `extra` bytes
/// already planned elsewhere (the train net, for a test net). Throws ConfigError at the layer
/// whose sum crosses the line (prototxt file:line, name, type), naming the bytes. Returns the
/// net's planned bytes. fcntool's --max_memory and the fuzz_prototxt target both use it.
std::int64_t CheckPlannedMemory(const Net& net, bool training, const MemoryLimit& limit,
                                std::int64_t extra = 0);
/// "1.5 GiB" / "20.0 MiB" / "12 B".
std::string FormatBytes(double bytes);

/// Caffe's StateMeetsRule / FilterNet / InsertSplits, exposed for tests.
bool StateMeetsRule(const NetState& state, const NetStateRule& rule, const std::string& layer);
/// Keeps the layers whose include/exclude rules admit `param.state()`. `kept` receives the
/// original index of each kept layer. Throws ConfigError for a layer with both rule kinds.
NetParameter FilterNet(const NetParameter& param, std::vector<int>* kept = nullptr);
/// Inserts Split layers. `origin` receives, per output layer, the index of the input layer it
/// came from (the producer's index for an inserted Split).
NetParameter InsertSplits(const NetParameter& param, std::vector<int>* origin = nullptr);
std::string SplitLayerName(const std::string& blob, const std::string& layer, int top_index);
std::string SplitBlobName(const std::string& blob, const std::string& layer, int top_index,
                          int split_index);

}  // namespace fcn
