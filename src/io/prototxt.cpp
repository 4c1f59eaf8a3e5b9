// SPDX-License-Identifier: BSD-2-Clause
// Text-format reading with source locations. Errors name file:line:col and, when the error
// lies inside a `layer { ... }` block, that layer's name and type.
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "fcn/io.h"
#include "fcn/net_paths.h"

namespace fcn {

namespace pb = google::protobuf;

std::string ReadFileToString(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw ConfigError(StrCat(path, ": is a directory, not a file"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(StrCat(path, ": cannot open file for reading"));
  std::ostringstream os;
  os << in.rdbuf();
  if (in.bad()) throw ConfigError(StrCat(path, ": read error"));
  return os.str();
}

SourceLocation NetSource::LayerLocation(int index) const {
  if (index >= 0 && static_cast<std::size_t>(index) < layer_locations.size()) {
    return layer_locations[static_cast<std::size_t>(index)];
  }
  return SourceLocation{path, 0, 0};
}

namespace {

// A top-level `layer { }` / `layers { }` block: its line range and identity.
struct LayerBlock {
  int first_line = 0;  // 0-based
  int last_line = 0;
  std::string name;
  std::string type;
};

// Finds the top-level layer blocks with a small scanner that understands comments, strings
// and braces. Used only to name the layer around a syntax error.
std::vector<LayerBlock> ScanLayerBlocks(const std::string& text) {
  std::vector<LayerBlock> blocks;
  int line = 0;
  int depth = 0;
  bool in_block = false;
  LayerBlock current;
  std::string last_ident;     // the last identifier at depth 0 or 1
  std::string pending_field;  // "name" / "type" awaiting its value at depth 1
  const std::size_t n = text.size();
  for (std::size_t i = 0; i < n; ++i) {
    const char c = text[i];
    if (c == '\n') {
      ++line;
      continue;
    }
    if (c == '#') {
      while (i + 1 < n && text[i + 1] != '\n') ++i;
      continue;
    }
    if (c == '"' || c == '\'') {
      std::string value;
      const char quote = c;
      for (++i; i < n && text[i] != quote; ++i) {
        if (text[i] == '\\' && i + 1 < n) ++i;
        if (text[i] == '\n') ++line;
        value += text[i];
      }
      if (in_block && depth == 1 && !pending_field.empty()) {
        (pending_field == "name" ? current.name : current.type) = value;
      }
      pending_field.clear();
      continue;
    }
    if (c == '{') {
      if (depth == 0 && (last_ident == "layer" || last_ident == "layers")) {
        in_block = true;
        current = LayerBlock{};
        current.first_line = line;
      }
      ++depth;
      pending_field.clear();
      continue;
    }
    if (c == '}') {
      --depth;
      if (depth == 0 && in_block) {
        current.last_line = line;
        blocks.push_back(current);
        in_block = false;
      }
      pending_field.clear();
      continue;
    }
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      std::size_t j = i;
      while (j < n && (std::isalnum(static_cast<unsigned char>(text[j])) || text[j] == '_')) ++j;
      const std::string ident = text.substr(i, j - i);
      i = j - 1;
      if (in_block && depth == 1 && !pending_field.empty()) {
        // V1 enum type: `type: CONVOLUTION`.
        if (pending_field == "type") current.type = ident;
        pending_field.clear();
        continue;
      }
      last_ident = ident;
      if (in_block && depth == 1 && (ident == "name" || ident == "type")) pending_field = ident;
      continue;
    }
  }
  return blocks;
}

class CollectingErrors : public pb::io::ErrorCollector {
 public:
  void AddError(int line, pb::io::ColumnNumber column, const std::string& message) override {
    if (!has_error) {
      has_error = true;
      first_line = line;
      first_column = column;
      first_message = message;
    }
  }
  void AddWarning(int, pb::io::ColumnNumber, const std::string&) override {}

  bool has_error = false;
  int first_line = 0;
  int first_column = 0;
  std::string first_message;
};

// Parses `text` into `message`, throwing a located ConfigError on failure.
void ParseText(const std::string& text, const std::string& name, pb::Message* message,
               pb::TextFormat::ParseInfoTree* tree) {
  pb::TextFormat::Parser parser;
  CollectingErrors errors;
  parser.RecordErrorsTo(&errors);
  if (tree) parser.WriteLocationsTo(tree);
  if (parser.ParseFromString(text, message)) return;
  SourceLocation where{name, errors.first_line + 1, errors.first_column + 1};
  std::string msg = errors.has_error ? errors.first_message : "cannot parse text format";
  for (const LayerBlock& b : ScanLayerBlocks(text)) {
    if (errors.first_line >= b.first_line && errors.first_line <= b.last_line) {
      throw ConfigError(where, b.name, b.type, msg);
    }
  }
  throw ConfigError(where, "", "", msg);
}

}  // namespace

NetParameter ReadNetParamFromTextString(const std::string& text, const std::string& name,
                                        NetSource* source) {
  NetParameter param;
  pb::TextFormat::ParseInfoTree tree;
  ParseText(text, name, &param, &tree);

  // Record where each layer was written (before upgrades change the list).
  const pb::Descriptor* desc = NetParameter::descriptor();
  const bool v1 = param.layers_size() > 0;
  const pb::FieldDescriptor* layer_field = desc->FindFieldByName(v1 ? "layers" : "layer");
  std::vector<SourceLocation> locations;
  const int count = v1 ? param.layers_size() : param.layer_size();
  for (int i = 0; i < count; ++i) {
    const pb::TextFormat::ParseLocation loc = tree.GetLocation(layer_field, i);
    locations.push_back(SourceLocation{name, loc.line + 1, loc.column + 1});
  }
  const bool has_legacy_input = param.input_size() > 0;
  SourceLocation input_location{name, 0, 0};
  if (has_legacy_input) {
    const pb::TextFormat::ParseLocation loc = tree.GetLocation(desc->FindFieldByName("input"), 0);
    input_location = SourceLocation{name, loc.line + 1, loc.column + 1};
  }
  if (count == 0 && !has_legacy_input) {
    throw ConfigError(SourceLocation{name, 0, 0}, "", "",
                      "the file defines no layers (an empty or comment-only prototxt is not a "
                      "net)");
  }
  if (param.layer_size() > 0 && param.layers_size() > 0) {
    throw ConfigError(SourceLocation{name, 0, 0}, "", "",
                      "the net uses both `layer` (current) and `layers` (V1) fields; use one");
  }
  UpgradeNetAsNeeded(name, &param);
  if (has_legacy_input) locations.insert(locations.begin(), input_location);
  if (source) {
    source->path = name;
    source->layer_locations = std::move(locations);
  }
  return param;
}

NetParameter ReadNetParamFromTextFile(const std::string& path, NetSource* source) {
  NetParameter param = ReadNetParamFromTextString(ReadFileToString(path), path, source);
  // Databases and mean files named in the net are found beside the net file too (design.md
  // decision 9), so a model's prototxt works from any working directory.
  ResolveNetPaths(DirName(path), &param);
  return param;
}

SolverParameter ReadSolverParamFromTextFile(const std::string& path) {
  SolverParameter param;
  ParseText(ReadFileToString(path), path, &param, nullptr);
  if (param.ByteSizeLong() == 0) {
    throw ConfigError(SourceLocation{path, 0, 0}, "", "",
                      "the file sets no solver field (an empty or comment-only solver)");
  }
  return param;
}

}  // namespace fcn
