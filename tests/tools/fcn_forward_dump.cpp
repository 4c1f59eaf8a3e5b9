// SPDX-License-Identifier: BSD-2-Clause
// A test helper (not a test): runs a net forward on inputs read from raw float32 files and
// writes named blobs as raw float32 files, for the ONNX export checks (tests/onnx/).
//   fcn_forward_dump MODEL WEIGHTS OUT_DIR BLOB[,BLOB...] INPUT=N,C,H,W=FILE [INPUT=...]
// Prints "BLOB N C H W" per written blob. Exit 2 on bad arguments or files.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "fcn/net.h"

namespace {

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, sep)) out.push_back(item);
  return out;
}

int Run(int argc, char** argv) {
  if (argc < 6) {
    std::cerr << "usage: fcn_forward_dump MODEL WEIGHTS OUT_DIR BLOBS INPUT=N,C,H,W=FILE...\n";
    return 2;
  }
  fcn::NetStateOptions state;
  auto net = fcn::Net::FromFile(argv[1], state);
  net->CopyTrainedLayersFromFile(argv[2]);
  const std::string out_dir = argv[3];
  for (int a = 5; a < argc; ++a) {
    const std::vector<std::string> parts = Split(argv[a], '=');
    if (parts.size() != 3) throw fcn::ConfigError(fcn::StrCat("bad input argument ", argv[a]));
    fcn::Blob* blob = net->blob_by_name(parts[0]);
    if (!blob) throw fcn::ConfigError(fcn::StrCat("no blob ", parts[0]));
    std::vector<std::int64_t> shape;
    for (const std::string& d : Split(parts[1], ',')) shape.push_back(std::stoll(d));
    blob->Reshape(shape);
  }
  net->Reshape();
  for (int a = 5; a < argc; ++a) {
    const std::vector<std::string> parts = Split(argv[a], '=');
    fcn::Blob* blob = net->blob_by_name(parts[0]);
    std::ifstream in(parts[2], std::ios::binary);
    const auto bytes = static_cast<std::streamsize>(blob->count() * 4);
    if (!in.read(reinterpret_cast<char*>(blob->mutable_cpu_data()), bytes)) {
      throw fcn::ConfigError(fcn::StrCat(parts[2], ": fewer than ", bytes, " bytes"));
    }
  }
  net->Forward();
  for (const std::string& name : Split(argv[4], ',')) {
    const fcn::Blob* blob = net->blob_by_name(name);
    if (!blob) throw fcn::ConfigError(fcn::StrCat("no blob ", name));
    std::ofstream out(out_dir + "/" + name + ".f32", std::ios::binary);
    out.write(reinterpret_cast<const char*>(blob->cpu_data()),
              static_cast<std::streamsize>(blob->count() * 4));
    if (!out) throw fcn::RuntimeError(fcn::StrCat("cannot write ", out_dir, "/", name, ".f32"));
    std::printf("%s", name.c_str());
    for (std::int64_t d : blob->shape()) std::printf(" %lld", static_cast<long long>(d));
    std::printf("\n");
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Run(argc, argv);
  } catch (const fcn::ConfigError& e) {
    std::cerr << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
}
