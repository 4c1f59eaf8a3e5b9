// SPDX-License-Identifier: BSD-2-Clause
// fcntool surgery: a classifier's weights transplanted into a fully convolutional net (the
// FCN reference's surgery.transplant / interp / expand_score), written as a .caffemodel.
#include <iostream>
#include <memory>
#include <utility>

#include "fcn/io.h"
#include "fcn/rng.h"
#include "fcn/surgery.h"
#include "tools/fcntool/commands.h"
#include "tools/fcntool/tool_options.h"

DEFINE_string(source_model, "",
              "surgery: the source net's prototxt (optional); the weights are first loaded into "
              "it, so its layers without weights in the files contribute their filler values.");
DEFINE_string(interp_layers, "",
              "surgery: comma-separated (de)convolution layers to fill with FCN's bilinear "
              "kernel on the diagonal; empty: every layer with parameters whose name contains "
              "\"up\"; \"none\": no layer.");
DEFINE_string(expand_score, "",
              "surgery: comma-separated LAYER or LAYER:K; the source layer's classes fill the "
              "first outputs of the target layer (which must have K outputs when K is given).");
DEFINE_string(suffix, "",
              "surgery: source layer p goes into target layer p + suffix; a comma list gives one "
              "suffix per --weights file (NYUD late fusion: --weights=color.caffemodel,"
              "hha.caffemodel --suffix=color,hha).");

DEFINE_int64(random_seed, 5489,
             "surgery: seed of the target net's fillers (what layers not copied start from); "
             "negative: drawn from the system's entropy.");

namespace fcn::tool {

namespace {

std::vector<std::pair<std::string, int>> ParseExpandScore(const std::string& text) {
  std::vector<std::pair<std::string, int>> items;
  for (const std::string& item : SplitList(text)) {
    const std::size_t colon = item.find(':');
    std::string name = item.substr(0, colon);
    int classes = 0;
    if (colon != std::string::npos) {
      const std::string k = item.substr(colon + 1);
      std::size_t used = 0;
      try {
        classes = std::stoi(k, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != k.size() || k.empty() || classes <= 0) {
        throw ConfigError(StrCat("--expand_score=", text, ": \"", item,
                                 "\" is not LAYER or LAYER:K with a positive K"));
      }
    }
    if (name.empty()) throw ConfigError(StrCat("--expand_score=", text, ": empty layer name"));
    items.emplace_back(std::move(name), classes);
  }
  return items;
}

bool HasParamLayer(const NetParameter& param, const std::string& name) {
  for (const LayerParameter& l : param.layer()) {
    if (l.name() == name && l.blobs_size() > 0) return true;
  }
  return false;
}

}  // namespace

int RunSurgery() {
  RequireFlag("model", FLAGS_model);
  RequireFlag("output", FLAGS_output);
  const std::vector<std::pair<std::string, int>> expand = ParseExpandScore(FLAGS_expand_score);
  // Without --weights the target keeps its filler values and only the bilinear upsampling is
  // written: how a net with no pretrained classifier starts (the narrow nets of models/).
  const std::vector<std::string> files = SplitList(FLAGS_weights);
  if (!FLAGS_weights.empty() && files.empty()) {
    throw ConfigError(StrCat("--weights=", FLAGS_weights, ": no file named"));
  }
  if (files.empty() && (!FLAGS_source_model.empty() || !expand.empty() || !FLAGS_suffix.empty())) {
    throw ConfigError("--source_model, --expand_score and --suffix need --weights");
  }
  const NetStateOptions state = StateFromFlags(TEST);
  // One random source for both nets, drawn in the order they are built.
  Rng rng(SeedFromSetting(FLAGS_random_seed));
  std::unique_ptr<Net> target = Net::FromFile(FLAGS_model, state, ToolOptions(), &rng);

  std::vector<NetParameter> sources;
  std::unique_ptr<Net> source_net;
  if (!FLAGS_source_model.empty())
    source_net = Net::FromFile(FLAGS_source_model, state, ToolOptions(), &rng);
  for (const std::string& file : files) {
    NetParameter weights = ReadWeightsFile(file);
    if (source_net) {
      source_net->CopyTrainedLayersFrom(weights, file);
    } else {
      sources.push_back(std::move(weights));
    }
  }
  if (source_net) {
    sources.emplace_back();
    source_net->ToProto(&sources.back());
  }

  std::vector<std::string> suffixes = SplitList(FLAGS_suffix);
  if (suffixes.empty()) suffixes.push_back("");
  if (suffixes.size() == 1) suffixes.resize(sources.size(), suffixes[0]);
  if (!sources.empty() && suffixes.size() != sources.size()) {
    throw ConfigError(StrCat("--suffix=", FLAGS_suffix, ": ", suffixes.size(), " suffixes for ",
                             sources.size(),
                             source_net ? " source net (--source_model takes one suffix)"
                                        : " --weights file(s); give one, or one per file"));
  }
  SurgeryReport report;
  std::vector<std::string> skip;
  for (const auto& item : expand) skip.push_back(item.first);
  for (std::size_t i = 0; i < sources.size(); ++i) {
    Transplant(sources[i], target.get(), suffixes[i], skip, &report);
  }
  if (!sources.empty() &&
      report.Count(SurgeryEntry::Kind::kCopied) + report.Count(SurgeryEntry::Kind::kCoerced) == 0 &&
      expand.empty()) {
    throw ConfigError(StrCat(
        "none of the parameter blobs of ", FLAGS_weights,
        FLAGS_suffix.empty() ? "" : StrCat(" (with suffix \"", FLAGS_suffix, "\")"),
        " fits a layer of ", FLAGS_model, ": the weights belong to another net (nothing written)"));
  }
  for (const auto& [layer, classes] : expand) {
    const NetParameter* holder = &sources.back();
    for (auto it = sources.rbegin(); it != sources.rend(); ++it) {
      if (HasParamLayer(*it, layer)) {
        holder = &*it;
        break;
      }
    }
    ExpandScore(*holder, layer, classes, target.get(), &report);
  }
  const std::vector<std::string> interp = FLAGS_interp_layers.empty() ? DefaultInterpLayers(*target)
                                          : FLAGS_interp_layers == "none"
                                              ? std::vector<std::string>{}
                                              : SplitList(FLAGS_interp_layers);
  InterpLayers(interp, target.get(), &report);
  ReportKeptLayers(*target, &report);

  std::cout << "Surgery: " << (files.empty() ? std::string("(fillers)") : Join(files, ", "))
            << " -> " << FLAGS_model << "\n";
  for (const SurgeryEntry& e : report.entries) std::cout << "  " << e.ToString() << "\n";
  NetParameter out;
  target->ToProto(&out);
  WriteProtoToBinaryFile(out, FLAGS_output);
  std::cout << report.Count(SurgeryEntry::Kind::kCopied) << " copied, "
            << report.Count(SurgeryEntry::Kind::kCoerced) << " coerced, "
            << report.Count(SurgeryEntry::Kind::kDropped) << " dropped, "
            << report.Count(SurgeryEntry::Kind::kExpanded) << " expanded, "
            << report.Count(SurgeryEntry::Kind::kInterp) << " interpolated, "
            << report.Count(SurgeryEntry::Kind::kKept) << " kept (filler); wrote " << FLAGS_output
            << "\n";
  return 0;
}

}  // namespace fcn::tool
