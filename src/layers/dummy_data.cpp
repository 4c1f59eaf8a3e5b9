// SPDX-License-Identifier: BSD-2-Clause
// DummyData layer: validates the declared shapes and fillers, and fills the tops.
#include "layers/dummy_data.h"

#include <string>

#include "fcn/filler.h"
#include "fcn/layer_registry.h"

namespace fcn {

namespace {

// Checks that a repeated field was given once or once per top.
void CheckOnceOrPerTop(const char* field, int given, int num_tops) {
  if (given != 1 && given != num_tops) {
    throw ConfigError(StrCat("dummy_data_param.", field, " must be given once or once per top (",
                             num_tops, " tops); got ", given));
  }
}

}  // namespace

const LayerSchema& DummyDataLayer::Schema() {
  static const LayerSchema schema{"DummyData",
                                  0,
                                  0,
                                  1,
                                  -1,
                                  /*in_place=*/false,
                                  /*auto_top=*/false,
                                  /*loss=*/false,
                                  {"dummy_data_param"},
                                  CoordMapRule::kNone};
  return schema;
}

FCN_REGISTER_LAYER(DummyDataLayer)

DummyDataLayer::DummyDataLayer(const LayerParameter& param) : Layer(param) {
  const DummyDataParameter& p = param.dummy_data_param();
  const int num_tops = param.top_size();

  const int num_fillers = p.data_filler_size();
  if (num_fillers > 1 && num_fillers != num_tops) {
    throw ConfigError(
        StrCat("dummy_data_param.data_filler must be given 0 times, once, or once per top (",
               num_tops, " tops); got ", num_fillers));
  }
  for (const FillerParameter& filler : p.data_filler()) ValidateFiller(filler);

  const bool legacy =
      p.num_size() > 0 || p.channels_size() > 0 || p.height_size() > 0 || p.width_size() > 0;
  if (legacy) {
    if (p.shape_size() > 0) {
      throw ConfigError(
          "dummy_data_param sets both shape and the legacy num/channels/height/width; use one");
    }
    CheckOnceOrPerTop("num", p.num_size(), num_tops);
    CheckOnceOrPerTop("channels", p.channels_size(), num_tops);
    CheckOnceOrPerTop("height", p.height_size(), num_tops);
    CheckOnceOrPerTop("width", p.width_size(), num_tops);
  } else {
    CheckOnceOrPerTop("shape", p.shape_size(), num_tops);
  }

  for (int i = 0; i < num_tops; ++i) {
    // A field given once applies to every top.
    auto pick = [i](int size) { return size == 1 ? 0 : i; };
    if (legacy) {
      shapes_.push_back({p.num(pick(p.num_size())), p.channels(pick(p.channels_size())),
                         p.height(pick(p.height_size())), p.width(pick(p.width_size()))});
    } else {
      const BlobShape& s = p.shape(pick(p.shape_size()));
      std::vector<std::int64_t> shape(s.dim().begin(), s.dim().end());
      for (std::int64_t d : shape) {
        if (d < 0) {
          throw ConfigError(StrCat("dummy_data_param.shape for top ", i,
                                   " has a negative dimension: ", ShapeString(shape)));
        }
      }
      shapes_.push_back(std::move(shape));
    }
    FillerParameter filler;  // constant 0 when none is given
    if (num_fillers > 0) filler = p.data_filler(pick(num_fillers));
    refill_.push_back(filler.type() != "constant");
    fillers_.push_back(std::move(filler));
  }
}

void DummyDataLayer::LayerSetUp(const BlobVec&, const BlobVec& top) {
  FCN_CHECK(shapes_.size() == top.size(), shapes_.size(), " shapes for ", top.size(), " tops");
  for (std::size_t i = 0; i < top.size(); ++i) {
    top[i]->Reshape(shapes_[i]);
    if (!refill_[i]) FillBlob(fillers_[i], top[i], rng());
  }
}

void DummyDataLayer::Reshape(const BlobVec&, const BlobVec&) {}

void DummyDataLayer::ForwardImpl(const ExecContext&, const BlobVec&, const BlobVec& top) {
  for (std::size_t i = 0; i < top.size(); ++i) {
    if (refill_[i]) FillBlob(fillers_[i], top[i], rng());
  }
}

}  // namespace fcn
