// SPDX-License-Identifier: BSD-2-Clause
// libFuzzer target: one LMDB record -> the Data layer's reader (CreateDataReader, Next). The
// record is stored in a small database in the scratch directory, so the reader runs on it as
// on a converted dataset. One writer environment per layout stays open for the whole run
// (opening a writable environment allocates LMDB's multi-megabyte page lists, which under
// AddressSanitizer was most of each input's time): each input is put and committed there, and
// the committed data.mdb is copied into the directory the reader opens (LMDB allows one open
// environment per file in a process). The first byte picks where the record goes and how it
// is read:
//   byte % 3 == 0: a Caffe Datum database (no ~meta): the record is its only Datum;
//   byte % 3 == 1: a segmentation database (fcn-seg-1): the record is the `data` field of the
//                  one sample (bit 3: the `label` field instead), the other field valid;
//   byte % 3 == 2: a segmentation database whose ~meta JSON record is the input, with one
//                  valid sample.
// Bit 2 asks for batch_size 2, bit 4 for a transform (mean value, scale; a crop and mirror in
// Caffe mode), bit 5 for force_color, bit 6 for the TRAIN phase.
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "fcn/common.h"
#include "fcn/lmdb_db.h"
#include "fcn/proto/fcn.pb.h"
#include "fuzz_util.h"
#include "layers/data_reader.h"

namespace {

std::string RawDatum(int channels, int height, int width, std::uint8_t value) {
  fcn::Datum datum;
  datum.set_channels(channels);
  datum.set_height(height);
  datum.set_width(width);
  datum.set_data(
      std::string(static_cast<std::size_t>(channels * height * width), static_cast<char>(value)));
  return datum.SerializeAsString();
}

const char kMeta[] = R"({"format": "fcn-seg-1", "count": 1, "fields": ["data", "label"]})";

// The writer of each layout (mode), open from the first input to the end of the process.
std::array<std::unique_ptr<fcn::LmdbWriter>, 3> writers;

std::string WriterDir(unsigned mode) {
  return fcn::fuzz::ScratchDir() + "/src" + std::to_string(mode);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char*** argv) {
  fcn::fuzz::Init(*argv);
  // Closed before the scratch directory is removed (atexit runs in reverse order).
  std::atexit([] {
    for (auto& w : writers) w.reset();
  });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const unsigned options = data[0];
  const std::string record(reinterpret_cast<const char*>(data + 1), size - 1);
  const unsigned mode = options % 3;
  const std::string dir = fcn::fuzz::ScratchDir() + "/db" + std::to_string(mode);
  {
    std::unique_ptr<fcn::LmdbWriter>& writer = writers[mode];
    if (!writer) writer = std::make_unique<fcn::LmdbWriter>(WriterDir(mode), std::size_t{64} << 20);
    if (mode == 0) {
      writer->Put("00000000", record);
    } else {
      const bool fuzz_label = mode == 1 && (options & 8);
      writer->Put("~meta", mode == 2 ? record : std::string(kMeta));
      writer->Put("00000_a/data", mode == 1 && !fuzz_label ? record : RawDatum(3, 4, 4, 100));
      writer->Put("00000_a/label", fuzz_label ? record : RawDatum(1, 4, 4, 1));
    }
    writer->Commit();
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    std::filesystem::copy_file(WriterDir(mode) + "/data.mdb", dir + "/data.mdb",
                               std::filesystem::copy_options::overwrite_existing, ec);
    if (ec) {
      std::fprintf(stderr, "fcn fuzz: copying %s/data.mdb: %s\n", WriterDir(mode).c_str(),
                   ec.message().c_str());
      std::abort();
    }
  }
  fcn::LayerParameter param;
  param.set_name("data");
  param.set_type("Data");
  param.add_top("data");
  param.add_top("label");
  param.set_phase((options & 64) ? fcn::TRAIN : fcn::TEST);
  fcn::DataParameter* dp = param.mutable_data_param();
  dp->set_source(dir);
  dp->set_backend(fcn::DataParameter::LMDB);
  dp->set_batch_size((options & 4) ? 2 : 1);
  if (options & 16) {
    fcn::TransformationParameter* tp = param.mutable_transform_param();
    tp->add_mean_value(104.0f);
    tp->set_scale(0.5f);
    if (mode == 0) {
      tp->set_crop_size(3);
      tp->set_mirror(true);
    }
  }
  if (options & 32) param.mutable_transform_param()->set_force_color(true);
  try {
    fcn::Rng rng;
    std::unique_ptr<fcn::DataReader> reader = fcn::CreateDataReader(param, rng);
    fcn::DataBatch batch;
    reader->Next(&batch);
    reader->Next(&batch);
    reader->RestoreState(reader->SaveState());
  } catch (const std::exception&) {
    // Bad input is reported with an exception: that is the expected outcome.
  }
  return 0;
}
