// SPDX-License-Identifier: BSD-2-Clause
#include "tools/fcntool/align_text.h"

#include <google/protobuf/text_format.h>

#include <algorithm>
#include <cctype>
#include <map>

#include "fcn/common.h"
#include "fcn/coord_map.h"

namespace fcn {

namespace pb = google::protobuf;

namespace {

// Byte offset of a protobuf (0-based line, column) position; the tokenizer counts a tab as
// advancing to the next multiple of 8.
std::size_t ByteOffset(const std::string& text, int line, int column) {
  std::size_t pos = 0;
  for (int l = 0; l < line && pos < text.size(); ++l) {
    pos = text.find('\n', pos);
    if (pos == std::string::npos) return text.size();
    ++pos;
  }
  int col = 0;
  while (pos < text.size() && col < column && text[pos] != '\n') {
    col = text[pos] == '\t' ? (col / 8 + 1) * 8 : col + 1;
    ++pos;
  }
  return pos;
}

struct Edit {
  std::size_t begin;
  std::size_t end;
  std::string replacement;
};

// End of `offset: 123` (with optional spaces) starting at `begin`.
std::size_t FieldValueEnd(const std::string& text, std::size_t begin) {
  std::size_t p = text.find(':', begin);
  if (p == std::string::npos) return begin;
  ++p;
  while (p < text.size() && (text[p] == ' ' || text[p] == '\t')) ++p;
  while (p < text.size() && std::isdigit(static_cast<unsigned char>(text[p]))) ++p;
  return p;
}

}  // namespace

std::string AlignCropOffsets(const std::string& text, const std::string& name,
                             const NetParameter& analysed, std::vector<std::string>* changes) {
  NetParameter param;
  pb::TextFormat::Parser parser;
  pb::TextFormat::ParseInfoTree tree;
  parser.WriteLocationsTo(&tree);
  if (!parser.ParseFromString(text, &param)) {
    throw ConfigError(StrCat(name, ": cannot parse the prototxt (run fcntool check for details)"));
  }
  if (param.layers_size() > 0) {
    throw ConfigError(StrCat(name, ": a V1 net (`layers`); upgrade it to the current form first"));
  }
  std::map<std::string, const CropDerivation*> derived;
  CoordMapAnalysis analysis(analysed);
  for (const CropDerivation& d : analysis.crops()) derived[d.layer] = &d;

  const pb::FieldDescriptor* layer_fd = NetParameter::descriptor()->FindFieldByName("layer");
  const pb::FieldDescriptor* crop_fd = LayerParameter::descriptor()->FindFieldByName("crop_param");
  const pb::FieldDescriptor* offset_fd = CropParameter::descriptor()->FindFieldByName("offset");
  std::vector<Edit> edits;
  for (int i = 0; i < param.layer_size(); ++i) {
    const LayerParameter& lp = param.layer(i);
    if (lp.type() != "Crop") continue;
    auto it = derived.find(lp.name());
    if (it == derived.end()) continue;  // filtered out in the analysed state
    const CropDerivation& d = *it->second;
    if (!d.problem.empty()) {
      throw ConfigError(StrCat(name, ": layer \"", lp.name(),
                               "\" (Crop): no offset can be derived: ", d.problem));
    }
    if (lp.crop_param().axis() != 2) {
      throw ConfigError(StrCat(name, ": layer \"", lp.name(), "\" (Crop): crops from axis ",
                               lp.crop_param().axis(), "; align writes offsets for axis 2 only"));
    }
    if (d.derived == d.file_offsets && lp.crop_param().offset_size() <= 1) continue;
    const bool shared =
        std::all_of(d.derived.begin(), d.derived.end(), [&](int v) { return v == d.derived[0]; });
    std::string values;
    for (std::size_t k = 0; k < (shared ? 1 : d.derived.size()); ++k) {
      values += StrCat(k ? " " : "", "offset: ", d.derived[k]);
    }
    const pb::TextFormat::ParseInfoTree* layer_tree = tree.GetTreeForNested(layer_fd, i);
    const auto layer_loc = tree.GetLocation(layer_fd, i);
    if (!lp.has_crop_param()) {
      const std::size_t brace = text.find('{', ByteOffset(text, layer_loc.line, layer_loc.column));
      edits.push_back({brace + 1, brace + 1, StrCat(" crop_param { axis: 2 ", values, " }")});
    } else if (lp.crop_param().offset_size() == 0) {
      const auto loc = layer_tree->GetLocation(crop_fd, -1);
      const std::size_t brace = text.find('{', ByteOffset(text, loc.line, loc.column));
      edits.push_back({brace + 1, brace + 1, " " + values});
    } else {
      const pb::TextFormat::ParseInfoTree* crop_tree = layer_tree->GetTreeForNested(crop_fd, -1);
      for (int k = 0; k < lp.crop_param().offset_size(); ++k) {
        const auto loc = crop_tree->GetLocation(offset_fd, k);
        const std::size_t begin = ByteOffset(text, loc.line, loc.column);
        std::size_t end = FieldValueEnd(text, begin);
        if (k > 0) {
          while (end < text.size() && (text[end] == ' ' || text[end] == '\t')) ++end;
        }
        edits.push_back({begin, end, k == 0 ? values : ""});
      }
    }
    if (changes) {
      std::string before;
      for (std::size_t k = 0; k < d.file_offsets.size(); ++k)
        before += StrCat(k ? "," : "", d.file_offsets[k]);
      std::string after;
      for (std::size_t k = 0; k < d.derived.size(); ++k)
        after += StrCat(k ? "," : "", d.derived[k]);
      changes->push_back(StrCat(lp.name(), ": offset ", before, " -> ", after));
    }
  }
  std::sort(edits.begin(), edits.end(),
            [](const Edit& x, const Edit& y) { return x.begin > y.begin; });
  std::string out = text;
  for (const Edit& e : edits) out.replace(e.begin, e.end - e.begin, e.replacement);
  return out;
}

}  // namespace fcn
