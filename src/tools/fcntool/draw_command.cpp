// SPDX-License-Identifier: BSD-2-Clause
// fcntool draw: the net as a Graphviz dot graph (layers as boxes, blobs as ellipses with
// their shapes when the net builds), on standard output or written atomically to a file.
#include <glog/logging.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "tools/fcntool/commands.h"
#include "tools/fcntool/tool_options.h"

namespace fcn::tool {

namespace {

std::string Quote(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

template <class Values>
std::string List(const Values& values) {
  std::vector<std::string> items;
  for (const auto& v : values) items.push_back(StrCat(v));
  return Join(items, ",");
}

// "kernel: 3" from the repeated field, or "kernel: 3,5" from the _h/_w pair.
void AddSpatial(const char* what, const google::protobuf::RepeatedField<std::uint32_t>& values,
                bool has_hw, std::uint32_t h, std::uint32_t w, std::vector<std::string>* lines) {
  if (has_hw) {
    lines->push_back(StrCat(what, ": ", h, ",", w));
  } else if (!values.empty()) {
    lines->push_back(StrCat(what, ": ", List(values)));
  }
}

// The key hyper-parameters of the layer types that have them, one per line.
std::vector<std::string> KeyParams(const LayerParameter& lp) {
  std::vector<std::string> lines;
  const std::string& type = lp.type();
  if (type == "Convolution" || type == "Deconvolution") {
    const ConvolutionParameter& p = lp.convolution_param();
    lines.push_back(StrCat("num_output: ", p.num_output()));
    AddSpatial("kernel", p.kernel_size(), p.has_kernel_h() || p.has_kernel_w(), p.kernel_h(),
               p.kernel_w(), &lines);
    AddSpatial("stride", p.stride(), p.has_stride_h() || p.has_stride_w(), p.stride_h(),
               p.stride_w(), &lines);
    AddSpatial("pad", p.pad(), p.has_pad_h() || p.has_pad_w(), p.pad_h(), p.pad_w(), &lines);
    if (!p.dilation().empty()) lines.push_back(StrCat("dilation: ", List(p.dilation())));
    if (p.group() != 1) lines.push_back(StrCat("group: ", p.group()));
    if (!p.bias_term()) lines.push_back("bias_term: false");
  } else if (type == "Pooling") {
    const PoolingParameter& p = lp.pooling_param();
    lines.push_back(PoolingParameter::PoolMethod_Name(p.pool()));
    if (p.global_pooling()) {
      lines.push_back("global");
    } else {
      lines.push_back(p.has_kernel_h() ? StrCat("kernel: ", p.kernel_h(), ",", p.kernel_w())
                                       : StrCat("kernel: ", p.kernel_size()));
      lines.push_back(p.has_stride_h() ? StrCat("stride: ", p.stride_h(), ",", p.stride_w())
                                       : StrCat("stride: ", p.stride()));
      if (p.has_pad_h()) {
        lines.push_back(StrCat("pad: ", p.pad_h(), ",", p.pad_w()));
      } else if (p.pad() != 0) {
        lines.push_back(StrCat("pad: ", p.pad()));
      }
    }
  } else if (type == "Crop") {
    const CropParameter& p = lp.crop_param();
    lines.push_back(StrCat("axis: ", p.axis()));
    lines.push_back(StrCat("offset: ", p.offset().empty() ? "0" : List(p.offset())));
  } else if (type == "Eltwise") {
    lines.push_back(EltwiseParameter::EltwiseOp_Name(lp.eltwise_param().operation()));
  } else if (type == "Dropout") {
    lines.push_back(StrCat("ratio: ", lp.dropout_param().dropout_ratio()));
  } else if (type == "InnerProduct") {
    lines.push_back(StrCat("num_output: ", lp.inner_product_param().num_output()));
  } else if (type == "Concat") {
    lines.push_back(StrCat("axis: ", lp.concat_param().axis()));
  } else if (type == "LRN") {
    lines.push_back(StrCat("local_size: ", lp.lrn_param().local_size()));
  }
  return lines;
}

bool InPlace(const LayerParameter& lp) {
  for (int i = 0; i < lp.top_size() && i < lp.bottom_size(); ++i) {
    if (lp.top(i) == lp.bottom(i)) return true;
  }
  return false;
}

// The layers as written (after phase filtering, without the Split layers the Net inserts).
// Every produced top gets its own blob node, so an in-place layer reads one node of its blob
// and writes the next, and the graph stays acyclic. `net` supplies shapes (may be null).
std::string ToDot(const NetParameter& param, const Net* net) {
  std::ostringstream dot;
  dot << "digraph " << Quote(param.name().empty() ? "net" : param.name()) << " {\n"
      << "  rankdir=LR;\n"
      << "  node [fontname=\"Helvetica\", fontsize=10];\n";
  std::map<std::string, std::string> current;  // blob name -> node of its latest version
  int blob_nodes = 0;
  auto add_blob = [&](const std::string& name) {
    const std::string id = StrCat("blob", blob_nodes++);
    std::string label = name;
    const Blob* blob = net != nullptr ? net->blob_by_name(name) : nullptr;
    if (blob != nullptr) label += "\n" + blob->shape_string();
    dot << "  " << Quote(id)
        << " [shape=ellipse, style=filled, fillcolor=\"#E0E0E0\", label=" << Quote(label) << "];\n";
    current[name] = id;
    return id;
  };
  for (int i = 0; i < param.layer_size(); ++i) {
    const LayerParameter& lp = param.layer(i);
    const std::string id = StrCat("layer", i);
    std::vector<std::string> lines = {lp.name(), "(" + lp.type() + ")"};
    for (std::string& line : KeyParams(lp)) lines.push_back(std::move(line));
    dot << "  " << Quote(id)
        << " [shape=box, style=filled, fillcolor=" << (InPlace(lp) ? "\"#90EE90\"" : "\"#6495ED\"")
        << ", label=" << Quote(Join(lines, "\n")) << "];\n";
    for (const std::string& bottom : lp.bottom()) {
      auto it = current.find(bottom);
      const std::string node = it != current.end() ? it->second : add_blob(bottom);
      dot << "  " << Quote(node) << " -> " << Quote(id) << ";\n";
    }
    for (const std::string& top : lp.top()) {
      const std::string node = add_blob(top);
      dot << "  " << Quote(id) << " -> " << Quote(node) << ";\n";
    }
  }
  dot << "}\n";
  return dot.str();
}

// Writes beside `path` and renames, so an existing file is never left half-written.
void WriteFileAtomically(const std::string& path, const std::string& text) {
  const std::string tmp = StrCat(path, ".tmp.", getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.close();
    if (!out) {
      std::remove(tmp.c_str());
      throw RuntimeError(StrCat(path, ": cannot write ", tmp, ": ", std::strerror(errno)));
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string reason = std::strerror(errno);
    std::remove(tmp.c_str());
    throw RuntimeError(StrCat(path, ": cannot rename ", tmp, " to it: ", reason));
  }
}

}  // namespace

int RunDraw() {
  RequireFlag("model", FLAGS_model);
  NetSource source;
  NetParameter param = ReadNetParamFromTextFile(FLAGS_model, &source);
  Net::SetState(StateFromFlags(TEST), &param);
  std::unique_ptr<Net> net;
  try {
    net = std::make_unique<Net>(param, ToolOptions(), &source);
  } catch (const ConfigError& e) {
    LOG(WARNING) << "The net does not build, so it is drawn without shapes: " << e.what();
  }
  const std::string dot = ToDot(FilterNet(param), net.get());
  if (FLAGS_output.empty()) {
    std::cout << dot;
    std::cout.flush();
    if (!std::cout) throw RuntimeError("cannot write the graph to standard output");
  } else {
    WriteFileAtomically(FLAGS_output, dot);
    LOG(INFO) << "Wrote " << FLAGS_output;
  }
  return 0;
}

}  // namespace fcn::tool
