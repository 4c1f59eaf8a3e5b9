// SPDX-License-Identifier: BSD-2-Clause
// fcn_fuzz_seeds <source dir> <out dir>: writes the seed corpus of every target in fuzz/ under
// <out dir>/<target>/, made by the project itself:
//   prototxt:    every models/*/*.prototxt, with num_output and input sizes made small (the
//                structure kept) so that the net builds within the target's limits, and the
//                small net of fuzz_util;
//   caffemodel:  the small net's weights (binary, with and without diffs; HDF5) and one
//                truncated copy;
//   solverstate: the small net's solver state after one step (binary and HDF5);
//   hdf5:        the HDF5 model (with and without diffs) and the HDF5 solver state;
//   lmdb_record: Datum records (raw, float, PNG- and JPEG-encoded) of a Caffe database and of
//                a segmentation database, and its ~meta record;
//   image:       PNG (gray, colour, alpha, palette, 16-bit) and JPEG (colour, gray) files.
// The first byte of an lmdb_record or image seed is the target's option byte.
#include <glog/logging.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/text_format.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <opencv2/imgcodecs.hpp>
#include <string>
#include <vector>

#include "fcn/common.h"
#include "fcn/io.h"
#include "fcn/net.h"
#include "fcn/solver.h"
#include "fcn/threads.h"
#include "fuzz_util.h"
#include "io/hdf5.h"

namespace fs = std::filesystem;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

namespace {

void Write(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
  if (!out) throw fcn::RuntimeError("cannot write " + path.string());
}

std::string Read(const fs::path& path) { return fcn::ReadFileToString(path.string()); }

// Makes num_output at most 4 and every blob shape dimension after the first two at most 32
// (the first, the batch, at most 1; the channels as they are), anywhere in a message.
void Shrink(Message* m) {
  const auto* r = m->GetReflection();
  std::vector<const FieldDescriptor*> fields;
  r->ListFields(*m, &fields);
  for (const FieldDescriptor* f : fields) {
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      if (f->is_repeated()) {
        for (int i = 0; i < r->FieldSize(*m, f); ++i) Shrink(r->MutableRepeatedMessage(m, f, i));
      } else {
        Shrink(r->MutableMessage(m, f));
      }
    } else if (f->name() == "num_output" && f->cpp_type() == FieldDescriptor::CPPTYPE_UINT32) {
      r->SetUInt32(m, f, std::min<std::uint32_t>(r->GetUInt32(*m, f), 4));
    } else if (f->name() == "dim" && f->cpp_type() == FieldDescriptor::CPPTYPE_INT64) {
      for (int i = 0; i < r->FieldSize(*m, f); ++i) {
        const std::int64_t cap = i == 0 ? 1 : i == 1 ? 64 : 32;
        r->SetRepeatedInt64(m, f, i, std::min(r->GetRepeatedInt64(*m, f, i), cap));
      }
    } else if (f->name() == "batch_size" && f->cpp_type() == FieldDescriptor::CPPTYPE_UINT32) {
      r->SetUInt32(m, f, 1);
    }
  }
}

void PrototxtSeeds(const fs::path& src, const fs::path& out) {
  int n = 0;
  std::vector<fs::path> files;
  for (const auto& entry : fs::recursive_directory_iterator(src / "models")) {
    if (entry.path().extension() == ".prototxt") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  for (const fs::path& file : files) {
    fcn::NetParameter param;
    try {
      param = fcn::ReadNetParamFromTextFile(file.string());
    } catch (const std::exception& e) {
      std::cerr << "fcn_fuzz_seeds: skipping " << file << ": " << e.what() << "\n";
      continue;
    }
    Shrink(&param);
    std::string text;
    google::protobuf::TextFormat::PrintToString(param, &text);
    const std::string name = fs::relative(file, src / "models").string();
    std::string flat = name;
    std::replace(flat.begin(), flat.end(), '/', '_');
    Write(out / flat, text);
    ++n;
  }
  Write(out / "small.prototxt", fcn::fuzz::SmallNetText());
  std::cout << "prototxt: " << n + 1 << " seeds\n";
}

fcn::SolverParameter SmallSolver(const fs::path& dir, fcn::SolverParameter::SnapshotFormat format) {
  fcn::SolverParameter param;
  *param.mutable_net_param() = fcn::fuzz::SmallNetParam(fcn::TRAIN);
  param.set_base_lr(0.01f);
  param.set_lr_policy("fixed");
  param.set_momentum(0.9f);
  param.set_max_iter(10);
  param.set_snapshot_format(format);
  param.set_snapshot_prefix((dir / "small").string());
  return param;
}

// Option bytes of fuzz_lmdb_record: mode = byte % 3, flags in bits 2..6.
std::string OptionByte(unsigned mode, unsigned flags) {
  for (unsigned low = 0; low < 4; ++low) {
    if (((flags | low) % 3) == mode) return std::string(1, static_cast<char>(flags | low));
  }
  throw fcn::RuntimeError("no option byte");
}

std::string Encode(const cv::Mat& image, const std::string& ext) {
  std::vector<unsigned char> bytes;
  if (!cv::imencode(ext, image, bytes)) throw fcn::RuntimeError("imencode " + ext + " failed");
  return std::string(bytes.begin(), bytes.end());
}

cv::Mat Pattern(int height, int width, int type) {
  cv::Mat image(height, width, type);
  cv::randu(image, 0, 255);
  return image;
}

std::string DatumBytes(int channels, int height, int width, const std::string& data, bool encoded,
                       int label) {
  fcn::Datum datum;
  datum.set_channels(channels);
  datum.set_height(height);
  datum.set_width(width);
  datum.set_data(data);
  datum.set_encoded(encoded);
  datum.set_label(label);
  return datum.SerializeAsString();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: fcn_fuzz_seeds <source dir> <out dir>\n";
    return 2;
  }
  FLAGS_minloglevel = 2;
  google::InitGoogleLogging(argv[0]);
  fcn::SetNumThreads(1);
  cv::setRNGSeed(17);
  const fs::path src = argv[1];
  const fs::path out = argv[2];
  try {
    for (const char* t :
         {"prototxt", "caffemodel", "solverstate", "hdf5", "lmdb_record", "image"}) {
      fs::remove_all(out / t);
      fs::create_directories(out / t);
    }
    PrototxtSeeds(src, out / "prototxt");

    // Weights and solver states of the small net, after one training step.
    const fs::path work = out / "work";
    fs::remove_all(work);
    fs::create_directories(work);
    for (const auto format : {fcn::SolverParameter::BINARYPROTO, fcn::SolverParameter::HDF5}) {
      fcn::Solver solver(SmallSolver(work, format), work.string());
      solver.Step(1);
      solver.Snapshot();
    }
    fcn::Solver solver(SmallSolver(work, fcn::SolverParameter::BINARYPROTO), work.string());
    solver.Step(1);
    fcn::NetParameter with_diff;
    solver.net()->ToProto(&with_diff, true);
    const std::string model = Read(work / "small_iter_1.caffemodel");
    Write(out / "caffemodel/small.caffemodel", model);
    Write(out / "caffemodel/small_diff.caffemodel", with_diff.SerializeAsString());
    Write(out / "caffemodel/small_truncated.caffemodel", model.substr(0, model.size() / 2));
    Write(out / "caffemodel/small.caffemodel.h5", Read(work / "small_iter_1.caffemodel.h5"));
    // The states name their weights by path; the target keeps the weights beside the input.
    for (const std::string ext : {".solverstate", ".solverstate.h5"}) {
      Write(out / ("solverstate/small" + ext), Read(work / ("small_iter_1" + ext)));
    }
    solver.net()->ToHdf5((work / "diff.caffemodel.h5").string(), true);
    Write(out / "hdf5/small.caffemodel.h5", Read(work / "small_iter_1.caffemodel.h5"));
    Write(out / "hdf5/small_diff.caffemodel.h5", Read(work / "diff.caffemodel.h5"));
    Write(out / "hdf5/small.solverstate.h5", Read(work / "small_iter_1.solverstate.h5"));
    fs::remove_all(work);
    std::cout << "caffemodel: 4 seeds\nsolverstate: 2 seeds\nhdf5: 3 seeds\n";

    // Records, as data_scripts/convert_*.py writes them: raw CHW uint8 Datums, encoded PNG /
    // JPEG Datums (the segmentation databases), a float Datum, and the ~meta record.
    const fs::path rec = out / "lmdb_record";
    const std::string raw(3 * 4 * 4, '\x64');
    const std::string png = Encode(Pattern(4, 4, CV_8UC3), ".png");
    const std::string label_png = Encode(Pattern(4, 4, CV_8UC1), ".png");
    const std::string jpg = Encode(Pattern(8, 8, CV_8UC3), ".jpg");
    fcn::Datum float_datum;
    float_datum.set_channels(1);
    float_datum.set_height(2);
    float_datum.set_width(2);
    for (int i = 0; i < 4; ++i) float_datum.add_float_data(0.5f * static_cast<float>(i));
    Write(rec / "caffe_raw", OptionByte(0, 0) + DatumBytes(3, 4, 4, raw, false, 7));
    Write(rec / "caffe_raw_transform", OptionByte(0, 16 | 64) + DatumBytes(3, 4, 4, raw, false, 7));
    Write(rec / "caffe_png_batch2", OptionByte(0, 4) + DatumBytes(3, 4, 4, png, true, 1));
    Write(rec / "caffe_jpg_color", OptionByte(0, 32) + DatumBytes(0, 0, 0, jpg, true, 2));
    Write(rec / "caffe_float", OptionByte(0, 0) + float_datum.SerializeAsString());
    Write(rec / "seg_data_raw", OptionByte(1, 0) + DatumBytes(3, 4, 4, raw, false, 0));
    Write(rec / "seg_data_png", OptionByte(1, 16) + DatumBytes(3, 4, 4, png, true, 0));
    Write(rec / "seg_label_png", OptionByte(1, 8) + DatumBytes(1, 4, 4, label_png, true, 0));
    Write(rec / "seg_meta",
          OptionByte(2, 0) + R"({"format": "fcn-seg-1", "count": 1, "fields": ["data", "label"]})");
    Write(rec / "seg_meta_batch2",
          OptionByte(2, 4) +
              R"({"format": "fcn-seg-1", "count": 1, "fields": ["label", "data", "hha"]})");
    std::cout << "lmdb_record: 10 seeds\n";

    const fs::path img = out / "image";
    Write(img / "color.png", std::string(1, '\x00') + png);
    Write(img / "gray.png", std::string(1, '\x02') + label_png);
    Write(img / "alpha.png", std::string(1, '\x04') + Encode(Pattern(5, 3, CV_8UC4), ".png"));
    Write(img / "deep.png", std::string(1, '\x00') + Encode(Pattern(3, 3, CV_16UC1), ".png"));
    Write(img / "crop.png", std::string(1, '\x51') + Encode(Pattern(6, 7, CV_8UC3), ".png"));
    Write(img / "color.jpg", std::string(1, '\x01') + jpg);
    Write(img / "gray.jpg", std::string(1, '\x0e') + Encode(Pattern(8, 8, CV_8UC1), ".jpg"));
    std::cout << "image: 7 seeds\n";
  } catch (const std::exception& e) {
    std::cerr << "fcn_fuzz_seeds: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
