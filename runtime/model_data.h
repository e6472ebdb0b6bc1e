// What a public Model holds: the loaded graph and where it came from.
#pragma once

#include <string>

#include "graph/graph.h"

namespace graphrun::detail {

struct ModelData {
  Graph graph;
  pb::Model proto;        // as parsed, including the training config
  std::string path;       // the .pbtxt it was loaded from ("" when parsed from a string)
  std::string text;       // the file's text (a run directory's model copy is made from it)
  std::string directory;  // resolves relative file paths in the model (npy, data files): the file's, moved by data_dir
};

}  // namespace graphrun::detail
