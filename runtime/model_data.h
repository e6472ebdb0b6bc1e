// What a public Model holds: the loaded graph and where it came from.
#pragma once

#include <string>

#include "graph/graph.h"
#include "graphrun/graphrun.h"

namespace graphrun::detail {

struct ModelData {
  Graph graph;
  pb::Model proto;        // as parsed, including the training config
  std::string path;       // the .pbtxt it was loaded from ("" when parsed from a string)
  std::string text;       // the file's text (a run directory's model copy is made from it)
  std::string directory;  // resolves relative file paths in the model (npy, data files): the file's, moved by data_dir
};

struct ModelAccess {
  static const ModelData& data(const Model& model) { return *model.data_; }
};

// The graph and config behind a public Model, for graphrun's own code.
inline const ModelData& data_of(const Model& model) { return ModelAccess::data(model); }

}  // namespace graphrun::detail
